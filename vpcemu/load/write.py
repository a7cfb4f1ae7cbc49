"""A Topology → the format-1 document that loads back to it (the loader's inverse), and any document → its
YAML text: block style for sections, one line per leaf (a subnet, a route, a rule), so a person can read
and edit it.

Everything is written explicitly, ids and addresses included (automatic ones as they were chosen), so the
document builds the same lab whatever later versions of vpcemu would choose by default.

topology_text is on every live change's path (Lab.commit writes the model), so it reuses what did not change:
a model changes by replacing the (frozen) objects that changed, and the one-line leaves made from every other
object, with their text, are taken from the lab's previous document (_Leaves).
"""
from __future__ import annotations

from collections.abc import Callable
from threading import Lock
from dataclasses import asdict
from typing import Any

import yaml

from ..model import (Addressing, Ec2ApiTiming, Expectation, Instance, MetadataOptions, NetworkAcl, NetworkAclEntry,
                     NetworkInterface, RouteTable, SecurityGroup, SecurityGroupRule, Subnet, TargetKind, Topology, Vpc,
                     VpcEndpoint)
from ..model.prefix_list import managed_prefix_list
from . import emit

Document = dict[str, Any]
Leaf = Callable[..., Document]


def _made(make: Callable[..., Document], *objects: Any) -> Document:
    return make(*objects)


def document(topology: Topology, leaf: Leaf = _made) -> Document:
    """`leaf(make, *objects)` makes each subnet, instance and standalone ENI line: `make(*objects)`."""
    t = topology
    out: Document = {"format": 1, "name": t.name, "region": t.region}
    if t.addressing != Addressing():
        out["addressing"] = {k: [str(c) for c in getattr(t.addressing, k)] for k in ("public", "internet", "services")}
    aws: Document = {}
    if t.services:
        aws["services"] = list(t.services)
    ids = {s: {"id": pl.id} for s, pl in t.prefix_lists.items()
           if pl.id != managed_prefix_list(s, t.region, pl.cidrs).id}
    if ids:
        aws["prefix_lists"] = ids
    if t.elastic_ip_ids:
        aws["elastic_ips"] = {str(ip): {"id": i} for ip, i in sorted(t.elastic_ip_ids.items())}
    if t.ec2_api != Ec2ApiTiming():
        aws["ec2_api"] = {k: v for k, v in vars(t.ec2_api).items() if v}
    if aws:
        out["aws"] = aws
    out["vpcs"] = {v.name: vpc(v, leaf) for v in t.vpcs.values()}
    if t.peering:
        out["peering"] = {p.name: {"id": p.id, "requester": p.requester, "accepter": p.accepter}
                          for p in t.peering.values()}
    if t.internet_hosts:
        out["internet"] = {"hosts": {h.name: _drop_empty({"ip": str(h.ip),
                                                          "listen": [f"{x.protocol}/{x.port}" for x in h.listen]})
                                     for h in t.internet_hosts.values()}}
    if t.expect:
        out["expect"] = [expectation(e) for e in t.expect]
    return out


def vpc(v: Vpc, leaf: Leaf = _made) -> Document:
    out: Document = {"id": v.id, "cidr": str(v.cidr_block)}
    if v.secondary_cidr_blocks:
        out["secondary_cidrs"] = [str(c) for c in v.secondary_cidr_blocks]
    out["enable_dns_support"] = v.enable_dns_support
    out["enable_dns_hostnames"] = v.enable_dns_hostnames
    if v.internet_gateway:
        out["internet_gateway"] = v.internet_gateway
        out["internet_gateway_id"] = v.internet_gateway_id
    out["subnets"] = {s.name: leaf(subnet, s) for s in v.subnets.values()}
    out["route_tables"] = {rt.name: route_table(rt) for rt in v.route_tables.values()}
    if v.nat_gateways:
        out["nat_gateways"] = {n.name: _drop_empty({
            "id": n.id, "subnet": n.subnet, "connectivity": n.connectivity_type,
            "eip": str(n.eip) if n.eip else None,
            "private_ip": str(v.network_interfaces[n.network_interface].private_ip_address),
            "network_interface_id": v.network_interfaces[n.network_interface].id}) for n in v.nat_gateways.values()}
    out["security_groups"] = {g.name: security_group(g) for g in v.security_groups.values()}
    out["network_acls"] = {a.name: network_acl(a) for a in v.network_acls.values()}
    if v.endpoints:
        out["endpoints"] = {e.name: endpoint(e, v) for e in v.endpoints.values()}
    standalone = {e.name: leaf(network_interface, e) for e in v.network_interfaces.values()
                  if not e.requester_managed and not (e.attachment and e.attachment.device_index == 0)}
    if standalone:
        out["network_interfaces"] = standalone
    if v.instances:
        out["instances"] = {i.name: leaf(instance, i, v.network_interfaces[i.primary_network_interface])
                            for i in v.instances.values()}
    return out


