"""`subnets:` → Subnets: CIDR, Availability Zone, and the route table and network ACL each is associated with."""
from __future__ import annotations

from ..model import Subnet, aws_id
from ..rules import subnet as rules
from .context import VpcContext

KEYS = ("id", "cidr", "az", "route_table", "network_acl")


def subnets(ctx: VpcContext) -> dict[str, Subnet]:
    r, doc, vpc = ctx.r, ctx.doc, ctx.vpc
    doc.passes(f"{ctx.path}.subnets", rules.subnet_count, len(ctx.raw_subnets))
    tables = [*ctx.raw_route_tables, *([] if ctx.main_rt in ctx.raw_route_tables else [ctx.main_rt])]
    acls = ["default", *(a for a in ctx.raw_acls if a != "default")]
    out: dict[str, Subnet] = {}
    for name, raw in ctx.raw_subnets.items():
        path = f"{ctx.path}.subnets.{name}"
        s = r.mapping(raw, path, KEYS, required=("cidr", "az"))
        cidr = r.cidr(s.get("cidr"), f"{path}.cidr", "InvalidSubnet.Range") if "cidr" in s else None
        az = r.string(s.get("az"), f"{path}.az") if "az" in s else None
        if az:
            doc.passes(f"{path}.az", rules.availability_zone, az, doc.region)
        rt = r.string(s.get("route_table"), f"{path}.route_table", default=ctx.main_rt)
        if rt is not None:
            doc.passes(f"{path}.route_table", rules.route_table_exists, vpc.name, rt, tables)
        acl = r.string(s.get("network_acl"), f"{path}.network_acl", default="default")
        if acl is not None:
            doc.passes(f"{path}.network_acl", rules.network_acl_exists, vpc.name, acl, acls)
        if cidr is None or az is None or rt is None or acl is None:
            continue
        if doc.passes(f"{path}.cidr", rules.cidr_block, vpc, cidr, out.values()):
            out[name] = Subnet(name, doc.resource_id(s.get("id"), "subnet", f"{path}.id", aws_id("subnet", vpc.name, name)),
                               vpc.name, cidr, az, rt, acl)
    return out
