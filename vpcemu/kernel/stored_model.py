"""A lab's committed model on disk: a format-1 document (MODEL_FILE), which is the lab's state — readable,
diffable, and loaded by whatever vpcemu reads it later — and beside it a pickle of the same model
(MODEL_CACHE_FILE), which stands in for loading the document only when it was made from exactly that text
by the same vpcemu.

Every CLI change reads the model, and the loader takes about 80 ms at 500 ENIs where the pickle takes a
few. The cache's header names the digest of the document it was made with and vpcemu's version, taken as
the digest of the code that turns a document into a model (model/, load/, rules/), so an upgrade or any
edit of that code reads the document again. A cache that is missing, stale, torn or of another version
is ignored, and the reader that loaded the document makes it anew. Both files are replaced atomically (temporary
file, rename; the document synced to disk first), the document first: a crash between the two leaves a cache for
another text, which is ignored.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from functools import cache
from pathlib import Path

from ..model import Topology
from .journal import BUILT_DIR, MODEL_CACHE_FILE, MODEL_FILE

_MAGIC = b"vpcemu model cache\n"
_MODEL_CODE = ("model", "load", "rules")


class StagedModel:
    """A model written beside the stored one, not yet in its place: `install` puts it there (two renames, the
    document first), `discard` removes it. Writing it (render, pickle, write, sync) is the slow part of a
    commit, which a live change does while the kernel carries out its step (ops/security.py)."""

    def __init__(self, directory: Path, topology: Topology):
        from ..load.write import topology_text
        self.directory = directory
        self.text = topology_text(topology).encode()
        self.version = hashlib.sha256(self.text).hexdigest()
        self.files: list[tuple[str, Path]] = []         # (temporary file, where it goes), in install order
        try:
            self.files.append((_written(directory / MODEL_FILE, self.text), directory / MODEL_FILE))
            cache = _cache_bytes(self.text, pickle.dumps(topology, protocol=pickle.HIGHEST_PROTOCOL))
            if cache is not None:
                try:
                    # not synced to disk: a cache lost or torn in a crash fails its checksum or names another text
                    self.files.append((_written(directory / MODEL_CACHE_FILE, cache, durable=False),
                                       directory / MODEL_CACHE_FILE))
                except OSError:
                    pass                # the model is as it is; without its cache, reads only take longer
        except BaseException:
            self.discard()
            raise

    def install(self) -> str:
        """The staged model made the stored one; its version (the document's digest)."""
        for tmp, path in self.files:
            os.replace(tmp, path)
        self.files = []
        return self.version

    def discard(self) -> None:
        for tmp, _ in self.files:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        self.files = []


def write_model(directory: Path, topology: Topology) -> str:
    """Make `topology` the model stored in `directory`: nothing is replaced unless the document could be made.
    Returns the stored document's digest (see `read_model_if_changed`)."""
    return StagedModel(directory, topology).install()


def keep_as_built(directory: Path) -> None:
    """Keep the model stored in `directory` as the one the lab was built from (BUILT_DIR, read by `read_model`):
    hard links, so it costs no copy, and a commit (which replaces the files) leaves them as they are."""
    built = directory / BUILT_DIR
    built.mkdir()
    for name in (MODEL_FILE, MODEL_CACHE_FILE):
        try:
            os.link(directory / name, built / name)
        except FileNotFoundError:       # no cache (unreadable source): the document alone is the model
            pass


def restore_model(directory: Path, stored: Path) -> str:
    """Make the model stored in `stored` (the built one, kept by `keep_as_built`) the one stored in `directory`
    again, as `write_model` would, without rendering it: each file replaced atomically by a hard link to the
    kept one (durable since it was kept), the document first. Returns its digest."""
    text = (stored / MODEL_FILE).read_bytes()
    for name in (MODEL_FILE, MODEL_CACHE_FILE):
        try:
            _link(stored / name, directory / name)
        except FileNotFoundError:       # no cache kept: the old one names another text, and is ignored
            if name == MODEL_FILE:
                raise
    return hashlib.sha256(text).hexdigest()


def read_model(directory: Path) -> Topology:
    """The model stored in `directory`: the cache's if it was made from this document by this vpcemu, else the
    document loaded (and the cache made for the next reader). OSError if there is none; TopologyError if it is
    not a model."""
    topology, _ = read_model_if_changed(directory, None)
    assert topology is not None
    return topology


def read_model_if_changed(directory: Path, known: str | None) -> tuple[Topology | None, str]:
    """The stored model and the digest of its document, read together (one read of the file: no commit can
    fall between them); None for the model if its digest is `known`. The digest is the model's version: an
    exact one, where a file's inode and mtime can repeat (inodes are reused, mtimes are coarse) and a stat
    taken apart from the read can pair a new version with an old model."""
    path = directory / MODEL_FILE
    text = path.read_bytes()
    digest = hashlib.sha256(text).hexdigest()
    if digest == known:
        return None, digest
    cached = _cached(directory / MODEL_CACHE_FILE, digest)
    if cached is not None:
        return cached, digest
    from ..load import load_text
    topology = load_text(text.decode("utf-8"), source=str(path), committed=True)
    # no lock needed: a cache names the text it was made from, so one made from a text replaced meanwhile is
    # never used
    _store_cache(directory, text, pickle.dumps(topology, protocol=pickle.HIGHEST_PROTOCOL))
    return topology, digest


def _store_cache(directory: Path, text: bytes, payload: bytes) -> None:
    cache = _cache_bytes(text, payload)
    if cache is None:
        return
    try:
        os.replace(_written(directory / MODEL_CACHE_FILE, cache, durable=False), directory / MODEL_CACHE_FILE)
    except OSError:
        pass                    # the model is as it is; without its cache, reads only take longer


def _cache_bytes(text: bytes, payload: bytes) -> bytes | None:
    """The cache file for the document `text` and its model's pickle; None when no cache can be used."""
    version = _version()
    if version is None:
        return None
    return (_header(version, hashlib.sha256(text).hexdigest()) + hashlib.sha256(payload).hexdigest().encode()
            + b"\n" + payload)


def _cached(path: Path, digest: str) -> Topology | None:
    version = _version()
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head = _header(version, digest) if version is not None else None
    if head is None or not data.startswith(head):
        return None
    checksum, _, payload = data[len(head):].partition(b"\n")
    if hashlib.sha256(payload).hexdigest().encode() != checksum:
        return None
    try:
        topology = pickle.loads(payload)
    except Exception:           # the checksum held, so only a vpcemu bug gets here: the document decides
        return None
    return topology if isinstance(topology, Topology) else None


def _header(version: str, digest: str) -> bytes:
    return _MAGIC + f"{version}\n{digest}\n".encode()


@cache
def _version() -> str | None:
    """Python's version and the digest of vpcemu's model, loader and rules; None if their source cannot be read
    (then no cache is used)."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256(f"{sys.version_info.major}.{sys.version_info.minor}".encode())
    try:
        for part in _MODEL_CODE:
            for source in sorted((root / part).glob("*.py")):
                h.update(source.name.encode() + b"\0" + source.read_bytes())
    except OSError:
        return None
    return h.hexdigest()


def _link(source: Path, path: Path) -> None:
    tmp = path.parent / f".{path.name}.{os.getpid()}.link"
    tmp.unlink(missing_ok=True)
    os.link(source, tmp)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _written(path: Path, data: bytes, durable: bool = True) -> str:
    """A temporary file beside `path` holding `data` (synced to disk if `durable`), for a rename onto it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return tmp
