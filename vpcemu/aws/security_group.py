"""Security groups ⇄ DescribeSecurityGroups: IpPermissions (ingress) and IpPermissionsEgress.

AWS groups a permission's peers under one (IpProtocol, FromPort, ToPort); the model keeps one peer per rule.
Export groups them as AWS does; import splits them. A peer import cannot represent (an IPv6 range, a group of
another account or of a VPC the lab does not peer, a prefix list whose entries are not in the dump) is
listed and its rule left out: security groups only allow, so the lab is never more open than AWS.
"""
from __future__ import annotations

from ..model import SecurityGroupRule, Topology, Vpc
from .context import Importer
from .describe import arn, objects

KEY = "SecurityGroups"


# -- export ----------------------------------------------------------------------------------------
def to_aws(t: Topology, owner: str) -> list[dict]:
    out = []
    for v in t.vpcs.values():
        for g in v.security_groups.values():
            out.append({"GroupId": g.id, "GroupName": g.name, "Description": g.description, "VpcId": v.id,
                        "OwnerId": owner, "SecurityGroupArn": arn(t.region, owner, "security-group", g.id),
                        "IpPermissions": permissions(t, v, g.ingress, owner),
                        "IpPermissionsEgress": permissions(t, v, g.egress, owner), "Tags": []})
    return out


def permissions(t: Topology, v: Vpc, rules: tuple[SecurityGroupRule, ...], owner: str) -> list[dict]:
    grouped: dict[tuple, dict] = {}
    for rule in rules:
        key = (rule.protocol, rule.from_port, rule.to_port)
        p = grouped.get(key)
        if p is None:
            p = grouped[key] = {"IpProtocol": rule.protocol, **_ports(rule), "IpRanges": [], "Ipv6Ranges": [],
                                "PrefixListIds": [], "UserIdGroupPairs": []}
        described = {"Description": rule.description} if rule.description else {}
        if rule.cidr is not None:
            p["IpRanges"].append({"CidrIp": str(rule.cidr), **described})
        elif rule.prefix_list is not None:
            p["PrefixListIds"].append({"PrefixListId": t.prefix_lists[rule.prefix_list].id, **described})
        else:
            p["UserIdGroupPairs"].append({**_group_pair(t, v, rule.group, owner), **described})
    return list(grouped.values())


def _ports(rule: SecurityGroupRule) -> dict:
    if rule.protocol in ("tcp", "udp"):
        return {"FromPort": rule.from_port, "ToPort": rule.to_port}
    if rule.protocol == "icmp":       # -1: every type (and every code)
        return {"FromPort": -1 if rule.from_port is None else rule.from_port,
                "ToPort": -1 if rule.to_port is None else rule.to_port}
    return {}


def _group_pair(t: Topology, v: Vpc, reference: str, owner: str) -> dict:
    """`name` of this VPC, or `vpc/name` of a peered one (AWS adds the VPC and the peering connection)."""
    if "/" not in reference:
        return {"GroupId": v.security_groups[reference].id, "UserId": owner}
    vpc_name, name = reference.split("/", 1)
    other = t.vpcs[vpc_name]
    pcx = next(p for p in t.peering.values() if {p.requester, p.accepter} == {v.name, vpc_name})
    return {"GroupId": other.security_groups[name].id, "UserId": owner, "VpcId": other.id,
            "VpcPeeringConnectionId": pcx.id, "PeeringStatus": "active"}


# -- import ----------------------------------------------------------------------------------------
def live(ctx: Importer) -> None:
    for g in ctx.items(KEY):
        ident = g.get("GroupId")
        if not isinstance(ident, str):
            ctx.error(KEY, g, None, "a security group without a GroupId")
            continue
        ctx.known[ident] = KEY
        if ctx.reference(KEY, g, ident, "VpcId", g.get("VpcId"), "Vpcs"):
            ctx.of(KEY)[ident] = g
        elif ctx.holds(g.get("VpcId")):
            ctx.dropped("security group", ident, f"its VPC {g.get('VpcId')} is not carried over")


def from_aws(ctx: Importer) -> None:
    for ident, g in ctx.of(KEY).items():
        vpc = g["VpcId"]
        fragment: dict = {"id": ident}
        if g.get("Description"):
            fragment["description"] = str(g["Description"])
        fragment["ingress"] = _rules(ctx, ident, vpc, objects(g, "IpPermissions"), "source")
        fragment["egress"] = _rules(ctx, ident, vpc, objects(g, "IpPermissionsEgress"), "destination")
        ctx.place(vpc, "security_groups", ident, fragment, KEY, g)


