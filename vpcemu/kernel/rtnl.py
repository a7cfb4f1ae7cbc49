"""rtnetlink by hand: the bytes of every request the build sends, the socket that sends them in batches,
and the dumps that read a namespace's links, addresses, routes, rules and neighbours back.

pyroute2 builds a message object per request, which costs 25-60x what a few struct.pack calls do, and a
build of N ENIs sends ~10 N requests. So the requests are encoded here, byte for byte what pyroute2's
IPRoute sends for the same calls (tests/unit/test_rtnl.py compares every kind); the numbers (message
types, flags, attribute types, route types and scopes) and the C structs' layouts are read from
pyroute2's own definitions, not copied. The dumps are decoded here too, for the same reason: the
reconciler (kernel/reconcile.py) reads every namespace of a lab inside each rollback.
"""
from __future__ import annotations

import errno as errno_mod
import os
import socket
import struct
import sys
from collections.abc import Callable, Iterator
from typing import NamedTuple, TypeVar

from pyroute2.netlink import (
    NLA_F_NESTED, NLA_F_NET_BYTEORDER, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST,
    NLMSG_DONE, NLMSG_ERROR, nla, nlmsg,
)
from pyroute2.netlink.rtnl import (
    RTM_GETADDR, RTM_GETLINK, RTM_GETNEIGH, RTM_GETROUTE, RTM_GETRULE, RTM_NEWLINK, rt_proto, rt_scope, rt_type,
)
from pyroute2.netlink.rtnl.fibmsg import FR_ACT_BLACKHOLE, FR_ACT_TO_TBL, fibmsg
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import IFF_UP, ifinfmsg
from pyroute2.netlink.rtnl.ndmsg import NUD_PERMANENT, ndmsg
from pyroute2.netlink.rtnl.rtmsg import RTNH_F_ONLINK, rtmsg

from ..errors import KernelError
from ..plan.state import Address, Neighbour, RouteEntry, RuleEntry, Veth

# what pyroute2 sends for "add"; for link "set" and every "del"; for "replace"
CREATE = NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE
CHANGE = NLM_F_REQUEST | NLM_F_ACK
REPLACE = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE

# linux/rtnetlink.h names for these (pyroute2 has the numbers only inline): the route and rule headers'
# 8-bit table field, when the table is 256 or more (the real one then goes in the TABLE attribute)
RT_TABLE_COMPAT, RT_TABLE_MAIN = 252, 254
RTEXT_FILTER_SKIP_STATS = 1 << 3
RT_TABLE_LOCAL = 255
LOOPBACK_INDEX = 1          # lo's ifindex, in every namespace


def _layout(fields: tuple) -> struct.Struct:
    """A C struct as pyroute2 declares it ((name, format), ...): native byte order, no padding but
    what the fields spell out, as netlink has it."""
    return struct.Struct("=" + "".join(fmt for _, fmt in fields))


def _numbers(cls) -> dict[str, int]:
    """Attribute name → type number in a pyroute2 nla_map: numbered by position, or, where the
    numbers have gaps, by the number each entry carries first."""
    numbers = {}
    for position, entry in enumerate(cls.nla_map):
        if isinstance(entry[0], int):
            numbers[entry[1]] = entry[0]
        else:
            numbers[entry[0]] = position
    return numbers


_IFLA, _IFLA_INFO, _VETH_INFO = _numbers(ifinfmsg), _numbers(ifinfmsg.ifinfo), _numbers(ifinfmsg.ifinfo.veth_data)
_IFA, _RTA, _FRA, _NDA = _numbers(ifaddrmsg), _numbers(rtmsg), _numbers(fibmsg), _numbers(ndmsg)
IFLA_ADDRESS, IFLA_IFNAME, IFLA_LINKINFO = _IFLA["IFLA_ADDRESS"], _IFLA["IFLA_IFNAME"], _IFLA["IFLA_LINKINFO"]
IFLA_MTU = _IFLA["IFLA_MTU"]
IFLA_IFALIAS, IFLA_NET_NS_FD, IFLA_EXT_MASK = _IFLA["IFLA_IFALIAS"], _IFLA["IFLA_NET_NS_FD"], _IFLA["IFLA_EXT_MASK"]
IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER = (_IFLA_INFO["IFLA_INFO_KIND"], _IFLA_INFO["IFLA_INFO_DATA"],
                                                  _VETH_INFO["VETH_INFO_PEER"])
