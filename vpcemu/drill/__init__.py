"""Failover drills: a stream of real probe packets while a failover happens, and the outage it saw.

A ProbeStream sends one ICMP echo every `interval_ms` from inside the client's namespace (a raw socket
made there) and records when each answer came back. The outage is the time from the first probe that
got no answer to the first answered probe after it, as a user watching the service would see it.

Each drill checks every name and argument before its first probe: the failover's own ops are first
run as pure edits of the model, so a drill AWS would refuse, or one naming something unknown, raises
UsageError and changes nothing.

`run` is the drill around any fault: it runs the user's fault command while the stream runs, and the
failover is left to whatever automation the user runs in the lab (a watchdog calling the lab's EC2 API);
it reports every EC2 API call the lab received meanwhile, so the timeline shows when that automation acted.
"""
from __future__ import annotations

import os
import socket
import struct
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Callable

from .. import history
from ..codes import ErrorCode
from ..errors import UsageError
from ..kernel.netns import run_in_netns
from ..ops.api import one_change
from ..probe.packet import checksum
from ..services.ec2_api import calls as ec2_api_calls

if TYPE_CHECKING:
    from ..lab import Lab

SETTLE_MS = 100           # answered probes wanted before the failover, and after the recovery


class ProbeStream:
    """ICMP echoes from namespace `ns` to `target`, one per `interval_ms`; answers matched by id and seq."""

    def __init__(self, ns: str, target: str, interval_ms: float = 1.0):
        self.target = target
        self.interval = interval_ms / 1000
        self.ident = os.getpid() & 0xFFFF ^ threading.get_ident() & 0xFFFF
        self.sock = run_in_netns(ns, socket.socket, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        self.sent: list[float] = []                 # seq → send time (perf_counter)
        self.answered: dict[int, float] = {}        # seq → answer time
        self.last_answered = -1                     # the highest seq answered
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._send, daemon=True),
                         threading.Thread(target=self._receive, daemon=True)]

    def __enter__(self) -> "ProbeStream":
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()
        self.sock.close()

    def _send(self) -> None:
        next_at = time.perf_counter()
        while not self._stop.is_set():
            seq = len(self.sent)
            header = struct.pack("!BBHHH", 8, 0, 0, self.ident, seq & 0xFFFF)
            payload = struct.pack("!I", seq)
            packet = struct.pack("!BBHHH", 8, 0, checksum(header + payload), self.ident, seq & 0xFFFF) + payload
            self.sent.append(time.perf_counter())
            try:
                self.sock.sendto(packet, (self.target, 0))
            except OSError:
                pass                                # no route for a moment is an unanswered probe
            next_at += self.interval
            delay = next_at - time.perf_counter()
            if delay > 0:
                self._stop.wait(delay)

    def _receive(self) -> None:
        self.sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                data, (src, _) = self.sock.recvfrom(2048)
            except (socket.timeout, OSError):
                continue
            now = time.perf_counter()
            ihl = (data[0] & 0x0F) * 4
            if src != self.target or len(data) < ihl + 12 or data[ihl] != 0:
                continue
            ident, = struct.unpack_from("!H", data, ihl + 4)
            if ident == self.ident:
                seq, = struct.unpack_from("!I", data, ihl + 8)
                self.answered.setdefault(seq, now)
                self.last_answered = max(self.last_answered, seq)

    def answered_since(self, seq: int) -> int:
        return sum(1 for s in self.answered if s >= seq)

    def wait(self, condition: Callable[[], bool], timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if condition():
                return True
            self._stop.wait(0.005)
        return condition()


@dataclass
class DrillReport:
    drill: str
    client: str
    target: str
    interval_ms: float
    outage_ms: float
    probes_sent: int
    probes_lost: int
    recovered: bool
    timeline: list[dict] = field(default_factory=list)     # {t_ms, event}
    tcp_survived: bool | None = None       # did an established TCP connection (to an echo port) live on?
    answers: list[dict] = field(default_factory=list)      # the stream as runs: {from_ms, to_ms, answered, probes}
    fault: dict | None = None              # `run`: the fault command, its exit status and how long it ran
    api_calls: list[dict] | None = None    # `run`: the EC2 API calls the lab received during the drill (t_ms from
                                           # the stream's start)

    def to_dict(self) -> dict:
        return asdict(self)


class TcpSession:
    """One established TCP connection from inside namespace `ns` to an echo service at target:port."""

    def __init__(self, ns: str, target: str, port: int, timeout: float = 1.0):
        self.timeout = timeout
        self.sock = run_in_netns(ns, socket.socket, socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect((target, port))
        except OSError as exc:
            self.sock.close()
            raise UsageError(f"no TCP connection to {target}:{port} before the drill: {exc}", "DrillPreconditionFailed",
                             hint="--tcp-port needs an echo service there (internet hosts echo on their tcp "
                                  "listeners other than 80, 443 and 8080)") from None
        if not self.echoes():
            self.close()
            raise UsageError(f"{target}:{port} does not echo", "DrillPreconditionFailed")

    def echoes(self) -> bool:
        token = os.urandom(8).hex().encode()
        try:
            self.sock.sendall(token)
            got = b""
            while len(got) < len(token):
                chunk = self.sock.recv(len(token) - len(got))
                if not chunk:
                    return False
                got += chunk
            return got == token
        except OSError:                     # reset, or no answer within the timeout
            return False

    def close(self) -> None:
        self.sock.close()


def run_drill(lab: Lab, name: str, client: str, target: str, action: Callable[[], object],
              interval_ms: float = 1.0, timeout: float = 10.0, settle_ms: float = SETTLE_MS,
              tcp_port: int | None = None) -> DrillReport:
    """Stream probes, wait until they are answered, run `action` (the failover), wait for recovery.

    With `tcp_port`, a TCP connection to an echo service at target:port is opened before and must
    still echo after recovery (within a second, so TCP can retransmit) for `tcp_survived`.
    `target`: an address or anything `Lab.resolve` knows (an instance, ENI, internet host)."""
    ns = lab.namespace_of(client)
    client = lab.topology.name_of(client, "i", "eni")         # reported by name
    target = str(lab.topology.address_seen_by(client, target) or lab.resolve(target).address)
    settle = max(1, int(settle_ms / interval_ms))
    session = TcpSession(ns, target, tcp_port) if tcp_port else None
    try:
        report = _stream(ns, name, client, target, action, interval_ms, timeout, settle)
        if session is not None:
            report.tcp_survived = session.echoes()
    finally:
        if session is not None:
            session.close()
    history.record(lab.journal.dir, "drill", report.to_dict())
    return report


def _stream(ns: str, name: str, client: str, target: str, action: Callable[[], object], interval_ms: float,
            timeout: float, settle: int) -> DrillReport:
    with ProbeStream(ns, target, interval_ms) as stream:
        t0 = time.perf_counter()
        if not stream.wait(lambda: stream.answered_since(0) >= settle, timeout):
            raise UsageError(f"{client} gets no answers from {target} before the drill", "DrillPreconditionFailed",
                             hint="probe it first: vpcemu probe " + f"{client} {target}")
        timeline = [{"t_ms": 0.0, "event": "probe stream answered"}]
        start_seq = len(stream.sent)
        t_action = time.perf_counter()
        timeline.append({"t_ms": _ms(t_action - t0), "event": f"{name} starts"})
        action()
        t_done = time.perf_counter()
        timeline.append({"t_ms": _ms(t_done - t0), "event": f"{name} done ({_ms(t_done - t_action)} ms)"})
        after = len(stream.sent)
        recovered = stream.wait(lambda: stream.answered_since(after) >= settle, timeout)
        last = len(stream.sent)
    return _report(stream, name, client, target, interval_ms, start_seq, last, recovered, t0, timeline)


def _report(stream: ProbeStream, name: str, client: str, target: str, interval_ms: float, start_seq: int, last: int,
            recovered: bool, t0: float, timeline: list[dict]) -> DrillReport:
    # probes after the last answered one may still be in flight: they are not counted
    end_seq = max(stream.answered, default=start_seq - 1) + 1
    lost = [s for s in range(start_seq, end_seq) if s not in stream.answered]
    outage_ms = 0.0
    if lost:
        first_lost = lost[0]
        back = next(s for s in range(first_lost, end_seq) if s in stream.answered) if recovered else None
        outage_ms = _ms(stream.sent[back if back is not None else last - 1] - stream.sent[first_lost])
        timeline.append({"t_ms": _ms(stream.sent[first_lost] - t0), "event": f"first lost probe (seq {first_lost})"})
        if back is not None:
            timeline.append({"t_ms": _ms(stream.sent[back] - t0), "event": f"first answered probe after it (seq {back})"})
    timeline.sort(key=lambda e: e["t_ms"])
    return DrillReport(name, client, target, interval_ms, outage_ms, max(0, end_seq - start_seq), len(lost), recovered,
                       timeline, answers=_runs(stream, t0, end_seq))


def _runs(stream: ProbeStream, t0: float, end_seq: int) -> list[dict]:
    """The probes sent until `end_seq` as runs of answered and lost ones, each from its first probe's send
    time to its last's (what a timeline draws)."""
    runs: list[dict] = []
    for seq in range(end_seq):
        answered, t = seq in stream.answered, _ms(stream.sent[seq] - t0)
        if runs and runs[-1]["answered"] == answered:
            runs[-1].update(to_ms=t, probes=runs[-1]["probes"] + 1)
        else:
            runs.append({"from_ms": t, "to_ms": t, "answered": answered, "probes": 1})
    return runs


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


WATCH_MS = 2000.0        # `run`: how long after the fault command an outage may still begin
FAULT_TIMEOUT_S = 60.0


def run(lab: Lab, client: str, target: str, command: list[str], interval_ms: float = 1.0,
        tcp_port: int | None = None, watch_ms: float = WATCH_MS, timeout: float = FAULT_TIMEOUT_S) -> DrillReport:
    """Run the fault `command` (an argv, run on the host: `vpcemu exec active -- pkill keepalived`) while
    `client` probes `target`, then wait: for the outage that began to end (answered probes again), or, if
    none began, `watch_ms` after the command ended. `timeout` bounds the command and the wait for recovery.

    Not inside the lab's lock, unlike the other drills: the failover is the lab's own automation, whose
    EC2 API calls change the lab meanwhile."""
    if not command:
        raise UsageError("no fault command given", ErrorCode.MISSING_PARAMETER,
                         hint="vpcemu drill run --client C --target T -- vpcemu exec active -- pkill keepalived")
    lab.refresh()
    ns = lab.namespace_of(client)
    client = lab.topology.name_of(client, "i", "eni")
    target = str(lab.resolve(target).address)
    settle = max(1, int(SETTLE_MS / interval_ms))
    session = TcpSession(ns, target, tcp_port) if tcp_port else None
    try:
        with ProbeStream(ns, target, interval_ms) as stream:
            t0, wall0 = time.perf_counter(), time.time()
            if not stream.wait(lambda: stream.answered_since(0) >= settle, timeout):
                raise UsageError(f"{client} gets no answers from {target} before the drill",
                                 ErrorCode.DRILL_PRECONDITION_FAILED, hint=f"probe it first: vpcemu probe {client} {target}")
            timeline = [{"t_ms": 0.0, "event": "probe stream answered"}]
            start_seq = len(stream.sent)
            t_action, wall_action = time.perf_counter(), time.time()
            timeline.append({"t_ms": _ms(t_action - t0), "event": "fault command starts"})
            fault = _fault(command, timeout)
            t_done = time.perf_counter()
            fault["ms"] = _ms(t_done - t_action)
            timeline.append({"t_ms": _ms(t_done - t0), "event": f"fault command {fault['result']} ({fault['ms']} ms)"})
            watch = _Watch(stream, start_seq, settle, t_done + watch_ms / 1000)
            recovered = stream.wait(watch.settled, timeout)
            last = len(stream.sent)
        report = _report(stream, "run", client, target, interval_ms, start_seq, last, recovered, t0, timeline)
        if session is not None:
            report.tcp_survived = session.echoes()
    finally:
        if session is not None:
            session.close()
    report.fault = fault
    report.api_calls = [{"t_ms": _ms(c["time"] - wall0), **c}
                        for c in ec2_api_calls(lab.journal.dir, since=wall_action, until=time.time())]
    report.timeline += [{"t_ms": c["t_ms"], "event": f"EC2 API {c['action']} from {c['caller_name'] or c['caller']}: "
                                                     f"{c['code']} ({c['ms']} ms)"} for c in report.api_calls]
    report.timeline.sort(key=lambda e: e["t_ms"])
    return report


def _fault(command: list[str], timeout: float) -> dict:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise UsageError(f"fault command {command[0]!r} not found", ErrorCode.INVALID_PARAMETER_VALUE,
                         hint="give a program on PATH or its full path") from None
    except subprocess.TimeoutExpired:
        return {"argv": command, "exit_status": None, "result": f"still running after {timeout:g} s: killed"}
    return {"argv": command, "exit_status": done.returncode, "result": f"exited {done.returncode}",
            "stderr": done.stderr[-2000:]}


class _Watch:
    """When a `run` drill may end: an outage began and `settle` probes were answered since its last lost
    probe, or none began by `quiet_until` (perf_counter) and `settle` probes sent after it were answered (a
    stream silent since the fault is an outage not yet over, not a quiet one)."""

    def __init__(self, stream: ProbeStream, start_seq: int, settle: int, quiet_until: float):
        self.stream, self.settle, self.quiet_until = stream, settle, quiet_until
        self.next_seq, self.last_lost, self.quiet_seq = start_seq, None, None

    def settled(self) -> bool:
        answered, top = self.stream.answered, self.stream.last_answered
        while self.next_seq < top:                  # below the highest answer, a missing one is lost
            if self.next_seq not in answered:
                self.last_lost = self.next_seq
            self.next_seq += 1
        if self.last_lost is None:
            if self.quiet_seq is None:
                if time.perf_counter() < self.quiet_until:
                    return False
                self.quiet_seq = len(self.stream.sent)
            return self.stream.answered_since(self.quiet_seq) >= self.settle
        return self.next_seq - self.last_lost - 1 >= self.settle      # each seq scanned since was answered


@one_change
def eni_move(lab: Lab, network_interface: str, to: str, client: str, target: str | None = None,
             device_index: int | None = None, interval_ms: float = 1.0, command: list[str] | None = None,
             tcp_port: int | None = None, delay_ms: float = 0.0) -> DrillReport:
    """Move a secondary ENI from its instance to `to` while `client` probes the ENI's primary private IP.

    `command` runs on the new instance right after the move (a failover script's takeover step).
    """
    from ..ops.network_interface import move_network_interface, moved
    moved(lab.topology, network_interface, to, device_index)
    target = target or str(lab.topology.network_interface(network_interface).private_ip_address)

    def action() -> None:
        move_network_interface(lab, network_interface, to, device_index, delay_ms)
        if command:
            lab.exec(to, command, check=True)

    return run_drill(lab, "eni-move", client, target, action, interval_ms, tcp_port=tcp_port)


@one_change
def ip_move(lab: Lab, address: str, to: str, client: str, interval_ms: float = 1.0,
            command: list[str] | None = None, tcp_port: int | None = None) -> DrillReport:
    """Reassign a secondary private IP to the ENI `to` while `client` probes that IP."""
    from ..ops.network_interface import assign_private_ip_addresses, assigned
    assigned(lab.topology, to, [address], allow_reassignment=True)
    eni = lab.topology.network_interface(to)

    def action() -> None:
        assign_private_ip_addresses(lab, to, [address], allow_reassignment=True)
        if command and eni.attachment is not None:
            lab.exec(eni.attachment.instance, command, check=True)

    return run_drill(lab, "ip-move", client, address, action, interval_ms, tcp_port=tcp_port)


@one_change
def nat_gateway_failure(lab: Lab, nat_gateway: str, route_table: str, to: str, client: str, target: str,
                        destination: str = "0.0.0.0/0", interval_ms: float = 1.0,
                        tcp_port: int | None = None) -> DrillReport:
    """Delete NAT gateway `nat_gateway` (its routes turn blackhole), then re-point `destination` of
    `route_table` to NAT gateway `to`, while `client` probes `target` out on the internet."""
    from ..ops.nat_gateway import delete_nat_gateway, nat_gateway_deleted
    from ..ops.route_table import replace_route, route_replaced
    route_replaced(nat_gateway_deleted(lab.topology, nat_gateway), route_table, destination, to)

    def action() -> None:
        delete_nat_gateway(lab, nat_gateway)
        replace_route(lab, route_table, destination, to)

    return run_drill(lab, "nat-gateway-failure", client, target, action, interval_ms, tcp_port=tcp_port)


@one_change
def az_outage(lab: Lab, availability_zone: str, client: str, target: str, hold_ms: float = 500.0,
              interval_ms: float = 1.0, command: list[str] | None = None, standby: str | None = None,
              tcp_port: int | None = None) -> DrillReport:
    """Every ENI in `availability_zone` (instances', NAT gateways', endpoints') loses its link at the
    VPC router for `hold_ms`, then comes back. `command` runs on `standby` as the outage starts."""
    from ..kernel.interface import set_links
    from ..plan import names
    if command and not standby:
        raise UsageError("a command needs a standby instance to run on", "MissingParameter",
                         hint="give --standby with --command")
    if standby:
        lab.namespace_of(standby)
    by_router: dict[str, list[str]] = {}
    for vpc in lab.topology.vpcs.values():
        for eni in vpc.network_interfaces.values():
            if vpc.subnets[eni.subnet].availability_zone == availability_zone:
                by_router.setdefault(names.router_ns(lab.name, vpc.name), []).append(names.router_link(eni))
    if not by_router:
        raise UsageError(f"no network interface of lab {lab.name} is in {availability_zone}", "InvalidParameterValue",
                         hint="zones: " + ", ".join(sorted({s.availability_zone for v in lab.topology.vpcs.values()
                                                           for s in v.subnets.values()})))
    held = threading.Event()

    def action() -> None:
        lab.changing()                              # a kill before the links are back leaves them to repair
        for ns, links in by_router.items():
            set_links(ns, links, up=False)
        try:
            if command and standby:
                lab.exec(standby, command, check=True)
            held.wait(hold_ms / 1000)               # the outage lasts this long, by design
        finally:
            restore_links(lab, by_router)

    return run_drill(lab, "az-outage", client, target, action, interval_ms, tcp_port=tcp_port)


def restore_links(lab: Lab, by_router: dict[str, list[str]]) -> None:
    """Links up again, and what the kernel flushed when they went down (their routes and permanent
    neighbours in the router) re-applied from the plan."""
    from dataclasses import replace

    from ..kernel.apply import apply_config
    from ..kernel.interface import set_links
    from ..plan import plan_lab
    plan = plan_lab(lab.topology, lab.name)
    for ns, links in by_router.items():
        set_links(ns, links, up=True)
        wanted = set(links)
        apply_config(replace(plan, namespaces=(ns,), addresses=(), links_up=(), rules=(), sysctls={}, nft={},
                             tx_checksum_off=(), gro_on=(), files={},
                             routes=tuple(r for r in plan.routes if r.namespace == ns and r.ifname in wanted),
                             neighbours=tuple(n for n in plan.neighbours if n.namespace == ns and n.ifname in wanted)))
