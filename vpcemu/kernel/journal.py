"""A lab's state directory (/run/vpcemu/<lab>/): the journal of every object it created, and its status.

An entry is written *before* the object is created, so a crash at any point leaves a journal that
names everything that might exist. Teardown and `clean` remove exactly what the journal lists, and
for namespaces only when the namespace carries this lab's ownership mark.
"""
from __future__ import annotations

import fcntl
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
LOCK_TIMEOUT = 30.0                  # seconds a change waits for the lab's lock by default (--lock-timeout)
CHANGING_FILE = "changing"           # a live change is between its first kernel step and its end


class Journal:
    def __init__(self, lab: str):
        self.lab = lab
        self.dir = STATE_ROOT / lab
        self.path = self.dir / "journal.jsonl"
        self.state_path = self.dir / "state.json"

    # -- lifecycle ---------------------------------------------------------------------------
    def create(self, lab_uuid: str, source: str) -> int:
        """Claim the lab name, holding its lock (the fd returned) so that no change can reach the lab
        before its build ends; fails with FileExistsError if a lab of that name exists."""
        STATE_ROOT.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.dir.mkdir(mode=0o700)
        fd = self.lock(0)
        assert fd is not None, "a directory made a moment ago is locked by nobody else"
        self.write_state(uuid=lab_uuid, status="building", pid=os.getpid(), created=time.time(), source=source)
        return fd

    def exists(self) -> bool:
        return self.state_path.exists()

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

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
