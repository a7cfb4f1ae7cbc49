"""NatGateway: a requester-managed ENI in a subnet that translates sources to its private IP."""
from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address


@dataclass(frozen=True)
class NatGateway:
    name: str
    id: str
    vpc: str
    subnet: str
    connectivity_type: str              # public | private
    network_interface: str              # its requester-managed ENI
    eip: IPv4Address | None = None
