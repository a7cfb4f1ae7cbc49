"""NetworkInterface (ENI): private IPs in one subnet, MAC, security groups, EIPs, source/dest check, attachment."""
from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address


@dataclass(frozen=True)
class Attachment:
    instance: str
    device_index: int


@dataclass(frozen=True)
class NetworkInterface:
    name: str
    id: str
    vpc: str
    subnet: str
    private_ip_addresses: tuple[IPv4Address, ...]   # the first is the primary private IP
    mac_address: str
    security_groups: tuple[str, ...]
    source_dest_check: bool = True
    eips: dict[IPv4Address, IPv4Address] = field(default_factory=dict)   # private -> public
    public_ip: bool = False                          # asked for an auto-assigned public IPv4 (primary IP)
    public_ip_address: IPv4Address | None = None     # the one assigned from the lab's public pool
    attachment: Attachment | None = None
    requester_managed: bool = False
    interface_type: str = "interface"                # interface | nat_gateway | vpc_endpoint
    description: str = ""

    @property
    def private_ip_address(self) -> IPv4Address:
        return self.private_ip_addresses[0]

    @property
    def public_addresses(self) -> dict[IPv4Address, IPv4Address]:
        """private → public for every mapped private IP (EIPs, and the auto-assigned public IPv4)."""
        out = dict(self.eips)
        if self.public_ip_address is not None:
            out.setdefault(self.private_ip_address, self.public_ip_address)
        return out
