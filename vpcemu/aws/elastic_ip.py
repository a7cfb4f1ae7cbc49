"""Elastic IPs ⇄ DescribeAddresses, and the public IPv4 AWS assigns an instance's primary IP.

An Elastic IP is the account's (in DescribeAddresses, with an AllocationId); an address whose IpOwnerId is
`amazon` is an auto-assigned public IPv4. Both keep their real address in the lab (its internet is a closed
set of namespaces). A NAT gateway's Elastic IP is the NAT gateway's (nat_gateway.py).
"""
from __future__ import annotations

from ..model import Topology
from .context import Importer
from .describe import inner, objects
from .network_interface import association_id

KEY = "Addresses"


def to_aws(t: Topology, owner: str) -> list[dict]:
    out = []
    for v in t.vpcs.values():
        for e in v.network_interfaces.values():
            for private, public in e.eips.items():
                item = {"PublicIp": str(public), "AllocationId": t.allocation_id(public),
                        "AssociationId": association_id(public, e.id), "Domain": "vpc", "NetworkInterfaceId": e.id,
                        "NetworkInterfaceOwnerId": owner, "PrivateIpAddress": str(private), "PublicIpv4Pool": "amazon",
                        "NetworkBorderGroup": t.region, "Tags": []}
                if e.attachment is not None:
                    item["InstanceId"] = v.instances[e.attachment.instance].id
                out.append(item)
    return out


def live(ctx: Importer) -> None:
    """ENI → private IP → Elastic IP, from DescribeAddresses and from each ENI's own associations."""
    elastic = set()
    for a in ctx.items(KEY):
        public, eni, private = a.get("PublicIp"), a.get("NetworkInterfaceId"), a.get("PrivateIpAddress")
        if not isinstance(public, str):
            ctx.error(KEY, a, a.get("AllocationId"), "an Elastic IP without a PublicIp")
            continue
        ctx.known[public] = KEY
        elastic.add(public)
        if not eni:
            ctx.dropped("Elastic IP", public, "it is associated with nothing")
        elif not isinstance(eni, str):
            ctx.error(KEY, a, public, "NetworkInterfaceId must be an ENI id")
        elif ctx.eni_role.get(eni) in ("primary", "standalone") and isinstance(private, str):
            ctx.eips.setdefault(eni, {})[private] = public
            keep_allocation_id(ctx, public, a.get("AllocationId"))
        elif ctx.eni_role.get(eni) != "nat":
            ctx.dropped("Elastic IP", public, f"its network interface {eni} is not carried over")
    for ident, e in ctx.of("NetworkInterfaces").items():
        if ctx.eni_role.get(ident) not in ("primary", "standalone"):
            continue
        for p in objects(e, "PrivateIpAddresses"):
            assoc = inner(p, "Association") if isinstance(inner(p, "Association"), dict) else {}
            public, private = assoc.get("PublicIp"), p.get("PrivateIpAddress")
            if not isinstance(public, str) or not isinstance(private, str):
                continue
            if public in elastic or assoc.get("AllocationId") or assoc.get("IpOwnerId") not in (None, "amazon"):
                ctx.eips.setdefault(ident, {}).setdefault(private, public)
                keep_allocation_id(ctx, public, assoc.get("AllocationId"))
            elif p.get("Primary") is True:
                ctx.public_ips[ident] = public


def keep_allocation_id(ctx: Importer, public: str, allocation_id: object) -> None:
    """An Elastic IP carried over keeps AWS's AllocationId (aws.elastic_ips), so an export gives it back."""
    if isinstance(allocation_id, str) and allocation_id:
        ctx.allocation_ids.setdefault(public, allocation_id)
