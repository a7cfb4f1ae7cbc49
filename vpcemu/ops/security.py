"""Live security changes: security group rules and membership, source/dest check, network ACLs.

Each operation is AWS's API call on a running lab. It edits the Topology first (pure, with AWS's
validation and error codes: a refused change raises UsageError and changes nothing), then reloads
the ruleset of every VPC router whose ruleset changed, each as one atomic nft transaction. Nothing
else is rebuilt, and conntrack is left alone: tracked flows survive rule changes as on AWS, while
flows marked untracked are judged by the new rules at once (plan/security_group.py).
"""
from __future__ import annotations

import pickle
from dataclasses import replace
from ipaddress import IPv4Network
from typing import TYPE_CHECKING

from ..errors import KernelError, UsageError
from ..kernel.nft import nft_json, nft_run
from ..load.limits import (MAX_NACL_RULES_PER_DIRECTION, MAX_SECURITY_GROUPS_PER_ENI,
                           MAX_SG_RULES_PER_DIRECTION)
from ..model import NetworkAcl, NetworkAclEntry, NetworkInterface, SecurityGroupRule, Topology, Vpc
from ..plan import names
from ..plan.build import subnet_marks
from ..plan.router_nft import TABLE, router_ruleset, ruleset_diff

if TYPE_CHECKING:
    from ..lab import Lab

PROTOCOL_NAMES = {"all": "-1", "6": "tcp", "17": "udp", "1": "icmp"}


# -- the API: one function per AWS call ---------------------------------------------------------
def authorize_security_group_ingress(lab: Lab, group: str, *rules: SecurityGroupRule,
                                     vpc: str | None = None) -> Topology:
    return apply(lab, authorized(lab.topology, group, rules, egress=False, vpc=vpc))


def authorize_security_group_egress(lab: Lab, group: str, *rules: SecurityGroupRule,
                                    vpc: str | None = None) -> Topology:
    return apply(lab, authorized(lab.topology, group, rules, egress=True, vpc=vpc))


def revoke_security_group_ingress(lab: Lab, group: str, *rules: SecurityGroupRule,
                                  vpc: str | None = None) -> Topology:
    return apply(lab, revoked(lab.topology, group, rules, egress=False, vpc=vpc))


def revoke_security_group_egress(lab: Lab, group: str, *rules: SecurityGroupRule,
                                 vpc: str | None = None) -> Topology:
    return apply(lab, revoked(lab.topology, group, rules, egress=True, vpc=vpc))


def modify_network_interface_attribute(lab: Lab, network_interface: str, groups: list[str] | None = None,
                                       source_dest_check: bool | None = None) -> Topology:
    """`--groups` replaces the ENI's security groups; `--source-dest-check` turns the check on or off.

    An instance name stands for its primary ENI (modify-instance-attribute).
    """
    return apply(lab, with_interface_attribute(lab.topology, network_interface, groups, source_dest_check))


def replace_network_acl_association(lab: Lab, subnet: str, network_acl: str, vpc: str | None = None) -> Topology:
    return apply(lab, with_network_acl_association(lab.topology, subnet, network_acl, vpc))


def create_network_acl_entry(lab: Lab, network_acl: str, entry: NetworkAclEntry, vpc: str | None = None) -> Topology:
    return apply(lab, with_network_acl_entry(lab.topology, network_acl, entry, vpc))


def delete_network_acl_entry(lab: Lab, network_acl: str, rule_number: int, egress: bool,
                             vpc: str | None = None) -> Topology:
    return apply(lab, without_network_acl_entry(lab.topology, network_acl, rule_number, egress, vpc))


# -- applying a new topology --------------------------------------------------------------------
def apply(lab: Lab, topology: Topology) -> Topology:
    """Change every router whose ruleset changed, then make `topology` the lab's state.

    Each router gets one atomic transaction holding only the difference (changed chains flushed
    and refilled, changed sets refilled); a change a diff cannot express reloads the whole table.
    """
    done: list[tuple[str, Vpc]] = []
    loaded: dict[str, str] = {}
    try:
        for name, vpc in topology.vpcs.items():
            old = lab.topology.vpcs[name]
            before = lab.rulesets.get(name) or router_ruleset(old, subnet_marks(old), lab.topology)
            after = router_ruleset(vpc, subnet_marks(vpc), topology)
            if before == after:
                continue
            ns = names.router_ns(lab.name, name)
            done.append((ns, old))
            loaded[name] = after
            diff = ruleset_diff(before, after)
            if diff is not None:
                nft_run(ns, diff)
            else:
                traced = traced_addresses(ns)       # a probe may be tracing right now: keep its addresses
                nft_run(ns, router_ruleset(vpc, subnet_marks(vpc), topology, traced) if traced else after)
    except KernelError:
        for ns, old in done:                        # all routers or none
            nft_run(ns, router_ruleset(old, subnet_marks(old), lab.topology, traced_addresses(ns)))
        lab.rulesets.clear()
        raise
    before = lab.topology
    (lab.journal.dir / "model.pickle").write_bytes(pickle.dumps(topology))
    lab.topology = topology
    lab.rulesets.update(loaded)
    if _dns_changed(before, topology):
        from ..kernel.process import reload_supervisor
        reload_supervisor(lab.journal)          # the resolvers answer the new names once this returns
    return topology


