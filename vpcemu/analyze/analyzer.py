"""One flow walked through the model, component by component, as the emulated data path moves it.

The walk follows the kernel's order, so its verdict and its explanation agree with a probe's:
- in a VPC router, the peering check (prerouting), then the routing decision — same subnet goes
  straight to the ENI, otherwise the source subnet's route table (`local` hands over to the ENIs),
  packets from the IGW, a peering connection or the region only to the ENIs — then the forward
  hook: source check of the sending ENI, its security groups' egress, the source subnet's NACL
  egress, the destination subnet's NACL ingress, the receiving ENI's security groups' ingress, its
  destination check (a gateway endpoint's protocol check comes before all of them);
- addresses of the router itself (subnet gateways, the resolver at +2 and 169.254.169.253) are
  answered by the router: never filtered, and only to the VPC's own ENIs;
- the IGW (1:1 NAT and its drops), NAT gateways (source NAT, source in the VPC only, no answer of
  its own), gateway endpoints (TCP and echo only), interface endpoints (TCP forwarded to the service
  from the endpoint ENI's address, nothing answered), peering (for the peer's CIDRs only), forwarding
  instances (middleboxes), the internet (hosts, the region's service addresses, mapped public IPs).
The return leg is the answer walked back from where the request arrived. Security groups let it
through by state where its request made the state (a middlebox's two sides are tracked apart, as AWS
tracks each ENI: an answer that comes back through a middlebox its request did not cross meets the
middlebox's rules); NACLs, routes and source/destination checks judge it like any packet; NAT gateways
and interface endpoints undo their translation only for a flow they translated, and an answer routed
through a NAT gateway its request did not cross is lost, so an answer that arrives is the answer.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from ipaddress import IPv4Address, IPv4Network
from typing import NamedTuple

from ..codes import ExplanationCode
from ..errors import UsageError
from ..model import (Instance, NatGateway, NetworkAclEntry, NetworkInterface, SecurityGroupRule, Subnet, TargetKind,
                     Topology, Vpc, VpcEndpoint)
from ..plan.build import AMAZON_DNS_LINK_LOCAL
from ..plan.internet_gateway import public_mappings
from ..plan.nat_gateway import PORTS as NAT_GATEWAY_PORTS
from ..plan.router_nft import (edge_route_table, gateway_routes, middlebox_destinations, middlebox_routes,
                               source_dest_checked)
from ..plan.security_group import filtered, group_members, sg_rules
from ..plan.vpc_endpoint import gateway_endpoints
from ..rules.route_table import route_state
from .filters import network_acl_decision, security_group_match
from .result import ECHO_REQUEST, Analysis, Blocked, Hop, Packet
from .routes import RouteLookup

PROTOCOLS = ("icmp", "tcp", "udp")
EPHEMERAL_PORT = 40000          # the client's source port when none is given (Linux: 32768-60999)
MAX_ROUTER_PASSES = 32          # a routing loop through forwarding instances ends here
RFC1918 = tuple(IPv4Network(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
RFC6598 = IPv4Network("100.64.0.0/10")


class Link(NamedTuple):
    """A VPC router's interface: `eni` (an ENI's link), `igw`, `pcx` (a peering) or `gwe` (a gateway endpoint)."""

    kind: str
    name: str


@dataclass(frozen=True)
class Delivered:
    """Where a packet arrived: `eni` (an instance's), `host`, `service` or `router` (a VPC router itself)."""

    kind: str
    name: str                   # the ENI, internet host, service or VPC
    pkt: Packet
    via: tuple = ()             # service: ("internet",) | ("gateway", vpc, endpoint) |
    #                             ("endpoint", vpc, endpoint, eni, client packet); router: (component, kind)


class Analyzer:
    """Indexes of one topology, so each flow is a few dictionary lookups per component."""

    def __init__(self, topology: Topology):
        t = self.topology = topology
        self.enis = t.network_interfaces
        self.eni_ids = {e.id: e for e in self.enis.values()}
        self.instances = t.instances
        self.subnet_of: dict[str, Subnet] = {e.name: t.vpcs[e.vpc].subnets[e.subnet] for e in self.enis.values()}
        self.owners = {v.name: {ip: e for e in v.network_interfaces.values() for ip in e.private_ip_addresses}
                       for v in t.vpcs.values()}
        self.attached: dict[str, list[NetworkInterface]] = {name: [] for name in self.instances}
        self.homes: dict[str, Instance | NatGateway | VpcEndpoint] = {}
        for eni in sorted(self.enis.values(), key=lambda e: e.attachment.device_index if e.attachment else 0):
            if eni.attachment is not None and eni.attachment.instance in self.instances:
                self.attached[eni.attachment.instance].append(eni)
                self.homes[eni.name] = self.instances[eni.attachment.instance]
        self.instance_ips = {i: frozenset(ip for e in enis for ip in e.private_ip_addresses)
                             for i, enis in self.attached.items()}
        self.endpoint_ips: dict[str, frozenset[IPv4Address]] = {}
        self.router_local: dict[str, dict[IPv4Address, tuple[str, str]]] = {}
        self.routes: dict[tuple[str, str], RouteLookup] = {}
        self.public: dict[IPv4Address, tuple[str, IPv4Address]] = {}      # public → (VPC, private)
        self.to_public: dict[str, dict[IPv4Address, IPv4Address]] = {}
        self.gateway_endpoint_names: dict[str, str] = {}
        # middleboxes: the router tracks each side of one on its own (plan/router_nft.py middlebox_zones)
        self.middleboxes: dict[str, set[str]] = {}
        self.to_middlebox: dict[str, list[tuple[str, IPv4Network]]] = {}
        self.edge: dict[str, str | None] = {}          # VPC → its IGW's gateway route table
        for v in t.vpcs.values():
            routes = middlebox_routes(v)
            self.middleboxes[v.name] = {r.network_interface for _, r in (*routes, *gateway_routes(v))}
            self.to_middlebox[v.name] = middlebox_destinations(v)
            self.edge[v.name] = edge_route_table(v)
        prefix_lists = {pl.id: pl for pl in t.prefix_lists.values()}
        for v in t.vpcs.values():
            for nat in v.nat_gateways.values():
                self.homes[nat.network_interface] = nat
            for ep in v.endpoints.values():
                self.homes.update((n, ep) for n in ep.network_interfaces)
                self.endpoint_ips[ep.name] = frozenset(v.network_interfaces[n].private_ip_address
                                                       for n in ep.network_interfaces)
            local = {s.gateway: (f"vpc-router {v.name}", "vpc-router") for s in v.subnets.values()}
            for address in (v.dns_server, IPv4Address(AMAZON_DNS_LINK_LOCAL)):
                local[address] = (f"resolver {v.name}", "resolver")
            self.router_local[v.name] = local
            self.routes.update({(v.name, rt.name): RouteLookup(rt, prefix_lists) for rt in v.route_tables.values()})
            if v.internet_gateway:
                self.to_public[v.name] = public_mappings(v)
                self.public.update((pub, (v.name, priv)) for priv, pub in self.to_public[v.name].items())
            names = ",".join(e.name for e in gateway_endpoints(v))
            if names:
                self.gateway_endpoint_names[v.name] = names
        self.hosts = {h.ip: h for h in t.internet_hosts.values()}
        self.services = {a: s for s, addresses in t.service_addresses.items() for a in addresses}
        self.service_cidrs = tuple(c for s in t.services for c in t.addressing.service_cidrs(s))
        self.peers = {p.name: (p.requester, p.accepter) for p in t.peering.values()}
        self._sg_rules: dict[tuple[str, bool], list[tuple[str, SecurityGroupRule]]] = {}
        self._members: dict[tuple[str, str], frozenset[IPv4Address]] = {}
        self._acl_entries: dict[tuple[str, str, bool], list[NetworkAclEntry]] = {}

    # -- names → things ----------------------------------------------------------------------------
    def network_interface(self, name_or_id: str) -> NetworkInterface | None:
        return self.enis.get(name_or_id) or self.eni_ids.get(name_or_id)

    def address_of(self, destination: str) -> IPv4Address:
        """A destination's address as a VPC reaches it (Topology.address_seen_by says what the internet uses)."""
        t = self.topology
        eni = self.network_interface(self.instances[destination].primary_network_interface
                                     if destination in self.instances else destination)
        if eni is not None:
            return eni.private_ip_address
        if destination in t.internet_hosts:
            return t.internet_hosts[destination].ip
        if destination in t.service_addresses:
            return t.service_addresses[destination][0]
        try:
            return IPv4Address(destination)
        except ValueError:
            raise UsageError(f"{destination!r} is not an instance, ENI, internet host, AWS service or IPv4 address "
                             f"of lab {t.name}", hint=f"services here: {', '.join(t.services) or 'none'}") from None

    def egress_interface(self, instance: Instance, src: IPv4Address | None, dst: IPv4Address) -> NetworkInterface:
        """The ENI an instance's OS sends by: a secondary ENI's own addresses leave by it (ec2-net-utils
        rules), otherwise the ENI whose subnet holds the destination, otherwise eth0 (the default route)."""
        enis = self.attached[instance.name]
        for e in enis:
            if src is not None and e.attachment.device_index > 0 and src in e.private_ip_addresses:
                return e
        return next((e for e in enis if dst in self.subnet_of[e.name].cidr_block), enis[0])

    # -- rules, cached per topology ------------------------------------------------------------------
    def sg_rules(self, vpc: Vpc, eni: NetworkInterface, egress: bool) -> list[tuple[str, SecurityGroupRule]]:
        key = (eni.name, egress)
        if key not in self._sg_rules:
            self._sg_rules[key] = sg_rules(vpc, eni, egress)
        return self._sg_rules[key]

    def acl_entries(self, vpc: Vpc, acl: str, egress: bool) -> list[NetworkAclEntry]:
        key = (vpc.name, acl, egress)
        if key not in self._acl_entries:
            self._acl_entries[key] = vpc.network_acls[acl].ordered(egress)
        return self._acl_entries[key]

    def peer_in(self, vpc: Vpc, rule: SecurityGroupRule, address: IPv4Address) -> bool:
        """Is `address` the rule's peer: in its CIDR, a private IP of its group's members, in its prefix list?"""
        if rule.cidr is not None:
            return address in rule.cidr
        if rule.group is not None:
            key = (vpc.name, rule.group)
            if key not in self._members:
                self._members[key] = frozenset(IPv4Address(a) for a in group_members(self.topology, vpc, rule.group))
            return address in self._members[key]
        pl = self.topology.prefix_lists.get(rule.prefix_list)
        return pl is not None and any(address in c for c in pl.cidrs)

    # -- one flow ----------------------------------------------------------------------------------
    def flow(self, source: str, destination: str, protocol: str = "icmp", port: int | None = None,
             source_port: int = EPHEMERAL_PORT) -> Analysis:
        if protocol not in PROTOCOLS:
            raise UsageError(f"protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}")
        if protocol in ("tcp", "udp") and (port is None or not 1 <= port <= 65535):
            raise UsageError(f"a {protocol} flow needs a port between 1 and 65535")
        if protocol == "icmp" and port is not None:
            raise UsageError("an icmp flow has no port")
        # names are unique across instances, ENIs and internet hosts (the loader claims each one); an instance or
        # ENI may be given by its AWS id
        source, destination = (self.topology.name_of(x, "i", "eni") for x in (source, destination))
        dst = self.topology.address_seen_by(source, destination) or self.address_of(destination)
        sender, src = self._sender(source, dst)
        if protocol == "icmp":
            pkt = Packet(src, dst, protocol, icmp_type=ECHO_REQUEST)
        else:
            pkt = Packet(src, dst, protocol, source_port, port)
        result = Analysis(source, destination, protocol, port, str(src), str(dst), reachable=False)
        translations: dict = {}
        tracked: set = set()
        forward = _Leg(self, "forward", translations, tracked)
        result.forward = forward.hops
        try:
            arrived = forward.send(sender, pkt)
        except Blocked as b:
            result.explanations.append(b.explanation)
            return result
        back = _Leg(self, "return", translations, tracked)
        result.return_path = back.hops
        try:
            back.answer(arrived)
            result.reachable = True
        except Blocked as b:
            result.explanations.append(b.explanation)
        result.warnings += asymmetric_routing(forward, back)
        return result

    def _sender(self, source: str, dst: IPv4Address) -> tuple[NetworkInterface | str, IPv4Address]:
        """The sending ENI (or internet host name) and its address."""
        if source in self.instances:
            eni = self.egress_interface(self.instances[source], None, dst)
            return eni, eni.private_ip_address
        eni = self.network_interface(source)
        if eni is not None:
            return eni, eni.private_ip_address
        if source in self.topology.internet_hosts:
            return source, self.topology.internet_hosts[source].ip
        raise UsageError(f"{source!r} is not an instance, ENI or internet host of lab {self.topology.name}",
                         hint="a flow starts at an instance, an ENI attached to one, or an internet host")


def asymmetric_routing(forward: "_Leg", back: "_Leg") -> list[str]:
    """AWS does not support asymmetric routing through a middlebox (gateway-route-tables.html: "Return traffic
    must be routed through the same appliance"): when the answer's routing, as far as it went, crosses other
    appliances than its request, say so, naming the route tables each leg used. The answer is judged once its
    routing has left the appliances behind (a decision to somewhere other than an appliance), so an answer
    stopped before it was routed says nothing."""
    if not back.settled:
        return []
    there, again = forward.appliances(), back.appliances()
    if there == again:
        return []
    tables = [", ".join(dict.fromkeys(h.component.removeprefix("route-table ") for h in leg.hops
                                      if h.kind == "route-table")) or "none" for leg in (forward, back)]
    return [f"asymmetric routing: the request crossed {', '.join(there) or 'no appliance'} (route tables: "
            f"{tables[0]}), the answer {', '.join(again) or 'no appliance'} (route tables: {tables[1]}); AWS does "
            "not support it: route both directions through the same appliance"]


class _Leg:
    """One leg of a flow (forward: the request; return: the answer), walked from component to component.
    Each step either hands the packet on or raises `Blocked`; the hops it passed are in `hops`."""

    def __init__(self, analyzer: Analyzer, name: str, translations: dict, tracked: set):
        self.a = analyzer
        self.name = name
        self.translations = translations        # what NAT gateways did on the way out, shared by both legs
        self.tracked = tracked                  # the routers' connection-tracking entries the request made
        self.hops: list[Hop] = []
        self.passes = 0
        self.routed: list[str | None] = []     # each routing decision: the appliance it went to, or None

    @property
    def settled(self) -> bool:
        """Has the leg been routed somewhere other than an appliance (so its appliances are all known)?"""
        return None in self.routed

    def appliances(self) -> list[str]:
        return list(dict.fromkeys(x for x in self.routed if x is not None))

    def new(self, vpc: Vpc, link: Link, pkt: Packet) -> bool:
        """Does the router's connection tracking see this pass as new (security groups judge it)? The
        request's passes are; an answer's pass is established only where its request made the entry:
        in the same conntrack zone (a middlebox's two sides are tracked apart, as AWS tracks each ENI)."""
        zone: tuple = (vpc.name,)
        if link.kind == "eni":
            a = self.a
            if link.name in a.middleboxes[vpc.name]:
                owner = a.owners[vpc.name].get(pkt.dst)
                zone = (vpc.name, owner.name) if owner else (vpc.name,)     # no ENI has the address: no zone
            elif any(sub == a.subnet_of[link.name].name and pkt.dst in cidr for sub, cidr in a.to_middlebox[vpc.name]) \
                    or getattr(a.owners[vpc.name].get(pkt.dst), "name", None) in a.middleboxes[vpc.name]:
                zone = (vpc.name, link.name)
        if self.name == "forward":
            self.tracked.add(zone)
            return True
        return zone not in self.tracked

    def hop(self, component: str, kind: str, pkt: Packet, **extra) -> None:
        self.hops.append(Hop.of(component, kind, pkt, **extra))

    def block(self, component: str, code: ExplanationCode, **fields) -> None:
        raise Blocked({"code": ExplanationCode(code), **{k: str(v) for k, v in fields.items()}, "component": component,
                       "leg": self.name})

    # -- ends ----------------------------------------------------------------------------------------
    def send(self, sender: NetworkInterface | str, pkt: Packet) -> Delivered:
        if isinstance(sender, str):
            self.hop(f"internet host {sender}", "internet-host", pkt)
            return self.internet(pkt)
        if sender.name not in self.a.homes or not isinstance(self.a.homes[sender.name], Instance):
            self.block(f"eni {sender.name}", ExplanationCode.BAD_STATE_ATTACHMENT, eni=sender.name,
                       detail="only-a-network-interface-attached-to-an-instance-sends")
        self.hop(f"eni {sender.name}", "eni", pkt)
        return self.router(self.a.topology.vpcs[sender.vpc], Link("eni", sender.name), pkt)

    def answer(self, arrived: Delivered) -> Delivered:
        """The answer to a request that arrived, from where it arrived."""
        a, pkt = self.a, arrived.pkt.reply()
        if arrived.kind == "eni":
            out = a.egress_interface(a.homes[arrived.name], pkt.src, pkt.dst)
            self.hop(f"eni {out.name}", "eni", pkt)
            return self.router(a.topology.vpcs[out.vpc], Link("eni", out.name), pkt)
        if arrived.kind == "host":
            self.hop(f"internet host {arrived.name}", "internet-host", pkt)
            return self.internet(pkt)
        if arrived.kind == "router":
            component, kind = arrived.via
            self.hop(component, kind, pkt)
            vpc = a.topology.vpcs[arrived.name]
            owner = a.owners[vpc.name].get(pkt.dst)
            if owner is None:
                self.block(component, ExplanationCode.NO_POSSIBLE_DESTINATION, vpc=vpc.name,
                           detail="the-VPC-router-answers-only-its-own-network-interfaces")
            return self.arrive(vpc, owner, pkt)       # the router's own answers meet no filter
        self.hop(f"aws service {arrived.name}", "aws-service", pkt)
        how = arrived.via
        if how[0] == "internet":
            return self.internet(pkt)
        vpc = a.topology.vpcs[how[1]]
        if how[0] == "gateway":
            self.hop(f"vpc-endpoint {how[2]}", "vpc-endpoint", pkt)
            return self.router(vpc, Link("gwe", how[2]), pkt)
        request = how[4]                          # the interface endpoint undoes its translation
        pkt = pkt.with_(src=request.dst, dst=request.src)
        self.hop(f"vpc-endpoint {how[2]}", "vpc-endpoint", pkt)
        self.hop(f"eni {how[3]}", "eni", pkt)
        return self.router(vpc, Link("eni", how[3]), pkt)

    # -- the VPC router ----------------------------------------------------------------------------
    def router(self, vpc: Vpc, link: Link, pkt: Packet) -> Delivered:
        self.passes += 1
        if self.passes > MAX_ROUTER_PASSES:
            self.block(f"vpc-router {vpc.name}", ExplanationCode.NO_PATH, detail="routing-loop")
        if link.kind == "pcx" and not vpc.contains(pkt.dst):
            self.block(f"peering {link.name}", ExplanationCode.PCX_REQUIRES_ADDRESS_IN_VPC_CIDR, direction="ingress",
                       peering=link.name, vpc=vpc.name)
        local = self.a.router_local[vpc.name].get(pkt.dst)
        if local is not None:
            self.hop(*local, pkt)
            return Delivered("router", vpc.name, pkt, local)
        out = self.route(vpc, link, pkt)
        home = self.a.homes.get(out.name) if out.kind == "eni" else None
        self.routed.append(home.name if isinstance(home, Instance) and home.forwarding
                           and pkt.dst not in self.a.instance_ips[home.name] else None)
        self.forward_hook(vpc, link, out, pkt)
        if out.kind == "eni":
            return self.arrive(vpc, self.a.enis[out.name], pkt)
        if out.kind == "igw":
            return self.igw_egress(vpc, pkt)
        if out.kind == "pcx":
            self.hop(f"peering {out.name}", "peering", pkt)
            requester, accepter = self.a.peers[out.name]
            peer = self.a.topology.vpcs[accepter if vpc.name == requester else requester]
            return self.router(peer, out, pkt)
        self.hop(f"vpc-endpoint {out.name}", "vpc-endpoint", pkt)
        return self.region(pkt, ("gateway", vpc.name, out.name))

    def route(self, vpc: Vpc, link: Link, pkt: Packet) -> Link:
        """The router's routing decision: where the packet leaves the router."""
        owner = self.a.owners[vpc.name].get(pkt.dst)
        if link.kind == "eni":
            subnet = self.a.subnet_of[link.name]
            if owner is not None and pkt.dst in subnet.cidr_block:
                return Link("eni", owner.name)        # same subnet: no route table
            table = subnet.route_table
            component = f"route-table {table}"
            choice = self.a.routes[vpc.name, table].lookup(pkt.dst)
            if choice is None:
                self.block(component, ExplanationCode.NO_ROUTE_TO_DESTINATION, route_table=table, destination=pkt.dst)
            route = choice.route
            self.hop(component, "route-table", pkt,
                     route={"destination": choice.destination, "target": route.target or "blackhole"})
            kind = route.target_kind
            if route_state(vpc, route) == "blackhole":
                self.block(component, ExplanationCode.BAD_STATE_ROUTE, route_table=table,
                           route=f"{table} {choice.destination} state=blackhole")
            if kind in (TargetKind.NETWORK_INTERFACE, TargetKind.NAT_GATEWAY):
                return Link("eni", route.network_interface)
            if kind != TargetKind.LOCAL:
                return Link({TargetKind.INTERNET_GATEWAY: "igw", TargetKind.VPC_PEERING: "pcx",
                             TargetKind.GATEWAY_ENDPOINT: "gwe"}[kind], route.target)
        elif link.kind == "igw" and self.a.edge[vpc.name] is not None:
            appliance = self.gateway_route_table(vpc, pkt)
            if appliance is not None:
                return appliance
        if owner is None:                              # `local`: the router's table of ENI addresses
            self.block(f"vpc-router {vpc.name}", ExplanationCode.NO_POSSIBLE_DESTINATION, vpc=vpc.name, address=pkt.dst,
                       detail="no-network-interface-has-this-address")
        return Link("eni", owner.name)

    def gateway_route_table(self, vpc: Vpc, pkt: Packet) -> Link | None:
        """Ingress routing: the IGW's gateway route table, looked up for what the IGW delivers (already translated
        to the private IP, as AWS delivers it); None for its `local` route."""
        table = self.a.edge[vpc.name]
        component = f"route-table {table}"
        choice = self.a.routes[vpc.name, table].lookup(pkt.dst)
        if choice is None or choice.route.target_kind == TargetKind.LOCAL:
            return None
        route = choice.route
        self.hop(component, "route-table", pkt, route={"destination": choice.destination, "target": route.target})
        if route_state(vpc, route) == "blackhole":
            self.block(component, ExplanationCode.BAD_STATE_ROUTE, route_table=table,
                       route=f"{table} {choice.destination} state=blackhole")
        eni = vpc.network_interfaces[route.network_interface]
        if not eni.public_addresses:
            self.block(component, ExplanationCode.INGRESS_RTB_NO_PUBLIC_IP, direction="ingress",
                       igw=vpc.internet_gateway, route_table=table, eni=eni.name)
        return Link("eni", eni.name)

    def forward_hook(self, vpc: Vpc, link: Link, out: Link, pkt: Packet) -> None:
        """The router's filters, in the order of their nft hook priorities."""
        a = self.a
        new = self.new(vpc, link, pkt)
        if out.kind == "gwe" and not (pkt.protocol == "tcp" or pkt.icmp_type == ECHO_REQUEST):
            self.block(f"vpc-endpoint {out.name}", ExplanationCode.VPCE_GATEWAY_PROTOCOL_RESTRICTION,
                       direction="egress", vpc_endpoint=a.gateway_endpoint_names[vpc.name])
        if link.kind == "eni":
            eni = a.enis[link.name]
            if source_dest_checked(eni) and pkt.src not in eni.private_ip_addresses:
                self.block(f"eni {eni.name}", ExplanationCode.ENI_SOURCE_DEST_CHECK_RESTRICTION, direction="egress",
                           eni=eni.name)
            if new and filtered(eni):
                self.security_groups(vpc, eni, pkt, egress=True)
            subnet = a.subnet_of[eni.name]
            if pkt.dst not in subnet.cidr_block:
                self.network_acl(vpc, subnet, pkt, egress=True)
        if out.kind == "eni":
            eni = a.enis[out.name]
            subnet = a.subnet_of[eni.name]
            if pkt.src not in subnet.cidr_block:
                self.network_acl(vpc, subnet, pkt, egress=False)
            if new and filtered(eni):
                self.security_groups(vpc, eni, pkt, egress=False)
            if source_dest_checked(eni) and pkt.dst not in eni.private_ip_addresses:
                self.block(f"eni {eni.name}", ExplanationCode.ENI_SOURCE_DEST_CHECK_RESTRICTION, direction="ingress",
                           eni=eni.name)

    def security_groups(self, vpc: Vpc, eni: NetworkInterface, pkt: Packet, egress: bool) -> None:
        direction = "egress" if egress else "ingress"
        match = security_group_match(self.a.sg_rules(vpc, eni, egress), pkt, egress, partial(self.a.peer_in, vpc))
        if match is None:
            self.block(f"eni {eni.name}", ExplanationCode.ENI_SG_RULES_MISMATCH, direction=direction, eni=eni.name,
                       sg=",".join(eni.security_groups))
        group, rule = match
        self.hop(f"security-group {group}", "check", pkt, direction=direction, rule=f"eni={eni.name} {rule.describe()}")

    def network_acl(self, vpc: Vpc, subnet: Subnet, pkt: Packet, egress: bool) -> None:
        direction = "egress" if egress else "ingress"
        acl = subnet.network_acl
        entry = network_acl_decision(self.a.acl_entries(vpc, acl, egress), pkt, egress)
        if entry is None or entry.rule_action != "allow":
            self.block(f"network-acl {acl}", ExplanationCode.SUBNET_ACL_RESTRICTION, direction=direction, acl=acl,
                       subnet=subnet.name, rule="*" if entry is None else entry.rule_number)
        self.hop(f"network-acl {acl}", "check", pkt, direction=direction,
                 rule=f"subnet={subnet.name} {entry.describe()}")

    # -- behind an ENI -------------------------------------------------------------------------------
    def arrive(self, vpc: Vpc, eni: NetworkInterface, pkt: Packet) -> Delivered:
        home = self.a.homes.get(eni.name)
        if home is None:
            self.block(f"eni {eni.name}", ExplanationCode.NO_POSSIBLE_DESTINATION, eni=eni.name,
                       detail="the-network-interface-is-detached")
        self.hop(f"eni {eni.name}", "eni", pkt)
        if isinstance(home, NatGateway):
            return self.nat_gateway(vpc, home, eni, pkt)
        if isinstance(home, VpcEndpoint):
            return self.interface_endpoint(vpc, home, eni, pkt)
        if pkt.dst in self.a.instance_ips[home.name]:
            return Delivered("eni", eni.name, pkt)
        if not home.forwarding:
            self.block(f"eni {eni.name}", ExplanationCode.NO_POSSIBLE_DESTINATION, eni=eni.name,
                       detail="the-instance-does-not-forward-packets")
        out = self.a.egress_interface(home, None, pkt.dst)      # a middlebox routes it on
        if out.name != eni.name:
            self.hop(f"eni {out.name}", "eni", pkt)
        return self.router(vpc, Link("eni", out.name), pkt)

    def nat_gateway(self, vpc: Vpc, nat: NatGateway, eni: NetworkInterface, pkt: Packet) -> Delivered:
        component = f"nat-gateway {nat.name}"
        if pkt.dst in eni.private_ip_addresses:
            request = self.translations.get((nat.name, pkt.src, pkt.sport, pkt.dport, pkt.protocol))
            if request is None:
                detail = "a-NAT-gateway-does-not-answer-ping" if pkt.icmp_type == ECHO_REQUEST else \
                    "no-unsolicited-inbound-connections"
                self.block(component, ExplanationCode.NO_POSSIBLE_DESTINATION, nat_gateway=nat.name, detail=detail)
            pkt = pkt.with_(dst=request.src, dport=request.sport, dport_range=None)
        elif self.name == "return":
            # an answer routed out through a NAT gateway its request never crossed leaves with another source
            self.block(component, ExplanationCode.NGW_SOURCE_ADDRESS_REASSIGN, nat_gateway=nat.name,
                       detail="asymmetric-routing-the-answer-would-leave-from-the-NAT-gateway")
        elif not vpc.contains(pkt.src):
            self.block(component, ExplanationCode.NGW_REQUIRES_SOURCE_IN_VPC, nat_gateway=nat.name,
                       detail="connections-must-start-in-its-VPC")
        else:
            translated = pkt.with_(src=eni.private_ip_address,
                                   sport_range=NAT_GATEWAY_PORTS if pkt.protocol in ("tcp", "udp") else None)
            self.translations[(nat.name, translated.dst, translated.dport, translated.sport, pkt.protocol)] = pkt
            pkt = translated
        self.hop(component, "nat-gateway", pkt)
        return self.router(vpc, Link("eni", eni.name), pkt)

    def interface_endpoint(self, vpc: Vpc, ep: VpcEndpoint, eni: NetworkInterface, pkt: Packet) -> Delivered:
        component = f"vpc-endpoint {ep.name}"
        if pkt.dst not in self.a.endpoint_ips[ep.name] or pkt.protocol != "tcp":
            detail = "an-interface-endpoint-does-not-answer-ping" if pkt.icmp_type == ECHO_REQUEST else \
                "an-interface-endpoint-forwards-only-TCP-to-its-service"
            self.block(component, ExplanationCode.NO_POSSIBLE_DESTINATION, vpc_endpoint=ep.name, detail=detail)
        forwarded = pkt.with_(src=eni.private_ip_address, dst=self.a.topology.service_addresses[ep.service][0])
        self.hop(component, "vpc-endpoint", forwarded)
        return self.region(forwarded, ("endpoint", vpc.name, ep.name, eni.name, pkt))

    # -- outside the VPCs ----------------------------------------------------------------------------
    def igw_egress(self, vpc: Vpc, pkt: Packet) -> Delivered:
        igw = vpc.internet_gateway
        component = f"igw {igw}"
        if any(pkt.dst in n for n in RFC1918):
            self.block(component, ExplanationCode.IGW_DESTINATION_ADDRESS_NOT_IN_RFC1918_EGRESS, direction="egress",
                       igw=igw)
        if pkt.dst in RFC6598:
            self.block(component, ExplanationCode.IGW_DESTINATION_ADDRESS_NOT_IN_RFC6598_EGRESS, direction="egress",
                       igw=igw)
        public = self.a.to_public[vpc.name].get(pkt.src)
        if public is None:
            self.block(component, ExplanationCode.IGW_PUBLIC_IP_ASSOCIATION_FOR_EGRESS, direction="egress", igw=igw)
        pkt = pkt.with_(src=public)
        self.hop(component, "igw", pkt)
        return self.internet(pkt)

    def internet(self, pkt: Packet) -> Delivered:
        """The internet core routes only the lab's hosts, the region's service prefixes and mapped public IPs."""
        host = self.a.hosts.get(pkt.dst)
        if host is not None:
            self.hop(f"internet host {host.name}", "internet-host", pkt)
            return Delivered("host", host.name, pkt)
        if any(pkt.dst in c for c in self.a.service_cidrs):
            return self.region(pkt, ("internet",))
        mapped = self.a.public.get(pkt.dst)
        if mapped is None:
            self.block("internet", ExplanationCode.NO_POSSIBLE_DESTINATION, address=pkt.dst,
                       detail="no-internet-host-service-or-public-IP-has-this-address")
        vpc = self.a.topology.vpcs[mapped[0]]
        igw = vpc.internet_gateway
        component = f"igw {igw}"
        if any(pkt.src in n for n in RFC1918):
            self.block(component, ExplanationCode.IGW_SOURCE_ADDRESS_NOT_IN_RFC1918_INGRESS, direction="ingress",
                       igw=igw)
        if pkt.src in RFC6598:
            self.block(component, ExplanationCode.IGW_SOURCE_ADDRESS_NOT_IN_RFC6598_INGRESS, direction="ingress",
                       igw=igw)
        pkt = pkt.with_(dst=mapped[1])
        self.hop(component, "igw", pkt)
        return self.router(vpc, Link("igw", igw), pkt)

    def region(self, pkt: Packet, via: tuple) -> Delivered:
        service = self.a.services.get(pkt.dst)
        if service is None:
            self.block(f"aws region {self.a.topology.region}", ExplanationCode.NO_POSSIBLE_DESTINATION, address=pkt.dst,
                       detail="no-service-answers-at-this-address")
        self.hop(f"aws service {service}", "aws-service", pkt)
        return Delivered("service", service, pkt, via)
