"""kill -9 of live changes: on one lab, each live change (ENI move, SG authorize and revoke, EIP
associate and disassociate, endpoint create and delete, route create, replace and delete) is run as
a `vpcemu` process and killed at a random instant of its run; then the same command is run again
(or, when the killed one had committed already, `vpcemu repair`). Afterwards the kernel must hold
the model (Lab.differences() is empty), the model must hold the change exactly once, and real probes
must agree with the analysis. Used with 2 kills per change by tests/reliability/test_crash_ops.py
and with 20 by scripts/chaos.

The kill instant is random, and aimed at the part of a run that changes the lab: each command is
timed once uninterrupted while the lab's change marker is watched (Lab.change writes it before the
first kernel step and removes it once the change is committed or undone); then one kill in five lands
anywhere before the change starts, the others anywhere between the marker's appearing and a little
past the change's usual end.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from vpcemu.kernel.journal import CHANGING_FILE
from vpcemu.lab import Lab
from vpcemu.model import Topology

TOPOLOGY = Path(__file__).resolve().parents[1] / "data" / "chaos-ops.yaml"
# this interpreter and this checkout's vpcemu (a venv's `vpcemu` script may name another interpreter)
VPCEMU = [sys.executable, "-c", "import sys; from vpcemu.cli import main; sys.argv[0] = 'vpcemu'; main()"]
EIP = "198.51.100.50"
ROUTE = "198.18.0.0/24"
FIRST_PORT = 30000
TIMEOUT_S = 120


@dataclass(frozen=True)
class Op:
    """One live change: its arguments, whether a model holds it (exactly once), and probes that
    must agree with the analysis once it is done."""

    name: str
    argv: Callable[[int], list[str]]                 # round → the command's arguments
    holds: Callable[[Topology, int], bool]           # the model holds the change of that round, once
    probes: Callable[[int], tuple[tuple[str, str, str, int | None], ...]]       # round → (source, to, protocol, port)


def _vip_at(t: Topology) -> str | None:
    eni = t.network_interface("vip")
    return eni.attachment.instance if eni.attachment else None


def _moved_to(rnd: int) -> str:
    return "right" if rnd % 2 == 0 else "left"        # round 0 (the timing run) takes it from left


def _rules(t: Topology, port: int) -> int:
    return sum(1 for r in t.vpcs["main"].security_groups["target"].ingress if r.from_port == port)


def _eip_holders(t: Topology) -> list[str]:
    return [e.name for e in t.network_interfaces.values() if IPv4Address(EIP) in e.eips.values()]


def _routes(t: Topology) -> list:
    return [r for r in t.vpcs["main"].route_tables["private"].routes if r.destination == IPv4Network(ROUTE)]


def _endpoint(t: Topology) -> int:
    vpc = t.vpcs["main"]
    return ("ep" in vpc.endpoints) + sum(1 for n in vpc.network_interfaces if n.startswith("ep."))


OPS = (
    Op("eni move", lambda r: ["eni", "move", "vip", "--to", _moved_to(r)],
       lambda t, r: _vip_at(t) == _moved_to(r), lambda r: (("client", "10.0.2.100", "icmp", None),)),
    Op("sg authorize", lambda r: ["sg", "authorize", "target", "-p", "tcp", "--port", str(FIRST_PORT + r),
                                  "--peer", "10.0.0.0/16"],
       lambda t, r: _rules(t, FIRST_PORT + r) == 1, lambda r: (("client", "server", "tcp", FIRST_PORT + r),)),
    Op("sg revoke", lambda r: ["sg", "revoke", "target", "-p", "tcp", "--port", str(FIRST_PORT + r),
                               "--peer", "10.0.0.0/16"],
       lambda t, r: _rules(t, FIRST_PORT + r) == 0, lambda r: (("client", "server", "tcp", FIRST_PORT + r),)),
    Op("eip associate", lambda r: ["eip", "associate", EIP, "--eni", "server"],
       lambda t, r: _eip_holders(t) == ["server.eth0"], lambda r: (("ext", EIP, "icmp", None),)),
    Op("eip disassociate", lambda r: ["eip", "disassociate", EIP],
       lambda t, r: _eip_holders(t) == [], lambda r: (("ext", EIP, "icmp", None),)),
    Op("endpoint create", lambda r: ["endpoint", "create", "ep", "--service", "sqs", "--subnet", "app",
                                     "--group", "open"],
       lambda t, r: _endpoint(t) == 2, lambda r: (("client", "sqs", "tcp", 443),)),
    Op("endpoint delete", lambda r: ["endpoint", "delete", "ep"],
       lambda t, r: _endpoint(t) == 0, lambda r: (("client", "sqs", "tcp", 443),)),
    Op("route create", lambda r: ["route", "create", "private", ROUTE, "nat"],
       lambda t, r: [x.target for x in _routes(t)] == ["nat"], lambda r: (("client", "198.18.0.50", "tcp", 80),)),
    Op("route replace", lambda r: ["route", "replace", "private", ROUTE, "igw"],
       lambda t, r: [x.target for x in _routes(t)] == ["igw"], lambda r: (("client", "198.18.0.50", "tcp", 80),)),
    Op("route delete", lambda r: ["route", "delete", "private", ROUTE],
       lambda t, r: _routes(t) == [], lambda r: (("client", "198.18.0.50", "tcp", 80),)),
)


def _command(argv: list[str], lab: str) -> list[str]:
    return [*VPCEMU, *argv, "--lab", lab]


def _timing(op: Op, rnd: int, lab: Lab) -> tuple[float, float]:
    """Run `op` of round `rnd` uninterrupted: when its change marker appears (seconds after the
    process starts) and how long it stays (Lab.change writes it before the first kernel step and
    removes it once the change is committed or rolled back)."""
    marker = lab.journal.dir / CHANGING_FILE
    started = time.monotonic()
    proc = subprocess.Popen(_command(op.argv(rnd), lab.name), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    seen: list[float] = []
    while proc.poll() is None:          # a measurement: when the marker is there
        if marker.exists():
            seen.append(time.monotonic() - started)
        time.sleep(0.0005)
    if proc.returncode != 0:
        raise RuntimeError(f"{op.name}: {proc.stderr.read().strip()[-500:]}")
    if not seen:
        raise RuntimeError(f"{op.name}: its change marker never showed")
    return seen[0], seen[-1] - seen[0]


def _kill(proc: subprocess.Popen, marker: Path, timing: tuple[float, float], rng: random.Random) -> bool:
    """kill -9 `proc` at a random instant: one time in five anywhere before its change starts, else
    anywhere in its change (from its marker's appearing to a little past its usual end). False if it
    ended first."""
    appear, lasts = timing
    if rng.random() < 0.2:
        delay = rng.uniform(0, appear)
    else:
        while not marker.exists():      # watching for the change to start; the instant is drawn after
            if proc.poll() is not None:
                return False
            time.sleep(0.0002)
        delay = rng.uniform(0, lasts * 1.2)
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return True


def _probe_failures(lab: Lab, op: Op, rnd: int) -> list[str]:
    failures = []
    for source, destination, protocol, port in op.probes(rnd):
        try:
            r = lab.probe(source, destination, protocol=protocol, port=port, timeout=0.5)
        except Exception as exc:                    # a probe that cannot run is a failure to report
            failures.append(f"probe {source} → {destination}: {type(exc).__name__}: {exc}")
            continue
        failures += [f"probe {source} → {destination} {protocol}/{port}: {d}" for d in r.disagreements]
    return failures


def run(kills_per_op: int = 20, seed: int = 0, lab_name: str = "t-chaosops") -> dict:
    """Kill each op `kills_per_op` times; per op: kills, where each landed (between the change's first
    kernel step and its end, after its commit), how many left the kernel differing from the model,
    retries and repairs, and the disagreements left after them."""
    rng = random.Random(seed)
    started = time.monotonic()
    figures = {op.name: {"kills": 0, "finished_before_kill": 0, "killed_mid_change": 0, "killed_after_commit": 0,
                         "left_kernel_differing": 0, "retries": 0,
                         "repairs": 0, "disagreements_after_retry": 0} for op in OPS}
    failures: list[str] = []
    with Lab.up(TOPOLOGY, name=lab_name) as lab:
        marker = lab.journal.dir / CHANGING_FILE
        # each op timed in round 0: one whole cycle, after which each op's pair (move there and back,
        # authorize and revoke, …) has left the lab as the next round needs it
        timings = {op.name: _timing(op, 0, lab) for op in OPS}
        for rnd in range(1, kills_per_op + 1):
            for op in OPS:
                f = figures[op.name]
                proc = subprocess.Popen(_command(op.argv(rnd), lab_name), stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
                if _kill(proc, marker, timings[op.name], rng):
                    f["kills"] += 1
                else:
                    f["finished_before_kill"] += 1
                lab.refresh()
                committed = op.holds(lab.topology, rnd)
                f["left_kernel_differing"] += bool(lab.differences())
                f["killed_mid_change"] += marker.exists()
                f["killed_after_commit"] += committed
                if committed:
                    out = subprocess.run([*VPCEMU, "repair", lab_name], capture_output=True, text=True,
                                         timeout=TIMEOUT_S)
                    f["repairs"] += 1
                else:
                    out = subprocess.run(_command(op.argv(rnd), lab_name), capture_output=True, text=True,
                                         timeout=TIMEOUT_S)
                    f["retries"] += 1
                problems = [] if out.returncode == 0 else [f"exit {out.returncode}: {out.stderr.strip()[-300:]}"]
                lab.refresh()
                if not op.holds(lab.topology, rnd):
                    problems.append("the model does not hold the change exactly once")
                problems += lab.differences()
                problems += _probe_failures(lab, op, rnd)
                if problems:
                    f["disagreements_after_retry"] += 1
                    failures.append(f"round {rnd} {op.name}: " + "; ".join(problems[:5]))
    return {"ops": figures, "kills": sum(f["kills"] for f in figures.values()),
            "disagreements_after_retry": sum(f["disagreements_after_retry"] for f in figures.values()),
            "failures": failures[:10], "seed": seed, "seconds": round(time.monotonic() - started, 1)}


def holds(figures: dict) -> bool:
    return figures["kills"] > 0 and figures["disagreements_after_retry"] == 0


if __name__ == "__main__":
    print(json.dumps(run(int(os.environ.get("KILLS", 2)), int(os.environ.get("SEED", 0))), indent=2))
