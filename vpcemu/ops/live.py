"""Apply a changed Topology to a running lab as the difference of the two plans.

Used by the edge's live operations (Elastic IPs, NAT gateways, routes, VPC endpoints): new namespaces
are created (journalled and marked first, as at build) with their veths and configuration; routes and
permanent neighbours are replaced in place or deleted per namespace in one netlink batch; a changed
IGW, NAT gateway, endpoint or region ruleset is reloaded as one nft transaction (NAT bindings live in
conntrack and survive); the routers' rulesets change as diffs (ops/security.py); namespaces no longer
planned are deleted last (their veths go with them). Nothing that did not change is touched.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..kernel import apply, netns
from ..kernel.interface import delete_link
from ..kernel.nft import nft_run
from ..model import Topology
from ..plan import names, plan_lab
from ..plan.names import ownership_mark
from ..plan.router_nft import TABLE
from ..plan.state import Plan

if TYPE_CHECKING:
    from ..lab import Lab

def apply_topology(lab: "Lab", topology: Topology) -> Topology:
    from .security import apply as apply_rulesets
    lab.changing()
    old, new = plan_lab(lab.topology, lab.name), plan_lab(topology, lab.name)
    added = tuple(ns for ns in new.namespaces if ns not in old.namespaces)
    if added:
        apply.create_namespaces(Plan(lab.name, added), lab.journal,
                                ownership_mark(lab.name, lab.journal.state().get("uuid", "")))
    links = {(v.namespace, v.ifname) for v in old.veths}
    veths = tuple(v for v in new.veths if (v.namespace, v.ifname) not in links)
    apply.apply_links(Plan(lab.name, (), veths=veths))
    # what is new outside the routes: addresses, links up, sysctls, rules, checksum offload
    old_sysctls = {(ns, k) for ns, d in old.sysctls.items() for k in d}
    apply.apply_config(Plan(
        lab.name, new.namespaces,
        addresses=_new(new.addresses, old.addresses), links_up=_new(new.links_up, old.links_up),
        rules=_new(_plain(new.rules), _plain(old.rules)), tx_checksum_off=_new(new.tx_checksum_off, old.tx_checksum_off),
        sysctls={ns: {k: v for k, v in d.items() if (ns, k) not in old_sysctls} for ns, d in new.sysctls.items()}))
    routers = {names.router_ns(lab.name, v) for v in topology.vpcs}
    for ns in new.namespaces:
        routes_old, routes_new = _routes(old, ns), _routes(new, ns)
        neigh_old, neigh_new = _neighbours(old, ns), _neighbours(new, ns)
        apply.change_routes(
            ns,
            replace=[r for k, r in routes_new.items() if routes_old.get(k) != r],
            delete=[r for k, r in routes_old.items() if k not in routes_new],
            neighbours=[n for k, n in neigh_new.items() if neigh_old.get(k) != n],
            forget=[n for k, n in neigh_old.items() if k not in neigh_new],
            drop_rules=[r for r in _new(_plain(old.rules), _plain(new.rules)) if r.namespace == ns])
        if ns not in routers and old.nft.get(ns) != new.nft.get(ns):
            nft_run(ns, new.nft.get(ns, f"delete table ip {TABLE}"))
    survivors = set(new.namespaces)
    kept = {(v.namespace, v.ifname) for v in new.veths}
    for v in old.veths:             # a link between two namespaces that both stay (a gateway endpoint's)
        if (v.namespace, v.ifname) not in kept and {v.namespace, v.peer_namespace} <= survivors:
            delete_link(v.namespace, v.ifname)
    for ns in old.namespaces:
        if ns not in new.namespaces:
            lab.journal.record("netns_deleted", name=ns)
            netns.kill_processes_in_netns(ns)
            netns.delete_netns(ns)
    return apply_rulesets(lab, topology)


def reroute(lab: "Lab", before: Topology, after: Topology, network_interface: str, vpc: str) -> None:
    """The VPC router's routes to one ENI, replaced in place where the change of that ENI changed them (its
    routes turn blackhole when it is detached or deleted, and active again when it is attached). Planned only
    when a route table routes to it, so moving an ENI nothing routes to costs nothing more."""
    if not any(r.network_interface == network_interface or r.target == network_interface
               for rt in before.vpcs[vpc].route_tables.values() for r in rt.routes):
        return
    rtr = names.router_ns(lab.name, vpc)
    old, new = _routes(plan_lab(before, lab.name), rtr), _routes(plan_lab(after, lab.name), rtr)
    apply.change_routes(rtr, replace=[r for k, r in new.items() if old.get(k) != r])


def _new(items: tuple, old: tuple) -> tuple:
    before = set(old)
    return tuple(i for i in items if i not in before)


def _plain(rules: tuple) -> tuple:
    return tuple(replace(r, comment="") for r in rules)


def _routes(plan: Plan, ns: str) -> dict:
    return {(r.table, r.destination): replace(r, comment="") for r in plan.routes if r.namespace == ns}


def _neighbours(plan: Plan, ns: str) -> dict:
    return {(n.ifname, n.address): n for n in plan.neighbours if n.namespace == ns}
