"""`route_tables:` → RouteTables: the local routes, the file's routes (rules/route_table.py) and the
gateway endpoints' prefix-list routes. Built last, since a route may target anything in the VPC.

Duplicate destinations are found through a dict, so a table of n routes validates in O(n)."""
from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Network
from typing import Any

from ..codes import ErrorCode
from ..errors import UsageError
from ..model import Route, RouteTable, TargetKind, aws_id
from ..rules import route_table as rules
from ..rules.names import valid_name
from .context import VpcContext


def route_tables(ctx: VpcContext) -> dict[str, RouteTable]:
    r, doc, vpc = ctx.r, ctx.doc, ctx.vpc
    local = tuple(Route(c, TargetKind.LOCAL, "local", origin="CreateRouteTable") for c in vpc.cidr_blocks)
    raws = dict(ctx.raw_route_tables)
    if ctx.main_rt not in raws:
        raws[ctx.main_rt] = {"main": True}
    attached: dict[str, list[str]] = {n: [] for n in vpc.instances}
    for eni in vpc.network_interfaces.values():
        if eni.attachment and eni.attachment.instance in attached:
            attached[eni.attachment.instance].append(eni.name)
    out = {}
    associated: dict[str, str] = {}
    for name, raw in raws.items():
        path = f"{ctx.path}.route_tables.{name}"
        t = r.mapping(raw, path, ("id", "main", "routes", "edge_associations"))
        r.boolean(t.get("main"), f"{path}.main", False)
        routes: dict[IPv4Network, Route] = {route.destination: route for route in local}
        table = list(local)
        items = r.sequence(t.get("routes"), f"{path}.routes")
        doc.passes(f"{path}.routes", rules.route_count, name, sum(not _placing(item) for item in items))
        gateways = {ep.name: Route(None, TargetKind.GATEWAY_ENDPOINT, ep.name, origin="CreateRoute",
                                   destination_prefix_list_id=doc.prefix_lists[ep.service].id)
                    for ep in vpc.endpoints.values() if ep.vpc_endpoint_type == "Gateway" and name in ep.route_tables}
        for i, item in enumerate(items):
            p = f"{path}.routes[{i}]"
            route = _endpoint_route(ctx, item, p, gateways) if _placing(item) else \
                _route(ctx, name, item, p, routes, attached)
            if route is not None:
                table.append(route)
                if route.destination is not None:
                    routes[route.destination] = route
        # a gateway endpoint's route not placed among the others comes last, as the endpoint adds it
        table += gateways.values()
        rtb_id = doc.resource_id(t.get("id"), "rtb", f"{path}.id", aws_id("rtb", vpc.name, name))
        rt = RouteTable(name, rtb_id, vpc.name, name == ctx.main_rt, tuple(table))
        out[name] = replace(rt, edge_associations=_edges(ctx, rt, t.get("edge_associations"), path, associated))
    return out


def _edges(ctx: VpcContext, rt: RouteTable, raw: Any, path: str, associated: dict[str, str]) -> tuple[str, ...]:
    """`edge_associations: [igw]`: the gateways whose inbound traffic the table routes (AssociateRouteTable with
    GatewayId), each checked as the call is (rules/route_table.py)."""
    out = []
    for i, gateway in enumerate(ctx.r.sequence(raw, f"{path}.edge_associations")):
        p = f"{path}.edge_associations[{i}]"
        if not isinstance(gateway, str):
            ctx.r.error(p, f"{gateway!r} is not a gateway name")
            continue
        if ctx.doc.passes(p, rules.edge_association, ctx.vpc, rt, gateway, associated, ctx.doc.declared_in):
            associated[gateway] = rt.name
            out.append(gateway)
    return tuple(out)


def _placing(item: Any) -> bool:
    """`{endpoint: NAME}`: where gateway endpoint NAME's own prefix-list route sits among the others (a lab writes
    it when routes were created after the endpoint; the endpoint adds its route either way)."""
    return isinstance(item, dict) and "endpoint" in item


def _endpoint_route(ctx: VpcContext, item: dict, path: str, gateways: dict[str, Route]) -> Route | None:
    d = ctx.r.mapping(item, path, ("endpoint",), required=("endpoint",))
    name = d.get("endpoint")
    if not isinstance(name, str) or name not in gateways:
        ctx.r.error(f"{path}.endpoint", f"{name!r} is not a gateway endpoint whose route this table has (once)",
                    ErrorCode.INVALID_PARAMETER_VALUE, hint="list the route table under the endpoint's route_tables")
        return None
    return gateways.pop(name)


def _route(ctx: VpcContext, table: str, item: Any, path: str, routes: dict[IPv4Network, Route],
           attached: dict[str, list[str]]) -> Route | None:
    r, doc, vpc = ctx.r, ctx.doc, ctx.vpc
    d = r.mapping(item, path, ("destination", "target", "state"), required=("destination", "target"))
    if "destination" not in d or "target" not in d:
        return None
    dest = doc.check(f"{path}.destination", rules.destination, d["destination"])
    if dest is None or not doc.passes(f"{path}.destination", rules.destination_free, table, dest, routes):
        return None
    target = d["target"]
    if not isinstance(target, str):
        r.error(f"{path}.target", f"{target!r} is not a target name")
        return None
    if r.choice(d.get("state"), f"{path}.state", ("blackhole",), default=None) and target != "blackhole":
        return _gone(ctx, d, path, dest)
    try:
        kind, eni = rules.route_target(vpc, target, doc.peer_names, attached, doc.declared_in)
    except UsageError as refused:
        if not _reported_already(ctx, target, refused):
            r.error(f"{path}.target", refused.message, refused.code, refused.hint)
        return None
    if not doc.passes(f"{path}.destination", rules.local_subset_destination, vpc, dest) \
            or not doc.passes(f"{path}.target", rules.local_subset_target, vpc, dest, kind, target):
        return None
    return Route(dest, kind, target, network_interface=eni, state="blackhole" if kind == TargetKind.BLACKHOLE else "active")


def _gone(ctx: VpcContext, d: dict, path: str, dest: IPv4Network) -> Route | None:
    """`state: blackhole` with a target: a route whose NAT gateway or ENI was deleted while the lab ran. AWS keeps
    such a route, with its target's id, as a blackhole until it is replaced or deleted (aws-vpc-reference §2, §7).
    The file keeps only the name, so the route reads back as a NAT gateway's."""
    target, doc = d["target"], ctx.doc
    if not doc.passes(f"{path}.target", valid_name, target):
        return None
    if doc.declared_in(target) or target in doc.peer_names or target in ctx.vpc.endpoints or target == "local":
        ctx.r.error(f"{path}.state", f"`state: blackhole` marks a route whose NAT gateway or ENI was deleted; {target!r} "
                                     "exists", ErrorCode.INVALID_PARAMETER_VALUE,
                    hint="route to it without `state:`, or drop the traffic with `target: blackhole`")
        return None
    if not doc.passes(f"{path}.destination", rules.local_subset_destination, ctx.vpc, dest):
        return None
    return Route(dest, TargetKind.NAT_GATEWAY, target, state="blackhole")


def _reported_already(ctx: VpcContext, target: str, refused: UsageError) -> bool:
    """A target this VPC declares but rejected, or a malformed peering: its own problem is reported already."""
    if refused.code != ErrorCode.INVALID_ROUTE_NOT_FOUND:
        return False
    declared = ctx.doc.declared_in(target)
    return bool(declared and declared[1] == ctx.vpc.name) or (
        target in ctx.doc.peer_names and ctx.doc.peer_names[target] is None)
