"""VPC Flow Logs in AWS's default format (version 2), from the packets that cross each ENI's link.

Every ENI is a veth whose other end is in its VPC's router namespace, so the router sees all of an
ENI's traffic: a frame coming *in* on the ENI's router link is the ENI's egress, one going *out* on it
the ENI's ingress. `FlowLogCollector` captures every VPC router while it runs; `aggregate` (pure)
turns the frames into records, one per ENI, flow (5-tuple), action and aggregation interval:

- a packet an ENI sends is ACCEPT if the router forwards it: the same packet (its IP header but TTL
  and checksum, and the first 8 bytes of its transport header) leaves the router, on any link, within
  MATCH_WINDOW_NS. Otherwise a security group, a NACL, the source/destination check or a blackhole
  route dropped it, and the record is REJECT;
- a packet the router hands to an ENI is ACCEPT on that ENI;
- a packet from another link (internet gateway, peering, gateway endpoint) to an ENI's private IP that
  the router drops is REJECT on that ENI: only the receiver's NACL and security groups stand between.

Our choice where AWS differs: a packet from one ENI to another dropped by the *receiver's* NACL or
security group is REJECT on the sender's ENI and absent from the receiver's. AWS would log ACCEPT on
the sender (its own rules let the packet out) and REJECT on the receiver. Telling the two apart
needs an nft trace of every packet (probe/attribution.py does it for one probe); that is too costly
for all traffic and would share the routers' trace sets with concurrent probes.

As on AWS, traffic to or from the router's own addresses (subnet +1, the Amazon DNS server at +2 and
169.254.169.253) is not logged. Only IPv4 unicast is logged. As on AWS, `packets` and `bytes` count IP
packets and their bytes as they cross the wire, even where the router's ENI links merge a flow's packets
(GRO): a merged frame counts as the packets it stands for (Frame.segments), with each one's IP header
(Frame.wire_bytes less each packet's Ethernet header). Intervals are aligned to multiples of `interval`
seconds since the epoch; `start`/`end` are the seconds of a record's first and last packet.

When a router's capture falls behind (heavy traffic fills its receive buffer), the kernel drops
frames and says when: a packet that came in then and was not seen leaving is not judged (its copy
that left may be the lost frame), and every ENI of that router gets a SKIPDATA record for the
interval, as AWS does when it skips records. No NODATA records are written.
"""
from __future__ import annotations

import socket
import struct
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import UsageError
from .kernel.capture import Capture, Frame
from .model import NetworkInterface, Vpc
from .plan import names
from .plan.build import AMAZON_DNS_LINK_LOCAL

if TYPE_CHECKING:
    from .lab import Lab

VERSION = 2
ACCOUNT_ID = "123456789012"
FIELDS = ("version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport", "protocol",
          "packets", "bytes", "start", "end", "action", "log-status")
HEADER = " ".join(FIELDS)
MATCH_WINDOW_NS = 100_000_000       # forwarding takes microseconds; 100 ms is plenty and still short
ETHERNET_HEADER = 14
SNAPLEN = ETHERNET_HEADER + 60 + 8     # Ethernet, the longest IPv4 header, the transport header's first 8 bytes
_PORTS = {6, 17, 132}               # TCP, UDP, SCTP: the first 4 transport bytes are the ports


@dataclass(frozen=True)
class FlowLogRecord:
    """One line of a flow log. A SKIPDATA record has only interface-id, start and end (None here, `-` in a line)."""

    interface_id: str
    srcaddr: str | None
    dstaddr: str | None
    srcport: int | None
    dstport: int | None
    protocol: int | None
    packets: int | None
    bytes: int | None
    start: int
    end: int
    action: str | None              # ACCEPT | REJECT
    log_status: str = "OK"          # OK | SKIPDATA
    version: int = VERSION
    account_id: str = ACCOUNT_ID

    @classmethod
    def skipped(cls, interface_id: str, start: int, end: int) -> "FlowLogRecord":
        return cls(interface_id, None, None, None, None, None, None, None, start, end, None, "SKIPDATA")

    def values(self) -> tuple:
        return (self.version, self.account_id, self.interface_id, self.srcaddr, self.dstaddr, self.srcport,
                self.dstport, self.protocol, self.packets, self.bytes, self.start, self.end, self.action,
                self.log_status)

    def line(self) -> str:
        return " ".join("-" if v is None else str(v) for v in self.values())

    def to_dict(self) -> dict[str, Any]:
        """AWS's field names (`interface-id`, `log-status` …) as keys."""
        return dict(zip(FIELDS, self.values(), strict=True))


