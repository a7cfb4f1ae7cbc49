"""Route tables, live: CreateRoute, ReplaceRoute, DeleteRoute. The router's kernel table for the route
table changes in place (a route replace never leaves a gap), so re-pointing 0.0.0.0/0 from a deleted
NAT gateway to another AZ's restores egress at once."""
from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Network
from typing import TYPE_CHECKING

from ..errors import UsageError
from ..load.limits import RESERVED_ROUTE_RANGE
from ..model import Route, RouteTable, TargetKind, Topology, Vpc
from .live import apply_topology
from .security import one_vpc, with_vpc

if TYPE_CHECKING:
    from ..lab import Lab


def create_route(lab: Lab, route_table: str, destination: str, target: str, vpc: str | None = None) -> Topology:
    return apply_topology(lab, route_created(lab.topology, route_table, destination, target, vpc))


def replace_route(lab: Lab, route_table: str, destination: str, target: str, vpc: str | None = None) -> Topology:
    return apply_topology(lab, route_replaced(lab.topology, route_table, destination, target, vpc))


def delete_route(lab: Lab, route_table: str, destination: str, vpc: str | None = None) -> Topology:
    return apply_topology(lab, route_deleted(lab.topology, route_table, destination, vpc))


# -- pure edits ---------------------------------------------------------------------------------
def route_created(topology: Topology, route_table: str, destination: str, target: str, vpc: str | None = None) -> Topology:
    v, rt, dest, existing = _find(topology, route_table, destination, vpc)
    if existing is not None:
        raise UsageError(f"route table {rt.name} already has a route for {dest} (to {existing.target})", "RouteAlreadyExists",
                         hint="replace it with `vpcemu route replace`")
    return _with_routes(topology, v, rt, (*rt.routes, _route(topology, v, dest, target)))


def route_replaced(topology: Topology, route_table: str, destination: str, target: str, vpc: str | None = None) -> Topology:
    v, rt, dest, existing = _find(topology, route_table, destination, vpc, must_exist=True)
    new = _route(topology, v, dest, target)
    return _with_routes(topology, v, rt, tuple(new if r is existing else r for r in rt.routes))


def route_deleted(topology: Topology, route_table: str, destination: str, vpc: str | None = None) -> Topology:
    v, rt, dest, existing = _find(topology, route_table, destination, vpc, must_exist=True)
    return _with_routes(topology, v, rt, tuple(r for r in rt.routes if r is not existing))


def _find(topology: Topology, route_table: str, destination: str, vpc: str | None, must_exist: bool = False):
    v = one_vpc(topology, vpc, lambda x: route_table in x.route_tables, f"route table {route_table!r}",
                "InvalidRouteTableID.NotFound")
    rt = v.route_tables[route_table]
    try:
        dest = IPv4Network(destination)
    except ValueError as exc:
        raise UsageError(f"{destination!r} is not an IPv4 CIDR block: {exc}", "InvalidParameterValue") from None
    existing = next((r for r in rt.routes if r.destination == dest), None)
    if must_exist and existing is None:
        raise UsageError(f"route table {rt.name} has no route for {dest}", "InvalidRoute.NotFound")
    if existing is not None and existing.target_kind == TargetKind.LOCAL:
        raise UsageError(f"{dest} is the local route of VPC {v.name}; it cannot be changed here", "InvalidParameterValue")
    return v, rt, dest, existing


def _route(topology: Topology, v: Vpc, dest: IPv4Network, target: str) -> Route:
    if dest.subnet_of(IPv4Network(RESERVED_ROUTE_RANGE)):
        raise UsageError(f"{dest} is inside {RESERVED_ROUTE_RANGE}, which AWS reserves", "InvalidParameterValue")
    kind, net_if = _target(topology, v, target)
    if any(dest.subnet_of(c) for c in v.cidr_blocks):
        if not any(s.cidr_block == dest for s in v.subnets.values()):
            raise UsageError(f"{dest} is more specific than the local route; such a route must match one subnet's CIDR",
                             "InvalidParameterValue")
        if kind not in (TargetKind.NETWORK_INTERFACE, TargetKind.NAT_GATEWAY):
            raise UsageError(f"a route inside the VPC CIDR can target only a network interface, an instance or a NAT "
                             f"gateway, not {target!r}", "InvalidParameterValue")
    return Route(dest, kind, target, network_interface=net_if,
                 state="blackhole" if kind == TargetKind.BLACKHOLE else "active")


def _target(topology: Topology, v: Vpc, target: str) -> tuple[TargetKind, str | None]:
    if target == "blackhole":
        return TargetKind.BLACKHOLE, None
    if target == v.internet_gateway:
        return TargetKind.INTERNET_GATEWAY, None
    if target in v.nat_gateways:
        return TargetKind.NAT_GATEWAY, v.nat_gateways[target].network_interface
    if target in v.instances:
        attached = topology.interfaces_of(target)
        if len(attached) > 1:
            raise UsageError(f"there are multiple interfaces attached to instance {target}; please specify an "
                             "interface (ENI name) instead", "InvalidInstanceID",
                             hint=f"one of: {', '.join(e.name for e in attached)}")
        return TargetKind.NETWORK_INTERFACE, v.instances[target].primary_network_interface
    eni = v.network_interfaces.get(target)
    if eni is not None and not eni.requester_managed:
        return TargetKind.NETWORK_INTERFACE, target
    pcx = topology.peering.get(target)
    if pcx is not None and v.name in (pcx.requester, pcx.accepter):
        return TargetKind.VPC_PEERING, None
    raise UsageError(f"no route target named {target!r} in VPC {v.name}", "InvalidRoute.NotFound",
                     hint="a target is blackhole, this VPC's internet gateway, a NAT gateway, an instance, an ENI or a "
                          "peering connection of this VPC")


def _with_routes(topology: Topology, v: Vpc, rt: RouteTable, routes: tuple[Route, ...]) -> Topology:
    return with_vpc(topology, replace(v, route_tables={**v.route_tables, rt.name: replace(rt, routes=routes)}))
