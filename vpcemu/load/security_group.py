"""`security_groups:` → SecurityGroups (the default group too), and the protocol/ports fields that
security group rules and network ACL entries share in the file: `protocol`, `ports` ("80",
"1024-65535") and, for icmp, `icmp_type`/`icmp_code`, read into AWS's (IpProtocol, FromPort, ToPort)."""
from __future__ import annotations

from ipaddress import IPv4Network
from typing import Any

from ..model import SecurityGroup, SecurityGroupRule, aws_id
from ..rules import peering
from ..rules import security_group as rules
from .context import VpcContext

EVERYWHERE = IPv4Network("0.0.0.0/0")


def security_groups(ctx: VpcContext) -> dict[str, SecurityGroup]:
    r, doc, vpc = ctx.r, ctx.doc, ctx.vpc
    out = {}
    if "default" not in ctx.raw_groups:
        out["default"] = SecurityGroup(
            "default", aws_id("sg", vpc.name, "default"), vpc.name,
            ingress=(SecurityGroupRule("-1", group="default"),),
            egress=(SecurityGroupRule("-1", cidr=EVERYWHERE),), description="default VPC security group")
    for name, raw in ctx.raw_groups.items():
        path = f"{ctx.path}.security_groups.{name}"
        doc.passes(path, rules.group_name, name)
        g = r.mapping(raw, path, ("id", "description", "ingress", "egress"))
        ingress = _rules(ctx, name, g.get("ingress"), f"{path}.ingress", False)
        if "egress" in g:
            egress = _rules(ctx, name, g.get("egress"), f"{path}.egress", True)
        else:   # AWS: a new group allows all outbound traffic
            egress = (SecurityGroupRule("-1", cidr=EVERYWHERE),)
        out[name] = SecurityGroup(name, doc.resource_id(g.get("id"), "sg", f"{path}.id", aws_id("sg", vpc.name, name)),
                                  vpc.name, ingress, egress,
                                  doc.check(f"{path}.description", rules.description, g.get("description") or "") or "")
    return out


def _rules(ctx: VpcContext, group: str, raw: Any, path: str, egress: bool) -> tuple[SecurityGroupRule, ...]:
    r, doc = ctx.r, ctx.doc
    peer_key = "destination" if egress else "source"
    items = r.sequence(raw, path)
    doc.passes(path, rules.rule_count, group, egress, len(items))
    peered = peering.peered_vpcs(ctx.vpc.name, doc.peer_names)
    out = []
    for i, item in enumerate(items):
        p = f"{path}[{i}]"
        d = r.mapping(item, p, ("protocol", "ports", peer_key, "icmp_type", "icmp_code", "description"),
                      required=("protocol", peer_key))
        proto, low, high = protocol_ports(ctx, d, p)
        peer = d.get(peer_key)
        if proto is None or peer is None:
            continue
        peer_path = f"{p}.{peer_key}"
        cidr = group_ref = plist = None
        if isinstance(peer, str) and peer.startswith("sg:"):
            group_ref = peer[3:]
            doc.passes(peer_path, rules.referenced_group, ctx.vpc.name, group_ref, peered, doc.group_names)
        elif isinstance(peer, str) and peer.startswith("pl:"):
            plist = peer[3:]
            doc.passes(peer_path, rules.prefix_list, plist, doc.prefix_lists)
        else:
            cidr = r.cidr(peer, peer_path, "InvalidParameterValue")
            if cidr is None:
                continue
        text = doc.check(f"{p}.description", rules.description, d.get("description") or "") or ""
        out.append(SecurityGroupRule(proto, low, high, cidr, group_ref, plist, text))
    return tuple(out)


def protocol_ports(ctx: VpcContext, d: dict, p: str) -> tuple[str | None, int | None, int | None]:
    """protocol + ports (or icmp_type/icmp_code) → AWS's (IpProtocol, FromPort, ToPort); Nones if refused."""
    r, doc = ctx.r, ctx.doc
    proto = doc.check(f"{p}.protocol", rules.ip_protocol, d.get("protocol"))
    if proto is None:
        return None, None, None
    given = d.get("ports") is not None
    ports = doc.check(f"{p}.ports", rules.parse_port_range, d.get("ports")) if given else None
    if proto == "icmp":
        if ports is not None:
            r.error(f"{p}.ports", "icmp has no ports; use icmp_type and icmp_code", "InvalidParameterValue")
        t, c = (None if d.get(k) is None else r.integer(d.get(k), f"{p}.{k}", code="InvalidParameterValue")
                for k in ("icmp_type", "icmp_code"))
        if not doc.passes(f"{p}.icmp_type", rules.icmp_type, t):
            return proto, None, None
        t = rules.icmp_type(t)
        return proto, t, doc.check(f"{p}.icmp_code", rules.icmp_code, t, c)
    for key in ("icmp_type", "icmp_code"):
        if d.get(key) is not None:
            r.error(f"{p}.{key}", f"{key} applies only to protocol icmp", "InvalidParameterValue")
    if proto in ("tcp", "udp"):
        checked = doc.check(f"{p}.ports", rules.tcp_udp_ports, *ports) if ports else None
        return (proto, *(checked or (0, 65535)))
    if ports is not None:
        doc.passes(f"{p}.ports", rules.no_ports, proto)
    return proto, None, None
