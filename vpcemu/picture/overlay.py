"""A flow's path on the diagram (Reachability Analyzer's path view): the nodes its packets were seen
crossing, the nodes AWS's rules say it crosses that no packet was seen at, and the component that dropped
it with its explanation code and rule. Made from a probe result as `ProbeResult.to_dict()` gives it.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..analyze.result import PATH_KINDS
from .diagram import Diagram

# the fields of an explanation that say where it is, not what stopped the packet
_WHERE = ("code", "namespace", "chain", "component", "leg", "packet")


@dataclass(frozen=True)
class Overlay:
    title: str
    reachable: bool
    observed: tuple[str, ...]           # node ids in the order the probe's forward packet crossed them
    expected: tuple[str, ...]           # node ids on the forward path AWS's rules give
    dropped: str | None = None          # the node that stopped it
    explanation: str = ""               # its code and rule: `ENI_SG_RULES_MISMATCH sg=web direction=ingress`

    def edges(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """(observed edges, edges only expected): consecutive nodes of each path."""
        seen = list(zip(self.observed, self.observed[1:], strict=False))
        expected_only = [e for e in zip(self.expected, self.expected[1:], strict=False) if e not in seen]
        return seen, expected_only


def _nodes(diagram: Diagram, components: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for c in components:
        node = diagram.components.get(c)
        if node is not None and (not out or out[-1] != node):
            out.append(node)
    return tuple(out)


def probe_overlay(diagram: Diagram, probe: dict) -> Overlay:
    what = probe["protocol"] + (f"/{probe['port']}" if probe.get("port") else "")
    title = f"{probe['source']} → {probe['destination']} {what}"
    observed = _nodes(diagram, [h["component"] for h in probe.get("hops", []) if h.get("leg") == "forward"])
    expected_analysis = probe.get("expected") or {}
    expected = _nodes(diagram, [h["component"] for h in expected_analysis.get("forward", [])
                                if h.get("kind") in PATH_KINDS])
    dropped, explanation = None, ""
    if not probe.get("reachable"):
        found = probe.get("explanations") or expected_analysis.get("explanations") or []
        if found:
            e = found[0]
            dropped = _where(diagram, e) or (observed[-1] if observed else None)
            rule = " ".join(f"{k}={v}" for k, v in e.items() if k not in _WHERE)
            explanation = f"{e['code']} {rule}".strip()
        elif observed:
            dropped, explanation = observed[-1], "no answer (last component seen)"
    return Overlay(title, bool(probe.get("reachable")), observed, expected, dropped, explanation)


def _where(diagram: Diagram, explanation: dict) -> str | None:
    """The node an explanation names: its component, else the ENI, route table or subnet its rule belongs to."""
    for key, prefix in (("component", ""), ("eni", "eni "), ("route_table", "route-table "), ("subnet", "subnet ")):
        value = explanation.get(key)
        if value and f"{prefix}{value}" in diagram.components:
            return diagram.components[f"{prefix}{value}"]
    return None
