"""What a running lab is made of, as plain data: VPCs, subnets, route tables, instances, ENIs."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .dns.zone import endpoint_dns_entries
from .kernel.journal import Journal
from .kernel.netns import netns_inode
from .kernel.process import supervisor_health
from .lifecycle import BROKEN, BUILDING, CRASHED, DAMAGED, builder_alive, condition
from .plan import names
from .plan.nat_gateway import nat_gateway_of
from .plan.vpc_endpoint import interface_endpoint_of
from .rules.route_table import route_state

if TYPE_CHECKING:
    from .lab import Lab


def route_text(vpc, route) -> dict:
    dest = str(route.destination) if route.destination else route.destination_prefix_list_id
    return {"destination": dest, "target": route.target, "target_type": route.target_kind.value,
            "state": route_state(vpc, route), "origin": route.origin}


def _manager(vpc, eni: str) -> str | None:
    """The NAT gateway or VPC endpoint a requester-managed ENI belongs to."""
    nat, endpoint = nat_gateway_of(vpc, eni), interface_endpoint_of(vpc, eni)
    return nat.name if nat else endpoint[0].name if endpoint else None


def lab_status(lab: "Lab") -> dict:
    t = lab.topology
    state = lab.journal.state()
    namespaces = lab.journal.live_namespaces()
    missing = [ns for ns in namespaces if netns_inode(ns) is None]
    vpcs = []
    for vpc in t.vpcs.values():
        vpcs.append({
            "name": vpc.name, "id": vpc.id, "cidr_blocks": [str(c) for c in vpc.cidr_blocks],
            "router_namespace": names.router_ns(lab.name, vpc.name),
            "subnets": [{"name": s.name, "id": s.id, "cidr": str(s.cidr_block), "az": s.availability_zone,
                         "route_table": s.route_table, "network_acl": s.network_acl}
                        for s in vpc.subnets.values()],
            "route_tables": [{"name": rt.name, "id": rt.id, "main": rt.main, "edge_associations": list(rt.edge_associations),
                              "routes": [route_text(vpc, r) for r in rt.routes]} for rt in vpc.route_tables.values()],
            "instances": [{"name": i.name, "id": i.id, "subnet": i.subnet, "az": i.availability_zone,
                           "namespace": names.instance_ns(lab.name, i.name), "forwarding": i.forwarding}
                          for i in vpc.instances.values()],
            "internet_gateway": {"name": vpc.internet_gateway,
                                 "namespace": names.internet_gateway_ns(lab.name, vpc.name)} if vpc.internet_gateway else None,
            "nat_gateways": [{"name": n.name, "id": n.id, "subnet": n.subnet, "connectivity_type": n.connectivity_type,
                              "private_ip": str(vpc.network_interfaces[n.network_interface].private_ip_address),
                              "eip": str(n.eip) if n.eip else None,
                              "namespace": names.nat_gateway_ns(lab.name, n.name)} for n in vpc.nat_gateways.values()],
            "endpoints": [{"name": e.name, "id": e.id, "type": e.vpc_endpoint_type, "service": e.service,
                           "route_tables": list(e.route_tables), "network_interfaces": list(e.network_interfaces),
                           "private_dns": e.private_dns_enabled, "subnets": list(e.subnets),
                           "security_groups": list(e.security_groups),
                           "prefix_list_id": t.prefix_lists[e.service].id if e.vpc_endpoint_type == "Gateway" else None,
                           "dns_names": endpoint_dns_entries(t, vpc, e)} for e in vpc.endpoints.values()],
            "network_interfaces": [{
                "name": e.name, "id": e.id, "subnet": e.subnet, "mac": e.mac_address,
                "private_ips": [str(ip) for ip in e.private_ip_addresses],
                "public_ips": {str(k): str(v) for k, v in e.public_addresses.items()},
                "security_groups": list(e.security_groups), "source_dest_check": e.source_dest_check,
                "requester_managed": e.requester_managed, "interface_type": e.interface_type,
                "instance": e.attachment.instance if e.attachment else None,
                "device_index": e.attachment.device_index if e.attachment else None,
                "status": "in-use" if e.attachment or e.requester_managed else "available",
                "attached_to": e.attachment.instance if e.attachment else _manager(vpc, e.name),
            } for e in vpc.network_interfaces.values()],
        })
    supervisor = supervisor_health(lab.journal)
    down = [s["service"] for s in supervisor["services"] if s["state"] != "up"] if supervisor else []
    if not state:                   # the state file is torn or gone: the journal is all there is
        condition = DAMAGED
    elif state.get("status") != "up":   # its namespaces are still being made, or never will be
        condition = BUILDING if builder_alive(state) else CRASHED
    else:
        condition = BROKEN if missing else "degraded" if down else "up"
    return {"lab": lab.name, "status": condition, "supervisor": supervisor, "services_down": down,
            "uuid": state.get("uuid"), "source": state.get("source"), "build_seconds": state.get("build_seconds"),
            "up_seconds": {k: state.get(f"{k}_seconds") for k in ("usable", "prepare", "build", "services")},
            "services_started_by": state.get("services_started_by"),
            "namespaces": len(namespaces), "missing_namespaces": missing, "region": t.region, "vpcs": vpcs,
            "prefix_lists": [{"name": p.name, "id": p.id, "prefix_list_name": p.prefix_list_name,
                              "cidrs": [str(c) for c in p.cidrs]} for p in t.prefix_lists.values()],
            "peering": [{"name": p.name, "id": p.id, "requester": p.requester, "accepter": p.accepter}
                        for p in t.peering.values()],
            "internet_hosts": [{"name": h.name, "ip": str(h.ip), "namespace": names.internet_host_ns(lab.name, h.name),
                                "listen": [f"{x.protocol}/{x.port}" for x in h.listen]} for h in t.internet_hosts.values()],
            "services": {s: [str(a) for a in addrs] for s, addrs in t.service_addresses.items()}}


def unattached_status(journal: Journal, problem: str) -> dict:
    """What `status` can say of a lab it cannot attach to (being built, or damaged): its condition
    and its builder, from the state directory alone."""
    state = journal.state()
    return {"lab": journal.lab, "status": condition(journal), "problem": problem, "uuid": state.get("uuid"),
            "source": state.get("source"), "builder_pid": state.get("pid"),
            "namespaces": len(journal.live_namespaces())}
