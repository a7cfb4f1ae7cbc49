"""Live ENI operations: attach, detach, move, delete.

Each public function is AWS's API call on a running lab. The pure edit (`attached`, `detached`,
`moved`, `deleted`) checks AWS's rules and raises UsageError with AWS's error code, so a refused
operation changes nothing; then the instance end of the ENI's veth moves between the instances and
the lab's parking namespace (the router end stays, so the router's routes, neighbours and rules for
the ENI never change), its instance-side state is re-applied from the plan, and the model is saved.
"""
from __future__ import annotations

import time
from dataclasses import replace
from ipaddress import IPv4Address
from typing import TYPE_CHECKING

from ..errors import UsageError
from ..model import NetworkInterface, Topology
from ..model.network_interface import Attachment
from ..plan import names
from ..plan.state import Plan
from ..rules import instance as instance_rules
from ..rules import names as name_rules
from ..rules import network_interface as rules
from ..rules import route_table as route_rules
from .api import one_change
from .live import reroute

if TYPE_CHECKING:
    from ..lab import Lab


# -- the API: one function per AWS call ---------------------------------------------------------
@one_change
def attach_network_interface(lab: Lab, network_interface: str, instance: str, device_index: int,
                             delay_ms: float = 0.0) -> Topology:
    """`delay_ms`: AWS-like attachment time; the interface appears only after it (default: at once)."""
    topology = attached(lab.topology, network_interface, instance, device_index)
    _aws_time(delay_ms)
    return _relocate(lab, topology, network_interface)


@one_change
def detach_network_interface(lab: Lab, network_interface: str, delay_ms: float = 0.0) -> Topology:
    topology = detached(lab.topology, network_interface)
    _aws_time(delay_ms)
    return _relocate(lab, topology, network_interface)


@one_change
def move_network_interface(lab: Lab, network_interface: str, instance: str, device_index: int | None = None,
                           delay_ms: float = 0.0) -> Topology:
    """Detach and attach in one step: the interface goes straight from one instance to the other, or,
    with `delay_ms`, waits detached that long first, as an AWS attachment takes seconds."""
    topology = moved(lab.topology, network_interface, instance, device_index)     # refusals change nothing
    if delay_ms > 0:
        _relocate(lab, detached(lab.topology, network_interface), network_interface)
        _aws_time(delay_ms)
    return _relocate(lab, topology, network_interface)


def _aws_time(delay_ms: float) -> None:
    if delay_ms < 0:
        raise UsageError("a delay cannot be negative", "InvalidParameterValue")
    if delay_ms:
        time.sleep(delay_ms / 1000)     # emulated AWS latency, by request: not a synchronisation


def _relocate(lab: Lab, topology: Topology, network_interface: str) -> Topology:
    from ..kernel.apply import apply_config
    from ..kernel.interface import move_link, remove_rules
    before, after = instance_side(lab, lab.topology, network_interface), instance_side(lab, topology, network_interface)
    (src_ns,), (dst_ns,) = before.namespaces, after.namespaces
    eni = _eni(topology, network_interface)
    lab.changing()
    move_link(src_ns, _ifname(lab.topology, eni.name), dst_ns, _ifname(topology, eni.name), names.parked_link(eni),
              mac=eni.mac_address)
    apply_config(after)
    # the ENI's source rules in the instance it left name an address that went with it: removed once it
    # answers again from its new place
    remove_rules(src_ns, [r for r in before.rules if src_ns != dst_ns or r not in after.rules])
    reroute(lab, lab.topology, topology, eni.name, eni.vpc)
    return lab.commit(topology)


def _ifname(topology: Topology, name: str) -> str:
    eni = topology.network_interface(name)
    return names.parked_link(eni) if eni.attachment is None else names.instance_link(eni.attachment.device_index)


def instance_side(lab: Lab, topology: Topology, network_interface: str) -> Plan:
    """The planned state of the ENI's instance end (attached: in its instance; detached: parked)."""
    from ..plan.build import network_interface_plan
    eni = _eni(topology, network_interface)
    full = network_interface_plan(topology, lab.name, eni)
    ns = names.instance_ns(lab.name, eni.attachment.instance) if eni.attachment else names.parking_ns(lab.name)
    return Plan(lab.name, (ns,), addresses=tuple(full.in_namespace(ns, full.addresses)),
                links_up=tuple(x for x in full.links_up if x[0] == ns),
                routes=tuple(full.in_namespace(ns, full.routes)), rules=tuple(full.in_namespace(ns, full.rules)),
                neighbours=tuple(full.in_namespace(ns, full.neighbours)))