def render(records: Iterable[FlowLogRecord]) -> str:
    """The header line, then one line per record."""
    return "\n".join([HEADER, *(r.line() for r in records)])


@dataclass(frozen=True)
class RouterView:
    """What aggregation needs to know of one VPC router."""

    enis: Mapping[str, str]                 # router link → ENI id
    eni_addresses: Mapping[str, str]        # private IP → ENI id
    own_addresses: frozenset[str]           # the router's addresses: not logged

    @classmethod
    def of(cls, vpc: Vpc, enis: Iterable[NetworkInterface] = ()) -> "RouterView":
        """The router of `vpc` with its ENIs, and those of `enis` in it that are gone (deleted during a capture)."""
        every = [*(e for e in enis if e.vpc == vpc.name), *vpc.network_interfaces.values()]   # today's win
        own = {str(s.gateway) for s in vpc.subnets.values()} | {str(vpc.dns_server), AMAZON_DNS_LINK_LOCAL}
        return cls({names.router_link(e): e.id for e in every},
                   {str(ip): e.id for e in every for ip in e.private_ip_addresses}, frozenset(own))


class _Packet(NamedTuple):
    ts_ns: int
    ifname: str
    direction: str
    src: str
    dst: str
    protocol: int
    srcport: int
    dstport: int
    segments: int            # IP packets on the wire (more than 1: merged by GRO)
    size: int                # their IP bytes
    identity: bytes          # what the router leaves unchanged: all of the IP header but TTL and checksum …


def _parse(frame: Frame) -> _Packet | None:
    data = frame.data
    if len(data) < 34 or data[12:14] != b"\x08\x00":
        return None
    ip = data[14:]
    ihl = (ip[0] & 0x0F) * 4
    if ip[0] >> 4 != 4 or ihl < 20 or len(ip) < ihl:
        return None
    dst = ip[16:20]
    if dst[0] >= 224:                                   # multicast and broadcast: never routed in a VPC
        return None
    protocol = ip[9]
    transport = ip[ihl:ihl + 8]
    first_fragment = int.from_bytes(ip[6:8]) & 0x1FFF == 0
    srcport, dstport = struct.unpack("!HH", transport[:4]) \
        if protocol in _PORTS and first_fragment and len(transport) >= 4 else (0, 0)
    # … and the transport header's first 8 bytes (ports and sequence number, ICMP type, id and sequence)
    identity = ip[0:8] + ip[9:10] + ip[12:20] + transport
    return _Packet(frame.ts_ns, frame.ifname, frame.direction, socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(dst),
                   protocol, srcport, dstport, frame.segments, frame.wire_bytes - ETHERNET_HEADER * frame.segments,
                   identity)


def _forwarded(packets: Sequence[_Packet]) -> set[int]:
    """Indexes of the packets that came in and left again within MATCH_WINDOW_NS, each copy that
    left paired with one that came in, oldest first."""
    ins: dict[bytes, list[int]] = defaultdict(list)
    outs: dict[bytes, list[int]] = defaultdict(list)
    for i, p in enumerate(packets):
        (ins if p.direction == "in" else outs)[p.identity].append(i)
    forwarded = set()
    for identity, arrivals in ins.items():
        departures, d = outs.get(identity, []), 0
        for i in arrivals:
            while d < len(departures) and packets[departures[d]].ts_ns < packets[i].ts_ns:
                d += 1
            if d < len(departures) and packets[departures[d]].ts_ns - packets[i].ts_ns <= MATCH_WINDOW_NS:
                forwarded.add(i)
                d += 1
    return forwarded


