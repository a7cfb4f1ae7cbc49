"""`endpoints:` → VpcEndpoints: gateway endpoints with their route tables (the prefix-list routes are
added with the route tables, load/route_table.py), interface endpoints with one requester-managed ENI
per subnet."""
from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

from ..model import NetworkInterface, Subnet, VpcEndpoint, aws_id, mac_address
from ..rules import endpoint as rules
from ..rules import subnet as subnet_rules
from .context import VpcContext
from .network_interface import explicit_ip, group_refs, next_free

KEYS = ("id", "type", "service", "route_tables", "subnets", "security_groups", "private_dns", "network_interfaces")
Requested = dict[tuple[str, str], tuple[IPv4Address | None, Any]]


def requested_interfaces(ctx: VpcContext) -> Requested:
    """(endpoint, subnet) → the private IP and id its `network_interfaces:` gives that subnet's ENI, the IPs claimed
    before any address is chosen automatically (an import keeps AWS's)."""
    r = ctx.r
    out: Requested = {}
    for n, raw in r.named_map(ctx.data.get("endpoints"), f"{ctx.path}.endpoints").items():
        if not isinstance(raw, dict) or raw.get("network_interfaces") is None:
            continue
        path = f"{ctx.path}.endpoints.{n}.network_interfaces"
        listed = raw.get("subnets") if isinstance(raw.get("subnets"), list) else []
        for s, item in r.named_map(raw["network_interfaces"], path).items():
            p = f"{path}.{s}"
            d = r.mapping(item, p, ("id", "private_ip"))
            if s not in listed:
                r.error(p, f"subnet {s} is not one of the endpoint's subnets", hint="list it under `subnets:` too")
                continue
            subnet = ctx.subnet_ref(s, p)
            ip = explicit_ip(ctx, d.get("private_ip"), subnet, f"{p}.private_ip") if subnet is not None else None
            out[n, s] = (ip, d.get("id"))
    return out


def endpoints(ctx: VpcContext, enis: dict[str, NetworkInterface], requested: Requested) -> dict[str, VpcEndpoint]:
    r, doc, vpc = ctx.r, ctx.doc, ctx.vpc
    out: dict[str, VpcEndpoint] = {}
    tables = [*ctx.raw_route_tables, *([] if ctx.main_rt in ctx.raw_route_tables else [ctx.main_rt])]
    for n, raw in r.named_map(ctx.data.get("endpoints"), f"{ctx.path}.endpoints").items():
        path = f"{ctx.path}.endpoints.{n}"
        doc.claim(n, "VPC endpoint", path)
        d = r.mapping(raw, path, KEYS, required=("type", "service"))
        etype = r.choice(d.get("type"), f"{path}.type", rules.ENDPOINT_TYPES)
        service = doc.check(f"{path}.service", rules.known_service, d.get("service"))
        if service is None:
            continue
        doc.passes(f"{path}.service", rules.offered_service, service, doc.region, doc.services)
        if etype == "gateway":
            for key in ("subnets", "security_groups", "private_dns", "network_interfaces"):
                if key in d:
                    doc.passes(f"{path}.{key}", rules.gateway_without, key)
            if not doc.passes(f"{path}.service", rules.gateway_service, service, doc.region):
                continue
            listed: list[str] = []
            for i, t in enumerate(str(t) for t in r.sequence(d.get("route_tables"), f"{path}.route_tables")):
                p = f"{path}.route_tables[{i}]"
                doc.passes(p, subnet_rules.route_table_exists, vpc.name, t, tables)
                doc.passes(p, rules.gateway_route_table, t, service, listed, out.values())
                listed.append(t)
            out[n] = VpcEndpoint(n, doc.resource_id(d.get("id"), "vpce", f"{path}.id", aws_id("vpce", vpc.name, n)),
                                 vpc.name, "Gateway", service, route_tables=tuple(listed))
            continue
        if etype != "interface":
            continue
        if "route_tables" in d:
            doc.passes(f"{path}.route_tables", rules.interface_without_route_tables)
        subnets: list[Subnet] = []
        zones: dict[str, str] = {}
        for i, s in enumerate(r.sequence(d.get("subnets"), f"{path}.subnets")):
            subnet = ctx.subnet_ref(s, f"{path}.subnets[{i}]")
            if subnet is not None and doc.passes(f"{path}.subnets[{i}]", rules.interface_subnet, subnet, zones):
                zones[subnet.availability_zone] = subnet.name
                subnets.append(subnet)
        if "subnets" not in d:
            doc.passes(f"{path}.subnets", rules.interface_subnets, len(subnets))
        groups = group_refs(ctx, d.get("security_groups"), f"{path}.security_groups")
        private_dns = r.boolean(d.get("private_dns"), f"{path}.private_dns", True)
        if private_dns:
            doc.passes(f"{path}.private_dns", rules.private_dns, vpc, service, doc.region, out.values())
        vpce_id = doc.resource_id(d.get("id"), "vpce", f"{path}.id", aws_id("vpce", vpc.name, n))
        eni_names = []
        for subnet in subnets:
            ip, eni_id = requested.get((n, subnet.name), (None, None))
            ip = ip or next_free(ctx, subnet, path)
            if ip is None:
                continue
            eni_name = f"{n}.{subnet.name}"
            doc.claim(eni_name, "requester-managed network interface", path)
            eni_id = doc.resource_id(eni_id, "eni", f"{path}.network_interfaces.{subnet.name}.id",
                                     aws_id("eni", vpc.name, eni_name))
            enis[eni_name] = NetworkInterface(
                eni_name, eni_id, vpc.name, subnet.name, (ip,),
                mac_address(vpc.name, eni_name), groups, requester_managed=True, interface_type="vpc_endpoint",
                description=f"VPC Endpoint Interface {vpce_id}")
            eni_names.append(eni_name)
        out[n] = VpcEndpoint(n, vpce_id, vpc.name, "Interface", service, subnets=tuple(s.name for s in subnets),
                             security_groups=groups, private_dns_enabled=private_dns, network_interfaces=tuple(eni_names))
    return out
