"""VPC endpoints, live: CreateVpcEndpoint and DeleteVpcEndpoints. Routes (gateway), ENIs and the
endpoint's namespace (interface) and DNS follow: the prefix-list routes appear in the chosen route
tables, the ENIs in their subnets, and the lab's resolvers answer the new names once the call returns
(ops/security.py reloads them when the model's names change)."""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..errors import UsageError
from ..model import GATEWAY_SERVICES, NetworkInterface, Route, TargetKind, Topology, VpcEndpoint, aws_id, mac_address
from .live import apply_topology
from .security import one_vpc, with_vpc

if TYPE_CHECKING:
    from ..lab import Lab


def create_vpc_endpoint(lab: Lab, name: str, service: str, vpc_endpoint_type: str = "Interface",
                        route_tables: list[str] | None = None, subnets: list[str] | None = None,
                        security_groups: list[str] | None = None, private_dns_enabled: bool = True,
                        vpc: str | None = None) -> Topology:
    topology = vpc_endpoint_created(lab.topology, name, service, vpc_endpoint_type, route_tables, subnets,
                                    security_groups, private_dns_enabled, vpc)
    return apply_topology(lab, topology)


def delete_vpc_endpoint(lab: Lab, name: str, vpc: str | None = None) -> Topology:
    return apply_topology(lab, vpc_endpoint_deleted(lab.topology, name, vpc))


# -- pure edits ---------------------------------------------------------------------------------
def vpc_endpoint_created(topology: Topology, name: str, service: str, vpc_endpoint_type: str = "Interface",
                         route_tables: list[str] | None = None, subnets: list[str] | None = None,
                         security_groups: list[str] | None = None, private_dns_enabled: bool = True,
                         vpc: str | None = None) -> Topology:
    kind = vpc_endpoint_type.capitalize()
    if kind not in ("Gateway", "Interface"):
        raise UsageError(f"{vpc_endpoint_type!r} is not an endpoint type (Gateway, Interface)", "InvalidParameterValue")
    if name in topology.instances or name in topology.network_interfaces or \
            any(name in v.endpoints or name in v.nat_gateways for v in topology.vpcs.values()):
        raise UsageError(f"the name {name!r} is taken", "InvalidParameterValue")
    if service not in topology.services:
        raise UsageError(f"com.amazonaws.{topology.region}.{service} is not offered by this lab (aws.services: "
                         f"{', '.join(topology.services) or 'none'})", "InvalidServiceName")
    needs = (lambda x: all(t in x.route_tables for t in route_tables or ())) if kind == "Gateway" else \
        (lambda x: all(s in x.subnets for s in subnets or ()))
    v = one_vpc(topology, vpc, needs, "VPC with those " + ("route tables" if kind == "Gateway" else "subnets"),
                "InvalidRouteTableID.NotFound" if kind == "Gateway" else "InvalidSubnetID.NotFound")
    vpce_id = aws_id("vpce", v.name, name)
    if kind == "Gateway":
        if service not in GATEWAY_SERVICES:
            raise UsageError(f"com.amazonaws.{topology.region}.{service} has no gateway endpoint (only s3 and "
                             "dynamodb do)", "InvalidServiceName", hint="create an Interface endpoint")
        if subnets or security_groups:
            raise UsageError("a gateway endpoint has route tables, not subnets or security groups", "InvalidParameter")
        tables = list(dict.fromkeys(route_tables or ()))
        pl = topology.prefix_lists[service]
        for t in tables:
            if any(r.destination_prefix_list_id == pl.id for r in v.route_tables[t].routes):
                raise UsageError(f"route table {t} already has a route to {pl.id} ({service})", "RouteAlreadyExists")
        rts = {**v.route_tables}
        for t in tables:
            rts[t] = replace(rts[t], routes=(*rts[t].routes, Route(None, TargetKind.GATEWAY_ENDPOINT, name,
                                                                     destination_prefix_list_id=pl.id)))
        ep = VpcEndpoint(name, vpce_id, v.name, "Gateway", service, route_tables=tuple(tables))
        return with_vpc(topology, replace(v, route_tables=rts, endpoints={**v.endpoints, name: ep}))
    if route_tables:
        raise UsageError("an interface endpoint is reached through DNS, not route tables", "InvalidParameter")
    if not subnets:
        raise UsageError("an interface endpoint needs at least one subnet", "MissingParameter")
    zones: dict[str, str] = {}
    for s in subnets:
        az = v.subnets[s].availability_zone
        if az in zones:
            raise UsageError(f"Found another VPC endpoint subnet in the availability zone of {s} ({zones[az]}, {az})",
                             "DuplicateSubnetsInSameZone")
        zones[az] = s
    groups = tuple(security_groups or ("default",))
    missing = [g for g in groups if g not in v.security_groups]
    if missing:
        raise UsageError(f"no security group {missing[0]!r} in VPC {v.name}", "InvalidGroup.NotFound")
    if private_dns_enabled:
        if not (v.enable_dns_support and v.enable_dns_hostnames):
            raise UsageError(f"private DNS needs enable_dns_support and enable_dns_hostnames on VPC {v.name}",
                             "InvalidParameter", hint="--no-private-dns, or turn both attributes on")
        clash = next((e for e in v.endpoints.values() if e.service == service and e.private_dns_enabled), None)
        if clash:
            raise UsageError(f"private-dns-enabled cannot be set because there is already a conflicting DNS domain "
                             f"for {service}.{topology.region}.amazonaws.com in the VPC (endpoint {clash.name})",
                             "InvalidParameter")
    used = {ip for e in v.network_interfaces.values() for ip in e.private_ip_addresses}
    enis = dict(v.network_interfaces)
    for s in subnets:
        ip = next((a for a in v.subnets[s].assignable() if a not in used), None)
        if ip is None:
            raise UsageError(f"subnet {s} has no free address", "InsufficientFreeAddressesInSubnet")
        eni_name = f"{name}.{s}"
        enis[eni_name] = NetworkInterface(eni_name, aws_id("eni", v.name, eni_name), v.name, s, (ip,),
                                          mac_address(v.name, eni_name), groups, requester_managed=True,
                                          interface_type="vpc_endpoint", description=f"VPC Endpoint Interface {vpce_id}")
    ep = VpcEndpoint(name, vpce_id, v.name, "Interface", service, subnets=tuple(subnets), security_groups=groups,
                     private_dns_enabled=private_dns_enabled, network_interfaces=tuple(f"{name}.{s}" for s in subnets))
    return with_vpc(topology, replace(v, network_interfaces=enis, endpoints={**v.endpoints, name: ep}))


def vpc_endpoint_deleted(topology: Topology, name: str, vpc: str | None = None) -> Topology:
    v = one_vpc(topology, vpc, lambda x: name in x.endpoints or any(e.id == name for e in x.endpoints.values()),
                f"VPC endpoint {name!r}", "InvalidVpcEndpointId.NotFound")
    ep = v.endpoints.get(name) or next(e for e in v.endpoints.values() if e.id == name)
    rts = {k: replace(rt, routes=tuple(r for r in rt.routes if r.target != ep.name or not r.is_prefix_list))
           for k, rt in v.route_tables.items()}
    return with_vpc(topology, replace(
        v, route_tables=rts, endpoints={k: e for k, e in v.endpoints.items() if k != ep.name},
        network_interfaces={k: e for k, e in v.network_interfaces.items() if k not in ep.network_interfaces}))
