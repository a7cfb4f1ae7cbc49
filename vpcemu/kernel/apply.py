"""Applying a Plan to the kernel, all-or-nothing, and tearing a lab down from its journal.

Everything goes through netlink; veths are created with the peer already in its namespace; each nft
ruleset is one transaction. A failure part-way rolls back by deleting the namespaces created so far
(their interfaces, routes and rulesets go with them).

Speed (kernel-notes §8): a lab of N ENIs is ~N namespaces and ~10 N kernel objects, so the cost per
object decides. Hence:
* no thread per namespace operation (~0.3 ms each): a few worker threads (as many as CPUs, at most 2)
  move between namespaces with setns() and do the namespace-side work themselves (create, sysctls,
  ethtool); the calling thread never changes namespace;
* rtnetlink on a raw socket per namespace, not pyroute2's IPRoute: the requests are the bytes
  pyroute2 sends for the same calls, encoded here with struct, sent up to _BATCH per syscall, with an
  ack asked only for the last of a batch (a failed request is answered anyway), so no asyncio round
  trip per request and one receive per batch;
* interface indexes from one link dump per namespace; all veths of a namespace are made by one
  thread in plan order, so indexes come out as with a sequential build;
* a namespace's socket is closed before the next is opened: a build never holds one fd per
  namespace (libnftables' select() aborts the process on an fd >= 1024);
* teardown reads the ownership marks through the same workers and scans /proc once for processes
  in the lab's namespaces, instead of once per namespace.
Phases are not overlapped: creating namespaces while veths are made into earlier ones measured slower
(rtnl and the /run/netns directory lock are shared).
"""
from __future__ import annotations

import ctypes
import errno as errno_mod
import fcntl
import os
import socket
import struct
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, wait
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from ..errors import KernelError
from ..plan.names import ownership_mark
from ..plan.state import Plan
from . import netns
from .netns import (  # the worker threads use the same bindings as the one-shot primitives
    _CLONE_NEWNET, _ETHTOOL_STXCSUM, _IFREQ_SIZE, _MNT_DETACH, _MS_BIND, _SIOCETHTOOL, _check, _libc,
)
from .netns import _path as _ns_path
from .journal import Journal
from .nft import nft_run
from .process import stop_process

T = TypeVar("T")

NUD_PERMANENT = 0x80
RTNH_F_ONLINK = 4
SCOPES = {"universe": 0, "link": 253}
FR_ACT_BLACKHOLE = 6

# -- netlink constants (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/fib_rules.h) --------
_NLM_F_REQUEST, _NLM_F_ACK, _NLM_F_EXCL, _NLM_F_CREATE, _NLM_F_DUMP = 0x1, 0x4, 0x200, 0x400, 0x300
_NLM_F_REPLACE = 0x100
_F_CREATE = _NLM_F_REQUEST | _NLM_F_ACK | _NLM_F_EXCL | _NLM_F_CREATE     # what pyroute2 sends for "add"
_F_SET = _NLM_F_REQUEST | _NLM_F_ACK                                       # ... and for link "set", "del"
_F_REPLACE = _NLM_F_REQUEST | _NLM_F_ACK | _NLM_F_CREATE | _NLM_F_REPLACE
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_RTM_NEWLINK, _RTM_GETLINK, _RTM_NEWADDR, _RTM_NEWROUTE, _RTM_NEWNEIGH, _RTM_NEWRULE = 16, 18, 20, 24, 28, 32
_RTM_DELROUTE, _RTM_DELNEIGH, _RTM_DELRULE = 25, 29, 33
_IFLA_ADDRESS, _IFLA_IFNAME, _IFLA_LINKINFO, _IFLA_IFALIAS, _IFLA_NET_NS_FD = 1, 3, 18, 20, 28
_IFLA_INFO_KIND, _IFLA_INFO_DATA, _VETH_INFO_PEER = 1, 2, 1
_IFA_ADDRESS, _IFA_LOCAL = 1, 2
_RTA_DST, _RTA_OIF, _RTA_GATEWAY, _RTA_TABLE = 1, 4, 5, 15
_NDA_DST, _NDA_LLADDR = 1, 2
_FRA_DST, _FRA_SRC, _FRA_PRIORITY, _FRA_FWMARK, _FRA_TABLE, _FRA_FWMASK = 1, 2, 6, 10, 15, 16
_FR_ACT_TO_TBL = 1
_RTPROT_STATIC = 4
_RT_TABLE_COMPAT, _RT_TABLE_MAIN = 252, 254
_ROUTE_TYPES = {"unicast": 1, "local": 2, "broadcast": 3, "anycast": 4, "multicast": 5, "blackhole": 6,
                "unreachable": 7, "prohibit": 8, "throw": 9, "nat": 10}
