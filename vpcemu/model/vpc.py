"""Vpc: the CIDR blocks and DNS attributes of one VPC, and the resources that live in it."""
from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from .endpoint import VpcEndpoint
from .instance import Instance
from .nat_gateway import NatGateway
from .network_acl import NetworkAcl
from .network_interface import NetworkInterface
from .route_table import RouteTable
from .security_group import SecurityGroup
from .subnet import Subnet


@dataclass(frozen=True)
class Vpc:
    name: str
    id: str
    cidr_block: IPv4Network
    secondary_cidr_blocks: tuple[IPv4Network, ...] = ()
    enable_dns_support: bool = True
    enable_dns_hostnames: bool = False
    internet_gateway: str | None = None
    internet_gateway_id: str | None = None       # igw-…: set with internet_gateway
    subnets: dict[str, Subnet] = field(default_factory=dict)
    route_tables: dict[str, RouteTable] = field(default_factory=dict)
    security_groups: dict[str, SecurityGroup] = field(default_factory=dict)
    network_acls: dict[str, NetworkAcl] = field(default_factory=dict)
    nat_gateways: dict[str, NatGateway] = field(default_factory=dict)
    endpoints: dict[str, VpcEndpoint] = field(default_factory=dict)
    network_interfaces: dict[str, NetworkInterface] = field(default_factory=dict)
    instances: dict[str, Instance] = field(default_factory=dict)

    @property
    def cidr_blocks(self) -> tuple[IPv4Network, ...]:
        return (self.cidr_block, *self.secondary_cidr_blocks)

    @property
    def dns_server(self) -> IPv4Address:
        """AmazonProvidedDNS: the primary CIDR's base + 2."""
        return self.cidr_block.network_address + 2

    @property
    def main_route_table(self) -> RouteTable:
        return next(rt for rt in self.route_tables.values() if rt.main)

    def contains(self, address: IPv4Address) -> bool:
        return any(address in cidr for cidr in self.cidr_blocks)
