"""Probes: one real packet (ICMP echo, TCP SYN or UDP) built by packet.py, sent from inside the source
namespace, watched on every link of the lab's routers and at both ends.

A probe tests the network, not whether a program listens: for TCP a SYN-ACK or a RST from the
destination counts as delivered (the result says which), for UDP an answer or an ICMP port
unreachable from the destination does; silence, or an ICMP error from anywhere else, is "not reachable".
"""
from __future__ import annotations

import os
import random
import socket
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from ipaddress import IPv4Address
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..kernel.capture import Capture, Frame
from ..kernel.netns import run_in_netns
from ..plan import names
from ..plan.internet import needs_internet
from ..plan.nat_gateway import LINK as NAT_LINK
from ..analyze import analyze_flow
from . import attribution, packet
from .attribution import Key
from .agreement import disagreements

if TYPE_CHECKING:
    from ..lab import Lab

TOKEN_PREFIX = b"vpcemu-probe:"
PROTOCOLS = ("icmp", "tcp", "udp")


@dataclass
class Hop:
    namespace: str
    ifname: str
    component: str          # what the link stands for: `eni web-1.eth0`, `web-1 eth0`
    direction: str          # in | out, as the namespace saw it
    leg: str                # forward (the probe) | return (the answer carrying its token)
    source: str
    destination: str
    ttl: int
    time_ms: float          # since the probe was sent
    source_port: int | None = None        # tcp/udp (NAT rewrites show here), the ICMP id for icmp
    destination_port: int | None = None


@dataclass
class ProbeResult:
    source: str
    destination: str
    protocol: str
    port: int | None
    source_address: str
    destination_address: str
    reachable: bool
    answer: str | None                  # echo-reply, syn-ack, rst, udp-reply, port-unreachable
    rtt_ms: float | None
    hops: list[Hop] = field(default_factory=list)
    header_at_source: dict | None = None
    header_at_destination: dict | None = None
    icmp_error: str | None = None       # an ICMP error from elsewhere (e.g. host unreachable from a router)
    explanations: list[dict] = field(default_factory=list)
    expected: dict | None = None        # AWS's answer from the model (analyze/)
    disagreements: list[str] = field(default_factory=list)    # expected vs observed: each one is a bug
    warnings: list[str] = field(default_factory=list)         # the analysis's: a path AWS does not support
    # what ended the wait: "answer"; "drop" (an nft trace showed the probe or its answer dropped, so nothing
    # could come); "timeout" (nothing came, and no trace proved why)
    decided_by: str = "timeout"

    @property
    def agrees(self) -> bool:
        return not self.disagreements

    def to_dict(self) -> dict:
        return asdict(self)


def _header(pkt: packet.Packet) -> dict:
    out: dict[str, Any] = {"src": pkt.src, "dst": pkt.dst, "ttl": pkt.ttl, "proto": pkt.proto}
    if pkt.proto in (packet.TCP, packet.UDP) and pkt.sport is not None:
        out.update(sport=pkt.sport, dport=pkt.dport)
        if pkt.proto == packet.TCP:
            out.update(flags=pkt.tcp_flags)
    elif pkt.icmp_type is not None:
        out.update(icmp_type=pkt.icmp_type, icmp_code=pkt.icmp_code)
    return out


def build_packet(protocol: str, src: str, dst: str, port: int | None, token: bytes, sport: int) -> bytes:
    # the token rides in the SYN's payload: a SYN may carry data, and the stack still answers it
    return packet.build(protocol, src, dst, port, token, sport, ip_id=random.randrange(1, 65535),
                        seq=random.randrange(1 << 32))


