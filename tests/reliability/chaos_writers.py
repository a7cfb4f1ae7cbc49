"""Many writers, one lab: `writers` `vpcemu` processes started at once per round, each making one
change (security group rules added, ENIs moved, attached and detached), for `rounds` rounds. Every
change that exits 0 must be in the model exactly once and in the kernel (reconcile finds nothing to
fix), and real probes must agree with the analysis of the final model. Used with small numbers by
tests/reliability/test_concurrent_changes.py and with the issue's numbers by scripts/chaos."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from vpcemu.lab import Lab
from vpcemu.verify import matrix

TOPOLOGY = Path(__file__).resolve().parents[1] / "data" / "writers.yaml"
VPCEMU = [str(Path(sys.executable).with_name("vpcemu"))]       # the CLI of the venv running the tests
ENIS = [f"eni-{k}" for k in range(1, 7)]
SG_WRITERS = 4              # the other writers move ENIs, one ENI each
FIRST_PORT = 20000


def _commands(lab: str, rnd: int, writers: int, where: dict[str, str | None]) -> tuple[list[list[str]], list[int]]:
    """This round's commands, and the ports whose rules they add. ENI k goes to the other instance,
    or is attached (to `left` in even rounds) when detached, or detached in odd rounds if it was
    attached by an earlier round: every ENI changes each round, none waits on another."""
    cmds, ports = [], []
    for i in range(max(0, writers - len(ENIS)) or SG_WRITERS):
        port = FIRST_PORT + rnd * writers + i
        ports.append(port)
        cmds.append([*VPCEMU, "sg", "authorize", "target", "-p", "tcp", "--port", str(port),
                     "--peer", "10.0.0.0/16", "--lab", lab])
    for k, eni in enumerate(ENIS[: writers - len(cmds)], start=1):
        now = where[eni]
        if now is None:
            to = "left" if rnd % 2 == 0 else "right"
            cmds.append([*VPCEMU, "eni", "attach", eni, "--instance", to, "--device-index", str(k), "--lab", lab])
            where[eni] = to
        elif k > 4 and rnd % 2 == 1:
            cmds.append([*VPCEMU, "eni", "detach", eni, "--lab", lab])
            where[eni] = None
        else:
            to = "right" if now == "left" else "left"
            cmds.append([*VPCEMU, "eni", "move", eni, "--to", to, "--lab", lab])
            where[eni] = to
    return cmds, ports


def run(writers: int = 10, rounds: int = 5, lab_name: str = "t-writers") -> dict:
    started = time.monotonic()
    failures: list[str] = []
    ports: list[int] = []
    with Lab.up(TOPOLOGY, name=lab_name) as lab:
        where = {n: (e.attachment.instance if e.attachment else None)
                 for n, e in lab.topology.network_interfaces.items() if n in ENIS}
        changes = 0
        for rnd in range(rounds):
            cmds, added = _commands(lab_name, rnd, writers, where)
            ports += added
            procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in cmds]
            for c, p in zip(cmds, procs, strict=True):
                out, err = p.communicate(timeout=120)
                if p.returncode != 0:
                    failures.append(f"round {rnd}: {' '.join(c[1:])}: exit {p.returncode}: {err.strip()[-300:]}")
                changes += 1
        lab.refresh()
        t = lab.topology
        rules = [r for r in t.vpcs["main"].security_groups["target"].ingress if r.from_port in ports]
        in_model = len({r.from_port for r in rules})
        duplicated = len(rules) - in_model
        misplaced = [n for n in ENIS if (t.network_interface(n).attachment.instance
                                         if t.network_interface(n).attachment else None) != where[n]]
        kernel = lab.differences()
        cells = matrix(lab, ports=tuple(f"tcp/{p}" for p in ports) + ("icmp",), sources=["client"],
                       destinations=["server", *ENIS])
        unreachable = [c for c in cells.cells if c.destination == "server" and c.protocol == "tcp" and not c.observed]
    return {"writers": writers, "rounds": rounds, "changes": changes, "exit_nonzero": len(failures),
            "rules_expected": len(ports), "rules_in_model": in_model, "rules_duplicated": duplicated,
            "enis_misplaced_in_model": len(misplaced), "kernel_differences": kernel,
            "probe_cells": len(cells.cells), "probe_disagreements": len(cells.disagreements),
            "rule_ports_unreachable": len(unreachable), "failures": failures[:10],
            "seconds": round(time.monotonic() - started, 2)}


def holds(figures: dict) -> bool:
    return (figures["exit_nonzero"] == 0 and figures["rules_in_model"] == figures["rules_expected"]
            and figures["rules_duplicated"] == 0 and figures["enis_misplaced_in_model"] == 0
            and not figures["kernel_differences"] and figures["probe_disagreements"] == 0
            and figures["rule_ports_unreachable"] == 0)


if __name__ == "__main__":
    print(run(int(os.environ.get("WRITERS", 10)), int(os.environ.get("ROUNDS", 5))))