# -- pure edits: Topology → Topology, or UsageError ---------------------------------------------


def _eni(topology: Topology, name_or_id: str) -> NetworkInterface:
    try:
        return topology.network_interface(name_or_id)
    except KeyError:
        raise UsageError(f"no network interface named {name_or_id!r}", "InvalidNetworkInterfaceID.NotFound") from None


def _with(topology: Topology, eni: NetworkInterface) -> Topology:
    vpc = topology.vpcs[eni.vpc]
    enis = dict(vpc.network_interfaces)
    enis[eni.name] = eni
    return replace(topology, vpcs={**topology.vpcs, eni.vpc: replace(vpc, network_interfaces=enis)})


def _without(topology: Topology, eni: NetworkInterface) -> Topology:
    vpc = topology.vpcs[eni.vpc]
    enis = {k: v for k, v in vpc.network_interfaces.items() if k != eni.name}
    return replace(topology, vpcs={**topology.vpcs, eni.vpc: replace(vpc, network_interfaces=enis)})


def attached(topology: Topology, network_interface: str, instance: str, device_index: int) -> Topology:
    eni = _eni(topology, network_interface)
    rules.not_requester_managed(eni, "attached")
    if eni.attachment is not None:
        raise UsageError(f"{eni.name} is already attached to {eni.attachment.instance}", "InvalidNetworkInterface.InUse",
                         hint="use move to take it to another instance in one step")
    return _attach(topology, eni, instance, device_index)


def _attach(topology: Topology, eni: NetworkInterface, instance: str, device_index: int | None) -> Topology:
    instance = topology.name_of(instance, "i")
    if instance not in topology.instances:
        raise UsageError(f"no instance named {instance!r}", "InvalidInstanceID.NotFound")
    inst = topology.instances[instance]
    rules.attachable(eni, topology.vpcs[eni.vpc].subnets[eni.subnet], inst)
    present = {e.attachment.device_index: e.name for e in topology.interfaces_of(instance) if e.name != eni.name}
    if device_index is None:
        device_index = rules.free_device_index(instance, present)
    rules.device_index(instance, device_index)
    rules.device_index_free(instance, device_index, present)
    instance_rules.interface_count(inst, len(present) + 1)
    instance_rules.private_ip_count(inst, eni.name, len(eni.private_ip_addresses))
    return _with(topology, replace(eni, attachment=Attachment(instance, device_index)))


def detached(topology: Topology, network_interface: str) -> Topology:
    """Keeps MAC, private IPs, EIPs/public addresses, SGs and source/dest check on the ENI."""
    eni = _eni(topology, network_interface)
    rules.not_requester_managed(eni, "detached")
    if eni.attachment is None:
        raise UsageError(f"{eni.name} is not attached", "InvalidAttachmentID.NotFound")
    if eni.attachment.device_index == 0:
        raise UsageError(f"{eni.name} is the primary network interface (device index 0) of "
                         f"{eni.attachment.instance}; it cannot be detached", "OperationNotPermitted")
    return _with(topology, replace(eni, attachment=None))


def moved(topology: Topology, network_interface: str, instance: str, device_index: int | None = None) -> Topology:
    """Detach then attach in one step; refused as a whole if either half is refused."""
    eni = _eni(topology, network_interface)
    rules.not_requester_managed(eni, "moved")
    instance = topology.name_of(instance, "i")
    if device_index is None and eni.attachment is not None:
        taken = {e.attachment.device_index for e in topology.interfaces_of(instance)}
        if eni.attachment.device_index not in taken:
            device_index = eni.attachment.device_index
    middle = detached(topology, network_interface) if eni.attachment is not None else topology
    return _attach(middle, _eni(middle, eni.name), instance, device_index)


def deleted(topology: Topology, network_interface: str) -> Topology:
    eni = _eni(topology, network_interface)
    rules.not_requester_managed(eni, "deleted")
    if eni.attachment is not None:
        raise UsageError(f"{eni.name} is attached to {eni.attachment.instance}; detach it first",
                         "InvalidNetworkInterface.InUse")
    gone = _without(topology, eni)
    vpc = gone.vpcs[eni.vpc]
    # routes to it stay, as blackholes, until replaced or deleted (aws-vpc-reference §2)
    tables = {n: route_rules.target_gone(vpc, rt, eni.name) for n, rt in vpc.route_tables.items()}
    return replace(gone, vpcs={**gone.vpcs, eni.vpc: replace(vpc, route_tables=tables)})


