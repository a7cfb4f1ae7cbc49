"""plan_diff without root: its steps, carried out on a small model of what the kernel does with them (a link
that changes namespace or is deleted takes its addresses, routes and neighbours with it; a namespace that goes
takes everything in it), turn the kernel state of one plan into exactly that of the other, both ways (the
second is what Lab.reset does). Nothing else is read, so a step missed or one too many shows here."""
from __future__ import annotations

from pathlib import Path

import pytest

from vpcemu import load_text, load_topology
from vpcemu.ops import elastic_ip, nat_gateway, route_table, vpc_endpoint
from vpcemu.ops import network_interface as eni
from vpcemu.ops import security
from vpcemu.plan import plan_lab
from vpcemu.plan.diff import plan_diff
from vpcemu.plan.names import router_ns
from vpcemu.plan.nft import TABLE

TOPOLOGY = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    subnets:
      app: {cidr: 10.0.1.0/24, az: us-east-1a}
      mgmt: {cidr: 10.0.2.0/24, az: us-east-1a}
    instances:
      active: {subnet: app, private_ip: 10.0.1.10}
      standby: {subnet: app, private_ip: 10.0.1.11}
    network_interfaces:
      vip: {subnet: mgmt, private_ips: [10.0.2.50, 10.0.2.60], attachment: {instance: active, device_index: 1}}
      spare: {subnet: mgmt, private_ips: [10.0.2.51]}
"""
DEFAULT = Path(__file__).resolve().parents[2] / "topologies" / "default.yaml"


class Kernel:
    """What a lab's namespaces hold, keyed as the kernel keys it."""

    def __init__(self, plan):
        self.links = {}                     # (ns, ifname) → MAC
        for v in plan.veths:
            self.links[(v.namespace, v.ifname)] = v.mac
            self.links[(v.peer_namespace, v.peer_ifname)] = v.peer_mac
        self.namespaces = set(plan.namespaces)
        self.addresses = {(a.namespace, a.ifname, a.address, a.prefixlen) for a in plan.addresses}
        self.up = set(plan.links_up)
        self.gro = set(plan.gro_on)
        self.routes = {(r.namespace, r.table, r.destination): _plain(r) for r in plan.routes}
        self.rules = {_plain(r) for r in plan.rules}
        self.neighbours = {(n.namespace, n.ifname, n.address): n.mac for n in plan.neighbours}
        self.sysctls = {(ns, k): v for ns, d in plan.sysctls.items() for k, v in d.items()}
        self.nft = dict(plan.nft)

    def state(self, routers=()):
        return (self.links, self.namespaces, self.addresses, self.up, self.gro, self.routes, self.rules,
                self.neighbours, self.sysctls, {ns: t for ns, t in self.nft.items() if ns not in routers})

    def _drop_link(self, ns, ifname):
        """What goes with a link leaving `ns`: what is on it there, and its per-link sysctls."""
        del self.links[(ns, ifname)]
        self.up.discard((ns, ifname))
        self.gro.discard((ns, ifname))          # a moved link keeps it in fact: the model asks more of the diff
        self.addresses = {a for a in self.addresses if a[:2] != (ns, ifname)}
        self.routes = {k: r for k, r in self.routes.items() if (r.namespace, r.ifname) != (ns, ifname)}
        self.neighbours = {k: m for k, m in self.neighbours.items() if k[:2] != (ns, ifname)}
        self.sysctls = {k: v for k, v in self.sysctls.items()
                        if not (k[0] == ns and k[1].split("/")[2:4] in (["conf", ifname], ["neigh", ifname]))}

    def _peer(self, ns, ifname, plan):
        mac = self.links[(ns, ifname)]
        pairs = {v.mac: v.peer_mac for v in plan.veths} | {v.peer_mac: v.mac for v in plan.veths}
        return next(k for k, m in self.links.items() if m == pairs[mac])

    def apply(self, diff, old):
        for ns in diff.create:
            assert ns not in self.namespaces
            self.namespaces.add(ns)
        for ns, ifname in diff.unlink:
            peer = self._peer(ns, ifname, old)
            self._drop_link(ns, ifname)
            self._drop_link(*peer)
        for ns, ifname, _, _, mac in diff.moves:            # all out first (under transit names), then in
            assert self.links[(ns, ifname)] == mac
            self._drop_link(ns, ifname)
        for _, _, to, name, mac in diff.moves:
            assert (to, name) not in self.links, f"{to}/{name} is taken"
            self.links[(to, name)] = mac
        for v in diff.veths:
            for key, mac in (((v.namespace, v.ifname), v.mac), ((v.peer_namespace, v.peer_ifname), v.peer_mac)):
                assert key[0] in self.namespaces and key not in self.links
                self.links[key] = mac
        c = diff.config
        if c is not None:
            for a in c.addresses:
                assert (a.namespace, a.ifname) in self.links or a.ifname == "lo"
                self.addresses.add((a.namespace, a.ifname, a.address, a.prefixlen))
            self.up |= set(c.links_up)
            self.gro |= set(c.gro_on)
            for r in c.routes:
                assert r.ifname is None or r.type != "unicast" or (r.namespace, r.ifname) in self.links
                self.routes[(r.namespace, r.table, r.destination)] = _plain(r)
            self.rules |= {_plain(r) for r in c.rules}
            for n in c.neighbours:
                self.neighbours[(n.namespace, n.ifname, n.address)] = n.mac
            self.sysctls.update({(ns, k): v for ns, d in c.sysctls.items() for k, v in d.items()})
        for addresses, routes, rules, neighbours in diff.delete.values():     # each there to delete
            for a in addresses:
                self.addresses.remove((a.namespace, a.ifname, a.address, a.prefixlen))
            for r in routes:
                del self.routes[(r.namespace, r.table, r.destination)]
            for r in rules:
                self.rules.remove(_plain(r))
            for n in neighbours:
                del self.neighbours[(n.namespace, n.ifname, n.address)]
        for ns, text in diff.nft.items():
            if text.startswith(f"delete table ip {TABLE}"):
                self.nft.pop(ns, None)
            else:
                self.nft[ns] = text
        for ns in diff.remove:
            self.namespaces.discard(ns)
            for key in [k for k in self.links if k[0] == ns]:
                self._drop_link(*key)
            self.addresses = {a for a in self.addresses if a[0] != ns}
            self.up = {u for u in self.up if u[0] != ns}
            self.gro = {g for g in self.gro if g[0] != ns}
            self.routes = {k: r for k, r in self.routes.items() if k[0] != ns}
            self.rules = {r for r in self.rules if r.namespace != ns}
            self.sysctls = {k: v for k, v in self.sysctls.items() if k[0] != ns}
            self.nft.pop(ns, None)


