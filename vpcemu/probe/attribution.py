"""Which rule dropped a probe, from the kernel itself: nft trace events in the namespaces it may cross.

Every drop rule vpcemu writes (VPC routers, IGWs, NAT gateways, interface endpoints) carries a comment
`code=<explanation code> key=value …` (plan/nft.py), read back here as the drop's explanation. While a
probe runs, its addresses and the addresses NAT may give it are in each table's `trace_src` set, so
only such packets are traced.
"""
from __future__ import annotations

import json
import socket
from collections.abc import Hashable
from contextlib import ExitStack
from typing import TYPE_CHECKING, TypeVar

from ..errors import KernelError
from ..kernel.capture import NftTrace
from ..kernel.nft import nft_run, nft_run_each
from ..plan.nft import TABLE, TRACE_SET, drop_explanation
from . import packet

if TYPE_CHECKING:
    from ..lab import Lab

Key = TypeVar("Key", bound=Hashable)


class Tracer:
    def __init__(self, lab: "Lab", namespaces: list[str], *addresses: str):
        self.namespaces = namespaces
        self.routers: list[str] = []                                      # those with a trace set
        self.addresses = tuple(sorted(set(addresses)))
        self.stack = ExitStack()
        self.traces: list[NftTrace] = []
        self._read: dict[str, int] = {}                                   # events read so far, per namespace
        self._packets: dict[str, dict[int | None, tuple[bytes, bytes]]] = {}
        self._drops: list[tuple[NftTrace, dict, bytes, bytes]] = []
        self._dropped: set[tuple[int, int, int | None]] = set()

    def __enter__(self) -> "Tracer":
        # a namespace without the set (one vpcemu writes no rules in) refuses the elements, and is not traced
        elements = f"{TABLE} {TRACE_SET} {{ {', '.join(self.addresses)} }}"
        added = nft_run_each(dict.fromkeys(self.namespaces, f"add element ip {elements}"))
        self.routers = [ns for ns in self.namespaces if not isinstance(added[ns], KernelError)]
        # removed side by side; a failure means another probe of the same addresses removed them first
        self.stack.callback(nft_run_each, dict.fromkeys(self.routers, f"delete element ip {elements}"))
        try:
            for ns in self.routers:
                self.traces.append(self.stack.enter_context(NftTrace(ns)))
        except BaseException:
            self.stack.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stack.close()

    def _drops_between(self) -> list[tuple[NftTrace, dict, bytes, bytes]]:
        """(trace, event, network header, transport header) of every traced drop of a packet between the tracer's
        addresses, read on from where the last call stopped. The kernel dumps a packet's headers once per hook, not
        on every event: events of one packet share a trace id, so a drop is the probe's if its id was seen with the
        probe's header."""
        wanted = {socket.inet_aton(a) for a in self.addresses}
        for trace in self.traces:
            events = trace.since(self._read.get(trace.ns, 0))
            self._read[trace.ns] = self._read.get(trace.ns, 0) + len(events)
            packets = self._packets.setdefault(trace.ns, {})
            for event in events:
                network = event.get("network_header") or b""
                if len(network) >= 20:
                    packets[event.get("id")] = (network, event.get("transport_header") or b"")
                if event.get("verdict") != "drop":
                    continue
                network, transport = packets.get(event.get("id"), (b"", b""))
                if len(network) >= 20 and network[12:16] in wanted and network[16:20] in wanted:
                    self._drops.append((trace, event, network, transport))
                    pkt = packet.from_ip(network, transport)
                    if pkt is None:
                        continue
                    if pkt.icmp_type in (packet.ECHO_REQUEST, packet.ECHO_REPLY):
                        self._dropped.add((packet.ICMP, pkt.icmp_id, None))
                    elif pkt.proto in (packet.TCP, packet.UDP) and pkt.sport is not None:
                        self._dropped.update({(pkt.proto, pkt.sport, pkt.dport), (pkt.proto, pkt.dport, pkt.sport)})
        return self._drops

    def dropped(self, flows: dict[Key, tuple[str, int, int | None]]) -> set[Key]:
        """Which of `flows` (key → protocol, source port or ICMP echo id, destination port) a trace proves dropped,
        the probe or its answer: a drop of a packet between the tracer's addresses, of the flow's protocol, carrying
        its ports in either direction (ICMP: its echo id). A packet whose ports NAT rewrote does not match, so its
        flow then waits for its timeout instead."""
        self._drops_between()
        return {key for key, (protocol, sport, port) in flows.items()
                if (packet.NUMBERS[protocol], sport, port) in self._dropped}

    def drops(self) -> list[dict]:
        """Explanations for every traced drop of a packet between the tracer's addresses by one of vpcemu's rules."""
        out = []
        comments: dict[str, dict] = {}
        for trace, event, header, _ in self._drops_between():
            if event.get("handle") is None:
                continue
            if trace.ns not in comments:
                comments[trace.ns] = _rule_comments(trace.ns)
            info = drop_explanation(comments[trace.ns].get((event.get("chain"), event["handle"]), ""))
            if info is not None:
                info.update(namespace=trace.ns, chain=event.get("chain"),
                            packet=f"{socket.inet_ntoa(header[12:16])} → {socket.inet_ntoa(header[16:20])}")
                if info not in out:
                    out.append(info)
        return out


def _rule_comments(ns: str) -> dict[tuple[str, int], str]:
    data = json.loads(nft_run(ns, f"list table ip {TABLE}", json_output=True, handles=True) or "{}")
    out = {}
    for item in data.get("nftables", []):
        rule = item.get("rule")
        if rule and "comment" in rule:
            out[(rule["chain"], rule["handle"])] = rule["comment"]
    return out


