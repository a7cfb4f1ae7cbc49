"""Pure parts of expected-vs-observed: the agreement rule, the batch probe's answer parser, matrix diffs."""
from __future__ import annotations

import socket
import struct

from vpcemu.analyze import analyze_flow
from vpcemu.errors import UsageError
from vpcemu.load import load_topology
from vpcemu.probe.agreement import disagreements
from vpcemu.probe.batch import _key_of
from vpcemu.probe.probe import Hop, ProbeResult
from vpcemu.verify import matrix_diff, parse_port

from pathlib import Path

import pytest

EDGE = load_topology(Path(__file__).resolve().parents[2] / "topologies" / "edge.yaml")


def observed(reachable: bool, components: list[str], codes: list[str] = ()) -> ProbeResult:
    hops = [Hop("ns", "if", c, "out", "forward", "1.1.1.1", "2.2.2.2", 64, 0.1) for c in components]
    return ProbeResult("s", "d", "tcp", 80, "1.1.1.1", "2.2.2.2", reachable, None, None, hops=hops,
                       explanations=[{"code": c} for c in codes])


def test_agreement_compares_reachability_drops_and_edge_components():
    nat = analyze_flow(EDGE, "app-a", "ext", "tcp", 80)
    assert nat.reachable
    good = ["eni app-a.eth0", "eni nat-a.eni", "nat-gateway nat-a", "igw igw", "internet host ext"]
    assert disagreements(nat, observed(True, good)) == []
    assert disagreements(nat, observed(False, good[:2])) == [
        "expected reachable, observed not reachable",
        "expected the packet to cross nat-gateway nat-a, igw igw, internet host ext; it did not"]
    wrong_nat = ["eni app-a.eth0", "nat-gateway nat-b", "igw igw", "internet host ext"]
    assert disagreements(nat, observed(True, wrong_nat)) == [
        "expected the packet to cross nat-gateway nat-a; it did not",
        "the packet crossed nat-gateway nat-b, which the analysis does not expect"]


def test_agreement_on_drops_wants_the_same_rule_or_a_routing_drop():
    blocked = analyze_flow(EDGE, "web", "10.9.9.9", "icmp")      # RFC1918 outbound: the IGW drops it
    assert not blocked.reachable
    assert disagreements(blocked, observed(False, ["eni web.eth0", "igw igw"],
                                           ["IGW_DESTINATION_ADDRESS_NOT_IN_RFC1918_EGRESS"])) == []
    assert disagreements(blocked, observed(False, ["eni web.eth0", "igw igw"], ["ENI_SG_RULES_MISMATCH"])) == [
        "expected drop IGW_DESTINATION_ADDRESS_NOT_IN_RFC1918_EGRESS, the kernel dropped by ENI_SG_RULES_MISMATCH"]
    assert disagreements(blocked, observed(False, ["eni web.eth0"]))[0].endswith("no rule dropped it (a routing drop?)")


def frame(src: str, dst: str, proto: int, l4: bytes) -> bytes:
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0, 64, proto, 0, socket.inet_aton(src),
                     socket.inet_aton(dst))
    return b"\0" * 12 + b"\x08\x00" + ip + l4


def test_batch_answers_are_recognised_by_header():
    us, them = "10.0.0.1", "10.0.0.2"
    syn_ack = struct.pack("!HHIIBBHHH", 443, 33005, 0, 0, 0x50, 0x12, 0, 0, 0)
    assert _key_of(frame("10.0.0.2", "10.0.0.1", 6, syn_ack)) == (("tcp", us, them, 33005), "syn-ack")
    rst = struct.pack("!HHIIBBHHH", 443, 33006, 0, 0, 0x50, 0x14, 0, 0, 0)
    assert _key_of(frame("10.0.0.2", "10.0.0.1", 6, rst)) == (("tcp", us, them, 33006), "rst")
    echo = struct.pack("!BBHHH", 0, 0, 0, 33007, 1)
    assert _key_of(frame("10.0.0.2", "10.0.0.1", 1, echo)) == (("icmp", us, them, 33007), "echo-reply")
    quoted = frame("10.0.0.1", "10.0.0.2", 17, struct.pack("!HHHH", 33008, 53, 8, 0))[14:]
    unreachable = struct.pack("!BBHI", 3, 3, 0, 0) + quoted
    assert _key_of(frame("10.0.0.2", "10.0.0.1", 1, unreachable)) == (("udp", us, them, 33008), "port-unreachable")
    from_router = frame("10.0.0.254", "10.0.0.1", 1, struct.pack("!BBHI", 3, 1, 0, 0) + quoted)
    assert _key_of(from_router) == (("udp", us, them, 33008), "icmp-error:3/1")


def test_matrix_diff_and_ports():
    def cell(d, observed):
        return {"source": "a", "destination": d, "protocol": "tcp", "port": 443, "observed": observed,
                "answer": None, "reason": None}
    before = {"cells": [cell("x", True), cell("y", False), cell("z", True)]}
    after = {"cells": [cell("x", False), cell("y", True), cell("z", True)]}
    d = matrix_diff(before, after)
    assert [c["destination"] for c in d["broke"]] == ["x"]
    assert [c["destination"] for c in d["became_reachable"]] == ["y"]
    assert d["unchanged"] == 1
    assert parse_port("tcp/443") == ("tcp", 443) and parse_port("icmp") == ("icmp", None)
    with pytest.raises(UsageError, match=r"^'tcp/0' is not a port: icmp, tcp/N or udp/N \(hint: ") as caught:
        parse_port("tcp/0")
    assert (caught.value.code, caught.value.hint) == (None, "--port tcp/443 --port icmp")