def _dns_changed(a: Topology, b: Topology) -> bool:
    """Does the VPC resolvers' zone depend on anything that differs (ENI IPs, endpoints)?"""
    def key(t: Topology):
        return ({n: e.private_ip_addresses for n, e in t.network_interfaces.items()},
                {v.name: v.endpoints for v in t.vpcs.values()})
    return key(a) != key(b)


def traced_addresses(ns: str) -> list[str]:
    out = []
    for item in nft_json(ns, f"list set ip {TABLE} trace_src").get("nftables", []):
        for e in item.get("set", {}).get("elem", []):
            if isinstance(e, dict) and "prefix" in e:
                out.append(f"{e['prefix']['addr']}/{e['prefix']['len']}")
            elif isinstance(e, dict) and "range" in e:
                out.append("-".join(e["range"]))
            else:
                out.append(str(e))
    return out


# -- pure edits: Topology → Topology, or UsageError ---------------------------------------------
def authorized(topology: Topology, group: str, rules, egress: bool, vpc: str | None = None) -> Topology:
    v = vpc_of_group(topology, group, vpc)
    sg = v.security_groups[group]
    current = list(sg.egress if egress else sg.ingress)
    for rule in rules:
        rule = normalized(topology, v, rule)
        if any(same_permission(rule, r) for r in current):
            raise UsageError(f"security group {group}: the {direction(egress)} rule {rule.describe()} "
                             "already exists", "InvalidPermission.Duplicate")
        current.append(rule)
    if len(current) > MAX_SG_RULES_PER_DIRECTION:
        raise UsageError(f"security group {group}: at most {MAX_SG_RULES_PER_DIRECTION} {direction(egress)} rules",
                         "RulesPerSecurityGroupLimitExceeded")
    sg = replace(sg, **{direction(egress): tuple(current)})
    return with_vpc(topology, replace(v, security_groups={**v.security_groups, group: sg}))


def revoked(topology: Topology, group: str, rules, egress: bool, vpc: str | None = None) -> Topology:
    v = vpc_of_group(topology, group, vpc)
    sg = v.security_groups[group]
    current = list(sg.egress if egress else sg.ingress)
    for rule in rules:
        rule = normalized(topology, v, rule)
        match = next((r for r in current if same_permission(rule, r)), None)
        if match is None:
            raise UsageError(f"security group {group} has no {direction(egress)} rule {rule.describe()}",
                             "InvalidPermission.NotFound",
                             hint="rules: " + ("; ".join(r.describe() for r in current) or "none"))
        current.remove(match)
    sg = replace(sg, **{direction(egress): tuple(current)})
    return with_vpc(topology, replace(v, security_groups={**v.security_groups, group: sg}))


def with_interface_attribute(topology: Topology, network_interface: str, groups: list[str] | None = None,
                             source_dest_check: bool | None = None) -> Topology:
    eni = interface(topology, network_interface)
    v = topology.vpcs[eni.vpc]
    if eni.requester_managed:
        raise UsageError(f"network interface {eni.name} is managed by AWS ({eni.interface_type}); "
                         "its attributes cannot be modified", "OperationNotPermitted",
                         hint="change it through the service that owns it")
    if groups is not None:
        groups = list(groups)
        for g in groups:
            if g not in v.security_groups:
                raise UsageError(f"no security group {g!r} in VPC {v.name}", "InvalidGroup.NotFound",
                                 hint=f"groups: {', '.join(v.security_groups)}")
        if not groups or len(set(groups)) != len(groups):
            raise UsageError("an ENI needs at least one security group, each listed once", "InvalidParameterValue")
        if len(groups) > MAX_SECURITY_GROUPS_PER_ENI:
            raise UsageError(f"{len(groups)} security groups; an ENI may have at most {MAX_SECURITY_GROUPS_PER_ENI}",
                             "SecurityGroupsPerInterfaceLimitExceeded")
        eni = replace(eni, security_groups=tuple(groups))
    if source_dest_check is not None:
        eni = replace(eni, source_dest_check=bool(source_dest_check))
    return with_vpc(topology, replace(v, network_interfaces={**v.network_interfaces, eni.name: eni}))


