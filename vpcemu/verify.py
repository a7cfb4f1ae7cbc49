"""`verify`, `matrix`, `diff`: what AWS's rules say (analyze/) against what real packets do (probe/).

- verify: each `expect:` of the topology as one full probe (hops, drops, agreement): reachable or not,
  `via` components crossed, `not_via` components not crossed, `reason` the code that dropped it.
- matrix: every instance to every instance, internet host and AWS service on the given ports, all
  probes in flight at once (probe/batch.py); each cell's observed reachability next to the expected.
- diff: two matrices (before and after a change or drill): what became reachable, what broke.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from . import history
from .analyze import Analyzer
from .errors import UsageError
from .model import Expectation, Topology
from .probe.batch import SPORT_BASE, Flow, probe_many

if TYPE_CHECKING:
    from .lab import Lab
    from .probe.probe import ProbeResult

DEFAULT_PORTS = ("icmp", "tcp/22", "tcp/443")


# -- verify ---------------------------------------------------------------------------------------
@dataclass
class Verdict:
    index: int
    source: str
    destination: str
    protocol: str
    port: int | None
    expected: dict                    # the expect: entry
    reachable: bool                   # what the packets did
    holds: bool
    failures: list[str] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)    # model vs kernel: a vpcemu bug
    path: list[str] = field(default_factory=list)
    dropped_by: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)         # a path AWS does not support (asymmetric routing)

    def to_dict(self) -> dict:
        return asdict(self)


def verify(lab: "Lab", expectations: tuple[Expectation, ...] | None = None, timeout: float = 1.0) -> list[Verdict]:
    out = []
    for e in lab.refresh().topology.expect if expectations is None else expectations:
        r = lab.probe(e.source, e.destination, protocol=e.protocol, port=e.port, timeout=timeout, record=False)
        failures = []
        if r.reachable != e.reachable:
            failures.append(f"expected {'reachable' if e.reachable else 'not reachable'}, "
                            f"got {'reachable' if r.reachable else 'not reachable'}")
        for name in e.via:
            if not crossed(lab.topology, r, name):
                failures.append(f"did not go via {name}")
        for name in e.not_via:
            if crossed(lab.topology, r, name):
                failures.append(f"went via {name}")
        codes = [x["code"] for x in r.explanations] or \
            [x["code"] for x in (r.expected or {}).get("explanations", []) if not r.reachable]
        if e.reason and e.reason not in codes:
            failures.append(f"dropped by {', '.join(codes) or 'nothing known'}, not {e.reason}")
        path = list(dict.fromkeys(h.component for h in r.hops if h.leg == "forward"))
        out.append(Verdict(e.index, e.source, e.destination, e.protocol, e.port,
                           {"reachable": e.reachable, "via": list(e.via), "not_via": list(e.not_via),
                            "reason": e.reason},
                           r.reachable, not failures and not r.disagreements, failures, r.disagreements, path, codes,
                           r.warnings))
    history.record(lab.journal.dir, "verify", {"verdicts": [v.to_dict() for v in out]})
    return out


def crossed(topology: Topology, result: "ProbeResult", name: str) -> bool:
    """Did the probe's forward packet cross the component a topology name (or AWS id) stands for?"""
    name = topology.name_of(name, "i", "eni", "nat", "igw", "pcx", "vpce")
    seen = {h.component for h in result.hops if h.leg == "forward"}
    enis = {e.name for e in topology.interfaces_of(name)} if name in topology.instances else {name}
    wanted = {f"eni {n}" for n in enis} | {f"{k} {name}" for k in ("nat-gateway", "igw", "peering", "internet host")}
    if any(c in wanted for c in seen):
        return True
    return any(c.startswith("vpc-endpoint ") and name in c.removeprefix("vpc-endpoint ").split(" (")[0].split(", ")
               for c in seen)


