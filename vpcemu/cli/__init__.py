"""The `vpcemu` command: a thin typer layer over the Lab API. Parses, calls, renders (rich or --json).

One module per verb group; what they share (options, output, errors and exit status, applying a live
change) is in `common`. Modules load ops, lab, probe and scapy only inside a command, so `vpcemu
validate` starts fast.
"""
from __future__ import annotations

import sys
from typing import Annotated

import typer

from ..errors import UsageError
from . import common, drill, edge, eni, files, flowlogs, lifecycle, picture, security, transfer, verify
from .common import err_console

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Amazon VPC networking, emulated on this host with network namespaces.")


@app.callback()
def options(lock_timeout: Annotated[float, typer.Option(
        "--lock-timeout", min=0, max=3600, metavar="SECONDS",
        help="How long a change waits while another change holds the lab's lock; then exit 2 (LabBusy).")]
        = common.LOCK_TIMEOUT) -> None:
    common.lock_timeout = lock_timeout
# top-level verbs, in the order `vpcemu --help` lists them
for verbs in (files.app, lifecycle.app, verify.app, flowlogs.app, transfer.app, picture.app):
    app.add_typer(verbs)
# live changes and drills: one sub-command group per AWS resource kind
app.add_typer(security.sg_app, name="sg")
app.add_typer(security.nacl_app, name="nacl")
app.add_typer(eni.eni_app, name="eni")
app.add_typer(drill.drill_app, name="drill")
app.add_typer(edge.eip_app, name="eip")
app.add_typer(edge.nat_app, name="nat")
app.add_typer(edge.route_app, name="route")
app.add_typer(edge.route_table_app, name="route-table")
app.add_typer(edge.endpoint_app, name="endpoint")
app.add_typer(edge.vpc_app, name="vpc")
app.add_typer(transfer.import_app, name="import")


def main() -> None:
    try:
        app()
    except UsageError as exc:
        err_console.print(f"error: {exc}")
        sys.exit(2)
