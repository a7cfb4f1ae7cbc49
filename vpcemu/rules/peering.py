"""VPC peering connection: between two existing, different VPCs whose CIDR blocks do not overlap,
one per pair of VPCs."""
from __future__ import annotations

from collections.abc import Container, Mapping

from ..codes import ErrorCode
from ..errors import UsageError
from ..model import Vpc


def peer_vpc(name: str, vpcs: Container[str]) -> str:
    if name not in vpcs:
        raise UsageError(f"no VPC named {name!r}", ErrorCode.INVALID_VPC_ID_NOT_FOUND)
    return name


def connection(requester: Vpc, accepter: Vpc, peered: Container[frozenset[str]]) -> None:
    """`peered`: the VPC pairs that have a peering connection already."""
    if requester.name == accepter.name:
        raise UsageError("a VPC cannot peer with itself", ErrorCode.INVALID_PARAMETER_VALUE)
    if frozenset((requester.name, accepter.name)) in peered:
        raise UsageError(f"{requester.name} and {accepter.name} are already peered; one peering connection per VPC "
                         "pair", ErrorCode.VPC_PEERING_CONNECTION_ALREADY_EXISTS)
    overlap = next(((a, b) for a in requester.cidr_blocks for b in accepter.cidr_blocks if a.overlaps(b)), None)
    if overlap:
        raise UsageError(f"the VPCs have overlapping CIDR blocks ({overlap[0]} and {overlap[1]}); AWS refuses the "
                         "peering", ErrorCode.INVALID_PARAMETER_VALUE)


def peered_vpcs(vpc: str, pairs: Mapping[str, tuple[str, str] | None]) -> set[str]:
    """The VPCs `vpc` has a peering connection with, from name → (requester, accepter)."""
    return {b if a == vpc else a for pair in pairs.values() if pair and vpc in pair for a, b in (pair,)}
