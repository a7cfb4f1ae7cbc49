"""Packet capture and nftables trace inside a namespace, without scapy's root-namespace caches.

This module owns the two passive observers: `Capture` (an AF_PACKET socket) and `NftTrace` (a
NETLINK_NETFILTER socket in the nftrace multicast group). Each has a background thread that enters the
namespace, creates the socket there (so it stays bound there), reads it and wakes waiters through a
Condition.
"""
from __future__ import annotations

import ctypes
import errno
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, NamedTuple, Self, TypeVar

from vpcemu.errors import KernelError
from vpcemu.kernel.netns import enter_netns

Item = TypeVar("Item")

_ETH_P_ALL = 0x0003
_SO_TIMESTAMPNS = 35
_SO_RCVBUFFORCE = 33
_RCVBUF = 4 << 20
_TRACE_RCVBUF = 64 << 20        # bytes the kernel may queue for a trace reader (skb overhead included)
_SO_ATTACH_FILTER = 26
_BPF_RET_K = 0x06
_SOL_PACKET = 263
_PACKET_AUXDATA = 8
_PACKET_STATISTICS = 6
_PACKET_VNET_HDR = 15
# struct virtio_net_hdr {u8 flags; u8 gso_type; u16 hdr_len; u16 gso_size; u16 csum_start; u16 csum_offset}
_VNET_HDR = struct.Struct("=BBHHHH")
_GSO_TCPV4, _GSO_TCPV6, _GSO_UDP_L4, _GSO_ECN = 1, 4, 5, 0x80
_AUXDATA_LEN = struct.Struct("=II")          # struct tpacket_auxdata's first fields: tp_status, tp_len
_ANCILLARY = socket.CMSG_SPACE(16) + socket.CMSG_SPACE(20)      # timestamp, auxdata
_NETLINK_NETFILTER = 12
_NFNLGRP_NFTRACE = 9
_NFT_MSG_TRACE = (10 << 8) | 17  # NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_TRACE
_NLA_TYPE_MASK = 0x3FFF  # strips NLA_F_NESTED / NLA_F_NET_BYTEORDER

# enum nft_trace_attributes / nft_verdict_attributes (linux/netfilter/nf_tables.h)
_TRACE_TABLE, _TRACE_CHAIN, _TRACE_RULE_HANDLE, _TRACE_TYPE, _TRACE_VERDICT, _TRACE_ID = 1, 2, 3, 4, 5, 6
_TRACE_NETWORK_HEADER, _TRACE_TRANSPORT_HEADER, _TRACE_POLICY = 8, 9, 16
_VERDICT_CODE, _VERDICT_CHAIN = 1, 2
_TRACE_TYPES = {1: "policy", 2: "return", 3: "rule"}
_VERDICTS = {0: "drop", 1: "accept", 2: "stolen", 3: "queue", 4: "repeat", 5: "stop",
             -1: "continue", -2: "break", -3: "jump", -4: "goto", -5: "return"}


