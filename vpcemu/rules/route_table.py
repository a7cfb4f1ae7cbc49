"""Route table: CreateRoute's destination (a CIDR outside AWS's reserved range, one route per destination),
its target (what each name in a VPC may be routed to), routes more specific than the local route
(a whole subnet, to an ENI or a NAT gateway), the number of routes a table holds, a route's state, and
gateway route tables (AssociateRouteTable with GatewayId: what an edge-associated table may hold).

Prefix-list routes are the gateway endpoints' own (rules/endpoint.py). A requester-managed ENI is
not a target: AWS owns it and traffic reaches it through its NAT gateway or by DNS.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from ipaddress import IPv4Network
from typing import Any

from ..codes import ErrorCode
from ..errors import UsageError
from ..model import PrefixList, Route, RouteTable, TargetKind, Topology, Vpc
from . import limits
from .names import unknown_id

RESERVED = IPv4Network(limits.RESERVED_ROUTE_RANGE)
# the kinds of AWS id a route's target may be given as (a vpce- id is refused as a gateway endpoint's name is)
TARGET_KINDS = ("igw", "nat", "i", "eni", "pcx", "vpce")
TARGETS_HINT = ("a target is blackhole, this VPC's internet gateway, a NAT gateway, an instance, an ENI or a peering "
                "connection of this VPC")


# -- destination -----------------------------------------------------------------------------------
def destination(value: Any) -> IPv4Network:
    """A DestinationCidrBlock; like AWS, host bits are dropped (100.68.0.18/18 → 100.68.0.0/18)."""
    if isinstance(value, str) and value.startswith("pl:"):
        raise UsageError(f"{value}: prefix-list routes to a gateway endpoint are added by the endpoint itself",
                         ErrorCode.INVALID_PARAMETER_VALUE, hint="list the route table under the endpoint's route_tables")
    try:
        if not isinstance(value, str) or "/" not in value:
            raise ValueError(value)
        cidr = IPv4Network(value, strict=False)
    except ValueError:
        raise UsageError(f"{value!r} is not an IPv4 CIDR block such as 10.0.0.0/16",
                         ErrorCode.INVALID_PARAMETER_VALUE) from None
    if cidr.subnet_of(RESERVED):
        raise UsageError(f"{cidr} is inside {RESERVED}, which AWS reserves (instance metadata, Amazon DNS, time sync)",
                         ErrorCode.INVALID_PARAMETER_VALUE)
    return cidr


def destination_free(table: str, cidr: IPv4Network, routes: Mapping[IPv4Network, Route]) -> IPv4Network:
    """`routes`: the table's routes by destination, so a table of n routes validates in O(n)."""
    same = routes.get(cidr)
    if same is None:
        return cidr
    if same.target_kind == TargetKind.LOCAL:
        raise UsageError(f"route table {table} already has a route for {cidr}: the local route of the VPC's CIDR block",
                         ErrorCode.ROUTE_ALREADY_EXISTS, hint="replacing the local route's target is not supported yet")
    raise UsageError(f"route table {table} already has a route for {cidr} (to {same.target})",
                     ErrorCode.ROUTE_ALREADY_EXISTS, hint="one route per destination: replace its target instead")


def endpoint_route(table: str, value: Any, routes: Sequence[Route], prefix_lists: Iterable[PrefixList]) -> None:
    """ReplaceRoute and DeleteRoute named by a prefix list's id, or by one of its CIDRs: a gateway endpoint's
    route is the endpoint's, changed only through it (aws-vpc-reference §2); an id the table has no route for
    is not found. A CIDR route of the table for that very CIDR is the one meant."""
    lists = {p.id: p for p in prefix_lists}
    try:
        cidr = IPv4Network(value, strict=False) if isinstance(value, str) and "/" in value else None
    except ValueError:
        cidr = None
    if cidr is not None and any(r.destination == cidr for r in routes):
        return
    for r in routes:
        pl = lists.get(r.destination_prefix_list_id)
        if pl is not None and (value == pl.id or cidr in pl.cidrs):
            raise UsageError(f"the route to {pl.id} ({pl.prefix_list_name}: {', '.join(map(str, pl.cidrs))}) in route "
                             f"table {table} belongs to gateway endpoint {r.target}; it cannot be replaced or deleted",
                             ErrorCode.INVALID_PARAMETER_VALUE,
                             hint=f"remove {table} from the endpoint instead: "
                                  f"`vpcemu endpoint modify {r.target} --remove-route-table {table}`")
    if value in lists:
        raise UsageError(f"route table {table} has no route for {value}", ErrorCode.INVALID_ROUTE_NOT_FOUND)


