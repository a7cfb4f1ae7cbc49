"""Security group: its name, its permissions in AWS's normal form (IpProtocol, FromPort, ToPort and one
peer), the groups and prefix lists a permission may reference, and how many permissions it may hold.

The protocol and port rules serve network ACL entries too: AWS gives both the same IpProtocol and ports.
"""
from __future__ import annotations

import re
from collections.abc import Collection, Container, Iterable, Mapping
from dataclasses import replace
from ipaddress import IPv4Network
from typing import Any

from ..codes import ErrorCode
from ..errors import UsageError
from ..model import SecurityGroupRule
from . import limits

PROTOCOL_NAMES = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "all": "-1", "-1": "-1", "6": "tcp", "17": "udp",
                  "1": "icmp"}


# AWS, for a group's and a rule's description: "Up to 255 characters in length. Allowed characters are
# a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*"
DESCRIPTION_RE = re.compile(r"[A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*]*")
MAX_DESCRIPTION = 255


def description(text: Any) -> str:
    """A security group's or a security group rule's description, as AWS allows it."""
    if not isinstance(text, str) or len(text) > MAX_DESCRIPTION or not DESCRIPTION_RE.fullmatch(text):
        shown = text[:40] + "…" if isinstance(text, str) and len(text) > 40 else text
        raise UsageError(f"description {shown!r} is not allowed", ErrorCode.INVALID_PARAMETER_VALUE,
                         hint=f"at most {MAX_DESCRIPTION} characters of a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{{}}!$*")
    return text


def direction(egress: bool) -> str:
    return "egress" if egress else "ingress"


def group_name(name: str) -> str:
    if name.lower().startswith("sg-"):
        raise UsageError("security group names cannot start with `sg-`", ErrorCode.INVALID_PARAMETER_VALUE)
    return name


