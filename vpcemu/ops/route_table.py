"""Route tables, live: CreateRoute, ReplaceRoute, DeleteRoute. The router's kernel table for the route
table changes in place (a route replace never leaves a gap), so re-pointing 0.0.0.0/0 from a deleted
NAT gateway to another AZ's restores egress at once."""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..model import Route, RouteTable, Topology, Vpc
from ..rules import route_table as rules
from .api import one_change
from .live import apply_topology
from .security import one_of, with_vpc

if TYPE_CHECKING:
    from ..lab import Lab


@one_change
def create_route(lab: Lab, route_table: str, destination: str, target: str, vpc: str | None = None) -> Topology:
    return apply_topology(lab, route_created(lab.topology, route_table, destination, target, vpc))


@one_change
def replace_route(lab: Lab, route_table: str, destination: str, target: str, vpc: str | None = None) -> Topology:
    return apply_topology(lab, route_replaced(lab.topology, route_table, destination, target, vpc))


@one_change
def delete_route(lab: Lab, route_table: str, destination: str, vpc: str | None = None) -> Topology:
    return apply_topology(lab, route_deleted(lab.topology, route_table, destination, vpc))


# -- pure edits ---------------------------------------------------------------------------------
def route_created(topology: Topology, route_table: str, destination: str, target: str, vpc: str | None = None) -> Topology:
    v, rt = _table(topology, route_table, vpc)
    dest = rules.destination(destination)
    rules.destination_free(rt.name, dest, _by_destination(rt))
    rules.route_count(rt.name, rules.user_routes(rt.routes) + 1)
    return _with_routes(topology, v, rt, (*rt.routes, _route(topology, v, dest, target)))


def route_replaced(topology: Topology, route_table: str, destination: str, target: str, vpc: str | None = None) -> Topology:
    v, rt = _table(topology, route_table, vpc)
    rules.endpoint_route(rt.name, destination, rt.routes, topology.prefix_lists.values())
    existing = rules.present_route(rt.name, v.name, rules.destination(destination), _by_destination(rt))
    new = _route(topology, v, existing.destination, target)
    return _with_routes(topology, v, rt, tuple(new if r is existing else r for r in rt.routes))


def route_deleted(topology: Topology, route_table: str, destination: str, vpc: str | None = None) -> Topology:
    v, rt = _table(topology, route_table, vpc)
    rules.endpoint_route(rt.name, destination, rt.routes, topology.prefix_lists.values())
    existing = rules.present_route(rt.name, v.name, rules.destination(destination), _by_destination(rt))
    return _with_routes(topology, v, rt, tuple(r for r in rt.routes if r is not existing))


def _table(topology: Topology, route_table: str, vpc: str | None) -> tuple[Vpc, RouteTable]:
    v, name = one_of(topology, "rtb", route_table, vpc)
    return v, v.route_tables[name]


def _by_destination(rt: RouteTable) -> dict:
    return {r.destination: r for r in rt.routes if r.destination is not None}


def _route(topology: Topology, v: Vpc, dest, target: str) -> Route:
    """The route to `target`: a name, or the AWS id of a gateway, NAT gateway, instance, ENI or peering connection."""
    peerings = {p.name: (p.requester, p.accepter) for p in topology.peering.values()}
    target = topology.name_of(target, *rules.TARGET_KINDS)
    return rules.new_route(v, dest, target, peerings, elsewhere=lambda name: rules.declared_in(topology, name))


def _with_routes(topology: Topology, v: Vpc, rt: RouteTable, routes: tuple[Route, ...]) -> Topology:
    return with_vpc(topology, replace(v, route_tables={**v.route_tables, rt.name: replace(rt, routes=routes)}))
