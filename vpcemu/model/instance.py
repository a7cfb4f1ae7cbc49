"""Instance: one namespace whose interfaces are the ENIs attached to it; eth0 is its primary ENI."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Instance:
    name: str
    id: str
    vpc: str
    subnet: str
    primary_network_interface: str
    availability_zone: str
    instance_type: str | None = None
    forwarding: bool = False          # the OS routes packets (NAT instance, firewall appliance)
