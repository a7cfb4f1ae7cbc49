"""`vpcemu drill`: failover drills measured with a stream of real probe packets."""
from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table

from .common import MAX_DELAY_MS, JsonOpt, LabOpt, call, console, emit, number, running_lab
from .picture import SvgOpt, check_svg, drill_svg

MIN_INTERVAL_MS, MAX_INTERVAL_MS = 0.1, 10_000.0     # a probe stream needs probes, and some of them
MAX_HOLD_MS = 600_000.0
drill_app = typer.Typer(no_args_is_help=True, help="Failover drills: the outage a stream of real packets sees.")
TcpPortOpt = Annotated[Optional[int], typer.Option("--tcp-port", help="Also hold a TCP connection to an echo service "
                                                   "at TARGET:PORT and report whether it survived.")]


@drill_app.command("eni-move")
def eni_move(eni: Annotated[str, typer.Option("--eni", help="The secondary ENI to move (name or eni- id).")],
             to: Annotated[str, typer.Option("--to", help="The standby instance.")],
             client: Annotated[str, typer.Option("--client", help="Instance that probes the ENI.")],
             target: Annotated[Optional[str], typer.Option(help="Address to probe (default: the ENI's primary IP).")] = None,
             device_index: Annotated[Optional[int], typer.Option("--device-index", "-d")] = None,
             interval_ms: Annotated[float, typer.Option("--interval-ms", help="One probe every N ms.")] = 1.0,
             command: Annotated[Optional[list[str]], typer.Option("--command", help="Run on the standby at takeover "
                                                                   "(repeat for each argument word).")] = None,
             tcp_port: TcpPortOpt = None,
             delay_ms: Annotated[float, typer.Option("--delay-ms", help="AWS-like attachment time to emulate.")] = 0.0,
             svg: SvgOpt = None, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Move a secondary ENI from the active to the standby instance while CLIENT probes it."""
    from .. import drill
    timing(as_json, interval_ms, tcp_port, svg, delay_ms=delay_ms)
    the_lab = running_lab(lab, as_json)
    finish(call(as_json, drill.eni_move, the_lab, eni, to, client, target, device_index, interval_ms, command,
                tcp_port, delay_ms), as_json, svg)


@drill_app.command("ip-move")
def ip_move(address: Annotated[str, typer.Option("--address", help="The secondary private IP to move.")],
            to: Annotated[str, typer.Option("--to", help="The ENI that takes it over (name or eni- id).")],
            client: Annotated[str, typer.Option("--client", help="Instance that probes the IP.")],
            interval_ms: Annotated[float, typer.Option("--interval-ms", help="One probe every N ms.")] = 1.0,
            command: Annotated[Optional[list[str]], typer.Option("--command", help="Run on the new owner at takeover "
                                                                  "(repeat for each argument word).")] = None,
            tcp_port: TcpPortOpt = None, svg: SvgOpt = None, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Reassign a secondary private IP to another ENI while CLIENT probes it."""
    from .. import drill
    timing(as_json, interval_ms, tcp_port, svg)
    the_lab = running_lab(lab, as_json)
    finish(call(as_json, drill.ip_move, the_lab, address, to, client, interval_ms, command, tcp_port), as_json, svg)


@drill_app.command("nat-gateway-failure")
def nat_gateway_failure(
        nat_gateway: Annotated[str, typer.Option("--nat-gateway", help="The NAT gateway to delete.")],
        route_table: Annotated[str, typer.Option("--route-table", help="The route table to re-point.")],
        to: Annotated[str, typer.Option("--to", help="The NAT gateway that takes over.")],
        client: Annotated[str, typer.Option("--client", help="Instance behind the NAT gateway that probes TARGET.")],
        target: Annotated[str, typer.Option("--target", help="Internet host (name or address) to probe.")],
        destination: Annotated[str, typer.Option(help="The route to re-point.")] = "0.0.0.0/0",
        interval_ms: Annotated[float, typer.Option("--interval-ms", help="One probe every N ms.")] = 1.0,
        tcp_port: TcpPortOpt = None, svg: SvgOpt = None, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Delete a NAT gateway, then re-point the private route table to another AZ's, while CLIENT probes."""
    from .. import drill
    timing(as_json, interval_ms, tcp_port, svg)
    the_lab = running_lab(lab, as_json)
    finish(call(as_json, drill.nat_gateway_failure, the_lab, nat_gateway, route_table, to, client, target,
                destination, interval_ms, tcp_port), as_json, svg)


@drill_app.command("az-outage")
def az_outage(az: Annotated[str, typer.Option("--az", help="The Availability Zone that goes dark.")],
              client: Annotated[str, typer.Option("--client", help="Instance that probes TARGET.")],
              target: Annotated[str, typer.Option("--target", help="Address (or instance) to probe.")],
              hold_ms: Annotated[float, typer.Option("--hold-ms", help="How long the zone stays down.")] = 500.0,
              interval_ms: Annotated[float, typer.Option("--interval-ms", help="One probe every N ms.")] = 1.0,
              standby: Annotated[Optional[str], typer.Option(help="Instance that runs --command at the outage.")] = None,
              command: Annotated[Optional[list[str]], typer.Option("--command", help="Run on --standby as the zone "
                                                                  "goes down (repeat for each word).")] = None,
              tcp_port: TcpPortOpt = None, svg: SvgOpt = None, lab: LabOpt = None,
              as_json: JsonOpt = False) -> None:
    """Take every ENI (instances, NAT gateways, endpoints) in one AZ down for --hold-ms, then restore it."""
    from .. import drill
    timing(as_json, interval_ms, tcp_port, svg, hold_ms=hold_ms)
    the_lab = running_lab(lab, as_json)
    finish(call(as_json, drill.az_outage, the_lab, az, client, target, hold_ms, interval_ms, command, standby,
                tcp_port), as_json, svg)


@drill_app.command("run")
def run(command: Annotated[list[str], typer.Argument(metavar="-- FAULT-COMMAND", show_default=False,
                                                     help="The fault, as an argv (never a shell string).")],
        client: Annotated[str, typer.Option("--client", help="Instance (or internet host) that probes TARGET.")],
        target: Annotated[str, typer.Option("--target", help="Address, instance or internet host to probe.")],
        interval_ms: Annotated[float, typer.Option("--interval-ms", help="One probe every N ms.")] = 1.0,
        tcp_port: TcpPortOpt = None,
        watch_ms: Annotated[float, typer.Option("--watch-ms", help="How long after the fault command an outage may "
                                                "still begin (your automation's detection time).")] = 2000.0,
        timeout: Annotated[float, typer.Option("--timeout", help="Seconds the fault command, and then the recovery, "
                                               "may take.")] = 60.0,
        svg: SvgOpt = None, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Run FAULT-COMMAND (after --, as an argv) while CLIENT probes TARGET; your own automation (a watchdog in the
    lab calling its EC2 API) does the failover. Reports the outage and every EC2 API call the lab received;
    exit 1 if the fault command fails or the probes are not answered again.

    vpcemu drill run --client client --target 10.0.1.100 -- vpcemu exec active -- pkill keepalived
    """
    from .. import drill
    timing(as_json, interval_ms, tcp_port, svg)
    number(as_json, "--watch-ms", watch_ms, 0, MAX_HOLD_MS)
    number(as_json, "--timeout", timeout, 0, MAX_HOLD_MS / 1000, low_open=True)
    the_lab = running_lab(lab, as_json)
    report = call(as_json, drill.run, the_lab, client, target, command, interval_ms, tcp_port, watch_ms, timeout)
    if report.fault["exit_status"] != 0:        # the fault did not happen as meant: not a measurement
        render(report, as_json)
        if not as_json:
            console.print(f"[red]the fault command {report.fault['result']}[/]: {report.fault.get('stderr', '').strip()}",
                          highlight=False)
        raise typer.Exit(1)
    finish(report, as_json, svg)


def timing(as_json: bool, interval_ms: float, tcp_port: int | None, svg, delay_ms: float | None = None,
           hold_ms: float | None = None) -> None:
    """The numbers every drill takes, and the --svg file, checked before anything happens."""
    check_svg(as_json, svg)
    number(as_json, "--interval-ms", interval_ms, MIN_INTERVAL_MS, MAX_INTERVAL_MS)
    number(as_json, "--tcp-port", tcp_port, 1, 65535)
    number(as_json, "--delay-ms", delay_ms, 0, MAX_DELAY_MS)
    number(as_json, "--hold-ms", hold_ms, 0, MAX_HOLD_MS)


def finish(report, as_json: bool, svg=None) -> None:
    """Print the report (and draw its timeline with --svg); exit 1 if the probes never got answers again."""
    render(report, as_json)
    drill_svg(as_json, svg, report.to_dict())
    if not report.recovered:
        raise typer.Exit(1)


def render(report, as_json: bool) -> None:
    if emit(report.to_dict(), as_json):
        return
    table = Table("t (ms)", "event", box=None, padding=(0, 2))
    for e in report.timeline:
        table.add_row(f"{e['t_ms']:.1f}", e["event"])
    console.print(table)
    verdict = "[green]recovered[/]" if report.recovered else "[red]NOT recovered[/]"
    console.print(f"{report.drill}: {report.client} → {report.target}, one probe every {report.interval_ms} ms: "
                  f"outage [bold]{report.outage_ms:.1f} ms[/], {report.probes_lost}/{report.probes_sent} probes lost, "
                  f"{verdict}" + ("" if report.tcp_survived is None else
                                  f", TCP connection {'survived' if report.tcp_survived else '[red]broken[/]'}"),
                  highlight=False)
