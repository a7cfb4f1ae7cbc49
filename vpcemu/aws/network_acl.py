"""Network ACLs ⇄ DescribeNetworkAcls: numbered entries per direction and the subnets associated with each.

AWS lists the final `*` deny entries (rule 32767); the format keeps them implicit, so export adds them and
import leaves them out. Protocols are numbers in this call (6, 17, 1, -1)."""
from __future__ import annotations

from ..model import NetworkAclEntry, Topology, aws_id
from .context import Importer
from .describe import objects, tag_list
from .security_group import protocol_ports

KEY = "NetworkAcls"
FINAL_RULE = 32767
PROTOCOL_NUMBERS = {"-1": "-1", "tcp": "6", "udp": "17", "icmp": "1"}


def to_aws(t: Topology, owner: str) -> list[dict]:
    out = []
    for v in t.vpcs.values():
        for acl in v.network_acls.values():
            final = [{"CidrBlock": "0.0.0.0/0", "Egress": egress, "Protocol": "-1", "RuleAction": "deny",
                      "RuleNumber": FINAL_RULE} for egress in (True, False)]
            out.append({
                "NetworkAclId": acl.id, "VpcId": v.id, "IsDefault": acl.is_default, "OwnerId": owner,
                "Entries": [entry(e) for e in (*acl.ordered(True), *acl.ordered(False))] + final,
                "Associations": [{"NetworkAclAssociationId": aws_id("aclassoc", acl.id, s.id), "NetworkAclId": acl.id,
                                  "SubnetId": s.id} for s in v.subnets.values() if s.network_acl == acl.name],
                "Tags": tag_list(acl.name)})
    return out


def entry(e: NetworkAclEntry) -> dict:
    out = {"CidrBlock": str(e.cidr_block), "Egress": e.egress, "Protocol": PROTOCOL_NUMBERS.get(e.protocol, e.protocol),
           "RuleAction": e.rule_action, "RuleNumber": e.rule_number}
    if e.protocol in ("tcp", "udp"):
        out["PortRange"] = {"From": e.from_port, "To": e.to_port}
    elif e.protocol == "icmp":
        out["IcmpTypeCode"] = {"Type": -1 if e.from_port is None else e.from_port,
                               "Code": -1 if e.to_port is None else e.to_port}
    return out


def live(ctx: Importer) -> None:
    for a in ctx.items(KEY):
        ident = a.get("NetworkAclId")
        if not isinstance(ident, str):
            ctx.error(KEY, a, None, "a network ACL without a NetworkAclId")
            continue
        ctx.known[ident] = KEY
        if ctx.reference(KEY, a, ident, "VpcId", a.get("VpcId"), "Vpcs"):
            ctx.of(KEY)[ident] = a
        elif ctx.holds(a.get("VpcId")):
            ctx.dropped("network ACL", ident, f"its VPC {a.get('VpcId')} is not carried over")


def from_aws(ctx: Importer) -> None:
    associated: dict[str, str] = {}
    for ident, a in ctx.of(KEY).items():
        fragment: dict = {"id": ident, "ingress": [], "egress": []}
        for e in sorted(objects(a, "Entries"), key=lambda e: e.get("RuleNumber") if isinstance(e.get("RuleNumber"), int)
                        else 0):
            if e.get("RuleNumber") == FINAL_RULE:
                continue
            if e.get("Ipv6CidrBlock") and not e.get("CidrBlock"):
                ctx.unrepresentable("IPv6 network ACL entry", ident, f"rule {e.get('RuleNumber')} "
                                    f"({e.get('Ipv6CidrBlock')}): vpcemu emulates IPv4 only")
                continue
            ports = e.get("IcmpTypeCode") if str(e.get("Protocol")) == "1" else e.get("PortRange")
            ports = ports if isinstance(ports, dict) else {}
            low, high = (ports.get("Type"), ports.get("Code")) if "Type" in ports or "Code" in ports else \
                (ports.get("From"), ports.get("To"))
            head = protocol_ports(ctx, "network ACL", ident, e.get("Protocol"), low, high)
            if head is None:
                continue
            egress = e.get("Egress") is True
            fragment["egress" if egress else "ingress"].append(
                {"rule": e.get("RuleNumber"), **head, "destination" if egress else "source": e.get("CidrBlock"),
                 "action": e.get("RuleAction")})
        ctx.place(a["VpcId"], "network_acls", ident, fragment, KEY, a)
        for assoc in objects(a, "Associations"):
            subnet = assoc.get("SubnetId")
            if ctx.reference(KEY, a, ident, "Associations.SubnetId", subnet, "Subnets"):
                associated[subnet] = ident
    for s_id, s in ctx.of("Subnets").items():
        acl = associated.get(s_id) or next((i for i, a in ctx.of(KEY).items()
                                            if a["VpcId"] == s["VpcId"] and a.get("IsDefault") is True), None)
        if acl is not None:
            ctx.vpc_doc(s["VpcId"])["subnets"][ctx.names[s_id]]["network_acl"] = ctx.names[acl]
