"""A probe's packets, built and read with struct: IPv4 carrying an ICMP echo, a TCP SYN or a UDP datagram,
byte for byte what scapy builds from the same fields (tests/unit/test_packet.py holds the two side by side),
without scapy's import (0.15 s: it reads the host's services, interfaces and routes as it loads).

Reading takes the Ethernet frames captures give and the IP headers nft traces give: the probe, the matrix and
the tracer read ports, flags and ICMP fields here.
"""
from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, replace

ETHERTYPE_IPV4 = b"\x08\x00"
ETH_HEADER = 14
ICMP, TCP, UDP = 1, 6, 17
NUMBERS = {"icmp": ICMP, "tcp": TCP, "udp": UDP}
ECHO_REPLY, ECHO_REQUEST = 0, 8
ICMP_ERRORS = (3, 11, 12)           # destination unreachable, time exceeded, parameter problem: they quote a packet
TCP_FLAGS = "FSRPAUECN"             # bit 0 first, as scapy prints them ("S", "SA", "RA")
_TCP_WINDOW = 8192                  # scapy's default: the probe's SYN looks as it always has


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def build(protocol: str, src: str, dst: str, port: int | None, payload: bytes, sport: int, ip_id: int,
          seq: int = 0) -> bytes:
    """An IPv4 packet (TTL 64, no options) from src to dst: an ICMP echo request (id `sport`, sequence 1), a TCP
    SYN (from `sport` to `port`, sequence `seq`) or a UDP datagram, carrying `payload`."""
    number = NUMBERS[protocol]
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    if protocol == "icmp":
        head = struct.pack("!BBHHH", ECHO_REQUEST, 0, 0, sport, 1)
        l4 = head + payload
        l4 = l4[:2] + struct.pack("!H", checksum(l4)) + l4[4:]
    else:
        if protocol == "tcp":
            head = struct.pack("!HHIIBBHHH", sport, port, seq, 0, 5 << 4, 0x02, _TCP_WINDOW, 0, 0)
            at = 16
        else:
            head = struct.pack("!HHHH", sport, port, 8 + len(payload), 0)
            at = 6
        l4 = head + payload
        pseudo = s + d + struct.pack("!BBH", 0, number, len(l4))
        value = checksum(pseudo + l4)
        if protocol == "udp" and value == 0:
            value = 0xFFFF          # 0 means "no checksum" in UDP
        l4 = l4[:at] + struct.pack("!H", value) + l4[at + 2:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), ip_id, 0, 64, number, 0, s, d)
    return ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:] + l4


@dataclass(frozen=True)
class Packet:
    """An IPv4 packet's headers: ports (tcp, udp) or type, code and echo id (icmp); an ICMP error's quoted
    packet as `quoted` (as much of it as came)."""
    src: str
    dst: str
    ttl: int
    proto: int
    sport: int | None = None
    dport: int | None = None
    flags: int | None = None              # tcp
    icmp_type: int | None = None
    icmp_code: int | None = None
    icmp_id: int | None = None            # echo request and reply
    payload: bytes = b""                  # what follows the transport header
    quoted: Packet | None = None          # the packet an ICMP error quotes

    @property
    def tcp_flags(self) -> str:
        """As scapy prints them: "S", "SA", "RA"; empty when the header was cut before them."""
        return "".join(c for bit, c in enumerate(TCP_FLAGS) if (self.flags or 0) >> bit & 1)


def from_frame(frame: bytes) -> Packet | None:
    """The IPv4 packet an Ethernet frame carries, or None."""
    if frame[12:14] != ETHERTYPE_IPV4:
        return None
    return from_ip(frame[ETH_HEADER:])


def from_ip(ip: bytes, transport: bytes | None = None, quoted: bool = False) -> Packet | None:
    """An IPv4 packet from its bytes; `transport` when the headers come apart (an nft trace's). A `quoted` packet
    (what an ICMP error carries) is its first bytes only: its length field counts bytes that are not there.
    Layers a packet carries too few bytes of are left out; a fragment after the first has no transport header."""
    if len(ip) < 20 or ip[0] >> 4 != 4:
        return None
    ihl, proto = (ip[0] & 0x0F) * 4, ip[9]
    base = Packet(socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20]), ip[8], proto)
    if struct.unpack_from("!H", ip, 6)[0] & 0x1FFF:
        return base
    if transport is not None:
        l4 = transport
    else:
        l4 = ip[ihl:] if quoted else ip[ihl:struct.unpack_from("!H", ip, 2)[0]]
    if proto in (TCP, UDP) and len(l4) >= 4:
        sport, dport = struct.unpack_from("!HH", l4)
        if proto == UDP:
            return replace(base, sport=sport, dport=dport, payload=l4[8:])
        flags = struct.unpack_from("!H", l4, 12)[0] & 0x1FF if len(l4) >= 14 else None
        return replace(base, sport=sport, dport=dport, flags=flags,
                       payload=l4[(l4[12] >> 4) * 4:] if len(l4) >= 13 else b"")
    if proto == ICMP and len(l4) >= 8:
        kind, code = l4[0], l4[1]
        out = replace(base, icmp_type=kind, icmp_code=code, payload=l4[8:])
        if kind in (ECHO_REPLY, ECHO_REQUEST):
            return replace(out, icmp_id=struct.unpack_from("!H", l4, 4)[0])
        if kind in ICMP_ERRORS and not quoted:
            return replace(out, quoted=from_ip(l4[8:], quoted=True))
        return out
    return base
