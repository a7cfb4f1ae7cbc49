"""Processes a lab runs (its supervisor): started, journalled, signalled and stopped by pid and start time.

A `process` journal entry {pid, starttime, role} is written before waiting for the process to be
ready, so a crash at any point leaves an entry that names it. A process is only ever signalled
through a pidfd, after checking that the pid still has the start time recorded (field 22 of
/proc/PID/stat): a pid reused by an unrelated process is left alone.
"""
from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

from ..errors import KernelError
from ..plan.names import parking_ns
from . import warm
from .journal import GO, JOURNALLED, MODEL_FILE, RELOADED_FILE, SERVICES_FILE, Journal, read_json
from .pids import children, pidfd_of, running, starttime, stop_process

SUPERVISOR = "supervisor"
SUPERVISOR_LOG = "supervisor.log"


def start_supervisor(journal: Journal, lab: str, timeout: float = 60) -> int:
    """Spawn the lab's supervisor and wait until it says `ready`; its pid (see `spawn_supervisor`)."""
    return await_supervisor(journal, lab, spawn_supervisor(journal, lab), timeout)


class Spawned:
    """A supervisor being started, as `await_supervisor` talks to it: a subprocess.Popen (a fresh
    Python) or this, one the warm service process forked (its child, which it reaps; not ours)."""

    returncode = None

    def __init__(self, pid: int, stdin: int, stdout: int):
        self.pid = pid
        self.stdin = os.fdopen(stdin, "wb")
        self.stdout = os.fdopen(stdout, "rb")


def spawn_supervisor(journal: Journal, lab: str) -> subprocess.Popen | Spawned:
    """Start the supervisor early: it reads the model and makes the CA (and, as a fresh process, imports)
    while the caller builds the lab, then waits for `await_supervisor` to say go. Journalled before it
    does anything. Forked by the warm service process when one runs; else a fresh Python, and the
    first such start starts a warm service process for the next lab."""
    log_path = journal.dir / SUPERVISOR_LOG
    argv = [str(journal.dir), lab]
    proc = _from_warm(argv, log_path) if warm.enabled() else None
    if proc is None:
        with open(log_path, "ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", "vpcemu.services.supervisor", *argv],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                    start_new_session=True, close_fds=True)
        children[proc.pid] = proc
    journal.record(kind="process", role=SUPERVISOR, pid=proc.pid, starttime=starttime(proc.pid))
    # Until this line it has written nothing: if this process dies before journalling it, it reads
    # EOF and exits, leaving nothing that no journal names.
    try:
        proc.stdin.write(f"{JOURNALLED}\n".encode())
        proc.stdin.flush()
    except BrokenPipeError:
        pass                                # it died already: await_supervisor says so
    return proc


def started_by(proc: subprocess.Popen | Spawned) -> str:
    """Who started a supervisor: "warm" (forked by the warm service process) or "fresh" (a new Python)."""
    return "warm" if isinstance(proc, Spawned) else "fresh"


def _from_warm(argv: list[str], log_path) -> Spawned | None:
    """The supervisor forked by the warm service process, or None (none answered: one is started for
    the next lab, unless it is starting already)."""
    key = warm.code_key()
    stdin_r, stdin_w = os.pipe2(os.O_CLOEXEC)
    stdout_r, stdout_w = os.pipe2(os.O_CLOEXEC)
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        pid = warm.request(key, argv, (stdin_r, stdout_w, log))
    finally:
        for fd in (stdin_r, stdout_w, log):
            os.close(fd)
    if pid is None:
        os.close(stdin_w)                   # a supervisor forked before the server failed reads EOF: it exits
        os.close(stdout_r)
        warm.start_server(key)
        return None
    return Spawned(pid, stdin_w, stdout_r)


def await_supervisor(journal: Journal, lab: str, proc: subprocess.Popen, timeout: float = 60) -> int:
    """Tell a spawned supervisor the namespaces exist and wait until it says `ready`; its pid. Raises
    KernelError (with the tail of its log) if it says `error: ...`, dies or is not ready within
    `timeout` seconds; it is then stopped, and the lab's teardown finds nothing of it."""
    log_path = journal.dir / SUPERVISOR_LOG
    entry = supervisor_entry(journal)
    try:
        proc.stdin.write(f"{GO}\n".encode())
        proc.stdin.close()
    except BrokenPipeError:
        pass                                # it died already: its first line (none) says so below
    try:
        line = _first_line(proc, timeout)
    finally:
        proc.stdout.close()
    if line == "ready":
        return proc.pid
    stop_process(entry)
    if line is None:
        why = f"not ready after {timeout:g} s"
    elif line.startswith("error: "):
        why = line[len("error: "):]
    elif proc.returncode is not None:
        why = f"exited with status {proc.returncode}"
    else:
        why = f"said {line!r}" if line else "exited before it was ready"
    raise KernelError("start supervisor", parking_ns(lab), f"pid {proc.pid}", None,
                      f"{why}\n--- {log_path} (last lines) ---\n{_tail(log_path)}")


