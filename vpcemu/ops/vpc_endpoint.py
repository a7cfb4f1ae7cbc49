"""VPC endpoints, live: CreateVpcEndpoint and DeleteVpcEndpoints. Routes (gateway), ENIs and the
endpoint's namespace (interface) and DNS follow: the prefix-list routes appear in the chosen route
tables, the ENIs in their subnets, and the lab's resolvers answer the new names once the call returns
(ops/security.py reloads them when the model's names change)."""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

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
    used = {ip for e in v.network_interfaces.values() for ip in e.private_ip_addresses}
    enis = dict(v.network_interfaces)
    taken = names.global_names(topology)
    for s in subnets or ():
        eni_name = f"{name}.{s}"
        names.unused_name(eni_name, taken)
        ip = eni_rules.free_private_ip(v.subnets[s], used)
        enis[eni_name] = NetworkInterface(eni_name, aws_id("eni", v.name, eni_name), v.name, s, (ip,),
                                          mac_address(v.name, eni_name), groups, requester_managed=True,
                                          interface_type="vpc_endpoint", description=f"VPC Endpoint Interface {vpce_id}")
    ep = VpcEndpoint(name, vpce_id, v.name, "Interface", service, subnets=tuple(subnets or ()), security_groups=groups,
                     private_dns_enabled=private_dns_enabled,
                     network_interfaces=tuple(f"{name}.{s}" for s in subnets or ()))
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
