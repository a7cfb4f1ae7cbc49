"""`vpcemu graph`, `vpcemu report`, and the --svg pictures of `probe`, `matrix` and the drills."""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..codes import ErrorCode
from ..errors import UsageError
from .common import call, console, fail, lab_name, output_file, running_lab, write_output

app = typer.Typer()

SvgOpt = Annotated[Optional[Path], typer.Option("--svg", metavar="FILE", help="Also draw it as an SVG picture here.")]


class Format(str, Enum):
    svg = "svg"
    png = "png"
    dot = "dot"
    mermaid = "mermaid"


@app.command()
def graph(target: Annotated[Optional[str], typer.Argument(
              metavar="[LAB|TOPOLOGY-FILE]", help="A topology file (no root needed) or a lab's name "
                                                   "(default: the only lab that is up).")] = None,
          fmt: Annotated[Format, typer.Option("--format", "-f", help="svg or png (laid out by Graphviz), "
                                              "dot (Graphviz's text), mermaid (for Markdown).")] = Format.svg,
          output: Annotated[Optional[Path], typer.Option("--output", "-o", metavar="FILE",
                                                         help="Write here (default: standard output).")] = None) -> None:
    """Draw the topology as the AWS console's VPC resource map does: VPC, a box per AZ, public (green) and
    private (blue) subnets, instances with their ENIs, route tables, gateways, endpoints, peering, the
    internet and the AWS region."""
    from ..picture import build_diagram, to_dot, to_mermaid
    output_file(False, "--output", output)
    if fmt is Format.png and output is None:
        fail(UsageError("a png goes to a file", ErrorCode.MISSING_PARAMETER, hint="give -o FILE.png"), False)
    diagram = build_diagram(_topology(target))
    if fmt in (Format.dot, Format.mermaid):
        text = to_dot(diagram) if fmt is Format.dot else to_mermaid(diagram)
        _write(output, "--output", text.encode())
        return
    from ..picture.render import render_graph
    _write(output, "--output", call(False, render_graph, to_dot(diagram), fmt.value))


def _topology(target: str | None):
    """The model of the topology file `target`, or of the lab `target` (the only one up if None)."""
    if target is not None and (Path(target).exists() or "/" in target or "." in target):
        from ..load import load_topology
        return call(False, load_topology, Path(target))
    from ..lab import Lab
    lab_name(target, False)
    return call(False, Lab.attach, target).topology


def _write(path: Path | None, option: str, data: bytes) -> None:
    if path is None:
        import sys
        sys.stdout.buffer.write(data)
        return
    try:
        path.write_bytes(data)
    except OSError as exc:
        fail(UsageError(f"{option} {path}: cannot write there: {exc.strerror or exc}",
                        ErrorCode.INVALID_PARAMETER_VALUE, hint="give a file in a writable directory"), False)


@app.command()
def report(lab: Annotated[Optional[str], typer.Argument(help="Lab name (default: the only lab that is up).")] = None,
           output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="The HTML file to write.")]
           = Path("report.html")) -> None:
    """One self-contained HTML page of a running lab (opens with no network access): its diagram, verify
    and the matrix run now, the probes and drills run in it since it was built, its status tables."""
    from ..report import lab_report
    output_file(False, "--output", output)
    the_lab = running_lab(lab, False)
    write_output(False, "--output", output, call(False, lab_report, the_lab))
    console.print(f"report of lab {the_lab.name} written to {output}", highlight=False)


def check_svg(as_json: bool, svg: Path | None) -> None:
    """Refuse an --svg path that cannot be written, before the probe or drill runs."""
    output_file(as_json, "--svg", svg)


def probe_svg(as_json: bool, svg: Path | None, lab, result: dict) -> None:
    """The probe's path drawn on the lab's diagram."""
    if svg is None:
        return
    from ..picture import build_diagram, probe_overlay, to_dot
    from ..picture.render import render_graph
    diagram = build_diagram(lab.topology)
    write_output(as_json, "--svg", svg, call(as_json, render_graph, to_dot(diagram, probe_overlay(diagram, result)),
                                             "svg").decode())


def matrix_svg(as_json: bool, svg: Path | None, data: dict) -> None:
    if svg is not None:
        from ..picture.render import matrix_heatmap_svg
        write_output(as_json, "--svg", svg, call(as_json, matrix_heatmap_svg, data))


def drill_svg(as_json: bool, svg: Path | None, data: dict) -> None:
    if svg is not None:
        from ..picture.render import drill_timeline_svg
        write_output(as_json, "--svg", svg, call(as_json, drill_timeline_svg, data))
