"""The lab's services killed: kill -9 the service worker `kills` times and time until real clients get
answers again (a DNS query to the VPC resolver from an instance, a TCP connection to an internet
host's listener), and check that `status` counts every restart. Then the supervisor itself (the
keeper): its worker serves on, unsupervised; `differences` says so and `repair` starts a new one. Used with small numbers by
tests/reliability/test_supervisor_kills.py and with more by scripts/chaos."""
from __future__ import annotations

import os
import select
import signal
import socket
import statistics
import time
from pathlib import Path

from dnslib import DNSRecord

from vpcemu.kernel import netns, process
from vpcemu.lab import Lab
from vpcemu.plan import names

TOPOLOGY = Path(__file__).resolve().parents[2] / "topologies" / "default.yaml"
CLIENT = "app-a"
RESOLVER = "10.0.0.2"
HOST = ("198.18.0.50", 80)
QUESTION = DNSRecord.question("s3.us-east-1.amazonaws.com").pack()


def _answered() -> bool:
    """One DNS answer with records and one TCP handshake, from inside the client's namespace."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.02)
        s.sendto(QUESTION, (RESOLVER, 53))
        try:
            if not DNSRecord.parse(s.recv(512)).rr:
                return False
        except (TimeoutError, ConnectionRefusedError):
            return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.05)
        try:
            s.connect(HOST)
        except OSError:
            return False
    return True


def _kill(pid: int) -> None:
    pidfd = os.pidfd_open(pid)
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        select.select([pidfd], [], [], 10)              # dead (a child of its keeper: reaped by it)
    finally:
        os.close(pidfd)


def _back_within(ns: str, seconds: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if netns.run_in_netns(ns, _answered):
            return time.monotonic() - started
    return None


def run(kills: int = 10, lab_name: str = "t-supkill") -> dict:
    back: list[float | None] = []
    with Lab.up(TOPOLOGY, name=lab_name) as lab:
        ns = names.instance_ns(lab_name, CLIENT)
        assert _back_within(ns, 5) is not None, "the services never answered"
        for _ in range(kills):
            lab.require_services()          # the keeper's account names the new worker (it serves already)
            _kill(process.supervisor_health(lab.journal)["worker_pid"])
            back.append(_back_within(ns, 5))
        lab.require_services()
        status = lab.status()
        _kill(process.supervisor_health(lab.journal)["pid"])
        unsupervised = lab.status()["supervisor"]["state"] == "down" and _back_within(ns, 1) is not None
        said = any("supervisor" in d for d in lab.differences())
        started = time.monotonic()
        fixed = lab.repair()
        revived_s = time.monotonic() - started if _back_within(ns, 5) is not None else None
        after = lab.status()
        keeper = {"unsupervised_worker_served": unsupervised, "differences_said_so": said,
                  "repair_said": [f for f in fixed if "supervisor" in f], "revived_s": revived_s and round(revived_s, 3),
                  "status_after": after["status"], "restarts_after": after["supervisor"]["restarts"],
                  "differences_after": lab.differences()}
    answered = [b for b in back if b is not None]
    return {"kills": kills, "answered_again": len(answered),
            "median_s": round(statistics.median(answered), 3) if answered else None,
            "max_s": round(max(answered), 3) if answered else None,
            "restarts_in_status": status["supervisor"]["restarts"], "status": status["status"],
            "keeper_killed": keeper}


def holds(figures: dict) -> bool:
    return (figures["answered_again"] == figures["kills"] and figures["max_s"] is not None
            and figures["max_s"] < 1.0 and figures["restarts_in_status"] == figures["kills"]
            and figures["status"] == "up" and _keeper_holds(figures["keeper_killed"], figures["kills"]))


def _keeper_holds(k: dict, kills: int) -> bool:
    return (k["unsupervised_worker_served"] and k["differences_said_so"] and len(k["repair_said"]) == 1
            and k["revived_s"] is not None and k["revived_s"] < 3.0 and k["status_after"] == "up"
            and k["restarts_after"] == kills + 1 and k["differences_after"] == [])
