"""A lab's condition judged from its state directory, its removal, and `clean`: what crashes left.

A lab is `building` while the process building it lives (its pid *and* start time, so a reused pid
is never taken for it), `crashed` when that process died before the build finished, `broken` when
namespaces its journal lists have vanished, `damaged` when its state or model cannot be read, and
`up` otherwise. `clean` removes crashed, broken and damaged labs from their journals, the staging
directories of builds that died before their lab had a name, and namespaces whose `lo` alias carries
a vpcemu ownership mark of a lab that has no state directory any more (orphans). Nothing of a
building or up lab is ever touched, and one lab's failure stops no other's removal.
"""
from __future__ import annotations

import os
import shutil

from .errors import KernelError, UsageError
from .kernel import netns
from .kernel.journal import Journal, abandoned_staging, all_labs
from .kernel.stored_model import read_model
from .kernel.pids import running
from .plan.names import OWNERSHIP_PREFIX, ownership_mark

BUILDING, UP, CRASHED, BROKEN, DAMAGED = "building", "up", "crashed", "broken", "damaged"
GONE = (CRASHED, BROKEN, DAMAGED)       # what `clean` removes
WHY = {CRASHED: "its last build died before it finished", BROKEN: "namespaces of it have vanished",
       DAMAGED: "its state or its model cannot be read"}


def _alive(pid: object) -> bool:
    """For a state written before start times were recorded: whether any process has `pid`."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def builder_alive(state: dict) -> bool:
    if "starttime" in state:
        return running(state.get("pid"), state.get("starttime"))
    return _alive(state.get("pid"))


def model_readable(journal: Journal) -> bool:
    try:
        read_model(journal.dir)
    except Exception:       # missing, damaged or not ours: any failure to read it means no usable model
        return False
    return True


def condition(journal: Journal) -> str:
    state = journal.state()
    if not state:
        return DAMAGED
    if state.get("status") != UP:
        return BUILDING if builder_alive(state) else CRASHED
    if not model_readable(journal):
        return DAMAGED
    if any(netns.netns_inode(ns) is None for ns in journal.live_namespaces()):
        return BROKEN
    return UP


def crashed(journal: Journal) -> bool:
    return condition(journal) in GONE


def mark_of(journal: Journal) -> str | None:
    """The ownership mark the lab's namespaces carry; None if its state no longer says (then teardown
    takes any mark of the lab's name)."""
    lab_uuid = journal.state().get("uuid")
    return ownership_mark(journal.lab, lab_uuid) if isinstance(lab_uuid, str) and lab_uuid else None


def remove(journal: Journal) -> list[str]:
    """Tear the lab down from its journal (its model is not needed) and remove its state directory;
    what teardown left alone, and why. Refused (UsageError) while another live process removes it.
    Once this process holds the removal mark no one else removes the directory, and the name stays
    taken until it is empty, so no lab made meanwhile under the same name is touched."""
    try:
        holder = journal.claim_removal()
    except FileNotFoundError:
        return []                                   # removed meanwhile
    if holder is not None:
        raise UsageError(f"lab {journal.lab!r} is being removed by pid {holder.get('pid')}",
                         hint="wait for it to finish")
    from .kernel import apply
    problems = apply.teardown(journal, expect_mark=mark_of(journal))
    journal.remove()
    return problems


def clean_crashed() -> dict:
    removed, problems = [], []
    for lab in all_labs():
        journal = Journal(lab)
        try:
            # a live build or change holds the lab's lock (its death lets go): such a lab is judged
            # by nobody, as it may be between journalling a namespace and making it
            fd = journal.lock(0)
        except FileNotFoundError:
            continue                                            # removed meanwhile
        if fd is None:
            continue
        try:
            if not crashed(journal) or journal.remover() is not None:
                continue
            problems += [f"lab {lab}: {p}" for p in remove(journal)]
            removed.append(lab)
        except (KernelError, UsageError, OSError) as exc:     # one lab's failure stops no other's removal
            problems.append(f"lab {lab}: {exc}")
        finally:
            os.close(fd)
    for staging in abandoned_staging():
        shutil.rmtree(staging, ignore_errors=True)
    orphans = []
    if os.path.isdir(netns.NETNS_DIR):
        # a plain file or a placeholder whose mount is gone is no namespace; read_marks leaves out
        # what it cannot enter, and raises anything else
        present = [ns for ns in sorted(os.listdir(netns.NETNS_DIR)) if netns.netns_inode(ns) is not None]
        from .kernel import apply
        marks = apply.read_marks(present)
        for ns in present:
            mark = marks.get(ns)
            if mark and mark.startswith(OWNERSHIP_PREFIX + ":") and not _owner_exists(mark):
                netns.kill_processes_in_netns(ns)
                netns.delete_netns(ns)
                orphans.append(ns)
    # the warm service process holds no lab's objects; stopping it only makes the next lab start cold
    from .kernel import warm
    return {"removed_labs": removed, "orphan_namespaces": orphans, "stopped": warm.stop_servers(),
            "problems": problems}


def _owner_exists(mark: str) -> bool:
    """Whether the lab a mark names still has its state. Judged when the namespace is already seen:
    a lab's state exists before its first namespace, so a lab whose build began after `clean`
    started is never taken for gone. A state that no longer says its uuid keeps every namespace
    of its lab's name (that lab's own removal judges them)."""
    _, lab, lab_uuid = (mark.split(":", 2) + ["", ""])[:3]
    try:
        journal = Journal(lab)
    except ValueError:
        return False
    if not journal.exists():
        return False
    owner = journal.state().get("uuid")
    return not isinstance(owner, str) or owner in ("", lab_uuid)
