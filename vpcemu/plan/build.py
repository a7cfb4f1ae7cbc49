"""Topology → Plan: the namespaces, veths, addresses, policy routing and rulesets that make the VPCs real.

The VPC router (one namespace per VPC) is where AWS's rules live:
- every ENI is a veth; the router end has no address, proxy ARP and a permanent neighbour per private IP,
  so all traffic, same-subnet too, crosses the router as it crosses the hypervisor in AWS;
- nft marks each packet with its ingress subnet; policy rules then pick, in order:
  same subnet → the ENI table (route tables never apply inside a subnet),
  the subnet's route table (a `throw` per VPC CIDR stands for `local`, so a more specific middlebox route
  still wins by longest prefix), for what the IGW delivers its gateway route table (ingress routing), the
  ENI table (/32 per private IP), and a final blackhole: nothing ever falls through to `main` or leaves
  towards an address the VPC does not own.
"""
from __future__ import annotations

from ..model import NetworkInterface, RouteTable, TargetKind, Topology, Vpc, mac_address
from ..rules.mtu import network_interface_mtu
from ..rules.route_table import route_state
from . import names
from .builder import PlanBuilder
from .internet import internet, needs_internet
from .internet_gateway import internet_gateway, route_to_igw
from .nat_gateway import LINK as NAT_LINK
from .nat_gateway import nat_gateway, nat_gateway_of
from .peering import peering, route_to_peer
from .router_nft import EDGE_MARK, INSTANCE_METADATA, edge_route_table, router_ruleset
from .vpc_endpoint import endpoints, interface_endpoint, interface_endpoint_of, prefix_list_routes
from .state import Plan, RouteEntry, RuleEntry, Veth

AMAZON_DNS_LINK_LOCAL = "169.254.169.253"     # the resolver's other address, the same in every VPC
ENI_TABLE = 100
ROUTE_TABLE_BASE = 1000
INSTANCE_TABLE_BASE = 10000          # ec2-net-utils style: one table per secondary interface
SUBNET_MARK_BASE = 0x100
SUBNET_MARK_MASK = 0xFFFF
PREF_SAME_SUBNET = 1000
PREF_ROUTE_TABLE = 2000
PREF_EDGE = 2999                     # what the IGW delivers, when a gateway route table is edge-associated
PREF_ENI_TABLE = 3000
PREF_BLACKHOLE = 4000


def route_table_ids(vpc: Vpc) -> dict[str, int]:
    return {name: ROUTE_TABLE_BASE + i for i, name in enumerate(vpc.route_tables)}


def subnet_marks(vpc: Vpc) -> dict[str, int]:
    return {name: SUBNET_MARK_BASE + i for i, name in enumerate(vpc.subnets)}


def router_mac(eni: NetworkInterface) -> str:
    return mac_address("router", eni.id)


def eni_home(lab: str, vpc: Vpc, eni: NetworkInterface) -> tuple[str, str, int | None]:
    """Where an ENI's far end lives: (namespace, interface, device index), the index None when parked."""
    nat = nat_gateway_of(vpc, eni.name)
    if nat is not None:
        return names.nat_gateway_ns(lab, nat.name), NAT_LINK, 0
    endpoint = interface_endpoint_of(vpc, eni.name)
    if endpoint is not None:
        return names.vpc_endpoint_ns(lab, endpoint[0].name), names.instance_link(endpoint[1]), endpoint[1]
    if eni.attachment is None:
        return names.parking_ns(lab), names.parked_link(eni), None
    return (names.instance_ns(lab, eni.attachment.instance), names.instance_link(eni.attachment.device_index),
            eni.attachment.device_index)


def network_interface_plan(topology: Topology, lab: str, eni: NetworkInterface) -> Plan:
    """What one ENI needs: its veth, router routes and neighbours, and its instance (or parked) end."""
    builder = PlanBuilder(topology, lab)
    builder.namespace(names.parking_ns(lab))
    network_interface(builder, topology.vpcs[eni.vpc], names.router_ns(lab, eni.vpc), eni)
    return builder.result()


