"""Topology: the whole lab as one immutable value, with lookups by the names users write and by AWS's ids."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field, fields
from functools import cached_property
from ipaddress import IPv4Address, IPv4Network

from ..errors import UsageError
from .expectation import Expectation
from .ids import ID_RE, aws_id
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
class Ec2ApiTiming:
    """How long the lab's EC2 API takes to carry out a change after accepting it (`aws.ec2_api`): AWS takes
    seconds to attach an ENI or move an address, and a drill may want to rehearse with those seconds."""

    attachment_delay_ms: int = 0      # AttachNetworkInterface, DetachNetworkInterface
    association_delay_ms: int = 0     # AssociateAddress, DisassociateAddress, AssignPrivateIpAddresses


@dataclass(frozen=True)
class Named:
    """What an AWS id stands for: the resource's kind (its id's prefix: i, eni, subnet, rtb, sg, acl, igw, nat,
    vpce, pcx, pl, vpc, eipalloc), its VPC (None for peering connections, prefix lists and Elastic IPs, which are
    the lab's) and its name (an Elastic IP's: its address)."""

    kind: str
    vpc: str | None
    name: str


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
    # Elastic IP → its AllocationId where the lab keeps AWS's (an import); else allocation_id derives one
    elastic_ip_ids: dict[IPv4Address, str] = field(default_factory=dict)
    ec2_api: Ec2ApiTiming = field(default_factory=Ec2ApiTiming)

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
        return enis[name_or_id] if name_or_id in enis else enis[self.name_of(name_or_id, "eni")]

    def allocation_id(self, elastic_ip: IPv4Address) -> str:
        """The AllocationId of an Elastic IP: AWS's as imported, else one derived from the address."""
        return self.elastic_ip_ids.get(elastic_ip) or aws_id("eipalloc", str(elastic_ip))

    @property
    def elastic_ips(self) -> set[IPv4Address]:
        """Every Elastic IP of the lab: associated with an ENI's private IP or a NAT gateway, or kept by id."""
        out = {pub for e in self.network_interfaces.values() for pub in e.eips.values()}
        out |= {n.eip for v in self.vpcs.values() for n in v.nat_gateways.values() if n.eip is not None}
        return out | set(self.elastic_ip_ids)

    # -- lookups by AWS id -----------------------------------------------------------------------
    @cached_property
    def ids(self) -> dict[str, Named]:
        """Every AWS id in the lab → what it names; made once per Topology, which never changes. An id that is
        also the name of another resource of its kind is left out: a name means what it names."""
        found: list[tuple[str, Named]] = []
        for v in self.vpcs.values():
            found.append((v.id, Named("vpc", None, v.name)))
            if v.internet_gateway and v.internet_gateway_id:
                found.append((v.internet_gateway_id, Named("igw", v.name, v.internet_gateway)))
            for kind, section in (("subnet", v.subnets), ("rtb", v.route_tables), ("sg", v.security_groups),
                                  ("acl", v.network_acls), ("nat", v.nat_gateways), ("vpce", v.endpoints),
                                  ("eni", v.network_interfaces), ("i", v.instances)):
                found.extend((r.id, Named(kind, v.name, name)) for name, r in section.items())
        found.extend((p.id, Named("pcx", None, name)) for name, p in self.peering.items())
        found.extend((p.id, Named("pl", None, name)) for name, p in self.prefix_lists.items())
        found.extend((self.allocation_id(ip), Named("eipalloc", None, str(ip))) for ip in sorted(self.elastic_ips))
        names: dict[str, set[str]] = {}
        for _, n in found:
            names.setdefault(n.kind, set()).add(n.name)
        return {i: n for i, n in found if i == n.name or i not in names[n.kind]}

    def named(self, value: str, *kinds: str) -> Named | None:
        """What `value` names if it is the AWS id of a resource of one of `kinds`; else None (it may be a name)."""
        if not isinstance(value, str) or not ID_RE.match(value):
            return None                 # no id: the index is not needed (nor made)
        found = self.ids.get(value)
        return found if found is not None and found.kind in kinds else None

    def name_of(self, value: str, *kinds: str) -> str:
        """The name of the resource of one of `kinds` whose AWS id `value` is; else `value` itself."""
        found = self.named(value, *kinds)
        return value if found is None else found.name

    def __getstate__(self) -> dict:
        # only the fields: the index is made again when it is needed (a lab's model cache pickles Topologies)
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def address_seen_by(self, source: str, destination: str) -> IPv4Address | None:
        """The address `source` sends to when it names the instance or ENI `destination` (names or ids): from
        the internet (an internet host), its public IP (the EIP or auto-assigned public IPv4 of its primary
        private IP, else its first); None when `destination` is no instance or ENI or the source is in a VPC,
        where the private IP is the one used. The one rule for probe, matrix, verify, drills and the analysis."""
        if self.name_of(source, "i", "eni") not in self.internet_hosts:
            return None
        name = self.name_of(destination, "i", "eni")
        if name in self.instances:
            inst = self.instances[name]
            eni = self.vpcs[inst.vpc].network_interfaces[inst.primary_network_interface]
        elif name in self.network_interfaces:
            eni = self.network_interfaces[name]
        else:
            return None
        mapped = eni.public_addresses
        if not mapped:
            raise UsageError(f"{destination} has no public IP: from internet host {source} its private address "
                             f"{eni.private_ip_address} is not reachable",
                             hint="associate an Elastic IP (`vpcemu eip associate`), or send from inside the VPC")
        return mapped.get(eni.private_ip_address) or next(iter(mapped.values()))

    def interfaces_of(self, instance: str) -> list[NetworkInterface]:
        """The ENIs attached to an instance, by device index."""
        attached = [e for e in self.network_interfaces.values()
                    if e.attachment is not None and e.attachment.instance == instance]
        return sorted(attached, key=lambda e: e.attachment.device_index)