def subnet(s: Subnet) -> Document:
    return {"id": s.id, "cidr": str(s.cidr_block), "az": s.availability_zone, "route_table": s.route_table,
            "network_acl": s.network_acl}


def route_table(rt: RouteTable) -> Document:
    """The routes a file writes: neither the local routes nor the gateway endpoints' own prefix-list routes, unless
    routes made later follow one (then `{endpoint: NAME}` keeps its place). A route whose
    NAT gateway was deleted live keeps its target with `state: blackhole`, as AWS shows it."""
    out: Document = {"id": rt.id}
    if rt.main:
        out["main"] = True
    routes = []
    for i, r in enumerate(rt.routes):
        if r.target_kind == TargetKind.GATEWAY_ENDPOINT:
            if any(x.target_kind not in (TargetKind.LOCAL, TargetKind.GATEWAY_ENDPOINT) for x in rt.routes[i + 1:]):
                routes.append({"endpoint": r.target})
        elif r.target_kind == TargetKind.BLACKHOLE:
            routes.append({"destination": str(r.destination), "target": "blackhole"})
        elif r.target_kind != TargetKind.LOCAL:
            routes.append({"destination": str(r.destination), "target": r.target,
                           **({"state": "blackhole"} if r.state == "blackhole" else {})})
    if routes:
        out["routes"] = routes
    if rt.edge_associations:
        out["edge_associations"] = list(rt.edge_associations)
    return out


def security_group(g: SecurityGroup) -> Document:
    return _drop_empty({"id": g.id, "description": g.description or None,
                        "ingress": [permission(r, "source") for r in g.ingress],
                        "egress": [permission(r, "destination") for r in g.egress]}, keep=("ingress", "egress"))


def permission(rule: SecurityGroupRule, peer_key: str) -> Document:
    out = {"protocol": "all" if rule.protocol == "-1" else rule.protocol, **ports(rule.protocol, rule.from_port,
                                                                                     rule.to_port)}
    out[peer_key] = rule.peer_text()
    if rule.description:
        out["description"] = rule.description
    return out


def network_acl(acl: NetworkAcl) -> Document:
    return {"id": acl.id, "ingress": [acl_entry(e, "source") for e in acl.entries if not e.egress],
            "egress": [acl_entry(e, "destination") for e in acl.entries if e.egress]}


def acl_entry(e: NetworkAclEntry, peer_key: str) -> Document:
    return {"rule": e.rule_number, "protocol": "all" if e.protocol == "-1" else e.protocol,
            **ports(e.protocol, e.from_port, e.to_port), peer_key: str(e.cidr_block), "action": e.rule_action}


def ports(protocol: str, low: int | None, high: int | None) -> Document:
    """AWS's (FromPort, ToPort) as the file writes them: tcp/udp `ports` (none: all), icmp type and code."""
    if protocol in ("tcp", "udp"):
        if (low, high) == (0, 65535) or low is None:
            return {}
        return {"ports": low if low == high else f"{low}-{high}"}
    if protocol == "icmp" and low is not None:
        return {"icmp_type": low, **({"icmp_code": high} if high not in (None, -1) else {})}
    return {}


def endpoint(e: VpcEndpoint, v: Vpc) -> Document:
    if e.vpc_endpoint_type == "Gateway":
        return {"id": e.id, "type": "gateway", "service": e.service, "route_tables": list(e.route_tables)}
    enis = [v.network_interfaces[n] for n in e.network_interfaces]
    return {"id": e.id, "type": "interface", "service": e.service, "subnets": list(e.subnets),
            "security_groups": list(e.security_groups), "private_dns": e.private_dns_enabled,
            "network_interfaces": {x.subnet: {"id": x.id, "private_ip": str(x.private_ip_address)} for x in enis}}


def network_interface(e: NetworkInterface) -> Document:
    return _drop_empty({
        "id": e.id, "subnet": e.subnet, "private_ips": [str(ip) for ip in e.private_ip_addresses],
        "eips": {str(p): str(q) for p, q in e.eips.items()}, "security_groups": list(e.security_groups),
        "source_dest_check": e.source_dest_check,
        "attachment": {"instance": e.attachment.instance, "device_index": e.attachment.device_index}
        if e.attachment else None,
        "mac": e.mac_address, "description": e.description or None}, keep=("security_groups",))