_IFF_UP = 0x1

_NLMSGHDR = struct.Struct("=IHHII")
_IFINFOMSG = struct.Struct("=BxHiII")
_IFADDRMSG = struct.Struct("=BBBBI")
_RTMSG = struct.Struct("=BBBBBBBBI")
_NDMSG = struct.Struct("=BBHiHBB")
_FIBRULEHDR = struct.Struct("=BBBBBBBBI")
_NLATTR = struct.Struct("=HH")
_U32 = struct.Struct("=I")
_TIMEVAL = struct.Struct("@ll")
_I32 = struct.Struct("=i")

_BATCH = 64                 # requests per send (and peer namespace fds held open at once)
_TIMEOUT_S = 30.0

# -- namespace primitives for the worker threads: the steps of netns.create_netns, write_sysctls and
#    disable_tx_checksum, done by the calling (worker) thread instead of a new thread per call --------
_WORKERS = max(1, min(2, os.cpu_count() or 1))   # 2 measured best on 2 CPUs; more contend on rtnl
_END = object()


def _for_each(items: Iterable[T], fn: Callable[[T], Any], workers: int = _WORKERS) -> None:
    """fn(item) for every item, taken in order by up to `workers` threads, which may enter namespaces
    (the calling thread never does). The first failure stops the others before their next item and
    is re-raised. Always waits for every thread, even when interrupted, so a rollback never races
    a worker that is still creating things."""
    items = list(items)
    pending = iter(items)
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def body() -> None:
        while not stop.is_set():
            with lock:
                item = next(pending, _END)
            if item is _END:
                return
            try:
                fn(item)
            except BaseException as exc:  # handed to the caller, who re-raises it
                errors.append(exc)
                stop.set()

    count = max(1, min(workers, len(items)))
    threads = [threading.Thread(target=body, name="vpcemu-apply", daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:
        stop.set()
        for thread in threads:
            while thread.is_alive():
                try:
                    thread.join()
                except BaseException:
                    pass
        raise
    if errors:
        raise errors[0]


_enter = netns.enter_netns           # the worker threads stay in the namespace they enter


def _write_proc_sys(name: str, key: str, value: str) -> None:
    # /proc/sys/net resolves against the namespace of the thread that opens it.
    try:
        fd = os.open(f"/proc/sys/{key}", os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)
    except OSError as exc:
        raise KernelError("sysctl", name, key, exc.errno, exc.strerror or str(exc)) from None


def _create_here(name: str) -> None:
    """netns.create_netns(name) but for bringing lo up, done by the calling worker thread, which is
    left inside the new namespace."""
    path = _ns_path(name)
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0))
    except OSError as exc:
        raise KernelError("create_netns", name, path, exc.errno, exc.strerror or str(exc)) from None
    mounted = False
    try:
        _check(_libc.unshare(_CLONE_NEWNET), "unshare", name, None)
        # /proc/self is the thread-group leader, which is still in the old namespace.
        _check(_libc.mount(b"/proc/thread-self/ns/net", path.encode(), b"none", _MS_BIND, None), "mount", name, path)
        mounted = True
        # Before any interface exists, so none ever emits MLD/DAD/RS noise.
        for key in ("all", "default"):
            fd = os.open(f"/proc/sys/net/ipv6/conf/{key}/disable_ipv6", os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, b"1")
            finally:
                os.close(fd)
    except BaseException as exc:
        if mounted:
            _libc.umount2(path.encode(), _MNT_DETACH)
        os.unlink(path)
        if isinstance(exc, OSError):
            raise KernelError("create_netns", name, None, exc.errno, str(exc)) from exc
        raise


