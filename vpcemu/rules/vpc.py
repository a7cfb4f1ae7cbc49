"""VPC: the size of its CIDR blocks, how many it may have, which ranges a secondary block may come from,
and ModifyVpcAttribute's one attribute per call, never turning DNS off under private DNS."""
from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network

from ..codes import ErrorCode
from ..errors import UsageError
from . import limits

PRIVATE_RANGES = (IPv4Network("10.0.0.0/8"), IPv4Network("172.16.0.0/12"), IPv4Network("192.168.0.0/16"))
SHARED_RANGE = IPv4Network("100.64.0.0/10")
LINK_LOCAL = IPv4Network("169.254.0.0/16")
BENCHMARK_RANGE = IPv4Network("198.19.0.0/16")        # restricted as a secondary CIDR (vpc-cidr-blocks)


def cidr_block(cidr: IPv4Network) -> IPv4Network:
    if not 16 <= cidr.prefixlen <= 28:
        raise UsageError(f"{cidr} has a /{cidr.prefixlen} mask; a VPC CIDR block must be between /16 and /28",
                         ErrorCode.INVALID_VPC_RANGE)
    return cidr


def cidr_block_count(count: int) -> None:
    if count > limits.MAX_VPC_CIDR_BLOCKS:
        raise UsageError(f"a VPC has at most {limits.MAX_VPC_CIDR_BLOCKS} IPv4 CIDR blocks",
                         ErrorCode.CIDR_LIMIT_EXCEEDED)


def secondary_cidr_block(primary: IPv4Network, present: Sequence[IPv4Network], cidr: IPv4Network) -> IPv4Network:
    """AssociateVpcCidrBlock: sized as any block, overlapping none, and from a range the primary allows."""
    cidr_block(cidr)
    clash = next((o for o in (primary, *present) if cidr.overlaps(o)), None)
    if clash is not None:
        raise UsageError(f"{cidr} overlaps the VPC's CIDR block {clash}", ErrorCode.INVALID_VPC_RANGE)
    restricted = restricted_range(primary, cidr)
    if restricted:
        raise UsageError(f"{cidr} is restricted: {restricted}", ErrorCode.INVALID_VPC_RANGE,
                         hint="use a CIDR from the primary CIDR's own private range, 100.64.0.0/10 or a public range")
    return cidr


def restricted_range(primary: IPv4Network, cidr: IPv4Network) -> str | None:
    """AWS's table of IPv4 CIDR block association restrictions, keyed by the primary CIDR's range."""
    if cidr.overlaps(LINK_LOCAL):
        return f"{LINK_LOCAL} can never be used in a VPC"
    home = next((x for x in (*PRIVATE_RANGES, BENCHMARK_RANGE) if primary.subnet_of(x)), None)
    home_text = f"in {home}" if home else "public or in 100.64.0.0/10"
    others = [x for x in PRIVATE_RANGES if x != home]
    if home != BENCHMARK_RANGE:
        others.append(BENCHMARK_RANGE)
    if home == IPv4Network("172.16.0.0/12"):
        others.append(IPv4Network("172.31.0.0/16"))
    clash = next((x for x in others if cidr.overlaps(x)), None)
    if clash is None:
        return None
    return f"a VPC whose primary CIDR ({primary}) is {home_text} cannot add a CIDR block from {clash}"


def one_attribute(given: dict[str, bool | None]) -> tuple[str, bool]:
    """ModifyVpcAttribute changes exactly one attribute per call (AWS refuses two)."""
    named = [(k, v) for k, v in given.items() if v is not None]
    if len(named) != 1:
        raise UsageError("Fields for multiple attribute types specified: " + ", ".join(k for k, _ in named)
                         if named else "give one attribute to modify: " + ", ".join(given),
                         ErrorCode.INVALID_PARAMETER_COMBINATION if named else ErrorCode.MISSING_PARAMETER,
                         hint="ModifyVpcAttribute changes one attribute per call")
    return named[0]


def dns_attribute_off(vpc: str, attribute: str, private_dns_endpoints: Sequence[str]) -> None:
    """Both DNS attributes stay on while an interface endpoint of the VPC has private DNS, which needs them
    (the rule rules/endpoint.py private_dns applies when private DNS is turned on)."""
    if private_dns_endpoints:
        raise UsageError(f"{attribute} cannot be turned off on VPC {vpc}: private DNS of endpoint(s) "
                         f"{', '.join(private_dns_endpoints)} needs both enable_dns_support and enable_dns_hostnames",
                         ErrorCode.INVALID_PARAMETER,
                         hint="turn private DNS off on those endpoints first (`vpcemu endpoint modify NAME --no-private-dns`)")