IFA_ADDRESS, IFA_LOCAL = _IFA["IFA_ADDRESS"], _IFA["IFA_LOCAL"]
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_TABLE = _RTA["RTA_DST"], _RTA["RTA_OIF"], _RTA["RTA_GATEWAY"], _RTA["RTA_TABLE"]
RTA_PRIORITY = _RTA["RTA_PRIORITY"]
FRA_DST, FRA_SRC, FRA_PRIORITY = _FRA["FRA_DST"], _FRA["FRA_SRC"], _FRA["FRA_PRIORITY"]
FRA_IIFNAME, FRA_OIFNAME = _FRA["FRA_IIFNAME"], _FRA["FRA_OIFNAME"]
FRA_FWMARK, FRA_FWMASK, FRA_TABLE = _FRA["FRA_FWMARK"], _FRA["FRA_FWMASK"], _FRA["FRA_TABLE"]
NDA_DST, NDA_LLADDR = _NDA["NDA_DST"], _NDA["NDA_LLADDR"]

_NLMSGHDR = _layout(nlmsg.header)
_NLATTR = _layout(nla.header)
_IFINFOMSG, _IFADDRMSG, _RTMSG = _layout(ifinfmsg.fields), _layout(ifaddrmsg.fields), _layout(rtmsg.fields)
_FIBRULEHDR, _NDMSG = _layout(fibmsg.fields), _layout(ndmsg.fields)
_HDR = _NLMSGHDR.size                        # where a message's body starts
_LINK_INDEX = _HDR + 4                      # an ifinfomsg's ifi_index (after family, pad, type)
_LINK_ATTRS = _HDR + _IFINFOMSG.size        # where an ifinfomsg's attributes start
_U32 = struct.Struct("=I")
_I32 = struct.Struct("=i")
_TIMEVAL = struct.Struct("@ll")
_STATIC = rt_proto["static"]
RTPROT_KERNEL = rt_proto["kernel"]
# by name only, with the names interned: pyroute2's keys are built strings, so every lookup of a
# plan's (interned) name would compare characters instead of identities
_ROUTE_TYPES = {sys.intern(name): number for name, number in rt_type.items() if isinstance(name, str)}
_SCOPES = {sys.intern(name): number for name, number in rt_scope.items() if isinstance(name, str)}
_TYPE_NAMES = {number: name for name, number in _ROUTE_TYPES.items()}
_SCOPE_NAMES = {number: name for name, number in _SCOPES.items()}

T = TypeVar("T")

BATCH = 64                  # requests per send (and, for veths, peer namespace fds held open at once)
_TIMEOUT_S = 30.0


# -- attributes ----------------------------------------------------------------------------------
def _attr(kind: int, payload: bytes) -> bytes:
    size = 4 + len(payload)
    return _NLATTR.pack(size, kind) + payload + b"\0" * (-size % 4)


def _cstr(value: str) -> bytes:
    return value.encode() + b"\0"


def _ip4(address: str) -> bytes:
    return socket.inet_pton(socket.AF_INET, address)


