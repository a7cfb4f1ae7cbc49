"""The hand-encoded rtnetlink requests (vpcemu.kernel.rtnl) against pyroute2's own encoding of the same
calls: every kind the build and the live changes send, header and attributes, byte for byte.

pyroute2's IPBatch compiles requests without sending them (no root needed); sequence numbers and the
port id are the only bytes that may differ, and are zeroed on both sides.
"""
from __future__ import annotations

import pytest
from pyroute2 import IPBatch
from pyroute2.netlink import NLM_F_DUMP, NLM_F_REQUEST
from pyroute2.netlink.rtnl import (
    RTM_DELNEIGH, RTM_DELROUTE, RTM_DELRULE, RTM_GETLINK, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWNEIGH, RTM_NEWROUTE,
    RTM_NEWRULE,
)
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.ndmsg import NUD_PERMANENT
from pyroute2.netlink.rtnl.rtmsg import RTNH_F_ONLINK

from vpcemu.kernel import rtnl
from vpcemu.kernel.rtnl import CHANGE, CREATE, REPLACE
from vpcemu.plan.state import Address, Neighbour, RouteEntry, RuleEntry, Veth

MARK = "vpcemu:lab:0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def ipb():
    batch = IPBatch()
    yield batch
    batch.close()


def normalised(data: bytes) -> str:
    """The message with its sequence number and port id zeroed, as hex (a failure shows both)."""
    assert len(data) >= 16
    return (data[:8] + bytes(8) + data[16:]).hex()


def pyroute2s(ipb: IPBatch, method: str, *args, **kwargs) -> str:
    ipb.reset()
    getattr(ipb, method)(*args, **kwargs)
    data = bytes(ipb.batch)
    assert int.from_bytes(data[:4], "little") == len(data), "one message"
    return normalised(data)


def ours(kind: int, flags: int, body: bytes) -> str:
    return normalised(rtnl.message(kind, flags, 1, body))


# -- links ---------------------------------------------------------------------------------------
def test_lo_up_with_the_ownership_mark(ipb):
    assert ours(RTM_NEWLINK, CHANGE, rtnl.link_up(1, alias=MARK)) == \
        pyroute2s(ipb, "link", "set", index=1, state="up", ifalias=MARK)


@pytest.mark.parametrize("index", [1, 7, 4096, 2**31 - 1])
def test_link_up(ipb, index):
    assert ours(RTM_NEWLINK, CHANGE, rtnl.link_up(index)) == pyroute2s(ipb, "link", "set", index=index, state="up")


VETH = Veth("r", "e1234567", "02:00:0a:00:00:05", "i", "eth0", "02:00:0a:00:00:06", "eni-1234567", 9001)


@pytest.mark.parametrize("veth", [VETH, Veth("r", "tgw-a-long-name", "", "peer", "x", "", "transit", 1500)],
                         ids=["with MACs", "without MACs"])
def test_veth_with_its_peer_made_in_another_namespace(ipb, veth):
    peer = {"ifname": veth.peer_ifname, "net_ns_fd": 9}
    if veth.peer_mac:
        peer["address"] = veth.peer_mac
    peer["mtu"] = veth.mtu
    kwargs = {"address": veth.mac} if veth.mac else {}
    assert ours(RTM_NEWLINK, CREATE, rtnl.veth(veth, 9)) == \
        pyroute2s(ipb, "link", "add", ifname=veth.ifname, kind="veth", **kwargs, mtu=veth.mtu, peer=peer)


@pytest.mark.parametrize("mtu", [1500, 8500, 9001])
def test_link_mtu(ipb, mtu):
    assert ours(RTM_NEWLINK, CHANGE, rtnl.link_mtu(7, mtu)) == pyroute2s(ipb, "link", "set", index=7, mtu=mtu)


def test_link_dump_request(ipb):
    assert ours(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, rtnl.link_query()) == pyroute2s(ipb, "link", "dump")


