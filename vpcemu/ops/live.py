"""Apply a changed Topology to a running lab as the difference of the two plans.

Used by the edge's live operations (Elastic IPs, NAT gateways, routes): namespaces that are no longer
planned are deleted (their veths go with them), routes and permanent neighbours are replaced in place
or deleted per namespace in one netlink batch, a changed IGW or NAT gateway ruleset is reloaded as one
nft transaction (its NAT bindings live in conntrack and survive), and the routers' rulesets change as
diffs (ops/security.py). Nothing that did not change is touched.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..kernel import apply, netns
from ..kernel.nft import nft_run
from ..model import Topology
from ..plan import names, plan_lab
from ..plan.state import Plan

if TYPE_CHECKING:
    from ..lab import Lab


def apply_topology(lab: "Lab", topology: Topology) -> Topology:
    from .security import apply as apply_rulesets
    old, new = plan_lab(lab.topology, lab.name), plan_lab(topology, lab.name)
    added = [ns for ns in new.namespaces if ns not in old.namespaces]
    if added:
        raise NotImplementedError(f"live creation of namespaces {added}")
    routers = {names.router_ns(lab.name, v) for v in topology.vpcs}
    for ns in new.namespaces:
        routes_old, routes_new = _routes(old, ns), _routes(new, ns)
        neigh_old, neigh_new = _neighbours(old, ns), _neighbours(new, ns)
        apply.change_routes(
            ns,
            replace=[r for k, r in routes_new.items() if routes_old.get(k) != r],
            delete=[r for k, r in routes_old.items() if k not in routes_new],
            neighbours=[n for k, n in neigh_new.items() if neigh_old.get(k) != n],
            forget=[n for k, n in neigh_old.items() if k not in neigh_new])
        if ns not in routers and ns in new.nft and old.nft.get(ns) != new.nft[ns]:
            nft_run(ns, new.nft[ns])
    for ns in old.namespaces:
        if ns not in new.namespaces:
            lab.journal.record("netns_deleted", name=ns)
            netns.kill_processes_in_netns(ns)
            netns.delete_netns(ns)
    return apply_rulesets(lab, topology)


def _routes(plan: Plan, ns: str) -> dict:
    return {(r.table, r.destination): replace(r, comment="") for r in plan.routes if r.namespace == ns}


def _neighbours(plan: Plan, ns: str) -> dict:
    return {(n.ifname, n.address): n for n in plan.neighbours if n.namespace == ns}
