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

from ..model import Topology, mac_address
from ..rules import mtu
from . import names
from .builder import PlanBuilder
from .state import RouteEntry, Veth

# Next-hop addresses on the edge links (link-local; only the core and IGWs own theirs, on lo).
CORE_HOP = "169.254.255.1"
IGW_HOP = "169.254.255.2"
ROUTER_HOP = "169.254.255.3"       # a VPC router seen from its IGW or a peered router: never local there
REGION_HOP = "169.254.255.4"
# The internet's resolver (public DNS for the lab) answers on the core's own address, which every
# internet host reaches as its next hop; their resolv.conf names it (services/environment.py).
PUBLIC_RESOLVER = CORE_HOP
MAIN_TABLE = 254


def link_mac(lab: str, ns: str, ifname: str) -> str:
    return mac_address("edge", lab, ns, ifname)


def edge_link(builder: PlanBuilder, ns: str, ifname: str, peer_ns: str, peer_ifname: str, owner: str,
              link_mtu: int) -> tuple[str, str]:
    """A veth between two edge namespaces, both ends up; returns the two MACs."""
    mac, peer_mac = link_mac(builder.lab, ns, ifname), link_mac(builder.lab, peer_ns, peer_ifname)
    builder.veth(Veth(ns, ifname, mac, peer_ns, peer_ifname, peer_mac, owner, link_mtu))
    builder.link_up(ns, ifname)
    builder.link_up(peer_ns, peer_ifname)
    return mac, peer_mac


def hop(builder: PlanBuilder, ns: str, ifname: str, address: str, mac: str, table: int,
        destinations: list[str], comment: str) -> None:
    """Route `destinations` from `ns` out of `ifname` to the next hop `address` (a permanent neighbour)."""
    builder.neighbour(ns, ifname, address, mac)
    builder.route(*(RouteEntry(ns, table, d, gateway=address, ifname=ifname, onlink=True, comment=comment)
                    for d in destinations))


def core_link_to_igw(index: int) -> str:
    return f"g{index}"


def needs_internet(topology: Topology) -> bool:
    return bool(topology.internet_hosts or topology.services
                or any(v.internet_gateway for v in topology.vpcs.values()))


def internet(builder: PlanBuilder) -> None:
    """The core, the internet hosts and the region; IGWs attach themselves (internet_gateway.py)."""
    t, lab = builder.topology, builder.lab
    core = names.internet_ns(lab)
    builder.namespace(core)
    builder.sysctl(core, "net/ipv4/ip_forward", 1)
    builder.address(core, "lo", CORE_HOP, 32)
    for j, host in enumerate(t.internet_hosts.values()):
        ns, link = names.internet_host_ns(lab, host.name), f"h{j}"
        builder.namespace(ns)
        core_mac, host_mac = edge_link(builder, core, link, ns, "eth0", f"internet host {host.name}", mtu.INTERNET)
        builder.address(ns, "eth0", str(host.ip), 32)
        builder.tx_checksum_off(ns, "eth0")
        hop(builder, ns, "eth0", CORE_HOP, core_mac, MAIN_TABLE, ["0.0.0.0/0"], "the internet")
        builder.neighbour(core, link, str(host.ip), host_mac)
        builder.route(RouteEntry(core, MAIN_TABLE, f"{host.ip}/32", ifname=link, scope="link",
                                 comment=f"internet host {host.name}"))
    if t.services:
        ns = names.region_ns(lab)
        builder.namespace(ns)
        core_mac, region_mac = edge_link(builder, core, "aws", ns, "eth0", f"AWS region {t.region}", mtu.INTERNET)
        for addresses in t.service_addresses.values():
            for a in addresses:
                builder.address(ns, "lo", str(a), 32)
        builder.tx_checksum_off(ns, "eth0")
        hop(builder, ns, "eth0", CORE_HOP, core_mac, MAIN_TABLE, ["0.0.0.0/0"], "the internet")
        cidrs = sorted({str(c) for s in t.services for c in t.addressing.service_cidrs(s)})
        hop(builder, core, "aws", REGION_HOP, region_mac, MAIN_TABLE, cidrs, f"AWS region {t.region}")