def _rules(ctx: Importer, ident: str, vpc: str, perms: list[dict], peer_key: str) -> list[dict]:
    out = []
    direction = "ingress" if peer_key == "source" else "egress"
    for p in perms:
        head = protocol_ports(ctx, "security group", ident, p.get("IpProtocol"), p.get("FromPort"), p.get("ToPort"))
        if head is None:
            continue
        for r in objects(p, "IpRanges"):
            out.append(_rule(head, peer_key, r.get("CidrIp"), r))
        for r in objects(p, "Ipv6Ranges"):
            ctx.unrepresentable("IPv6 security group rule", ident, f"{direction} {r.get('CidrIpv6')}: vpcemu emulates "
                                "IPv4 only")
        for r in objects(p, "PrefixListIds"):
            pl = r.get("PrefixListId")
            if not isinstance(pl, str):
                ctx.unrepresentable("security group rule", ident, f"{direction}: a prefix list without an id")
            elif pl in ctx.prefix_list_services:
                out.append(_rule(head, peer_key, f"pl:{ctx.prefix_list_services[pl]}", r))
            elif pl in ctx.prefix_list_cidrs:
                ctx.changed("security group rule", ident, f"{direction} {pl} becomes one rule per entry of the "
                            f"prefix list ({', '.join(ctx.prefix_list_cidrs[pl])})")
                out += [_rule(head, peer_key, c, r) for c in ctx.prefix_list_cidrs[pl]]
            else:
                ctx.unrepresentable("security group rule", ident, f"{direction} {pl}: the prefix list's entries are "
                                    "not in the dump; the rule is left out")
        for r in objects(p, "UserIdGroupPairs"):
            peer = _group_reference(ctx, ident, vpc, r, direction)
            if peer is not None:
                out.append(_rule(head, peer_key, peer, r))
    return out


def _rule(head: dict, peer_key: str, peer: object, item: dict) -> dict:
    out = {**head, peer_key: peer}
    if item.get("Description"):
        out["description"] = str(item["Description"])
    return out


def _group_reference(ctx: Importer, ident: str, vpc: str, pair: dict, direction: str) -> str | None:
    group = pair.get("GroupId")
    if ctx.is_live(KEY, group):
        other = ctx.of(KEY)[group]["VpcId"]
        if other == vpc:
            return f"sg:{ctx.names[group]}"
        if any({p["RequesterVpcId"], p["AccepterVpcId"]} == {vpc, other} for p in ctx.of("VpcPeeringConnections").values()):
            return f"sg:{ctx.names[other]}/{ctx.names[group]}"
    where = f"of account {pair['UserId']}" if pair.get("UserId") and pair.get("UserId") != ctx.account else \
        "not in the dump" if not ctx.holds(group) else "not in this VPC nor a VPC peered with it in the lab"
    ctx.unrepresentable("security group rule", ident, f"{direction} from/to group {group} ({where}); the rule is "
                        "left out")
    return None


def protocol_ports(ctx: Importer, kind: str, ident: str, protocol: object, low: object, high: object) -> dict | None:
    """AWS's (IpProtocol, FromPort, ToPort) → the file's protocol, ports or icmp_type/icmp_code (network ACL entries
    too, whose Protocol is a number: 6, 17, 1, -1). None: IPv6 only, which is listed."""
    text = str(protocol)
    name = {"-1": "all", "6": "tcp", "17": "udp", "1": "icmp"}.get(text, text)
    if name in ("icmpv6", "58"):
        ctx.unrepresentable(f"ICMPv6 {kind} rule", ident, "vpcemu emulates IPv4 only")
        return None
    out: dict = {"protocol": name}
    if name in ("tcp", "udp") and isinstance(low, int) and isinstance(high, int) and (low, high) not in \
            ((0, 65535), (-1, -1)):
        out["ports"] = low if low == high else f"{low}-{high}"
    elif name == "icmp" and isinstance(low, int) and low != -1:
        out["icmp_type"] = low
        if isinstance(high, int) and high != -1:
            out["icmp_code"] = high
    return out