def instance(i: Instance, eth0: NetworkInterface) -> Document:
    primary = eth0.private_ip_address
    out: Document = {"id": i.id, "subnet": i.subnet, "private_ip": str(primary)}
    if len(eth0.private_ip_addresses) > 1:
        out["secondary_private_ips"] = [str(ip) for ip in eth0.private_ip_addresses[1:]]
    if eth0.public_ip_address is not None:        # kept under an Elastic IP associated since (ops/elastic_ip.py)
        out["public_ip"] = str(eth0.public_ip_address)
    if set(eth0.eips) == {primary}:
        out["eip"] = str(eth0.eips[primary])
    elif eth0.eips:
        out["eips"] = {str(p): str(q) for p, q in eth0.eips.items()}
    out["security_groups"] = list(eth0.security_groups)
    if i.instance_type:
        out["instance_type"] = i.instance_type
    out["source_dest_check"] = eth0.source_dest_check
    if i.forwarding:
        out["forwarding"] = True
    out["mac"] = eth0.mac_address
    out["network_interface_id"] = eth0.id
    if i.metadata_options != MetadataOptions():
        out["metadata_options"] = asdict(i.metadata_options)
    return out


def expectation(e: Expectation) -> Document:
    out: Document = {"from": e.source, "to": e.destination, "protocol": e.protocol}
    if e.port is not None:
        out["port"] = e.port
    out["reachable"] = e.reachable
    if e.via:
        out["via"] = list(e.via)
    if e.not_via:
        out["not_via"] = list(e.not_via)
    if e.reason:
        out["reason"] = e.reason
    return out


def _drop_empty(d: Document, keep: tuple[str, ...] = ()) -> Document:
    return {k: v for k, v in d.items() if k in keep or v not in (None, [], {})}


class _Dumper(yaml.SafeDumper):
    """Sections in block style, and each leaf map or list of scalars on one line."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)          # list items indented under their key, as people write them


def _represent_dict(dumper: yaml.SafeDumper, data: dict) -> yaml.Node:
    """One line for a leaf: scalars and flat lists or maps, unless it is a section (a map of named maps)."""
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=emit.is_flow_map(data))


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=emit.is_flow_list(data))


_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(emit.Flow, _represent_dict)
_Dumper.add_representer(list, _represent_list)


def yaml_text(doc: Document, header: str = "") -> str:
    """`doc` as YAML; `header` (lines) goes first as comments."""
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    try:
        body = emit.document_text(doc)
    except emit.Unsupported:
        body = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100_000)
    return comments + _spaced(body)


def _spaced(body: str) -> str:
    """A blank line before each top-level section and each section of a VPC, so they stand apart."""
    out: list[str] = []
    top = ""
    for line in body.splitlines():
        indent = len(line) - len(line.lstrip(" "))
        if indent == 0:
            top = line.split(":", 1)[0]
        if out and ((indent == 0 and top not in ("format", "name", "region"))
                    or (top == "vpcs" and indent == 4 and line.rstrip().endswith(":"))):
            out.append("")
        out.append(line)
    return "\n".join(out) + "\n"


class _Leaves:
    """The leaves of one lab's last document, by the identity of the model objects each was made from. The
    cache holds those objects, so their ids cannot be reused while it names them; a leaf is shared only
    between documents this module writes, never handed out."""

    LABS = 8                    # a process writing more labs than this in turn starts some afresh

    def __init__(self) -> None:
        self.by_lab: dict[str, dict[tuple, tuple[tuple, emit.Flow]]] = {}
        self.lock = Lock()

    def document(self, topology: Topology) -> Document:
        with self.lock:
            last = self.by_lab.pop(topology.name, {})
        made: dict[tuple, tuple[tuple, emit.Flow]] = {}

        def leaf(make: Callable[..., Document], *objects: Any) -> Document:
            key = (make, *map(id, objects))
            hit = last.get(key)
            if hit is None:
                hit = (objects, emit.Flow(make(*objects)))
            made[key] = hit
            return hit[1]

        doc = document(topology, leaf)
        with self.lock:
            self.by_lab[topology.name] = made
            while len(self.by_lab) > self.LABS:
                del self.by_lab[next(iter(self.by_lab))]
        return doc


_leaves = _Leaves()


def topology_text(topology: Topology, header: str = "") -> str:
    return yaml_text(_leaves.document(topology), header)