def _disable_tx_checksum(name: str, ifnames: list[str], sock: socket.socket) -> None:
    """netns.disable_tx_checksum, through `sock`, a socket in namespace `name` (any socket family
    reaches the device ioctls)."""
    for ifname in ifnames:
        # struct ifreq whose ifr_data points at a struct ethtool_value {cmd, data}.
        value = ctypes.create_string_buffer(struct.pack("II", _ETHTOOL_STXCSUM, 0))
        req = struct.pack("16sP", ifname.encode(), ctypes.addressof(value)).ljust(_IFREQ_SIZE, b"\0")
        try:
            fcntl.ioctl(sock, _SIOCETHTOOL, req)
        except OSError as exc:
            raise KernelError("ethtool", name, ifname, exc.errno, exc.strerror or str(exc)) from None


# -- rtnetlink ---------------------------------------------------------------------------------------
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


class _Rtnl:
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

    def __enter__(self) -> _Rtnl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _message(self, kind: int, flags: int, body: bytes) -> tuple[int, bytes]:
        self.seq += 1
        return self.seq, _NLMSGHDR.pack(16 + len(body), kind, flags, self.seq, 0) + body

    def request(self, kind: int, flags: int, body: bytes, operation: str, obj: str) -> None:
        self.queue.append((kind, flags, body, operation, obj))

    def _send(self, data: bytes) -> None:
        self.sock.send(data)

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
        for start in range(0, len(queue), _BATCH):
            batch = queue[start:start + _BATCH]
            described: dict[int, tuple[str, str]] = {}
            parts = []
            for i, (kind, flags, body, operation, obj) in enumerate(batch):
                seq, data = self._message(kind, flags if i == len(batch) - 1 else flags & ~_NLM_F_ACK, body)
                described[seq] = (operation, obj)
                parts.append(data)
            self._send(b"".join(parts))
            last = self.seq
            failed: list[tuple[int, int]] = []
            done = False
            while not done:
                data = self._recv()
                off = 0
                while off + 16 <= len(data):
                    length, kind, _, seq, _ = _NLMSGHDR.unpack_from(data, off)
                    if kind == _NLMSG_ERROR and seq in described:
                        code = -_I32.unpack_from(data, off + 16)[0]
                        if code:
                            failed.append((seq, code))
                        done = done or seq == last
                    off += (length + 3) & ~3 or len(data)
            if failed:
                seq, code = min(failed)
                operation, obj = described[seq]
                raise KernelError(operation, self.ns, obj, code, os.strerror(code))

    def _replies(self, seq: int, operation: str):
        """(kind, offset, length, data) of each netlink message answering request `seq`."""
        while True:
            data = self._recv()
            off = 0
            while off + 16 <= len(data):
                length, kind, _, mseq, _ = _NLMSGHDR.unpack_from(data, off)
                if mseq == seq:
                    if kind == _NLMSG_ERROR:
                        code = -_I32.unpack_from(data, off + 16)[0]
                        raise KernelError(operation, self.ns, None, code, os.strerror(code))
                    yield kind, off, length, data
                off += (length + 3) & ~3 or len(data)

    def dump_links(self) -> dict[str, int]:
        """name → ifindex of every link in the namespace."""
        seq, data = self._message(_RTM_GETLINK, _NLM_F_REQUEST | _NLM_F_DUMP, _IFINFOMSG.pack(0, 0, 0, 0, 0))
        self._send(data)
        out: dict[str, int] = {}
        for kind, off, length, data in self._replies(seq, "link dump"):
            if kind == _NLMSG_DONE:
                return out
            if kind == _RTM_NEWLINK:
                name = _attr_value(data, off + 32, off + length, _IFLA_IFNAME)
                if name is not None:
                    out[bytes(name).rstrip(b"\0").decode()] = _I32.unpack_from(data, off + 20)[0]
        return out

    def get_alias(self, index: int) -> str | None:
        seq, data = self._message(_RTM_GETLINK, _NLM_F_REQUEST, _IFINFOMSG.pack(0, 0, index, 0, 0))
        self._send(data)
        for kind, off, length, data in self._replies(seq, "link get"):
            if kind == _RTM_NEWLINK:
                alias = _attr_value(data, off + 32, off + length, _IFLA_IFALIAS)
                return bytes(alias).rstrip(b"\0").decode() or None if alias is not None else None
        return None


