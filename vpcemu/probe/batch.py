"""Many probes at once (`vpcemu matrix`, `vpcemu verify`'s reachability): every flow's packet is sent
before any answer is awaited, so a matrix costs about one timeout, not one per cell.

Each flow gets its own source port (or ICMP id), so its answer is recognised by header alone: an echo
reply, a SYN-ACK or RST, a UDP reply, or an ICMP error quoting it (port unreachable from the
destination counts as delivered, as for a single probe). Frames are parsed once, with struct.
"""
from __future__ import annotations

import socket
import struct
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from ..errors import UsageError
from ..kernel.capture import Capture
from ..kernel.netns import run_in_netns
from .probe import PROTOCOLS, TOKEN_PREFIX, build_packet

if TYPE_CHECKING:
    from ..lab import Lab

ETH_HEADER = 14
SPORT_BASE = 33000


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

    def to_dict(self) -> dict:
        return asdict(self)


def _key_of(frame: bytes) -> tuple | None:
    """The flow key an answer frame carries: what the probe sent, seen from the other side."""
    ip = frame[ETH_HEADER:]
    if len(ip) < 20 or ip[0] >> 4 != 4:
        return None
    ihl, proto = (ip[0] & 0x0F) * 4, ip[9]
    src, dst = ip[12:16], ip[16:20]
    l4 = ip[ihl:]
    if proto == 1 and len(l4) >= 8:
        kind, code = l4[0], l4[1]
        if kind == 0:                                           # echo reply: (icmp, us, them, id)
            return ("icmp", dst, src, struct.unpack_from("!H", l4, 4)[0]), "echo-reply"
        if kind in (3, 11, 12) and len(l4) >= 8 + 20 + 4:       # an error quoting our packet
            inner = l4[8:]
            inner_ihl, inner_proto = (inner[0] & 0x0F) * 4, inner[9]
            if len(inner) < inner_ihl + 4:
                return None
            name = {1: "icmp", 6: "tcp", 17: "udp"}.get(inner_proto)
            if name is None:
                return None
            ident = struct.unpack_from("!H", inner, inner_ihl + (4 if inner_proto == 1 else 0))[0]
            them = inner[16:20]
            delivered = kind == 3 and code == 3 and name == "udp" and src == them
            return (name, inner[12:16], them, ident), "port-unreachable" if delivered else f"icmp-error:{kind}/{code}"
        return None
    if proto == 6 and len(l4) >= 14:
        flags = l4[13]
        answer = "rst" if flags & 0x04 else "syn-ack" if flags & 0x12 == 0x12 else None
        return (("tcp", dst, src, struct.unpack_from("!H", l4, 2)[0]), answer) if answer else None
    if proto == 17 and len(l4) >= 8:
        return ("udp", dst, src, struct.unpack_from("!H", l4, 2)[0]), "udp-reply"
    return None


def probe_many(lab: "Lab", flows: list[Flow], timeout: float = 1.0) -> list[FlowResult]:
    """Send every flow's probe, then collect answers for up to `timeout` seconds in total."""
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
        raw = bytes(build_packet(f.protocol, src, dst, f.port, TOKEN_PREFIX + b"batch", sport))
        by_ns.setdefault(src_ep.namespace, []).append((i, raw, dst))
        keys[(f.protocol, socket.inet_aton(src), socket.inet_aton(dst), sport)] = i
    sent: dict[int, int] = {}
    answers: dict[int, tuple[str, int]] = {}
    with ExitStack() as stack:
        caps = {ns: stack.enter_context(Capture(ns)) for ns in by_ns}
        for ns, items in by_ns.items():
            sent.update(run_in_netns(ns, _send_all, items))
        deadline = time.monotonic() + timeout
        for ns, cap in caps.items():
            pending = {i for i, _, _ in by_ns[ns]}

            def answered(frame, pending: set[int] = pending) -> bool:
                if frame.direction == "in":
                    found = _key_of(frame.data)
                    if found is not None and found[0] in keys and keys[found[0]] not in answers:
                        answers[keys[found[0]]] = (found[1], frame.ts_ns)
                        pending.discard(keys[found[0]])
                return not pending

            cap.wait_for(answered, max(0.0, deadline - time.monotonic()))
    out = []
    for i, f in enumerate(flows):
        answer, ts = answers.get(i, (None, 0))
        delivered = answer is not None and not answer.startswith("icmp-error")
        out.append(FlowResult(f.source, f.destination, f.protocol, f.port, delivered, answer,
                              round((ts - sent[i]) / 1e6, 3) if delivered else None))
    return out


def _send_all(items: list[tuple[int, bytes, str]]) -> dict[int, int]:
    sent = {}
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as s:
        for i, raw, dst in items:
            sent[i] = time.time_ns()
            s.sendto(raw, (dst, 0))
    return sent
