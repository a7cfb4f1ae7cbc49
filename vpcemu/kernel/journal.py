"""A lab's state directory (/run/vpcemu/<lab>/): the journal of every object it created, and its status.

An entry is written *before* the object is created, so a crash at any point leaves a journal that
names everything that might exist. Teardown and `clean` remove exactly what the journal lists, and
for namespaces only when the namespace carries this lab's ownership mark.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

STATE_ROOT = Path(os.environ.get("VPCEMU_STATE_DIR", "/run/vpcemu"))
# files in a lab's state directory besides the journal and state.json
MODEL_FILE = "model.pickle"          # the committed model (Lab.commit)
SERVICES_FILE = "services.json"      # the service keeper's account: worker pid, restarts, the services it runs
RELOADED_FILE = "model-reloaded"     # the supervisor's answer to SIGHUP: the model version it re-read
GO = "go"                            # the supervisor may start: the namespaces exist


class Journal:
    def __init__(self, lab: str):
        self.lab = lab
        self.dir = STATE_ROOT / lab
        self.path = self.dir / "journal.jsonl"
        self.state_path = self.dir / "state.json"

    # -- lifecycle ---------------------------------------------------------------------------
    def create(self, lab_uuid: str, source: str) -> None:
        """Claim the lab name; fails with FileExistsError if a lab of that name exists."""
        STATE_ROOT.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.dir.mkdir(mode=0o700)
        self.write_state(uuid=lab_uuid, status="building", pid=os.getpid(), created=time.time(), source=source)

    def exists(self) -> bool:
        return self.state_path.exists()

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- entries -----------------------------------------------------------------------------
    def record(self, kind: str, **fields: Any) -> None:
        self.record_many(kind, [fields])

    def record_many(self, kind: str, items: list[dict]) -> None:
        """Entries of one kind, written with one open (the journal is on disk where /run is not tmpfs)."""
        with open(self.path, "a") as f:
            f.write("".join(json.dumps({"kind": kind, **fields}) + "\n" for fields in items))

    def entries(self, kind: str | None = None) -> list[dict]:
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:     # a torn last line after a crash
                continue
            if kind is None or entry["kind"] == kind:
                out.append(entry)
        return out

    def live_namespaces(self) -> list[str]:
        """Namespaces created and not deleted since by a live change (a deleted NAT gateway's)."""
        alive: dict[str, None] = {}
        for e in self.entries():
            if e["kind"] == "netns":
                alive[e["name"]] = None
            elif e["kind"] == "netns_deleted":
                alive.pop(e["name"], None)
        return list(alive)

    # -- state -------------------------------------------------------------------------------
    def state(self) -> dict:
        try:
            return json.loads(self.state_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def write_state(self, **changes: Any) -> None:
        state = {**self.state(), **changes}
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.state_path)


def all_labs() -> list[str]:
    if not STATE_ROOT.is_dir():
        return []
    return sorted(p.name for p in STATE_ROOT.iterdir() if (p / "state.json").exists())
