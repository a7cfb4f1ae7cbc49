"""VPC endpoints, live: CreateVpcEndpoint, ModifyVpcEndpoint and DeleteVpcEndpoints. Routes (gateway),
ENIs, their security groups and the endpoint's namespace (interface) and DNS follow: the prefix-list routes appear in the chosen route
tables, the ENIs in their subnets, and the lab's resolvers answer the new names once the call returns
(ops/security.py reloads them when the model's names change)."""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..codes import ErrorCode
from ..errors import UsageError
from ..model import NetworkInterface, Route, TargetKind, Topology, VpcEndpoint, aws_id, mac_address
from ..rules import endpoint as rules
from ..rules import names
from ..rules import network_interface as eni_rules
from .api import one_change
from .live import apply_topology
from .security import in_vpc, one_of, one_vpc, with_vpc

if TYPE_CHECKING:
    from ..lab import Lab


@one_change
def create_vpc_endpoint(lab: Lab, name: str, service: str, vpc_endpoint_type: str = "Interface",
                        route_tables: list[str] | None = None, subnets: list[str] | None = None,
                        security_groups: list[str] | None = None, private_dns_enabled: bool = True,
                        vpc: str | None = None) -> Topology:
    topology = vpc_endpoint_created(lab.topology, name, service, vpc_endpoint_type, route_tables, subnets,
                                    security_groups, private_dns_enabled, vpc)
    return apply_topology(lab, topology)


@one_change
def modify_vpc_endpoint(lab: Lab, name: str, add_subnets: list[str] | None = None,
                        remove_subnets: list[str] | None = None, add_security_groups: list[str] | None = None,
                        remove_security_groups: list[str] | None = None, add_route_tables: list[str] | None = None,
                        remove_route_tables: list[str] | None = None, private_dns_enabled: bool | None = None,
                        vpc: str | None = None) -> Topology:
    return apply_topology(lab, vpc_endpoint_modified(
        lab.topology, name, add_subnets, remove_subnets, add_security_groups, remove_security_groups,
        add_route_tables, remove_route_tables, private_dns_enabled, vpc))


@one_change
def delete_vpc_endpoint(lab: Lab, name: str, vpc: str | None = None) -> Topology:
    return apply_topology(lab, vpc_endpoint_deleted(lab.topology, name, vpc))


# -- pure edits ---------------------------------------------------------------------------------
def vpc_endpoint_created(topology: Topology, name: str, service: str, vpc_endpoint_type: str = "Interface",
                         route_tables: list[str] | None = None, subnets: list[str] | None = None,
                         security_groups: list[str] | None = None, private_dns_enabled: bool = True,
                         vpc: str | None = None) -> Topology:
    kind = vpc_endpoint_type.lower()
    if kind not in rules.ENDPOINT_TYPES:
        raise UsageError(f"{vpc_endpoint_type!r} is not an endpoint type (Gateway, Interface)", "InvalidParameterValue")
    rules.service(service, topology.region, topology.services)
    # each route table or subnet by name or id: (its VPC if given by id, its name)
    given = [_named(topology, x, "rtb" if kind == "gateway" else "subnet")
             for x in (route_tables if kind == "gateway" else subnets) or ()]
    section = "route_tables" if kind == "gateway" else "subnets"
    v = one_vpc(topology, vpc, lambda x: all(n in getattr(x, section) and w in (None, x.name) for w, n in given),
                "VPC with those " + ("route tables" if kind == "gateway" else "subnets"),
                "InvalidRouteTableID.NotFound" if kind == "gateway" else "InvalidSubnetID.NotFound")
    if kind == "gateway":
        route_tables = [n for _, n in given]
    else:
        subnets = [n for _, n in given]
    names.new_name(topology, name)
    vpce_id = aws_id("vpce", v.name, name)
    if kind == "gateway":
        rules.gateway_service(service, topology.region)
        for field, given in (("subnets", subnets), ("security_groups", security_groups)):
            if given:
                rules.gateway_without(field)
        tables: list[str] = []
        for t in route_tables or ():
            tables.append(rules.gateway_route_table(t, service, tables, v.endpoints.values()))
        pl = topology.prefix_lists[service]
        rts = {**v.route_tables}
        for t in tables:
            rts[t] = replace(rts[t], routes=(*rts[t].routes, Route(None, TargetKind.GATEWAY_ENDPOINT, name,
                                                                     destination_prefix_list_id=pl.id)))
        ep = VpcEndpoint(name, vpce_id, v.name, "Gateway", service, route_tables=tuple(tables))
        return with_vpc(topology, replace(v, route_tables=rts, endpoints={**v.endpoints, name: ep}))
    if route_tables:
        rules.interface_without_route_tables()
    rules.interface_subnets(len(subnets or ()))
    zones: dict[str, str] = {}
    for s in subnets or ():
        rules.interface_subnet(v.subnets[s], zones)
        zones[v.subnets[s].availability_zone] = s
    groups = [in_vpc(topology, v, g, "sg") for g in security_groups or ("default",)]
    for g in groups:
        eni_rules.interface_group(v.name, g, v.security_groups)
    groups = eni_rules.interface_groups(groups)
    if private_dns_enabled:
        rules.private_dns(v, service, topology.region, v.endpoints.values())
    enis = _with_enis(topology, v, name, vpce_id, subnets or (), groups)
    ep = VpcEndpoint(name, vpce_id, v.name, "Interface", service, subnets=tuple(subnets or ()), security_groups=groups,
                     private_dns_enabled=private_dns_enabled,
                     network_interfaces=tuple(f"{name}.{s}" for s in subnets or ()))
    return with_vpc(topology, replace(v, network_interfaces=enis, endpoints={**v.endpoints, name: ep}))


