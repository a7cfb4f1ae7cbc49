"""Instance: the instance types vpcemu knows the limits of, how many ENIs and private IPs per ENI a type
allows (EC2 user guide), and the auto-assigned public IPv4 that only a one-ENI launch gets."""
from __future__ import annotations

from ..codes import ErrorCode
from ..errors import UsageError
from ..model import Instance
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
