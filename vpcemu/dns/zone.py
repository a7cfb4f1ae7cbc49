"""The zones the lab's resolvers answer (aws-vpc-reference.md §9-10), built purely from a Topology:
each VPC's AmazonProvidedDNS (build_zone) and the public DNS of the lab's internet (build_public_zone),
and every AWS name the lab serves (service, endpoint and instance names), which the lab CA's
certificate covers too (certificate_names).

Zone.lookup(name, qtype) gives (rcode, addresses): NXDOMAIN when the name does not exist at all,
NOERROR with no addresses (NODATA) when the name exists but has no record of that type.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from ..model.topology import Topology
from ..model.vpc import Vpc

NOERROR, NXDOMAIN, REFUSED = "NOERROR", "NXDOMAIN", "REFUSED"


def private_domain(region: str) -> str:
    return "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"


def private_hostname(address: IPv4Address, region: str) -> str:
    return f"ip-{str(address).replace('.', '-')}.{private_domain(region)}"


def public_domain(region: str) -> str:
    return "compute-1.amazonaws.com" if region == "us-east-1" else f"{region}.compute.amazonaws.com"


def public_hostname(address: IPv4Address, region: str) -> str:
    """An instance's public DNS name (`ec2-198-51-100-10.compute-1.amazonaws.com` in us-east-1)."""
    return f"ec2-{str(address).replace('.', '-')}.{public_domain(region)}"


def reverse_name(address: IPv4Address) -> str:
    return ".".join(reversed(str(address).split("."))) + ".in-addr.arpa"


def service_names(service: str, region: str) -> tuple[str, ...]:
    """A service's public names (S3's global name too)."""
    names = [f"{service}.{region}.amazonaws.com"]
    if service == "s3":
        names.append("s3.amazonaws.com")
    return tuple(names)


def service_wildcards(service: str, region: str) -> tuple[str, ...]:
    """The names under which every name is the service's (S3's virtual-hosted buckets)."""
    return (f"s3.{region}.amazonaws.com", "s3.amazonaws.com") if service == "s3" else ()


def endpoint_domain(service: str, region: str) -> str:
    """Where an interface endpoint's own names live: `<service>.<region>.vpce.amazonaws.com`."""
    return f"{service}.{region}.vpce.amazonaws.com"


def certificate_names(services: Iterable[str], region: str) -> list[str]:
    """Every name a client may reach the lab's services by, as the region's certificate lists them: each
    service's public names and bucket names, and (one wildcard per service) every interface endpoint's
    regional and zonal name, including endpoints made after the certificate."""
    names: list[str] = []
    for s in services:
        names += [*service_names(s, region), *(f"*.{w}" for w in service_wildcards(s, region)),
                  f"*.{endpoint_domain(s, region)}"]
    return names


def endpoint_dns_names(topology: Topology, vpc: Vpc, ep) -> dict[str, tuple[IPv4Address, ...]]:
    """An interface endpoint's own DNS names, as AWS shows them: the regional name (every ENI) first,
    then one zonal name per ENI's Availability Zone. Public records with private answers."""
    enis = [vpc.network_interfaces[n] for n in ep.network_interfaces]
    if ep.vpc_endpoint_type != "Interface" or not enis:
        return {}
    domain = endpoint_domain(ep.service, topology.region)
    out = {f"{ep.dns_id}.{domain}": tuple(e.private_ip_address for e in enis)}
    for e in enis:
        out[f"{ep.dns_id}-{vpc.subnets[e.subnet].availability_zone}.{domain}"] = (e.private_ip_address,)
    return out


def endpoint_dns_entries(topology: Topology, vpc: Vpc, ep) -> list[str]:
    """An endpoint's DnsEntries as describe-vpc-endpoints lists them: regional, zonal, then the service's
    own names when private DNS is on."""
    own = list(endpoint_dns_names(topology, vpc, ep))
    return own + (list(service_names(ep.service, topology.region)) if own and ep.private_dns_enabled else [])


def endpoint_names(topology: Topology, vpc_name: str | None) -> dict[str, tuple[IPv4Address, ...]]:
    """Interface endpoints' DNS: the `vpce-…` names of every endpoint (any VPC, and the internet,
    resolves them), and, for VPC `vpc_name`'s endpoints with private DNS, the service's own names
    pointing at the endpoint's ENIs (None: the public view, without private DNS)."""
    region, out = topology.region, {}
    for vpc in topology.vpcs.values():
        for ep in vpc.endpoints.values():
            own = endpoint_dns_names(topology, vpc, ep)
            out.update(own)
            if own and ep.private_dns_enabled and vpc.name == vpc_name:
                enis = tuple(vpc.network_interfaces[n].private_ip_address for n in ep.network_interfaces)
                for n in service_names(ep.service, region):
                    out[n] = enis
                for w in service_wildcards(ep.service, region):
                    out[f"*.{w}"] = enis
    return out


def instance_public_names(topology: Topology) -> dict[str, tuple[str, IPv4Address, IPv4Address]]:
    """public DNS name → (VPC, private IP, public IP) for each public address of an instance's ENIs,
    in VPCs with both DNS attributes on (otherwise AWS gives no public DNS names)."""
    out = {}
    for vpc in topology.vpcs.values():
        if not (vpc.enable_dns_support and vpc.enable_dns_hostnames):
            continue
        for eni in vpc.network_interfaces.values():
            if eni.attachment is None:
                continue
            for private, public in eni.public_addresses.items():
                out[public_hostname(public, topology.region)] = (vpc.name, private, public)
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
    # an instance's public name is its private IP inside its own VPC and its public IP elsewhere
    for n, (owner, private, public) in instance_public_names(topology).items():
        a[n] = (private if owner == vpc_name else public,)
    for n, addrs in {**endpoint_names(topology, vpc_name), **(private_overrides or {})}.items():
        if n.startswith("*."):
            wild[_norm(n[2:])] = tuple(addrs)
        else:
            a[_norm(n)] = tuple(addrs)
    return Zone(answers=vpc.enable_dns_support, a=a, wildcard_a=wild, ptr=ptr)


def build_public_zone(topology: Topology) -> Zone:
    """What public DNS answers for the lab, as the internet's resolver serves it: the services'
    public names, every interface endpoint's `vpce-…` names (the ENIs' private IPs, as on AWS),
    instances' public names (their public IPs, with PTR records), the internet hosts; NXDOMAIN
    for the rest. Private DNS of endpoints and private hostnames are never public."""
    a: dict[str, tuple[IPv4Address, ...]] = {}
    wild: dict[str, tuple[IPv4Address, ...]] = {}
    ptr: dict[str, str] = {}
    for service, addrs in topology.service_addresses.items():
        for n in service_names(service, topology.region):
            a[n] = tuple(addrs)
        for w in service_wildcards(service, topology.region):
            wild[w] = tuple(addrs)
    for host in topology.internet_hosts.values():
        a[_norm(host.name)] = (host.ip,)
    for n, (_, _, public) in instance_public_names(topology).items():
        a[n] = (public,)
        ptr[reverse_name(public)] = n
    a.update(endpoint_names(topology, None))
    return Zone(answers=True, a=a, wildcard_a=wild, ptr=ptr)