def present_route(table: str, vpc: str, cidr: IPv4Network, routes: Mapping[IPv4Network, Route]) -> Route:
    """ReplaceRoute and DeleteRoute: a route the user made (the local route stays as it is)."""
    route = routes.get(cidr)
    if route is None:
        raise UsageError(f"route table {table} has no route for {cidr}", ErrorCode.INVALID_ROUTE_NOT_FOUND)
    if route.target_kind == TargetKind.LOCAL:
        raise UsageError(f"{cidr} is the local route of VPC {vpc}; it cannot be changed here",
                         ErrorCode.INVALID_PARAMETER_VALUE)
    return route


def route_count(table: str, count: int) -> None:
    if count > limits.MAX_ROUTES_PER_TABLE:
        raise UsageError(f"route table {table}: at most {limits.MAX_ROUTES_PER_TABLE} routes per table",
                         ErrorCode.ROUTE_LIMIT_EXCEEDED)


# -- target ----------------------------------------------------------------------------------------
def route_target(vpc: Vpc, target: str, peerings: Mapping[str, tuple[str, str] | None],
                 attached: Mapping[str, Sequence[str]] | None = None,
                 elsewhere: Callable[[str], tuple[str, str] | None] = lambda name: None,
                 ) -> tuple[TargetKind, str | None]:
    """A target name of `vpc` → (its kind, the ENI that carries the traffic, if one does).

    `peerings`: peering name → (requester, accepter); `attached`: instance → its ENIs (computed when
    not given); `elsewhere`: (kind, VPC) of a name declared in another VPC, for the message.
    """
    if target == "blackhole":
        return TargetKind.BLACKHOLE, None
    if target == "local":
        raise UsageError("the local route exists already in every route table", ErrorCode.INVALID_PARAMETER_VALUE)
    if target == vpc.internet_gateway:
        return TargetKind.INTERNET_GATEWAY, None
    if target in vpc.nat_gateways:
        return TargetKind.NAT_GATEWAY, vpc.nat_gateways[target].network_interface
    if target in vpc.instances:
        enis = attached[target] if attached is not None else [
            e.name for e in vpc.network_interfaces.values() if e.attachment and e.attachment.instance == target]
        if len(enis) > 1:
            raise UsageError(f"there are multiple interfaces attached to instance {target}; please specify an interface "
                             "(ENI name) instead", ErrorCode.INVALID_INSTANCE_ID, hint=f"use one of: {', '.join(enis)}")
        return TargetKind.NETWORK_INTERFACE, vpc.instances[target].primary_network_interface
    eni = vpc.network_interfaces.get(target)
    if eni is not None:
        if eni.requester_managed:
            owner = "route to the NAT gateway itself" if eni.interface_type == "nat_gateway" else \
                "an interface endpoint is reached by DNS, not by routes"
            raise UsageError(f"{target} is a requester-managed network interface ({eni.interface_type}); AWS owns it and "
                             "it is not a route target", ErrorCode.OPERATION_NOT_PERMITTED, hint=owner)
        return TargetKind.NETWORK_INTERFACE, target
    if target in vpc.endpoints:
        raise UsageError(f"{target} is a VPC endpoint: gateway endpoint routes are added by the endpoint",
                         ErrorCode.INVALID_PARAMETER_VALUE, hint="list the route table under the endpoint's route_tables")
    pair = peerings.get(target)
    if pair and vpc.name in pair:
        return TargetKind.VPC_PEERING, None
    declared = elsewhere(target)
    if not declared and not pair:
        unknown_id(target, TARGET_KINDS)
    if declared:
        where = f" ({target} is {declared[0]} of VPC {declared[1]})"
    elif pair:
        where = f" (peering connection {target} does not connect VPC {vpc.name})"
    else:
        where = ""
    raise UsageError(f"no route target named {target!r} in VPC {vpc.name}{where}", ErrorCode.INVALID_ROUTE_NOT_FOUND,
                     hint=TARGETS_HINT)


