"""probe/packet.py: the probes' packets built with struct are byte for byte what scapy builds from the same fields,
and read back as scapy reads them; the probe's path (CLI, Lab, probe, matrix) does not import scapy."""
import subprocess
import sys

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, TCPerror, UDPerror
from scapy.layers.l2 import Ether

from vpcemu.probe import packet
from vpcemu.probe.probe import _Matcher, _header
from vpcemu.kernel.capture import Frame

TOKEN = b"vpcemu-probe:0123456789abcdef"


def scapy_packet(protocol: str, src: str, dst: str, port: int | None, sport: int, ip_id: int, seq: int):
    ip = IP(src=src, dst=dst, ttl=64, id=ip_id)
    if protocol == "icmp":
        return ip / ICMP(type=8, id=sport, seq=1) / TOKEN
    if protocol == "tcp":
        return ip / TCP(sport=sport, dport=port, flags="S", seq=seq) / TOKEN
    return ip / UDP(sport=sport, dport=port) / TOKEN


@pytest.mark.parametrize("protocol,port", [("icmp", None), ("tcp", 8080), ("tcp", 443), ("udp", 53), ("udp", 7)])
@pytest.mark.parametrize("src,dst,sport,ip_id,seq", [("10.0.1.10", "10.0.3.10", 33000, 1, 0),
                                                     ("10.0.0.10", "198.18.0.50", 59999, 65534, (1 << 32) - 1),
                                                     ("255.255.255.254", "0.0.0.1", 20000, 4242, 123456789)])
def test_built_packets_are_scapys(protocol, port, src, dst, sport, ip_id, seq):
    ours = packet.build(protocol, src, dst, port, TOKEN, sport, ip_id=ip_id, seq=seq)
    assert ours == bytes(scapy_packet(protocol, src, dst, port, sport, ip_id, seq))


def ether(pkt) -> bytes:
    return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / pkt)


def scapy_header(data: bytes) -> dict:
    """What the probe reported with scapy (its _header before packet.py)."""
    pkt = Ether(data)
    ip = pkt[IP]
    out = {"src": ip.src, "dst": ip.dst, "ttl": ip.ttl, "proto": ip.proto}
    if TCP in pkt:
        out.update(sport=pkt[TCP].sport, dport=pkt[TCP].dport, flags=str(pkt[TCP].flags))
    elif UDP in pkt:
        out.update(sport=pkt[UDP].sport, dport=pkt[UDP].dport)
    elif ICMP in pkt:
        out.update(icmp_type=pkt[ICMP].type, icmp_code=pkt[ICMP].code)
    return out


PROBE = IP(src="10.0.0.10", dst="10.0.1.10", ttl=64, id=7) / TCP(sport=40000, dport=8080, flags="S") / TOKEN
ANSWERS = {
    "syn-ack": IP(src="10.0.1.10", dst="10.0.0.10", ttl=62) / TCP(sport=8080, dport=40000, flags="SA"),
    "rst": IP(src="10.0.1.10", dst="10.0.0.10") / TCP(sport=8080, dport=40000, flags="RA"),
    "icmp-error:3/13 from 10.0.0.1": IP(src="10.0.0.1", dst="10.0.0.10") / ICMP(type=3, code=13) / IPerror(
        bytes(PROBE)),
    None: IP(src="10.0.1.10", dst="10.0.0.10") / TCP(sport=8080, dport=40001, flags="SA"),     # another flow's
}


def frame(direction: str, data: bytes) -> Frame:
    return Frame(0, "eth0", direction, data, 1, len(data))


@pytest.mark.parametrize("answer", list(ANSWERS))
def test_answers_are_read_as_scapy_reads_them(answer):
    data = ether(ANSWERS[answer])
    assert packet.from_frame(data) is not None
    assert _header(packet.from_frame(data)) == scapy_header(data)
    matcher = _Matcher("tcp", "10.0.0.10", "10.0.1.10", 8080, 40000, TOKEN)
    assert matcher.answer(frame("in", data)) == answer


def test_udp_and_icmp_answers():
    udp = _Matcher("udp", "10.0.0.10", "10.0.1.10", 53, 40000, TOKEN)
    probe = IP(src="10.0.0.10", dst="10.0.1.10") / UDP(sport=40000, dport=53) / TOKEN
    unreachable = IP(src="10.0.1.10", dst="10.0.0.10") / ICMP(type=3, code=3) / IPerror(bytes(probe))
    assert udp.answer(frame("in", ether(unreachable))) == "port-unreachable"
    assert packet.from_frame(ether(unreachable)).quoted.sport == UDPerror(bytes(probe)[20:]).sport == 40000
    reply = IP(src="10.0.1.10", dst="10.0.0.10") / UDP(sport=53, dport=40000) / b"x"
    assert udp.answer(frame("in", ether(reply))) == "udp-reply"
    assert udp.answer(frame("out", ether(reply))) is None            # only what reaches the source
    icmp = _Matcher("icmp", "10.0.0.10", "10.0.1.10", None, 40000, TOKEN)
    echo = IP(src="10.0.1.10", dst="10.0.0.10") / ICMP(type=0, id=40000, seq=1) / TOKEN
    assert icmp.answer(frame("in", ether(echo))) == "echo-reply"
    other = IP(src="10.0.1.10", dst="10.0.0.10") / ICMP(type=0, id=40000, seq=1) / b"someone else's"
    assert icmp.answer(frame("in", ether(other))) is None
    arp = bytes(Ether(type=0x0806)) + b"\0" * 28
    assert packet.from_frame(arp) is None
    assert _header(packet.from_frame(ether(echo))) == scapy_header(ether(echo))
    assert TCPerror(bytes(PROBE)[20:]).sport == packet.from_ip(bytes(PROBE)).sport


def test_the_probe_path_does_not_import_scapy():
    """scapy's import (0.15 s: it reads the host's services, interfaces and routes) stays off every probe."""
    code = ("import sys\n"
            "import vpcemu.cli, vpcemu.cli.verify, vpcemu.lab, vpcemu.verify, vpcemu.probe.batch\n"
            "from vpcemu.probe.probe import build_packet\n"
            "build_packet('tcp', '10.0.0.1', '10.0.0.2', 80, b't', 40000)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scapy'))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
