"""`vpcs.<name>` → one Vpc: its CIDR blocks, DNS attributes and internet gateway, then its resources in
the order AWS needs them: subnets, security groups, network ACLs, ENIs and instances, NAT gateways,
endpoints, and last the route tables, whose targets are all of those."""
from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Network
from typing import Any

from ..model import Vpc, aws_id
from ..rules import vpc as rules
from . import endpoint, gateways, network_acl, network_interface, route_table, security_group, subnet
from .context import Document, VpcContext

KEYS = ("id", "cidr", "secondary_cidrs", "enable_dns_support", "enable_dns_hostnames", "internet_gateway", "internet_gateway_id", "subnets",
        "route_tables", "nat_gateways", "security_groups", "network_acls", "endpoints", "network_interfaces",
        "instances")


def build_vpc(doc: Document, name: str, raw: Any) -> Vpc | None:
    r = doc.r
    path = f"vpcs.{name}"
    data = r.mapping(raw, path, KEYS, required=("cidr",))
    cidr = r.cidr(data.get("cidr"), f"{path}.cidr", "InvalidVpc.Range")
    if cidr is None:
        return None
    doc.passes(f"{path}.cidr", rules.cidr_block, cidr)
    secondary = _secondary_cidrs(doc, cidr, data.get("secondary_cidrs"), path)
    dns_support = r.boolean(data.get("enable_dns_support"), f"{path}.enable_dns_support", True)
    dns_hostnames = r.boolean(data.get("enable_dns_hostnames"), f"{path}.enable_dns_hostnames", False)
    igw = gateways.internet_gateway(doc, data.get("internet_gateway"), path)
    igw_id = gateways.internet_gateway_id(doc, igw, data.get("internet_gateway_id"), path)
    vpc = Vpc(name=name, id=doc.resource_id(data.get("id"), "vpc", f"{path}.id", aws_id("vpc", name)), cidr_block=cidr,
              secondary_cidr_blocks=secondary, enable_dns_support=dns_support, enable_dns_hostnames=dns_hostnames,
              internet_gateway=igw, internet_gateway_id=igw_id)
    ctx = VpcContext(doc, vpc, data)
    ctx.vpc = replace(ctx.vpc, subnets=subnet.subnets(ctx))
    ctx.vpc = replace(ctx.vpc, security_groups=security_group.security_groups(ctx))
    ctx.vpc = replace(ctx.vpc, network_acls=network_acl.network_acls(ctx))
    nat_requests = gateways.nat_gateway_requests(ctx)
    endpoint_requests = endpoint.requested_interfaces(ctx)
    enis, instances = network_interface.interfaces_and_instances(ctx)
    nat_gateways = gateways.nat_gateways(ctx, nat_requests, enis)
    endpoints = endpoint.endpoints(ctx, enis, endpoint_requests)
    ctx.vpc = replace(ctx.vpc, network_interfaces=enis, instances=instances, nat_gateways=nat_gateways,
                      endpoints=endpoints)
    ctx.vpc = replace(ctx.vpc, route_tables=route_table.route_tables(ctx))
    network_interface.check_instance_limits(ctx)
    return ctx.vpc


def _secondary_cidrs(doc: Document, primary: IPv4Network, raw: Any, path: str) -> tuple[IPv4Network, ...]:
    r = doc.r
    out: list[IPv4Network] = []
    items = r.sequence(raw, f"{path}.secondary_cidrs")
    doc.passes(f"{path}.secondary_cidrs", rules.cidr_block_count, len(items) + 1)
    for i, v in enumerate(items):
        p = f"{path}.secondary_cidrs[{i}]"
        c = r.cidr(v, p, "InvalidVpc.Range")
        if c is not None and doc.passes(p, rules.secondary_cidr_block, primary, out, c):
            out.append(c)
    return tuple(out)