def _attr_value(data: memoryview, off: int, end: int, kind: int) -> memoryview | None:
    while off + 4 <= end:
        length, akind = _NLATTR.unpack_from(data, off)
        if length < 4:
            return None
        if akind & 0x3FFF == kind:
            return data[off + 4:off + length]
        off += (length + 3) & ~3
    return None


# -- the requests, byte for byte what pyroute2's IPRoute sends for the same calls --------------------------
def _veth_body(v, peer_fd: int) -> bytes:
    peer = _attr(_IFLA_IFNAME, _cstr(v.peer_ifname)) + _attr(_IFLA_NET_NS_FD, _U32.pack(peer_fd))
    if v.peer_mac:
        peer += _attr(_IFLA_ADDRESS, _mac(v.peer_mac))
    info = _attr(_IFLA_INFO_KIND, b"veth\0") + _attr(
        _IFLA_INFO_DATA, _attr(_VETH_INFO_PEER, _IFINFOMSG.pack(0, 0, 0, 0, 0) + peer))
    body = _IFINFOMSG.pack(0, 0, 0, 0, 0) + _attr(_IFLA_IFNAME, _cstr(v.ifname))
    if v.mac:
        body += _attr(_IFLA_ADDRESS, _mac(v.mac))
    return body + _attr(_IFLA_LINKINFO, info)


def _route_body(r, oif: int | None) -> bytes:
    address, length = _cidr(r.destination)
    flags = scope = 0
    if r.type == "unicast":
        scope = SCOPES[r.scope]
        if r.onlink:
            flags = RTNH_F_ONLINK
    body = _RTMSG.pack(socket.AF_INET, length, 0, 0, r.table if r.table < 256 else _RT_TABLE_MAIN,
                       _RTPROT_STATIC, scope, _ROUTE_TYPES[r.type], flags)
    if length:
        body += _attr(_RTA_DST, _ip4(address))
    body += _attr(_RTA_TABLE, _U32.pack(r.table))
    if oif is not None:
        body += _attr(_RTA_OIF, _U32.pack(oif))
    if r.type == "unicast" and r.gateway:
        body += _attr(_RTA_GATEWAY, _ip4(r.gateway))
    return body


def _rule_body(rule) -> bytes:
    dst, dst_len = _cidr(rule.destination) if rule.destination else (None, 0)
    src, src_len = _cidr(rule.source) if rule.source else (None, 0)
    if rule.action == "blackhole":
        table, action = None, FR_ACT_BLACKHOLE
    else:
        table, action = rule.table, _FR_ACT_TO_TBL
    header_table = 0 if table is None else table if table < 256 else _RT_TABLE_COMPAT
    body = _FIBRULEHDR.pack(socket.AF_INET, dst_len, src_len, 0, header_table, 0, 0, action, 0)
    body += _attr(_FRA_PRIORITY, _U32.pack(rule.priority))
    if table is not None:
        body += _attr(_FRA_TABLE, _U32.pack(table))
    if rule.fwmark is not None:
        body += _attr(_FRA_FWMARK, _U32.pack(rule.fwmark))
        if rule.fwmask is not None:
            body += _attr(_FRA_FWMASK, _U32.pack(rule.fwmask))
    if dst is not None:
        body += _attr(_FRA_DST, _ip4(dst))
    if src is not None:
        body += _attr(_FRA_SRC, _ip4(src))
    return body


