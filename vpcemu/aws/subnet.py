"""Subnets ⇄ DescribeSubnets. A subnet's route table and network ACL come from those tables' associations
(route_table.py, network_acl.py)."""
from __future__ import annotations

from ..model import Topology
from .context import Importer
from .describe import arn, inner, live_state, objects, tag_list

KEY = "Subnets"


def to_aws(t: Topology, owner: str) -> list[dict]:
    out = []
    for v in t.vpcs.values():
        used: dict[str, int] = {}
        for eni in v.network_interfaces.values():
            used[eni.subnet] = used.get(eni.subnet, 0) + len(eni.private_ip_addresses)
        for s in v.subnets.values():
            out.append({
                "SubnetId": s.id, "VpcId": v.id, "State": "available", "CidrBlock": str(s.cidr_block),
                "AvailabilityZone": s.availability_zone, "OwnerId": owner, "DefaultForAz": False,
                "MapPublicIpOnLaunch": False, "AssignIpv6AddressOnCreation": False, "Ipv6CidrBlockAssociationSet": [],
                # AWS reserves five addresses of every subnet
                "AvailableIpAddressCount": s.cidr_block.num_addresses - 5 - used.get(s.name, 0),
                "SubnetArn": arn(t.region, owner, "subnet", s.id), "Tags": tag_list(s.name)})
    return out


def live(ctx: Importer) -> None:
    for s in ctx.items(KEY):
        ident = s.get("SubnetId")
        if not isinstance(ident, str):
            ctx.error(KEY, s, None, "a subnet without a SubnetId")
            continue
        ctx.known[ident] = KEY
        vpc = s.get("VpcId")
        if not live_state(s.get("State"), "available"):
            ctx.dropped("subnet", ident, f"its state is {s.get('State')}, not available")
        elif ctx.reference(KEY, s, ident, "VpcId", vpc, "Vpcs"):
            ctx.of(KEY)[ident] = s
        elif ctx.holds(vpc):
            ctx.dropped("subnet", ident, f"its VPC {vpc} is not carried over")


def from_aws(ctx: Importer) -> None:
    for ident, s in ctx.of(KEY).items():
        for a in objects(s, "Ipv6CidrBlockAssociationSet"):
            if live_state(inner(a, "Ipv6CidrBlockState", "State"), "associated"):
                ctx.unrepresentable("IPv6 CIDR block", ident, f"{a.get('Ipv6CidrBlock')}: vpcemu emulates IPv4 only")
        ctx.place(s["VpcId"], "subnets", ident, {"id": ident, "cidr": s.get("CidrBlock"), "az": s.get("AvailabilityZone")},
                  KEY, s)