def _mac(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def _cidr(value: str) -> tuple[str, int]:
    address, _, length = value.partition("/")
    return address, int(length) if length else 32


# -- requests: the message body after the netlink header ----------------------------------------------
def link_up(index: int, alias: str | None = None) -> bytes:
    """RTM_NEWLINK with CHANGE: pyroute2's link("set", index=index, state="up"[, ifalias=alias])."""
    body = _IFINFOMSG.pack(0, 0, index, IFF_UP, IFF_UP)
    return body + _attr(IFLA_IFALIAS, _cstr(alias)) if alias is not None else body


def link_mtu(index: int, mtu: int) -> bytes:
    """RTM_NEWLINK with CHANGE: pyroute2's link("set", index=index, mtu=mtu)."""
    return _IFINFOMSG.pack(0, 0, index, 0, 0) + _attr(IFLA_MTU, _U32.pack(mtu))


def link_query(index: int = 0) -> bytes:
    """RTM_GETLINK: of link `index`, or with NLM_F_DUMP of every link."""
    return _IFINFOMSG.pack(0, 0, index, 0, 0)


def link_dump_query() -> bytes:
    """RTM_GETLINK with NLM_F_DUMP of every link, without their statistics (a third of each answer)."""
    return link_query() + _attr(IFLA_EXT_MASK, _U32.pack(RTEXT_FILTER_SKIP_STATS))


def veth(v: Veth, peer_fd: int) -> bytes:
    """RTM_NEWLINK with CREATE: pyroute2's link("add", ifname=, kind="veth", address=, mtu=,
    peer={"ifname":, "net_ns_fd": peer_fd, "address":, "mtu":}), the peer made directly in its namespace."""
    mtu = _attr(IFLA_MTU, _U32.pack(v.mtu))
    peer = _attr(IFLA_IFNAME, _cstr(v.peer_ifname)) + _attr(IFLA_NET_NS_FD, _U32.pack(peer_fd))
    if v.peer_mac:
        peer += _attr(IFLA_ADDRESS, _mac(v.peer_mac))
    peer += mtu
    info = _attr(IFLA_INFO_KIND, b"veth\0") + _attr(
        IFLA_INFO_DATA, _attr(VETH_INFO_PEER, _IFINFOMSG.pack(0, 0, 0, 0, 0) + peer))
    body = _IFINFOMSG.pack(0, 0, 0, 0, 0) + _attr(IFLA_IFNAME, _cstr(v.ifname))
    if v.mac:
        body += _attr(IFLA_ADDRESS, _mac(v.mac))
    return body + mtu + _attr(IFLA_LINKINFO, info)


def address(a: Address, index: int) -> bytes:
    """RTM_NEWADDR: pyroute2's addr("add", index=, address=, prefixlen=)."""
    ip = _ip4(a.address)
    return (_IFADDRMSG.pack(socket.AF_INET, a.prefixlen, 0, 0, index)
            + _attr(IFA_ADDRESS, ip) + _attr(IFA_LOCAL, ip))


def route(r: RouteEntry, oif: int | None) -> bytes:
    """RTM_NEWROUTE / RTM_DELROUTE: pyroute2's route(..., dst=, table=, type=[, scope=, oif=, gateway=,
    flags=RTNH_F_ONLINK]); the proto static, as pyroute2 puts it on an added route."""
    address, length = _cidr(r.destination)
    flags = scope = 0
    if r.type == "unicast":
        scope = _SCOPES[r.scope]
        if r.onlink:
            flags = RTNH_F_ONLINK
    body = _RTMSG.pack(socket.AF_INET, length, 0, 0, r.table if r.table < 256 else RT_TABLE_MAIN,
                       _STATIC, scope, _ROUTE_TYPES[r.type], flags)
    if length:
        body += _attr(RTA_DST, _ip4(address))
    body += _attr(RTA_TABLE, _U32.pack(r.table))
    if oif is not None:
        body += _attr(RTA_OIF, _U32.pack(oif))
    if r.type == "unicast" and r.gateway:
        body += _attr(RTA_GATEWAY, _ip4(r.gateway))
    return body


def rule(rule: RuleEntry) -> bytes:
    """RTM_NEWRULE / RTM_DELRULE: pyroute2's rule(..., priority=, table= or action="FR_ACT_BLACKHOLE"
    [, fwmark=, fwmask=][, dst=, dst_len=][, src=, src_len=])."""
    dst, dst_len = _cidr(rule.destination) if rule.destination else ("", 0)
    src, src_len = _cidr(rule.source) if rule.source else ("", 0)
    if rule.action == "blackhole":
        table, action = None, FR_ACT_BLACKHOLE
    else:
        table, action = rule.table, FR_ACT_TO_TBL
    header_table = 0 if table is None else table if table < 256 else RT_TABLE_COMPAT
    body = _FIBRULEHDR.pack(socket.AF_INET, dst_len, src_len, 0, header_table, 0, 0, action, 0)
    body += _attr(FRA_PRIORITY, _U32.pack(rule.priority))
    if table is not None:
        body += _attr(FRA_TABLE, _U32.pack(table))
    if rule.fwmark is not None:
        body += _attr(FRA_FWMARK, _U32.pack(rule.fwmark))
        if rule.fwmask is not None:
            body += _attr(FRA_FWMASK, _U32.pack(rule.fwmask))
    if dst_len:             # a /0 matches everything: no address, as for a route
        body += _attr(FRA_DST, _ip4(dst))
    if src_len:
        body += _attr(FRA_SRC, _ip4(src))
    return body


def neighbour(n: Neighbour, index: int, with_mac: bool = True) -> bytes:
    """RTM_NEWNEIGH / RTM_DELNEIGH: pyroute2's neigh(..., dst=, [lladdr=,] ifindex=, state=NUD_PERMANENT)."""
    body = _NDMSG.pack(socket.AF_INET, index, NUD_PERMANENT, 0, 0) + _attr(NDA_DST, _ip4(n.address))
    return body + _attr(NDA_LLADDR, _mac(n.mac)) if with_mac else body


def address_query() -> bytes:
    """RTM_GETADDR with NLM_F_DUMP: every IPv4 address."""
    return _IFADDRMSG.pack(socket.AF_INET, 0, 0, 0, 0)


def route_query() -> bytes:
    """RTM_GETROUTE with NLM_F_DUMP: every IPv4 route of every table."""
    return _RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)


