"""The lab's EC2 API as the supervisor and readers see it: what to run (an argv: the API sits above `lab`
and is never imported here) and where, and the log of every call it received, which drills and status read.

The log is STATE_DIR/ec2-api-calls.jsonl, one JSON object a line, appended whole by one write (O_APPEND):
{"time": epoch seconds when received, "action", "caller": source address, "caller_name": the lab's name for
it (an instance, a NAT gateway's or endpoint's ENI) or null, "status": HTTP status, "code": "OK" or AWS's
error code, "ms": time to answer, "access_key": the SigV4 access key id or null}.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ..model.topology import Topology
from ..plan import names

CALLS_FILE = "ec2-api-calls.jsonl"
SERVICE = "ec2"


@dataclass(frozen=True)
class Ec2ApiSpec:
    namespace: str
    addresses: tuple[str, ...]
    argv: tuple[str, ...]


def ec2_api_spec(topology: Topology, lab: str) -> Ec2ApiSpec | None:
    """The lab's EC2 API process, when `ec2` is one of the lab's services (pure; no root needed)."""
    if SERVICE not in topology.services:
        return None
    return Ec2ApiSpec(names.region_ns(lab), tuple(str(a) for a in topology.service_addresses[SERVICE]),
                      (sys.executable, "-m", "vpcemu.ec2api", lab))


def record_call(state_dir: Path, call: dict) -> None:
    line = (json.dumps(call, separators=(",", ":")) + "\n").encode()
    fd = os.open(Path(state_dir) / CALLS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def calls(state_dir: Path, since: float | None = None, until: float | None = None) -> list[dict]:
    """The calls received (in order of answer), those received within [since, until] when given."""
    try:
        text = (Path(state_dir) / CALLS_FILE).read_text()
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        try:
            call = json.loads(line)
        except ValueError:          # a line being written as we read
            continue
        if (since is None or call["time"] >= since) and (until is None or call["time"] <= until):
            out.append(call)
    return out
