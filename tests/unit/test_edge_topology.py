"""topologies/edge.yaml is a valid topology; until the edge is planned it is refused, never half-built."""
from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path


from vpcemu.load import load_topology
from vpcemu.plan.build import unsupported

EDGE = Path(__file__).resolve().parents[1] / "data" / "edge.yaml"


def test_edge_topology_loads():
    topo = load_topology(EDGE)
    main = topo.vpcs["main"]
    assert main.internet_gateway
    assert set(main.nat_gateways) == {"nat-a", "nat-b"}
    assert topo.internet_hosts["ext"].ip == IPv4Address("198.18.0.50")


def test_edge_parts_are_refused_until_built():
    codes = {p.code for p in unsupported(load_topology(EDGE))}
    assert codes == {"NotYetSupported"}
