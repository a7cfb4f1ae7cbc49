"""The `vpcemu` command: a thin typer layer over the Lab API. Parses, calls, renders (rich or --json).

One module per verb group; what they share (options, output, errors and exit status, applying a live
change) is in `common`. A process loads only the module of the verb it runs (`VERBS`; help and an unknown
verb load them all), and modules load ops, lab and probe only inside a command, so `vpcemu
validate` starts fast. `app` (this module's attribute) is the whole command, every verb loaded.
"""
from __future__ import annotations

import importlib
import sys
from typing import Annotated

import typer

from ..errors import UsageError
from . import common
from .common import err_console

_app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                   help="Amazon VPC networking, emulated on this host with network namespaces.")

# (module, its typer, the group's name or None for top-level verbs), in the order `vpcemu --help` lists them:
# top-level verbs, then one sub-command group per AWS resource kind (live changes) and the drills
GROUPS = (("files", "app", None), ("lifecycle", "app", None), ("verify", "app", None), ("flowlogs", "app", None),
          ("transfer", "app", None), ("picture", "app", None),
          ("security", "sg_app", "sg"), ("security", "nacl_app", "nacl"), ("eni", "eni_app", "eni"),
          ("drill", "drill_app", "drill"), ("edge", "eip_app", "eip"), ("edge", "nat_app", "nat"),
          ("edge", "route_app", "route"), ("edge", "route_table_app", "route-table"),
          ("edge", "endpoint_app", "endpoint"), ("edge", "vpc_app", "vpc"), ("transfer", "import_app", "import"))
# each verb → the module that defines it (tests/unit/test_cli.py checks it against the whole command)
VERBS = {"validate": "files", "plan": "files",
         **dict.fromkeys(("up", "down", "clean", "status", "repair", "reset", "exec"), "lifecycle"),
         **dict.fromkeys(("probe", "verify", "matrix", "diff"), "verify"), "flowlogs": "flowlogs",
         "export": "transfer", "graph": "picture", "report": "picture",
         **{name: module for module, _, name in GROUPS if name}}
_loaded: set[tuple[str, str]] = set()


@_app.callback()
def options(lock_timeout: Annotated[float, typer.Option(
        "--lock-timeout", min=0, max=3600, metavar="SECONDS",
        help="How long a change waits while another change holds the lab's lock; then exit 2 (LabBusy).")]
        = common.LOCK_TIMEOUT) -> None:
    common.lock_timeout = lock_timeout


def load(modules: set[str] | None = None) -> typer.Typer:
    """The command with the verbs of `modules` (None: all) registered."""
    for module, attr, name in GROUPS:
        if (modules is None or module in modules) and (module, attr) not in _loaded:
            verbs = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
            if name:
                _app.add_typer(verbs, name=name)
            else:
                _app.add_typer(verbs)
            _loaded.add((module, attr))
    return _app


def verb(argv: list[str]) -> str | None:
    """The verb `argv` (the arguments after the program) runs, or None (help, nothing, an unknown word)."""
    words = iter(argv)
    for word in words:
        if word == "--lock-timeout":
            next(words, None)
        elif not word.startswith("-"):
            return word if word in VERBS else None
        elif not word.startswith("--lock-timeout="):
            return None
    return None


def __getattr__(name: str):
    if name == "app":
        return load()
    raise AttributeError(name)


def main() -> None:
    word = verb(sys.argv[1:])
    app = load({VERBS[word]} if word else None)
    try:
        app()
    except UsageError as exc:
        err_console.print(f"error: {exc}")
        sys.exit(2)
