"""Flow log aggregation (vpcemu.flowlogs.aggregate) on synthetic router frames: no root, no kernel."""
from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import Ether

from vpcemu.errors import UsageError
from vpcemu.flowlogs import HEADER, FlowLogRecord, RouterView, aggregate, render
from vpcemu.kernel.capture import Frame
from vpcemu.load import load_text
from vpcemu.plan import names

TOPOLOGY = load_text("""
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
    instances:
      client: {subnet: a, private_ip: 10.0.1.10}
      server: {subnet: a, private_ip: 10.0.1.20}
""", name="flowunit")
VPC = TOPOLOGY.vpcs["main"]
CLIENT = next(e for e in VPC.network_interfaces.values() if e.attachment.instance == "client")
SERVER = next(e for e in VPC.network_interfaces.values() if e.attachment.instance == "server")
C_LINK, S_LINK = names.router_link(CLIENT), names.router_link(SERVER)
ROUTERS = {"main": RouterView.of(VPC)}
T0 = 1_700_000_010_250_000_000          # 1700000010.25 s
MS = 1_000_000


def packet(src: str, dst: str, l4, ip_id: int = 7, ttl: int = 64) -> bytes:
    return bytes(Ether() / IP(src=src, dst=dst, id=ip_id, ttl=ttl) / l4)


def frames(*items: tuple[int, str, str, bytes]) -> dict[str, list[Frame]]:
    return {"main": [Frame(ts, link, direction, data, 1, len(data)) for ts, link, direction, data in items]}


def by_eni(records: list[FlowLogRecord], eni) -> list[FlowLogRecord]:
    return [r for r in records if r.interface_id == eni.id]


def test_a_forwarded_packet_is_accept_on_both_enis_with_the_exact_line():
    syn = packet("10.0.1.10", "10.0.1.20", TCP(sport=40000, dport=80, flags="S"))
    records = aggregate(frames((T0, C_LINK, "in", syn), (T0 + 20_000, S_LINK, "out", syn)), ROUTERS)
    assert [r.line() for r in records] == sorted(
        f"2 123456789012 {eni.id} 10.0.1.10 10.0.1.20 40000 80 6 1 40 1700000010 1700000010 ACCEPT OK"
        for eni in (CLIENT, SERVER))
    assert records[0].to_dict() == {
        "version": 2, "account-id": "123456789012", "interface-id": records[0].interface_id, "srcaddr": "10.0.1.10",
        "dstaddr": "10.0.1.20", "srcport": 40000, "dstport": 80, "protocol": 6, "packets": 1, "bytes": 40,
        "start": 1700000010, "end": 1700000010, "action": "ACCEPT", "log-status": "OK"}
    assert render(records).splitlines()[0] == HEADER == ("version account-id interface-id srcaddr dstaddr srcport "
                                                         "dstport protocol packets bytes start end action log-status")


def test_a_packet_that_never_leaves_the_router_is_reject_on_the_sender_only():
    syn = packet("10.0.1.10", "10.0.1.20", TCP(sport=40001, dport=22, flags="S"))
    retry = packet("10.0.1.10", "10.0.1.20", TCP(sport=40001, dport=22, flags="S"), ip_id=8)
    records = aggregate(frames((T0, C_LINK, "in", syn), (T0 + 1000 * MS, C_LINK, "in", retry)), ROUTERS)
    assert [(r.interface_id, r.dstport, r.action, r.packets, r.bytes, r.start, r.end) for r in records] == [
        (CLIENT.id, 22, "REJECT", 2, 80, 1700000010, 1700000011)]


def test_icmp_has_ports_0_and_counts_every_packet_and_byte_each_way():
    items = []
    for seq in range(3):
        t = T0 + seq * 200 * MS
        request = packet("10.0.1.10", "10.0.1.20", ICMP(type=8, id=99, seq=seq) / (b"x" * 56), ip_id=100 + seq)
        reply = packet("10.0.1.20", "10.0.1.10", ICMP(type=0, id=99, seq=seq) / (b"x" * 56), ip_id=500 + seq)
        items += [(t, C_LINK, "in", request), (t + 10_000, S_LINK, "out", request),
                  (t + 50_000, S_LINK, "in", reply), (t + 60_000, C_LINK, "out", reply)]
    records = aggregate(frames(*items), ROUTERS)
    assert {(r.interface_id, r.srcaddr, r.dstaddr, r.srcport, r.dstport, r.protocol, r.packets, r.bytes, r.action)
            for r in records} == {
        (eni.id, src, dst, 0, 0, 1, 3, 3 * 84, "ACCEPT")
        for eni in (CLIENT, SERVER) for src, dst in (("10.0.1.10", "10.0.1.20"), ("10.0.1.20", "10.0.1.10"))}


def test_records_split_at_interval_boundaries_with_first_and_last_packet_times():
    def udp(ip_id: int) -> bytes:
        return packet("10.0.1.10", "10.0.1.20", UDP(sport=5000, dport=53), ip_id=ip_id)
    times = [T0, T0 + 500 * MS, T0 + 1000 * MS]               # 10.25 s, 10.75 s, 11.25 s
    items = [(t, S_LINK, "out", udp(i)) for i, t in enumerate(times)]
    one_second = aggregate(frames(*items), ROUTERS, interval=1)
    assert [(r.packets, r.start, r.end) for r in one_second] == [(2, 1700000010, 1700000010),
                                                                 (1, 1700000011, 1700000011)]
    minute = aggregate(frames(*items), ROUTERS, interval=60)
    assert [(r.packets, r.bytes, r.start, r.end) for r in minute] == [(3, 3 * 28, 1700000010, 1700000011)]


