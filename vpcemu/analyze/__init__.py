"""analyze: AWS's expected answer for a flow, computed from the model alone, as Reachability Analyzer would.

    analyze_flow(topology, "app-a", "ext", "tcp", 80) → Analysis(reachable, forward, return_path, explanations)

A probe (`vpcemu.probe`) sends real packets through the kernel; this walks the same flow through the
model with the data path's rules (plan/), so a disagreement between the two is a bug. Pure: no I/O.
For many flows of one topology build one `Analyzer` and call `Analyzer.flow`.
"""
from __future__ import annotations

from ..model import Topology
from .analyzer import EPHEMERAL_PORT, Analyzer
from .result import PATH_KINDS, Analysis, Hop

__all__ = ["Analysis", "Analyzer", "Hop", "PATH_KINDS", "analyze_flow"]


def analyze_flow(topology: Topology, source: str, destination: str, protocol: str = "icmp", port: int | None = None,
                 source_port: int = EPHEMERAL_PORT) -> Analysis:
    """source: an instance, an ENI (name or id) or an internet host; destination: the same, an AWS service
    (its first address) or an IPv4 address; protocol icmp (echo), tcp or udp with a port."""
    return Analyzer(topology).flow(source, destination, protocol, port, source_port)