# -- build -------------------------------------------------------------------------------------------
def build(plan: Plan, journal: Journal, lab_uuid: str) -> None:
    """Create everything in `plan`; on any failure remove what was created and re-raise."""
    netns.ensure_netns_dir()
    mark = ownership_mark(plan.lab, lab_uuid)
    # the files (resolv.conf per instance) wait on the disk, the rest on rtnl and the CPU: both at once
    journal.record_many("file", [{"path": path} for path in plan.files])
    journal.record_many("symlink", [{"path": path} for path in plan.symlinks])
    with ThreadPoolExecutor(1, thread_name_prefix="files") as pool:
        files = pool.submit(_write_files, plan)
        try:
            create_namespaces(plan, journal, mark)
            apply_links(plan)
            apply_config(plan)
            for ns, text in plan.nft.items():
                nft_run(ns, text)
            files.result()
        except BaseException:
            wait([files])
            teardown(journal, expect_mark=mark)
            raise


def create_namespaces(plan: Plan, journal: Journal, mark: str) -> None:
    """Each namespace, journalled first, IPv6 off, lo up, and marked as this lab's (the alias of lo)."""
    # lo up, and the lab's ownership mark as its alias, in one request
    lo_body = _IFINFOMSG.pack(0, 0, 1, _IFF_UP, _IFF_UP) + _attr(_IFLA_IFALIAS, _cstr(mark))
    journal_lock = threading.Lock()

    def create(ns: str) -> None:
        with journal_lock:
            journal.record("netns", name=ns)
        _create_here(ns)
        with _Rtnl(ns) as rtnl:
            rtnl.request(_RTM_NEWLINK, _F_SET, lo_body, "lo up + ownership mark", "lo")
            rtnl.flush()

    _for_each(plan.namespaces, create)


def apply_links(plan: Plan) -> None:
    """Every veth, from the namespace of its first end, with the peer made directly in its namespace.
    One thread per namespace, so interfaces get their indexes in plan order."""
    by_ns: dict[str, list] = defaultdict(list)
    for veth in plan.veths:
        by_ns[veth.namespace].append(veth)
    _for_each(by_ns.items(), _create_veths)


def _create_veths(item: tuple[str, list]) -> None:
    ns, veths = item
    _enter(ns)
    with _Rtnl(ns) as rtnl:
        # The peer namespaces' fd numbers go into the requests; only one batch's are open at a time.
        for start in range(0, len(veths), _BATCH):
            fds: dict[str, int] = {}
            try:
                for v in veths[start:start + _BATCH]:
                    if v.peer_namespace not in fds:
                        fds[v.peer_namespace] = os.open(f"{netns.NETNS_DIR}/{v.peer_namespace}",
                                                        os.O_RDONLY | os.O_CLOEXEC)
                    rtnl.request(_RTM_NEWLINK, _F_CREATE, _veth_body(v, fds[v.peer_namespace]), "veth add",
                                 f"{v.ifname} ⇄ {v.peer_namespace}/{v.peer_ifname}")
                rtnl.flush()
            finally:
                for fd in fds.values():
                    os.close(fd)