def rule_query() -> bytes:
    """RTM_GETRULE with NLM_F_DUMP: every IPv4 policy rule."""
    return _FIBRULEHDR.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)


def neighbour_query() -> bytes:
    """RTM_GETNEIGH with NLM_F_DUMP: every IPv4 neighbour entry."""
    return _NDMSG.pack(socket.AF_INET, 0, 0, 0, 0)


def message(kind: int, flags: int, seq: int, body: bytes) -> bytes:
    """A whole netlink message: the header, then `body`."""
    return _NLMSGHDR.pack(_HDR + len(body), kind, flags, seq, 0) + body


# -- what a dump reads back: each object as its planned counterpart spells it, plus the message body
# (`raw`), which deletes exactly that object when sent back with RTM_DEL* ---------------------------------
class LinkState(NamedTuple):
    index: int
    ifname: str
    mac: str | None
    up: bool
    alias: str | None
    mtu: int | None


class AddressState(NamedTuple):
    index: int
    address: str
    prefixlen: int
    raw: bytes


class RouteState(NamedTuple):
    table: int
    destination: str                # CIDR
    type: str
    gateway: str | None
    oif: int | None
    scope: str
    onlink: bool
    priority: int
    tos: int
    protocol: int
    raw: bytes


class RuleState(NamedTuple):
    priority: int
    action: str                     # lookup | blackhole | the kernel's action number
    table: int | None
    fwmark: int | None
    fwmask: int | None
    destination: str | None
    source: str | None
    iifname: str | None
    oifname: str | None
    raw: bytes


class NeighbourState(NamedTuple):
    index: int
    address: str
    mac: str | None
    permanent: bool
    raw: bytes


def _attrs(data: memoryview, off: int, end: int) -> dict[int, memoryview]:
    out = {}
    while off + 4 <= end:
        length, kind = _NLATTR.unpack_from(data, off)
        if length < 4:
            break
        out[kind & ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER)] = data[off + 4:off + length]
        off += (length + 3) & ~3
    return out


