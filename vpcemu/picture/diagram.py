"""The topology as a diagram in the AWS console's VPC resource map vocabulary: the VPC box, a dashed box per
Availability Zone, subnets public (a route to the internet gateway) or private, instances with their ENIs,
NAT gateways and endpoint ENIs in their subnets, route tables beside them, the internet gateway at the
edge, the internet and the AWS region outside. Relationships are solid edges, traffic dotted.

A Diagram is a plain value, the same for the same topology (everything sorted or in document order), so
its DOT and Mermaid text can be compared with golden files; `components` maps the component names
probes and analyses report (`eni web-1.eth0`, `igw igw`, …) to the node that stands for them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..model import TargetKind, Topology, Vpc

RELATIONSHIP, TRAFFIC = "relationship", "traffic"


@dataclass(frozen=True)
class Node:
    id: str
    kind: str                   # vpc | subnet | instance | network-interface | nat-gateway | interface-endpoint |
    #                             gateway-endpoint | route-table | internet-gateway | peering | internet |
    #                             internet-host | aws-service
    title: str                  # the name, shown first and in bold
    lines: tuple[str, ...] = ()  # what else the console shows of it: id, addresses, routes


@dataclass(frozen=True)
class Cluster:
    id: str
    kind: str                   # vpc | availability-zone | subnet-public | subnet-private | internet | region
    label: str
    nodes: tuple[Node, ...] = ()
    clusters: tuple["Cluster", ...] = ()


@dataclass(frozen=True)
class Edge:
    tail: str
    head: str
    kind: str                   # relationship (solid) | traffic (dotted)
    label: str = ""


@dataclass(frozen=True)
class Diagram:
    title: str
    clusters: tuple[Cluster, ...]
    nodes: tuple[Node, ...]     # outside every cluster: internet gateways, peering connections
    edges: tuple[Edge, ...]
    components: dict[str, str] = field(default_factory=dict)    # probe/analysis component → node id

    def all_nodes(self) -> list[Node]:
        out = list(self.nodes)
        stack = list(self.clusters)
        while stack:
            c = stack.pop(0)
            out.extend(c.nodes)
            stack[0:0] = c.clusters
        return out


def is_public(vpc: Vpc, subnet: str) -> bool:
    """AWS calls a subnet public when its route table has a route to an internet gateway."""
    table = vpc.route_tables[vpc.subnets[subnet].route_table]
    return any(r.target_kind is TargetKind.INTERNET_GATEWAY for r in table.routes)


def _addresses(eni) -> str:
    public = eni.public_addresses
    return ", ".join(f"{ip} → {public[ip]}" if ip in public else str(ip) for ip in eni.private_ip_addresses)


def build_diagram(topology: Topology) -> Diagram:
    components: dict[str, str] = {}
    edges: list[Edge] = []
    top_nodes: list[Node] = []
    clusters: list[Cluster] = []
    for vpc in topology.vpcs.values():
        clusters.append(_vpc_cluster(topology, vpc, components, edges, top_nodes))
    for p in topology.peering.values():
        node = f"pcx {p.name}"
        top_nodes.append(Node(node, "peering", f"peering {p.name}", (p.id,)))
        components[f"peering {p.name}"] = node
        edges += [Edge(f"vpc {p.requester}", node, RELATIONSHIP, "requester"),
                  Edge(node, f"vpc {p.accepter}", RELATIONSHIP, "accepter")]
    if topology.internet_hosts or any(v.internet_gateway for v in topology.vpcs.values()):
        hosts = [Node("internet", "internet", "internet",
                      tuple(str(c) for c in (*topology.addressing.internet, *topology.addressing.public)))]
        for h in topology.internet_hosts.values():
            hosts.append(Node(f"host {h.name}", "internet-host", h.name,
                              (str(h.ip), " ".join(f"{x.protocol}/{x.port}" for x in h.listen))))
            components[f"internet host {h.name}"] = f"host {h.name}"
        clusters.append(Cluster("internet", "internet", "the internet", tuple(hosts)))
    if topology.services:
        services = []
        addresses = topology.service_addresses
        for s in topology.services:
            services.append(Node(f"service {s}", "aws-service", s, (", ".join(map(str, addresses[s])),)))
            components[f"aws service {s}"] = f"service {s}"
        clusters.append(Cluster("region", "region", f"AWS region {topology.region}", tuple(services)))
    return Diagram(f"lab {topology.name} ({topology.region})", tuple(clusters), tuple(top_nodes), tuple(edges),
                   components)


def _vpc_cluster(topology: Topology, vpc: Vpc, components: dict[str, str], edges: list[Edge],
                 top_nodes: list[Node]) -> Cluster:
    v = vpc.name
    anchor = Node(f"vpc {v}", "vpc", f"VPC {v}", (vpc.id, ", ".join(map(str, vpc.cidr_blocks))))
    zones: dict[str, list[Cluster]] = {}
    for s in vpc.subnets.values():
        zones.setdefault(s.availability_zone, []).append(_subnet_cluster(topology, vpc, s.name, components, edges))
        edges.append(Edge(f"subnet {v}/{s.name}", f"rtb {v}/{s.route_table}", RELATIONSHIP))
    az_clusters = tuple(Cluster(f"az {v}/{az}", "availability-zone", az, (), tuple(subs))
                        for az, subs in sorted(zones.items()))
    tables = []
    for rt in vpc.route_tables.values():
        node = f"rtb {v}/{rt.name}"
        components[f"route-table {rt.name}"] = node
        lines = [rt.id + (" (main)" if rt.main else "")]
        for r in rt.routes:
            dest = str(r.destination) if r.destination else f"{r.destination_prefix_list_id}"
            lines.append(f"{dest} → {r.target}")
            target = _route_target(vpc, r)
            if target is not None:
                edges.append(Edge(node, target, RELATIONSHIP, dest))
        tables.append(Node(node, "route-table", f"route table {rt.name}", tuple(lines)))
    gateways = []
    for ep in vpc.endpoints.values():
        if ep.vpc_endpoint_type == "Gateway":
            node = f"vpce {v}/{ep.name}"
            gateways.append(Node(node, "gateway-endpoint", f"gateway endpoint {ep.name}",
                                 (ep.id, ep.service_name(topology.region))))
            components[f"vpc-endpoint {ep.name}"] = node
            components[f"vpc-endpoint {ep.name} (region side)"] = node
            edges.append(Edge(node, f"service {ep.service}", TRAFFIC))
    if vpc.internet_gateway:
        node = f"igw {v}"
        top_nodes.append(Node(node, "internet-gateway", f"internet gateway {vpc.internet_gateway}",
                              (vpc.internet_gateway_id or "",)))
        components[f"igw {vpc.internet_gateway}"] = node
        edges += [Edge(anchor.id, node, RELATIONSHIP, "attached"), Edge(node, "internet", TRAFFIC)]
    return Cluster(f"vpc {v}", "vpc", f"VPC {v}", (anchor, *tables, *gateways), az_clusters)


def _route_target(vpc: Vpc, route) -> str | None:
    v, kind = vpc.name, route.target_kind
    if kind is TargetKind.INTERNET_GATEWAY:
        return f"igw {v}"
    if kind is TargetKind.NAT_GATEWAY:
        return f"nat {v}/{route.target}"
    if kind is TargetKind.GATEWAY_ENDPOINT:
        return f"vpce {v}/{route.target}"
    if kind is TargetKind.VPC_PEERING:
        return f"pcx {route.target}"
    if kind is TargetKind.NETWORK_INTERFACE and route.network_interface:
        eni = vpc.network_interfaces[route.network_interface]
        return f"instance {eni.attachment.instance}" if eni.attachment else f"eni {v}/{eni.name}"
    return None                 # local and blackhole routes are lines in the table, not edges


def _subnet_cluster(topology: Topology, vpc: Vpc, subnet: str, components: dict[str, str],
                    edges: list[Edge]) -> Cluster:
    v, s = vpc.name, vpc.subnets[subnet]
    public = is_public(vpc, subnet)
    anchor = Node(f"subnet {v}/{subnet}", "subnet", subnet,
                  (f"{'public' if public else 'private'} subnet", str(s.cidr_block), s.id))
    components[f"subnet {subnet}"] = anchor.id
    nodes = [anchor]
    for inst in vpc.instances.values():
        if inst.subnet != subnet:
            continue
        node = f"instance {inst.name}"
        lines = [inst.id + (f" {inst.instance_type}" if inst.instance_type else "")]
        for eni in topology.interfaces_of(inst.name):
            components[f"eni {eni.name}"] = node
            components[f"{inst.name} eth{eni.attachment.device_index}"] = node
            lines.append(f"eth{eni.attachment.device_index} {eni.id} {_addresses(eni)}")
        nodes.append(Node(node, "instance", inst.name, tuple(lines)))
    for nat in vpc.nat_gateways.values():
        if nat.subnet == subnet:
            node = f"nat {v}/{nat.name}"
            eni = vpc.network_interfaces[nat.network_interface]
            nodes.append(Node(node, "nat-gateway", f"NAT gateway {nat.name}",
                              (nat.id, f"{nat.connectivity_type} {eni.private_ip_address}"
                               + (f" → {nat.eip}" if nat.eip else ""))))
            components[f"nat-gateway {nat.name}"] = components[f"eni {eni.name}"] = node
            if nat.connectivity_type == "public" and vpc.internet_gateway:
                edges.append(Edge(node, f"igw {v}", TRAFFIC))
    for ep in vpc.endpoints.values():
        for name in ep.network_interfaces:
            eni = vpc.network_interfaces[name]
            if eni.subnet == subnet:
                node = f"eni {v}/{name}"
                nodes.append(Node(node, "interface-endpoint", f"interface endpoint {ep.name}",
                                  (ep.id, f"{eni.id} {eni.private_ip_address}")))
                components[f"eni {name}"] = node
                components.setdefault(f"vpc-endpoint {ep.name}", node)
                edges.append(Edge(node, f"service {ep.service}", TRAFFIC))
    for eni in vpc.network_interfaces.values():
        if eni.subnet == subnet and eni.attachment is None and not eni.requester_managed:
            node = f"eni {v}/{eni.name}"
            nodes.append(Node(node, "network-interface", eni.name, (f"{eni.id} (available)", _addresses(eni))))
            components[f"eni {eni.name}"] = node
    kind = "subnet-public" if public else "subnet-private"
    return Cluster(f"subnet cluster {v}/{subnet}", kind, f"{subnet} {s.cidr_block}", tuple(nodes))
