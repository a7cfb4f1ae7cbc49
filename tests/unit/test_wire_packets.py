"""What a frame a GRO link merged stands for on the wire (capture.wire_packets), from its virtio_net_hdr and its
own headers: no root, no kernel. The segment sizes are what an ENI at AWS's 9001 MTU sends."""
from __future__ import annotations

import struct

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from vpcemu.kernel.capture import wire_packets

MSS = 8949                                                          # 9001 - 20 (IP) - 32 (TCP with timestamps)
TCP_HEADERS = Ether() / IP(src="10.0.1.10", dst="10.0.2.20") / TCP(options=[("Timestamp", (1, 2))])
HEADERS = len(TCP_HEADERS)                                          # 14 + 20 + 32


def vnet(gso_type: int, gso_size: int, hdr_len: int = 0) -> bytes:
    return struct.pack("=BBHHHH", 0, gso_type, hdr_len, gso_size, 0, 0)


def test_the_headers_are_what_the_frame_says():
    assert HEADERS == 66


def test_a_frame_not_merged_is_one_packet_of_its_length():
    assert wire_packets(bytes(TCP_HEADERS), 1500, vnet(0, 0)) == (1, 1500)


def test_full_segments_each_carry_the_headers():
    assert wire_packets(bytes(TCP_HEADERS), HEADERS + 3 * MSS, vnet(1, MSS)) == (3, 3 * (HEADERS + MSS))


def test_the_last_segment_may_be_short():
    assert wire_packets(bytes(TCP_HEADERS), HEADERS + 2 * MSS + 100, vnet(1, MSS)) == \
        (3, 3 * HEADERS + 2 * MSS + 100)


def test_the_ecn_flag_and_the_kernels_hint_change_nothing():
    """hdr_len is the frame's linear part, a hint: the headers are counted from the frame itself."""
    assert wire_packets(bytes(TCP_HEADERS), HEADERS + 2 * MSS, vnet(0x81, MSS, hdr_len=200)) == \
        (2, 2 * (HEADERS + MSS))


def test_udp_segments_carry_an_8_byte_header():
    udp = bytes(Ether() / IP() / UDP())
    assert wire_packets(udp, 42 + 4 * 1000, vnet(5, 1000)) == (4, 4 * (42 + 1000))


def test_a_kind_not_parsed_falls_back_to_the_kernels_hdr_len():
    assert wire_packets(bytes(TCP_HEADERS), 100 + 2 * 1000, vnet(3, 1000, hdr_len=100)) == (2, 2 * (100 + 1000))
