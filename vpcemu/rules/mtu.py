"""AWS's MTUs, the one place they are written (aws-vpc-reference §12; EC2 user guide, "Network maximum
transmission unit (MTU) for your EC2 instance", https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/network_mtu.html).

- Inside a VPC, current-generation instances use jumbo frames: an instance's ENIs and the VPC's routing
  between them (same subnet, across subnets, intra-Region peering) carry 9001 bytes.
- Over an internet gateway (as over inter-Region peering and VPN) the limit is 1500: a bigger packet is
  fragmented, or dropped with ICMP "fragmentation needed" when it has DF set (path MTU discovery).
- A NAT gateway and an interface endpoint take 8500. A NAT gateway supports path MTU discovery; an
  interface endpoint drops bigger packets without sending "fragmentation needed".
"""
from __future__ import annotations

from ..model import NetworkInterface

JUMBO = 9001                 # instance ENIs and the VPC's routing between them
INTERNET = 1500              # the internet gateway's internet side, and the internet itself
NAT_GATEWAY = 8500
INTERFACE_ENDPOINT = 8500

_BY_INTERFACE_TYPE = {"interface": JUMBO, "nat_gateway": NAT_GATEWAY, "vpc_endpoint": INTERFACE_ENDPOINT}


def network_interface_mtu(eni: NetworkInterface) -> int:
    """The MTU of an ENI: of the instance it is (or will be) attached to, or of the AWS service that manages it."""
    return _BY_INTERFACE_TYPE[eni.interface_type]
