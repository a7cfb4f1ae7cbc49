"""`vpcemu probe`, `verify`, `matrix`, `diff`: expected (AWS's rules) against observed (real packets)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from .common import JsonOpt, LabOpt, call, console, emit, number, output_file, read_input, running_lab, write_output
from .picture import SvgOpt, check_svg, matrix_svg, probe_svg

app = typer.Typer()
MAX_TIMEOUT_S = 60.0
SAVED_MATRIX = "a matrix saved by `vpcemu matrix --save`"

LabArg = Annotated[Optional[str], typer.Argument(help="Lab name (default: the only lab that is up).")]
PortsOpt = Annotated[Optional[list[str]], typer.Option("--port", "-p", help="icmp, tcp/N or udp/N (repeat); "
                                                       "default: icmp, tcp/22, tcp/443.")]


@app.command()
def probe(source: str, destination: str,
          protocol: Annotated[str, typer.Option("--protocol", "-p", help="icmp, tcp or udp.")] = "icmp",
          port: Annotated[Optional[int], typer.Option(help="Destination port (tcp, udp).")] = None,
          timeout: Annotated[float, typer.Option(help="Seconds to wait for an answer.")] = 1.0,
          svg: SvgOpt = None, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Send one real packet from SOURCE to DESTINATION and report what happened, hop by hop, next to
    what AWS's rules expect. Exit 0 reachable, 1 not reachable, 3 if the two disagree (a bug).
    --svg draws the path on the lab's diagram: observed hops solid, expected-only dashed, the dropping
    component red with its explanation code and rule."""
    number(as_json, "--timeout", timeout, 0, MAX_TIMEOUT_S, low_open=True)
    number(as_json, "--port", port, 1, 65535)
    check_svg(as_json, svg)
    the_lab = running_lab(lab, as_json)
    result = call(as_json, the_lab.probe, source, destination, protocol, port, timeout)
    probe_svg(as_json, svg, the_lab, result.to_dict())
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
    for w in r.warnings:
        console.print(f"  [yellow]warning:[/] {w}", highlight=False)
    if r.disagreements:
        for d in r.disagreements:
            console.print(f"  [red bold]DISAGREEMENT (a vpcemu bug):[/] {d}", highlight=False)
    else:
        console.print("  observed and expected agree", highlight=False)


@app.command()
def verify(lab: LabArg = None, as_json: JsonOpt = False) -> None:
    """Check the topology's `expect:` block with real packets. Exit 0 if all hold, 1 if any does not,
    3 if expected and observed disagree (a vpcemu bug)."""
    from ..verify import verify as run
    the_lab = running_lab(lab, as_json)
    verdicts = call(as_json, run, the_lab)
    if not emit([v.to_dict() for v in verdicts], as_json):
        table = Table("#", "flow", "expected", "observed", "path", "result", box=None, padding=(0, 1))
        for v in verdicts:
            want = "reachable" if v.expected["reachable"] else f"blocked {v.expected['reason'] or ''}".strip()
            got = "reachable" if v.reachable else f"blocked {', '.join(v.dropped_by)}".strip()
            verdict = "[green]holds[/]" if v.holds else "[red]" + "; ".join(v.failures + v.disagreements) + "[/]"
            table.add_row(str(v.index), f"{v.source} → {v.destination} {v.protocol}" + (f"/{v.port}" if v.port else ""),
                          want, got, " → ".join(v.path[:8]), verdict)
        console.print(table)
        for v in verdicts:
            for w in v.warnings:
                console.print(f"  [yellow]warning[/] #{v.index} {v.source} → {v.destination}: {w}", highlight=False)
        console.print(f"{sum(v.holds for v in verdicts)}/{len(verdicts)} expectations hold")
    if any(v.disagreements for v in verdicts):
        raise typer.Exit(3)
    if not all(v.holds for v in verdicts):
        raise typer.Exit(1)


@app.command()
def matrix(lab: LabArg = None, port: PortsOpt = None,
           source: Annotated[Optional[list[str]], typer.Option("--from", help="Sources (default: every instance).")] = None,
           destination: Annotated[Optional[list[str]], typer.Option("--to", help="Destinations (default: every "
                                                                    "instance, internet host, AWS service).")] = None,
           timeout: Annotated[float, typer.Option(help="Seconds to wait for answers, for all cells together.")] = 1.0,
           save: Annotated[Optional[Path], typer.Option(help="Write the matrix as JSON here (for `vpcemu diff`).")] = None,
           svg: SvgOpt = None, as_json: JsonOpt = False) -> None:
    """Every source to every destination on each port, all probes at once; observed vs expected per cell.
    Exit 0 if every cell agrees with AWS's rules, 3 if any does not. --svg draws it as a heatmap:
    reachable dark ●, blocked light ×, disagreeing ▲ (told apart in greyscale and by colour-blind readers)."""
    from ..verify import DEFAULT_PORTS
    from ..verify import matrix as run
    number(as_json, "--timeout", timeout, 0, MAX_TIMEOUT_S, low_open=True)
    output_file(as_json, "--save", save)
    check_svg(as_json, svg)
    the_lab = running_lab(lab, as_json)
    m = call(as_json, run, the_lab, tuple(port or DEFAULT_PORTS), source, destination, timeout)
    data = m.to_dict()
    if save is not None:
        write_output(as_json, "--save", save, json.dumps(data, indent=1))
    matrix_svg(as_json, svg, data)
    if not emit(data, as_json):
        render_matrix(m)
    if m.disagreements:
        raise typer.Exit(3)