def _text(value: memoryview | None) -> str | None:
    return None if value is None else bytes(value).rstrip(b"\0").decode(errors="replace")


def _ip4_text(value: memoryview | None) -> str | None:
    return None if value is None else socket.inet_ntop(socket.AF_INET, bytes(value))


def _mac_text(value: memoryview | None) -> str | None:
    return None if value is None else bytes(value).hex(":")


def _u32(value: memoryview | None) -> int | None:
    return None if value is None else _U32.unpack(value)[0]


def parse_link(data: memoryview, off: int, length: int) -> LinkState:
    _, _, index, flags, _ = _IFINFOMSG.unpack_from(data, off + _HDR)
    name = mac = alias = mtu = None
    at, end = off + _LINK_ATTRS, off + length
    # four attributes of some thirty, the name, MTU and MAC among the first; only lo's alias (the
    # ownership mark) is looked for further
    while at + 4 <= end and (name is None or mac is None or mtu is None or index == LOOPBACK_INDEX):
        size, kind = _NLATTR.unpack_from(data, at)
        if size < 4:
            break
        if kind == IFLA_IFNAME:
            name = data[at + 4:at + size]
        elif kind == IFLA_ADDRESS:
            mac = data[at + 4:at + size]
        elif kind == IFLA_MTU:
            mtu = data[at + 4:at + size]
        elif kind == IFLA_IFALIAS:
            alias = data[at + 4:at + size]
        at += (size + 3) & ~3
    return LinkState(index, _text(name) or "", _mac_text(mac), bool(flags & IFF_UP), _text(alias) or None,
                     _u32(mtu))


def parse_address(data: memoryview, off: int, length: int) -> AddressState | None:
    family, prefixlen, _, _, index = _IFADDRMSG.unpack_from(data, off + _HDR)
    a = _attrs(data, off + _HDR + _IFADDRMSG.size, off + length)
    local = _ip4_text(a.get(IFA_LOCAL) or a.get(IFA_ADDRESS))
    if family != socket.AF_INET or local is None:
        return None
    return AddressState(index, local, prefixlen, bytes(data[off + _HDR:off + length]))


def parse_route(data: memoryview, off: int, length: int) -> RouteState | None:
    """A route, unless the kernel made it itself for an address (the local table, proto kernel)."""
    family, dst_len, _, tos, table, proto, scope, kind, flags = _RTMSG.unpack_from(data, off + _HDR)
    if family != socket.AF_INET or table == RT_TABLE_LOCAL or proto == RTPROT_KERNEL:
        return None
    a = _attrs(data, off + _HDR + _RTMSG.size, off + length)
    table = _u32(a.get(RTA_TABLE)) or table
    dst = _ip4_text(a.get(RTA_DST)) or "0.0.0.0"
    return RouteState(table, f"{dst}/{dst_len}", _TYPE_NAMES.get(kind, str(kind)), _ip4_text(a.get(RTA_GATEWAY)),
                      _u32(a.get(RTA_OIF)), _SCOPE_NAMES.get(scope, str(scope)), bool(flags & RTNH_F_ONLINK),
                      _u32(a.get(RTA_PRIORITY)) or 0, tos, proto, bytes(data[off + _HDR:off + length]))


