"""`vpcemu validate`, `vpcemu plan`: a topology file read and checked, and what `up` would build; no root."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import JsonOpt, call, console, emit

app = typer.Typer()


@app.command()
def validate(topology: Path, as_json: JsonOpt = False) -> None:
    """Check a topology file against the format and AWS's rules. Exit 0, or 2 with every problem."""
    from ..load import load_topology
    topo = call(as_json, load_topology, topology)
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
    from ..load import load_topology
    from ..plan import plan_lab
    topo = call(as_json, load_topology, topology, name)
    p = call(as_json, plan_lab, topo, name)
    if emit(p.to_dict(), as_json):
        return
    console.print(f"[bold]lab {p.lab}[/]: {len(p.namespaces)} namespaces, {len(p.veths)} veths, "
                  f"{len(p.addresses)} addresses, {len(p.routes)} routes, {len(p.rules)} rules, "
                  f"{len(p.neighbours)} static neighbours, {len(p.nft)} nft rulesets")
    for ns in p.namespaces:
        console.print(f"[cyan]{ns}[/]")
        for v in p.in_namespace(ns, p.veths):
            console.print(f"  veth {v.ifname} {v.mac} ⇄ {v.peer_namespace}/{v.peer_ifname} {v.peer_mac} mtu {v.mtu}",
                          highlight=False)
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
