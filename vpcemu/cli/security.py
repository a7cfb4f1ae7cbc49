"""`vpcemu sg` and `vpcemu nacl`: live security changes on a running lab (`vpcemu eni modify`: eni.py).

Each verb is one of AWS's API calls (vpcemu.ops.security) and takes effect as one atomic ruleset
change in the VPC router; nothing is rebuilt and established tracked flows are kept, as on AWS.
"""
from __future__ import annotations

from ipaddress import IPv4Network
from typing import Annotated, Optional

import typer

from ..errors import UsageError
from ..model import NetworkAclEntry, SecurityGroupRule
from ..rules.security_group import parse_port_range
from .common import JsonOpt, LabOpt, Report, VpcOpt, apply_change, call, running_lab, say

sg_app = typer.Typer(no_args_is_help=True, help="Security group rules (authorize / revoke), live.")
nacl_app = typer.Typer(no_args_is_help=True, help="Network ACL entries and subnet associations, live.")

ProtocolOpt = Annotated[str, typer.Option("--protocol", "-p", help="tcp, udp, icmp, all (-1) or an IP protocol number.")]
PortOpt = Annotated[Optional[str], typer.Option("--port", help="A port or a range, e.g. 22 or 1024-65535 (tcp, udp).")]
IcmpTypeOpt = Annotated[Optional[int], typer.Option("--icmp-type", help="ICMP type (icmp; default all).")]
IcmpCodeOpt = Annotated[Optional[int], typer.Option("--icmp-code", help="ICMP code (icmp; default all).")]
EgressOpt = Annotated[bool, typer.Option("--egress/--ingress", help="Which direction's rules (default ingress).")]


def port_range(port: str | None, icmp_type: int | None, icmp_code: int | None) -> tuple[int | None, int | None]:
    """`--port 22`, `--port 1024-65535`, or ICMP type/code → AWS's (FromPort, ToPort)."""
    if icmp_type is not None or icmp_code is not None:
        if port is not None:
            raise UsageError("--port and --icmp-type/--icmp-code exclude each other", "InvalidParameterCombination")
        return (-1 if icmp_type is None else icmp_type), icmp_code
    if port is None:
        return None, None
    return parse_port_range(port)


def sg_rule(protocol: str, port: str | None, icmp_type: int | None, icmp_code: int | None, peer: str,
            description: str = "") -> SecurityGroupRule:
    low, high = port_range(port, icmp_type, icmp_code)
    if peer.startswith("sg:"):
        return SecurityGroupRule(protocol, low, high, group=peer[3:], description=description)
    if peer.startswith("pl:"):
        return SecurityGroupRule(protocol, low, high, prefix_list=peer[3:], description=description)
    return SecurityGroupRule(protocol, low, high, cidr=cidr(peer, "--peer"), description=description)


def cidr(text: str, option: str) -> IPv4Network:
    try:
        return IPv4Network(text, strict=False)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not an IPv4 CIDR", "InvalidParameterValue",
                         hint="e.g. 10.0.0.0/16; security group peers may also be sg:NAME or pl:NAME") from None


def _applied(elapsed_ms: float | None) -> tuple[dict, str]:
    """After a change: its time; for a display (`show`): nothing, as nothing was applied."""
    if elapsed_ms is None:
        return {}, ""
    return {"applied_ms": round(elapsed_ms, 2)}, f" applied in {elapsed_ms:.1f} ms"


def group_report(lab, group: str, vpc: str | None, elapsed_ms: float | None) -> Report:
    from ..ops.security import security_group_of
    v, sg = security_group_of(lab.topology, group, vpc)
    group = sg.name
    applied, said = _applied(elapsed_ms)
    data = {"security_group": group, "id": sg.id, "vpc": v.name, **applied,
            "ingress": [r.describe() for r in sg.ingress], "egress": [r.describe() for r in sg.egress]}
    return data, "\n".join([f"security group [bold]{group}[/] ({sg.id}, VPC {v.name}){said}",
                            *(f"  {direction}: {'; '.join(data[direction]) or 'none'}"
                              for direction in ("ingress", "egress"))])


def _sg_change(verb: str, group: str, egress: bool, protocol: str, port: str | None, icmp_type: int | None,
               icmp_code: int | None, peer: str, description: str, vpc: str | None, lab: str | None,
               as_json: bool) -> None:
    from ..ops import security
    the_lab = running_lab(lab, as_json)
    rule = call(as_json, sg_rule, protocol, port, icmp_type, icmp_code, peer, description)
    fn = getattr(security, f"{verb}_security_group_{'egress' if egress else 'ingress'}")
    apply_change(as_json, lambda: fn(the_lab, group, rule, vpc=vpc), lambda ms: group_report(the_lab, group, vpc, ms))


PeerOpt = Annotated[str, typer.Option("--peer", help="Source (ingress) or destination (egress): CIDR, sg:NAME or pl:NAME.")]


