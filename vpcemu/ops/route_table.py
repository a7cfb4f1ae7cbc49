"""Route tables, live: CreateRoute, ReplaceRoute, DeleteRoute, and AssociateRouteTable /
DisassociateRouteTable with a GatewayId (an edge association: ingress routing). The router's kernel table
for the route table changes in place (a route replace never leaves a gap), so re-pointing 0.0.0.0/0 from
a deleted NAT gateway to another AZ's restores egress at once; an edge association adds or drops one
policy rule (what the IGW delivers → the gateway route table) and the appliance's conntrack zones."""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..codes import ErrorCode
from ..errors import UsageError
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


@one_change
def associate_route_table(lab: Lab, route_table: str, gateway: str, vpc: str | None = None) -> Topology:
    return apply_topology(lab, gateway_associated(lab.topology, route_table, gateway, vpc))


@one_change
def disassociate_route_table(lab: Lab, route_table: str, gateway: str, vpc: str | None = None) -> Topology:
    return apply_topology(lab, gateway_disassociated(lab.topology, route_table, gateway, vpc))


# -- pure edits ---------------------------------------------------------------------------------
def gateway_associated(topology: Topology, route_table: str, gateway: str, vpc: str | None = None) -> Topology:
    v, rt = _table(topology, route_table, vpc)
    gateway = topology.name_of(gateway, "igw")
    if gateway in rt.edge_associations:
        raise UsageError(f"route table {rt.name} is already associated with {gateway}",
                         ErrorCode.RESOURCE_ALREADY_ASSOCIATED)
    rules.edge_association(v, rt, gateway, rules.edge_associated(v), lambda name: rules.declared_in(topology, name))
    return _with_table(topology, v, replace(rt, edge_associations=(*rt.edge_associations, gateway)))


def gateway_disassociated(topology: Topology, route_table: str, gateway: str, vpc: str | None = None) -> Topology:
    v, rt = _table(topology, route_table, vpc)
    gateway = topology.name_of(gateway, "igw")
    if gateway not in rt.edge_associations:
        raise UsageError(f"route table {rt.name} is not associated with {gateway}",
                         ErrorCode.INVALID_ASSOCIATION_ID_NOT_FOUND,
                         hint=f"edge associations of {rt.name}: {', '.join(rt.edge_associations) or 'none'}")
    return _with_table(topology, v, replace(rt, edge_associations=tuple(g for g in rt.edge_associations
                                                                        if g != gateway)))

def route_created(topology: Topology, route_table: str, destination: str, target: str, vpc: str | None = None) -> Topology:
    v, rt = _table(topology, route_table, vpc)
    dest = rules.destination(destination)
    rules.destination_free(rt.name, dest, _by_destination(rt))
    rules.route_count(rt.name, rules.user_routes(rt.routes) + 1)
    return _with_routes(topology, v, rt, (*rt.routes, _route(topology, v, rt, dest, target)))


def route_replaced(topology: Topology, route_table: str, destination: str, target: str, vpc: str | None = None) -> Topology:
    v, rt = _table(topology, route_table, vpc)
    rules.endpoint_route(rt.name, destination, rt.routes, topology.prefix_lists.values())
    existing = rules.present_route(rt.name, v.name, rules.destination(destination), _by_destination(rt))
    new = _route(topology, v, rt, existing.destination, target)
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


def _route(topology: Topology, v: Vpc, rt: RouteTable, dest, target: str) -> Route:
    """The route to `target`: a name, or the AWS id of a gateway, NAT gateway, instance, ENI or peering connection;
    in a gateway route table, only what such a table may hold."""
    peerings = {p.name: (p.requester, p.accepter) for p in topology.peering.values()}
    target = topology.name_of(target, *rules.TARGET_KINDS)
    route = rules.new_route(v, dest, target, peerings, elsewhere=lambda name: rules.declared_in(topology, name))
    if rt.edge_associations:
        rules.gateway_route(v, rt.name, route)
    return route


def _with_routes(topology: Topology, v: Vpc, rt: RouteTable, routes: tuple[Route, ...]) -> Topology:
    return _with_table(topology, v, replace(rt, routes=routes))


def _with_table(topology: Topology, v: Vpc, rt: RouteTable) -> Topology:
    return with_vpc(topology, replace(v, route_tables={**v.route_tables, rt.name: rt}))
