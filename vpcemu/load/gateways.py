"""`internet_gateway:` and `nat_gateways:` → the VPC's internet gateway name and its NAT gateways, each
NAT gateway with its requester-managed ENI and, when public, its Elastic IP."""
from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

from ..model import NatGateway, NetworkInterface, Subnet, aws_id, mac_address
from ..rules import nat_gateway as rules
from .context import Document, VpcContext
from .network_interface import explicit_ip, next_free, public_address

KEYS = ("id", "subnet", "eip", "connectivity", "private_ip", "network_interface_id")
NatRequest = tuple[dict, Subnet | None, IPv4Address | None | bool]


def internet_gateway(doc: Document, value: Any, vpc_path: str) -> str | None:
    if value is None:
        return None
    name = doc.r.string(value, f"{vpc_path}.internet_gateway")
    if name:
        doc.claim(name, "internet gateway", f"{vpc_path}.internet_gateway")
    return name or None


def internet_gateway_id(doc: Document, name: str | None, value: Any, vpc_path: str) -> str | None:
    path = f"{vpc_path}.internet_gateway_id"
    if name is None:
        if value is not None:
            doc.r.error(path, "is given without `internet_gateway`")
        return None
    return doc.resource_id(value, "igw", path, aws_id("igw", vpc_path.split(".", 1)[1], name))


def nat_gateway_requests(ctx: VpcContext) -> dict[str, NatRequest]:
    """Each NAT gateway's fields, subnet and asked-for private IP (False: rejected), claimed before any
    address is chosen automatically."""
    r = ctx.r
    out = {}
    for n, raw in r.named_map(ctx.data.get("nat_gateways"), f"{ctx.path}.nat_gateways").items():
        path = f"{ctx.path}.nat_gateways.{n}"
        ctx.doc.claim(n, "NAT gateway", path)
        d = r.mapping(raw, path, KEYS, required=("subnet",))
        subnet = ctx.subnet_ref(d.get("subnet"), f"{path}.subnet")
        ip = None
        if subnet is not None and d.get("private_ip") is not None:
            ip = explicit_ip(ctx, d.get("private_ip"), subnet, f"{path}.private_ip") or False
        out[n] = (d, subnet, ip)
    return out


def nat_gateways(ctx: VpcContext, requests: dict[str, NatRequest],
                 enis: dict[str, NetworkInterface]) -> dict[str, NatGateway]:
    r, doc, vpc = ctx.r, ctx.doc, ctx.vpc
    out = {}
    per_az: dict[str, int] = {}
    for n, (d, subnet, ip) in requests.items():
        path = f"{ctx.path}.nat_gateways.{n}"
        connectivity = r.choice(d.get("connectivity"), f"{path}.connectivity", rules.CONNECTIVITY_TYPES,
                                default="public")
        eip = None
        if connectivity and doc.passes(f"{path}.eip", rules.elastic_ip, connectivity, d.get("eip") is not None) \
                and d.get("eip") is not None:
            eip = public_address(ctx, d.get("eip"), f"{path}.eip")
        if subnet is None or ip is False:
            continue
        az = subnet.availability_zone
        per_az[az] = per_az.get(az, 0) + 1
        doc.passes(path, rules.per_availability_zone, az, per_az[az])
        ip = ip or next_free(ctx, subnet, path)
        if ip is None:
            continue
        eni_name = f"{n}.eni"
        doc.claim(eni_name, "requester-managed network interface", path)
        nat_id = doc.resource_id(d.get("id"), "nat", f"{path}.id", aws_id("nat", vpc.name, n))
        enis[eni_name] = NetworkInterface(
            eni_name, doc.resource_id(d.get("network_interface_id"), "eni", f"{path}.network_interface_id",
                                      aws_id("eni", vpc.name, eni_name)),
            vpc.name, subnet.name, (ip,), mac_address(vpc.name, eni_name), (), source_dest_check=False,
            eips={ip: eip} if eip else {}, requester_managed=True, interface_type="nat_gateway",
            description=f"Interface for NAT Gateway {nat_id}")
        out[n] = NatGateway(n, nat_id, vpc.name, subnet.name, connectivity, eni_name, eip)
    return out