# -- protocol and ports (security group rules and network ACL entries) ---------------------------
def ip_protocol(value: Any) -> str:
    """tcp, udp, icmp, all (-1) or an IP protocol number → AWS's IpProtocol ("-1", a name, or a number as text)."""
    text = str(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else None
    if text in PROTOCOL_NAMES:
        return PROTOCOL_NAMES[text]
    if text is not None and text.isdigit() and int(text) <= 255:
        return str(int(text))
    raise UsageError(f"{value!r} is not a protocol", ErrorCode.INVALID_PARAMETER_VALUE,
                     hint="tcp, udp, icmp, all (-1), or an IP protocol number 0-255")


def parse_port_range(value: int | str) -> tuple[int, int]:
    """`80` or `"1024-65535"` → (FromPort, ToPort); whether the range is allowed is tcp_udp_ports's to say."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    if isinstance(value, str) and re.fullmatch(r"\d+(-\d+)?", value.strip()):
        parts = value.strip().split("-")
        return int(parts[0]), int(parts[-1])
    raise UsageError(f"{value!r} is not a port or a port range such as 1024-65535", ErrorCode.INVALID_PARAMETER_VALUE)


def tcp_udp_ports(from_port: int | None, to_port: int | None) -> tuple[int, int]:
    """No ports means all of them, one port means only it."""
    if from_port is None:
        return 0, 65535
    low, high = from_port, from_port if to_port is None else to_port
    if not (0 <= low <= 65535 and 0 <= high <= 65535) or low > high:
        text = str(low) if low == high else f"{low}-{high}"
        raise UsageError(f"port range {text} must be within 0-65535 with from <= to", ErrorCode.INVALID_PARAMETER_VALUE)
    return low, high


def icmp_type(value: int | None) -> int | None:
    """None or -1: every ICMP type."""
    if value is None or value == -1:
        return None
    if not 0 <= value <= 255:
        raise UsageError(f"ICMP type {value} is out of range 0..255", ErrorCode.INVALID_PARAMETER_VALUE)
    return value


def icmp_code(type_: int | None, value: int | None) -> int | None:
    """-1 (or none given): every code of the type."""
    if type_ is None:
        if value not in (None, -1):
            raise UsageError(f"ICMP code {value} needs an ICMP type", ErrorCode.INVALID_PARAMETER_VALUE,
                             hint="give the type too, e.g. type 3 code 4")
        return None
    if value is None:
        return -1
    if not -1 <= value <= 255:
        raise UsageError(f"ICMP code {value} is out of range 0..255 (-1: every code)", ErrorCode.INVALID_PARAMETER_VALUE)
    return value


def no_ports(protocol: str) -> None:
    proto = "all" if protocol == "-1" else protocol
    raise UsageError(f"ports apply only to tcp and udp (icmp takes a type and a code), not protocol {proto}",
                     ErrorCode.INVALID_PARAMETER_VALUE)


def port_range(protocol: str, from_port: int | None, to_port: int | None) -> tuple[int | None, int | None]:
    """AWS's (FromPort, ToPort) for an IpProtocol: ports for tcp and udp, type and code for icmp, none otherwise."""
    if protocol in ("tcp", "udp"):
        return tcp_udp_ports(from_port, to_port)
    if protocol == "icmp":
        t = icmp_type(from_port)
        return t, icmp_code(t, to_port)
    if from_port is not None or to_port is not None:
        no_ports(protocol)
    return None, None


# -- peers -----------------------------------------------------------------------------------------
def referenced_group(vpc: str, reference: str, peered: Container[str], groups_of: Mapping[str, Container[str]]) -> str:
    """`sg:NAME` of this VPC, or `sg:VPC/NAME` of a VPC peered with it."""
    owner, name = reference.split("/", 1) if "/" in reference else (vpc, reference)
    if owner != vpc and owner not in peered:
        raise UsageError(f"sg:{reference}: VPC {owner!r} is not peered with {vpc}", ErrorCode.INVALID_GROUP_NOT_FOUND,
                         hint="security groups can be referenced only in this VPC or a peered VPC")
    if name not in groups_of.get(owner, ()):
        raise UsageError(f"sg:{reference}: no security group {name!r} in VPC {owner}", ErrorCode.INVALID_GROUP_NOT_FOUND)
    return reference


def prefix_list(name: str, prefix_lists: Collection[str]) -> str:
    if name not in prefix_lists:
        raise UsageError(f"pl:{name}: no prefix list {name!r}", ErrorCode.INVALID_PREFIX_LIST_ID_NOT_FOUND,
                         hint=f"known: {', '.join('pl:' + k for k in prefix_lists) or 'none'}")
    return name


def permission(rule: SecurityGroupRule, vpc: str, peered: Container[str], groups_of: Mapping[str, Container[str]],
               prefix_lists: Collection[str]) -> SecurityGroupRule:
    """One IpPermission with exactly one peer, in the normal form rules are stored and compared in."""
    if sum(p is not None for p in (rule.cidr, rule.group, rule.prefix_list)) != 1:
        raise UsageError("a security group rule needs exactly one peer: a CIDR, a security group or a prefix list",
                         ErrorCode.INVALID_PARAMETER_VALUE)
    description(rule.description)
    protocol = ip_protocol(rule.protocol)
    low, high = port_range(protocol, rule.from_port, rule.to_port)
    if rule.group is not None:
        referenced_group(vpc, rule.group, peered, groups_of)
    if rule.prefix_list is not None:
        prefix_list(rule.prefix_list, prefix_lists)
    cidr = None if rule.cidr is None else IPv4Network(rule.cidr, strict=False)
    return replace(rule, protocol=protocol, from_port=low, to_port=high, cidr=cidr)


# -- the group's permissions -------------------------------------------------------------------------
def rule_count(group: str, egress: bool, count: int) -> None:
    if count > limits.MAX_SG_RULES_PER_DIRECTION:
        raise UsageError(f"security group {group}: at most {limits.MAX_SG_RULES_PER_DIRECTION} {direction(egress)} rules",
                         ErrorCode.RULES_PER_SECURITY_GROUP_LIMIT_EXCEEDED)


def same_permission(a: SecurityGroupRule, b: SecurityGroupRule) -> bool:
    """AWS matches rules on protocol, ports and peer; the description does not count."""
    return replace(a, description="") == replace(b, description="")


def new_permission(group: str, egress: bool, rule: SecurityGroupRule, present: Iterable[SecurityGroupRule]) -> None:
    if any(same_permission(rule, r) for r in present):
        raise UsageError(f"security group {group}: the {direction(egress)} rule {rule.describe()} already exists",
                         ErrorCode.INVALID_PERMISSION_DUPLICATE)


def present_permission(group: str, egress: bool, rule: SecurityGroupRule,
                       present: Collection[SecurityGroupRule]) -> SecurityGroupRule:
    match = next((r for r in present if same_permission(rule, r)), None)
    if match is None:
        raise UsageError(f"security group {group} has no {direction(egress)} rule {rule.describe()}",
                         ErrorCode.INVALID_PERMISSION_NOT_FOUND,
                         hint="rules: " + ("; ".join(r.describe() for r in present) or "none"))
    return match