def apply_config(plan: Plan) -> None:
    """Addresses, links up, sysctls, routes, rules, neighbours: per namespace, in dependency order."""
    addresses, links_up, routes, rules, neighbours, tx_off = (defaultdict(list) for _ in range(6))
    for a in plan.addresses:
        addresses[a.namespace].append(a)
    for ns, ifname in plan.links_up:
        links_up[ns].append(ifname)
    for r in plan.routes:
        routes[r.namespace].append(r)
    for rule in plan.rules:
        rules[rule.namespace].append(rule)
    for n in plan.neighbours:
        neighbours[n.namespace].append(n)
    for ns, ifname in plan.tx_checksum_off:
        tx_off[ns].append(ifname)

    def configure(ns: str) -> None:
        sysctls = plan.sysctls.get(ns)
        if not (addresses[ns] or links_up[ns] or routes[ns] or rules[ns] or neighbours[ns] or tx_off[ns] or sysctls):
            return
        _enter(ns)
        with _Rtnl(ns) as rtnl:
            cache: dict[str, int] | None = None

            def index(ifname: str) -> int:
                nonlocal cache
                if cache is None:
                    cache = rtnl.dump_links()
                if ifname not in cache:
                    raise KernelError("link lookup", ns, ifname, errno_mod.ENODEV, "no such interface")
                return cache[ifname]

            for a in addresses[ns]:
                rtnl.request(_RTM_NEWADDR, _F_CREATE,
                             _IFADDRMSG.pack(socket.AF_INET, a.prefixlen, 0, 0, index(a.ifname))
                             + _attr(_IFA_ADDRESS, _ip4(a.address)) + _attr(_IFA_LOCAL, _ip4(a.address)),
                             "address add", f"{a.address}/{a.prefixlen} on {a.ifname}")
            for ifname in links_up[ns]:
                rtnl.request(_RTM_NEWLINK, _F_SET, _IFINFOMSG.pack(0, 0, index(ifname), _IFF_UP, _IFF_UP),
                             "link up", ifname)
            rtnl.flush()
            if sysctls:
                for key in sysctls:
                    # Only net/ sysctls are per namespace; anything else would change the host.
                    if not key.startswith("net/") or ".." in key.split("/"):
                        raise ValueError(f"not a per-namespace sysctl: {key!r}")
                for key, value in sysctls.items():
                    _write_proc_sys(ns, key, str(value))
            if tx_off[ns]:
                _disable_tx_checksum(ns, tx_off[ns], rtnl.sock)
            for r in routes[ns]:
                oif = index(r.ifname) if r.type == "unicast" and r.ifname else None
                rtnl.request(_RTM_NEWROUTE, _F_CREATE, _route_body(r, oif), "route add",
                             f"{r.destination} table {r.table}")
            for rule in rules[ns]:
                rtnl.request(_RTM_NEWRULE, _F_CREATE, _rule_body(rule), "rule add", f"pref {rule.priority}")
            for n in neighbours[ns]:
                rtnl.request(_RTM_NEWNEIGH, _F_CREATE, _neighbour_body(n, index(n.ifname)),
                             "neighbour add", f"{n.address} lladdr {n.mac} on {n.ifname}")
            rtnl.flush()

    _for_each(plan.namespaces, configure)


def _neighbour_body(n, index: int, with_mac: bool = True) -> bytes:
    body = _NDMSG.pack(socket.AF_INET, 0, 0, index, NUD_PERMANENT, 0, 0) + _attr(_NDA_DST, _ip4(n.address))
    return body + _attr(_NDA_LLADDR, _mac(n.mac)) if with_mac else body


def change_routes(ns: str, replace: Iterable = (), delete: Iterable = (), neighbours: Iterable = (),
                  forget: Iterable = (), drop_rules: Iterable = ()) -> None:
    """A live change in one namespace: routes and permanent neighbours replaced (added or changed in
    place, never a gap) or deleted, and policy rules deleted. Deleting what is already gone is no error."""
    replace, delete, neighbours, forget, drop_rules = map(list, (replace, delete, neighbours, forget, drop_rules))
    if not (replace or delete or neighbours or forget or drop_rules):
        return

    def body() -> None:
        with _Rtnl(ns) as rtnl:
            links = rtnl.dump_links()

            def index(ifname: str) -> int:
                if ifname not in links:
                    raise KernelError("link lookup", ns, ifname, errno_mod.ENODEV, "no such interface")
                return links[ifname]

            for n in neighbours:
                rtnl.request(_RTM_NEWNEIGH, _F_REPLACE, _neighbour_body(n, index(n.ifname)), "neighbour replace",
                             f"{n.address} on {n.ifname}")
            for r in replace:
                oif = index(r.ifname) if r.type == "unicast" and r.ifname else None
                rtnl.request(_RTM_NEWROUTE, _F_REPLACE, _route_body(r, oif), "route replace",
                             f"{r.destination} table {r.table}")
            rtnl.flush()
            gone = [(_RTM_DELROUTE, _route_body(r, None), "route delete", f"{r.destination} table {r.table}")
                    for r in delete]
            gone += [(_RTM_DELRULE, _rule_body(r), "rule delete", f"pref {r.priority}") for r in drop_rules]
            for kind, msg, operation, obj in gone:
                try:
                    rtnl.request(kind, _F_SET, msg, operation, obj)
                    rtnl.flush()
                except KernelError as exc:
                    if exc.errno not in (errno_mod.ESRCH, errno_mod.ENOENT):
                        raise
            for n in forget:
                if n.ifname in links:
                    try:
                        rtnl.request(_RTM_DELNEIGH, _F_SET, _neighbour_body(n, links[n.ifname], False),
                                     "neighbour delete", f"{n.address} on {n.ifname}")
                        rtnl.flush()
                    except KernelError as exc:
                        if exc.errno != errno_mod.ENOENT:
                            raise

    netns.run_in_netns(ns, body)