def parse_rule(data: memoryview, off: int, length: int) -> RuleState | None:
    family, dst_len, src_len, _, table, _, _, action, _ = _FIBRULEHDR.unpack_from(data, off + _HDR)
    if family != socket.AF_INET:
        return None
    a = _attrs(data, off + _HDR + _FIBRULEHDR.size, off + length)
    table = _u32(a.get(FRA_TABLE)) or table or None
    kind = "lookup" if action == FR_ACT_TO_TBL else "blackhole" if action == FR_ACT_BLACKHOLE else str(action)
    fwmark = _u32(a.get(FRA_FWMARK))
    dst, src = _ip4_text(a.get(FRA_DST)), _ip4_text(a.get(FRA_SRC))
    return RuleState(_u32(a.get(FRA_PRIORITY)) or 0, kind, table if kind == "lookup" else None, fwmark,
                     None if fwmark is None else _u32(a.get(FRA_FWMASK)),
                     f"{dst}/{dst_len}" if dst_len else None, f"{src}/{src_len}" if src_len else None,
                     _text(a.get(FRA_IIFNAME)), _text(a.get(FRA_OIFNAME)), bytes(data[off + _HDR:off + length]))


def parse_neighbour(data: memoryview, off: int, length: int) -> NeighbourState | None:
    family, index, state, _, _ = _NDMSG.unpack_from(data, off + _HDR)
    a = _attrs(data, off + _HDR + _NDMSG.size, off + length)
    address = _ip4_text(a.get(NDA_DST))
    if family != socket.AF_INET or address is None:
        return None
    return NeighbourState(index, address, _mac_text(a.get(NDA_LLADDR)), bool(state & NUD_PERMANENT),
                          bytes(data[off + _HDR:off + length]))