def test_link_get_request():
    # IPBatch asks an ack for a get as well; the alias reader asks none (it reads one answer), so the
    # message is compared with pyroute2's ifinfmsg encoded with the same header
    msg = ifinfmsg()
    msg["index"] = 1
    msg["header"]["type"] = RTM_GETLINK
    msg["header"]["flags"] = NLM_F_REQUEST
    msg.encode()
    assert ours(RTM_GETLINK, NLM_F_REQUEST, rtnl.link_query(1)) == normalised(bytes(msg.data))


# -- addresses -----------------------------------------------------------------------------------
@pytest.mark.parametrize("address", [Address("n", "eth0", "10.0.1.10", 24), Address("n", "lo", "169.254.169.253", 32),
                                     Address("n", "x", "100.64.0.1", 10)])
def test_address_add(ipb, address):
    assert ours(RTM_NEWADDR, CREATE, rtnl.address(address, 3)) == \
        pyroute2s(ipb, "addr", "add", index=3, address=address.address, prefixlen=address.prefixlen)


# -- routes: (the entry, its oif, the same route in pyroute2's words) --------------------------------
ROUTES = {
    "via a gateway": (RouteEntry("n", 254, "0.0.0.0/0", gateway="10.0.1.1", ifname="eth0"), 2,
                      {"dst": "0.0.0.0/0", "table": 254, "type": "unicast", "scope": 0, "oif": 2,
                       "gateway": "10.0.1.1"}),
    "on link": (RouteEntry("n", 100, "10.0.1.0/24", ifname="s1", scope="link"), 5,
                {"dst": "10.0.1.0/24", "table": 100, "type": "unicast", "scope": 253, "oif": 5}),
    "host route, onlink gateway": (RouteEntry("n", 1000, "10.0.1.10/32", gateway="169.254.0.1", ifname="e1",
                                              onlink=True), 4096,
                                   {"dst": "10.0.1.10/32", "table": 1000, "type": "unicast", "scope": 0,
                                    "oif": 4096, "gateway": "169.254.0.1", "flags": RTNH_F_ONLINK}),
    "no prefix length": (RouteEntry("n", 300, "192.0.2.7", ifname="e2", scope="link"), 3,
                         {"dst": "192.0.2.7/32", "table": 300, "type": "unicast", "scope": 253, "oif": 3}),
    "blackhole": (RouteEntry("n", 254, "10.99.0.0/16", type="blackhole"), None,
                  {"dst": "10.99.0.0/16", "table": 254, "type": "blackhole"}),
    "blackhole, table > 255": (RouteEntry("n", 70000, "0.0.0.0/0", type="blackhole"), None,
                               {"dst": "0.0.0.0/0", "table": 70000, "type": "blackhole"}),
    "unreachable": (RouteEntry("n", 200, "203.0.113.0/24", type="unreachable"), None,
                    {"dst": "203.0.113.0/24", "table": 200, "type": "unreachable"}),
    "throw, table > 255": (RouteEntry("n", 1024, "10.0.0.0/8", type="throw"), None,
                           {"dst": "10.0.0.0/8", "table": 1024, "type": "throw"}),
}


@pytest.mark.parametrize("entry, oif, theirs", ROUTES.values(), ids=ROUTES.keys())
def test_route_add(ipb, entry, oif, theirs):
    assert ours(RTM_NEWROUTE, CREATE, rtnl.route(entry, oif)) == pyroute2s(ipb, "route", "add", **theirs)


@pytest.mark.parametrize("entry, oif, theirs", ROUTES.values(), ids=ROUTES.keys())
def test_route_replace(ipb, entry, oif, theirs):
    assert ours(RTM_NEWROUTE, REPLACE, rtnl.route(entry, oif)) == pyroute2s(ipb, "route", "replace", **theirs)


@pytest.mark.parametrize("entry, oif, theirs", ROUTES.values(), ids=ROUTES.keys())
def test_route_delete(ipb, entry, oif, theirs):
    # a delete names no interface; pyroute2 leaves the proto out of a delete unless told
    theirs = {k: v for k, v in theirs.items() if k != "oif"} | {"proto": "static"}
    assert ours(RTM_DELROUTE, CHANGE, rtnl.route(entry, None)) == pyroute2s(ipb, "route", "del", **theirs)