class _NsReader(Generic[Item]):
    """A socket made inside a namespace plus a thread that parses what it receives into items."""

    def __init__(self, ns: str, make_socket: Callable[[], socket.socket]) -> None:
        self.ns = ns
        self._items: list[Item] = []
        self._error: Exception | None = None
        self._cond = threading.Condition()
        self._wake = os.eventfd(0, os.EFD_CLOEXEC)
        self._stopped = threading.Event()
        self._closed = False
        made: list[socket.socket | BaseException] = []
        ready = threading.Event()
        threading.Thread(target=self._loop, args=(make_socket, made, ready), name=f"vpcemu-{type(self).__name__}",
                         daemon=True).start()
        ready.wait()
        if isinstance(made[0], BaseException):
            os.close(self._wake)
            raise made[0]
        self._sock = made[0]

    def _read(self) -> list[Item]:
        raise NotImplementedError

    def _loop(self, make_socket: Callable[[], socket.socket], made: list, ready: threading.Event) -> None:
        # the reader makes its socket inside the namespace, then stays there reading it: one thread, not two
        try:
            enter_netns(self.ns)
            self._sock = make_socket()
            self._sock.setblocking(False)
        except BaseException as exc:  # handed to the constructor, which raises it
            made.append(exc)
            ready.set()
            return
        made.append(self._sock)
        ready.set()
        poller = select.poll()
        poller.register(self._sock, select.POLLIN)
        poller.register(self._wake, select.POLLIN)
        try:
            while True:
                # woken by close(): read once more, so what was queued before close() is kept
                closing = any(fd == self._wake for fd, _ in poller.poll())
                try:
                    items = self._read()
                except Exception as exc:  # a dead reader must not look like silence to waiters
                    items, self._error = [], exc
                with self._cond:
                    self._items.extend(items)
                    self._cond.notify_all()
                if self._error or closing:
                    return
        finally:
            self._finish()
            self._stopped.set()
            # Closing an AF_PACKET socket waits for an RCU grace period (synchronize_net, 8-30 ms
            # here); doing it on this thread after close() has been released keeps close() fast.
            self._sock.close()

    def _finish(self) -> None:
        """Last look at the socket, on the reader thread, before it is closed."""

    def _raise_if_failed(self) -> None:
        if self._error:
            err = getattr(self._error, "errno", None)
            raise KernelError(type(self).__name__, self.ns, None, err, str(self._error))

    def _all(self) -> list[Item]:
        with self._cond:
            self._raise_if_failed()
            return list(self._items)

    def since(self, count: int) -> list[Item]:
        """Items received after the first `count`."""
        with self._cond:
            self._raise_if_failed()
            return self._items[count:]

    def wait_beyond(self, count: int, timeout: float) -> bool:
        """Whether more than `count` items have been received, waiting up to `timeout` s for one."""
        with self._cond:
            arrived = self._cond.wait_for(lambda: len(self._items) > count or self._error is not None, timeout)
            self._raise_if_failed()
            return arrived

    def wait_for(self, predicate: Callable[[Item], bool], timeout: float) -> Item | None:
        """First item (already received or arriving within `timeout` s) matching predicate, else None."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for item in self._items[seen:]:
                    if predicate(item):
                        return item
                seen = len(self._items)
                self._raise_if_failed()
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def close(self) -> None:
        """Stop reading; what was received, and queued before this call, stays available."""
        if self._closed:
            return
        self._closed = True
        os.eventfd_write(self._wake, 1)
        self._stopped.wait()
        os.close(self._wake)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Frame(NamedTuple):
    ts_ns: int  # kernel receive time, CLOCK_REALTIME
    ifname: str
    direction: str  # "out" for frames the namespace sent, "in" otherwise
    data: bytes     # the frame's first bytes (all of them up to the capture's snaplen)
    segments: int   # packets on the wire: more than 1 for a frame GRO merged (or GSO not yet split)
    wire_bytes: int     # the bytes of those packets' frames, each with its own headers


def wire_packets(data: bytes, length: int, vnet_header: bytes) -> tuple[int, int]:
    """(packets, bytes) on the wire of a frame of `length` bytes that starts with `data`, as the packets
    were before GRO merged them (or will be once GSO splits them): `vnet_header` (struct virtio_net_hdr, as
    PACKET_VNET_HDR gives it) says the frame's segment size. Every segment carries the frame's headers
    (Ethernet, IP, TCP or UDP), counted here from the frame itself: the kernel's hdr_len is only a hint
    (the frame's linear part) and is used only for a kind of segment not parsed here."""
    _, gso_type, hint, gso_size, _, _ = _VNET_HDR.unpack(vnet_header)
    if gso_type == 0 or gso_size == 0:
        return 1, length
    headers = _headers(data, gso_type & ~_GSO_ECN) or hint
    segments = -(-(length - headers) // gso_size)
    return segments, length + (segments - 1) * headers


def _headers(data: bytes, gso_type: int) -> int | None:
    """Bytes of Ethernet, IP and transport header at the start of `data`; None if not TCP/UDP over IP."""
    ethertype = data[12:14]
    if ethertype == b"\x08\x00" and len(data) > 14:
        l4 = 14 + (data[14] & 0x0F) * 4
    elif ethertype == b"\x86\xdd":
        l4 = 14 + 40
    else:
        return None
    if gso_type in (_GSO_TCPV4, _GSO_TCPV6) and len(data) > l4 + 12:
        return l4 + (data[l4 + 12] >> 4) * 4
    if gso_type == _GSO_UDP_L4:
        return l4 + 8
    return None


class Capture(_NsReader[Frame]):
    """Every frame seen on `ifname` (or on all interfaces if None) in namespace `ns`, from now on.

    A link with GRO on (the VPC routers' ENI links) hands the capture the packets of one flow merged into
    one frame: each frame says how many packets, and how many bytes, it stands for on the wire.

    `snaplen` keeps only each frame's first bytes (headers), trimmed by the kernel before queueing, so
    the receive buffer holds many more frames. Frames the kernel dropped because the buffer was full
    are counted in `losses`: (from ns, to ns, count), each span ending when the drops were noticed.
    """

    def __init__(self, ns: str, ifname: str | None = None, snaplen: int = 65536) -> None:
        self.snaplen = snaplen
        self.losses: list[tuple[int, int, int]] = []
        self._counted_ns = time.time_ns()

        def make_socket() -> socket.socket:
            # Protocol 0 receives nothing until bind() sets interface and protocol together, so
            # no frame from another interface slips in before the bind.
            proto = 0 if ifname else socket.htons(_ETH_P_ALL)
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, proto)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)  # full buffer = silent drops
                sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
                sock.setsockopt(_SOL_PACKET, _PACKET_VNET_HDR, 1)     # each frame's segment size, first
                sock.setsockopt(_SOL_PACKET, _PACKET_AUXDATA, 1)      # each frame's length before snaplen
                if snaplen < 65536:
                    # a one-instruction classic BPF program `ret #snaplen`: the kernel queues only that much
                    insn = struct.pack("HBBI", _BPF_RET_K, 0, 0, snaplen)
                    prog = ctypes.create_string_buffer(insn)
                    fprog = struct.pack("HP", 1, ctypes.addressof(prog))
                    sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)
                if ifname:
                    # The name is resolved in the socket's namespace, not the caller's.
                    sock.bind((ifname, _ETH_P_ALL))
            except OSError as exc:
                sock.close()
                raise KernelError("capture", ns, ifname, exc.errno, exc.strerror or str(exc)) from None
            return sock

        super().__init__(ns, make_socket)

    def _read(self) -> list[Frame]:
        frames = []
        while True:
            try:
                data, anc, _, addr = self._sock.recvmsg(_VNET_HDR.size + self.snaplen, _ANCILLARY)
            except BlockingIOError:
                self._count_losses()
                return frames
            except OSError as exc:
                # Bound while the link was down: the socket reports ENETDOWN once, then works.
                if exc.errno == errno.ENETDOWN:
                    continue
                raise
            ts = time.time_ns()
            vnet, data = data[:_VNET_HDR.size], data[_VNET_HDR.size:]
            length = len(data)
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", value[:16])
                    ts = sec * 1_000_000_000 + nsec
                elif level == _SOL_PACKET and kind == _PACKET_AUXDATA:
                    length = _AUXDATA_LEN.unpack_from(value)[1]
            # CPython names addr[0] by SIOCGIFNAME on this socket, i.e. in the capture's namespace.
            direction = "out" if addr[2] == socket.PACKET_OUTGOING else "in"
            frames.append(Frame(ts, addr[0], direction, data, *wire_packets(data, length, vnet)))

    def _count_losses(self) -> None:
        now = time.time_ns()
        # struct tpacket_stats {packets, drops}, counted since the last read: reading resets it
        dropped = struct.unpack("II", self._sock.getsockopt(_SOL_PACKET, _PACKET_STATISTICS, 8))[1]
        if dropped:
            self.losses.append((self._counted_ns, now, dropped))
        self._counted_ns = now

    def _finish(self) -> None:
        try:
            self._count_losses()
        except OSError:
            pass

    @property
    def lost(self) -> int:
        """Frames dropped so far (all of them once the capture is closed)."""
        return sum(n for _, _, n in self.losses)

    def frames(self) -> list[Frame]:
        """Frames captured so far, oldest first."""
        return self._all()


