"""`vpcemu up`, `down`, `clean`, `status`, `repair`, `exec`: a lab built, torn down, cleaned up after a
crash, shown (and checked against its model), repaired, and used (a program run inside one of its
instances or internet hosts)."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ..codes import ErrorCode
from ..errors import UsageError, VpcemuError
from .common import JsonOpt, LabOpt, call, console, emit, err_console, fail, lab_name, running_lab

app = typer.Typer()


@app.command()
def up(topology: Path, name: Annotated[Optional[str], typer.Option(help="Lab name (default: the file's).")] = None,
       replace: Annotated[bool, typer.Option("--replace", help="If the last build of this lab died, remove what it "
                                              "left first (a live lab is never replaced).")] = False,
       as_json: JsonOpt = False) -> None:
    """Build a lab from a topology file (root). All or nothing. Prints the time until the lab is usable (every
    namespace built, every service answering) and its parts: load and plan, kernel build, services."""
    from ..lab import Lab
    lab = call(as_json, Lab.up, topology, lab_name(name, as_json), replace)
    st = lab.status()
    if not emit(st, as_json):
        t = st["up_seconds"]
        by = {"warm": " (forked by the warm service process)",
              "fresh": " (started by a fresh Python, not by the warm service process)"}
        console.print(f"[green]up[/]: lab [bold]{lab.name}[/] usable in {t['usable']} s: every one of its "
                      f"{st['namespaces']} namespaces built and every service answering, from the start of the build "
                      f"call (of it: load and plan {t['prepare']} s, kernel build {t['build']} s, services answering "
                      f"{t['services']} s after the build{by.get(st.get('services_started_by'), '')}). Next: `vpcemu status`, `vpcemu exec`, `vpcemu probe`, "
                      f"`vpcemu down {lab.name}`", highlight=False)


@app.command()
def down(name: Annotated[Optional[str], typer.Argument(help="Lab to tear down.")] = None,
         all_labs: Annotated[bool, typer.Option("--all", help="Tear down every lab.")] = False,
         as_json: JsonOpt = False) -> None:
    """Tear a lab down from its journal (its model is not needed: a lab whose model is torn goes too)."""
    from ..lab import Lab, require_root
    call(as_json, require_root)
    if all_labs and name is not None:
        fail(UsageError("give a lab name or --all, not both", ErrorCode.INVALID_PARAMETER_COMBINATION), as_json)
    targets = Lab.list() if all_labs else [call(as_json, Lab.choose, lab_name(name, as_json))]
    done, left_alone, refused = [], [], []
    for target in targets:
        try:
            left_alone += [f"{target}: {p}" for p in Lab.remove(target)]
            done.append(target)
        except VpcemuError as exc:
            if not all_labs:
                fail(exc, as_json)
            refused.append(f"{target}: {exc}")      # --all: one lab's failure stops no other's removal
    if not emit({"down": done, "left_alone": left_alone, "refused": refused}, as_json):
        console.print(f"down: {', '.join(done) or 'no lab was up'}", highlight=False)
        for line in left_alone + refused:
            err_console.print(f"[yellow]warning:[/] {line}", highlight=False)
    if refused:
        raise typer.Exit(1)


@app.command()
def clean(as_json: JsonOpt = False) -> None:
    """After a crash: remove what crashed labs left (journals and ownership marks say what), and only that.
    Also stops the warm service process, which starts labs' services (it holds nothing of any lab)."""
    from ..lab import require_root
    from ..lifecycle import clean_crashed
    call(as_json, require_root)
    report = call(as_json, clean_crashed)
    if not emit(report, as_json):
        if not report["removed_labs"] and not report["orphan_namespaces"]:
            console.print("clean: nothing left behind by a crashed lab")
        for line in report["stopped"]:
            console.print(f"clean: {line}")
        for lab in report["removed_labs"]:
            console.print(f"clean: removed crashed lab {lab}")
        for ns in report["orphan_namespaces"]:
            console.print(f"clean: removed orphan namespace {ns}")
        for problem in report["problems"]:
            err_console.print(f"[yellow]warning:[/] {problem}", highlight=False)


@app.command()
def status(name: Annotated[Optional[str], typer.Argument(help="Lab name (default: all labs).")] = None,
           check: Annotated[bool, typer.Option("--check", help="Compare each lab's kernel with its model: "
                                               "list the differences, exit 1 if there are any.")] = False,
           as_json: JsonOpt = False) -> None:
    """Labs that are up; per lab its VPCs, subnets, route tables, instances and ENIs."""
    from ..lab import Lab, require_root
    call(as_json, require_root)
    if check:
        check_labs([running_lab(name, as_json)] if name else [call(as_json, Lab.attach, n) for n in Lab.list()],
                   as_json)
        return
    if name is None:
        data = Lab.statuses()
    else:
        lab_name(name, as_json)
        data = [st for st in Lab.statuses() if st["lab"] == name]
        if not data:
            running_lab(name, as_json)          # says why not
    if emit(data if name is None else data[0], as_json):
        return
    if not data:
        console.print("no lab is up")
    for st in data:
        render_status(st)


def check_labs(labs: list, as_json: bool) -> None:
    report = [{"lab": lab.name, "differences": call(as_json, lab.differences)} for lab in labs]
    if not emit(report, as_json):
        for r in report:
            if not r["differences"]:
                console.print(f"lab {r['lab']}: the kernel holds the model", highlight=False)
                continue
            console.print(f"lab {r['lab']}: {len(r['differences'])} difference(s) between kernel and model "
                          f"(`vpcemu repair {r['lab']}` fixes them):", highlight=False)
            for line in r["differences"]:
                console.print(f"  {line}", highlight=False, markup=False)
    if any(r["differences"] for r in report):
        raise typer.Exit(1)


