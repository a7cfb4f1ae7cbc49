"""What every `vpcemu` verb shares: its options, the consoles, output (rich or --json), errors and
their exit status, attaching to a lab, and the one way a verb applies a live change and reports it.

Exit status: 0 success; 1 a check did not hold (`probe`: not reachable); 2 bad input (topology or
arguments), nothing created or changed.
"""
from __future__ import annotations

import json
import math
import os
import stat
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer
from rich.console import Console

from ..codes import ErrorCode
from ..errors import TopologyError, UsageError, VpcemuError
from ..kernel.journal import LOCK_TIMEOUT

# a pipe or CI log gets wide lines rather than wrapped tables
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
LabOpt = Annotated[Optional[str], typer.Option("--lab", "-l", help="Lab name; may be omitted when one lab is up.")]
VpcOpt = Annotated[Optional[str], typer.Option("--vpc", help="VPC holding the name (needed only if several do).")]

MAX_DELAY_MS = 60_000.0        # an emulated attachment time (AWS takes seconds, not minutes)

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


def number(as_json: bool, option: str, value: float | None, low: float, high: float,
           low_open: bool = False) -> None:
    """Refuse `value` (exit 2) unless it is a finite number in [low, high] (or (low, high])."""
    if value is None:
        return
    if not (math.isfinite(value) and (low < value if low_open else low <= value) and value <= high):
        fail(UsageError(f"{option} {value:g} is out of range: it must be {'more than' if low_open else 'at least'} "
                        f"{low:g} and at most {high:g}", ErrorCode.INVALID_PARAMETER_VALUE), as_json)


def output_file(as_json: bool, option: str, path: Path | None) -> None:
    """Refuse (exit 2) a path to write to that cannot be written, before any work is done: a directory,
    a FIFO or socket (opening one to write would block or fail), a missing or unwritable directory."""
    why = None if path is None else _unwritable(path)
    if why:
        fail(UsageError(f"{option} {path}: cannot write there: {why}", ErrorCode.INVALID_PARAMETER_VALUE,
                        hint="give a file in a writable directory"), as_json)


def _unwritable(path: Path) -> str | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        parent = path.parent
        if not parent.is_dir():
            return f"directory {parent} does not exist"
        return None if os.access(parent, os.W_OK | os.X_OK) else f"directory {parent} is not writable"
    except OSError as exc:
        return exc.strerror or str(exc)
    if stat.S_ISDIR(st.st_mode):
        return "it is a directory"
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISCHR(st.st_mode)):
        return "it is not a regular file"
    return None if os.access(path, os.W_OK) else "it is not writable"


def write_output(as_json: bool, option: str, path: Path, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        fail(UsageError(f"{option} {path}: cannot write there: {exc.strerror or exc}",
                        ErrorCode.INVALID_PARAMETER_VALUE, hint="give a file in a writable directory"), as_json)


def read_input(as_json: bool, path: Path, what: str) -> str:
    """The text of `what`, a file a verb reads, by the rules a topology file is read by (load/shape.py's
    read_document): a regular file, not too large, UTF-8; else exit 2 saying why."""
    from ..load.shape import read_document
    text, problems = read_document(path)
    if problems:
        why = "; ".join(p.message if p.path == str(path) else f"{p.path}: {p.message}" for p in problems)
        fail(UsageError(f"{path}: {why}", hint=f"give the path of {what}"), as_json)
    return text


def lab_name(name: str | None, as_json: bool) -> str | None:
    """A lab name from the command line, checked by the one lab-name rule before anything else."""
    from ..rules.names import valid_lab_name
    return None if name is None else call(as_json, valid_lab_name, name)


lock_timeout = LOCK_TIMEOUT       # set from `vpcemu --lock-timeout`


def running_lab(name: str | None, as_json: bool):
    """The running lab `name` (or the only one up); root is needed to act on it."""
    from ..lab import Lab, require_root
    lab_name(name, as_json)
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