# -- matrix ---------------------------------------------------------------------------------------
@dataclass
class Cell:
    source: str
    destination: str
    protocol: str
    port: int | None
    expected: bool
    observed: bool
    answer: str | None
    reason: str | None                # AWS's explanation code when expected not reachable
    decided_by: str = "timeout"       # what ended the wait for the cell's answer: answer | drop | timeout

    @property
    def agrees(self) -> bool:
        return self.expected == self.observed

    def to_dict(self) -> dict:
        return {**asdict(self), "agrees": self.agrees}


@dataclass
class Matrix:
    lab: str
    ports: list[str]
    sources: list[str]
    destinations: list[str]
    cells: list[Cell]
    seconds: float

    @property
    def disagreements(self) -> list[Cell]:
        return [c for c in self.cells if not c.agrees]

    def to_dict(self) -> dict:
        return {"lab": self.lab, "ports": self.ports, "sources": self.sources, "destinations": self.destinations,
                "seconds": self.seconds, "cells": [c.to_dict() for c in self.cells],
                "disagreements": len(self.disagreements)}


def parse_port(text: str) -> tuple[str, int | None]:
    protocol, _, port = text.partition("/")
    if protocol == "icmp" and not port:
        return "icmp", None
    if protocol in ("tcp", "udp") and port.isdigit() and 1 <= int(port) <= 65535:
        return protocol, int(port)
    raise UsageError(f"{text!r} is not a port: icmp, tcp/N or udp/N", hint="--port tcp/443 --port icmp")


def matrix(lab: "Lab", ports: tuple[str, ...] = DEFAULT_PORTS, sources: list[str] | None = None,
           destinations: list[str] | None = None, timeout: float = 1.0) -> Matrix:
    t = lab.refresh().topology
    running = [i for i in t.instances if t.interfaces_of(i)]
    # instances and ENIs given by AWS id are reported by name
    sources = [t.name_of(s, "i", "eni") for s in sources] if sources else running
    destinations = [t.name_of(d, "i", "eni") for d in destinations] if destinations else \
        [*running, *t.internet_hosts, *t.services]
    protocols = [parse_port(p) for p in ports]
    flows = [Flow(s, d, proto, port) for s in sources for d in destinations if s != d for proto, port in protocols]
    started = time.monotonic()
    lab.require_services()
    observed = probe_many(lab, flows, timeout)
    lab.require_services()          # a service that died during the matrix makes its answers suspect
    analyzer = Analyzer(t)
    cells = []
    for i, (f, o) in enumerate(zip(flows, observed, strict=True)):
        e = analyzer.flow(f.source, f.destination, f.protocol, f.port, SPORT_BASE + i)
        cells.append(Cell(f.source, f.destination, f.protocol, f.port, e.reachable, o.reachable, o.answer,
                          e.explanations[0]["code"] if e.explanations else None, o.decided_by))
    found = Matrix(lab.name, list(ports), sources, destinations, cells, round(time.monotonic() - started, 3))
    history.record(lab.journal.dir, "matrix", found.to_dict())
    return found


# -- diff -----------------------------------------------------------------------------------------
def matrix_diff(before: dict, after: dict) -> dict:
    """Cells whose observed reachability changed between two matrices (as `Matrix.to_dict()` gives)."""
    def key(c: dict) -> tuple:
        return c["source"], c["destination"], c["protocol"], c["port"]

    old = {key(c): c for c in before["cells"]}
    new = {key(c): c for c in after["cells"]}
    changed = [(old[k], new[k]) for k in old.keys() & new.keys() if old[k]["observed"] != new[k]["observed"]]

    def row(c: dict) -> dict:
        return {k: c[k] for k in ("source", "destination", "protocol", "port", "answer", "reason")}

    return {"became_reachable": sorted((row(b) for a, b in changed if b["observed"]), key=lambda c: key({**c})),
            "broke": sorted((row(b) for a, b in changed if not b["observed"]), key=lambda c: key({**c})),
            "only_before": sorted(map(str, old.keys() - new.keys())),
            "only_after": sorted(map(str, new.keys() - old.keys())),
            "unchanged": len(old.keys() & new.keys()) - len(changed)}
