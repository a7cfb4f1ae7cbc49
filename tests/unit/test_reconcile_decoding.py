"""The reconciler's pure parts: rtnetlink dump messages decoded (each built by pyroute2's own encoder,
as the kernel would send it), planned rules spelled as a dump reads them back, and nft listings cut
into blocks with the probes' traced addresses set aside."""
from __future__ import annotations

from pyroute2.netlink.rtnl import RTM_NEWADDR, RTM_NEWLINK, RTM_NEWNEIGH, RTM_NEWROUTE, RTM_NEWRULE
from pyroute2.netlink.rtnl.fibmsg import FR_ACT_BLACKHOLE, FR_ACT_TO_TBL, fibmsg
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.ndmsg import NUD_PERMANENT, NUD_REACHABLE, ndmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

from vpcemu.kernel import rtnl
from vpcemu.kernel.reconcile import _blocks, _rule_key, _untraced
from vpcemu.plan.state import RuleEntry


def encoded(cls, kind: int, fields: dict, attrs: list) -> memoryview:
    msg = cls()
    for key, value in fields.items():
        msg[key] = value
    msg["attrs"] = attrs
    msg["header"]["type"] = kind
    msg.encode()
    return memoryview(bytes(msg.data))


def parsed(parse, data: memoryview):
    return parse(data, 0, len(data))


def test_a_link_its_name_mac_state_mtu_and_lo_s_mark():
    lo = encoded(ifinfmsg, RTM_NEWLINK, {"index": 1, "flags": 1},
                 [("IFLA_IFNAME", "lo"), ("IFLA_MTU", 65536), ("IFLA_IFALIAS", "vpcemu:lab:42"),
                  ("IFLA_ADDRESS", "00:00:00:00:00:00")])
    assert parsed(rtnl.parse_link, lo) == rtnl.LinkState(1, "lo", "00:00:00:00:00:00", True, "vpcemu:lab:42",
                                                       65536)
    eth = encoded(ifinfmsg, RTM_NEWLINK, {"index": 7, "flags": 0},
                  [("IFLA_IFNAME", "eth1"), ("IFLA_MTU", 1500), ("IFLA_ADDRESS", "0e:66:3d:0b:a2:14")])
    assert parsed(rtnl.parse_link, eth) == rtnl.LinkState(7, "eth1", "0e:66:3d:0b:a2:14", False, None, 1500)


def test_an_address():
    data = encoded(ifaddrmsg, RTM_NEWADDR, {"family": 2, "prefixlen": 24, "index": 3},
                   [("IFA_ADDRESS", "10.0.2.100"), ("IFA_LOCAL", "10.0.2.100"), ("IFA_LABEL", "eth1")])
    a = parsed(rtnl.parse_address, data)
    assert (a.index, a.address, a.prefixlen) == (3, "10.0.2.100", 24)
    assert a.raw == bytes(data[16:])            # the body, to send back as RTM_DELADDR


def test_routes_of_a_high_table_a_throw_and_the_kernel_s_own():
    onlink = encoded(rtmsg, RTM_NEWROUTE, {"family": 2, "dst_len": 24, "table": 252, "proto": 4, "type": 1,
                                           "flags": 4},
                     [("RTA_TABLE", 1000), ("RTA_DST", "10.0.3.0"), ("RTA_GATEWAY", "169.254.255.2"), ("RTA_OIF", 7)])
    r = parsed(rtnl.parse_route, onlink)
    assert r[:9] == (1000, "10.0.3.0/24", "unicast", "169.254.255.2", 7, "universe", True, 0, 0)
    default = encoded(rtmsg, RTM_NEWROUTE, {"family": 2, "dst_len": 0, "table": 254, "proto": 4, "type": 9},
                      [("RTA_TABLE", 254), ("RTA_PRIORITY", 10)])
    r = parsed(rtnl.parse_route, default)
    assert (r.table, r.destination, r.type, r.gateway, r.oif, r.priority) == (254, "0.0.0.0/0", "throw", None, None, 10)
    local = encoded(rtmsg, RTM_NEWROUTE, {"family": 2, "dst_len": 32, "table": 255, "proto": 2, "type": 2},
                    [("RTA_TABLE", 255), ("RTA_DST", "10.0.2.100")])
    prefix = encoded(rtmsg, RTM_NEWROUTE, {"family": 2, "dst_len": 24, "table": 254, "proto": 2, "scope": 253,
                                           "type": 1}, [("RTA_TABLE", 254), ("RTA_DST", "10.0.2.0"), ("RTA_OIF", 3)])
    assert parsed(rtnl.parse_route, local) is None and parsed(rtnl.parse_route, prefix) is None


