"""What was run in a lab since it was built (probes, verify, matrices, drills), kept in its state directory
as JSON lines for `vpcemu report`. Appends are single writes to an O_APPEND file, so processes probing the
same lab at once do not interleave their records; the file goes with the state directory at `down`."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

HISTORY_FILE = "history.jsonl"


def record(state_dir: Path, kind: str, data: dict) -> None:
    """Add one result (`kind`: probe | verify | matrix | drill) to the lab's history."""
    line = json.dumps({"kind": kind, "at": round(time.time(), 3), "data": data}, default=str) + "\n"
    fd = os.open(state_dir / HISTORY_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read(state_dir: Path) -> list[dict]:
    """The lab's history, oldest first; a damaged line is skipped, not the rest."""
    try:
        text = (state_dir / HISTORY_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out
