"""analyze: AWS's expected answer for a flow, computed from the model alone, as Reachability Analyzer would.

    analyze_flow(topology, "app-a", "ext", "tcp", 80) → Analysis(reachable, forward, return_path, explanations)

A probe (`vpcemu.probe`) sends real packets through the kernel; this walks the same flow through the
model with the data path's rules (plan/), in the kernel's order, so a disagreement between the two is
a bug. Pure: no I/O. For many flows of one topology build one `Analyzer` and call `Analyzer.flow`.

Choices where AWS leaves room:
- a flow is reachable when the request arrives AND its answer gets back (the return leg);
- an internet host's flow to an instance or ENI *name* goes to its public IP (private addresses are
  not routed on the internet); any address the internet does not route — no host, service address
  or mapped public IP — is NO_POSSIBLE_DESTINATION, as is a detached ENI, a NAT gateway or interface
  endpoint asked for an answer of its own, an instance that does not forward;
- a detached (or requester-managed) ENI as source: BAD_STATE_ATTACHMENT; a routing loop: NO_PATH;
- an answer routed out through a NAT gateway its request did not cross (a private-subnet instance
  with an EIP, asked from the internet) is lost: NGW_SOURCE_ADDRESS_REASSIGN on the return leg;
- explanations carry the fields of the data path's nft drop comments (`code`, `direction`, `eni`,
  `sg`, `acl`, `subnet`, `rule`, `igw`, `nat_gateway`, `peering`, `vpc_endpoint`, `detail` …, all
  text) plus `component` (where it stopped) and `leg` (forward | return);
- the client's source port is 40000 unless given; after a NAT gateway a hop keeps it and says
  `sport_range: "1024-65535"`.
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
