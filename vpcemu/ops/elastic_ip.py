"""Elastic IPs, live: associate (or move, with reassociation) and disassociate (AWS's AssociateAddress,
DisassociateAddress). The mapping lives at the VPC's internet gateway; the instance never sees it.

The pure edits check AWS's rules and raise UsageError with AWS's codes; then the IGW's maps and the
internet core's routes change (ops/live.py), and the flows tracked through the old mapping are forgotten at
the IGW (kernel/conntrack.py), so their next packets follow the new one, as on AWS.
"""
from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address
from typing import TYPE_CHECKING

from ..errors import UsageError
from ..kernel.conntrack import forget_flows
from ..model import NetworkInterface, Topology
from ..plan import names
from ..rules import elastic_ip as rules
from ..rules.names import global_names
from ..rules.network_interface import not_requester_managed
from .api import one_change
from .live import apply_topology
from .network_interface import _with
from .security import interface

if TYPE_CHECKING:
    from ..lab import Lab


@one_change
def associate_address(lab: Lab, public_ip: str, network_interface: str, private_ip: str | None = None,
                      allow_reassociation: bool = False) -> Topology:
    """Map `public_ip` to a private IP of an ENI (its primary by default; an instance means its eth0)."""
    return _moved(lab, associated(lab.topology, public_ip, network_interface, private_ip, allow_reassociation),
                  public_ip)


@one_change
def disassociate_address(lab: Lab, public_ip: str) -> Topology:
    return _moved(lab, disassociated(lab.topology, public_ip), public_ip)


def _moved(lab: Lab, topology: Topology, public_ip: str) -> Topology:
    """Apply the new mapping, then end the flows tracked through the old one at the VPC's IGW: their NAT
    bindings would keep carrying them to the old holder, where AWS moves every packet with the EIP."""
    before, changed = _holder(lab.topology, IPv4Address(public_ip)), topology is not lab.topology
    done = apply_topology(lab, topology)
    if before is not None and changed:
        forget_flows(names.internet_gateway_ns(lab.name, before.vpc), [IPv4Address(public_ip)])
    return done


# -- pure edits ---------------------------------------------------------------------------------
def associated(topology: Topology, public_ip: str, network_interface: str, private_ip: str | None = None,
               allow_reassociation: bool = False) -> Topology:
    eip = _public(topology, public_ip)
    eni = interface(topology, network_interface)
    not_requester_managed(eni, "given an Elastic IP")
    rules.gateway_attached(topology.vpcs[eni.vpc], eni.name)
    try:
        private = IPv4Address(private_ip) if private_ip else eni.private_ip_address
    except ValueError as exc:
        raise UsageError(str(exc), "InvalidParameterValue") from None
    rules.own_private_ip(eni.name, eni.private_ip_addresses, private)
    holder = _holder(topology, eip)
    if holder is not None:
        if holder.eips.get(private) == eip and holder.name == eni.name:
            return topology                             # already so: AWS answers with the same association
        if holder.requester_managed or not allow_reassociation:
            rules.not_associated(eip, global_names(topology)[holder.name][1], holder.requester_managed)
        topology = _with(topology, _without_eip(holder, eip))
        eni = topology.network_interface(eni.name)
    for other in topology.network_interfaces.values():
        if other.public_ip_address == eip:
            raise UsageError(f"{eip} is the auto-assigned public IPv4 of {other.name}", "InvalidAddress.InUse")
    # one EIP per private IP: a new one replaces the old, which stays allocated (AWS)
    return _with(topology, replace(eni, eips={**eni.eips, private: eip}))


def disassociated(topology: Topology, public_ip: str) -> Topology:
    eip = _public(topology, public_ip)
    holder = _holder(topology, eip)
    if holder is None:
        raise UsageError(f"{eip} is not associated with anything", "InvalidAssociationID.NotFound")
    if holder.requester_managed:
        raise UsageError(f"{eip} belongs to {holder.name} ({holder.interface_type})", "OperationNotPermitted",
                         hint="delete the NAT gateway to release it")
    return _with(topology, _without_eip(holder, eip))


def _public(topology: Topology, public_ip: str) -> IPv4Address:
    try:
        eip = IPv4Address(public_ip)
    except ValueError:
        raise UsageError(f"{public_ip!r} is not an IPv4 address", "InvalidParameterValue") from None
    rules.public_address(eip, topology.addressing.public, topology.addressing.services)
    host = next((h for h in topology.internet_hosts.values() if h.ip == eip), None)
    if host is not None:
        raise UsageError(f"{eip} is the address of internet host {host.name}", "InvalidAddress.InUse")
    return eip


def _holder(topology: Topology, eip: IPv4Address) -> NetworkInterface | None:
    return next((e for e in topology.network_interfaces.values() if eip in e.eips.values()), None)


def _without_eip(eni: NetworkInterface, eip: IPv4Address) -> NetworkInterface:
    return replace(eni, eips={p: e for p, e in eni.eips.items() if e != eip})
