"""Elastic IP: an address of the lab's public pools, associated with one private IP of one ENI at a time,
in a VPC that has an internet gateway (where the mapping lives)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from ipaddress import IPv4Address, IPv4Network

from ..codes import ErrorCode
from ..errors import UsageError
from ..model import Topology, Vpc


def public_address(ip: IPv4Address, pools: Sequence[IPv4Network], reserved: Sequence[IPv4Network] = ()) -> IPv4Address:
    """An address of the lab's public pools, or any public unicast address (an imported EIP keeps its real one: a
    lab's internet is a closed set of namespaces, so it never reaches the real holder). `reserved`: pools vpcemu
    gives to something else (the AWS services' addresses)."""
    clash = next((pool for pool in reserved if ip in pool), None)
    if clash is not None:
        raise UsageError(f"{ip} is in {clash}, the pool of the emulated AWS services' addresses",
                         ErrorCode.INVALID_ADDRESS_NOT_FOUND, hint="choose an address outside `addressing.services`")
    if not any(ip in pool for pool in pools) and not is_public_unicast(ip):
        raise UsageError(f"{ip} is not in the lab's public address pools ({', '.join(map(str, pools))}) and is "
                         f"{special_range(ip)}, not a public unicast address", ErrorCode.INVALID_ADDRESS_NOT_FOUND,
                         hint="Elastic IPs come from 198.51.100.0/24 and 203.0.113.0/24 unless `addressing.public` "
                              "says otherwise, or are real public addresses")
    return ip


# IANA's IPv4 special-purpose registry (RFC 6890 and its updates), most specific first
SPECIAL_RANGES = (
    ("0.0.0.0/8", "a \"this network\" address"), ("10.0.0.0/8", "a private (RFC 1918) address"),
    ("100.64.0.0/10", "a shared address (RFC 6598)"), ("127.0.0.0/8", "a loopback address"),
    ("169.254.0.0/16", "a link-local address"), ("172.16.0.0/12", "a private (RFC 1918) address"),
    ("192.0.0.0/24", "an IETF protocol assignment"), ("192.0.2.0/24", "a documentation address (TEST-NET-1)"),
    ("192.168.0.0/16", "a private (RFC 1918) address"), ("198.18.0.0/15", "a benchmarking address (RFC 2544)"),
    ("198.51.100.0/24", "a documentation address (TEST-NET-2)"), ("203.0.113.0/24", "a documentation address "
                                                                                     "(TEST-NET-3)"),
    ("224.0.0.0/4", "a multicast address"), ("240.0.0.0/4", "a reserved address"))


def special_range(ip: IPv4Address) -> str:
    return next((what for cidr, what in SPECIAL_RANGES if ip in IPv4Network(cidr)), "a special-purpose address")


def is_public_unicast(ip: IPv4Address) -> bool:
    """Globally routable unicast (IANA's special-purpose registry: not private, shared, loopback, link-local,
    documentation, benchmarking, reserved or multicast)."""
    return ip.is_global and not ip.is_multicast


def not_associated(ip: IPv4Address, holder: str | None, requester_managed: bool = False) -> None:
    """`holder`: where the address is associated now (None: free)."""
    if holder is not None:
        raise UsageError(f"Elastic IP {ip} is already associated at {holder}", ErrorCode.RESOURCE_ALREADY_ASSOCIATED,
                         hint="a NAT gateway's Elastic IP stays until the NAT gateway is deleted" if requester_managed
                         else "an Elastic IP maps to one private IP at a time; allow reassociation to move it")


def own_private_ip(network_interface: str, addresses: Sequence[IPv4Address], private: IPv4Address) -> IPv4Address:
    if private not in addresses:
        raise UsageError(f"{private} is not a private IP of this ENI ({network_interface}: "
                         f"{', '.join(map(str, addresses))})", ErrorCode.INVALID_PARAMETER_VALUE,
                         hint="an Elastic IP is associated with one of the ENI's own private IPs")
    return private


def gateway_attached(vpc: Vpc, network_interface: str) -> None:
    if not vpc.internet_gateway:
        raise UsageError(f"VPC {vpc.name} has no internet gateway, so an Elastic IP cannot be associated with "
                         f"{network_interface}", ErrorCode.GATEWAY_NOT_ATTACHED,
                         hint="give the VPC `internet_gateway: igw` in the topology")


def lab_public_addresses(topology: Topology) -> dict[IPv4Address, str]:
    """Every public address of a lab (EIPs, public IPv4s, internet hosts) → what holds it."""
    out = {pub: f"network interface {eni.name}" for eni in topology.network_interfaces.values()
           for pub in eni.public_addresses.values()}
    out.update({h.ip: f"internet host {h.name}" for h in topology.internet_hosts.values()})
    return out


def off_host_networks(addresses: Mapping[IPv4Address, str], networks: Mapping[IPv4Network, str]) -> None:
    """`networks`: the host's own (network → its interface); a lab's public address may be in none of them."""
    clashes = [f"{ip} ({holder}) is in {net}, the network of this host's {ifname}"
               for ip, holder in addresses.items() for net, ifname in networks.items() if ip in net]
    if clashes:
        raise UsageError("; ".join(clashes), ErrorCode.INVALID_ADDRESS_NOT_FOUND,
                         hint="a lab's public addresses stay off the host's own networks: choose other addresses")
