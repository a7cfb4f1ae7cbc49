"""`network_acls:` → NetworkAcls (the default one too): numbered allow/deny entries per direction."""
from __future__ import annotations

from ipaddress import IPv4Network

from ..model import NetworkAcl, NetworkAclEntry, aws_id
from ..rules import network_acl as rules
from .context import VpcContext
from .security_group import protocol_ports

EVERYWHERE = IPv4Network("0.0.0.0/0")


def network_acls(ctx: VpcContext) -> dict[str, NetworkAcl]:
    r, doc, vpc = ctx.r, ctx.doc, ctx.vpc
    out = {}
    if "default" not in ctx.raw_acls:
        out["default"] = NetworkAcl("default", aws_id("acl", vpc.name, "default"), vpc.name, True, (
            NetworkAclEntry(100, "-1", "allow", False, EVERYWHERE),
            NetworkAclEntry(100, "-1", "allow", True, EVERYWHERE)))
    for name, raw in ctx.raw_acls.items():
        path = f"{ctx.path}.network_acls.{name}"
        a = r.mapping(raw, path, ("id", "ingress", "egress"))
        entries = []
        for direction, egress, peer_key in (("ingress", False, "source"), ("egress", True, "destination")):
            items = r.sequence(a.get(direction), f"{path}.{direction}")
            doc.passes(f"{path}.{direction}", rules.entry_count, name, egress, len(items))
            numbers: set[int] = set()
            for i, item in enumerate(items):
                p = f"{path}.{direction}[{i}]"
                d = r.mapping(item, p, ("rule", "protocol", "ports", peer_key, "action", "icmp_type", "icmp_code"),
                              required=("rule", "protocol", peer_key, "action"))
                number = r.integer(d.get("rule"), f"{p}.rule", code="InvalidParameterValue") if "rule" in d else None
                if number is not None and doc.passes(f"{p}.rule", rules.rule_number, number):
                    doc.passes(f"{p}.rule", rules.entry_number_free, name, egress, number, numbers)
                    numbers.add(number)
                else:
                    number = None
                action = doc.check(f"{p}.action", rules.rule_action, d["action"]) if "action" in d else None
                proto, low, high = protocol_ports(ctx, d, p) if "protocol" in d else (None, None, None)
                peer = d.get(peer_key)
                if not doc.passes(f"{p}.{peer_key}", rules.cidr_only, peer):
                    continue
                cidr = r.cidr(peer, f"{p}.{peer_key}") if peer is not None else None
                if None in (number, action, proto, cidr):
                    continue
                entries.append(NetworkAclEntry(number, proto, action, egress, cidr, low, high))
        acl_id = doc.resource_id(a.get("id"), "acl", f"{path}.id", aws_id("acl", vpc.name, name))
        out[name] = NetworkAcl(name, acl_id, vpc.name, name == "default", tuple(entries))
    return out