# -- rules -----------------------------------------------------------------------------------------
RULES = {
    "lookup": (RuleEntry("n", 100, table=100), {"priority": 100, "table": 100}),
    "lookup, table > 255": (RuleEntry("n", 32000, table=70000), {"priority": 32000, "table": 70000}),
    "table 255": (RuleEntry("n", 5, table=255), {"priority": 5, "table": 255}),
    "blackhole": (RuleEntry("n", 10, action="blackhole"), {"priority": 10, "action": "FR_ACT_BLACKHOLE"}),
    "fwmark and mask": (RuleEntry("n", 200, table=1000, fwmark=0x10, fwmask=0xF0),
                        {"priority": 200, "table": 1000, "fwmark": 0x10, "fwmask": 0xF0}),
    "fwmark alone": (RuleEntry("n", 201, table=3, fwmark=7), {"priority": 201, "table": 3, "fwmark": 7}),
    "from": (RuleEntry("n", 300, table=300, source="10.0.1.10/32"),
             {"priority": 300, "table": 300, "src": "10.0.1.10", "src_len": 32}),
    "to": (RuleEntry("n", 301, table=301, destination="10.1.0.0/16"),
           {"priority": 301, "table": 301, "dst": "10.1.0.0", "dst_len": 16}),
    "to and from, blackhole": (RuleEntry("n", 302, action="blackhole", destination="10.1.0.0/16",
                                         source="10.0.0.0/8"),
                               {"priority": 302, "action": "FR_ACT_BLACKHOLE", "dst": "10.1.0.0", "dst_len": 16,
                                "src": "10.0.0.0", "src_len": 8}),
    "everything": (RuleEntry("n", 400, table=5000, fwmark=1, fwmask=0xFF, destination="0.0.0.0/0",
                             source="192.0.2.0/24"),
                   {"priority": 400, "table": 5000, "fwmark": 1, "fwmask": 0xFF, "dst": "0.0.0.0", "dst_len": 0,
                    "src": "192.0.2.0", "src_len": 24}),
}


@pytest.mark.parametrize("entry, theirs", RULES.values(), ids=RULES.keys())
def test_rule_add(ipb, entry, theirs):
    assert ours(RTM_NEWRULE, CREATE, rtnl.rule(entry)) == pyroute2s(ipb, "rule", "add", **theirs)


@pytest.mark.parametrize("entry, theirs", RULES.values(), ids=RULES.keys())
def test_rule_delete(ipb, entry, theirs):
    assert ours(RTM_DELRULE, CHANGE, rtnl.rule(entry)) == pyroute2s(ipb, "rule", "del", **theirs)


# -- neighbours ------------------------------------------------------------------------------------
NEIGHBOUR = Neighbour("n", "e1", "10.0.1.10", "02:00:0a:00:01:0a")


def test_neighbour_add(ipb):
    assert ours(RTM_NEWNEIGH, CREATE, rtnl.neighbour(NEIGHBOUR, 6)) == \
        pyroute2s(ipb, "neigh", "add", dst=NEIGHBOUR.address, lladdr=NEIGHBOUR.mac, ifindex=6, state=NUD_PERMANENT)


def test_neighbour_replace(ipb):
    assert ours(RTM_NEWNEIGH, REPLACE, rtnl.neighbour(NEIGHBOUR, 6)) == \
        pyroute2s(ipb, "neigh", "replace", dst=NEIGHBOUR.address, lladdr=NEIGHBOUR.mac, ifindex=6,
                  state=NUD_PERMANENT)


def test_neighbour_delete(ipb):
    assert ours(RTM_DELNEIGH, CHANGE, rtnl.neighbour(NEIGHBOUR, 6, with_mac=False)) == \
        pyroute2s(ipb, "neigh", "del", dst=NEIGHBOUR.address, ifindex=6, state=NUD_PERMANENT)