def _write_files(plan: Plan) -> None:
    for path, content in plan.files.items():
        write_file(path, content)
    for path, target in plan.symlinks.items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink(target, path)


def write_file(path: str, content: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(content)


# -- teardown ----------------------------------------------------------------------------------------
_NO_MARK = object()     # the namespace could not be entered or asked: not ours to judge


def teardown(journal: Journal, expect_mark: str | None = None) -> list[str]:
    """Remove what the journal lists, newest first; namespaces only if they carry the lab's mark."""
    problems: list[str] = []
    entries = journal.entries()
    for entry in reversed(entries):
        if entry["kind"] == "process":  # the supervisor: SIGTERM, so it stops its services cleanly
            try:
                stop_process(entry)
            except KernelError as exc:  # still alive after SIGKILL; killed with its namespace below
                problems.append(str(exc))
    for entry in reversed(entries):
        if entry["kind"] == "file":
            remove_file(entry["path"])
        elif entry["kind"] == "symlink" and os.path.islink(entry["path"]):
            os.unlink(entry["path"])         # only the link we made: never what it points to
    namespaces = list(dict.fromkeys(e["name"] for e in reversed(entries) if e["kind"] == "netns"))
    existing = [ns for ns in namespaces if netns.netns_inode(ns) is not None]
    if expect_mark is not None and existing:
        marks = _read_marks(existing)
    doomed = []
    for ns in existing:
        # a namespace whose build died before the mark was written is still ours by the journal
        if expect_mark is not None and marks[ns] not in (expect_mark, None):
            problems.append(f"namespace {ns} does not carry this lab's ownership mark; left alone")
            continue
        doomed.append(ns)
    inhabited = _inhabited_netns() if doomed else set()
    for ns in doomed:
        if netns.netns_inode(ns) in inhabited:
            netns.kill_processes_in_netns(ns)
        netns.delete_netns(ns)
    return problems


def _read_marks(names: list[str]) -> dict[str, object]:
    """The ownership mark (alias of lo) of each namespace; _NO_MARK where it cannot be read."""
    marks: dict[str, object] = {}

    def read(ns: str) -> None:
        try:
            _enter(ns)
            with _Rtnl(ns) as rtnl:
                marks[ns] = rtnl.get_alias(1)
        except (KernelError, OSError):
            marks[ns] = _NO_MARK

    _for_each(names, read)
    return marks


def _inhabited_netns() -> set[int]:
    """Inodes of the network namespaces some process (other than this one) is in: one /proc scan."""
    dev, me = os.stat("/proc/self/ns/net").st_dev, os.getpid()
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != me:
            try:
                st = os.stat(f"/proc/{entry}/ns/net")
            except OSError:  # exited meanwhile, or not ours to inspect
                continue
            if st.st_dev == dev:
                found.add(st.st_ino)
    return found


def remove_file(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return
    parent = os.path.dirname(path)
    try:
        os.rmdir(parent)        # /etc/netns/<ns>/ once empty
    except OSError:
        pass


def namespaces_present(names: Iterable[str]) -> list[str]:
    return [n for n in names if netns.netns_inode(n) is not None]
