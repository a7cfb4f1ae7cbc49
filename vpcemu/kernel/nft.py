"""nftables through libnftables (ctypes), run inside a named namespace, no `nft` subprocess.

This module owns every conversation with nf_tables: a ruleset text goes to the kernel as one
atomic transaction from a thread that has entered the target namespace.
"""
from __future__ import annotations

import ctypes
import json
import threading
from collections.abc import Callable
from typing import Any

from vpcemu.errors import KernelError
from vpcemu.kernel.netns import run_in_netns, run_in_private_netns, start_in_netns

_OUTPUT_STATELESS = 1 << 2  # NFT_CTX_OUTPUT_STATELESS in nftables/libnftables.h: no counter values
_OUTPUT_HANDLE = 1 << 3  # NFT_CTX_OUTPUT_HANDLE
_OUTPUT_JSON = 1 << 4  # NFT_CTX_OUTPUT_JSON

_lib = ctypes.CDLL("libnftables.so.1", use_errno=True)
_lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
_lib.nft_ctx_new.restype = ctypes.c_void_p
_lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
_lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
_lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
_lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
_lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
_lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
_lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
_lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p

# libnftables 1.0.6 keeps its interface-name cache in a process-global list (iface.c), filled
# from the calling thread's namespace; two runs in different namespaces at once could resolve
# `iifname` against each other's interfaces.
_lock = threading.Lock()


class Nft:
    """One libnftables context; create, use and free it in the same (namespace) thread."""

    def __init__(self, flags: int = 0) -> None:
        # nft_ctx_new opens the nf_tables netlink socket, fixing the namespace it talks to.
        self._ctx = _lib.nft_ctx_new(0)
        if not self._ctx:
            raise KernelError("nft", None, None, ctypes.get_errno(), "nft_ctx_new failed")
        _lib.nft_ctx_buffer_output(self._ctx)
        _lib.nft_ctx_buffer_error(self._ctx)
        _lib.nft_ctx_output_set_flags(self._ctx, flags)

    def run(self, text: str) -> tuple[int, str, str]:
        """Run `text` as one transaction; return (rc, output, error text)."""
        rc = _lib.nft_run_cmd_from_buffer(self._ctx, text.encode())
        out = _lib.nft_ctx_get_output_buffer(self._ctx) or b""
        err = _lib.nft_ctx_get_error_buffer(self._ctx) or b""
        return rc, out.decode(), err.decode()

    def close(self) -> None:
        if self._ctx:
            _lib.nft_ctx_free(self._ctx)
            self._ctx = None

    def __enter__(self) -> Nft:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def nft_run(ns: str, text: str, json_output: bool = False, handles: bool = False) -> str:
    """Run nft commands or a whole ruleset in namespace `ns` atomically; return nft's output."""
    return nft_start(ns, text, json_output, handles)()


def nft_start(ns: str, text: str, json_output: bool = False, handles: bool = False) -> Callable[[], str]:
    """nft_run begun: returns once libnftables has the transaction, which it carries out in its own thread,
    outside the GIL, while the caller goes on (the context is made first: each of its ctypes calls needs the
    GIL back, which a caller busy in Python would hold up). The caller must call the result, which waits
    for the transaction and returns nft's output or raises."""
    flags = (_OUTPUT_JSON if json_output else 0) | (_OUTPUT_HANDLE if handles else 0)
    begun = threading.Event()

    def body() -> str:
        try:
            with Nft(flags) as nft:
                begun.set()
                return _checked("nft", ns, *nft.run(text))
        finally:
            begun.set()

    _lock.acquire()
    try:
        running = start_in_netns(ns, body)
        begun.wait()
    except BaseException:
        _lock.release()
        raise

    def result() -> str:
        try:
            return running()
        finally:
            _lock.release()

    return result


def nft_run_each(texts: dict[str, str]) -> dict[str, str | KernelError]:
    """nft_run in several namespaces side by side; each one's output, or the KernelError it failed with. A commit
    that removes set elements waits out an RCU grace period (10-20 ms here): side by side, the waits overlap.
    The texts must name no interface: the threads share libnftables' interface cache (see _lock), holding the
    lock together against every other caller."""
    results: dict[str, str | KernelError] = {}

    def run(ns: str, text: str) -> str:
        with Nft() as nft:
            return _checked("nft", ns, *nft.run(text))

    with _lock:
        running = {ns: start_in_netns(ns, run, ns, text) for ns, text in texts.items()}
        for ns, result in running.items():
            try:
                results[ns] = result()
            except KernelError as exc:
                results[ns] = exc
    return results


def _checked(operation: str, ns: str, rc: int, out: str, err: str) -> str:
    """nft's output, or the KernelError of a run that failed (its error text, else its return code)."""
    if rc != 0:
        raise KernelError(operation, ns, None, None, err.strip() or f"nft_run_cmd_from_buffer returned {rc}")
    return out


def nft_json(ns: str, cmd: str) -> dict[str, Any]:
    """Run a list command in namespace `ns` and return nft's parsed JSON (`{}` if it printed none)."""
    out = nft_run(ns, cmd, json_output=True)
    return json.loads(out) if out.strip() else {}


def nft_table_listing(ns: str, family: str, table: str) -> str | None:
    """nft's own listing of one table in namespace `ns`, without counter values (None: no such table).
    The whole ruleset is listed, which never fails for a missing table, and the table cut out of it."""

    def body() -> tuple[int, str, str]:
        with Nft(_OUTPUT_STATELESS) as nft:
            return nft.run("list ruleset")

    with _lock:
        out = _checked("nft list ruleset", ns, *run_in_netns(ns, body))
    return _cut_table(out, family, table)


def nft_canonical_listing(text: str, family: str, table: str) -> str:
    """How nft lists `text`'s table once loaded: `text` loaded in a private scratch namespace and
    listed there (nft prints what the kernel holds in one canonical form: sorted elements, resolved
    priorities), so a listing from a lab namespace compares with it as text."""

    def body() -> tuple[int, str, str]:
        with Nft(0) as nft:
            rc, _, err = nft.run(text)
            if rc != 0:
                return rc, "", err
        with Nft(_OUTPUT_STATELESS) as nft:
            return nft.run("list ruleset")

    with _lock:
        out = _checked("nft", "(scratch)", *run_in_private_netns(body))
    return _cut_table(out, family, table) or ""


def _cut_table(listing: str, family: str, table: str) -> str | None:
    head = f"table {family} {table} {{"
    lines = listing.splitlines()
    if head not in lines:
        return None
    start = lines.index(head)
    end = lines.index("}", start)
    return "\n".join(lines[start:end + 1]) + "\n"
