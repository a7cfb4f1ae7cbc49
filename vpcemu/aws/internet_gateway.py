"""Internet gateways ⇄ DescribeInternetGateways: one attached to each VPC that has one (vpc.internet_gateway)."""
from __future__ import annotations

from ..model import Topology
from .context import Importer
from .describe import live_state, objects, tag_list

KEY = "InternetGateways"


def to_aws(t: Topology, owner: str) -> list[dict]:
    return [{"InternetGatewayId": v.internet_gateway_id, "OwnerId": owner, "Tags": tag_list(v.internet_gateway),
             "Attachments": [{"State": "available", "VpcId": v.id}]}
            for v in t.vpcs.values() if v.internet_gateway]


def attached_vpc(igw: dict) -> str | None:
    """The VPC an internet gateway is attached to (AWS says `available`; Terraform-made dumps may say `attached`)."""
    return next((a.get("VpcId") for a in objects(igw, "Attachments")
                 if live_state(a.get("State"), "available", "attached")), None)


def live(ctx: Importer) -> None:
    for g in ctx.items(KEY):
        ident = g.get("InternetGatewayId")
        if not isinstance(ident, str):
            ctx.error(KEY, g, None, "an internet gateway without an InternetGatewayId")
            continue
        ctx.known[ident] = KEY
        vpc = attached_vpc(g)
        if vpc is None:
            ctx.dropped("internet gateway", ident, "it is attached to no VPC")
        elif ctx.reference(KEY, g, ident, "Attachments.VpcId", vpc, "Vpcs"):
            g = {**g, "VpcId": vpc}
            if any(x["VpcId"] == vpc for x in ctx.of(KEY).values()):
                ctx.error(KEY, g, ident, f"VPC {vpc} has another internet gateway attached",
                          hint="AWS attaches one internet gateway per VPC")
            ctx.of(KEY)[ident] = g
        else:
            ctx.dropped("internet gateway", ident, f"its VPC {vpc} is not carried over")


def from_aws(ctx: Importer) -> None:
    for ident, g in ctx.of(KEY).items():
        doc = ctx.vpc_doc(g["VpcId"])
        doc["internet_gateway"] = ctx.names[ident]
        doc["internet_gateway_id"] = ident
        ctx.came_from(f"vpcs.{ctx.names[g['VpcId']]}.internet_gateway", KEY, g, ident)
