"""Network ACLs as nftables in the VPC router: stateless, per subnet, at the subnet's edge only.

A packet meets the egress NACL of its source subnet when it comes from an ENI of that subnet
(`iifname`) and is going outside the subnet's CIDR, and the ingress NACL of its destination subnet
when it goes to an ENI of that subnet (`oifname`) from outside the CIDR: traffic that stays in a
subnet never meets a NACL. Entries are checked lowest number first, the first match decides, and
`*` denies the rest. There is no state: a reply is just another packet.
"""
from __future__ import annotations

from ..codes import ExplanationCode
from ..model import NetworkAclEntry, Subnet, Vpc
from . import names
from .nft import comment, drop
from .security_group import EVERYWHERE, protocol_match


def entry_match(entry: NetworkAclEntry) -> str:
    # The port range is the destination port in both directions (hence ephemeral-port rules).
    peer = "" if entry.cidr_block == EVERYWHERE else \
        f"{'ip daddr' if entry.egress else 'ip saddr'} {entry.cidr_block}"
    return " ".join(filter(None, (protocol_match(entry.protocol, entry.from_port, entry.to_port), peer)))


def denied(direction: str, acl: str, subnet: str, rule: int | str) -> str:
    return drop(ExplanationCode.SUBNET_ACL_RESTRICTION, direction=direction, acl=acl, subnet=subnet, rule=rule)


def chain_name(subnet: Subnet, direction: str) -> str:
    return f"nacl_{direction}_{subnet.name}"


def subnet_chain(vpc: Vpc, subnet: Subnet, egress: bool) -> list[str]:
    direction = "egress" if egress else "ingress"
    acl = vpc.network_acls[subnet.network_acl]
    inside = f"ip {'daddr' if egress else 'saddr'} {subnet.cidr_block}"
    lines = [f"  chain {chain_name(subnet, direction)} {{",
             f"    {inside} accept"]
    for e in acl.ordered(egress):
        if e.rule_action == "allow":
            verdict = f"accept {comment(f'acl={acl.name} rule={e.rule_number}')}"
        else:
            verdict = denied(direction, acl.name, subnet.name, e.rule_number)
        lines.append("    " + " ".join(filter(None, (entry_match(e), verdict))))
    lines += [f"    {denied(direction, acl.name, subnet.name, '*')}", "  }"]
    return lines


def nacl_chains(vpc: Vpc) -> list[str]:
    lines: list[str] = []
    for direction, key, priority in (("egress", "iifname", "filter - 10"), ("ingress", "oifname", "filter")):
        vmap = ", ".join(f'"{names.router_link(e)}" : jump {chain_name(vpc.subnets[e.subnet], direction)}'
                         for e in sorted(vpc.network_interfaces.values(), key=names.router_link))
        lines += [f"  chain nacl_{direction} {{",
                  f"    type filter hook forward priority {priority}; policy accept;",
                  *([f"    {key} vmap {{ {vmap} }}"] if vmap else []),
                  "  }"]
        for subnet in vpc.subnets.values():
            lines += subnet_chain(vpc, subnet, direction == "egress")
    return lines
