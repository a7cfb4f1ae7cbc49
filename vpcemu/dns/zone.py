"""The zone AmazonProvidedDNS answers for one VPC (aws-vpc-reference.md §9-10), built purely from a Topology.

Zone.lookup(name, qtype) gives (rcode, addresses): NXDOMAIN when the name does not exist at all,
NOERROR with no addresses (NODATA) when the name exists but has no record of that type.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address

from ..model.topology import Topology

NOERROR, NXDOMAIN, REFUSED = "NOERROR", "NXDOMAIN", "REFUSED"


def private_domain(region: str) -> str:
    return "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"


def private_hostname(address: IPv4Address, region: str) -> str:
    return f"ip-{str(address).replace('.', '-')}.{private_domain(region)}"


def reverse_name(address: IPv4Address) -> str:
    return ".".join(reversed(str(address).split("."))) + ".in-addr.arpa"


def service_names(service: str, region: str) -> tuple[str, ...]:
    names = [f"{service}.{region}.amazonaws.com"]
    if service == "s3":
        names.append("s3.amazonaws.com")
    return tuple(names)


def endpoint_names(topology: Topology, vpc_name: str) -> dict[str, tuple[IPv4Address, ...]]:
    """Interface endpoints' DNS: the `vpce-…` regional and zonal names of every endpoint (public
    records with private answers, so any VPC resolves them), and, for this VPC's endpoints with
    private DNS, the service's own names pointing at the endpoint's ENIs."""
    region, out = topology.region, {}
    for vpc in topology.vpcs.values():
        for ep in vpc.endpoints.values():
            enis = [vpc.network_interfaces[n] for n in ep.network_interfaces]
            if not enis:
                continue
            base = f"{ep.service}.{region}.vpce.amazonaws.com"
            out[f"{ep.id}.{base}"] = tuple(e.private_ip_address for e in enis)
            for e in enis:
                out[f"{ep.id}-{vpc.subnets[e.subnet].availability_zone}.{base}"] = (e.private_ip_address,)
            if ep.private_dns_enabled and vpc.name == vpc_name:
                for n in service_names(ep.service, region):
                    out[n] = tuple(e.private_ip_address for e in enis)
                    if ep.service == "s3":
                        out[f"*.{n}"] = out[n]
    return out


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


@dataclass(frozen=True)
class Zone:
    answers: bool                                   # enable_dns_support
    a: dict[str, tuple[IPv4Address, ...]] = field(default_factory=dict)
    wildcard_a: dict[str, tuple[IPv4Address, ...]] = field(default_factory=dict)   # suffix -> addrs
    ptr: dict[str, str] = field(default_factory=dict)

    def lookup(self, name: str, qtype: str = "A") -> tuple[str, tuple]:
        if not self.answers:
            return REFUSED, ()
        n = _norm(name)
        if n in self.ptr:
            return NOERROR, ((self.ptr[n],) if qtype == "PTR" else ())
        addrs = self.a.get(n)
        if addrs is None:
            for suffix, wild in self.wildcard_a.items():
                if n.endswith("." + suffix):
                    addrs = wild
                    break
        if addrs is None:
            return (NOERROR, ()) if self._is_empty_non_terminal(n) else (NXDOMAIN, ())
        return NOERROR, (addrs if qtype == "A" else ())

    def _is_empty_non_terminal(self, n: str) -> bool:
        return any(k.endswith("." + n) for k in (*self.a, *self.ptr, *self.wildcard_a))


def build_zone(topology: Topology, vpc_name: str,
               service_addresses: dict[str, tuple[IPv4Address, ...]] | None = None,
               private_overrides: dict[str, tuple[IPv4Address, ...]] | None = None) -> Zone:
    """The zone the resolver of VPC `vpc_name` serves.

    service_addresses: service -> its public addresses (s3, sqs, dynamodb...).
    private_overrides: name -> addresses from private-DNS zones of interface endpoints; they win
    over public service names (as AWS's private hosted zones do inside the VPC).
    """
    vpc = topology.vpcs[vpc_name]
    region = topology.region
    a: dict[str, tuple[IPv4Address, ...]] = {}
    wild: dict[str, tuple[IPv4Address, ...]] = {}
    ptr: dict[str, str] = {}
    if vpc.enable_dns_support and vpc.enable_dns_hostnames:
        for eni in vpc.network_interfaces.values():
            for ip in eni.private_ip_addresses:
                host = private_hostname(ip, region)
                a[host] = (ip,)
                ptr[reverse_name(ip)] = host
    for service, addrs in (service_addresses or {}).items():
        for n in service_names(service, region):
            a[n] = tuple(addrs)
        if service == "s3":
            wild[f"s3.{region}.amazonaws.com"] = tuple(addrs)
            wild["s3.amazonaws.com"] = tuple(addrs)
    for host in topology.internet_hosts.values():
        a[_norm(host.name)] = (host.ip,)
    for n, addrs in {**endpoint_names(topology, vpc_name), **(private_overrides or {})}.items():
        if n.startswith("*."):
            wild[_norm(n[2:])] = tuple(addrs)
        else:
            a[_norm(n)] = tuple(addrs)
    return Zone(answers=vpc.enable_dns_support, a=a, wildcard_a=wild, ptr=ptr)
