"""Network interface (ENI): the private IPs it may claim in its subnet, its security groups, its MAC,
attaching it to an instance (same VPC and AZ, device index), and what a requester-managed ENI refuses."""
from __future__ import annotations

import re
from collections.abc import Collection, Container, Mapping, Sequence
from ipaddress import IPv4Address
from typing import Any

from ..codes import ErrorCode
from ..errors import UsageError
from ..model import Instance, NetworkInterface, Subnet
from . import limits

MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
MAX_DEVICE_INDEX = 31


# AWS's CreateNetworkInterface takes a description of up to 255 characters
MAX_DESCRIPTION = 255


def description(text: Any) -> str:
    """An ENI's description: at most 255 characters, none of them a control character (it is printed)."""
    if not isinstance(text, str) or len(text) > MAX_DESCRIPTION or not text.isprintable():
        shown = text[:40] + "…" if isinstance(text, str) and len(text) > 40 else text
        raise UsageError(f"description {shown!r} is not allowed", ErrorCode.INVALID_PARAMETER_VALUE,
                         hint=f"at most {MAX_DESCRIPTION} printable characters")
    return text


def not_requester_managed(eni: NetworkInterface, verb: str) -> None:
    """AWS owns a requester-managed ENI (a NAT gateway's, an interface endpoint's): users may only look at it."""
    if eni.requester_managed:
        raise UsageError(f"{eni.name} ({eni.id}) is requester-managed ({eni.interface_type}); it cannot be {verb}",
                         ErrorCode.OPERATION_NOT_PERMITTED, hint="change it through the service that owns it")


# -- private IPs -----------------------------------------------------------------------------------
def private_ip(subnet: Subnet, ip: IPv4Address, holder: str | None = None) -> IPv4Address:
    """An address an ENI asks for: in its subnet, not one AWS reserves, not held (`holder` says where it is)."""
    if ip not in subnet.cidr_block:
        raise UsageError(f"{ip} is not in subnet {subnet.name} ({subnet.cidr_block})", ErrorCode.INVALID_PARAMETER_VALUE,
                         hint="an ENI's private IPs come from its own subnet")
    if subnet.is_reserved(ip):
        raise UsageError(f"{ip} is reserved by AWS in {subnet.cidr_block} (the first four and the last address)",
                         ErrorCode.INVALID_PARAMETER_VALUE, hint=f"assignable here: {subnet.cidr_block.network_address + 4} "
                                                                 f"to {subnet.cidr_block.broadcast_address - 1}")
    if holder is not None:
        raise UsageError(f"{ip} is already assigned at {holder}", ErrorCode.INVALID_IP_ADDRESS_IN_USE,
                         hint="an address belongs to one ENI; a secondary IP moves only with reassignment allowed")
    return ip


def free_private_ip(subnet: Subnet, taken: Container[IPv4Address]) -> IPv4Address:
    """The lowest address AWS would choose: assignable and not taken."""
    for ip in subnet.assignable():
        if ip not in taken:
            return ip
    raise UsageError(f"subnet {subnet.name} ({subnet.cidr_block}) has no free address left",
                     ErrorCode.INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET,
                     hint=f"its {subnet.cidr_block.num_addresses - 5} usable addresses are taken (AWS reserves 5); "
                          "use a larger subnet")


# -- security groups -------------------------------------------------------------------------------
def interface_group(vpc: str, group: str, groups: Collection[str]) -> str:
    if group not in groups:
        raise UsageError(f"no security group {group!r} in VPC {vpc}", ErrorCode.INVALID_GROUP_NOT_FOUND,
                         hint=f"groups: {', '.join(groups)}")
    return group


def interface_groups(groups: Sequence[str]) -> tuple[str, ...]:
    """The set of groups an ENI (or an interface endpoint's ENIs) carries: one to five, each once."""
    if len(groups) > limits.MAX_SECURITY_GROUPS_PER_ENI:
        raise UsageError(f"{len(groups)} security groups; an ENI may have at most {limits.MAX_SECURITY_GROUPS_PER_ENI}",
                         ErrorCode.SECURITY_GROUPS_PER_INTERFACE_LIMIT_EXCEEDED)
    if not groups or len(set(groups)) != len(groups):
        raise UsageError("an ENI needs at least one security group, each listed once", ErrorCode.INVALID_PARAMETER_VALUE)
    return tuple(groups)


# -- MAC -------------------------------------------------------------------------------------------
def mac_address(value: Any) -> str:
    text = str(value).lower()
    if not MAC_RE.match(text) or int(text[:2], 16) & 1 or text == "00:00:00:00:00:00":
        raise UsageError(f"{value!r} is not a unicast MAC address such as 0e:12:34:56:78:9a",
                         ErrorCode.INVALID_PARAMETER_VALUE)
    return text


def mac_free(mac: str, used: Mapping[str, str]) -> None:
    if mac in used:
        raise UsageError(f"MAC {mac} is already used by {used[mac]}", ErrorCode.INVALID_PARAMETER_VALUE,
                         hint="every network interface needs its own MAC address")


# -- attachment ------------------------------------------------------------------------------------
def device_index(instance: str, index: int) -> int:
    if index == 0:
        raise UsageError(f"device index 0 is the primary network interface of {instance}",
                         ErrorCode.INVALID_PARAMETER_VALUE, hint="attach secondary ENIs at device index 1 or higher")
    if not 1 <= index <= MAX_DEVICE_INDEX:
        raise UsageError(f"device index {index} is out of range 1..{MAX_DEVICE_INDEX}", ErrorCode.INVALID_PARAMETER_VALUE)
    return index


def device_index_free(instance: str, index: int, used: Mapping[int, str]) -> int:
    """`used`: device index → the ENI attached there."""
    if index in used:
        raise UsageError(f"instance {instance} already has {used[index]} at device index {index}",
                         ErrorCode.INVALID_PARAMETER_VALUE)
    return index


def free_device_index(instance: str, used: Container[int]) -> int:
    """The lowest free secondary index, as the console offers."""
    index = next((i for i in range(1, MAX_DEVICE_INDEX + 1) if i not in used), None)
    if index is None:
        raise UsageError(f"instance {instance} has no free device index", ErrorCode.ATTACHMENT_LIMIT_EXCEEDED)
    return index


def same_vpc(eni: str, eni_vpc: str, instance: str, instance_vpc: str) -> None:
    """An ENI joins an instance of its own VPC: AWS's newer multi-VPC ENIs (aws-vpc-reference §ENI) are
    not emulated, so vpcemu refuses them as the 2023 rule did."""
    if instance_vpc != eni_vpc:
        raise UsageError(f"{eni} is in VPC {eni_vpc} but instance {instance} is in VPC {instance_vpc}",
                         ErrorCode.INVALID_PARAMETER_COMBINATION,
                         hint="vpcemu attaches an ENI only to an instance of its own VPC")


def attachable(eni: NetworkInterface, subnet: Subnet, instance: Instance) -> None:
    """AttachNetworkInterface: an ENI joins an instance of its own VPC in its own Availability Zone."""
    same_vpc(eni.name, eni.vpc, instance.name, instance.vpc)
    if subnet.availability_zone != instance.availability_zone:
        raise UsageError(f"{eni.name} is in {subnet.availability_zone} but instance {instance.name} is in "
                         f"{instance.availability_zone}; an ENI attaches only to an instance in its own Availability "
                         "Zone", ErrorCode.INVALID_PARAMETER_COMBINATION)
