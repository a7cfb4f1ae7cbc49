"""Security groups as nftables in the VPC router: per-ENI allow chains, stateful, with AWS's untracked flows.

The sender's egress is checked on packets from its link (`iifname`), the receiver's ingress on packets
to its link (`oifname`), in two base chains of the forward hook: an `accept` ends only its own base
chain, so a flow must pass both. Traffic to the router itself (gateway, resolver) takes the input
hook and is never filtered, as AWS never filters it.

Connection tracking follows AWS's rules (aws-vpc-reference §4). One conntrack entry spans both ENIs
of a flow, so two ct mark bits record where a flow is *untracked*: at its initiator, at its responder.
A flow is untracked at an ENI when the rule that admits its first packet allows TCP/UDP from/to
0.0.0.0/0 and the ENI's other direction allows all responses to/from 0.0.0.0/0 on every port. Such
packets skip the `ct state established` shortcut at that ENI and are judged by the rules every time,
so revoking the rule cuts the flow at once; tracked flows keep passing on state. No conntrack flush
is needed: rule changes reload the ruleset and the marks already on the entries say how to judge them.
"""
from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from ipaddress import IPv4Network

from ..codes import ExplanationCode
from ..model import NetworkInterface, SecurityGroupRule, Topology, Vpc
from . import names
from .nft import comment, drop

CT_UNTRACKED_AT_INITIATOR = 0x40000000
CT_UNTRACKED_AT_RESPONDER = 0x80000000
EVERYWHERE = IPv4Network("0.0.0.0/0")
UNTRACKABLE = ("tcp", "udp")  # ICMP and other protocols are always tracked


def protocol_match(protocol: str, from_port: int | None, to_port: int | None) -> str:
    """AWS's (IpProtocol, FromPort, ToPort) as an nft match; for icmp the ports are type and code."""
    if protocol == "-1":
        return ""
    if protocol in ("tcp", "udp"):
        low, high = (0, 65535) if from_port is None else (from_port, to_port)
        if (low, high) == (0, 65535):
            return f"meta l4proto {protocol}"
        return f"{protocol} dport {low}" if low == high else f"{protocol} dport {low}-{high}"
    if protocol == "icmp":
        if from_port is None or from_port == -1:
            return "meta l4proto icmp"
        code = "" if to_port is None or to_port == -1 else f" icmp code {to_port}"
        return f"icmp type {from_port}{code}"
    return f"meta l4proto {protocol}"


def group_set(group: str) -> str:
    return f"sg_{group}"                # `sg_web`, or `sg_shared/web` for a peered VPC's group


def prefix_list_set(name: str) -> str:
    return f"pl_{name}"


def filtered(eni: NetworkInterface) -> bool:
    """An ENI whose traffic its security groups judge; a NAT gateway's ENI has none, and none apply."""
    return bool(eni.security_groups) or not eni.requester_managed


def sg_rules(vpc: Vpc, eni: NetworkInterface, egress: bool) -> list[tuple[str, SecurityGroupRule]]:
    """The union of the rules of the ENI's groups in one direction, as (group, rule)."""
    out = []
    for g in eni.security_groups:
        group = vpc.security_groups.get(g)
        if group is not None:
            out += [(g, r) for r in (group.egress if egress else group.ingress)]
    return out


def group_members(topology: Topology, vpc: Vpc, ref: str) -> list[str]:
    """Private IPs of the ENIs in a referenced group: `web` in this VPC, `shared/web` in a peered one."""
    vpc_name, group = ref.split("/", 1) if "/" in ref else (vpc.name, ref)
    other = topology.vpcs.get(vpc_name)
    if other is None:
        return []
    return [str(ip) for e in other.network_interfaces.values() if group in e.security_groups
            for ip in e.private_ip_addresses]


def referenced(vpc: Vpc) -> tuple[set[str], set[str]]:
    """Groups and prefix lists named as peers by the rules of groups some ENI uses."""
    groups, plists = set(), set()
    used = {g for eni in vpc.network_interfaces.values() for g in eni.security_groups}
    for group in (vpc.security_groups[g] for g in used if g in vpc.security_groups):
        for rule in (*group.ingress, *group.egress):
            if rule.group is not None:
                groups.add(rule.group)
            if rule.prefix_list is not None:
                plists.add(rule.prefix_list)
    return groups, plists


def sg_sets(topology: Topology, vpc: Vpc) -> list[str]:
    """One named set per referenced group (membership changes are element changes) and prefix list."""
    groups, plists = referenced(vpc)
    lines = []
    for ref in sorted(groups):
        lines += _set(group_set(ref), "ipv4_addr", group_members(topology, vpc, ref))
    for name in sorted(plists):
        pl = topology.prefix_lists.get(name)
        lines += _set(prefix_list_set(name), "ipv4_addr", [str(c) for c in (pl.cidrs if pl else ())], interval=True)
    return lines


def _set(name: str, kind: str, elements: Iterable[str], interval: bool = False) -> list[str]:
    elements = sorted(set(elements))
    return [f"  set {name} {{",
            f"    type {kind};",
            *(["    flags interval;"] if interval else []),
            *([f"    elements = {{ {', '.join(elements)} }};"] if elements else []),
            "  }"]


def peer_match(rule: SecurityGroupRule, egress: bool) -> str:
    field = "ip daddr" if egress else "ip saddr"
    if rule.group is not None:
        return f"{field} @{group_set(rule.group)}"
    if rule.prefix_list is not None:
        return f"{field} @{prefix_list_set(rule.prefix_list)}"
    return "" if rule.cidr == EVERYWHERE else f"{field} {rule.cidr}"