def with_network_acl_association(topology: Topology, subnet: str, network_acl: str, vpc: str | None = None) -> Topology:
    v = one_vpc(topology, vpc, lambda x: subnet in x.subnets, f"subnet {subnet!r}", "InvalidSubnetID.NotFound")
    if network_acl not in v.network_acls:
        raise UsageError(f"no network ACL {network_acl!r} in VPC {v.name}", "InvalidNetworkAclID.NotFound",
                         hint=f"network ACLs: {', '.join(v.network_acls)}")
    s = replace(v.subnets[subnet], network_acl=network_acl)
    return with_vpc(topology, replace(v, subnets={**v.subnets, subnet: s}))


def with_network_acl_entry(topology: Topology, network_acl: str, entry: NetworkAclEntry,
                           vpc: str | None = None) -> Topology:
    v, acl = network_acl_of(topology, network_acl, vpc)
    entry = normalized_entry(entry)
    same_direction = acl.ordered(entry.egress)
    if any(e.rule_number == entry.rule_number for e in same_direction):
        raise UsageError(f"network ACL {network_acl} already has {direction(entry.egress)} rule {entry.rule_number}",
                         "NetworkAclEntryAlreadyExists", hint="delete it first, or choose another number")
    if len(same_direction) >= MAX_NACL_RULES_PER_DIRECTION:
        raise UsageError(f"network ACL {network_acl}: at most {MAX_NACL_RULES_PER_DIRECTION} "
                         f"{direction(entry.egress)} rules", "NetworkAclEntryLimitExceeded")
    acl = replace(acl, entries=(*acl.entries, entry))
    return with_vpc(topology, replace(v, network_acls={**v.network_acls, network_acl: acl}))


def without_network_acl_entry(topology: Topology, network_acl: str, rule_number: int, egress: bool,
                              vpc: str | None = None) -> Topology:
    v, acl = network_acl_of(topology, network_acl, vpc)
    entries = tuple(e for e in acl.entries if (e.rule_number, e.egress) != (rule_number, egress))
    if len(entries) == len(acl.entries):
        raise UsageError(f"network ACL {network_acl} has no {direction(egress)} rule {rule_number}",
                         "InvalidNetworkAclEntry.NotFound", hint="the final `*` rule cannot be deleted")
    acl = replace(acl, entries=entries)
    return with_vpc(topology, replace(v, network_acls={**v.network_acls, network_acl: acl}))


# -- lookups and validation ----------------------------------------------------------------------
def direction(egress: bool) -> str:
    return "egress" if egress else "ingress"


def with_vpc(topology: Topology, vpc: Vpc) -> Topology:
    return replace(topology, vpcs={**topology.vpcs, vpc.name: vpc})


def one_vpc(topology: Topology, vpc: str | None, has, what: str, code: str) -> Vpc:
    """The VPC holding `what`: the one named, or the only one that has it."""
    if vpc is not None:
        if vpc not in topology.vpcs:
            raise UsageError(f"no VPC named {vpc!r}", "InvalidVpcID.NotFound", hint=f"VPCs: {', '.join(topology.vpcs)}")
        found = [topology.vpcs[vpc]] if has(topology.vpcs[vpc]) else []
    else:
        found = [v for v in topology.vpcs.values() if has(v)]
    if not found:
        raise UsageError(f"no {what}" + (f" in VPC {vpc}" if vpc else ""), code)
    if len(found) > 1:
        raise UsageError(f"{what} exists in VPCs {', '.join(v.name for v in found)}", "InvalidParameterCombination",
                         hint="name the VPC")
    return found[0]


def vpc_of_group(topology: Topology, group: str, vpc: str | None) -> Vpc:
    return one_vpc(topology, vpc, lambda v: group in v.security_groups, f"security group {group!r}",
                   "InvalidGroup.NotFound")


def network_acl_of(topology: Topology, network_acl: str, vpc: str | None) -> tuple[Vpc, NetworkAcl]:
    v = one_vpc(topology, vpc, lambda x: network_acl in x.network_acls, f"network ACL {network_acl!r}",
                "InvalidNetworkAclID.NotFound")
    return v, v.network_acls[network_acl]


