"""What every `vpcemu` verb shares: its options, the consoles, output (rich or --json), errors and
their exit status, attaching to a lab, and the one way a verb applies a live change and reports it.

Exit status: 0 success; 1 a check did not hold (`probe`: not reachable); 2 bad input (topology or
arguments), nothing created or changed.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from typing import Annotated, Any, Callable, Optional

import typer
from rich.console import Console

from ..errors import TopologyError, VpcemuError
from ..kernel.journal import LOCK_TIMEOUT

# a pipe or CI log gets wide lines rather than wrapped tables
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
LabOpt = Annotated[Optional[str], typer.Option("--lab", "-l", help="Lab name; may be omitted when one lab is up.")]
VpcOpt = Annotated[Optional[str], typer.Option("--vpc", help="VPC holding the name (needed only if several do).")]

Report = tuple[dict, str]       # what a command says: the --json body, and the lines (rich markup) a person reads


def emit(data: Any, as_json: bool) -> bool:
    if as_json:
        print(json.dumps(data, indent=2, default=str))
    return as_json


def say(report: Report, as_json: bool) -> None:
    data, text = report
    if not emit(data, as_json):
        console.print(text, highlight=False)


def fail(exc: VpcemuError, as_json: bool) -> None:
    if as_json:
        body: dict[str, Any] = {"error": type(exc).__name__, "message": str(exc)}
        if isinstance(exc, TopologyError):
            body["problems"] = [asdict(p) for p in exc.problems]
        print(json.dumps(body, indent=2))
    else:
        err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
    raise typer.Exit(exc.exit_code)


def call(as_json: bool, fn, *args, **kwargs):
    """`fn(*args, **kwargs)`; a vpcemu error ends the command with its message and exit status."""
    try:
        return fn(*args, **kwargs)
    except VpcemuError as exc:
        fail(exc, as_json)


lock_timeout = LOCK_TIMEOUT       # set from `vpcemu --lock-timeout`


def running_lab(name: str | None, as_json: bool):
    """The running lab `name` (or the only one up); root is needed to act on it."""
    from ..lab import Lab, require_root
    call(as_json, require_root)
    lab = call(as_json, Lab.attach, name)
    lab.lock_timeout = lock_timeout
    return lab


def done(what: str, data: dict, elapsed_ms: float) -> Report:
    """The usual report of a change: `data` with the time it took, and "`what` in N ms"."""
    return {**data, "applied_ms": round(elapsed_ms, 2)}, f"{what} in {elapsed_ms:.1f} ms"


def apply_change(as_json: bool, change: Callable[[], object], report: Callable[[float], Report]) -> None:
    """Apply a live change (an ops call: AWS's API call on the running lab), timed; a refusal exits 2
    with AWS's code and changes nothing. Then say `report(milliseconds the change took)`."""
    started = time.perf_counter()
    call(as_json, change)
    say(call(as_json, report, (time.perf_counter() - started) * 1000), as_json)