def _plain(entry):
    from dataclasses import replace
    return replace(entry, comment="")


def _routers(topology):
    return frozenset(router_ns("u", v) for v in topology.vpcs)


def _both_ways(before, after):
    """The diff each way turns the kernel of one plan into that of the other; the diffs are returned."""
    out = []
    for a, b in ((before, after), (after, before)):
        old, new = plan_lab(a, "u"), plan_lab(b, "u")
        routers = _routers(a)
        diff = plan_diff(old, new, keep_nft=routers)
        kernel = Kernel(old)
        kernel.apply(diff, old)
        assert kernel.state(routers) == Kernel(new).state(routers)
        out.append(diff)
    return out


@pytest.fixture(scope="module")
def topo():
    return load_text(TOPOLOGY, name="u")


@pytest.fixture(scope="module")
def default():
    return load_topology(DEFAULT, name="u")


def test_the_same_plan_needs_nothing(topo):
    plan = plan_lab(topo, "u")
    assert plan_diff(plan, plan).lines() == []


def test_an_eni_moved_moves_its_link_and_applies_its_state_anew(topo):
    forward, back = _both_ways(topo, eni.moved(topo, "vip", "standby"))
    assert [m[2:4] for m in forward.moves] == [("u-i-standby", "eth1")]
    assert [m[2:4] for m in back.moves] == [("u-i-active", "eth1")]
    assert not forward.veths and not forward.unlink
    assert {a.address for a in back.config.addresses} == {"10.0.2.50", "10.0.2.60"}


def test_detached_and_attached_at_another_index(topo):
    detached = eni.detached(topo, "vip")
    _both_ways(topo, detached)
    _both_ways(topo, eni.attached(detached, "vip", "standby", 2))
    _both_ways(topo, eni.attached(topo, "spare", "active", 2))


def test_an_eni_created_and_attached_is_a_new_veth_and_goes_again(topo):
    made = eni.attached(eni.created(topo, "extra", "app", ["10.0.1.200"]), "extra", "standby", 1)
    forward, back = _both_ways(topo, made)
    assert len(forward.veths) == 1 and len(back.unlink) == 1
    assert forward.config.gro_on == ((forward.veths[0].namespace, forward.veths[0].ifname),)     # the router end
    addresses, routes, rules, _ = back.delete["u-i-standby"]
    assert not addresses and not routes and [r.source for r in rules] == ["10.0.1.200/32"]    # the link took its own


def test_one_eni_in_the_place_another_left(topo):
    """spare takes eth1 of active after vip left it: the same routes on a link that is another one now"""
    _both_ways(topo, eni.attached(eni.detached(topo, "vip"), "spare", "active", 1))


def test_private_ips_assigned_and_unassigned(topo):
    _both_ways(topo, eni.unassigned(topo, "vip", ["10.0.2.60"]))
    _both_ways(topo, eni.assigned(topo, "spare", ["10.0.2.60"], allow_reassignment=True))


def test_edge_changes_of_the_default_lab_and_all_at_once(default):
    from ipaddress import IPv4Network

    from vpcemu.model import SecurityGroupRule
    changes = [
        lambda t: nat_gateway.nat_gateway_deleted(t, "nat-b"),
        lambda t: vpc_endpoint.vpc_endpoint_deleted(t, "sqs"),
        lambda t: route_table.route_created(t, "private-a", "172.16.0.0/12", "nat-a"),
        lambda t: elastic_ip.disassociated(t, "198.51.100.10"),
        lambda t: security.authorized(t, "web", [SecurityGroupRule("tcp", 22, 22, cidr=IPv4Network("10.0.0.0/16"))],
                                      egress=False),
        lambda t: eni.attached(eni.created(t, "extra", "private-a", ["10.0.1.200"]), "extra", "app-a", 1),
    ]
    everything = default
    for change in changes:
        _both_ways(default, change(default))
        everything = change(everything)
    forward, back = _both_ways(default, everything)
    assert forward.remove and back.create and back.lines()