def _attrs(buf: bytes, off: int, end: int) -> dict[int, bytes]:
    attrs = {}
    while off + 4 <= end:
        length, kind = struct.unpack_from("HH", buf, off)
        if length < 4:
            break
        attrs[kind & _NLA_TYPE_MASK] = buf[off + 4:off + length]
        off += (length + 3) & ~3
    return attrs


def _cstr(value: bytes | None) -> str | None:
    return value.rstrip(b"\0").decode() if value is not None else None


def _parse_trace(buf: bytes, off: int, end: int) -> dict[str, Any]:
    a = _attrs(buf, off + 20, end)  # nlmsghdr (16) + nfgenmsg (4)
    verdict = None
    if _TRACE_VERDICT in a:
        v = _attrs(a[_TRACE_VERDICT], 0, len(a[_TRACE_VERDICT]))
        code = struct.unpack(">i", v[_VERDICT_CODE])[0]
        verdict = _VERDICTS.get(code if code < 0 else code & 0xFF, str(code))
        if _VERDICT_CHAIN in v:
            verdict += f" {_cstr(v[_VERDICT_CHAIN])}"
    elif _TRACE_POLICY in a:
        verdict = _VERDICTS.get(struct.unpack(">I", a[_TRACE_POLICY])[0] & 0xFF)
    return {
        "id": struct.unpack(">I", a[_TRACE_ID])[0] if _TRACE_ID in a else None,
        "table": _cstr(a.get(_TRACE_TABLE)),
        "chain": _cstr(a.get(_TRACE_CHAIN)),
        "handle": struct.unpack(">Q", a[_TRACE_RULE_HANDLE])[0] if _TRACE_RULE_HANDLE in a else None,
        "type": _TRACE_TYPES.get(struct.unpack(">I", a[_TRACE_TYPE])[0]) if _TRACE_TYPE in a else None,
        "verdict": verdict,
        "network_header": a.get(_TRACE_NETWORK_HEADER, b""),
        "transport_header": a.get(_TRACE_TRANSPORT_HEADER, b""),
    }