def _send(raw: bytes, dst: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as s:
        sent = time.time_ns()
        s.sendto(raw, (dst, 0))
    return sent


class _Matcher:
    """Recognises the probe's own frames and the destination's answer to it."""

    def __init__(self, protocol: str, src: str, dst: str, port: int | None, sport: int, token: bytes):
        self.protocol, self.src, self.dst, self.port, self.sport, self.token = protocol, src, dst, port, sport, token

    def is_probe(self, frame: Frame) -> bool:
        return self.token in frame.data

    def answer(self, frame: Frame) -> str | None:
        """The kind of answer this frame is, if it is one reaching the source."""
        if frame.direction != "in":
            return None
        pkt = packet.from_frame(frame.data)
        if pkt is None or pkt.dst != self.src:
            return None
        if pkt.proto == packet.ICMP:
            if pkt.icmp_type == packet.ECHO_REPLY and self.protocol == "icmp" and self.token in pkt.payload:
                return "echo-reply"
            if pkt.icmp_type in packet.ICMP_ERRORS and self._quotes_us(pkt.quoted):
                if pkt.icmp_type == 3 and pkt.icmp_code == 3 and pkt.src == self.dst and self.protocol == "udp":
                    return "port-unreachable"
                return f"icmp-error:{pkt.icmp_type}/{pkt.icmp_code} from {pkt.src}"
            return None
        if pkt.src != self.dst or (pkt.sport, pkt.dport) != (self.port, self.sport):
            return None
        if self.protocol == "tcp" and pkt.proto == packet.TCP and pkt.flags is not None:
            if "S" in pkt.tcp_flags and "A" in pkt.tcp_flags:
                return "syn-ack"
            if "R" in pkt.tcp_flags:
                return "rst"
        if self.protocol == "udp" and pkt.proto == packet.UDP:
            return "udp-reply"
        return None

    def _quotes_us(self, inner: packet.Packet | None) -> bool:
        if inner is None or inner.dst != self.dst:
            return False
        if inner.proto in (packet.TCP, packet.UDP) and inner.sport is not None:
            return inner.sport == self.sport
        return True


def resolve_destination(lab: "Lab", destination: str, source: str) -> tuple[IPv4Address, str | None]:
    """The address `source` sends to for `destination` (Topology.address_seen_by), and the namespace it
    lands in: an address's too, when it is an attached ENI's private or public IP (an EIP)."""
    ep = lab.resolve(destination)
    address = lab.topology.address_seen_by(source, destination) or ep.address
    if ep.namespace is not None:
        return address, ep.namespace
    owner = next((e for e in lab.topology.network_interfaces.values() if e.attachment is not None
                  and (address in e.private_ip_addresses or address in e.public_addresses.values())), None)
    return address, names.instance_ns(lab.name, owner.attachment.instance) if owner else None


def run_probe(lab: "Lab", source: str, destination: str, protocol: str = "icmp", port: int | None = None,
              timeout: float = 1.0) -> ProbeResult:
    if protocol not in PROTOCOLS:
        raise UsageError(f"protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}")
    if protocol in ("tcp", "udp") and (port is None or not 1 <= port <= 65535):
        raise UsageError(f"a {protocol} probe needs --port between 1 and 65535")
    if protocol == "icmp" and port is not None:
        raise UsageError("an icmp probe has no port")
    source, destination = (lab.topology.name_of(x, "i", "eni") for x in (source, destination))   # ids → names
    src_ep = lab.resolve(source)
    if src_ep.namespace is None:
        raise UsageError(f"{source!r} cannot send: it is not an instance or an attached ENI")
    dst_addr, dst_ns = resolve_destination(lab, destination, source)
    src, dst = str(src_ep.address), str(dst_addr)
    sport = random.randrange(20000, 60000)
    token = TOKEN_PREFIX + os.urandom(8).hex().encode()
    matcher = _Matcher(protocol, src, dst, port, sport, token)
    raw = build_packet(protocol, src, dst, port, token, sport)
    components = link_components(lab)
    hops_ns = forwarding_namespaces(lab)

    with ExitStack() as stack:
        src_cap = stack.enter_context(Capture(src_ep.namespace))
        caps = [stack.enter_context(Capture(ns)) for ns in hops_ns]
        dst_cap = stack.enter_context(Capture(dst_ns)) if dst_ns and dst_ns != src_ep.namespace else None
        tracer = stack.enter_context(attribution.Tracer(lab, hops_ns, src, dst, *translations(lab)))
        sent_ns = run_in_netns(src_ep.namespace, _send, raw, dst)
        reply, decided_by = await_answers([src_cap], tracer, {0: (protocol, sport, port)},
                                          lambda f: 0 if matcher.answer(f) is not None else None, timeout)[0]
        explanations = tracer.drops()
    answer = matcher.answer(reply) if reply else None
    delivered = answer is not None and not answer.startswith("icmp-error")
    hops = []
    seen = [(cap.ns, f) for cap in caps + ([dst_cap] if dst_cap else []) for f in cap.frames()]
    for ns, f in seen:
        if matcher.is_probe(f):
            hops.append(_hop(ns, f, sent_ns, components, matcher))
    # an answer that carries no token (a SYN-ACK, a RST) is known by the probe's own flow reversed, as NAT
    # rewrote it at each hop: so the return leg shows wherever it went, and where it was dropped
    flows = {(h.destination, h.source, h.destination_port, h.source_port) for h in hops if h.leg == "forward"}
    if matcher.protocol != "icmp":
        for ns, f in seen:
            if not matcher.is_probe(f) and _flow(f, matcher.protocol) in flows:
                hops.append(_hop(ns, f, sent_ns, components, matcher))
    hops.sort(key=lambda h: h.time_ms)
    out_frame = next((f for f in src_cap.frames() if f.direction == "out" and matcher.is_probe(f)), None)
    in_frame = next((f for f in dst_cap.frames() if f.direction == "in" and matcher.is_probe(f)), None) \
        if dst_cap else None
    result = ProbeResult(
        source=source, destination=destination, protocol=protocol, port=port,
        source_address=src, destination_address=dst, reachable=delivered,
        answer=answer if delivered else None,
        rtt_ms=round((reply.ts_ns - sent_ns) / 1e6, 3) if delivered and reply else None,
        hops=hops,
        header_at_source=_header(packet.from_frame(out_frame.data)) if out_frame else None,
        header_at_destination=_header(packet.from_frame(in_frame.data)) if in_frame else None,
        icmp_error=answer if answer and not delivered else None,
        explanations=explanations,
        decided_by=decided_by,
    )
    expected = analyze_flow(lab.topology, source, destination, protocol, port, source_port=sport)
    result.expected = expected.to_dict()
    result.warnings = list(expected.warnings)
    result.disagreements = disagreements(expected, result)
    return result


_TRACE_POLL = 0.005      # s between looks at the trace while answers are awaited


def await_answers(captures: list[Capture], tracer: attribution.Tracer, flows: dict[Key, tuple[str, int, int | None]],
                  answer_to: Callable[[Frame], Key | None], timeout: float) -> dict[Key, tuple[Frame | None, str]]:
    """Each flow's answer, the first frame `answer_to` names it in, or None; and what decided it: "answer", "drop" as
    soon as a traced drop proves none can come (Tracer.dropped), or "timeout". `flows`: key → protocol, source port
    (ICMP: echo id), destination port. New frames on the first capture end a wait at once, others within _TRACE_POLL."""
    decided: dict[Key, tuple[Frame | None, str]] = {}
    read = [0] * len(captures)
    deadline = time.monotonic() + timeout
    while True:
        for n, cap in enumerate(captures):
            frames = cap.since(read[n])
            read[n] += len(frames)
            for frame in frames:
                key = answer_to(frame)
                if key in flows and key not in decided:
                    decided[key] = frame, "answer"
        undecided = {k: v for k, v in flows.items() if k not in decided}
        decided.update(dict.fromkeys(tracer.dropped(undecided), (None, "drop")))
        left = deadline - time.monotonic()
        if len(decided) == len(flows) or left <= 0:
            return {k: decided.get(k, (None, "timeout")) for k in flows}
        captures[0].wait_beyond(read[0], min(left, _TRACE_POLL))


def _hop(ns: str, frame: Frame, sent_ns: int, components: dict[tuple[str, str], str], matcher: _Matcher) -> Hop:
    h = _header(packet.from_frame(frame.data))
    # the probe going out, or the answer coming back: told by the packet, since NAT rewrites addresses
    forward = h.get("icmp_type") == 8 if matcher.protocol == "icmp" else h.get("dport") == matcher.port
    return Hop(ns, frame.ifname, components.get((ns, frame.ifname), frame.ifname), frame.direction,
               "forward" if forward else "return", h["src"], h["dst"], h["ttl"],
               round((frame.ts_ns - sent_ns) / 1e6, 3), h.get("sport"), h.get("dport"))


def _flow(frame: Frame, protocol: str) -> tuple | None:
    """(source, destination, source port, destination port) of a TCP or UDP frame; None for anything else."""
    pkt = packet.from_frame(frame.data)
    if pkt is None or pkt.proto != packet.NUMBERS[protocol] or pkt.sport is None:
        return None
    return pkt.src, pkt.dst, pkt.sport, pkt.dport


def forwarding_namespaces(lab: "Lab") -> list[str]:
    """Every namespace a packet may cross between two ends: VPC routers, IGWs, NAT gateways, the internet."""
    t, out = lab.topology, []
    for vpc in t.vpcs.values():
        out.append(names.router_ns(lab.name, vpc.name))
        if vpc.internet_gateway:
            out.append(names.internet_gateway_ns(lab.name, vpc.name))
        out += [names.nat_gateway_ns(lab.name, n) for n in vpc.nat_gateways]
        out += [names.vpc_endpoint_ns(lab.name, e.name) for e in vpc.endpoints.values()
                if e.vpc_endpoint_type == "Interface"]
    if needs_internet(t):
        out.append(names.internet_ns(lab.name))
    return out


def translations(lab: "Lab") -> list[str]:
    """Addresses a probe's packets may carry after NAT: NAT gateways' private IPs, every public address
    and the private IP behind it."""
    out = set()
    for vpc in lab.topology.vpcs.values():
        for eni in vpc.network_interfaces.values():
            for private, public in eni.public_addresses.items():
                out.update((str(private), str(public)))
        out.update(str(vpc.network_interfaces[n.network_interface].private_ip_address) for n in vpc.nat_gateways.values())
    return sorted(out)


def link_components(lab: "Lab") -> dict[tuple[str, str], str]:
    """(namespace, ifname) → the AWS component the link stands for."""
    from ..plan import plan_lab
    out = {}
    for v in plan_lab(lab.topology, lab.name).veths:
        if not v.owner.startswith("eni-"):
            out[(v.namespace, v.ifname)] = out[(v.peer_namespace, v.peer_ifname)] = v.owner
    for vpc in lab.topology.vpcs.values():
        rtr = names.router_ns(lab.name, vpc.name)
        for eni in vpc.network_interfaces.values():
            out[(rtr, names.router_link(eni))] = f"eni {eni.name}"
            if eni.attachment is not None:
                ns = names.instance_ns(lab.name, eni.attachment.instance)
                out[(ns, names.instance_link(eni.attachment.device_index))] = \
                    f"{eni.attachment.instance} {names.instance_link(eni.attachment.device_index)}"
        for nat in vpc.nat_gateways.values():
            out[(names.nat_gateway_ns(lab.name, nat.name), NAT_LINK)] = f"nat-gateway {nat.name}"
        for ep in vpc.endpoints.values():
            for k, _ in enumerate(ep.network_interfaces):
                out[(names.vpc_endpoint_ns(lab.name, ep.name), names.instance_link(k))] = f"vpc-endpoint {ep.name}"
    return out
