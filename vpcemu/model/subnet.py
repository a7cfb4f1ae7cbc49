"""Subnet: a CIDR in one Availability Zone, associated with one route table and one network ACL."""
from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network


@dataclass(frozen=True)
class Subnet:
    name: str
    id: str
    vpc: str
    cidr_block: IPv4Network
    availability_zone: str
    route_table: str
    network_acl: str

    @property
    def gateway(self) -> IPv4Address:
        """The VPC router's address in this subnet (base + 1)."""
        return self.cidr_block.network_address + 1

    def is_reserved(self, address: IPv4Address) -> bool:
        """AWS reserves the first four addresses and the last one of every subnet."""
        offset = int(address) - int(self.cidr_block.network_address)
        return offset < 4 or address == self.cidr_block.broadcast_address

    def assignable(self):
        """Addresses an ENI may hold, lowest first."""
        first = int(self.cidr_block.network_address) + 4
        last = int(self.cidr_block.broadcast_address) - 1
        return (IPv4Address(n) for n in range(first, last + 1))