# -- secondary private IPs ----------------------------------------------------------------------
@one_change
def assign_private_ip_addresses(lab: Lab, network_interface: str, addresses: list[str],
                                allow_reassignment: bool = False) -> Topology:
    """Add secondary private IPs; with `allow_reassignment` an IP may be taken from another ENI of the subnet."""
    return _readdress(lab, assigned(lab.topology, network_interface, addresses, allow_reassignment))


@one_change
def unassign_private_ip_addresses(lab: Lab, network_interface: str, addresses: list[str]) -> Topology:
    return _readdress(lab, unassigned(lab.topology, network_interface, addresses))


def assigned(topology: Topology, network_interface: str, addresses: list[str],
             allow_reassignment: bool = False) -> Topology:
    eni = _eni(topology, network_interface)
    rules.not_requester_managed(eni, "modified")
    subnet = topology.vpcs[eni.vpc].subnets[eni.subnet]
    ips = _addresses(addresses)
    for ip in ips:
        if ip in eni.private_ip_addresses:
            raise UsageError(f"{ip} is already assigned to {eni.name}", "InvalidParameterValue")
        holder = next((e for e in topology.vpcs[eni.vpc].network_interfaces.values()
                       if ip in e.private_ip_addresses), None)
        rules.private_ip(subnet, ip, None if holder is None or allow_reassignment else _where(topology, holder))
        if holder is not None:
            if holder.private_ip_address == ip:
                raise UsageError(f"{ip} is the primary private IP of {holder.name}; it cannot be reassigned",
                                 "InvalidParameterValue")
            rules.not_requester_managed(holder, "modified")
            topology = _with(topology, replace(holder, private_ip_addresses=tuple(
                a for a in holder.private_ip_addresses if a != ip), eips={k: v for k, v in holder.eips.items() if k != ip}))
            if ip in holder.eips:                   # the EIP association travels with the private IP
                eni = replace(eni, eips={**eni.eips, ip: holder.eips[ip]})
    if eni.attachment is not None:
        instance_rules.private_ip_count(topology.instances[eni.attachment.instance], eni.name,
                                        len(eni.private_ip_addresses) + len(ips))
    return _with(topology, replace(eni, private_ip_addresses=(*eni.private_ip_addresses, *ips)))


def _where(topology: Topology, eni: NetworkInterface) -> str:
    """Where an ENI is, in the words the loader uses for the same place in a topology file."""
    return name_rules.global_names(topology).get(eni.name, ("", f"vpcs.{eni.vpc}.network_interfaces.{eni.name}"))[1]


def unassigned(topology: Topology, network_interface: str, addresses: list[str]) -> Topology:
    eni = _eni(topology, network_interface)
    rules.not_requester_managed(eni, "modified")
    ips = _addresses(addresses)
    for ip in ips:
        if ip == eni.private_ip_address:
            raise UsageError(f"{ip} is the primary private IP of {eni.name}; it cannot be unassigned",
                             "InvalidParameterValue")
        if ip not in eni.private_ip_addresses:
            raise UsageError(f"{ip} is not assigned to {eni.name}", "InvalidParameterValue",
                             hint="assigned: " + ", ".join(map(str, eni.private_ip_addresses)))
    return _with(topology, replace(eni, private_ip_addresses=tuple(a for a in eni.private_ip_addresses if a not in ips),
                                   eips={k: v for k, v in eni.eips.items() if k not in ips}))


def _addresses(addresses: list[str]) -> list[IPv4Address]:
    try:
        ips = [IPv4Address(str(a)) for a in addresses]
    except ValueError as exc:
        raise UsageError(str(exc), "InvalidParameterValue") from None
    if not ips or len(set(ips)) != len(ips):
        raise UsageError("give one or more distinct IPv4 addresses", "InvalidParameterValue")
    return ips


