"""The warm service process: a per-host process that has already imported what a lab's supervisor
needs (moto, werkzeug, dnslib, cryptography: about 0.3 s of imports) and forks a supervisor for a lab
on request, so a lab's services answer milliseconds after its namespaces exist instead of after a
fresh Python has imported them.

This module is the client side and the bookkeeping; services/warm.py is the server.

    WARM_ROOT/<key>.lock   flock held by the live server for its whole life: held = a server lives
    WARM_ROOT/<key>.sock   its socket (AF_UNIX, SOCK_SEQPACKET, root only)
    WARM_ROOT/<key>.json   {pid, starttime} of the server, for `clean`
    WARM_ROOT/<key>.log    its stderr

The key names the code a server runs (the Python, where vpcemu is, its sources' newest mtime), so a
server never starts a supervisor from other code than the caller's. A request carries the caller's
environment, working directory and umask, and three fds (the supervisor's stdin, stdout and stderr)
over SCM_RIGHTS; the server answers the supervisor's pid. The supervisor is the server's child, reaped by
it the moment it exits (a lab's processes are found by the journal's pid and start time, never by parent).

A server exits once IDLE_S seconds pass without a request while none of its supervisors lives, when its
code changes, on SIGTERM, and when `vpcemu clean` stops it (its supervisors live on, then init's). Nothing depends on it: without one (VPCEMU_WARM=0, or none started yet, or
it is gone), the supervisor is started as a fresh process, and the first such start of a key starts a
server in the background for the next lab.
"""
from __future__ import annotations

import array
import errno
import fcntl
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .journal import STATE_ROOT
from .pids import running, starttime, stop_process

WARM_ROOT = STATE_ROOT.with_name(STATE_ROOT.name + "-warm")
IDLE_S = 300.0
ENABLED_ENV = "VPCEMU_WARM"         # "0": never use or start a warm process
MAX_MESSAGE = 1 << 20
FDS = 3                             # stdin, stdout, stderr of the supervisor


def enabled() -> bool:
    return os.environ.get(ENABLED_ENV, "1") != "0"


def code_key() -> str:
    """Which code a server runs: the Python, the vpcemu package's place and its sources' newest mtime."""
    package = Path(__file__).resolve().parent.parent
    newest, count = 0, 0
    for directory, _, files in os.walk(package):
        for f in files:
            if f.endswith(".py"):
                newest = max(newest, os.stat(os.path.join(directory, f)).st_mtime_ns)
                count += 1
    text = f"{sys.executable}\0{package}\0{newest}\0{count}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def path(key: str, suffix: str) -> Path:
    return WARM_ROOT / f"{key}.{suffix}"


