"""VPCs ⇄ DescribeVpcs, and their DNS attributes ⇄ DescribeVpcAttribute (DescribeVpcs does not return them)."""
from __future__ import annotations

from ..model import Topology, aws_id
from .context import Importer
from .describe import inner, live_state, objects, tag_list

KEY = "Vpcs"


def to_aws(t: Topology, owner: str) -> list[dict]:
    return [{
        "VpcId": v.id, "OwnerId": owner, "InstanceTenancy": "default", "IsDefault": False, "State": "available",
        "CidrBlock": str(v.cidr_block), "DhcpOptionsId": aws_id("dopt", v.id),
        "CidrBlockAssociationSet": [{"AssociationId": aws_id("vpc-cidr-assoc", v.id, str(c)), "CidrBlock": str(c),
                                     "CidrBlockState": {"State": "associated"}} for c in v.cidr_blocks],
        "Tags": tag_list(v.name),
    } for v in t.vpcs.values()]


def attributes_to_aws(t: Topology) -> list[dict]:
    """One DescribeVpcAttribute response per VPC and attribute, as `aws ec2 describe-vpc-attribute` prints it."""
    out = []
    for v in t.vpcs.values():
        out.append({"VpcId": v.id, "EnableDnsSupport": {"Value": v.enable_dns_support}})
        out.append({"VpcId": v.id, "EnableDnsHostnames": {"Value": v.enable_dns_hostnames}})
    return out


def live(ctx: Importer) -> None:
    for v in ctx.items(KEY):
        ident = v.get("VpcId")
        if not isinstance(ident, str):
            ctx.error(KEY, v, None, "a VPC without a VpcId")
            continue
        ctx.known[ident] = KEY
        owner = v.get("OwnerId")
        if not live_state(v.get("State"), "available"):
            ctx.dropped("VPC", ident, f"its state is {v.get('State')}, not available")
        elif ctx.account and owner not in (None, ctx.account):
            ctx.dropped("VPC", ident, f"it belongs to account {owner}, not {ctx.account}")
        else:
            ctx.of(KEY)[ident] = v


def from_aws(ctx: Importer) -> None:
    attributes: dict[str, dict[str, bool]] = {}
    for a in ctx.items("VpcAttributes"):
        for field, key in (("EnableDnsSupport", "enable_dns_support"), ("EnableDnsHostnames", "enable_dns_hostnames")):
            value = a.get(field)
            if isinstance(value, dict) and isinstance(value.get("Value"), bool):
                attributes.setdefault(str(a.get("VpcId")), {})[key] = value["Value"]
    for ident, v in ctx.of(KEY).items():
        name = ctx.names[ident]
        cidr = v.get("CidrBlock")
        blocks = [a.get("CidrBlock") for a in objects(v, "CidrBlockAssociationSet")
                  if live_state(inner(a, "CidrBlockState", "State"), "associated")]
        for a in objects(v, "Ipv6CidrBlockAssociationSet"):
            if live_state(inner(a, "Ipv6CidrBlockState", "State"), "associated"):
                ctx.unrepresentable("IPv6 CIDR block", ident, f"{a.get('Ipv6CidrBlock')}: vpcemu emulates IPv4 only")
        doc = {"id": ident, "cidr": cidr}
        secondary = [c for c in blocks if c != cidr]
        if secondary:
            doc["secondary_cidrs"] = secondary
        doc.update(_dns(ctx, ident, v, attributes.get(ident, {})))
        ctx.doc["vpcs"][name] = doc
        ctx.came_from(f"vpcs.{name}", KEY, v, ident)


def _dns(ctx: Importer, ident: str, vpc: dict, given: dict[str, bool]) -> dict[str, bool]:
    """DescribeVpcAttribute's values; what it does not say: AWS's defaults (a default VPC has both on), and on
    where an interface endpoint has private DNS, which AWS allows only with both on."""
    default = vpc.get("IsDefault") is True
    out = {"enable_dns_support": True, "enable_dns_hostnames": default}
    private_dns = next((e.get("VpcEndpointId") for e in ctx.of("VpcEndpoints").values()
                        if e.get("VpcId") == ident and e.get("PrivateDnsEnabled") is True
                        and e.get("VpcEndpointType") == "Interface"), None)
    missing = [k for k in out if k not in given]
    if missing:
        if private_dns:
            out.update({k: True for k in missing})
            why = f"endpoint {private_dns} has private DNS, which AWS allows only with both on"
        else:
            why = "AWS's defaults for a " + ("default VPC" if default else "new VPC")
        ctx.notice("inferred", "VPC", ident, f"DescribeVpcAttribute is not in the dump: "
                   f"{', '.join(f'{k}: {str(out[k]).lower()}' for k in missing)} ({why})")
    out.update(given)
    return out
