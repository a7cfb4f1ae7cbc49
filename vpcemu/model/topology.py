"""Topology: the whole lab as one immutable value, with lookups by the names users write."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from .expectation import Expectation
from .instance import Instance
from .internet import InternetHost
from .network_interface import NetworkInterface
from .peering import VpcPeeringConnection
from .prefix_list import KNOWN_SERVICES, PrefixList
from .vpc import Vpc


@dataclass(frozen=True)
class Addressing:
    """Where public addresses come from (topology-format.md); never 192.0.2.0/24 by default."""

    public: tuple[IPv4Network, ...] = (IPv4Network("198.51.100.0/24"), IPv4Network("203.0.113.0/24"))
    internet: tuple[IPv4Network, ...] = (IPv4Network("198.18.0.0/16"),)
    services: tuple[IPv4Network, ...] = (IPv4Network("198.19.0.0/16"),)

    def service_cidrs(self, service: str) -> tuple[IPv4Network, ...]:
        """Each known service owns two /24s of the services pool; its prefix list is exactly those."""
        index = KNOWN_SERVICES.index(service)
        blocks = self.services[0].subnets(new_prefix=24)
        return tuple(itertools.islice(blocks, 2 * index, 2 * index + 2))


@dataclass(frozen=True)
class Topology:
    name: str
    region: str
    vpcs: dict[str, Vpc]
    peering: dict[str, VpcPeeringConnection] = field(default_factory=dict)
    internet_hosts: dict[str, InternetHost] = field(default_factory=dict)
    services: tuple[str, ...] = ()
    prefix_lists: dict[str, PrefixList] = field(default_factory=dict)
    expect: tuple[Expectation, ...] = ()
    addressing: Addressing = field(default_factory=Addressing)

    # -- lookups by user-facing name -------------------------------------------------------
    @property
    def instances(self) -> dict[str, Instance]:
        return {name: i for vpc in self.vpcs.values() for name, i in vpc.instances.items()}

    @property
    def network_interfaces(self) -> dict[str, NetworkInterface]:
        return {name: e for vpc in self.vpcs.values() for name, e in vpc.network_interfaces.items()}

    @property
    def service_addresses(self) -> dict[str, tuple[IPv4Address, ...]]:
        """The public addresses each emulated service answers on: .10 of each of its /24s."""
        return {s: tuple(c.network_address + 10 for c in self.addressing.service_cidrs(s)) for s in self.services}

    def instance(self, name: str) -> Instance:
        return self.instances[name]

    def network_interface(self, name_or_id: str) -> NetworkInterface:
        enis = self.network_interfaces
        if name_or_id in enis:
            return enis[name_or_id]
        for eni in enis.values():
            if eni.id == name_or_id:
                return eni
        raise KeyError(name_or_id)

    def interfaces_of(self, instance: str) -> list[NetworkInterface]:
        """The ENIs attached to an instance, by device index."""
        attached = [e for e in self.network_interfaces.values()
                    if e.attachment is not None and e.attachment.instance == instance]
        return sorted(attached, key=lambda e: e.attachment.device_index)