def test_the_copy_that_leaves_may_differ_in_ttl_but_must_leave_within_the_window():
    syn = packet("10.0.1.10", "10.0.1.20", TCP(sport=40002, dport=80, flags="S"))
    restored = packet("10.0.1.10", "10.0.1.20", TCP(sport=40002, dport=80, flags="S"), ttl=63)
    other = packet("10.0.1.10", "10.0.1.20", TCP(sport=40002, dport=80, flags="S"), ip_id=9)
    ttl_only = aggregate(frames((T0, C_LINK, "in", syn), (T0 + 5000, S_LINK, "out", restored)), ROUTERS)
    assert {r.action for r in by_eni(ttl_only, CLIENT)} == {"ACCEPT"}
    other_packet = aggregate(frames((T0, C_LINK, "in", syn), (T0 + 5000, S_LINK, "out", other)), ROUTERS)
    assert {r.action for r in by_eni(other_packet, CLIENT)} == {"REJECT"}
    too_late = aggregate(frames((T0, C_LINK, "in", syn), (T0 + 2000 * MS, S_LINK, "out", syn)), ROUTERS)
    assert {r.action for r in by_eni(too_late, CLIENT)} == {"REJECT"}
    # one copy that left accounts for one packet that came in, not two
    twice = aggregate(frames((T0, C_LINK, "in", syn), (T0 + MS, C_LINK, "in", syn), (T0 + 2 * MS, S_LINK, "out", syn)),
                      ROUTERS)
    assert sorted((r.action, r.packets) for r in by_eni(twice, CLIENT)) == [("ACCEPT", 1), ("REJECT", 1)]


def test_traffic_with_the_router_itself_is_not_logged():
    query = packet("10.0.1.10", "10.0.0.2", UDP(sport=5353, dport=53))
    answer = packet("10.0.0.2", "10.0.1.10", UDP(sport=53, dport=5353))
    ping = packet("10.0.1.10", "10.0.1.1", ICMP(type=8))
    assert aggregate(frames((T0, C_LINK, "in", query), (T0 + MS, C_LINK, "out", answer), (T0, C_LINK, "in", ping),
                            (T0, "lo", "in", query)), ROUTERS) == []


def test_a_drop_of_a_packet_from_outside_the_enis_is_reject_on_the_receiver():
    scan = packet("198.51.100.7", "10.0.1.20", TCP(sport=6000, dport=22, flags="S"))
    stray = packet("198.51.100.7", "10.0.9.9", TCP(sport=6000, dport=22, flags="S"))
    records = aggregate(frames((T0, "igw", "in", scan), (T0, "igw", "in", stray)), ROUTERS)
    assert [(r.interface_id, r.srcaddr, r.dstport, r.action) for r in records] == [
        (SERVER.id, "198.51.100.7", 22, "REJECT")]


def test_frames_after_the_end_only_prove_that_an_earlier_packet_left():
    syn = packet("10.0.1.10", "10.0.1.20", TCP(sport=40003, dport=80, flags="S"))
    late = packet("10.0.1.10", "10.0.1.20", TCP(sport=40003, dport=80, flags="S"), ip_id=99)
    records = aggregate(frames((T0, C_LINK, "in", syn), (T0 + 50_000, S_LINK, "out", syn),
                               (T0 + 100_000, C_LINK, "in", late)), ROUTERS, until_ns=T0 + 10_000)
    assert [(r.interface_id, r.action) for r in records] == [(CLIENT.id, "ACCEPT")]


def test_non_ip_frames_are_ignored_and_the_interval_is_checked():
    arp = bytes.fromhex("ffffffffffff0200000000010806") + bytes(28)
    assert aggregate(frames((T0, C_LINK, "in", arp)), ROUTERS) == []
    with pytest.raises(UsageError):
        aggregate({}, ROUTERS, interval=0)


def test_a_capture_loss_leaves_unanswered_packets_unjudged_and_skipdata_for_every_eni():
    syn = packet("10.0.1.10", "10.0.1.20", TCP(sport=40004, dport=22, flags="S"))
    later = packet("10.0.1.10", "10.0.1.20", TCP(sport=40004, dport=22, flags="S"), ip_id=8)
    items = frames((T0, C_LINK, "in", syn), (T0 + 5000 * MS, C_LINK, "in", later))
    losses = {"main": [(T0 - MS, T0 + MS, 12)]}                  # frames dropped around the first SYN
    records = aggregate(items, ROUTERS, interval=1, losses_by_router=losses)
    assert sorted(r.line() for r in records) == sorted([
        f"2 123456789012 {CLIENT.id} - - - - - - - 1700000010 1700000010 - SKIPDATA",
        f"2 123456789012 {SERVER.id} - - - - - - - 1700000010 1700000010 - SKIPDATA",
        f"2 123456789012 {CLIENT.id} 10.0.1.10 10.0.1.20 40004 22 6 1 40 1700000015 1700000015 REJECT OK"])
    assert records[0].to_dict()["srcaddr"] is None


def test_a_frame_merged_by_gro_counts_as_the_packets_and_bytes_it_stands_for():
    """Three 1,000-byte TCP segments merged into one frame, forwarded as one: 3 packets of 1,040 IP bytes."""
    merged = packet("10.0.1.10", "10.0.1.20", TCP(sport=40000, dport=80, flags="A") / (b"x" * 3000))
    wire = 3 * (14 + 20 + 20 + 1000)
    records = aggregate({"main": [Frame(T0, C_LINK, "in", merged, 3, wire),
                                 Frame(T0 + 20_000, S_LINK, "out", merged, 3, wire)]}, ROUTERS)
    assert [(r.interface_id, r.packets, r.bytes, r.action) for r in records] == sorted(
        [(CLIENT.id, 3, 3 * 1040, "ACCEPT"), (SERVER.id, 3, 3 * 1040, "ACCEPT")])