def interface(topology: Topology, name: str) -> NetworkInterface:
    if name in topology.instances:
        inst = topology.instances[name]
        return topology.vpcs[inst.vpc].network_interfaces[inst.primary_network_interface]
    try:
        return topology.network_interface(name)
    except KeyError:
        raise UsageError(f"no network interface or instance named {name!r}", "InvalidNetworkInterfaceID.NotFound",
                         hint=f"ENIs: {', '.join(sorted(topology.network_interfaces)[:20])}") from None


def same_permission(a: SecurityGroupRule, b: SecurityGroupRule) -> bool:
    """AWS matches rules on protocol, ports and peer; the description does not count."""
    return replace(a, description="") == replace(b, description="")


def protocol_ports(protocol: str, from_port: int | None, to_port: int | None,
                   where: str) -> tuple[str, int | None, int | None]:
    """AWS's (IpProtocol, FromPort, ToPort) in the loader's normal form, or InvalidParameterValue."""
    protocol = PROTOCOL_NAMES.get(str(protocol), str(protocol))
    if protocol not in ("-1", "tcp", "udp", "icmp") and not (protocol.isdigit() and 0 <= int(protocol) <= 255):
        raise UsageError(f"{where}: {protocol!r} is not a protocol", "InvalidParameterValue",
                         hint="tcp, udp, icmp, all (-1) or an IP protocol number 0-255")
    if protocol in ("tcp", "udp"):
        low, high = (0, 65535) if from_port is None else (from_port, from_port if to_port is None else to_port)
        if not 0 <= low <= high <= 65535:
            raise UsageError(f"{where}: port range {low}-{high} is not within 0-65535", "InvalidParameterValue")
        return protocol, low, high
    if protocol == "icmp":
        if from_port is None or from_port == -1:
            return protocol, None, None
        code = -1 if to_port is None else to_port
        if not 0 <= from_port <= 255 or not -1 <= code <= 255:
            raise UsageError(f"{where}: icmp type {from_port} code {code} is not valid", "InvalidParameterValue")
        return protocol, from_port, code
    if from_port is not None or to_port is not None:
        raise UsageError(f"{where}: ports apply only to tcp, udp (and icmp type/code)", "InvalidParameterValue")
    return protocol, None, None


def normalized(topology: Topology, vpc: Vpc, rule: SecurityGroupRule) -> SecurityGroupRule:
    peers = [p for p in (rule.cidr, rule.group, rule.prefix_list) if p is not None]
    if len(peers) != 1:
        raise UsageError(f"rule {rule!r} needs exactly one peer: a CIDR, a security group or a prefix list",
                         "InvalidParameterValue")
    protocol, low, high = protocol_ports(rule.protocol, rule.from_port, rule.to_port, "security group rule")
    if rule.group is not None:
        owner, name = rule.group.split("/", 1) if "/" in rule.group else (vpc.name, rule.group)
        peered = owner == vpc.name or any({p.requester, p.accepter} == {vpc.name, owner}
                                          for p in topology.peering.values())
        if not peered or owner not in topology.vpcs or name not in topology.vpcs[owner].security_groups:
            raise UsageError(f"sg:{rule.group}: no such security group in VPC {vpc.name} or a VPC peered with it",
                             "InvalidGroup.NotFound")
    if rule.prefix_list is not None and rule.prefix_list not in topology.prefix_lists:
        raise UsageError(f"pl:{rule.prefix_list}: no such prefix list", "InvalidPrefixListId.NotFound",
                         hint=f"known: {', '.join('pl:' + k for k in topology.prefix_lists) or 'none'}")
    cidr = None if rule.cidr is None else IPv4Network(rule.cidr, strict=False)
    return replace(rule, protocol=protocol, from_port=low, to_port=high, cidr=cidr)


def normalized_entry(entry: NetworkAclEntry) -> NetworkAclEntry:
    if not 1 <= entry.rule_number <= 32766:
        raise UsageError(f"network ACL rule number {entry.rule_number} is not within 1-32766", "InvalidParameterValue")
    if entry.rule_action not in ("allow", "deny"):
        raise UsageError(f"rule action {entry.rule_action!r} is neither allow nor deny", "InvalidParameterValue")
    protocol, low, high = protocol_ports(entry.protocol, entry.from_port, entry.to_port,
                                         f"network ACL rule {entry.rule_number}")
    return replace(entry, protocol=protocol, from_port=low, to_port=high,
                   cidr_block=IPv4Network(entry.cidr_block, strict=False))