def _with_enis(topology: Topology, v, name: str, vpce_id: str, subnets, groups) -> dict[str, NetworkInterface]:
    """The VPC's ENIs with one more requester-managed ENI per subnet for endpoint `name`."""
    used = {ip for e in v.network_interfaces.values() for ip in e.private_ip_addresses}
    enis = dict(v.network_interfaces)
    taken = names.global_names(topology)
    for s in subnets:
        eni_name = f"{name}.{s}"
        names.unused_name(eni_name, taken)
        ip = eni_rules.free_private_ip(v.subnets[s], used)
        used.add(ip)
        enis[eni_name] = NetworkInterface(eni_name, aws_id("eni", v.name, eni_name), v.name, s, (ip,),
                                          mac_address(v.name, eni_name), groups, requester_managed=True,
                                          interface_type="vpc_endpoint", description=f"VPC Endpoint Interface {vpce_id}")
    return enis


def vpc_endpoint_modified(topology: Topology, name: str, add_subnets: list[str] | None = None,
                          remove_subnets: list[str] | None = None, add_security_groups: list[str] | None = None,
                          remove_security_groups: list[str] | None = None, add_route_tables: list[str] | None = None,
                          remove_route_tables: list[str] | None = None, private_dns_enabled: bool | None = None,
                          vpc: str | None = None) -> Topology:
    """ModifyVpcEndpoint: subnets (an ENI each), security groups and private DNS of an interface endpoint,
    route tables of a gateway endpoint; AWS's rules as at creation (rules/endpoint.py)."""
    v, name = one_of(topology, "vpce", name, vpc)
    ep = v.endpoints[name]
    if ep.vpc_endpoint_type == "Gateway":
        for field, given in (("subnets", add_subnets or remove_subnets),
                             ("security groups", add_security_groups or remove_security_groups),
                             ("private DNS", private_dns_enabled is not None)):
            if given:
                rules.gateway_without(field)
        removed = [rules.listed(name, "route table", in_vpc(topology, v, t, "rtb"), ep.route_tables)
                   for t in remove_route_tables or ()]
        tables = [t for t in ep.route_tables if t not in removed]
        for t in add_route_tables or ():
            t = in_vpc(topology, v, t, "rtb")
            if t not in v.route_tables:
                raise UsageError(f"no route table {t!r} in VPC {v.name}", ErrorCode.INVALID_ROUTE_TABLE_ID_NOT_FOUND)
            tables.append(rules.gateway_route_table(t, ep.service, tables,
                                                    [e for e in v.endpoints.values() if e.name != name]))
        pl = topology.prefix_lists[ep.service].id
        rts = {}
        for k, rt in v.route_tables.items():
            routes = tuple(r for r in rt.routes if r.target != name or not r.is_prefix_list)
            if k in tables:
                own = [r for r in rt.routes if r.target == name and r.is_prefix_list]
                routes = rt.routes if own else (*routes, Route(None, TargetKind.GATEWAY_ENDPOINT, name,
                                                                destination_prefix_list_id=pl))
            rts[k] = rt if routes == rt.routes else replace(rt, routes=routes)
        ep = replace(ep, route_tables=tuple(tables))
        return with_vpc(topology, replace(v, route_tables=rts, endpoints={**v.endpoints, name: ep}))
    if add_route_tables or remove_route_tables:
        rules.interface_without_route_tables()
    removed = [rules.listed(name, "subnet", in_vpc(topology, v, s, "subnet"), ep.subnets) for s in remove_subnets or ()]
    subnets = [s for s in ep.subnets if s not in removed]
    zones = {v.subnets[s].availability_zone: s for s in subnets}
    added = []
    for s in add_subnets or ():
        s = in_vpc(topology, v, s, "subnet")
        if s not in v.subnets:
            raise UsageError(f"no subnet {s!r} in VPC {v.name}", ErrorCode.INVALID_SUBNET_ID_NOT_FOUND)
        rules.interface_subnet(v.subnets[s], zones)
        zones[v.subnets[s].availability_zone] = s
        added.append(s)
    rules.interface_subnets(len(subnets) + len(added))
    gone = [rules.listed(name, "security group", in_vpc(topology, v, g, "sg"), ep.security_groups)
            for g in remove_security_groups or ()]
    groups = [g for g in ep.security_groups if g not in gone]
    for g in add_security_groups or ():
        g = eni_rules.interface_group(v.name, in_vpc(topology, v, g, "sg"), v.security_groups)
        if g not in groups:
            groups.append(g)
    rules.interface_groups_left(len(groups))
    groups = eni_rules.interface_groups(groups)
    dns = ep.private_dns_enabled if private_dns_enabled is None else private_dns_enabled
    if dns and not ep.private_dns_enabled:
        rules.private_dns(v, ep.service, topology.region, [e for e in v.endpoints.values() if e.name != name])
    kept = [n for n in ep.network_interfaces if v.network_interfaces[n].subnet in subnets]
    enis = {k: (replace(e, security_groups=groups) if k in kept else e)
            for k, e in v.network_interfaces.items() if k not in ep.network_interfaces or k in kept}
    enis = _with_enis(topology, replace(v, network_interfaces=enis), name, ep.id, added, groups)
    ep = replace(ep, subnets=(*subnets, *added), security_groups=groups, private_dns_enabled=dns,
                 network_interfaces=(*kept, *(f"{name}.{s}" for s in added)))
    return with_vpc(topology, replace(v, network_interfaces=enis, endpoints={**v.endpoints, name: ep}))


def _named(topology: Topology, value: str, kind: str) -> tuple[str | None, str]:
    found = topology.named(value, kind)
    return (None, value) if found is None else (found.vpc, found.name)


def vpc_endpoint_deleted(topology: Topology, name: str, vpc: str | None = None) -> Topology:
    v, name = one_of(topology, "vpce", name, vpc)
    ep = v.endpoints[name]
    rts = {k: replace(rt, routes=tuple(r for r in rt.routes if r.target != ep.name or not r.is_prefix_list))
           for k, rt in v.route_tables.items()}
    return with_vpc(topology, replace(
        v, route_tables=rts, endpoints={k: e for k, e in v.endpoints.items() if k != ep.name},
        network_interfaces={k: e for k, e in v.network_interfaces.items() if k not in ep.network_interfaces}))
