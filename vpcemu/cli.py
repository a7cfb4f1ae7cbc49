"""The `vpcemu` command: a thin typer layer over the Lab API. Parses, calls, renders (rich or --json).

Exit status: 0 success; 1 a check did not hold (`probe`: not reachable); 2 bad input (topology or
arguments), nothing created or changed.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from .errors import TopologyError, UsageError, VpcemuError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Amazon VPC networking, emulated on this host with network namespaces.")
# a pipe or CI log gets wide lines rather than wrapped tables
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
LabOpt = Annotated[Optional[str], typer.Option("--lab", "-l", help="Lab name; may be omitted when one lab is up.")]


def emit(data: Any, as_json: bool) -> bool:
    if as_json:
        print(json.dumps(data, indent=2, default=str))
    return as_json


def fail(exc: VpcemuError, as_json: bool) -> None:
    if as_json:
        body: dict[str, Any] = {"error": type(exc).__name__, "message": str(exc)}
        if isinstance(exc, TopologyError):
            body["problems"] = [asdict(p) for p in exc.problems]
        print(json.dumps(body, indent=2))
    else:
        err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
    raise typer.Exit(exc.exit_code)


def _call(as_json: bool, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except VpcemuError as exc:
        fail(exc, as_json)


def _lab(name: str | None, as_json: bool):
    from .lab import Lab, require_root
    _call(as_json, require_root)
    return _call(as_json, Lab.attach, name)


# -- files ------------------------------------------------------------------------------------------
@app.command()
def validate(topology: Path, as_json: JsonOpt = False) -> None:
    """Check a topology file against the format and AWS's rules. Exit 0, or 2 with every problem."""
    from .load import load_topology
    topo = _call(as_json, load_topology, topology)
    summary = {"valid": True, "file": str(topology), "lab": topo.name, "vpcs": len(topo.vpcs),
               "subnets": sum(len(v.subnets) for v in topo.vpcs.values()),
               "instances": len(topo.instances), "network_interfaces": len(topo.network_interfaces),
               "expectations": len(topo.expect)}
    if not emit(summary, as_json):
        console.print(f"[green]valid[/]: {topology} — lab {topo.name}: {summary['vpcs']} VPC(s), "
                      f"{summary['subnets']} subnet(s), {summary['instances']} instance(s), "
                      f"{summary['network_interfaces']} ENI(s)")


@app.command()
def plan(topology: Path, name: Annotated[Optional[str], typer.Option(help="Lab name (default: the file's).")] = None,
         as_json: JsonOpt = False) -> None:
    """Show what `up` would build, without building it (no root needed)."""
    from .load import load_topology
    from .plan import plan_lab
    topo = _call(as_json, load_topology, topology, name)
    p = _call(as_json, plan_lab, topo, name)
    if emit(p.to_dict(), as_json):
        return
    console.print(f"[bold]lab {p.lab}[/]: {len(p.namespaces)} namespaces, {len(p.veths)} veths, "
                  f"{len(p.addresses)} addresses, {len(p.routes)} routes, {len(p.rules)} rules, "
                  f"{len(p.neighbours)} static neighbours, {len(p.nft)} nft rulesets")
    for ns in p.namespaces:
        console.print(f"[cyan]{ns}[/]")
        for v in p.in_namespace(ns, p.veths):
            console.print(f"  veth {v.ifname} {v.mac} ⇄ {v.peer_namespace}/{v.peer_ifname} {v.peer_mac}", highlight=False)
        for a in p.in_namespace(ns, p.addresses):
            console.print(f"  addr {a.address}/{a.prefixlen} dev {a.ifname}", highlight=False)
        for r in p.in_namespace(ns, p.rules):
            what = "blackhole" if r.action == "blackhole" else f"lookup {r.table}"
            sel = " ".join(x for x in (f"from {r.source}" if r.source else "", f"to {r.destination}" if r.destination else "",
                                       f"fwmark {r.fwmark:#x}/{r.fwmask:#x}" if r.fwmark is not None else "") if x)
            console.print(f"  rule {r.priority}: {sel or 'all'} {what}  [dim]{r.comment}[/]", highlight=False)
        for r in p.in_namespace(ns, p.routes):
            via = f" via {r.gateway}" if r.gateway else ""
            dev = f" dev {r.ifname}" if r.ifname else ""
            kind = "" if r.type == "unicast" else f"{r.type} "
            console.print(f"  route table {r.table}: {kind}{r.destination}{via}{dev}  [dim]{r.comment}[/]", highlight=False)


# -- lifecycle ----------------------------------------------------------------------------------------
@app.command()
def up(topology: Path, name: Annotated[Optional[str], typer.Option(help="Lab name (default: the file's).")] = None,
       as_json: JsonOpt = False) -> None:
    """Build a lab from a topology file (root). All or nothing."""
    from .lab import Lab
    lab = _call(as_json, Lab.up, topology, name)
    st = lab.status()
    if not emit(st, as_json):
        console.print(f"[green]up[/]: lab [bold]{lab.name}[/] in {st['build_seconds']} s "
                      f"({st['namespaces']} namespaces). Next: `vpcemu status`, `vpcemu exec`, `vpcemu probe`, "
                      f"`vpcemu down {lab.name}`")


