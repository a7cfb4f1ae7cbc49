"""Which process a pid names: a pid is recorded with its start time, so a pid the kernel has since
given to an unrelated process is never taken for the one recorded (nor signalled, nor waited for)."""
from __future__ import annotations


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
