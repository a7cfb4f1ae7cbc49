"""Names of the kernel objects a lab owns. Every namespace is `<lab>-<role>`; interface names stay ≤ 15 chars."""
from __future__ import annotations

from ..model import NetworkInterface

OWNERSHIP_PREFIX = "vpcemu"


def router_ns(lab: str, vpc: str) -> str:
    return f"{lab}-vpc-{vpc}"


def instance_ns(lab: str, instance: str) -> str:
    return f"{lab}-i-{instance}"


def parking_ns(lab: str) -> str:
    return f"{lab}-park"


def internet_gateway_ns(lab: str, vpc: str) -> str:
    return f"{lab}-igw-{vpc}"


def nat_gateway_ns(lab: str, nat_gateway: str) -> str:
    return f"{lab}-nat-{nat_gateway}"


def vpc_endpoint_ns(lab: str, endpoint: str) -> str:
    return f"{lab}-vpce-{endpoint}"


def internet_ns(lab: str) -> str:
    """The emulated internet's core router: IGWs, internet hosts and the AWS region hang off it."""
    return f"{lab}-inet"


def internet_host_ns(lab: str, host: str) -> str:
    return f"{lab}-h-{host}"


def region_ns(lab: str) -> str:
    """The AWS region: every service's public addresses, served by the lab's supervisor."""
    return f"{lab}-aws"


def router_link(eni: NetworkInterface) -> str:
    """The VPC router's end of an ENI's veth: `e` + 10 hex digits of the ENI id."""
    return "e" + eni.id[4:14]


def instance_link(device_index: int) -> str:
    return f"eth{device_index}"


def parked_link(eni: NetworkInterface) -> str:
    """A detached ENI's instance end while it waits in the parking namespace."""
    return "p" + eni.id[4:14]


def ownership_mark(lab: str, lab_uuid: str) -> str:
    return f"{OWNERSHIP_PREFIX}:{lab}:{lab_uuid}"
