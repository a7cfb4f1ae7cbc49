"""VPC Flow Logs of real traffic: ping, an HTTP request and a connection a security group refuses, seen
by FlowLogCollector and by `vpcemu flowlogs`; a NAT gateway's ENI logging both of its sides, and a
connection from the internet refused at the receiver."""
from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from vpcemu.cli import app
from vpcemu.flowlogs import HEADER, SNAPLEN, FlowLogCollector
from vpcemu.kernel.capture import Capture
from vpcemu.kernel.netns import run_in_netns
from vpcemu.lab import Lab
from vpcemu.load import load_text
from vpcemu.plan import names

from kernel_clients import _connects as connects, http_server   # connects: one SYN, 0.2 s

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.geteuid() != 0, reason="kernel tests need root")]

TOPOLOGY = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
      b: {cidr: 10.0.2.0/24, az: us-east-1a}
    security_groups:
      client: {}
      web: {ingress: [{protocol: tcp, ports: 80, source: sg:client}, {protocol: icmp, source: sg:client}]}
    instances:
      client: {subnet: a, private_ip: 10.0.1.10, security_groups: [client]}
      server: {subnet: b, private_ip: 10.0.2.20, security_groups: [web]}
"""
CLIENT, SERVER = "10.0.1.10", "10.0.2.20"


@pytest.fixture(scope="module")
def lab():
    with Lab.up(load_text(TOPOLOGY, name="flowlogs")) as lab:
        yield lab


def eni_id(lab: Lab, instance: str) -> str:
    return lab.topology.network_interface(lab.topology.instances[instance].primary_network_interface).id


def packets(records, eni: str, src: str, dst: str, protocol: int, action: str, **ports: int) -> int:
    return sum(r.packets for r in records
               if (r.interface_id, r.srcaddr, r.dstaddr, r.protocol, r.action) == (eni, src, dst, protocol, action)
               and all(getattr(r, k) == v for k, v in ports.items()))


def test_ping_http_and_a_refused_port_as_flow_log_records(lab):
    client_eni, server_eni = eni_id(lab, "client"), eni_id(lab, "server")
    with http_server(lab, "server", SERVER, 80):
        with FlowLogCollector(lab, interval=60) as logs:
            assert lab.exec("client", ["ping", "-c", "3", "-i", "0.2", "-W", "1", SERVER]).returncode == 0
            curl = lab.exec("client", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "5",
                                       f"http://{SERVER}/"])
            assert curl.stdout == "200"
            assert not run_in_netns(lab.namespace_of("client"), connects, SERVER, 22)
    records = logs.records()
    assert {r.interface_id for r in records} == {client_eni, server_eni}
    assert logs.lost_frames == 0

    for eni in (client_eni, server_eni):       # both ENIs log both directions, ports 0
        assert packets(records, eni, CLIENT, SERVER, 1, "ACCEPT", srcport=0, dstport=0) == 3
        assert packets(records, eni, SERVER, CLIENT, 1, "ACCEPT", srcport=0, dstport=0) == 3
        assert packets(records, eni, CLIENT, SERVER, 6, "ACCEPT", dstport=80) >= 3      # SYN, request, ACKs
        assert packets(records, eni, SERVER, CLIENT, 6, "ACCEPT", srcport=80) >= 3
    assert not [r for r in records if r.action == "REJECT" and r.dstport != 22]

    assert packets(records, client_eni, CLIENT, SERVER, 6, "REJECT", dstport=22) == 1
    # our documented choice: the receiver's security group dropped it, yet only the sender logs it
    assert not [r for r in records if 22 in (r.srcport, r.dstport) and r.interface_id == server_eni]
    assert not [r for r in records if r.dstport == 22 and r.action == "ACCEPT"]
    for r in records:
        fields = r.line().split()
        assert fields[:3] == ["2", "123456789012", r.interface_id] and fields[-1] == "OK" and len(fields) == 14
        assert r.start <= r.end


BULK = 32 << 20
SINK = r"""
import socket, sys
with socket.create_server((sys.argv[1], int(sys.argv[2]))) as server:
    print("listening", flush=True)
    conn, _ = server.accept()
    left = int(sys.argv[3])
    while left:
        left -= len(conn.recv(min(left, 1 << 20)))
    conn.close()
