"""Security group and network ACL rules applied to one packet, with the semantics of the router's nft chains.

- A rule's (protocol, from_port, to_port) is AWS's: "-1" is everything; for tcp/udp the range is the
  destination port (in both directions for a NACL, hence the ephemeral-port rules answers need); for
  icmp the pair is type and code, -1 or None meaning any.
- Security groups: allow-only, the union of the ENI's groups; the peer is the destination for egress
  and the source for ingress: a CIDR, the private IPs of a group's members, or a prefix list's CIDRs.
- Network ACLs: lowest rule number first, the first match decides, `*` denies the rest.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from ipaddress import IPv4Address

from ..model import NetworkAclEntry, SecurityGroupRule
from .result import Packet

ANY = (None, -1)


def protocol_matches(protocol: str, from_port: int | None, to_port: int | None, pkt: Packet) -> bool:
    if protocol == "-1":
        return True
    if protocol != pkt.protocol:
        return False
    if protocol in ("tcp", "udp"):
        return from_port is None or from_port <= pkt.dport <= to_port
    if protocol == "icmp":
        # echo request and echo reply, the only ICMP a flow carries here, both have code 0
        return from_port in ANY or (pkt.icmp_type == from_port and (to_port in ANY or to_port == 0))
    return True


def security_group_match(rules: Sequence[tuple[str, SecurityGroupRule]], pkt: Packet, egress: bool,
                         peer_in: Callable[[SecurityGroupRule, IPv4Address], bool]
                         ) -> tuple[str, SecurityGroupRule] | None:
    """The first (group, rule) that allows the packet, or None: ENI_SG_RULES_MISMATCH."""
    peer = pkt.dst if egress else pkt.src
    for group, rule in rules:
        if protocol_matches(rule.protocol, rule.from_port, rule.to_port, pkt) and peer_in(rule, peer):
            return group, rule
    return None


def network_acl_decision(entries: Sequence[NetworkAclEntry], pkt: Packet, egress: bool) -> NetworkAclEntry | None:
    """The entry that decides (allow or deny), or None for the final `*` deny. `entries` are in rule order."""
    peer = pkt.dst if egress else pkt.src
    for e in entries:
        if protocol_matches(e.protocol, e.from_port, e.to_port, pkt) and peer in e.cidr_block:
            return e
    return None
