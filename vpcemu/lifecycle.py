"""`clean`: find labs a crash left half-built or broken, by their journals and ownership marks.

A lab is crashed when its build never finished and the process building it is gone, or when
namespaces its journal lists have vanished. A namespace whose `lo` alias carries a vpcemu ownership
mark for a lab that has no state directory any more is an orphan. Nothing else is ever touched.
"""
from __future__ import annotations

import os

from .kernel import apply, netns
from .kernel.journal import Journal, all_labs
from .plan.names import OWNERSHIP_PREFIX, ownership_mark


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def crashed(journal: Journal) -> bool:
    state = journal.state()
    if state.get("status") != "up":
        return not _alive(state.get("pid"))
    return any(netns.netns_inode(ns) is None for ns in journal.live_namespaces())


def clean_crashed() -> dict:
    removed = []
    for lab in all_labs():
        journal = Journal(lab)
        if crashed(journal):
            state = journal.state()
            mark = ownership_mark(lab, state["uuid"]) if "uuid" in state else None
            apply.teardown(journal, expect_mark=mark)
            journal.remove()
            removed.append(lab)
    live = {ownership_mark(lab, Journal(lab).state().get("uuid", "")) for lab in all_labs()}
    orphans = []
    if os.path.isdir(netns.NETNS_DIR):
        # a plain file or a placeholder whose mount is gone is no namespace; read_marks leaves out
        # what it cannot enter, and raises anything else
        present = [ns for ns in sorted(os.listdir(netns.NETNS_DIR)) if netns.netns_inode(ns) is not None]
        marks = apply.read_marks(present)
        for ns in present:
            mark = marks.get(ns)
            if mark and mark.startswith(OWNERSHIP_PREFIX + ":") and mark not in live:
                netns.kill_processes_in_netns(ns)
                netns.delete_netns(ns)
                orphans.append(ns)
    return {"removed_labs": removed, "orphan_namespaces": orphans}