def test_rules_as_the_planned_ones_spell_them():
    marked = encoded(fibmsg, RTM_NEWRULE, {"family": 2, "dst_len": 16, "table": 252, "action": FR_ACT_TO_TBL},
                     [("FRA_PRIORITY", 1000), ("FRA_TABLE", 1000), ("FRA_FWMARK", 0x100), ("FRA_FWMASK", 0xFFFF),
                      ("FRA_DST", "10.0.0.0")])
    r = parsed(rtnl.parse_rule, marked)
    planned = RuleEntry("ns", 1000, table=1000, fwmark=0x100, fwmask=0xFFFF, destination="10.0.0.0/16")
    assert r[:9] == _rule_key(planned)
    blackhole = encoded(fibmsg, RTM_NEWRULE, {"family": 2, "action": FR_ACT_BLACKHOLE}, [("FRA_PRIORITY", 4000)])
    assert parsed(rtnl.parse_rule, blackhole)[:9] == _rule_key(RuleEntry("ns", 4000, action="blackhole"))
    source = encoded(fibmsg, RTM_NEWRULE, {"family": 2, "src_len": 32, "table": 252, "action": FR_ACT_TO_TBL},
                     [("FRA_PRIORITY", 10001), ("FRA_TABLE", 10001), ("FRA_SRC", "10.0.2.100")])
    assert parsed(rtnl.parse_rule, source)[:9] == _rule_key(RuleEntry("ns", 10001, table=10001, source="10.0.2.100"))


def test_a_mark_without_a_mask_has_the_kernel_s_full_mask():
    assert _rule_key(RuleEntry("ns", 5, table=5, fwmark=3))[3:5] == (3, 0xFFFFFFFF)
    assert _rule_key(RuleEntry("ns", 5, table=5))[3:5] == (None, None)


def test_neighbours_permanent_or_learned():
    permanent = encoded(ndmsg, RTM_NEWNEIGH, {"family": 2, "ifindex": 4, "state": NUD_PERMANENT},
                        [("NDA_DST", "10.0.2.1"), ("NDA_LLADDR", "0e:83:2f:97:29:88")])
    assert parsed(rtnl.parse_neighbour, permanent)[:4] == (4, "10.0.2.1", "0e:83:2f:97:29:88", True)
    learned = encoded(ndmsg, RTM_NEWNEIGH, {"family": 2, "ifindex": 4, "state": NUD_REACHABLE},
                      [("NDA_DST", "10.0.2.9"), ("NDA_LLADDR", "02:00:00:00:00:09")])
    assert not parsed(rtnl.parse_neighbour, learned).permanent


LISTING = """table ip vpcemu {
\tset trace_src {
\t\ttype ipv4_addr
\t\tflags interval
\t\telements = { 10.0.1.10, 10.0.2.0/24,
\t\t\t     10.0.3.5 }
\t}

\tmap eni_subnet_mark {
\t\ttype ifname : mark
\t\telements = { "e1" : 0x00000100 }
\t}

\tchain prerouting {
\t\ttype filter hook prerouting priority mangle; policy accept;
\t\tmeta mark set iifname map @eni_subnet_mark
\t}
}
"""


def test_the_probes_traced_addresses_are_set_aside():
    untraced, traced = _untraced(LISTING)
    assert traced == "10.0.1.10, 10.0.2.0/24, 10.0.3.5"
    assert "10.0.1.10" not in untraced and "elements = { \"e1\"" in untraced
    assert _untraced(untraced) == (untraced, "")


def test_a_listing_in_blocks_whatever_their_order():
    blocks = _blocks(_untraced(LISTING)[0])
    assert list(blocks) == ["set trace_src", "map eni_subnet_mark", "chain prerouting"]
    assert blocks["chain prerouting"].endswith("meta mark set iifname map @eni_subnet_mark\n\t}")
    lines = LISTING.splitlines()
    reordered = "\n".join([lines[0], *lines[8:12], "", *lines[1:7], "", *lines[13:]]) + "\n"
    assert _blocks(reordered) == _blocks(LISTING)