# -- the socket ----------------------------------------------------------------------------------
class Rtnl:
    """A NETLINK_ROUTE socket in the calling thread's namespace. `request()` queues; `flush()` sends the
    queue in batches and raises the KernelError of the first request the kernel refused.

    Only the last request of a batch asks for an ack: the kernel handles a batch in order within the
    send, answers a failed request with an error whether asked or not, and so the last ack means
    every error of the batch is already queued. One receive per batch instead of one per request.
    """

    def __init__(self, ns: str) -> None:
        self.ns = ns
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE)
        try:    # a kernel-side receive timeout, against a hang; a Python timeout would poll() before each recv
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _TIMEVAL.pack(int(_TIMEOUT_S), 0))
        except BaseException:
            self.sock.close()
            raise
        self.buf = bytearray(1 << 16)
        self.seq = 0
        # (kind, flags, body, operation, object, errnos that mean the request's end state holds already)
        self.queue: list[tuple[int, int, bytes, str, str, frozenset[int]]] = []

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Rtnl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def message(self, kind: int, flags: int, body: bytes) -> tuple[int, bytes]:
        """The next sequence number and the message that carries it."""
        self.seq += 1
        return self.seq, message(kind, flags, self.seq, body)

    def request(self, kind: int, flags: int, body: bytes, operation: str, obj: str,
                done_if: frozenset[int] = frozenset()) -> None:
        """Queue a request; an answer whose errno is in `done_if` is no failure (e.g. EEXIST for a rule
        add: the kernel finds an identical rule only)."""
        self.queue.append((kind, flags, body, operation, obj, done_if))

    def _recv(self) -> memoryview:
        try:
            n = self.sock.recv_into(self.buf)
        except BlockingIOError:
            raise KernelError("netlink", self.ns, None, errno_mod.ETIMEDOUT, "no answer from the kernel") from None
        except OSError as exc:
            raise KernelError("netlink", self.ns, None, exc.errno, exc.strerror or str(exc)) from None
        return memoryview(self.buf)[:n]

    def flush(self) -> None:
        queue, self.queue = self.queue, []
        for start in range(0, len(queue), BATCH):
            batch = queue[start:start + BATCH]
            described: dict[int, tuple[str, str, frozenset[int]]] = {}
            parts = []
            for i, (kind, flags, body, operation, obj, done_if) in enumerate(batch):
                seq, data = self.message(kind, flags if i == len(batch) - 1 else flags & ~NLM_F_ACK, body)
                described[seq] = (operation, obj, done_if)
                parts.append(data)
            self.sock.send(b"".join(parts))
            last = self.seq
            failed: list[tuple[int, int]] = []
            done = False
            while not done:
                data = self._recv()
                off = 0
                while off + _HDR <= len(data):
                    length, kind, _, seq, _ = _NLMSGHDR.unpack_from(data, off)
                    if kind == NLMSG_ERROR and seq in described:
                        code = -_I32.unpack_from(data, off + _HDR)[0]
                        if code and code not in described[seq][2]:
                            failed.append((seq, code))
                        done = done or seq == last
                    off += (length + 3) & ~3 or len(data)
            if failed:
                seq, code = min(failed)
                operation, obj, _ = described[seq]
                raise KernelError(operation, self.ns, obj, code, os.strerror(code))

    def _replies(self, seq: int, operation: str) -> Iterator[tuple[int, int, int, memoryview]]:
        """(kind, offset, length, data) of each netlink message answering request `seq`."""
        while True:
            data = self._recv()
            off = 0
            while off + _HDR <= len(data):
                length, kind, _, mseq, _ = _NLMSGHDR.unpack_from(data, off)
                if mseq == seq:
                    if kind == NLMSG_ERROR:
                        code = -_I32.unpack_from(data, off + _HDR)[0]
                        raise KernelError(operation, self.ns, None, code, os.strerror(code))
                    yield kind, off, length, data
                off += (length + 3) & ~3 or len(data)

    def dump_links(self) -> dict[str, int]:
        """name → ifindex of every link in the namespace."""
        return dict(self.dump(RTM_GETLINK, link_query(), _link_name, "link dump"))

    def dump(self, kind: int, body: bytes, parse: Callable[[memoryview, int, int], T | None],
             operation: str) -> list[T]:
        """parse(data, offset, length) of each message a dump request answers with; Nones left out."""
        seq, data = self.message(kind, NLM_F_REQUEST | NLM_F_DUMP, body)
        self.sock.send(data)
        out: list[T] = []
        for mkind, off, length, data in self._replies(seq, operation):
            if mkind == NLMSG_DONE:
                return out
            item = parse(data, off, length)
            if item is not None:
                out.append(item)
        return out

    def links(self) -> list[LinkState]:
        return self.dump(RTM_GETLINK, link_dump_query(), parse_link, "link dump")

    def addresses(self) -> list[AddressState]:
        return self.dump(RTM_GETADDR, address_query(), parse_address, "address dump")

    def routes(self) -> list[RouteState]:
        """Every route of every table but the kernel's own (see parse_route)."""
        return self.dump(RTM_GETROUTE, route_query(), parse_route, "route dump")

    def rules(self) -> list[RuleState]:
        return self.dump(RTM_GETRULE, rule_query(), parse_rule, "rule dump")

    def neighbours(self) -> list[NeighbourState]:
        return self.dump(RTM_GETNEIGH, neighbour_query(), parse_neighbour, "neighbour dump")

    def get_alias(self, index: int) -> str | None:
        """The alias of link `index`; bytes that are not UTF-8 (someone else's) come back replaced."""
        seq, data = self.message(RTM_GETLINK, NLM_F_REQUEST, link_query(index))
        self.sock.send(data)
        for kind, off, length, data in self._replies(seq, "link get"):
            if kind == RTM_NEWLINK:
                alias = _attr_value(data, off + _LINK_ATTRS, off + length, IFLA_IFALIAS)
                return bytes(alias).rstrip(b"\0").decode(errors="replace") or None if alias is not None else None
        return None


def _link_name(data: memoryview, off: int, length: int) -> tuple[str, int] | None:
    name = _attr_value(data, off + _LINK_ATTRS, off + length, IFLA_IFNAME)
    if name is None:
        return None
    return bytes(name).rstrip(b"\0").decode(), _I32.unpack_from(data, off + _LINK_INDEX)[0]


def _attr_value(data: memoryview, off: int, end: int, kind: int) -> memoryview | None:
    while off + 4 <= end:
        length, akind = _NLATTR.unpack_from(data, off)
        if length < 4:
            return None
        if akind & ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) == kind:
            return data[off + 4:off + length]
        off += (length + 3) & ~3
    return None
