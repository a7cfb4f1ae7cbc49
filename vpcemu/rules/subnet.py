"""Subnet: its CIDR block inside the VPC's and clear of every other subnet's, its Availability Zone,
how many a VPC may have, and the route table and network ACL it is associated with."""
from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from ipaddress import IPv4Network

from ..codes import ErrorCode
from ..errors import UsageError
from ..model import Subnet, Vpc
from . import limits


def availability_zone(az: str, region: str) -> str:
    if not re.fullmatch(re.escape(region) + r"[a-z]", az):
        raise UsageError(f"{az!r} is not an Availability Zone of {region} (such as {region}a)",
                         ErrorCode.INVALID_PARAMETER_VALUE)
    return az


def subnet_count(count: int) -> None:
    if count > limits.MAX_SUBNETS_PER_VPC:
        raise UsageError(f"at most {limits.MAX_SUBNETS_PER_VPC} subnets per VPC", ErrorCode.SUBNET_LIMIT_EXCEEDED)


def cidr_block(vpc: Vpc, cidr: IPv4Network, present: Iterable[Subnet]) -> IPv4Network:
    if not 16 <= cidr.prefixlen <= 28:
        raise UsageError(f"{cidr} has a /{cidr.prefixlen} mask; a subnet CIDR block must be between /16 and /28",
                         ErrorCode.INVALID_SUBNET_RANGE)
    if not any(cidr.subnet_of(c) for c in vpc.cidr_blocks):
        raise UsageError(f"{cidr} is not inside the VPC CIDR {', '.join(map(str, vpc.cidr_blocks))}",
                         ErrorCode.INVALID_SUBNET_RANGE)
    clash = next((o for o in present if o.cidr_block.overlaps(cidr)), None)
    if clash is not None:
        raise UsageError(f"{cidr} overlaps subnet {clash.name} ({clash.cidr_block})", ErrorCode.INVALID_SUBNET_CONFLICT)
    return cidr


def route_table_exists(vpc: str, name: str, tables: Collection[str]) -> str:
    if name not in tables:
        raise UsageError(f"no route table named {name!r} in VPC {vpc}", ErrorCode.INVALID_ROUTE_TABLE_ID_NOT_FOUND,
                         hint=f"route tables: {', '.join(tables) or 'none'}")
    return name


def network_acl_exists(vpc: str, name: str, acls: Collection[str]) -> str:
    if name not in acls:
        raise UsageError(f"no network ACL named {name!r} in VPC {vpc}", ErrorCode.INVALID_NETWORK_ACL_ID_NOT_FOUND,
                         hint=f"network ACLs: {', '.join(acls) or 'none'}")
    return name