def aggregate(frames_by_router: Mapping[str, Sequence[Frame]], routers: Mapping[str, RouterView],
              interval: int = 60, until_ns: int | None = None,
              losses_by_router: Mapping[str, Sequence[tuple[int, int, int]]] | None = None) -> list[FlowLogRecord]:
    """Flow log records from each router's frames (keyed like `routers`).

    Frames after `until_ns` only show that an earlier packet left the router; they make no record.
    `losses_by_router` holds each capture's losses (Capture.losses: from ns, to ns, count): a packet
    that came in then and was not seen leaving is not judged, since the copy that left may be a lost
    frame, and every ENI of that router gets a SKIPDATA record for each interval a loss touches.
    """
    _check_interval(interval)
    width = interval * 1_000_000_000
    last = until_ns if until_ns is not None else 1 << 63
    flows: dict[tuple, list[int]] = {}          # key → [packets, bytes, first ns, last ns]
    records = []
    for router, frames in frames_by_router.items():
        view = routers[router]
        losses = [(a, min(b, last)) for a, b, _ in (losses_by_router or {}).get(router, ()) if a <= last]
        packets = sorted((p for p in map(_parse, frames) if p and p.ifname != "lo"), key=lambda p: p.ts_ns)
        forwarded = _forwarded(packets)
        for i, p in enumerate(packets):
            if p.ts_ns > last or p.src in view.own_addresses or p.dst in view.own_addresses:
                continue
            eni = view.enis.get(p.ifname)
            if p.direction == "out":
                action = "ACCEPT" if eni else None
            elif i in forwarded:
                action = "ACCEPT" if eni else None      # its ingress record is made where it leaves
            elif any(a - MATCH_WINDOW_NS <= p.ts_ns <= b for a, b in losses):
                action = None
            else:
                eni = eni or view.eni_addresses.get(p.dst)
                action = "REJECT" if eni else None
            if action is None:
                continue
            key = (p.ts_ns // width, eni, p.src, p.dst, p.srcport, p.dstport, p.protocol, action)
            flow = flows.setdefault(key, [0, 0, p.ts_ns, p.ts_ns])
            flow[0] += p.segments
            flow[1] += p.size
            flow[3] = p.ts_ns
        skipped: dict[int, tuple[int, int]] = {}          # interval → (first, last ns) of its losses
        for a, b in losses:
            for w in range(a // width, b // width + 1):
                start, end = skipped.get(w, (b, a))
                skipped[w] = (min(start, max(a, w * width)), max(end, min(b, (w + 1) * width - 1)))
        records += [FlowLogRecord.skipped(eni, start // 1_000_000_000, end // 1_000_000_000)
                    for start, end in skipped.values() for eni in set(view.enis.values())]
    records += [FlowLogRecord(eni, src, dst, sport, dport, proto, n, size, first_ns // 1_000_000_000,
                              last_ns // 1_000_000_000, action)
                for (_, eni, src, dst, sport, dport, proto, action), (n, size, first_ns, last_ns) in flows.items()]
    return sorted(records, key=lambda r: (r.start, r.interface_id, r.line()))


def _check_interval(interval: int) -> None:
    if not isinstance(interval, int) or interval < 1:
        raise UsageError(f"the aggregation interval must be a whole number of seconds, at least 1, not {interval!r}",
                         hint="AWS offers 60 and 600 s; shorter ones suit tests")


class FlowLogCollector:
    """Captures every VPC router of `lab` while the `with` block runs; `records()` after it.

        with FlowLogCollector(lab, interval=1) as logs:
            lab.exec("web-1", ["curl", "-s", "http://10.0.1.20/"])
        for record in logs.records():
            print(record.line())
    """

    def __init__(self, lab: "Lab", interval: int = 60):
        _check_interval(interval)
        self.lab = lab
        self.interval = interval
        self._stack = ExitStack()
        self._captures: dict[str, Capture] = {}
        self._enis: list[NetworkInterface] = []
        self._until_ns: int | None = None

    def __enter__(self) -> "FlowLogCollector":
        self._enis = list(self.lab.topology.network_interfaces.values())
        with self._stack as stack:
            for vpc in self.lab.topology.vpcs:
                ns = names.router_ns(self.lab.name, vpc)
                self._captures[vpc] = stack.enter_context(Capture(ns, snaplen=SNAPLEN))
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc: object) -> None:
        self._until_ns = time.time_ns()
        # a packet that came in just before the end counts as forwarded if its copy leaves within the
        # window: wait until each router shows a frame a window past the end (every earlier frame has
        # then been read), at most the window itself; closing reads whatever is still queued
        deadline = time.monotonic() + MATCH_WINDOW_NS / 1e9
        later = self._until_ns + MATCH_WINDOW_NS
        try:
            for capture in self._captures.values():
                capture.wait_for(lambda f: f.ts_ns > later, max(0.0, deadline - time.monotonic()))
        finally:
            self._stack.close()     # each capture reads what was queued before it closes

    @property
    def lost_frames(self) -> int:
        """Frames the captures dropped (receive buffer full); SKIPDATA records say when."""
        return sum(c.lost for c in self._captures.values())

    def records(self) -> list[FlowLogRecord]:
        if self._until_ns is None:
            raise UsageError("flow log records are ready once the collector's `with` block has ended")
        topology = self.lab.topology          # live changes made through this Lab show here
        routers = {vpc: RouterView.of(topology.vpcs[vpc], self._enis) for vpc in self._captures}
        return aggregate({vpc: c.frames() for vpc, c in self._captures.items()}, routers, self.interval,
                         self._until_ns, {vpc: c.losses for vpc, c in self._captures.items()})
