"""A lab's state directory (/run/vpcemu/<lab>/): the journal of every object it created, and its status.

An entry is written *before* the object is created, so a crash at any point leaves a journal that
names everything that might exist. Teardown and `clean` remove exactly what the journal lists, and
for namespaces only when the namespace carries this lab's ownership mark.

The directory appears with its state file already in it: it is made under a staging name and renamed
into place, so at whatever instant a build dies, the lab's name is either free or names a state that
says who was building it; it is renamed away before it is emptied, for the same reason. A staging or
removed directory left by a process that died carries its pid and start time in its name, so `clean`
tells it from one in use. State files are
replaced atomically (temporary file, fsync, rename): a reader sees the old state or the new one.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from .netns import valid_name
from .pids import running, starttime

STATE_ROOT = Path(os.environ.get("VPCEMU_STATE_DIR", "/run/vpcemu"))
STATE_FILE = "state.json"
JOURNAL_FILE = "journal.jsonl"
# files in a lab's state directory besides the journal and state.json
MODEL_FILE = "model.yaml"            # the committed model, a format-1 document (Lab.commit, stored_model.py)
MODEL_CACHE_FILE = "model.pickle"    # its pickle: read instead of loading it when made from that very text
BUILT_DIR = "built"                  # the model the lab was built from (its two files), for Lab.reset
SERVICES_FILE = "services.json"      # the service keeper's account: worker pid, restarts, the services it runs
RELOADED_FILE = "model-reloaded"     # the supervisor's answer to SIGHUP: the model version it re-read
JOURNALLED = "journalled"            # the supervisor may begin (write files): the journal names it
GO = "go"                            # the supervisor may start its services: the namespaces exist
REMOVING_FILE = "removing"           # {pid, starttime} of the process removing the lab (down, clean)
_STAGING_SUFFIX = ".new"              # a lab's directory before it has its name
_REMOVED_SUFFIX = ".gone"            # and after
# a journalled namespace whose creation found the name taken: someone else's, never to be removed
NETNS_NOT_OURS = "netns_not_ours"
LOCK_TIMEOUT = 30.0                  # seconds a change waits for the lab's lock by default (--lock-timeout)
CHANGING_FILE = "changing"           # a live change is between its first kernel step and its end


class Journal:
    def __init__(self, lab: str):
        # the name becomes a directory under STATE_ROOT: nothing that could leave it or hide there
        if not isinstance(lab, str) or not lab or "/" in lab or "\0" in lab or lab.startswith("."):
            raise ValueError(f"invalid lab name {lab!r}")
        self.lab = lab
        self.dir = STATE_ROOT / lab
        self.path = self.dir / JOURNAL_FILE
        self.state_path = self.dir / STATE_FILE

    # -- lifecycle ---------------------------------------------------------------------------
    def create(self, lab_uuid: str, source: str) -> int:
        """Claim the lab name, holding its lock (the fd returned) so that no change can reach the lab
        before its build ends; fails with FileExistsError if a lab of that name exists."""
        STATE_ROOT.mkdir(mode=0o700, parents=True, exist_ok=True)
        pid = os.getpid()
        started = starttime(pid)
        staging = STATE_ROOT / f".{self.lab}.{pid}.{started}.{secrets.token_hex(4)}{_STAGING_SUFFIX}"
        staging.mkdir(mode=0o700)
        # the lock is on the directory itself, so it holds across the rename that names the lab
        fd = os.open(staging, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            write_json(staging / STATE_FILE, {"uuid": lab_uuid, "status": "building", "pid": pid,
                                              "starttime": started, "created": time.time(), "source": source})
            # a lab's directory is never empty, so the rename fails while one holds the name (an
            # emptied one, whose removal is finishing, is free to take)
            os.rename(staging, self.dir)
        except BaseException as exc:
            os.close(fd)
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(exc, OSError) and exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise FileExistsError(errno.EEXIST, f"lab {self.lab} exists", str(self.dir)) from None
            raise
        return fd

    def exists(self) -> bool:
        return self.state_path.exists()

    def remove(self) -> None:
        """Remove the state directory. It is first renamed out of the lab's name (so a removal killed
        part-way never leaves a directory under the name without its state file) to one that names
        this process, which `clean` removes once this process is gone."""
        pid = os.getpid()
        gone = STATE_ROOT / f".{self.lab}.{pid}.{starttime(pid)}.{secrets.token_hex(4)}{_REMOVED_SUFFIX}"
        try:
            os.rename(self.dir, gone)
        except FileNotFoundError:
            return
        shutil.rmtree(gone, ignore_errors=True)

    def claim_removal(self) -> dict | None:
        """Mark the lab as being removed by this process: None once it is ours to remove, or the
        {pid, starttime} of the live process that is removing it already. The mark appears with its
        content in one step (a hard link of a written file); one left by a remover that died is taken
        over. FileNotFoundError if the lab's directory is gone."""
        me = {"pid": os.getpid(), "starttime": starttime(os.getpid())}
        marker = self.dir / REMOVING_FILE
        holder: dict = {}
        for _ in range(3):
            fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=f".{REMOVING_FILE}.")
            try:
                with os.fdopen(fd, "w") as f:
                    json.dump(me, f)
                try:
                    os.link(tmp, marker)
                    return None
                except FileExistsError:
                    pass
            finally:
                os.unlink(tmp)
            holder = read_json(marker)
            if holder == me:
                return None
            if running(holder.get("pid"), holder.get("starttime")):
                return holder
            try:
                os.unlink(marker)
            except FileNotFoundError:
                pass
        return holder

    def remover(self) -> dict | None:
        """The live process removing the lab ({pid, starttime}), or None."""
        holder = read_json(self.dir / REMOVING_FILE)
        return holder if running(holder.get("pid"), holder.get("starttime")) else None

    def lock(self, timeout: float) -> int | None:
        """Take the lab's lock: an exclusive flock on its state directory, the fd that holds it (close it
        to let go; a process that dies lets go with it). None if another holder kept it `timeout` s.

        Waiting polls (1 ms, doubling to 20 ms): flock has no timed wait, and a blocking flock in a
        thread could not be given up at the timeout."""
        fd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        end, pause = time.monotonic() + timeout, 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= end:
                    os.close(fd)
                    return None
                time.sleep(min(pause, max(0.0, end - time.monotonic())))
                pause = min(pause * 2, 0.02)
            except BaseException:
                os.close(fd)
                raise

    # -- entries -----------------------------------------------------------------------------
    def record(self, kind: str, **fields: Any) -> None:
        self.record_many(kind, [fields])

    def record_many(self, kind: str, items: list[dict]) -> None:
        """Entries of one kind, written with one open (the journal is on disk where /run is not tmpfs)."""
        with open(self.path, "a") as f:
            f.write("".join(json.dumps({"kind": kind, **fields}) + "\n" for fields in items))

    def entries(self, kind: str | None = None) -> list[dict]:
        """The entries, oldest first; a line that is not an entry (torn by a crash, or damaged) is skipped."""
        try:
            with open(self.path, "rb") as f:
                lines = f.read().splitlines()
        except OSError:            # none yet, or damaged into something that is no file
            return []
        out = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if not isinstance(entry, dict) or not isinstance(entry.get("kind"), str):
                continue
            if kind is None or entry["kind"] == kind:
                out.append(entry)
        return out

    def live_namespaces(self) -> list[str]:
        """Namespaces created and not deleted since by a live change (a deleted NAT gateway's). A name
        that cannot be a namespace's (a damaged journal's) is not among them."""
        alive: dict[str, None] = {}
        for e in self.entries():
            name = e.get("name")
            if not valid_name(name):
                continue
            if e["kind"] == "netns":
                alive[name] = None
            elif e["kind"] in ("netns_deleted", NETNS_NOT_OURS):
                alive.pop(name, None)
        return list(alive)

    def recorded_namespaces(self) -> tuple[list[str], set[str]]:
        """Every namespace name the lab made or may have begun to make, oldest first (those a live
        change deleted too: the entry is written before the deletion, which may not have happened),
        and those of them whose creation found the name taken: someone else's."""
        made: dict[object, None] = {}
        taken = set()
        for e in self.entries():
            if e["kind"] == "netns":
                made[e.get("name")] = None
            elif e["kind"] == NETNS_NOT_OURS and isinstance(e.get("name"), str):
                taken.add(e["name"])
        return list(made), taken

    # -- state -------------------------------------------------------------------------------
    def state(self) -> dict:
        return read_json(self.state_path)

    def write_state(self, **changes: Any) -> None:
        write_json(self.state_path, {**self.state(), **changes})


def read_json(path: Path) -> dict:
    """A JSON object from `path`; {} if it is missing, torn or not an object."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_json(path: Path, data: dict) -> None:
    """Replace `path` atomically: a temporary file beside it, flushed to disk, renamed over it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def all_labs() -> list[str]:
    if not STATE_ROOT.is_dir():
        return []
    return sorted(p.name for p in STATE_ROOT.iterdir()
                  if not p.name.startswith(".") and (p / STATE_FILE).exists())


def abandoned_staging() -> list[Path]:
    """Directories of builds that died before their lab's directory was renamed into place, and of
    removals that died after renaming it away: their process is gone."""
    if not STATE_ROOT.is_dir():
        return []
    out = []
    for p in STATE_ROOT.iterdir():
        parts = p.name.split(".")
        # ".<lab>.<pid>.<starttime>.<token>.new" or "... .gone"
        if len(parts) != 6 or parts[0] or "." + parts[5] not in (_STAGING_SUFFIX, _REMOVED_SUFFIX):
            continue
        try:
            pid, started = int(parts[2]), int(parts[3])
        except ValueError:
            continue
        if not running(pid, started):
            out.append(p)
    return sorted(out)
