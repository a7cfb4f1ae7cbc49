"""Instance: the instance types vpcemu knows the limits of, how many ENIs and private IPs per ENI a type
allows (EC2 user guide), the auto-assigned public IPv4 that only a one-ENI launch gets, and the instance metadata
options RunInstances and ModifyInstanceMetadataOptions take."""
from __future__ import annotations

from ..codes import ErrorCode
from ..errors import UsageError
from ..model import Instance, MetadataOptions
from ..model.instance import HOP_LIMIT_RANGE, HTTP_ENDPOINT, HTTP_TOKENS
from . import limits


def instance_type(name: str) -> str:
    if name not in limits.INSTANCE_TYPES:
        raise UsageError(f"{name!r} is not an instance type vpcemu knows the limits of", ErrorCode.INVALID_INSTANCE_TYPE,
                         hint=f"known: {', '.join(limits.INSTANCE_TYPES)}")
    return name


def interface_count(instance: Instance, count: int) -> None:
    if instance.instance_type is None:
        return
    most = limits.INSTANCE_TYPES[instance.instance_type][0]
    if count > most:
        raise UsageError(f"{count} network interfaces attached; {instance.instance_type} supports at most {most}",
                         ErrorCode.ATTACHMENT_LIMIT_EXCEEDED)


def private_ip_count(instance: Instance, network_interface: str, count: int) -> None:
    if instance.instance_type is None:
        return
    most = limits.INSTANCE_TYPES[instance.instance_type][1]
    if count > most:
        raise UsageError(f"{count} private IPv4 addresses on {network_interface}; {instance.instance_type} supports "
                         f"at most {most} per interface", ErrorCode.PRIVATE_IP_ADDRESS_LIMIT_EXCEEDED)


def auto_public_ip(interfaces_at_launch: int) -> None:
    if interfaces_at_launch > 1:
        raise UsageError("AWS cannot auto-assign a public IPv4 to an instance launched with more than one network "
                         "interface", ErrorCode.INVALID_PARAMETER_COMBINATION, hint="use `eip:` instead")


def metadata_options(http_tokens: object = None, http_put_response_hop_limit: object = None,
                     http_endpoint: object = None, current: MetadataOptions | None = None) -> MetadataOptions:
    """`current` (AWS's defaults if None) with the options given changed; AWS's InvalidParameterValue for a value
    it does not take."""
    current = current or MetadataOptions()
    low, high = HOP_LIMIT_RANGE
    for name, value, allowed in (("http_tokens", http_tokens, HTTP_TOKENS), ("http_endpoint", http_endpoint, HTTP_ENDPOINT)):
        if value is not None and value not in allowed:
            raise UsageError(f"{name} {value!r} is not one of: {', '.join(allowed)}", ErrorCode.INVALID_PARAMETER_VALUE)
    hop = http_put_response_hop_limit
    if hop is not None and (isinstance(hop, bool) or not isinstance(hop, int) or not low <= hop <= high):
        raise UsageError(f"http_put_response_hop_limit {hop!r} is not a whole number from {low} to {high}",
                         ErrorCode.INVALID_PARAMETER_VALUE)
    return MetadataOptions(current.http_tokens if http_tokens is None else str(http_tokens),
                           current.http_put_response_hop_limit if hop is None else hop,
                           current.http_endpoint if http_endpoint is None else str(http_endpoint))