def declared_in(topology: Topology, name: str) -> tuple[str, str] | None:
    """(kind, VPC) of a route target `topology` has, in whichever VPC."""
    for v in topology.vpcs.values():
        if v.internet_gateway == name:
            return "the internet gateway", v.name
        for section, kind in ((v.instances, "an instance"), (v.network_interfaces, "a network interface"),
                              (v.nat_gateways, "a NAT gateway")):
            if name in section:
                return kind, v.name
    return None


# -- routes more specific than the local route -------------------------------------------------------
def inside_vpc(vpc: Vpc, cidr: IPv4Network) -> IPv4Network | None:
    """The VPC CIDR block the destination falls in (a route more specific than its local route), if any."""
    return next((c for c in vpc.cidr_blocks if cidr.subnet_of(c)), None)


def local_subset_destination(vpc: Vpc, cidr: IPv4Network) -> IPv4Network:
    block = inside_vpc(vpc, cidr)
    if block is not None and not any(s.cidr_block == cidr for s in vpc.subnets.values()):
        raise UsageError(f"{cidr} is more specific than the local route {block}; such a route must match the entire "
                         "CIDR of one subnet", ErrorCode.INVALID_PARAMETER_VALUE)
    return cidr


def local_subset_target(vpc: Vpc, cidr: IPv4Network, kind: TargetKind, target: str) -> None:
    if inside_vpc(vpc, cidr) is not None and kind not in (TargetKind.NETWORK_INTERFACE, TargetKind.NAT_GATEWAY):
        raise UsageError(f"a route more specific than the local route can target only a network interface, an "
                         f"instance or a NAT gateway, not {target!r}", ErrorCode.INVALID_PARAMETER_VALUE)


def new_route(vpc: Vpc, cidr: IPv4Network, target: str, peerings: Mapping[str, tuple[str, str] | None],
              elsewhere: Callable[[str], tuple[str, str] | None] = lambda name: None) -> Route:
    """The route CreateRoute or ReplaceRoute makes, for a destination destination() has read."""
    kind, eni = route_target(vpc, target, peerings, elsewhere=elsewhere)
    local_subset_destination(vpc, cidr)
    local_subset_target(vpc, cidr, kind, target)
    return Route(cidr, kind, target, network_interface=eni, state="blackhole" if kind == TargetKind.BLACKHOLE else "active")


def route_state(vpc: Vpc, route: Route) -> str:
    """AWS's `State` of a route: `blackhole` when its target is unavailable (aws-vpc-reference §2): the format's
    own `target: blackhole`, a target deleted live (NAT gateway, ENI), or an ENI not attached to an instance (as
    AWS documents for ENI routes of local gateway route tables: detached → blackhole). A requester-managed ENI
    (a NAT gateway's) is AWS's own and never attached to an instance."""
    if route.target_kind == TargetKind.BLACKHOLE or route.state == "blackhole":
        return "blackhole"
    if route.target_kind in (TargetKind.NETWORK_INTERFACE, TargetKind.NAT_GATEWAY):
        eni = vpc.network_interfaces.get(route.network_interface)
        if eni is None or (eni.attachment is None and not eni.requester_managed):
            return "blackhole"
    return "active"


def target_gone(vpc: Vpc, table: RouteTable, network_interface: str) -> RouteTable:
    """`table` with every route to the deleted ENI turned blackhole, keeping its target's name as AWS keeps the id."""
    return replace(table, routes=tuple(replace(r, state="blackhole", network_interface=None)
                                       if r.network_interface == network_interface else r for r in table.routes))


