"""NAT gateway: a public one needs an Elastic IP and a private one may not have one; at most five per AZ."""
from __future__ import annotations

from ..codes import ErrorCode
from ..errors import UsageError
from . import limits

CONNECTIVITY_TYPES = ("public", "private")


def elastic_ip(connectivity: str, has_eip: bool) -> None:
    if connectivity == "public" and not has_eip:
        raise UsageError("a public NAT gateway needs an Elastic IP", ErrorCode.MISSING_PARAMETER,
                         hint="add `eip: 198.51.100.20`, or set `connectivity: private`")
    if connectivity == "private" and has_eip:
        raise UsageError("a private NAT gateway cannot have an Elastic IP", ErrorCode.INVALID_PARAMETER_COMBINATION)


def per_availability_zone(az: str, count: int) -> None:
    if count > limits.MAX_NAT_GATEWAYS_PER_AZ:
        raise UsageError(f"more than {limits.MAX_NAT_GATEWAYS_PER_AZ} NAT gateways in {az}",
                         ErrorCode.NAT_GATEWAY_LIMIT_EXCEEDED)
