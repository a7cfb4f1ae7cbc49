"""Which process a pid names, and stopping it: a pid is recorded with its start time, so a pid the kernel
has since given to an unrelated process is never taken for the one recorded (nor signalled, nor waited
for). A process is only ever signalled through a pidfd, after checking that the pid still has its
recorded start time."""
from __future__ import annotations

import errno
import os
import select
import signal
import subprocess

from ..errors import KernelError

STOP_TIMEOUT_S = 5.0

# The Popen of each process started by this one, to reap it once stopped (else it stays a zombie while
# the starting process, a test run or a notebook, lives on).
children: dict[int, subprocess.Popen] = {}


def starttime(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (clock ticks after boot), or None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # the command name (field 2) may hold spaces and parentheses: fields 3.. follow its last ')'
    return int(stat[stat.rindex(b")") + 2:].split()[19])


def running(pid: int | None, started: int | None) -> bool:
    """Whether `pid` is still the process that started at `started` and has not exited (a zombie has)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return fields[0] not in (b"Z", b"X") and int(fields[19]) == started


def pidfd_of(entry: dict) -> int | None:
    """A pidfd for the journalled process, or None if it is gone or the pid now names another process."""
    try:
        pidfd = os.pidfd_open(entry["pid"])
    except ProcessLookupError:
        return None
    # pidfd_open pins the pid: if the start time matches now, every signal through the pidfd reaches
    # the process that was journalled
    if starttime(entry["pid"]) != entry["starttime"]:
        os.close(pidfd)
        return None
    return pidfd


def _exited(pidfd: int, timeout: float) -> bool:
    # a pidfd turns readable once its process has exited (a zombie counts)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(timeout * 1000))


def stop_process(entry: dict) -> bool:
    """SIGTERM the journalled process, SIGKILL it if it has not exited within 5 s; wait until it is
    gone. False if it was gone already (or its pid now names another process)."""
    pidfd = pidfd_of(entry)
    if pidfd is None:
        _reap(entry)
        return False
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGTERM)
        if not _exited(pidfd, STOP_TIMEOUT_S):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            if not _exited(pidfd, STOP_TIMEOUT_S):
                raise KernelError("stop process", None, f"pid {entry['pid']}", errno.ETIMEDOUT,
                                  "still alive after SIGKILL")
    finally:
        os.close(pidfd)
    _reap(entry)
    return True


def _reap(entry: dict) -> None:
    """Reap the exited process if it is our child (else its parent does: the warm service process, or init
    for one whose starter has exited; until then it is a zombie, which holds nothing)."""
    child = children.pop(entry["pid"], None)
    if child is not None:
        child.wait()