@app.command()
def repair(name: Annotated[Optional[str], typer.Argument(help="Lab to repair.")] = None,
           as_json: JsonOpt = False) -> None:
    """Make a lab's kernel hold its model again (after a change was killed or failed half-way); says what it fixed."""
    lab = running_lab(name, as_json)
    fixed = call(as_json, lab.repair)
    if not emit({"lab": lab.name, "fixed": fixed}, as_json):
        if not fixed:
            console.print(f"repair: lab {lab.name} needed nothing; its kernel holds its model", highlight=False)
        else:
            console.print(f"repair: lab {lab.name}, {len(fixed)} fix(es):", highlight=False)
        for line in fixed:
            console.print(f"  {line}", highlight=False, markup=False)


@app.command()
def reset(name: Annotated[Optional[str], typer.Argument(help="Lab to reset.")] = None,
          as_json: JsonOpt = False) -> None:
    """Undo every live change since the lab was built and forget every tracked flow (what the pytest fixture
    does between tests sharing a lab); says what it changed in the kernel and how long it took."""
    lab = running_lab(name, as_json)
    started = time.monotonic()
    fixed = call(as_json, lab.reset)
    seconds = round(time.monotonic() - started, 4)
    if not emit({"lab": lab.name, "fixed": fixed, "seconds": seconds}, as_json):
        console.print(f"reset: lab {lab.name} holds the model it was built from, {len(fixed)} kernel step(s), "
                      f"flows forgotten, in {seconds:.3f} s", highlight=False)
        for line in fixed:
            console.print(f"  {line}", highlight=False, markup=False)


def render_status(st: dict) -> None:
    if "region" not in st:                      # a lab status could not attach to
        console.print(f"[bold]lab {st['lab']}[/] ({st['status']}, {st['namespaces']} namespaces, builder pid "
                      f"{st['builder_pid']}): {st['problem']}", highlight=False)
        return
    console.print(f"[bold]lab {st['lab']}[/] ({st['status']}, {st['namespaces']} namespaces, region {st['region']})")
    sup = st["supervisor"]
    if sup is not None:
        console.print(f"  supervisor pid {sup['pid']}: {_up_down(sup['state'])}, worker pid {sup['worker_pid']}, "
                      f"restarts {sup['restarts']}" + (f" (last: {sup['last_exit']})" if sup["last_exit"] else ""),
                      highlight=False)
        for svc in sup["services"]:
            console.print(f"    {svc['service']}: {_up_down(svc['state'])} in {svc['namespace']} "
                          f"({', '.join(svc['addresses'])})", highlight=False)
    for vpc in st["vpcs"]:
        console.print(f"  VPC [cyan]{vpc['name']}[/] {vpc['id']} {', '.join(vpc['cidr_blocks'])}", highlight=False)
        table = Table("subnet", "cidr", "az", "route table", "network acl", box=None, padding=(0, 2))
        for s in vpc["subnets"]:
            table.add_row(s["name"], s["cidr"], s["az"], s["route_table"], s["network_acl"])
        console.print(table)
        for rt in vpc["route_tables"]:
            routes = "; ".join(f"{r['destination']} → {r['target']}" + ("" if r["state"] == "active" else f" ({r['state']})")
                               for r in rt["routes"])
            edge = f" (edge: {', '.join(rt['edge_associations'])})" if rt["edge_associations"] else ""
            console.print(f"  route table {rt['name']}{' (main)' if rt['main'] else ''}{edge}: {routes}", highlight=False)
        if vpc["internet_gateway"]:
            console.print(f"  internet gateway {vpc['internet_gateway']['name']}", highlight=False)
        for e in vpc["endpoints"]:
            where = ", ".join(e["route_tables"] or e["network_interfaces"])
            console.print(f"  {e['type'].lower()} endpoint {e['name']} {e['id']} → {e['service']}: {where}"
                          + (" (private DNS)" if e["private_dns"] and e["type"] == "Interface" else "")
                          + (f" ({e['prefix_list_id']})" if e["prefix_list_id"] else ""), highlight=False)
            for n in e["dns_names"]:
                console.print(f"    {n}", highlight=False)
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
    for p in st["prefix_lists"]:
        console.print(f"  prefix list {p['id']} {p['prefix_list_name']}: {', '.join(p['cidrs'])}", highlight=False)


def _up_down(state: str) -> str:
    return "[green]up[/]" if state == "up" else f"[red]{state}[/]"


# -- using a lab ----------------------------------------------------------------------------------------
@app.command(name="exec", context_settings={"allow_interspersed_args": False})
def exec_(target: Annotated[str, typer.Argument(help="Instance, attached ENI or internet host to run in.")],
          command: Annotated[list[str], typer.Argument(help="The program and its arguments (after --).")],
          lab: LabOpt = None) -> None:
    """Run a program inside an instance or internet host: `vpcemu exec web-1 -- curl -s http://10.0.1.10:8080/`.

    It gets the VPC resolver, the region, the AWS CLI on the PATH and the lab CA in every trust store.
    In an instance, its role's credentials come from the instance metadata service, as on EC2."""
    the_lab = running_lab(lab, False)
    if command[:1] == ["--"]:
        command = command[1:]
    argv = call(False, the_lab.exec_argv, target, command)
    sys.stdout.flush()
    os.execvp(argv[0], argv)
