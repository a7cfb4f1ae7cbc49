"""VPC peering connections ⇄ DescribeVpcPeeringConnections. Only `active` ones are live; one to a VPC the
dump does not hold (another account's or region's) cannot be represented, and routes to it drop their
traffic (route_table.py)."""
from __future__ import annotations

from ..model import Topology
from .context import Importer
from .describe import inner, tag_list

KEY = "VpcPeeringConnections"


def to_aws(t: Topology, owner: str) -> list[dict]:
    def info(vpc: str) -> dict:
        v = t.vpcs[vpc]
        return {"CidrBlock": str(v.cidr_block), "CidrBlockSet": [{"CidrBlock": str(c)} for c in v.cidr_blocks],
                "OwnerId": owner, "VpcId": v.id, "Region": t.region}

    return [{"VpcPeeringConnectionId": p.id, "RequesterVpcInfo": info(p.requester), "AccepterVpcInfo": info(p.accepter),
             "Status": {"Code": "active", "Message": "Active"}, "Tags": tag_list(p.name)} for p in t.peering.values()]


def live(ctx: Importer) -> None:
    for p in ctx.items(KEY):
        ident = p.get("VpcPeeringConnectionId")
        if not isinstance(ident, str):
            ctx.error(KEY, p, None, "a peering connection without a VpcPeeringConnectionId")
            continue
        ctx.known[ident] = KEY
        status = inner(p, "Status", "Code")
        ends = [inner(p, side, "VpcId") for side in ("RequesterVpcInfo", "AccepterVpcInfo")]
        outside = [v for v in ends if not ctx.is_live("Vpcs", v)]
        if status not in (None, "active"):
            ctx.dropped("VPC peering connection", ident, f"its status is {status}, not active")
        elif outside:
            ctx.unrepresentable("VPC peering connection", ident, f"VPC {', '.join(map(str, outside))} is not in the "
                                "lab (another account's or region's, or not dumped)")
        else:
            ctx.of(KEY)[ident] = {**p, "RequesterVpcId": ends[0], "AccepterVpcId": ends[1]}


def from_aws(ctx: Importer) -> None:
    for ident, p in ctx.of(KEY).items():
        name = ctx.names[ident]
        ctx.doc.setdefault("peering", {})[name] = {"id": ident, "requester": ctx.names[p["RequesterVpcId"]],
                                                   "accepter": ctx.names[p["AccepterVpcId"]]}
        ctx.came_from(f"peering.{name}", KEY, p, ident)
