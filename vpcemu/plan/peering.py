"""VPC peering: a veth between two VPC routers; routes name it; no transitive or edge-to-edge routing.

A packet that arrives over a peering connection must be for this VPC's own CIDRs
(`PCX_REQUIRES_ADDRESS_IN_VPC_CIDR`): it can never leave again by another peering connection, the
IGW, a NAT gateway or a gateway endpoint. Security groups may name the peer's groups (`sg:vpc/group`).
"""
from __future__ import annotations

from ..codes import ExplanationCode
from ..model import Topology, Vpc, VpcPeeringConnection
from ..rules import mtu
from . import names
from .builder import PlanBuilder
from .internet import ROUTER_HOP, edge_link
from .nft import drop
from .state import RouteEntry


def peering_link(topology: Topology, pcx: str) -> str:
    """The interface name of peering connection `pcx` in both routers."""
    return f"pcx{list(topology.peering).index(pcx)}"


def peerings_of(topology: Topology, vpc: str) -> list[VpcPeeringConnection]:
    return [p for p in topology.peering.values() if vpc in (p.requester, p.accepter)]


def peering(builder: PlanBuilder, pcx: VpcPeeringConnection) -> None:
    lab, link = builder.lab, peering_link(builder.topology, pcx.name)
    a, b = names.router_ns(lab, pcx.requester), names.router_ns(lab, pcx.accepter)
    mac_a, mac_b = edge_link(builder, a, link, b, link, f"peering {pcx.name}", mtu.JUMBO)
    builder.neighbour(a, link, ROUTER_HOP, mac_b)
    builder.neighbour(b, link, ROUTER_HOP, mac_a)


def route_to_peer(topology: Topology, rtr: str, table: int, destination: str, pcx: str, comment_text: str) -> RouteEntry:
    return RouteEntry(rtr, table, destination, gateway=ROUTER_HOP, ifname=peering_link(topology, pcx), onlink=True,
                      comment=comment_text)


def peering_chain(topology: Topology, vpc: Vpc) -> list[str]:
    """Router nft: what comes over a peering connection is for this VPC, or it is dropped."""
    links = [(peering_link(topology, p.name), p.name) for p in peerings_of(topology, vpc.name)]
    if not links:
        return []
    cidrs = ", ".join(str(c) for c in vpc.cidr_blocks)
    # prerouting: such a packet has no route here, so the forward hook would never see it
    lines = ["  chain peering {", "    type filter hook prerouting priority filter; policy accept;"]
    for link, name in links:
        refused = drop(ExplanationCode.PCX_REQUIRES_ADDRESS_IN_VPC_CIDR, direction="ingress", peering=name,
                       vpc=vpc.name)
        lines.append(f'    iifname "{link}" ip daddr != {{ {cidrs} }} {refused}')
    return lines + ["  }"]
