"""Apply a changed Topology to a running lab as the difference of the two plans (plan/diff.py).

Used by the edge's live operations (Elastic IPs, NAT gateways, routes, VPC endpoints) and by Lab.reset:
new namespaces are created (journalled and marked first, as at build) with their veths and configuration;
moved links are moved, links no longer planned deleted; routes and permanent neighbours are replaced in
place, what is no longer planned deleted; a changed IGW, NAT gateway, endpoint or region ruleset is
reloaded as one nft transaction (NAT bindings live in conntrack and survive); the routers' rulesets change
as diffs (ops/security.py); namespaces no longer planned are deleted last. Nothing that did not change is
touched, and nothing is read back from the kernel.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..kernel import apply
from ..model import Topology
from ..plan import names, plan_lab
from ..plan.diff import plan_diff
from ..plan.state import Plan

if TYPE_CHECKING:
    from ..lab import Lab


def apply_topology(lab: "Lab", topology: Topology) -> Topology:
    """Make the kernel hold `topology`'s plan, then make it the lab's model."""
    apply_plans(lab, topology, lab.planned(), lab.planned(topology))
    return lab.commit(topology)


def apply_plans(lab: "Lab", topology: Topology, old: Plan, new: Plan) -> list[str]:
    """Take the kernel from `old`, the plan of the committed model, to `new`, `topology`'s; one line per step
    (the model is left for the caller to commit)."""
    from .security import apply as apply_rulesets
    lab.changing()
    routers = frozenset(names.router_ns(lab.name, v) for v in topology.vpcs)
    diff = plan_diff(old, new, keep_nft=routers)
    apply.apply_diff(diff, lab.journal)
    apply_rulesets(lab, topology, commit=False, planned=new)
    return diff.lines() + [f"{ns}: nft table changed" for ns in sorted(routers) if old.nft.get(ns) != new.nft.get(ns)]


def reroute(lab: "Lab", before: Topology, after: Topology, network_interface: str, vpc: str) -> None:
    """The VPC router's routes to one ENI, replaced in place where the change of that ENI changed them (its
    routes turn blackhole when it is detached or deleted, and active again when it is attached). Planned only
    when a route table routes to it, so moving an ENI nothing routes to costs nothing more."""
    if not any(r.network_interface == network_interface or r.target == network_interface
               for rt in before.vpcs[vpc].route_tables.values() for r in rt.routes):
        return
    rtr = names.router_ns(lab.name, vpc)
    old, new = _routes(plan_lab(before, lab.name), rtr), _routes(plan_lab(after, lab.name), rtr)
    apply.apply_config(Plan(lab.name, (rtr,), routes=tuple(r for k, r in new.items() if old.get(k) != r)))


def _routes(plan: Plan, ns: str) -> dict:
    return {(r.table, r.destination): replace(r, comment="") for r in plan.routes if r.namespace == ns}