def answers_everything(rules: list[tuple[str, SecurityGroupRule]], protocol: str) -> bool:
    """Do these rules allow every response of `protocol` to/from 0.0.0.0/0 on all ports (0-65535)?"""
    return any(r.cidr == EVERYWHERE and (r.protocol == "-1" or (
        r.protocol == protocol and (r.from_port, r.to_port) in ((0, 65535), (None, None))))
        for _, r in rules)


def untracking(rule: SecurityGroupRule, other_direction: list[tuple[str, SecurityGroupRule]]) -> list[str]:
    """The protocols for which a flow admitted by `rule` is untracked (AWS: 0.0.0.0/0 both ways)."""
    if rule.cidr != EVERYWHERE:
        return []
    wanted = UNTRACKABLE if rule.protocol == "-1" else (rule.protocol,) if rule.protocol in UNTRACKABLE else ()
    return [p for p in wanted if answers_everything(other_direction, p)]


@lru_cache(maxsize=1 << 14)
def _denied(direction: str, eni: str, groups: tuple[str, ...]) -> str:
    # every ENI's chain ends with one: a router's ruleset is rendered again on every live change
    return drop(ExplanationCode.ENI_SG_RULES_MISMATCH, direction=direction, eni=eni, sg=",".join(groups))


def eni_chain(vpc: Vpc, eni: NetworkInterface, link: str, egress: bool, bodies: dict) -> list[str]:
    """One ENI's chain for one direction (`link`: its router link). Its rules depend only on the ENI's groups
    (and whether it is requester-managed): `bodies` shares them between ENIs with the same groups in one
    rendering."""
    direction = "egress" if egress else "ingress"
    key = (eni.security_groups, eni.requester_managed, egress)
    body = bodies.get(key)
    if body is None:
        body = bodies[key] = _chain_body(vpc, eni, egress)
    return [f"  chain {chain_name(link, direction)} {{",
            *body,
            f"    {_denied(direction, eni.name, eni.security_groups)}",
            "  }"]


def _chain_body(vpc: Vpc, eni: NetworkInterface, egress: bool) -> list[str]:
    direction = "egress" if egress else "ingress"
    rules = sg_rules(vpc, eni, egress)
    # Requester-managed ENIs (NAT gateway, interface endpoints) always track their flows.
    other = [] if eni.requester_managed else sg_rules(vpc, eni, not egress)
    # Untracking rules come first: a flow that any 0.0.0.0/0 rule admits is untracked (AWS).
    untracked_lines: list[tuple[str, str]] = []
    tracked_lines: list[tuple[str, str]] = []
    for group, rule in rules:
        peer = peer_match(rule, egress)
        proto = protocol_match(rule.protocol, rule.from_port, rule.to_port)
        why = comment(f"sg={group} {direction} {rule.describe()}")
        untracked = untracking(rule, other)
        if untracked:
            l4 = f"meta l4proto {{ {', '.join(untracked)} }}" if rule.protocol == "-1" else proto
            untracked_lines.append((" ".join(filter(None, (l4, peer, f"goto sg_{direction}_untracked"))), why))
        if rule.protocol == "-1" or not untracked:
            tracked_lines.append((" ".join(filter(None, (proto, peer, "accept"))), why))
    body: dict[str, str] = {}
    for match, why in untracked_lines + tracked_lines:
        body.setdefault(match, f"{match} {why}")      # the same rule in two of its groups is one rule
    return [f"    {line}" for line in body.values()]


def chain_name(link: str, direction: str) -> str:
    """The chain of the ENI whose router link is `link`, for one direction."""
    return f"sg_{direction}_{link}"


def sg_chains(vpc: Vpc) -> list[str]:
    """The sg_egress / sg_ingress base chains, the per-ENI chains, and the untracked-flow markers."""
    enis = sorted((names.router_link(e), e) for e in vpc.network_interfaces.values() if filtered(e))
    # AWS always tracks flows through a NAT gateway or an interface endpoint, whatever the rules say.
    managed = ", ".join(sorted(f'"{names.router_link(e)}"' for e in vpc.network_interfaces.values()
                               if e.requester_managed))
    lines: list[str] = []
    bodies: dict = {}                   # ENIs with the same groups share their rules
    # (direction, key of the ENI, hook priority, mark bit of the ENI for original / reply packets)
    for direction, key, priority, own_original, own_reply in (
            ("egress", "iifname", "filter - 20", CT_UNTRACKED_AT_INITIATOR, CT_UNTRACKED_AT_RESPONDER),
            ("ingress", "oifname", "filter + 10", CT_UNTRACKED_AT_RESPONDER, CT_UNTRACKED_AT_INITIATOR)):
        vmap = ", ".join(f'"{link}" : jump {chain_name(link, direction)}' for link, _ in enis)
        lines += [
            f"  chain sg_{direction} {{",
            f"    type filter hook forward priority {priority}; policy accept;",
            # state decides only where the flow is tracked at this ENI; untracked ones meet the rules
            f"    ct state established,related ct direction original ct mark and {own_original:#x} == 0 accept",
            f"    ct state established,related ct direction reply ct mark and {own_reply:#x} == 0 accept",
            *([f"    {key} vmap {{ {vmap} }}"] if vmap else []),
            "  }",
            # reached only by a rule that makes its flow untracked: mark the first packet's entry
            f"  chain sg_{direction}_untracked {{",
            *([f"    oifname {{ {managed} }} accept"] if managed and direction == "egress" else []),
            f"    ct direction original ct mark set ct mark or {own_original:#x}",
            "    accept",
            "  }",
        ]
        for link, eni in enis:
            lines += eni_chain(vpc, eni, link, direction == "egress", bodies)
    return lines
