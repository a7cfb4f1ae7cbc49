"""Many probes at once (`vpcemu matrix`, `vpcemu verify`'s reachability): every flow's packet is sent
before any answer is awaited, so a matrix costs about one timeout, not one per cell.

Each flow gets its own source port (or ICMP id), so its answer is recognised by header alone: an echo
reply, a SYN-ACK or RST, a UDP reply, or an ICMP error quoting it (port unreachable from the
destination counts as delivered, as for a single probe). Frames are parsed once, by packet.py. Flows end
as a single probe does: at their answer, or as soon as an nft trace shows the probe or its answer dropped.
"""
from __future__ import annotations

import socket
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from ..errors import UsageError
from ..kernel.capture import Capture, Frame
from ..kernel.netns import run_in_netns
from . import packet
from .attribution import Tracer
from .probe import PROTOCOLS, TOKEN_PREFIX, await_answers, build_packet, forwarding_namespaces, translations

if TYPE_CHECKING:
    from ..lab import Lab

SPORT_BASE = 33000
NAMES = {number: name for name, number in packet.NUMBERS.items()}


@dataclass
class Flow:
    source: str
    destination: str
    protocol: str
    port: int | None = None


@dataclass
class FlowResult:
    source: str
    destination: str
    protocol: str
    port: int | None
    reachable: bool
    answer: str | None
    rtt_ms: float | None
    decided_by: str = "timeout"         # as a single probe's: answer | drop | timeout

    def to_dict(self) -> dict:
        return asdict(self)


def _key_of(frame: bytes) -> tuple | None:
    """The flow key an answer frame carries, (protocol, source, destination, source port or ICMP echo id) of what
    the probe sent, seen from the other side; and the kind of answer."""
    pkt = packet.from_frame(frame)
    if pkt is None:
        return None
    if pkt.proto == packet.ICMP:
        if pkt.icmp_type == packet.ECHO_REPLY:
            return ("icmp", pkt.dst, pkt.src, pkt.icmp_id), "echo-reply"
        inner = pkt.quoted
        if pkt.icmp_type not in packet.ICMP_ERRORS or inner is None:
            return None
        name = NAMES.get(inner.proto)
        ident = inner.icmp_id if inner.proto == packet.ICMP else inner.sport
        if name is None or ident is None:
            return None
        delivered = pkt.icmp_type == 3 and pkt.icmp_code == 3 and name == "udp" and pkt.src == inner.dst
        kind = "port-unreachable" if delivered else f"icmp-error:{pkt.icmp_type}/{pkt.icmp_code}"
        return (name, inner.src, inner.dst, ident), kind
    if pkt.proto == packet.TCP and pkt.flags is not None:
        answer = "rst" if pkt.flags & 0x04 else "syn-ack" if pkt.flags & 0x12 == 0x12 else None
        return (("tcp", pkt.dst, pkt.src, pkt.dport), answer) if answer else None
    if pkt.proto == packet.UDP and pkt.sport is not None:
        return ("udp", pkt.dst, pkt.src, pkt.dport), "udp-reply"
    return None


def probe_many(lab: "Lab", flows: list[Flow], timeout: float = 1.0) -> list[FlowResult]:
    """Send every flow's probe, then collect answers for up to `timeout` seconds in total; a flow whose probe or
    answer a trace shows dropped is decided at once (await_answers)."""
    for f in flows:
        if f.protocol not in PROTOCOLS or (f.protocol == "icmp") != (f.port is None):
            raise UsageError(f"bad flow {f}: icmp without a port, tcp/udp with one")
    by_ns: dict[str, list[tuple[int, bytes, str]]] = {}
    keys: dict[tuple, int] = {}
    for i, f in enumerate(flows):
        src_ep, dst_ep = lab.resolve(f.source), lab.resolve(f.destination)
        if src_ep.namespace is None:
            raise UsageError(f"{f.source!r} cannot send: it is not an instance, an attached ENI or an internet host")
        src, dst = str(src_ep.address), str(lab.topology.address_seen_by(f.source, f.destination) or dst_ep.address)
        sport = SPORT_BASE + i
        by_ns.setdefault(src_ep.namespace, []).append((i, build_packet(f.protocol, src, dst, f.port,
                                                                        TOKEN_PREFIX + b"batch", sport), dst))
        keys[(f.protocol, src, dst, sport)] = i
    addresses = {a for key in keys for a in key[1:3]}
    answers: dict[int, tuple[str | None, int]] = {}
    with ExitStack() as stack:
        caps = [stack.enter_context(Capture(ns)) for ns in by_ns]
        tracer = stack.enter_context(Tracer(lab, forwarding_namespaces(lab), *addresses, *translations(lab)))
        sent: dict[int, int] = {}
        for ns, items in by_ns.items():
            sent.update(run_in_netns(ns, _send_all, items))

        def answer_to(frame: Frame) -> int | None:
            found = _key_of(frame.data) if frame.direction == "in" else None
            if found is None or found[0] not in keys:
                return None
            answers.setdefault(keys[found[0]], (found[1], frame.ts_ns))
            return keys[found[0]]

        decided = await_answers(caps, tracer, {i: (f.protocol, SPORT_BASE + i, f.port) for i, f in enumerate(flows)},
                                answer_to, timeout)
    out = []
    for i, f in enumerate(flows):
        frame, decided_by = decided[i]
        answer, ts = answers[i] if frame is not None else (None, 0)
        delivered = answer is not None and not answer.startswith("icmp-error")
        out.append(FlowResult(f.source, f.destination, f.protocol, f.port, delivered, answer,
                              round((ts - sent[i]) / 1e6, 3) if delivered else None, decided_by))
    return out


def _send_all(items: list[tuple[int, bytes, str]]) -> dict[int, int]:
    sent = {}
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as s:
        for i, raw, dst in items:
            sent[i] = time.time_ns()
            s.sendto(raw, (dst, 0))
    return sent