def request(key: str, argv: list[str], fds: tuple[int, int, int], timeout: float = 5.0) -> int | None:
    """Ask the warm server of `key` to start `python -m vpcemu.services.supervisor *argv` on `fds`
    (stdin, stdout, stderr); its pid, or None when no server answered (nothing was started then)."""
    mask = os.umask(0o022)
    os.umask(mask)
    message = json.dumps({"argv": argv, "env": dict(os.environ), "cwd": os.getcwd(), "umask": mask}).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path(key, "sock")))
            sock.sendmsg([message], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
            answer = json.loads(sock.recv(4096) or b"{}")
    except (OSError, ValueError):
        return None                 # none listens, it is exiting, or it died mid-request
    pid = answer.get("pid")
    return pid if isinstance(pid, int) and pid > 0 else None


def receive(conn: socket.socket) -> tuple[dict, list[int]]:
    """The server's side of `request`: the request and the fds it carried."""
    fds = array.array("i")
    message, ancillary, _, _ = conn.recvmsg(MAX_MESSAGE, socket.CMSG_SPACE(FDS * fds.itemsize))
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
    return json.loads(message), list(fds)


def start_server(key: str) -> bool:
    """Start the warm server of `key` in the background unless one lives (or is starting); whether
    this call started it. The caller does not wait for it: it is for the next lab."""
    WARM_ROOT.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = os.open(path(key, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False            # a live server holds it
        with open(path(key, "log"), "ab") as log:
            # the server daemonises (forks, its first process exits at once) and keeps the lock fd:
            # it holds the lock for as long as it lives
            subprocess.run([sys.executable, "-m", "vpcemu.services.warm", key, str(lock)],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                           pass_fds=(lock,), start_new_session=True, check=False)
        return True
    finally:
        os.close(lock)


def servers() -> list[dict]:
    """Every warm server this host has a lock file of: {key, pid, starttime, alive}."""
    if not WARM_ROOT.is_dir():
        return []
    found = []
    for lock in sorted(WARM_ROOT.glob("*.lock")):
        key = lock.name[:-len(".lock")]
        try:
            info = json.loads(path(key, "json").read_text())
        except (OSError, ValueError):
            info = {}
        found.append({"key": key, "pid": info.get("pid"), "starttime": info.get("starttime"),
                      "alive": _held(lock)})
    return found


def _held(lock: Path) -> bool:
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def stop_servers(keep: set[int] = frozenset()) -> list[str]:
    """Stop the warm servers on this host (but those whose pid is in `keep`) and remove their files; what
    was done, a line each. A server is signalled only if it holds its lock and its pid still has its
    recorded start time; one starting (no record yet) is left alone."""
    done = []
    for s in servers():
        if s["pid"] in keep:
            continue
        if s["alive"] and s["pid"] is None:
            s = _recorded(s)                # it records itself first thing: a moment
        if s["alive"]:
            if not running(s["pid"], s["starttime"]):
                continue
            stop_process({"pid": s["pid"], "starttime": s["starttime"]})
            done.append(f"stopped the warm service process (pid {s['pid']})")
        for leftover in WARM_ROOT.glob(f"{s['key']}.*"):         # its socket, record, log and lock
            leftover.unlink(missing_ok=True)
    try:
        WARM_ROOT.rmdir()
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.ENOTEMPTY):
            raise
    return done


@contextmanager
def started_within() -> Iterator[set[int]]:
    """On leaving, stop the warm servers that did not run on entering: those the block's labs started (a test
    session's, a benchmark's). Yields the pids of the ones that did run, which are left alone. A caller who is
    not root starts none and has nothing to stop."""
    if os.geteuid() != 0:
        yield set()
        return
    before = {s["pid"] for s in servers() if s["alive"]}
    try:
        yield before
    finally:
        stop_servers(keep=before)


def listening(timeout: float = 60.0) -> dict:
    """The warm server of this code (see `servers`), started unless one runs, once it listens; TimeoutError if it
    does not within `timeout` s."""
    key = code_key()
    start_server(key)
    deadline = time.monotonic() + timeout
    while True:
        server = next((s for s in servers() if s["key"] == key and s["alive"] and s["pid"]), None)
        if server is not None and path(key, "sock").exists():
            return server
        if time.monotonic() > deadline:
            raise TimeoutError(f"no warm service process listens after {timeout:g} s; see {path(key, 'log')}")
        time.sleep(0.01)        # its imports take a few tenths of a second; its socket appears when they are done


def _recorded(server: dict, wait: float = 2.0) -> dict:
    """`server` once its record is written (or as it is after `wait` s)."""
    end = time.monotonic() + wait
    while server["pid"] is None and time.monotonic() < end:
        time.sleep(0.005)
        server = next((s for s in servers() if s["key"] == server["key"]), server)
    return server


def record_self(key: str) -> None:
    """The server's own record, for `clean` (written once it holds the lock)."""
    tmp = path(key, f"json.{os.getpid()}")
    tmp.write_text(json.dumps({"pid": os.getpid(), "starttime": starttime(os.getpid())}))
    os.replace(tmp, path(key, "json"))