def render_matrix(m) -> None:
    cells = {(c.source, c.destination, c.protocol, c.port): c for c in m.cells}
    for text in m.ports:
        protocol, _, port = text.partition("/")
        table = Table(text, *m.destinations, box=None, padding=(0, 1))
        for s in m.sources:
            row = []
            for d in m.destinations:
                c = cells.get((s, d, protocol, int(port) if port else None))
                row.append("" if c is None else ("[green]✓[/]" if c.observed else "[dim]·[/]") if c.agrees
                           else "[red bold]✗![/]")
            table.add_row(s, *row)
        console.print(table)
    bad = m.disagreements
    console.print(f"{len(m.cells)} cells in {m.seconds:.2f} s: ✓ reachable, · blocked (both as AWS's rules say)"
                  + (f"; [red]{len(bad)} disagree[/] (✗!)" if bad else "; every cell agrees"))
    for c in bad[:20]:
        console.print(f"  {c.source} → {c.destination} {c.protocol}{'/' + str(c.port) if c.port else ''}: expected "
                      f"{'reachable' if c.expected else 'blocked (' + str(c.reason) + ')'}, observed "
                      f"{'reachable' if c.observed else 'blocked'}", highlight=False)


@app.command()
def diff(before: Annotated[Path, typer.Argument(help="A matrix saved with `vpcemu matrix --save`.")],
         after: Annotated[Optional[Path], typer.Argument(help="Another; default: run the same matrix now.")] = None,
         lab: Annotated[Optional[str], typer.Option("--lab", help="Lab to run the matrix on.")] = None,
         as_json: JsonOpt = False) -> None:
    """What became reachable and what broke between two matrices (before and after a change or drill).
    Exit 0 if nothing changed, 1 if something did."""
    from ..verify import matrix as run
    from ..verify import matrix_diff
    old = call(as_json, _read_matrix, before, read_input(as_json, before, SAVED_MATRIX))
    if after is not None:
        new = call(as_json, _read_matrix, after, read_input(as_json, after, SAVED_MATRIX))
    else:
        the_lab = running_lab(lab or old["lab"], as_json)
        new = call(as_json, run, the_lab, tuple(old["ports"]), old["sources"], old["destinations"]).to_dict()
    d = matrix_diff(old, new)
    if not emit(d, as_json):
        for title, rows, colour in (("became reachable", d["became_reachable"], "green"), ("broke", d["broke"], "red")):
            console.print(f"[{colour}]{title}: {len(rows)}[/]")
            for r in rows:
                console.print(f"  {r['source']} → {r['destination']} {r['protocol']}"
                              f"{'/' + str(r['port']) if r['port'] else ''}" + (f" ({r['reason']})" if r["reason"] else ""),
                              highlight=False)
        console.print(f"unchanged: {d['unchanged']}")
    if d["became_reachable"] or d["broke"]:
        raise typer.Exit(1)


def _read_matrix(path: Path, text: str) -> dict:
    """A matrix saved by `vpcemu matrix --save`: the fields `diff` reads, each of the type it needs."""
    from ..errors import UsageError
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"{path}: not {SAVED_MATRIX}: not JSON ({exc})") from None
    fields = ("lab", "ports", "sources", "destinations", "cells")
    if not isinstance(data, dict):
        wrong = list(fields)
    else:
        wrong = [k for k in fields[1:4] if not isinstance(data.get(k), list)
                 or not all(isinstance(x, str) for x in data[k])]
        wrong += [k for k, ok in (("lab", isinstance(data.get("lab"), str)),
                                  ("cells", isinstance(data.get("cells"), list) and all(map(_cell, data["cells"]))))
                  if not ok]
    if wrong:
        raise UsageError(f"{path}: not {SAVED_MATRIX}: {', '.join(wrong)} missing or "
                         "of the wrong type")
    return data


def _cell(c: object) -> bool:
    """Whether `c` is a matrix cell as `matrix --save` writes it (the fields `diff` compares and shows)."""
    if not isinstance(c, dict) or not all(isinstance(c.get(k), str) for k in ("source", "destination")):
        return False
    port = c.get("port")
    return (c.get("protocol") == "icmp" and port is None or c.get("protocol") in ("tcp", "udp")
            and isinstance(port, int) and not isinstance(port, bool)) \
        and isinstance(c.get("observed"), bool) and "answer" in c and "reason" in c