def _first_line(proc: subprocess.Popen, timeout: float) -> str | None:
    """The first line the process writes ('' if it closes stdout, or dies, first); None on timeout."""
    return read_line(proc.stdout.fileno(), timeout)


def read_line(fd: int, timeout: float) -> str | None:
    """The first line written to `fd` ('' if it is closed first); None after `timeout` seconds."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        left_ms = (deadline - time.monotonic()) * 1000
        if left_ms <= 0 or not poller.poll(left_ms):
            return None
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0].decode(errors="replace").strip()


def _tail(path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(unreadable: {exc})"


def supervisor_entry(journal: Journal) -> dict | None:
    entries = journal.entries("process")
    return next((e for e in reversed(entries) if e.get("role") == SUPERVISOR), None)


def signal_supervisor(journal: Journal, sig: int) -> bool:
    """Send `sig` (SIGHUP: re-read the model) to the lab's supervisor; False if it is not running."""
    entry = supervisor_entry(journal)
    pidfd = pidfd_of(entry) if entry is not None else None
    if pidfd is None:
        return False
    try:
        signal.pidfd_send_signal(pidfd, sig)
    except ProcessLookupError:
        return False
    finally:
        os.close(pidfd)
    return True


def supervisor_health(journal: Journal) -> dict | None:
    """The lab's supervisor and each service it runs, up or down (None: the lab has no supervisor).

    The keeper (the journalled process) restarts a dead worker; the services are up while the worker
    its last account names is alive (a service run as a program of its own, the EC2 API, while it is). A dead keeper leaves a live worker serving, unsupervised."""
    entry = supervisor_entry(journal)
    if entry is None:
        return None
    account = read_json(journal.dir / SERVICES_FILE)   # {} if not written yet, or torn: nothing is known up
    worker = account.get("worker")
    serving = running(worker, account.get("worker_starttime"))
    return {"pid": entry["pid"], "state": "up" if running(entry["pid"], entry["starttime"]) else "down",
            "worker_pid": worker, "restarts": account.get("restarts", 0), "last_exit": account.get("last_exit"),
            "services": [{**s, "state": "up" if (running(s["pid"], s.get("starttime")) if "pid" in s else serving)
                          else "down"} for s in account.get("services", [])]}


def revive_supervisor(journal: Journal, lab: str) -> str | None:
    """Start the lab's supervisor again if it died (its worker may still be serving, unsupervised: it
    is stopped first, as the new one binds the same sockets); what was done, or None if it runs.
    Nothing runs in the background to do this: `vpcemu repair` (and `status --check`, which says so)
    is the owner of a lab's lifetime between commands."""
    health = supervisor_health(journal)
    if health is None or health["state"] == "up":
        return None
    account = read_json(journal.dir / SERVICES_FILE)
    worker = account.get("worker")
    if worker is not None:
        stop_process({"pid": worker, "starttime": account.get("worker_starttime")})
    for program in (s for s in account.get("services", []) if "pid" in s):     # the EC2 API, which binds too
        stop_process({"pid": program["pid"], "starttime": program.get("starttime")})
    pid = start_supervisor(journal, lab)
    return f"supervisor pid {health['pid']} was dead; started pid {pid}" + \
        (f" (its worker pid {worker} stopped first)" if worker is not None else "")


def supervisor_behind(journal: Journal) -> bool:
    """Whether the lab's running services last read a model file other than the committed one: by a
    change killed between writing the model and telling them, or by one that did not need to tell
    them (nothing they answer from changed)."""
    entry = supervisor_entry(journal)
    if entry is None or not running(entry["pid"], entry["starttime"]):
        return False
    try:
        return (journal.dir / RELOADED_FILE).read_text() != str((journal.dir / MODEL_FILE).stat().st_mtime_ns)
    except FileNotFoundError:           # not started yet: it reads the model as it starts
        return False


def reload_supervisor(journal: Journal, timeout: float = 5.0) -> bool:
    """SIGHUP the supervisor and wait until it has re-read the model as it is now (False: none runs)."""
    version = str((journal.dir / MODEL_FILE).stat().st_mtime_ns)
    if not signal_supervisor(journal, signal.SIGHUP):
        return False
    done = journal.dir / RELOADED_FILE
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if done.read_text() == version:
                return True
        except FileNotFoundError:
            pass
        time.sleep(0.002)           # polling the supervisor's answer, not guessing a duration
    raise KernelError("supervisor reload", None, str(journal.dir), None, f"no reload within {timeout} s; see "
                      f"{journal.dir / 'supervisor.log'}")