def _readdress(lab: Lab, topology: Topology) -> Topology:
    """Make the kernel hold `topology`'s private IPs: new homes first, then the old ones go."""
    from ..kernel.apply import apply_config
    from ..kernel.interface import point_address, remove_addresses, remove_rules
    from ..plan.build import ENI_TABLE
    from .security import apply as apply_rulesets
    changed = [e for name, e in topology.network_interfaces.items()
               if lab.topology.network_interfaces[name].private_ip_addresses != e.private_ip_addresses]
    before = {e.name: instance_side(lab, lab.topology, e.name) for e in changed}
    after = {e.name: instance_side(lab, topology, e.name) for e in changed}
    lab.changing()
    for e in changed:                                           # new addresses and source rules
        old = before[e.name]
        apply_config(replace(after[e.name], addresses=tuple(a for a in after[e.name].addresses if a not in old.addresses),
                             links_up=(), routes=(), neighbours=(),
                             rules=tuple(r for r in after[e.name].rules if r not in old.rules)))
    owner = {ip: e for e in changed for ip in e.private_ip_addresses}
    for e in changed:                                           # the router's /32 and neighbour follow the IP
        rtr = names.router_ns(lab.name, e.vpc)
        for ip in e.private_ip_addresses:
            if ip not in lab.topology.network_interfaces[e.name].private_ip_addresses:
                point_address(rtr, ENI_TABLE, str(ip), names.router_link(e), e.mac_address)
        for ip in lab.topology.network_interfaces[e.name].private_ip_addresses:
            if ip not in owner:                                 # unassigned, with no new owner
                point_address(rtr, ENI_TABLE, str(ip), None, None)
    apply_rulesets(lab, topology)                               # source/dest check and sg: sets
    for e in changed:                                           # finally the old homes let go
        old, new = before[e.name], after[e.name]
        remove_rules(old.namespaces[0], [r for r in old.rules if r not in new.rules])
        remove_addresses(old.namespaces[0], [a for a in old.addresses if a not in new.addresses])
    return topology


# -- create and delete --------------------------------------------------------------------------
@one_change
def create_network_interface(lab: Lab, name: str, subnet: str, private_ip_addresses: list[str] | None = None,
                             security_groups: list[str] | None = None, description: str = "",
                             vpc: str | None = None) -> Topology:
    """A standalone ENI in `subnet`, created detached: it waits in the parking namespace."""
    from ..kernel.apply import apply_config, apply_links
    from ..kernel.interface import delete_link
    from .security import apply as apply_rulesets
    topology = created(lab.topology, name, subnet, private_ip_addresses, security_groups, description, vpc)
    eni = topology.network_interface(name)
    plan = _eni_plan(lab, topology, eni)
    lab.changing()
    apply_links(plan)
    try:
        apply_config(plan)
        return apply_rulesets(lab, topology)
    except BaseException:
        delete_link(names.router_ns(lab.name, eni.vpc), names.router_link(eni))
        raise


@one_change
def delete_network_interface(lab: Lab, network_interface: str) -> Topology:
    from ..kernel.interface import delete_link
    from .security import apply as apply_rulesets
    eni = _eni(lab.topology, network_interface)
    before = lab.topology
    topology = apply_rulesets(lab, deleted(before, network_interface))
    delete_link(names.router_ns(lab.name, eni.vpc), names.router_link(eni))     # its peer goes with it
    reroute(lab, before, topology, eni.name, eni.vpc)
    return topology


def _eni_plan(lab: Lab, topology: Topology, eni: NetworkInterface) -> Plan:
    from ..plan.build import network_interface_plan
    return replace(network_interface_plan(topology, lab.name, eni),
                   namespaces=(names.router_ns(lab.name, eni.vpc), names.parking_ns(lab.name)))


def created(topology: Topology, name: str, subnet: str, private_ip_addresses: list[str] | None = None,
            security_groups: list[str] | None = None, description: str = "", vpc: str | None = None) -> Topology:
    from ..model.ids import aws_id, mac_address
    from .security import in_vpc, one_of
    v, subnet = one_of(topology, "subnet", subnet, vpc)
    name_rules.new_name(topology, name)
    rules.description(description)
    s = v.subnets[subnet]
    holders = {ip: e for e in v.network_interfaces.values() for ip in e.private_ip_addresses}
    if private_ip_addresses:
        ips = _addresses(private_ip_addresses)
        for ip in ips:
            rules.private_ip(s, ip, _where(topology, holders[ip]) if ip in holders else None)
    else:
        ips = [rules.free_private_ip(s, holders)]
    groups = [in_vpc(topology, v, g, "sg") for g in security_groups or ["default"]]
    for g in groups:
        rules.interface_group(v.name, g, v.security_groups)
    eni = NetworkInterface(name, aws_id("eni", v.name, name), v.name, subnet, tuple(ips), mac_address(v.name, name),
                           rules.interface_groups(groups), description=description)
    return _with(topology, eni)