@app.command()
def down(name: Annotated[Optional[str], typer.Argument(help="Lab to tear down.")] = None,
         all_labs: Annotated[bool, typer.Option("--all", help="Tear down every lab.")] = False,
         as_json: JsonOpt = False) -> None:
    """Tear a lab down from its journal."""
    from .lab import Lab, require_root
    _call(as_json, require_root)
    targets = Lab.list() if all_labs else [_lab(name, as_json).name]
    for lab_name in targets:
        _call(as_json, lambda n=lab_name: Lab.attach(n).down())
    if not emit({"down": targets}, as_json):
        console.print(f"down: {', '.join(targets) or 'no lab was up'}")


@app.command()
def clean(as_json: JsonOpt = False) -> None:
    """After a crash: remove what crashed labs left (journals and ownership marks say what), and only that."""
    from .lab import require_root
    from .lifecycle import clean_crashed
    _call(as_json, require_root)
    report = _call(as_json, clean_crashed)
    if not emit(report, as_json):
        if not report["removed_labs"] and not report["orphan_namespaces"]:
            console.print("clean: nothing left behind by a crashed lab")
        for lab in report["removed_labs"]:
            console.print(f"clean: removed crashed lab {lab}")
        for ns in report["orphan_namespaces"]:
            console.print(f"clean: removed orphan namespace {ns}")


@app.command()
def status(name: Annotated[Optional[str], typer.Argument(help="Lab name (default: all labs).")] = None,
           as_json: JsonOpt = False) -> None:
    """Labs that are up; per lab its VPCs, subnets, route tables, instances and ENIs."""
    from .lab import Lab, require_root
    _call(as_json, require_root)
    labs = [_lab(name, as_json)] if name else [_call(as_json, Lab.attach, n) for n in Lab.list()]
    data = [lab.status() for lab in labs]
    if emit(data if name is None else data[0], as_json):
        return
    if not data:
        console.print("no lab is up")
    for st in data:
        render_status(st)


def render_status(st: dict) -> None:
    console.print(f"[bold]lab {st['lab']}[/] ({st['status']}, {st['namespaces']} namespaces, region {st['region']})")
    for vpc in st["vpcs"]:
        console.print(f"  VPC [cyan]{vpc['name']}[/] {vpc['id']} {', '.join(vpc['cidr_blocks'])}", highlight=False)
        table = Table("subnet", "cidr", "az", "route table", "network acl", box=None, padding=(0, 2))
        for s in vpc["subnets"]:
            table.add_row(s["name"], s["cidr"], s["az"], s["route_table"], s["network_acl"])
        console.print(table)
        for rt in vpc["route_tables"]:
            routes = "; ".join(f"{r['destination']} → {r['target']}" + ("" if r["state"] == "active" else f" ({r['state']})")
                               for r in rt["routes"])
            console.print(f"  route table {rt['name']}{' (main)' if rt['main'] else ''}: {routes}", highlight=False)
        if vpc["internet_gateway"]:
            console.print(f"  internet gateway {vpc['internet_gateway']['name']}", highlight=False)
        for e in vpc["endpoints"]:
            where = ", ".join(e["route_tables"] or e["network_interfaces"])
            console.print(f"  {e['type'].lower()} endpoint {e['name']} {e['id']} → {e['service']}: {where}"
                          + (" (private DNS)" if e["private_dns"] and e["type"] == "Interface" else ""), highlight=False)
        for n in vpc["nat_gateways"]:
            console.print(f"  NAT gateway {n['name']} {n['id']} ({n['connectivity_type']}) in {n['subnet']}: "
                          f"{n['private_ip']}" + (f" → {n['eip']}" if n["eip"] else ""), highlight=False)
        table = Table("ENI", "id", "attached to", "dev", "mac", "private IPs", "public", "SGs", "src/dst", "managed",
                      box=None, padding=(0, 1))
        for e in vpc["network_interfaces"]:
            table.add_row(e["name"], e["id"], e["attached_to"] or "detached",
                          "" if e["device_index"] is None else f"eth{e['device_index']}", e["mac"],
                          ", ".join(e["private_ips"]), ", ".join(e["public_ips"].values()),
                          ", ".join(e["security_groups"]), "on" if e["source_dest_check"] else "off",
                          e["interface_type"] if e["requester_managed"] else "")
        console.print(table)
    for p in st["peering"]:
        console.print(f"  peering {p['name']} {p['id']}: {p['requester']} ⇄ {p['accepter']}", highlight=False)
    for h in st["internet_hosts"]:
        console.print(f"  internet host {h['name']} {h['ip']} listening on {', '.join(h['listen']) or 'nothing'}",
                      highlight=False)
    for service, addresses in st["services"].items():
        console.print(f"  AWS service {service}: {', '.join(addresses)}", highlight=False)


