"""Network-namespace primitives: create, delete, enter and inspect named namespaces.

This module owns /run/netns/<name> bind mounts and every "do X inside namespace N" idiom the rest
of vpcemu builds on. The calling (main) thread never changes namespace: work that must happen
inside one runs in a short-lived thread that has setns()'d into it, and sockets created there
stay bound to that namespace after the thread ends.
"""
from __future__ import annotations

import ctypes
import errno
import fcntl
import functools
import os
import select
import signal
import socket
import stat
import struct
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from vpcemu.errors import KernelError

if TYPE_CHECKING:
    from pyroute2 import IPRoute

T = TypeVar("T")

NETNS_DIR = "/run/netns"

_CLONE_NEWNET = 0x40000000
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_SHARED = 1 << 20
_MNT_DETACH = 2
_SIOCETHTOOL = 0x8946
_ETHTOOL_GTXCSUM = 0x16
_ETHTOOL_STXCSUM = 0x17
_ETHTOOL_GGRO = 0x2B
_ETHTOOL_SGRO = 0x2C
_IFREQ_SIZE = 40
_KILL_TIMEOUT_S = 5.0

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]


def _check(ret: int, operation: str, namespace: str | None, obj: str | None) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise KernelError(operation, namespace, obj, err, os.strerror(err))


def valid_name(name: object) -> bool:
    """Whether `name` can be a file name under /run/netns: nothing that could escape it."""
    return (isinstance(name, str) and bool(name) and "/" not in name and "\0" not in name
            and name not in (".", "..") and len(name.encode("utf-8", "surrogateescape")) <= 255)


def _path(name: str) -> str:
    if not valid_name(name):
        raise ValueError(f"invalid namespace name {name!r}")
    return f"{NETNS_DIR}/{name}"


@functools.cache
def _nsfs_dev() -> int:
    # Every namespace file lives on the one nsfs device; a /run/netns entry on any other device
    # is a stale placeholder whose mount is gone.
    return os.stat("/proc/self/ns/net").st_dev


def _in_thread(target: Callable[[], T]) -> T:
    return _started(target)()


def _started(target: Callable[[], T]) -> Callable[[], T]:
    """`target` begun in a thread of its own; calling the result waits for it and returns or re-raises."""
    box: list[tuple[bool, Any]] = []

    def body() -> None:
        try:
            box.append((True, target()))
        except BaseException as exc:  # handed to the caller, who re-raises it
            box.append((False, exc))

    thread = threading.Thread(target=body, name="vpcemu-netns", daemon=True)
    thread.start()

    def result() -> T:
        thread.join()
        ok, value = box[0]
        if ok:
            return value
        raise value

    return result


def _is_mount_point(path: str) -> bool:
    # os.path.ismount compares st_dev with the parent, which misses a bind mount of a directory
    # onto itself (same device), so ask the kernel's mount table.
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return any(line.split(" ", 5)[4] == path for line in f)


def ensure_netns_dir() -> None:
    """Create /run/netns as a shared bind mount of itself, as `ip netns add` does."""
    try:
        os.mkdir(NETNS_DIR, 0o755)
    except FileExistsError:
        pass
    if _is_mount_point(NETNS_DIR):
        return
    target = NETNS_DIR.encode()
    # Shared propagation lets an unmount in one mount namespace free the netns everywhere.
    _check(_libc.mount(target, target, b"none", _MS_BIND | _MS_REC, None), "mount", None, NETNS_DIR)
    _check(_libc.mount(b"", target, b"none", _MS_SHARED | _MS_REC, None), "mount", None, NETNS_DIR)


def create_and_enter(name: str) -> None:
    """Create namespace `name` with IPv6 disabled and move the calling thread into it, for a worker
    thread that does the namespace's next steps there (lo is still down)."""
    path = _path(name)
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
        write_sysctls_here(name, _IPV6_OFF)
    except BaseException as exc:
        if mounted:
            _libc.umount2(path.encode(), _MNT_DETACH)
        os.unlink(path)
        if isinstance(exc, OSError):
            raise KernelError("create_netns", name, None, exc.errno, str(exc)) from exc
        raise