"""
# the sender closes last, so its FIN is the last segment it sends: its counter is read after it
SENDER = r"""
import socket, sys
def segments():
    lines = [l.split() for l in open("/proc/net/snmp") if l.startswith("Tcp:")]
    tcp = dict(zip(lines[0], lines[1]))
    return int(tcp["OutSegs"]) + int(tcp["RetransSegs"])
before = segments()
with socket.create_connection((sys.argv[1], int(sys.argv[2]))) as s:
    s.sendall(bytes(int(sys.argv[3])))
    assert s.recv(1) == b""
print(segments() - before)
"""


def sent_on(ns: str, ifname: str) -> socket.socket:
    """An AF_PACKET socket, written independently of the module under test, that queues the first bytes of every
    frame `ifname` sends in `ns` (after GSO: one per packet on the wire), with room for all of a bulk transfer."""

    def make() -> socket.socket:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        sock.setsockopt(socket.SOL_SOCKET, 33, 512 << 20)                   # SO_RCVBUFFORCE
        sock.bind((ifname, 0x0003))
        return sock

    return run_in_netns(ns, make)


def drained(sock: socket.socket) -> list[bytes]:
    """The first 64 bytes of each outgoing frame queued, once the kernel says it dropped none."""
    sock.setblocking(False)
    frames = []
    while True:
        try:
            data, _, _, addr = sock.recvmsg(64)
        except BlockingIOError:
            break
        if addr[2] == socket.PACKET_OUTGOING:
            frames.append(data)
    assert struct.unpack("II", sock.getsockopt(263, 6, 8))[1] == 0             # PACKET_STATISTICS: no drops
    return frames


def test_a_bulk_transfer_merged_by_gro_is_logged_as_the_packets_and_bytes_on_the_wire(lab):
    """The router's ENI links merge a flow's packets (GRO): the flow log still counts each TCP segment the
    sender sent (its kernel's TCP counters, retransmissions included) and each one's IP bytes (as its link sent
    them), on both ENIs."""
    client_eni, server_eni = eni_id(lab, "client"), eni_id(lab, "server")
    rtr = names.router_ns(lab.name, "main")
    client_link = names.router_link(lab.topology.network_interface(client_eni))
    sink = subprocess.Popen(lab.exec_argv("server", [sys.executable, "-c", SINK, SERVER, "80", str(BULK)]),
                            stdout=subprocess.PIPE, text=True)
    on_wire = sent_on(lab.namespace_of("client"), "eth0")
    try:
        assert sink.stdout.readline() == "listening\n"
        with Capture(rtr, client_link, snaplen=SNAPLEN) as seen, FlowLogCollector(lab, interval=60) as logs:
            sent = lab.exec("client", [sys.executable, "-c", SENDER, SERVER, "80", str(BULK)], check=True, timeout=60)
        assert sink.wait(timeout=10) == 0
        frames = drained(on_wire)
    finally:
        on_wire.close()
        sink.kill()
        sink.wait()
    segments = int(sent.stdout)
    assert len(frames) == segments > BULK // 9001           # the link sent this connection's segments only
    assert all(f[12:14] == b"\x08\x00" and f[23] == 6 for f in frames)
    ip_bytes = sum(int.from_bytes(f[16:18]) for f in frames)
    assert ip_bytes > BULK
    # GRO engaged: frames from the client larger than any packet its 9001-byte MTU lets it send
    assert max(int.from_bytes(f.data[16:18]) for f in seen.frames() if f.direction == "in") > 9001
    assert logs.lost_frames == 0
    records = logs.records()
    for eni in (client_eni, server_eni):
        flow = [r for r in records if (r.interface_id, r.srcaddr, r.dstaddr, r.dstport) == (eni, CLIENT, SERVER, 80)]
        assert {r.action for r in flow} == {"ACCEPT"}
        assert sum(r.packets for r in flow) == segments
        assert sum(r.bytes for r in flow) == ip_bytes


def test_the_cli_writes_the_header_and_a_record_per_line(lab, tmp_path):
    out = tmp_path / "flows.txt"
    ping = subprocess.Popen(lab.exec_argv("client", ["ping", "-i", "0.05", SERVER]), stdout=subprocess.PIPE, text=True)
    try:
        while "bytes from" not in ping.stdout.readline():      # it is answered: traffic flows
            assert ping.poll() is None
        r = CliRunner().invoke(app, ["flowlogs", "--lab", lab.name, "--duration", "0.5", "--interval", "1",
                                     "--output", str(out)])
    finally:
        ping.kill()
        ping.wait()
    assert r.exit_code == 0, r.output
    lines = out.read_text().splitlines()
    assert lines[0] == HEADER
    rows = [line.split() for line in lines[1:]]
    assert rows and all(len(row) == 14 for row in rows)
    icmp = {(row[2], row[3], row[4]) for row in rows if row[7] == "1" and row[12] == "ACCEPT"}
    assert icmp == {(eni, src, dst) for eni in (eni_id(lab, "client"), eni_id(lab, "server"))
                    for src, dst in ((CLIENT, SERVER), (SERVER, CLIENT))}


EDGE = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    internet_gateway: igw
    subnets:
      public:  {cidr: 10.0.0.0/24, az: us-east-1a, route_table: public}
      private: {cidr: 10.0.1.0/24, az: us-east-1a, route_table: private}
    route_tables:
      public:  {routes: [{destination: 0.0.0.0/0, target: igw}]}
      private: {routes: [{destination: 0.0.0.0/0, target: nat}]}
    nat_gateways:
      nat: {subnet: public, eip: 198.51.100.20}
    security_groups:
      web: {ingress: [{protocol: tcp, ports: 80, source: 0.0.0.0/0}]}
    instances:
      web: {subnet: public, private_ip: 10.0.0.10, eip: 198.51.100.10, security_groups: [web]}
      app: {subnet: private, private_ip: 10.0.1.10}
internet:
  hosts:
    ext: {ip: 198.18.0.50, listen: [tcp/80]}
"""


def test_a_nat_gateway_logs_both_sides_and_the_receiver_logs_a_refused_inbound_connection():
    with Lab.up(load_text(EDGE, name="flownat")) as lab:
        vpc = lab.topology.vpcs["main"]
        nat = vpc.network_interfaces[vpc.nat_gateways["nat"].network_interface]
        app, web = eni_id(lab, "app"), eni_id(lab, "web")
        with FlowLogCollector(lab) as logs:
            assert run_in_netns(lab.namespace_of("app"), connects, "198.18.0.50", 80)
            assert not run_in_netns(lab.namespace_of("ext"), connects, "198.51.100.10", 22)     # web's EIP
        records = logs.records()
    nat_ip, ext = str(nat.private_ip_address), "198.18.0.50"
    assert nat.requester_managed
    assert packets(records, app, "10.0.1.10", ext, 6, "ACCEPT", dstport=80) >= 2
    assert packets(records, nat.id, "10.0.1.10", ext, 6, "ACCEPT", dstport=80) >= 2      # in, from app
    assert packets(records, nat.id, nat_ip, ext, 6, "ACCEPT", dstport=80) >= 2           # out, translated
    assert packets(records, nat.id, ext, nat_ip, 6, "ACCEPT", srcport=80) >= 1           # the answers, both sides
    assert packets(records, nat.id, ext, "10.0.1.10", 6, "ACCEPT", srcport=80) >= 1
    # the IGW translated the EIP; web's security group refused port 22: the receiver logs it
    assert packets(records, web, ext, "10.0.0.10", 6, "REJECT", dstport=22) == 1
    assert {r.action for r in records} == {"ACCEPT", "REJECT"} and all(r.log_status == "OK" for r in records)
