"""The emulated internet: a core router namespace, one namespace per internet host, and the AWS region.

    <lab>-igw-<vpc> ─ g<i> ┐
    <lab>-h-<host>  ─ h<j> ┼─ <lab>-inet (core: ip_forward, a /32 route per public address)
    <lab>-aws       ─ aws  ┘

Nothing here has a default route out of the lab: the core knows only the lab's own public addresses
(internet hosts, service prefixes, public IPs and EIPs mapped at each IGW); anything else is
unroutable inside the core. Next hops across these links are fixed addresses with permanent
neighbours (the peer's planned MAC), so no ARP is ever needed and no transit subnet is consumed.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import Topology, mac_address
from . import names
from .state import Address, Neighbour, RouteEntry, Veth

if TYPE_CHECKING:
    from .build import _PlanBuilder

# Next-hop addresses on the edge links (link-local; only the core and IGWs own theirs, on lo).
CORE_HOP = "169.254.255.1"
IGW_HOP = "169.254.255.2"
ROUTER_HOP = "169.254.255.3"       # a VPC router seen from its IGW or a peered router: never local there
REGION_HOP = "169.254.255.4"
MAIN_TABLE = 254


def link_mac(lab: str, ns: str, ifname: str) -> str:
    return mac_address("edge", lab, ns, ifname)


def edge_link(builder: "_PlanBuilder", ns: str, ifname: str, peer_ns: str, peer_ifname: str, owner: str) -> tuple[str, str]:
    """A veth between two edge namespaces, both ends up; returns the two MACs."""
    mac, peer_mac = link_mac(builder.lab, ns, ifname), link_mac(builder.lab, peer_ns, peer_ifname)
    builder.veths.append(Veth(ns, ifname, mac, peer_ns, peer_ifname, peer_mac, owner))
    builder.links_up += [(ns, ifname), (peer_ns, peer_ifname)]
    return mac, peer_mac


def hop(builder: "_PlanBuilder", ns: str, ifname: str, address: str, mac: str, table: int,
        destinations: list[str], comment: str) -> None:
    """Route `destinations` from `ns` out of `ifname` to the next hop `address` (a permanent neighbour)."""
    builder.neighbours.append(Neighbour(ns, ifname, address, mac))
    for d in destinations:
        builder.routes.append(RouteEntry(ns, table, d, gateway=address, ifname=ifname, onlink=True, comment=comment))


def core_link_to_igw(index: int) -> str:
    return f"g{index}"


def needs_internet(topology: Topology) -> bool:
    return bool(topology.internet_hosts or topology.services
                or any(v.internet_gateway for v in topology.vpcs.values()))


def internet(builder: "_PlanBuilder") -> None:
    """The core, the internet hosts and the region; IGWs attach themselves (internet_gateway.py)."""
    t, lab = builder.t, builder.lab
    core = names.internet_ns(lab)
    builder.namespaces.append(core)
    builder.sysctl(core, "net/ipv4/ip_forward", 1)
    builder.addresses.append(Address(core, "lo", CORE_HOP, 32))
    for j, host in enumerate(t.internet_hosts.values()):
        ns, link = names.internet_host_ns(lab, host.name), f"h{j}"
        builder.namespaces.append(ns)
        core_mac, host_mac = edge_link(builder, core, link, ns, "eth0", f"internet host {host.name}")
        builder.addresses.append(Address(ns, "eth0", str(host.ip), 32))
        builder.tx_off.append((ns, "eth0"))
        hop(builder, ns, "eth0", CORE_HOP, core_mac, MAIN_TABLE, ["0.0.0.0/0"], "the internet")
        builder.neighbours.append(Neighbour(core, link, str(host.ip), host_mac))
        builder.routes.append(RouteEntry(core, MAIN_TABLE, f"{host.ip}/32", ifname=link, scope="link",
                                         comment=f"internet host {host.name}"))
    if t.services:
        ns = names.region_ns(lab)
        builder.namespaces.append(ns)
        core_mac, region_mac = edge_link(builder, core, "aws", ns, "eth0", f"AWS region {t.region}")
        for service, addresses in t.service_addresses.items():
            builder.addresses += [Address(ns, "lo", str(a), 32) for a in addresses]
        builder.tx_off.append((ns, "eth0"))
        hop(builder, ns, "eth0", CORE_HOP, core_mac, MAIN_TABLE, ["0.0.0.0/0"], "the internet")
        cidrs = sorted({str(c) for s in t.services for c in t.addressing.service_cidrs(s)})
        hop(builder, core, "aws", REGION_HOP, region_mac, MAIN_TABLE, cidrs, f"AWS region {t.region}")
