"""rtnetlink by hand: the bytes of every request the build sends, and the socket that sends them in batches.

pyroute2 builds a message object per request, which costs 25-60x what a few struct.pack calls do, and a
build of N ENIs sends ~10 N requests. So the requests are encoded here, byte for byte what pyroute2's
IPRoute sends for the same calls (tests/unit/test_rtnl.py compares every kind); the numbers (message
types, flags, attribute types, route types and scopes) and the C structs' layouts are read from
pyroute2's own definitions, not copied.
"""
from __future__ import annotations

import errno as errno_mod
import os
import socket
import struct
import sys
from collections.abc import Iterator

from pyroute2.netlink import (
    NLA_F_NESTED, NLA_F_NET_BYTEORDER, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST,
    NLMSG_DONE, NLMSG_ERROR, nla, nlmsg,
)
from pyroute2.netlink.rtnl import RTM_GETLINK, RTM_NEWLINK, rt_proto, rt_scope, rt_type
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
IFLA_IFALIAS, IFLA_NET_NS_FD = _IFLA["IFLA_IFALIAS"], _IFLA["IFLA_NET_NS_FD"]
IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER = (_IFLA_INFO["IFLA_INFO_KIND"], _IFLA_INFO["IFLA_INFO_DATA"],
                                                  _VETH_INFO["VETH_INFO_PEER"])
IFA_ADDRESS, IFA_LOCAL = _IFA["IFA_ADDRESS"], _IFA["IFA_LOCAL"]
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_TABLE = _RTA["RTA_DST"], _RTA["RTA_OIF"], _RTA["RTA_GATEWAY"], _RTA["RTA_TABLE"]
FRA_DST, FRA_SRC, FRA_PRIORITY = _FRA["FRA_DST"], _FRA["FRA_SRC"], _FRA["FRA_PRIORITY"]
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
# by name only, with the names interned: pyroute2's keys are built strings, so every lookup of a
# plan's (interned) name would compare characters instead of identities
_ROUTE_TYPES = {sys.intern(name): number for name, number in rt_type.items() if isinstance(name, str)}
_SCOPES = {sys.intern(name): number for name, number in rt_scope.items() if isinstance(name, str)}

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


def link_query(index: int = 0) -> bytes:
    """RTM_GETLINK: of link `index`, or with NLM_F_DUMP of every link."""
    return _IFINFOMSG.pack(0, 0, index, 0, 0)


def veth(v: Veth, peer_fd: int) -> bytes:
    """RTM_NEWLINK with CREATE: pyroute2's link("add", ifname=, kind="veth", address=,
    peer={"ifname":, "net_ns_fd": peer_fd, "address":}), the peer made directly in its namespace."""
    peer = _attr(IFLA_IFNAME, _cstr(v.peer_ifname)) + _attr(IFLA_NET_NS_FD, _U32.pack(peer_fd))
    if v.peer_mac:
        peer += _attr(IFLA_ADDRESS, _mac(v.peer_mac))
    info = _attr(IFLA_INFO_KIND, b"veth\0") + _attr(
        IFLA_INFO_DATA, _attr(VETH_INFO_PEER, _IFINFOMSG.pack(0, 0, 0, 0, 0) + peer))
    body = _IFINFOMSG.pack(0, 0, 0, 0, 0) + _attr(IFLA_IFNAME, _cstr(v.ifname))
    if v.mac:
        body += _attr(IFLA_ADDRESS, _mac(v.mac))
    return body + _attr(IFLA_LINKINFO, info)


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


def message(kind: int, flags: int, seq: int, body: bytes) -> bytes:
    """A whole netlink message: the header, then `body`."""
    return _NLMSGHDR.pack(_HDR + len(body), kind, flags, seq, 0) + body


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
        self.queue: list[tuple[int, int, bytes, str, str]] = []     # (kind, flags, body, operation, object)

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

    def request(self, kind: int, flags: int, body: bytes, operation: str, obj: str) -> None:
        self.queue.append((kind, flags, body, operation, obj))

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
            described: dict[int, tuple[str, str]] = {}
            parts = []
            for i, (kind, flags, body, operation, obj) in enumerate(batch):
                seq, data = self.message(kind, flags if i == len(batch) - 1 else flags & ~NLM_F_ACK, body)
                described[seq] = (operation, obj)
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
                        if code:
                            failed.append((seq, code))
                        done = done or seq == last
                    off += (length + 3) & ~3 or len(data)
            if failed:
                seq, code = min(failed)
                operation, obj = described[seq]
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
        seq, data = self.message(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, link_query())
        self.sock.send(data)
        out: dict[str, int] = {}
        for kind, off, length, data in self._replies(seq, "link dump"):
            if kind == NLMSG_DONE:
                return out
            if kind == RTM_NEWLINK:
                name = _attr_value(data, off + _LINK_ATTRS, off + length, IFLA_IFNAME)
                if name is not None:
                    out[bytes(name).rstrip(b"\0").decode()] = _I32.unpack_from(data, off + _LINK_INDEX)[0]
        return out

    def get_alias(self, index: int) -> str | None:
        """The alias of link `index`; bytes that are not UTF-8 (someone else's) come back replaced."""
        seq, data = self.message(RTM_GETLINK, NLM_F_REQUEST, link_query(index))
        self.sock.send(data)
        for kind, off, length, data in self._replies(seq, "link get"):
            if kind == RTM_NEWLINK:
                alias = _attr_value(data, off + _LINK_ATTRS, off + length, IFLA_IFALIAS)
                return bytes(alias).rstrip(b"\0").decode(errors="replace") or None if alias is not None else None
        return None


def _attr_value(data: memoryview, off: int, end: int, kind: int) -> memoryview | None:
    while off + 4 <= end:
        length, akind = _NLATTR.unpack_from(data, off)
        if length < 4:
            return None
        if akind & ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) == kind:
            return data[off + 4:off + length]
        off += (length + 3) & ~3
    return None
