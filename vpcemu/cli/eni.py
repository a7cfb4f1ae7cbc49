"""`vpcemu eni`: live network interface operations (attach, detach, move, modify) on a running lab."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..errors import UsageError
from .common import MAX_DELAY_MS, JsonOpt, LabOpt, Report, apply_change, done, fail, number, running_lab

eni_app = typer.Typer(no_args_is_help=True, help="Network interfaces (ENIs), live: attach, detach, move, modify.")
EniArg = Annotated[str, typer.Argument(help="ENI name or eni- id.")]
DelayOpt = Annotated[float, typer.Option("--delay-ms", help="AWS-like attachment time to emulate (AWS takes "
                                         "seconds; default: as fast as the kernel).")]


def eni_report(lab, network_interface: str, verb: str, elapsed_ms: float) -> Report:
    eni = lab.topology.network_interface(network_interface)
    a = eni.attachment
    private_ips = [str(ip) for ip in eni.private_ip_addresses]
    where = f"{a.instance} eth{a.device_index}" if a else "detached (parked)"
    return done(f"{verb}: {eni.name} ({eni.id}, {eni.mac_address}, {', '.join(private_ips)}) → {where}",
                {"network_interface": eni.name, "id": eni.id, "operation": verb,
                 "instance": a.instance if a else None, "device_index": a.device_index if a else None,
                 "mac": eni.mac_address, "private_ips": private_ips, "security_groups": list(eni.security_groups)},
                elapsed_ms)


@eni_app.command()
def attach(network_interface: EniArg,
           instance: Annotated[str, typer.Option("--instance", "-i", help="Instance to attach to.")],
           device_index: Annotated[int, typer.Option("--device-index", "-d", help="1-31; it appears as eth<N>.")],
           delay_ms: DelayOpt = 0.0, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Attach a detached ENI to an instance (attach-network-interface)."""
    from ..ops import network_interface as ops
    number(as_json, "--delay-ms", delay_ms, 0, MAX_DELAY_MS)
    the_lab = running_lab(lab, as_json)
    apply_change(as_json, lambda: ops.attach_network_interface(the_lab, network_interface, instance, device_index,
                                                               delay_ms),
                 lambda ms: eni_report(the_lab, network_interface, "attached", ms))