@sg_app.command()
def authorize(group: str, protocol: ProtocolOpt, peer: PeerOpt, egress: EgressOpt = False, port: PortOpt = None,
              icmp_type: IcmpTypeOpt = None, icmp_code: IcmpCodeOpt = None,
              description: Annotated[str, typer.Option(help="Rule description.")] = "",
              vpc: VpcOpt = None, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Add a rule (authorize-security-group-ingress / -egress): `vpcemu sg authorize web -p tcp --port 443 --peer 0.0.0.0/0`."""
    _sg_change("authorize", group, egress, protocol, port, icmp_type, icmp_code, peer, description, vpc, lab, as_json)


@sg_app.command()
def revoke(group: str, protocol: ProtocolOpt, peer: PeerOpt, egress: EgressOpt = False, port: PortOpt = None,
           icmp_type: IcmpTypeOpt = None, icmp_code: IcmpCodeOpt = None,
           vpc: VpcOpt = None, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Remove a rule (revoke-security-group-ingress / -egress); tracked flows it admitted survive, as on AWS."""
    _sg_change("revoke", group, egress, protocol, port, icmp_type, icmp_code, peer, "", vpc, lab, as_json)


@sg_app.command()
def show(group: str, vpc: VpcOpt = None, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """A security group's rules as the running lab enforces them."""
    the_lab = running_lab(lab, as_json)
    say(call(as_json, group_report, the_lab, group, vpc, None), as_json)


# -- network ACLs ----------------------------------------------------------------------------------
def acl_report(lab, network_acl: str, vpc: str | None, elapsed_ms: float | None) -> Report:
    from ..ops.security import network_acl_of
    v, acl = network_acl_of(lab.topology, network_acl, vpc)
    applied, said = _applied(elapsed_ms)
    data = {"network_acl": acl.name, "id": acl.id, "vpc": v.name, **applied,
            "subnets": [s.name for s in v.subnets.values() if s.network_acl == acl.name],
            "ingress": [e.describe() for e in acl.ordered(False)] + ["* deny all"],
            "egress": [e.describe() for e in acl.ordered(True)] + ["* deny all"]}
    return data, "\n".join([f"network ACL [bold]{acl.name}[/] ({acl.id}, VPC {v.name}, subnets: "
                            f"{', '.join(data['subnets']) or 'none'}){said}",
                            *(f"  {direction}: {'; '.join(data[direction])}" for direction in ("ingress", "egress"))])


@nacl_app.command("add-entry")
def add_entry(network_acl: str,
              rule_number: Annotated[int, typer.Option("--rule-number", "-n", help="1-32766; lowest matches first.")],
              protocol: ProtocolOpt,
              action: Annotated[str, typer.Option("--action", help="allow or deny.")],
              cidr_block: Annotated[str, typer.Option("--cidr", help="Source (ingress) or destination (egress) CIDR.")],
              egress: EgressOpt = False, port: PortOpt = None, icmp_type: IcmpTypeOpt = None,
              icmp_code: IcmpCodeOpt = None, vpc: VpcOpt = None, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Add a numbered entry (create-network-acl-entry): `vpcemu nacl add-entry app -n 110 -p tcp --port 1024-65535 --action allow --cidr 0.0.0.0/0`."""
    from ..ops import security
    the_lab = running_lab(lab, as_json)
    low, high = call(as_json, port_range, port, icmp_type, icmp_code)
    entry = NetworkAclEntry(rule_number, protocol, action, egress, call(as_json, cidr, cidr_block, "--cidr"), low, high)
    apply_change(as_json, lambda: security.create_network_acl_entry(the_lab, network_acl, entry, vpc=vpc),
                 lambda ms: acl_report(the_lab, network_acl, vpc, ms))


@nacl_app.command("delete-entry")
def delete_entry(network_acl: str,
                 rule_number: Annotated[int, typer.Option("--rule-number", "-n", help="The entry's number.")],
                 egress: EgressOpt = False, vpc: VpcOpt = None, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Remove a numbered entry (delete-network-acl-entry)."""
    from ..ops import security
    the_lab = running_lab(lab, as_json)
    apply_change(as_json, lambda: security.delete_network_acl_entry(the_lab, network_acl, rule_number, egress, vpc=vpc),
                 lambda ms: acl_report(the_lab, network_acl, vpc, ms))


@nacl_app.command()
def associate(subnet: str, network_acl: str, vpc: VpcOpt = None, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Give SUBNET the network ACL NETWORK_ACL (replace-network-acl-association)."""
    from ..ops import security
    the_lab = running_lab(lab, as_json)
    apply_change(as_json, lambda: security.replace_network_acl_association(the_lab, subnet, network_acl, vpc=vpc),
                 lambda ms: acl_report(the_lab, network_acl, vpc, ms))


@nacl_app.command("show")
def show_acl(network_acl: str, vpc: VpcOpt = None, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """A network ACL's entries in the order they are evaluated, and its subnets."""
    the_lab = running_lab(lab, as_json)
    say(call(as_json, acl_report, the_lab, network_acl, vpc, None), as_json)