class NftTrace(_NsReader[dict[str, Any]]):
    """nftrace events of namespace `ns` (packets marked with `meta nftrace set 1`), from now on.

    `overruns` counts receive-buffer overflows; events were lost each time.
    """

    def __init__(self, ns: str) -> None:
        self.overruns = 0

        def make_socket() -> socket.socket:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_NETFILTER)
            try:
                # a matrix traces a burst of some 30,000 events through one VPC router, faster than the reader
                # parses them: beyond net.core.rmem_max (root may), so they wait rather than overrun
                sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, _TRACE_RCVBUF)
                # bind() both joins the group (synchronously: every later trace reaches the
                # socket) and gives it a port id; an unbound socket keeps port 0, the kernel's
                # own, and netlink_broadcast skips it as the sender.
                sock.bind((0, 1 << (_NFNLGRP_NFTRACE - 1)))
            except OSError as exc:
                sock.close()
                raise KernelError("nft trace", ns, None, exc.errno, exc.strerror or str(exc)) from None
            return sock

        super().__init__(ns, make_socket)

    def _read(self) -> list[dict[str, Any]]:
        events = []
        while True:
            try:
                buf = self._sock.recv(65536)
            except BlockingIOError:
                return events
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    self.overruns += 1
                    continue
                raise
            off = 0
            while off + 16 <= len(buf):
                length, kind = struct.unpack_from("IH", buf, off)
                if length < 16:
                    break
                if kind == _NFT_MSG_TRACE:
                    events.append(_parse_trace(buf, off, off + length))
                off += (length + 3) & ~3

    def events(self) -> list[dict[str, Any]]:
        """Trace events received so far, oldest first."""
        return self._all()
