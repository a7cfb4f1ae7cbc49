"""Live security changes: security group rules and membership, source/dest check, network ACLs.

Each operation is AWS's API call on a running lab. It edits the Topology first (pure, with AWS's
validation and error codes: a refused change raises UsageError and changes nothing), then reloads
the ruleset of every VPC router whose ruleset changed, each as one atomic nft transaction. Nothing
else is rebuilt, and conntrack is left alone: tracked flows survive rule changes as on AWS, while
flows marked untracked are judged by the new rules at once (plan/security_group.py).
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..codes import ErrorCode
from ..errors import KernelError, UsageError
from ..kernel.nft import nft_json, nft_run, nft_start
from ..kernel.stored_model import StagedModel
from ..model import NetworkAcl, NetworkAclEntry, NetworkInterface, SecurityGroup, SecurityGroupRule, Topology, Vpc
from ..plan import names
from ..plan.build import subnet_marks
from ..plan.router_nft import TABLE, router_ruleset, ruleset_diff
from ..plan.state import Plan
from ..rules import network_acl as acl_rules
from ..rules import network_interface as eni_rules
from ..rules import peering
from ..rules import security_group as sg_rules
from ..rules.security_group import direction
from ..rules.subnet import network_acl_exists
from .api import one_change

if TYPE_CHECKING:
    from ..lab import Lab


# -- the API: one function per AWS call ---------------------------------------------------------
@one_change
def authorize_security_group_ingress(lab: Lab, group: str, *rules: SecurityGroupRule,
                                     vpc: str | None = None) -> Topology:
    return apply(lab, authorized(lab.topology, group, rules, egress=False, vpc=vpc))


@one_change
def authorize_security_group_egress(lab: Lab, group: str, *rules: SecurityGroupRule,
                                    vpc: str | None = None) -> Topology:
    return apply(lab, authorized(lab.topology, group, rules, egress=True, vpc=vpc))


@one_change
def revoke_security_group_ingress(lab: Lab, group: str, *rules: SecurityGroupRule,
                                  vpc: str | None = None) -> Topology:
    return apply(lab, revoked(lab.topology, group, rules, egress=False, vpc=vpc))


@one_change
def revoke_security_group_egress(lab: Lab, group: str, *rules: SecurityGroupRule,
                                 vpc: str | None = None) -> Topology:
    return apply(lab, revoked(lab.topology, group, rules, egress=True, vpc=vpc))


@one_change
def modify_network_interface_attribute(lab: Lab, network_interface: str, groups: list[str] | None = None,
                                       source_dest_check: bool | None = None, description: str | None = None) -> Topology:
    """`--groups` replaces the ENI's security groups; `--source-dest-check` turns the check on or off;
    `description` replaces its description.

    An instance name stands for its primary ENI (modify-instance-attribute).
    """
    return apply(lab, with_interface_attribute(lab.topology, network_interface, groups, source_dest_check, description))


@one_change
def replace_network_acl_association(lab: Lab, subnet: str, network_acl: str, vpc: str | None = None) -> Topology:
    return apply(lab, with_network_acl_association(lab.topology, subnet, network_acl, vpc))


@one_change
def create_network_acl_entry(lab: Lab, network_acl: str, entry: NetworkAclEntry, vpc: str | None = None) -> Topology:
    return apply(lab, with_network_acl_entry(lab.topology, network_acl, entry, vpc))


@one_change
def delete_network_acl_entry(lab: Lab, network_acl: str, rule_number: int, egress: bool,
                             vpc: str | None = None) -> Topology:
    return apply(lab, without_network_acl_entry(lab.topology, network_acl, rule_number, egress, vpc))


# -- applying a new topology --------------------------------------------------------------------
def apply(lab: Lab, topology: Topology, commit: bool = True, planned: Plan | None = None) -> Topology:
    """Change every router whose ruleset changed, then (with `commit`) make `topology` the lab's state.
    `planned`: `topology`'s plan if made already (its routers' rulesets are not rendered again).

    Each router gets one atomic transaction holding only the difference (changed chains flushed
    and refilled, changed sets refilled); a change a diff cannot express reloads the whole table.
    """
    lab.changing()
    done: list[tuple[str, Vpc]] = []
    loaded: dict[str, str] = {}
    staged: StagedModel | None = None
    try:
        for name, vpc in topology.vpcs.items():
            old = lab.topology.vpcs[name]
            ns = names.router_ns(lab.name, name)
            before = lab.rulesets.get(name) or router_ruleset(old, subnet_marks(old), lab.topology)
            after = planned.nft[ns] if planned is not None else router_ruleset(vpc, subnet_marks(vpc), topology)
            if before == after:
                continue
            done.append((ns, old))
            loaded[name] = after
            diff = ruleset_diff(before, after)
            if diff is None:
                traced = traced_addresses(ns)       # a probe may be tracing right now: keep its addresses
                diff = router_ruleset(vpc, subnet_marks(vpc), topology, traced) if traced else after
            finish = nft_start(ns, diff)
            try:
                if commit and staged is None:       # the model written beside the stored one meanwhile
                    staged = StagedModel(lab.journal.dir, topology)
            finally:
                finish()
    except BaseException as exc:
        if staged is not None:
            staged.discard()
        if isinstance(exc, KernelError):
            for ns, old in done:                    # all routers or none
                nft_run(ns, router_ruleset(old, subnet_marks(old), lab.topology, traced_addresses(ns)))
            lab.rulesets.clear()
        raise
    lab.rulesets.update(loaded)
    return lab.commit(topology, staged) if commit else topology


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
    v, sg = security_group_of(topology, group, vpc)
    group = sg.name
    current = list(sg.egress if egress else sg.ingress)
    for rule in rules:
        rule = _permission(topology, v, rule)
        sg_rules.new_permission(group, egress, rule, current)
        current.append(rule)
    sg_rules.rule_count(group, egress, len(current))
    sg = replace(sg, **{direction(egress): tuple(current)})
    return with_vpc(topology, replace(v, security_groups={**v.security_groups, group: sg}))


def revoked(topology: Topology, group: str, rules, egress: bool, vpc: str | None = None) -> Topology:
    v, sg = security_group_of(topology, group, vpc)
    group = sg.name
    current = list(sg.egress if egress else sg.ingress)
    for rule in rules:
        current.remove(sg_rules.present_permission(group, egress, _permission(topology, v, rule), current))
    sg = replace(sg, **{direction(egress): tuple(current)})
    return with_vpc(topology, replace(v, security_groups={**v.security_groups, group: sg}))


def with_interface_attribute(topology: Topology, network_interface: str, groups: list[str] | None = None,
                             source_dest_check: bool | None = None, description: str | None = None) -> Topology:
    eni = interface(topology, network_interface)
    v = topology.vpcs[eni.vpc]
    eni_rules.not_requester_managed(eni, "modified")
    if groups is not None:
        groups = [in_vpc(topology, v, g, "sg") for g in groups]
        for g in groups:
            eni_rules.interface_group(v.name, g, v.security_groups)
        eni = replace(eni, security_groups=eni_rules.interface_groups(groups))
    if source_dest_check is not None:
        eni = replace(eni, source_dest_check=bool(source_dest_check))
    if description is not None:
        eni = replace(eni, description=eni_rules.description(description))
    return with_vpc(topology, replace(v, network_interfaces={**v.network_interfaces, eni.name: eni}))


def with_network_acl_association(topology: Topology, subnet: str, network_acl: str, vpc: str | None = None) -> Topology:
    v, subnet = one_of(topology, "subnet", subnet, vpc)
    network_acl = network_acl_exists(v.name, in_vpc(topology, v, network_acl, "acl"), v.network_acls)
    s = replace(v.subnets[subnet], network_acl=network_acl)
    return with_vpc(topology, replace(v, subnets={**v.subnets, subnet: s}))


def with_network_acl_entry(topology: Topology, network_acl: str, entry: NetworkAclEntry,
                           vpc: str | None = None) -> Topology:
    v, acl = network_acl_of(topology, network_acl, vpc)
    # ingress entries first, each direction in the order made: as a topology file lists them (stable sort)
    acl = replace(acl, entries=tuple(sorted((*acl.entries, acl_rules.new_entry(acl, entry)), key=lambda e: e.egress)))
    return with_vpc(topology, replace(v, network_acls={**v.network_acls, acl.name: acl}))


def without_network_acl_entry(topology: Topology, network_acl: str, rule_number: int, egress: bool,
                              vpc: str | None = None) -> Topology:
    v, acl = network_acl_of(topology, network_acl, vpc)
    gone = acl_rules.present_entry(acl, rule_number, egress)
    acl = replace(acl, entries=tuple(e for e in acl.entries if e is not gone))
    return with_vpc(topology, replace(v, network_acls={**v.network_acls, acl.name: acl}))


# -- lookups: by name or by AWS id --------------------------------------------------------------------
# kind → (the VPC's section holding it, what it is called, AWS's code when nothing has that name or id)
SECTIONS = {
    "subnet": ("subnets", "subnet", ErrorCode.INVALID_SUBNET_ID_NOT_FOUND),
    "rtb": ("route_tables", "route table", ErrorCode.INVALID_ROUTE_TABLE_ID_NOT_FOUND),
    "sg": ("security_groups", "security group", ErrorCode.INVALID_GROUP_NOT_FOUND),
    "acl": ("network_acls", "network ACL", ErrorCode.INVALID_NETWORK_ACL_ID_NOT_FOUND),
    "nat": ("nat_gateways", "NAT gateway", ErrorCode.NAT_GATEWAY_NOT_FOUND),
    "vpce": ("endpoints", "VPC endpoint", ErrorCode.INVALID_VPC_ENDPOINT_ID_NOT_FOUND),
}


def with_vpc(topology: Topology, vpc: Vpc) -> Topology:
    return replace(topology, vpcs={**topology.vpcs, vpc.name: vpc})


def one_vpc(topology: Topology, vpc: str | None, has, what: str, code: str) -> Vpc:
    """The VPC holding `what`: the one named (by name or vpc- id), or the only one that has it."""
    if vpc is not None:
        vpc = topology.name_of(vpc, "vpc")
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


def one_of(topology: Topology, kind: str, value: str, vpc: str | None) -> tuple[Vpc, str]:
    """The VPC holding the `kind` resource (subnet, rtb, sg, acl, nat, vpce) that `value` names, by its name or
    its AWS id, and its name there: in the VPC `vpc` names, or the only VPC that has one of that name."""
    section, what, code = SECTIONS[kind]
    found = topology.named(value, kind)
    name = value if found is None else found.name
    v = one_vpc(topology, vpc, lambda x: name in getattr(x, section) and (found is None or x.name == found.vpc),
                f"{what} {value!r}", code)
    return v, name


def in_vpc(topology: Topology, vpc: Vpc, value: str, kind: str) -> str:
    """The name `value` stands for among `vpc`'s resources of `kind`: the AWS id of one of them → its name;
    anything else as it is (a name, or an id from elsewhere, which the caller's check refuses)."""
    found = topology.named(value, kind)
    return found.name if found is not None and found.vpc == vpc.name else value


def security_group_of(topology: Topology, group: str, vpc: str | None) -> tuple[Vpc, SecurityGroup]:
    v, name = one_of(topology, "sg", group, vpc)
    return v, v.security_groups[name]


def network_acl_of(topology: Topology, network_acl: str, vpc: str | None) -> tuple[Vpc, NetworkAcl]:
    v, name = one_of(topology, "acl", network_acl, vpc)
    return v, v.network_acls[name]


def interface(topology: Topology, name: str) -> NetworkInterface:
    """An ENI by name or eni- id, or an instance by name or i- id (its primary ENI)."""
    instance = topology.name_of(name, "i")
    if instance in topology.instances:
        inst = topology.instances[instance]
        return topology.vpcs[inst.vpc].network_interfaces[inst.primary_network_interface]
    try:
        return topology.network_interface(name)
    except KeyError:
        raise UsageError(f"no network interface or instance named {name!r}", "InvalidNetworkInterfaceID.NotFound",
                         hint=f"ENIs: {', '.join(sorted(topology.network_interfaces)[:20])}") from None


def _permission(topology: Topology, vpc: Vpc, rule: SecurityGroupRule) -> SecurityGroupRule:
    """`rule` checked and in normal form; a peer given by id (`sg:sg-…`, `pl:pl-…`) as the name it has."""
    group = topology.named(rule.group, "sg") if rule.group is not None else None
    if group is not None:
        rule = replace(rule, group=group.name if group.vpc == vpc.name else f"{group.vpc}/{group.name}")
    if rule.prefix_list is not None:
        rule = replace(rule, prefix_list=topology.name_of(rule.prefix_list, "pl"))
    pairs = {p.name: (p.requester, p.accepter) for p in topology.peering.values()}
    return sg_rules.permission(rule, vpc.name, peering.peered_vpcs(vpc.name, pairs),
                               {v.name: v.security_groups for v in topology.vpcs.values()}, topology.prefix_lists)