def plan_lab(topology: Topology, lab: str | None = None) -> Plan:
    lab = lab or topology.name
    builder = PlanBuilder(topology, lab)
    builder.namespace(names.parking_ns(lab))
    if needs_internet(topology):
        internet(builder)
    for i, vpc in enumerate(topology.vpcs.values()):
        vpc_router(builder, vpc)
        if vpc.internet_gateway:
            internet_gateway(builder, vpc, i)
    for pcx in topology.peering.values():
        peering(builder, pcx)
    endpoints(builder)
    return builder.result()


# -- one VPC -------------------------------------------------------------------------------------
def vpc_router(builder: PlanBuilder, vpc: Vpc) -> None:
    """The VPC's router, its instances, NAT gateways and interface endpoints, and every ENI between them."""
    rtr = names.router_ns(builder.lab, vpc.name)
    builder.namespace(rtr)
    builder.sysctl(rtr, "net/ipv4/ip_forward", 1)
    builder.sysctl(rtr, "net/ipv4/conf/all/send_redirects", 0)
    # the subnet gateways (+1) and the resolver address (+2) answer from the router itself
    for subnet in vpc.subnets.values():
        builder.address(rtr, "lo", str(subnet.gateway), 32)
    builder.address(rtr, "lo", str(vpc.dns_server), 32)
    builder.address(rtr, "lo", AMAZON_DNS_LINK_LOCAL, 32)
    builder.address(rtr, "lo", INSTANCE_METADATA, 32)
    # IMDS knows the asker by the mark its SYN got from the ENI link it came in on (router_nft.METADATA_RULE)
    builder.sysctl(rtr, "net/ipv4/tcp_fwmark_accept", 1)

    for inst in vpc.instances.values():
        ns = names.instance_ns(builder.lab, inst.name)
        builder.namespace(ns)
        if inst.forwarding:
            builder.sysctl(ns, "net/ipv4/ip_forward", 1)
            builder.sysctl(ns, "net/ipv4/conf/all/send_redirects", 0)
    for nat in vpc.nat_gateways.values():
        nat_gateway(builder, vpc, nat)
    for ep in vpc.endpoints.values():
        if ep.vpc_endpoint_type == "Interface":
            interface_endpoint(builder, vpc, ep)
    for eni in vpc.network_interfaces.values():
        network_interface(builder, vpc, rtr, eni)
    policy_routing(builder, vpc, rtr)
    builder.ruleset(rtr, router_ruleset(vpc, subnet_marks(vpc), builder.topology))


def network_interface(builder: PlanBuilder, vpc: Vpc, rtr: str, eni: NetworkInterface) -> None:
    subnet = vpc.subnets[eni.subnet]
    link = names.router_link(eni)
    ns, ifname, index = eni_home(builder.lab, vpc, eni)
    rmac = router_mac(eni)
    builder.veth(Veth(rtr, link, rmac, ns, ifname, eni.mac_address, eni.id, network_interface_mtu(eni)))
    builder.link_up(rtr, link)
    builder.gro_on(rtr, link)           # what the ENI sends, merged per flow: throughput through SGs and NACLs
    builder.sysctl(rtr, f"net/ipv4/conf/{link}/proxy_arp", 1)
    builder.sysctl(rtr, f"net/ipv4/neigh/{link}/proxy_delay", 0)
    for ip in eni.private_ip_addresses:
        builder.route(RouteEntry(rtr, ENI_TABLE, f"{ip}/32", ifname=link, scope="link", comment=eni.name))
        builder.neighbour(rtr, link, str(ip), eni.mac_address)
    for ip in eni.private_ip_addresses:
        builder.address(ns, ifname, str(ip), subnet.cidr_block.prefixlen)
    builder.neighbour(ns, ifname, str(subnet.gateway), rmac)
    builder.tx_checksum_off(ns, ifname)
    if index is None:
        return          # parked: down, keeping MAC, IPs and neighbours for the next attach
    builder.link_up(ns, ifname)
    if index == 0:
        builder.route(RouteEntry(ns, 254, "0.0.0.0/0", gateway=str(subnet.gateway), ifname=ifname))
        return
    # secondary interfaces: replies leave by the interface their request came in on (ec2-net-utils)
    table = INSTANCE_TABLE_BASE + index
    builder.route(RouteEntry(ns, table, "0.0.0.0/0", gateway=str(subnet.gateway), ifname=ifname),
                  RouteEntry(ns, table, str(subnet.cidr_block), ifname=ifname, scope="link"))
    for ip in eni.private_ip_addresses:
        builder.rule(RuleEntry(ns, INSTANCE_TABLE_BASE + index, table=table, source=f"{ip}/32",
                               comment=f"replies from {ip} leave by {ifname}"))