@eni_app.command()
def detach(network_interface: EniArg, delay_ms: DelayOpt = 0.0, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Detach an ENI; it waits, down, in the lab's parking namespace with its MAC, IPs and groups (detach-network-interface)."""
    from ..ops import network_interface as ops
    number(as_json, "--delay-ms", delay_ms, 0, MAX_DELAY_MS)
    the_lab = running_lab(lab, as_json)
    apply_change(as_json, lambda: ops.detach_network_interface(the_lab, network_interface, delay_ms),
                 lambda ms: eni_report(the_lab, network_interface, "detached", ms))


@eni_app.command()
def move(network_interface: EniArg,
         to: Annotated[str, typer.Option("--to", help="Instance to move it to.")],
         device_index: Annotated[Optional[int], typer.Option("--device-index", "-d",
                                                             help="Default: its current index if free there.")] = None,
         delay_ms: DelayOpt = 0.0, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Move an attached ENI to another instance in one step (detach + attach)."""
    from ..ops import network_interface as ops
    number(as_json, "--delay-ms", delay_ms, 0, MAX_DELAY_MS)
    the_lab = running_lab(lab, as_json)
    apply_change(as_json, lambda: ops.move_network_interface(the_lab, network_interface, to, device_index, delay_ms),
                 lambda ms: eni_report(the_lab, network_interface, "moved", ms))


@eni_app.command()
def create(name: Annotated[str, typer.Argument(help="Name for the new ENI.")],
           subnet: Annotated[str, typer.Option("--subnet", "-s", help="Subnet it lives in.")],
           addresses: Annotated[Optional[list[str]], typer.Option("--address", "-a", help="Private IPs, the first "
                                                                  "primary (default: the first free one).")] = None,
           groups: Annotated[Optional[list[str]], typer.Option("--group", "-g", help="Security groups (default: the "
                                                               "VPC's default).")] = None,
           description: Annotated[str, typer.Option(help="Description.")] = "",
           vpc: Annotated[Optional[str], typer.Option(help="VPC of the subnet, if several have one of that name.")] = None,
           lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Create a standalone ENI, detached (create-network-interface)."""
    from ..ops import network_interface as ops
    the_lab = running_lab(lab, as_json)
    apply_change(as_json, lambda: ops.create_network_interface(the_lab, name, subnet, addresses, groups, description, vpc),
                 lambda ms: eni_report(the_lab, name, "created", ms))


@eni_app.command()
def delete(network_interface: EniArg, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Delete a detached ENI (delete-network-interface)."""
    from ..ops import network_interface as ops
    the_lab = running_lab(lab, as_json)
    before = the_lab.topology

    def report(ms: float) -> Report:
        eni = before.network_interface(network_interface)      # gone from the lab now
        return done(f"deleted: {eni.name} ({eni.id})",
                    {"network_interface": eni.name, "id": eni.id, "operation": "deleted"}, ms)

    apply_change(as_json, lambda: ops.delete_network_interface(the_lab, network_interface), report)


AddressOpt = Annotated[list[str], typer.Option("--address", "-a", help="Private IPv4 address (repeatable).")]


@eni_app.command("assign-private-ip")
def assign_private_ip(network_interface: EniArg, addresses: AddressOpt,
                      allow_reassignment: Annotated[bool, typer.Option("--allow-reassignment",
                                                                       help="Take an IP another ENI holds.")] = False,
                      lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Assign secondary private IPs (assign-private-ip-addresses)."""
    from ..ops import network_interface as ops
    the_lab = running_lab(lab, as_json)
    apply_change(as_json, lambda: ops.assign_private_ip_addresses(the_lab, network_interface, addresses,
                                                                  allow_reassignment),
                 lambda ms: eni_report(the_lab, network_interface, "assigned", ms))


@eni_app.command("unassign-private-ip")
def unassign_private_ip(network_interface: EniArg, addresses: AddressOpt,
                        lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Unassign secondary private IPs (unassign-private-ip-addresses)."""
    from ..ops import network_interface as ops
    the_lab = running_lab(lab, as_json)
    apply_change(as_json, lambda: ops.unassign_private_ip_addresses(the_lab, network_interface, addresses),
                 lambda ms: eni_report(the_lab, network_interface, "unassigned", ms))


# -- ENI attributes ----------------------------------------------------------------------------------
@eni_app.command()
def modify(network_interface: Annotated[str, typer.Argument(help="ENI name or eni- id (an instance: its primary ENI).")],
           groups: Annotated[Optional[list[str]], typer.Option("--group", "-g", help="Replace the ENI's security "
                                                               "groups (repeat for each, at most 5).")] = None,
           source_dest_check: Annotated[Optional[bool], typer.Option("--source-dest-check/--no-source-dest-check",
                                                                     help="Turn the check on or off.")] = None,
           lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Change an ENI's security groups or source/destination check (modify-network-interface-attribute)."""
    from ..ops import security
    the_lab = running_lab(lab, as_json)
    if groups is None and source_dest_check is None:
        fail(UsageError("nothing to modify", "MissingParameter",
                        hint="give --group (repeatable) or --source-dest-check/--no-source-dest-check"), as_json)

    def report(ms: float) -> Report:
        eni = security.interface(the_lab.topology, network_interface)
        return ({"network_interface": eni.name, "id": eni.id, "security_groups": list(eni.security_groups),
                 "source_dest_check": eni.source_dest_check, "applied_ms": round(ms, 2)},
                f"{eni.name} ({eni.id}): security groups {', '.join(eni.security_groups)}; source/dest check "
                f"{'on' if eni.source_dest_check else 'off'}; applied in {ms:.1f} ms")

    apply_change(as_json, lambda: security.modify_network_interface_attribute(the_lab, network_interface, groups,
                                                                              source_dest_check), report)
