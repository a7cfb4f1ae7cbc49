"""Network ACL: entry numbers and actions, how many entries a direction holds, and CIDR-only peers.
Protocol and ports follow the security group rules (AWS gives both the same IpProtocol and ports)."""
from __future__ import annotations

from collections.abc import Container
from dataclasses import replace
from ipaddress import IPv4Network
from typing import Any

from ..codes import ErrorCode
from ..errors import UsageError
from ..model import NetworkAcl, NetworkAclEntry
from . import limits
from .security_group import direction, ip_protocol, port_range

RULE_ACTIONS = ("allow", "deny")


def rule_number(number: int) -> int:
    if not 1 <= number <= 32766:
        raise UsageError(f"rule number {number} is out of range 1..32766", ErrorCode.INVALID_PARAMETER_VALUE,
                         hint="32767 is the final `*` rule, which AWS keeps")
    return number


def rule_action(action: Any) -> str:
    if action not in RULE_ACTIONS:
        raise UsageError(f"{action!r} is not one of: {', '.join(RULE_ACTIONS)}", ErrorCode.INVALID_PARAMETER_VALUE)
    return action


def cidr_only(peer: Any) -> None:
    if isinstance(peer, str) and peer.startswith(("pl:", "sg:")):
        raise UsageError(f"{peer}: network ACL rules take CIDR blocks only (no prefix lists or security groups)",
                         ErrorCode.INVALID_PARAMETER_VALUE)


def entry_number_free(acl: str, egress: bool, number: int, used: Container[int]) -> None:
    if number in used:
        raise UsageError(f"rule number {number} is already used in {direction(egress)} of network ACL {acl}",
                         ErrorCode.NETWORK_ACL_ENTRY_ALREADY_EXISTS, hint="delete it first, or choose another number")


def entry_count(acl: str, egress: bool, count: int) -> None:
    if count > limits.MAX_NACL_RULES_PER_DIRECTION:
        raise UsageError(f"network ACL {acl}: at most {limits.MAX_NACL_RULES_PER_DIRECTION} {direction(egress)} rules",
                         ErrorCode.NETWORK_ACL_ENTRY_LIMIT_EXCEEDED)


def entry(entry: NetworkAclEntry) -> NetworkAclEntry:
    """One entry in the normal form entries are stored and compared in."""
    rule_number(entry.rule_number)
    rule_action(entry.rule_action)
    protocol = ip_protocol(entry.protocol)
    low, high = port_range(protocol, entry.from_port, entry.to_port)
    return replace(entry, protocol=protocol, from_port=low, to_port=high,
                   cidr_block=IPv4Network(entry.cidr_block, strict=False))


def new_entry(acl: NetworkAcl, new: NetworkAclEntry) -> NetworkAclEntry:
    """CreateNetworkAclEntry: a normal-form entry whose number is free in its direction, within the limit."""
    new = entry(new)
    same_direction = acl.ordered(new.egress)
    entry_number_free(acl.name, new.egress, new.rule_number, {e.rule_number for e in same_direction})
    entry_count(acl.name, new.egress, len(same_direction) + 1)
    return new


def present_entry(acl: NetworkAcl, number: int, egress: bool) -> NetworkAclEntry:
    found = next((e for e in acl.entries if (e.rule_number, e.egress) == (number, egress)), None)
    if found is None:
        raise UsageError(f"network ACL {acl.name} has no {direction(egress)} rule {number}",
                         ErrorCode.INVALID_NETWORK_ACL_ENTRY_NOT_FOUND, hint="the final `*` rule cannot be deleted")
    return found
