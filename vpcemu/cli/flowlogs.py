"""`vpcemu flowlogs`: VPC Flow Log records (AWS's default format, version 2) of a running lab's traffic."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import JsonOpt, LabOpt, call, err_console, number, output_file, running_lab, write_output

app = typer.Typer()
MAX_DURATION_S = 86400.0            # a capture longer than a day is a typo
MAX_INTERVAL_S = 3600               # AWS offers 60 and 600


@app.command()
def flowlogs(duration: Annotated[float, typer.Option("--duration", "-d",
                                                     help="Seconds to capture (Ctrl-C ends it sooner).")],
             interval: Annotated[int, typer.Option("--interval", "-i",
                                                   help="Aggregation interval in seconds (AWS: 60 or 600).")] = 60,
             output: Annotated[Optional[Path], typer.Option("--output", "-o",
                                                            help="Write the records here, not to stdout.")] = None,
             lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Capture every ENI's traffic for DURATION seconds, then write one flow log record per ENI, flow,
    action and interval: `version account-id interface-id srcaddr dstaddr srcport dstport protocol
    packets bytes start end action log-status`, after that header line."""
    from ..flowlogs import render
    number(as_json, "--duration", duration, 0, MAX_DURATION_S)
    number(as_json, "--interval", interval, 1, MAX_INTERVAL_S)
    output_file(as_json, "--output", output)
    the_lab = running_lab(lab, as_json)
    records, lost = call(as_json, _capture, the_lab, interval, duration)
    text = json.dumps([r.to_dict() for r in records], indent=2) if as_json else render(records)
    if output is None:
        print(text)
    else:
        write_output(as_json, "--output", output, text + "\n")
        err_console.print(f"{len(records)} flow log record(s) → {output}", highlight=False)
    if lost:
        err_console.print(f"[yellow]warning:[/] the capture fell behind and lost {lost} frame(s): counts are low "
                          "and packets not seen leaving then are not judged (SKIPDATA records say when)",
                          highlight=False)


def _capture(lab, interval: int, duration: float):
    from ..flowlogs import FlowLogCollector
    with FlowLogCollector(lab, interval) as collector:
        try:
            time.sleep(duration)
        except KeyboardInterrupt:
            pass
    return collector.records(), collector.lost_frames