# -- using a lab ----------------------------------------------------------------------------------------
@app.command(name="exec", context_settings={"allow_interspersed_args": False})
def exec_(target: Annotated[str, typer.Argument(help="Instance, attached ENI or internet host to run in.")],
          command: Annotated[list[str], typer.Argument(help="The program and its arguments (after --).")],
          lab: LabOpt = None) -> None:
    """Run a program inside an instance or internet host: `vpcemu exec web-1 -- curl -s http://10.0.1.10:8080/`."""
    the_lab = _lab(lab, False)
    if command[:1] == ["--"]:
        command = command[1:]
    argv = _call(False, the_lab.exec_argv, target, command)
    sys.stdout.flush()
    os.execvp(argv[0], argv)


@app.command()
def probe(source: str, destination: str,
          protocol: Annotated[str, typer.Option("--protocol", "-p", help="icmp, tcp or udp.")] = "icmp",
          port: Annotated[Optional[int], typer.Option(help="Destination port (tcp, udp).")] = None,
          timeout: Annotated[float, typer.Option(help="Seconds to wait for an answer.")] = 1.0,
          lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Send one real packet from SOURCE to DESTINATION and report what happened, hop by hop, next to
    what AWS's rules expect. Exit 0 reachable, 1 not reachable, 3 if the two disagree (a bug)."""
    the_lab = _lab(lab, as_json)
    result = _call(as_json, the_lab.probe, source, destination, protocol, port, timeout)
    if not emit(result.to_dict(), as_json):
        render_probe(result)
    if result.disagreements:
        raise typer.Exit(3)
    if not result.reachable:
        raise typer.Exit(1)


def _endpoint(address: str, port: int | None) -> str:
    return address if port is None else f"{address}:{port}"


def render_probe(r) -> None:
    what = f"{r.protocol}" + (f"/{r.port}" if r.port else "")
    verdict = "[green]reachable[/]" if r.reachable else "[red]not reachable[/]"
    extra = f" ({r.answer}, rtt {r.rtt_ms} ms)" if r.reachable else (f" ({r.icmp_error})" if r.icmp_error else "")
    console.print(f"{r.source} ({r.source_address}) → {r.destination} ({r.destination_address}) {what}: "
                  f"{verdict}{extra}", highlight=False)
    table = Table("t (ms)", "leg", "namespace", "link", "component", "dir", "src → dst", "ttl", box=None, padding=(0, 1))
    for h in r.hops:
        table.add_row(f"{h.time_ms:.3f}", h.leg, h.namespace, h.ifname, h.component, h.direction,
                      f"{_endpoint(h.source, h.source_port)} → {_endpoint(h.destination, h.destination_port)}",
                      str(h.ttl))
    console.print(table)
    for e in r.explanations:
        details = " ".join(f"{k}={v}" for k, v in e.items() if k not in ("code", "namespace", "chain"))
        console.print(f"  dropped: [bold]{e['code']}[/] {details}", highlight=False)
    exp = r.expected or {}
    path = " → ".join(h["component"] for h in exp.get("forward", []) if h["kind"] not in ("check", "route-table"))
    why = "; ".join(e["code"] for e in exp.get("explanations", []))
    console.print(f"  expected (AWS rules): {'reachable' if exp.get('reachable') else 'not reachable'}: {path}"
                  + (f" ({why})" if why else ""), highlight=False)
    if r.disagreements:
        for d in r.disagreements:
            console.print(f"  [red bold]DISAGREEMENT (a vpcemu bug):[/] {d}", highlight=False)
    else:
        console.print("  observed and expected agree", highlight=False)


# -- live changes: one sub-command group per AWS resource kind -------------------------------------------
from .cli_drill import drill_app  # noqa: E402  (they use the helpers above)
from .cli_edge import eip_app, endpoint_app, nat_app, route_app  # noqa: E402
from .cli_eni import eni_app  # noqa: E402
from .cli_flowlogs import flowlogs  # noqa: E402
from .cli_security import nacl_app, sg_app  # noqa: E402
from . import cli_verify  # noqa: E402,F401  (verify, matrix, diff)

app.add_typer(sg_app, name="sg")
app.add_typer(nacl_app, name="nacl")
app.add_typer(eni_app, name="eni")
app.add_typer(drill_app, name="drill")
app.add_typer(eip_app, name="eip")
app.add_typer(nat_app, name="nat")
app.add_typer(route_app, name="route")
app.add_typer(endpoint_app, name="endpoint")
app.command("flowlogs")(flowlogs)


def main() -> None:
    try:
        app()
    except UsageError as exc:
        err_console.print(f"error: {exc}")
        sys.exit(2)
