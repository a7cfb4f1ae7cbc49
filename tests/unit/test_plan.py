"""The planner, without root: what the kernel will be asked to build."""
from __future__ import annotations

from pathlib import Path

import pytest

from vpcemu import load_text, load_topology
from vpcemu.plan import plan_lab
from vpcemu.plan.build import ENI_TABLE, PREF_BLACKHOLE, PREF_ENI_TABLE, route_table_ids

TOPOLOGIES = Path(__file__).parents[2] / "topologies"

SMALL = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    secondary_cidrs: [100.64.0.0/24]
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a, route_table: mb}
      b: {cidr: 10.0.2.0/24, az: us-east-1a}
    route_tables:
      mb:
        routes:
          - {destination: 10.0.2.0/24, target: fw}
          - {destination: 192.168.0.0/16, target: blackhole}
    instances:
      a1: {subnet: a}
      fw: {subnet: b, forwarding: true, source_dest_check: false}
"""


@pytest.fixture
def plan():
    return plan_lab(load_text(SMALL, name="p"))


@pytest.mark.parametrize("path", sorted(TOPOLOGIES.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_topologies_plan(path):
    p = plan_lab(load_topology(path))
    assert p.namespaces and p.veths


def test_namespaces_are_lab_prefixed(plan):
    assert plan.namespaces == ("p-park", "p-vpc-main", "p-i-a1", "p-i-fw")
    assert all(len(v.ifname) <= 15 and len(v.peer_ifname) <= 15 for v in plan.veths)


def test_local_is_a_throw_per_vpc_cidr_and_middlebox_route_is_onlink(plan):
    topo = load_text(SMALL, name="p")
    table = route_table_ids(topo.vpcs["main"])["mb"]
    routes = {(r.destination, r.type) : r for r in plan.routes if r.table == table}
    assert ("10.0.0.0/16", "throw") in routes and ("100.64.0.0/24", "throw") in routes
    assert ("192.168.0.0/16", "blackhole") in routes
    mb = routes[("10.0.2.0/24", "unicast")]
    assert mb.onlink and mb.gateway == "10.0.2.4"


def test_rule_order_same_subnet_then_route_table_then_enis_then_blackhole(plan):
    rules = sorted((r for r in plan.rules if r.namespace == "p-vpc-main"), key=lambda r: r.priority)
    assert [r.table for r in rules[:2]] == [ENI_TABLE, ENI_TABLE]
    assert rules[0].destination == "10.0.1.0/24"
    assert rules[-2].priority == PREF_ENI_TABLE and rules[-1].priority == PREF_BLACKHOLE
    assert rules[-1].action == "blackhole"


def test_every_private_ip_has_a_route_and_a_permanent_neighbour(plan):
    eni_routes = {r.destination for r in plan.routes if r.table == ENI_TABLE}
    assert eni_routes == {"10.0.1.4/32", "10.0.2.4/32"}
    router_neigh = {n.address for n in plan.neighbours if n.namespace == "p-vpc-main"}
    assert router_neigh == {"10.0.1.4", "10.0.2.4"}


def test_forwarding_instance_forwards(plan):
    assert plan.sysctls["p-i-fw"]["net/ipv4/ip_forward"] == "1"
    assert "net/ipv4/ip_forward" not in plan.sysctls.get("p-i-a1", {})


def test_gro_merges_what_each_eni_sends_at_the_router_end_of_its_link_only(plan):
    """The router end of every ENI's veth receives what the ENI sends: GRO there, on no other link."""
    eni_links = [v for v in plan.veths if v.owner.startswith("eni-")]
    assert len(eni_links) == 2
    assert sorted(plan.gro_on) == sorted((v.namespace, v.ifname) for v in eni_links)
    assert {ns for ns, _ in plan.gro_on} == {"p-vpc-main"}