def user_routes(routes: Sequence[Route]) -> int:
    """The routes that count against the table's quota: neither local nor a gateway endpoint's."""
    return sum(1 for r in routes if r.target_kind != TargetKind.LOCAL and not r.is_prefix_list)


# -- gateway route tables (ingress routing, aws-vpc-reference §2) -----------------------------------
# AWS's answer to a route an edge-associated table cannot hold (observed: hashicorp/terraform#26018)
GATEWAY_TARGETS = "Route target is not supported. This route only supports interface and instance targets"


def gateway_route(vpc: Vpc, table: str, route: Route) -> None:
    """A route a gateway route table may hold: `local`, or a whole subnet's CIDR to an ENI or instance of the VPC
    (gateway-route-tables.html: only local, a GWLB endpoint or an ENI; no destination outside the VPC, no
    prefix list, no host address)."""
    if route.target_kind == TargetKind.LOCAL:
        return
    where = f"route table {table}, a gateway route table of {vpc.internet_gateway}"
    if route.is_prefix_list:
        raise UsageError(f"{where}: a prefix list ({route.destination_prefix_list_id}, gateway endpoint "
                         f"{route.target}) cannot be its destination", ErrorCode.INVALID_PARAMETER_VALUE,
                         hint="take the table out of the endpoint's route_tables")
    if route.target_kind != TargetKind.NETWORK_INTERFACE:
        raise UsageError(f"{where}: {GATEWAY_TARGETS} (route {route.destination} → {route.target})",
                         ErrorCode.INVALID_PARAMETER_VALUE, hint="route a subnet's CIDR to the appliance's ENI or "
                                                                 "instance")
    if inside_vpc(vpc, route.destination) is None:
        raise UsageError(f"{where}: {route.destination} is outside the VPC's CIDR blocks; a gateway route table "
                         "routes only the VPC's own subnets", ErrorCode.INVALID_PARAMETER_VALUE,
                         hint="use the entire CIDR of one subnet as the destination")
    local_subset_destination(vpc, route.destination)


def edge_association(vpc: Vpc, table: RouteTable, gateway: str, associated: Mapping[str, str],
                     elsewhere: Callable[[str], tuple[str, str] | None] = lambda name: None) -> None:
    """AssociateRouteTable with GatewayId: `gateway` must be this VPC's internet gateway, associated with no other
    table (`associated`: gateway → its table); the table must not be the main one and must hold only routes a
    gateway route table may hold."""
    if gateway != vpc.internet_gateway:
        declared = elsewhere(gateway)
        if declared and declared[0] == "the internet gateway":
            raise UsageError(f"route table {table.name} and internet gateway {gateway} belong to different networks "
                             f"(VPC {vpc.name}, VPC {declared[1]})", ErrorCode.INVALID_PARAMETER_VALUE)
        raise UsageError(f"no gateway named {gateway!r} in VPC {vpc.name}", ErrorCode.INVALID_GATEWAY_ID_NOT_FOUND,
                         hint=f"its internet gateway is {vpc.internet_gateway}" if vpc.internet_gateway else
                         "the VPC has no internet gateway")
    if table.main:
        raise UsageError(f"route table {table.name} is the VPC's main route table, which cannot be a gateway route "
                         "table", ErrorCode.INVALID_PARAMETER_VALUE, hint="associate a custom route table")
    other = associated.get(gateway)
    if other is not None and other != table.name:
        raise UsageError(f"internet gateway {gateway} is already associated with route table {other}",
                         ErrorCode.RESOURCE_ALREADY_ASSOCIATED, hint=f"disassociate it from {other} first")
    for route in table.routes:
        gateway_route(vpc, table.name, route)


def edge_associated(vpc: Vpc) -> dict[str, str]:
    """gateway → the table edge-associated with it."""
    return {g: rt.name for rt in vpc.route_tables.values() for g in rt.edge_associations}