def delete_netns(name: str) -> bool:
    """Unmount and remove /run/netns/<name>; False if it did not exist."""
    path = _path(name)
    if _libc.umount2(path.encode(), _MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err == errno.ENOENT:
            return False
        # EINVAL: a placeholder that is not (or no longer) a mount point; still remove it.
        if err != errno.EINVAL:
            raise KernelError("delete_netns", name, path, err, os.strerror(err))
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def entry_exists(name: str) -> bool:
    """Whether /run/netns/<name> exists at all: a namespace, a placeholder or anything else."""
    return os.path.lexists(_path(name))


def is_placeholder(name: str) -> bool:
    """Whether /run/netns/<name> is what a creation that died part-way leaves: the empty file made to
    mount the namespace on, with no mount on it (yet, or any more)."""
    try:
        st = os.lstat(_path(name))
    except FileNotFoundError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size == 0 and st.st_dev != _nsfs_dev() \
        and not _is_mount_point(_path(name))


def remove_placeholder(name: str) -> bool:
    """Remove /run/netns/<name> if it is a placeholder (is_placeholder); False if it is not one."""
    if not is_placeholder(name):
        return False
    try:
        os.unlink(_path(name))
    except FileNotFoundError:
        return False
    return True


def netns_inode(name: str) -> int | None:
    """Inode of namespace `name`, or None if it does not exist."""
    try:
        st = os.stat(_path(name))
    except FileNotFoundError:
        return None
    return st.st_ino if st.st_dev == _nsfs_dev() else None


def enter_netns(name: str) -> None:
    """Move the calling thread into namespace `name` (threads it starts later begin there too).

    Only for a thread that is meant to stay there, such as a lab supervisor's main thread; anything
    else uses run_in_netns."""
    path = _path(name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise KernelError("setns", name, path, exc.errno, exc.strerror or str(exc)) from None
    try:
        _check(_libc.setns(fd, _CLONE_NEWNET), "setns", name, path)
    finally:
        os.close(fd)


def run_in_netns(name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run fn(*args, **kwargs) in a fresh thread inside namespace `name`; return or re-raise."""
    return start_in_netns(name, fn, *args, **kwargs)()


def start_in_netns(name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Callable[[], T]:
    """run_in_netns begun: the caller goes on while fn runs, and calls the result to wait for it (return or
    re-raise)."""

    def body() -> T:
        enter_netns(name)
        return fn(*args, **kwargs)

    return _started(body)


def run_in_private_netns(fn: Callable[[], T]) -> T:
    """fn() in a fresh thread inside a new, unnamed namespace, which vanishes with the thread: a
    scratch space (no /run/netns entry, nothing to clean up, nothing another process can enter)."""

    def body() -> T:
        _check(_libc.unshare(_CLONE_NEWNET), "unshare", None, None)
        return fn()

    return _in_thread(body)


def open_iproute(name: str) -> IPRoute:
    """An IPRoute whose netlink socket lives in namespace `name` (use it from the calling thread)."""
    # IPRoute() built inside a setns thread still opens its socket in the root namespace, so the
    # socket is made here and handed over.
    from pyroute2.iproute import IPRoute     # imported here: most users of this module never need it

    sock = run_in_netns(name, socket.socket, socket.AF_NETLINK, socket.SOCK_DGRAM, socket.NETLINK_ROUTE)
    return IPRoute(use_socket=sock)


_IPV6_OFF = {"net/ipv6/conf/all/disable_ipv6": 1, "net/ipv6/conf/default/disable_ipv6": 1}


def write_sysctls_here(name: str, values: dict[str, str | int]) -> None:
    """Write net sysctls (`net/ipv4/ip_forward`: 1, ...) from a thread inside namespace `name`.

    Each key is opened relative to one /proc/sys/net: the kernel finds that directory of this namespace
    by comparing it with the one of every namespace on the host (proc_sys_compare), a cost that grows with
    them, so it is looked up once per call, not once per key."""
    for key in values:
        # Only net/ sysctls are per namespace; anything else would change the host.
        if not key.startswith("net/") or ".." in key.split("/"):
            raise ValueError(f"not a per-namespace sysctl: {key!r}")
    key = "net"
    try:
        # /proc/sys/net resolves against the namespace of the thread that opens it.
        net = os.open("/proc/sys/net", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for key, value in values.items():
                fd = os.open(key[len("net/"):], os.O_WRONLY | os.O_CLOEXEC, dir_fd=net)
                try:
                    os.write(fd, str(value).encode())
                finally:
                    os.close(fd)
        finally:
            os.close(net)
    except OSError as exc:
        raise KernelError("sysctl", name, key, exc.errno, exc.strerror or str(exc)) from None


def _ethtool(name: str, ifname: str, sock: socket.socket, cmd: int, data: int = 0) -> int:
    """One ethtool_value command on `ifname` (`sock`: any socket made in namespace `name`, through which the
    device ioctls reach that namespace's interfaces); the value the kernel answers."""
    # struct ifreq whose ifr_data points at a struct ethtool_value {cmd, data}.
    value = ctypes.create_string_buffer(struct.pack("II", cmd, data))
    req = struct.pack("16sP", ifname.encode(), ctypes.addressof(value)).ljust(_IFREQ_SIZE, b"\0")
    try:
        fcntl.ioctl(sock, _SIOCETHTOOL, req)
    except OSError as exc:
        raise KernelError("ethtool", name, ifname, exc.errno, exc.strerror or str(exc)) from None
    return struct.unpack("II", value.raw[:8])[1]


def disable_tx_checksum(name: str, ifnames: list[str], sock: socket.socket) -> None:
    """Turn off TX checksum offload so captured frames carry real L4 checksums; `sock` is any socket
    made in namespace `name`."""
    for ifname in ifnames:
        _ethtool(name, ifname, sock, _ETHTOOL_STXCSUM, 0)


def tx_checksum_on(name: str, ifnames: list[str], sock: socket.socket) -> set[str]:
    """Which of `ifnames` have TX checksum offload on (`sock`: any socket made in namespace `name`)."""
    return {ifname for ifname in ifnames if _ethtool(name, ifname, sock, _ETHTOOL_GTXCSUM)}


def enable_gro(name: str, ifnames: list[str], sock: socket.socket) -> None:
    """Turn on generic receive offload: a veth end then merges the packets of one flow it receives into one
    (`sock`: any socket made in namespace `name`)."""
    for ifname in ifnames:
        _ethtool(name, ifname, sock, _ETHTOOL_SGRO, 1)


def gro_off(name: str, ifnames: list[str], sock: socket.socket) -> set[str]:
    """Which of `ifnames` have generic receive offload off (`sock`: any socket made in namespace `name`)."""
    return {ifname for ifname in ifnames if not _ethtool(name, ifname, sock, _ETHTOOL_GGRO)}


def _netns_of(pid: int) -> tuple[int, int] | None:
    try:
        st = os.stat(f"/proc/{pid}/ns/net")
    except OSError:  # exited meanwhile, or not ours to inspect
        return None
    return st.st_ino, st.st_dev


def processes_in_netns(name: str) -> list[int]:
    """Pids whose network namespace is `name` (empty if the namespace does not exist)."""
    inode = netns_inode(name)
    if inode is None:
        return []
    wanted, me = (inode, _nsfs_dev()), os.getpid()
    return [int(e) for e in os.listdir("/proc")
            if e.isdigit() and int(e) != me and _netns_of(int(e)) == wanted]


def kill_processes_in_netns(name: str) -> int:
    """SIGKILL every process in namespace `name`, wait until they are gone, return how many."""
    wanted = (netns_inode(name), _nsfs_dev())
    pidfds: dict[int, int] = {}
    try:
        for pid in processes_in_netns(name):
            try:
                pidfd = os.pidfd_open(pid)
            except ProcessLookupError:
                continue
            pidfds[pidfd] = pid
            # pidfd_open pins the pid, so the re-check and the signal address one process; a pid
            # that died and was reused by an unrelated process since the scan is left alone.
            try:
                if _netns_of(pid) == wanted:
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                    continue
            except ProcessLookupError:
                pass
            del pidfds[pidfd]
            os.close(pidfd)
        # A pidfd turns readable once its process has exited (a zombie child counts as gone),
        # so this waits without sleeping.
        poller = select.poll()
        for pidfd in pidfds:
            poller.register(pidfd, select.POLLIN)
        pending = set(pidfds)
        deadline = time.monotonic() + _KILL_TIMEOUT_S
        while pending:
            left_ms = (deadline - time.monotonic()) * 1000
            if left_ms <= 0:
                pids = ",".join(str(pidfds[fd]) for fd in sorted(pending))
                raise KernelError("kill", name, f"pid {pids}", errno.ETIMEDOUT,
                                  "still alive after SIGKILL")
            for pidfd, _ in poller.poll(left_ms):
                poller.unregister(pidfd)
                pending.discard(pidfd)
        return len(pidfds)
    finally:
        for pidfd in pidfds:
            os.close(pidfd)