# -- route tables as policy routing --------------------------------------------------------------
def policy_routing(builder: PlanBuilder, vpc: Vpc, rtr: str) -> None:
    tables = route_table_ids(vpc)
    marks = subnet_marks(vpc)
    # IMDS's answers carry the asker's ENI mark (tcp_fwmark_accept), whose low bits may equal a subnet's mark:
    # they go straight to the ENI's /32, never through that subnet's route table
    builder.rule(RuleEntry(rtr, PREF_ROUTE_TABLE - 1, table=ENI_TABLE, source=f"{INSTANCE_METADATA}/32",
                           comment="instance metadata answers: to the ENI that asked"))
    for i, subnet in enumerate(vpc.subnets.values()):
        mark = marks[subnet.name]
        builder.rule(RuleEntry(rtr, PREF_SAME_SUBNET + i, table=ENI_TABLE, fwmark=mark, fwmask=SUBNET_MARK_MASK,
                               destination=str(subnet.cidr_block),
                               comment=f"{subnet.name}: same subnet skips route tables"))
        builder.rule(RuleEntry(rtr, PREF_ROUTE_TABLE + i, table=tables[subnet.route_table], fwmark=mark,
                               fwmask=SUBNET_MARK_MASK, comment=f"{subnet.name} → {subnet.route_table}"))
    edge = edge_route_table(vpc)
    if edge is not None:
        builder.rule(RuleEntry(rtr, PREF_EDGE, table=tables[edge], fwmark=EDGE_MARK, fwmask=SUBNET_MARK_MASK,
                               comment=f"{vpc.internet_gateway} → {edge} (gateway route table)"))
    builder.rule(RuleEntry(rtr, PREF_ENI_TABLE, table=ENI_TABLE, comment="local: every ENI private IP"))
    builder.rule(RuleEntry(rtr, PREF_BLACKHOLE, action="blackhole", comment="nothing falls through to main"))
    for rt in vpc.route_tables.values():
        route_table(builder, vpc, rtr, tables[rt.name], rt)


def route_table(builder: PlanBuilder, vpc: Vpc, rtr: str, table: int, rt: RouteTable) -> None:
    for route in rt.routes:
        kind = route.target_kind
        if kind == TargetKind.LOCAL:
            builder.route(RouteEntry(rtr, table, str(route.destination), type="throw", comment=f"{rt.name}: local"))
        elif route_state(vpc, route) == "blackhole":
            builder.route(RouteEntry(rtr, table, str(route.destination), type="blackhole",
                                     comment=f"{rt.name}: blackhole"))
        elif kind == TargetKind.GATEWAY_ENDPOINT:
            builder.route(*prefix_list_routes(builder.topology, rtr, table, rt, route))
        elif kind == TargetKind.INTERNET_GATEWAY:
            builder.route(route_to_igw(rtr, table, str(route.destination), f"{rt.name}: → {route.target}"))
        elif kind == TargetKind.VPC_PEERING:
            builder.route(route_to_peer(builder.topology, rtr, table, str(route.destination), route.target,
                                        f"{rt.name}: → {route.target}"))
        elif kind in (TargetKind.NETWORK_INTERFACE, TargetKind.NAT_GATEWAY):
            eni = vpc.network_interfaces[route.network_interface]
            builder.route(RouteEntry(rtr, table, str(route.destination), gateway=str(eni.private_ip_address),
                                     ifname=names.router_link(eni), onlink=True,
                                     comment=f"{rt.name}: → {route.target}"))
