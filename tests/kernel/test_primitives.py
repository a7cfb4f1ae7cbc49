"""Kernel primitives against the real kernel: namespaces, sysctls, ethtool, nft, capture, trace.

Every test builds its own `vpkt-*` namespaces and removes them; nothing touches the root namespace.
Namespaces, sysctls, checksum offload and ownership marks go through the build's own steps
(vpcemu.kernel.apply), as a lab's do.
"""
from __future__ import annotations

import errno
import os
import signal
import socket
import struct
import subprocess
from collections.abc import Callable, Iterator

import pytest
from pyroute2 import IPRoute

from kernel_clients import GGRO, GTXCSUM, ethtool
from kernel_namespaces import Namespaces
from vpcemu.errors import KernelError
from vpcemu.kernel import apply
from vpcemu.kernel.capture import Capture, Frame, NftTrace
from vpcemu.kernel.netns import (
    NETNS_DIR,
    delete_netns,
    kill_processes_in_netns,
    netns_inode,
    open_iproute,
    processes_in_netns,
    run_in_netns,
)
from vpcemu.kernel.nft import nft_json, nft_run, nft_run_each
from vpcemu.plan.state import Plan
from vpcemu.probe.packet import checksum

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(os.geteuid() != 0, reason="kernel tests need root"),
]

MakeNs = Callable[[str], str]


@pytest.fixture
def make_ns() -> Iterator[MakeNs]:
    with Namespaces(f"vpkt-{os.getpid()}") as made:

        def make(tag: str) -> str:
            name = f"vpkt-{os.getpid()}-{tag}"
            made.create(name)
            return name

        yield make


def read_proc(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def in_ns_read(ns: str, path: str) -> str:
    return run_in_netns(ns, read_proc, path)


def link_names(ipr: IPRoute) -> set[str]:
    return {link.get("IFLA_IFNAME") for link in ipr.get_links()}


def add_veth(ns: str, ifname: str, peer_ns: str, peer_ifname: str) -> None:
    with open_iproute(ns) as ipr:
        ipr.link("add", ifname=ifname, kind="veth", peer={"ifname": peer_ifname, "net_ns_fd": peer_ns})


def configure(ns: str, ifname: str, address: str) -> None:
    with open_iproute(ns) as ipr:
        index = ipr.link_lookup(ifname=ifname)[0]
        ipr.addr("add", index=index, address=address, prefixlen=30)
        ipr.link("set", index=index, state="up")


@pytest.fixture
def wired(make_ns: MakeNs) -> tuple[str, str]:
    """Two namespaces joined by veth va (10.99.0.1/30) <-> vb (10.99.0.2/30), both up."""
    a, b = make_ns("a"), make_ns("b")
    add_veth(a, "va", b, "vb")
    configure(a, "va", "10.99.0.1")
    configure(b, "vb", "10.99.0.2")
    return a, b


def ping(ns: str, dst: str, ident: int, timeout: float = 2.0) -> bool:
    """One ICMP echo from a raw socket opened in `ns`; True if the matching reply came back."""
    sock = run_in_netns(ns, socket.socket, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    with sock:
        body = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + b"vpcemu-probe"
        sock.sendto(body[:2] + struct.pack("!H", checksum(body)) + body[4:], (dst, 0))
        sock.settimeout(timeout)
        try:
            while True:
                packet = sock.recv(2048)
                icmp = packet[(packet[0] & 0x0F) * 4:]
                if icmp[0] == 0 and struct.unpack("!H", icmp[4:6])[0] == ident:
                    return True
        except TimeoutError:
            return False


def is_icmp(frame: Frame, icmp_type: int, src: str) -> bool:
    data = frame.data
    return (data[12:14] == b"\x08\x00" and data[23] == socket.IPPROTO_ICMP
            and socket.inet_ntoa(data[26:30]) == src and data[14 + (data[14] & 0x0F) * 4] == icmp_type)


def write_sysctls(ns: str, values: dict) -> None:
    apply.apply_config(Plan("vpkt", (ns,), sysctls={ns: values}))


def disable_tx_checksum(ns: str, ifnames: list[str]) -> None:
    apply.apply_config(Plan("vpkt", (ns,), tx_checksum_off=tuple((ns, ifname) for ifname in ifnames)))


def netns_dir_mount() -> str | None:
    for line in read_proc("/proc/self/mountinfo").splitlines():
        if line.split(" ")[4] == NETNS_DIR:
            return line
    return None


# --- namespaces ---------------------------------------------------------------------------------

def test_create_and_delete_netns() -> None:
    name = f"vpkt-{os.getpid()}-life"
    path = f"{NETNS_DIR}/{name}"
    with Namespaces(name) as made:
        try:
            made.create(name)
            inode = netns_inode(name)
            assert inode == os.stat(path).st_ino
            assert inode != os.stat("/proc/self/ns/net").st_ino
            mount = netns_dir_mount()
            assert mount is not None and "shared:" in mount
        finally:
            assert delete_netns(name) is True
    assert not os.path.exists(path)
    assert netns_inode(name) is None
    assert delete_netns(name) is False


def test_create_existing_netns_raises_eexist(make_ns: MakeNs) -> None:
    name = make_ns("dup")
    inode = netns_inode(name)
    other = Namespaces(f"vpkt-{os.getpid()}-other")
    with pytest.raises(KernelError) as info:
        other.create(name)
    assert info.value.errno == errno.EEXIST
    # journalled by the other lab before the attempt, but carrying the first lab's mark: left alone
    assert other.remove() == [f"namespace {name} does not carry this lab's ownership mark; left alone"]
    assert netns_inode(name) == inode
    assert in_ns_read(name, "/proc/sys/net/ipv6/conf/all/disable_ipv6") == "1"


def test_new_netns_has_ipv6_off_and_lo_up(make_ns: MakeNs) -> None:
    host = {k: read_proc(f"/proc/sys/net/ipv6/conf/{k}/disable_ipv6") for k in ("all", "default")}
    name = make_ns("fresh")
    for key in ("all", "default"):
        assert in_ns_read(name, f"/proc/sys/net/ipv6/conf/{key}/disable_ipv6") == "1"
        assert read_proc(f"/proc/sys/net/ipv6/conf/{key}/disable_ipv6") == host[key]
    with open_iproute(name) as ipr:
        (lo,) = ipr.get_links()
    assert lo.get("IFLA_IFNAME") == "lo" and lo["flags"] & 0x1


def test_run_in_netns_enters_only_a_thread(make_ns: MakeNs) -> None:
    main_before = os.stat("/proc/thread-self/ns/net").st_ino
    name = make_ns("run")
    assert run_in_netns(name, lambda: os.stat("/proc/thread-self/ns/net").st_ino) == netns_inode(name)
    assert os.stat("/proc/thread-self/ns/net").st_ino == main_before

    def boom(value: int) -> None:
        raise LookupError(value)

    with pytest.raises(LookupError, match="42"):
        run_in_netns(name, boom, 42)
    with pytest.raises(KernelError) as info:
        run_in_netns(f"vpkt-{os.getpid()}-missing", int)
    assert info.value.errno == errno.ENOENT


def test_open_iproute_lists_the_namespace_links_not_the_hosts(make_ns: MakeNs) -> None:
    name = make_ns("ipr")
    with open_iproute(name) as ipr:
        ipr.link("add", ifname="vpkt0", kind="veth", peer={"ifname": "vpkt1"})
        inside = link_names(ipr)
    with IPRoute() as host_ipr:
        host = link_names(host_ipr)
    assert inside == {"lo", "vpkt0", "vpkt1"}
    assert not {"vpkt0", "vpkt1"} & host
    assert host - {"lo"}, "the host has interfaces of its own that the namespace must not see"


def test_write_sysctls_stays_in_the_namespace(make_ns: MakeNs) -> None:
    host_forward = read_proc("/proc/sys/net/ipv4/ip_forward")
    name = make_ns("sysctl")
    with open_iproute(name) as ipr:
        ipr.link("add", ifname="vpkt0", kind="veth", peer={"ifname": "vpkt1"})
    wanted = "0" if host_forward == "1" else "1"
    write_sysctls(name, {"net/ipv4/ip_forward": wanted, "net/ipv4/conf/vpkt0/proxy_arp": 1})
    assert in_ns_read(name, "/proc/sys/net/ipv4/ip_forward") == wanted
    assert in_ns_read(name, "/proc/sys/net/ipv4/conf/vpkt0/proxy_arp") == "1"
    assert read_proc("/proc/sys/net/ipv4/ip_forward") == host_forward
    with pytest.raises(ValueError):
        write_sysctls(name, {"kernel/hostname": "nope"})
    with pytest.raises(KernelError) as info:
        write_sysctls(name, {"net/ipv4/conf/nosuchdev/proxy_arp": 1})
    assert info.value.errno == errno.ENOENT and info.value.namespace == name


def test_disable_tx_checksum(make_ns: MakeNs) -> None:
    name = make_ns("csum")
    with open_iproute(name) as ipr:
        ipr.link("add", ifname="vpkt0", kind="veth", peer={"ifname": "vpkt1"})
    assert ethtool(name, "vpkt0", GTXCSUM) == 1 and ethtool(name, "vpkt1", GTXCSUM) == 1
    disable_tx_checksum(name, ["vpkt0", "vpkt1"])
    assert ethtool(name, "vpkt0", GTXCSUM) == 0 and ethtool(name, "vpkt1", GTXCSUM) == 0
    with pytest.raises(KernelError) as info:
        disable_tx_checksum(name, ["nosuchdev"])
    assert info.value.errno == errno.ENODEV


def test_gro_on_one_end_only(make_ns: MakeNs) -> None:
    name = make_ns("gro")
    with open_iproute(name) as ipr:
        ipr.link("add", ifname="vpkt0", kind="veth", peer={"ifname": "vpkt1"})
    assert ethtool(name, "vpkt0", GGRO) == 0 and ethtool(name, "vpkt1", GGRO) == 0     # veth's default
    apply.apply_config(Plan("vpkt", (name,), gro_on=((name, "vpkt0"),)))
    assert ethtool(name, "vpkt0", GGRO) == 1 and ethtool(name, "vpkt1", GGRO) == 0
    with pytest.raises(KernelError) as info:
        apply.apply_config(Plan("vpkt", (name,), gro_on=((name, "nosuchdev"),)))
    assert info.value.errno == errno.ENODEV


def test_ownership_mark() -> None:
    host_alias = read_proc("/sys/class/net/lo/ifalias")
    a, b, gone = (f"vpkt-{os.getpid()}-{tag}" for tag in ("marka", "markb", "markgone"))
    with Namespaces(f"vpkt-{os.getpid()}-marks") as made:
        made.create(a)
        subprocess.run(["ip", "netns", "add", b], check=True)      # someone else's: no alias on lo
        try:
            assert apply.read_marks([a, b, gone]) == {a: made.mark, b: None}
        finally:
            delete_netns(b)
    assert read_proc("/sys/class/net/lo/ifalias") == host_alias


def test_processes_in_netns_and_kill(make_ns: MakeNs) -> None:
    name, other = make_ns("proc"), make_ns("quiet")
    proc = subprocess.Popen(["ip", "netns", "exec", name, "cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        # cat echoing a line proves `ip netns exec` has entered the namespace and exec'd.
        proc.stdin.write(b"ready\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == b"ready\n"
        assert processes_in_netns(name) == [proc.pid]
        assert processes_in_netns(other) == []
        assert kill_processes_in_netns(name) == 1
        assert proc.wait(timeout=1) == -signal.SIGKILL
        assert processes_in_netns(name) == []
        assert kill_processes_in_netns(name) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --- nftables -----------------------------------------------------------------------------------

RULESET = """\
table inet vpkt {
    set allowed {
        type ipv4_addr
        elements = { 10.99.0.1, 10.99.0.5 }
    }
    chain inbound {
        type filter hook input priority filter; policy accept;
        ip saddr @allowed counter accept comment "allowed sources"
    }
}
"""


def root_ruleset() -> str:
    return subprocess.run(["nft", "list", "ruleset"], check=True, capture_output=True, text=True).stdout


def test_nft_ruleset_loads_in_the_namespace_only(make_ns: MakeNs) -> None:
    before = root_ruleset()
    name, other = make_ns("nft"), make_ns("nft2")
    nft_run(name, RULESET)
    listing = nft_json(name, "list table inet vpkt")["nftables"]
    by_kind = {next(iter(obj)): obj[next(iter(obj))] for obj in listing}
    assert by_kind["table"]["name"] == "vpkt"
    assert sorted(by_kind["set"]["elem"]) == ["10.99.0.1", "10.99.0.5"]
    assert by_kind["chain"]["name"] == "inbound" and by_kind["chain"]["hook"] == "input"
    assert by_kind["rule"]["comment"] == "allowed sources" and by_kind["rule"]["handle"] > 0
    assert f"# handle {by_kind['rule']['handle']}" in nft_run(name, "list ruleset", handles=True)
    assert nft_run(other, "list ruleset") == ""
    assert root_ruleset() == before


def test_nft_batch_is_atomic_and_errors_are_kernel_errors(make_ns: MakeNs) -> None:
    name = make_ns("nftatomic")
    with pytest.raises(KernelError) as info:
        nft_run(name, "add table inet vpkt_ok\ndelete table inet vpkt_missing\n")
    assert info.value.operation == "nft" and info.value.namespace == name
    assert "No such file or directory" in info.value.detail
    assert nft_run(name, "list tables") == ""
    with pytest.raises(KernelError, match="syntax error"):
        nft_run(name, "add tabel inet vpkt")


def test_nft_run_each_runs_in_every_namespace_and_reports_each_failure(make_ns: MakeNs) -> None:
    with_set, without = make_ns("nfteach"), make_ns("nfteach2")
    nft_run(with_set, RULESET)
    add = "add element inet vpkt allowed { 10.99.0.9 }"
    added = nft_run_each({with_set: add, without: add})
    assert added[with_set] == "" and isinstance(added[without], KernelError)
    assert added[without].namespace == without and "No such file or directory" in added[without].detail
    assert "10.99.0.9" in nft_json(with_set, "list set inet vpkt allowed")["nftables"][1]["set"]["elem"]
    nft_run_each({with_set: "delete element inet vpkt allowed { 10.99.0.9 }"})
    assert "10.99.0.9" not in nft_json(with_set, "list set inet vpkt allowed")["nftables"][1]["set"]["elem"]


# --- capture and trace --------------------------------------------------------------------------

def test_capture_sees_a_ping_on_both_sides(wired: tuple[str, str]) -> None:
    a, b = wired
    with Capture(b, "vb") as on_vb, Capture(a) as all_a:
        assert ping(a, "10.99.0.2", ident=0x7101)
        request = on_vb.wait_for(lambda f: f.direction == "in" and is_icmp(f, 8, "10.99.0.1"), 2)
        reply_out = on_vb.wait_for(lambda f: f.direction == "out" and is_icmp(f, 0, "10.99.0.2"), 2)
        sent = all_a.wait_for(lambda f: f.direction == "out" and is_icmp(f, 8, "10.99.0.1"), 2)
        reply_in = all_a.wait_for(lambda f: f.direction == "in" and is_icmp(f, 0, "10.99.0.2"), 2)
    assert request is not None and reply_out is not None and request.ifname == "vb"
    assert sent is not None and reply_in is not None
    # Names come from the capture's namespace: va does not exist on the host.
    assert sent.ifname == reply_in.ifname == "va"
    assert sent.ts_ns <= reply_in.ts_ns
    assert all(f.ifname == "vb" for f in on_vb.frames())


def test_capture_bound_while_link_down_survives_enetdown(make_ns: MakeNs) -> None:
    a, b = make_ns("down-a"), make_ns("down-b")
    add_veth(a, "va", b, "vb")
    with Capture(b, "vb") as cap:
        configure(a, "va", "10.99.0.1")
        configure(b, "vb", "10.99.0.2")
        assert ping(a, "10.99.0.2", ident=0x7102)
        assert cap.wait_for(lambda f: is_icmp(f, 8, "10.99.0.1"), 2) is not None


def test_capture_on_missing_interface_raises(make_ns: MakeNs) -> None:
    name = make_ns("nodev")
    with pytest.raises(KernelError) as info:
        Capture(name, "nosuchdev")
    assert info.value.errno == errno.ENODEV


TRACE_RULESET = """\
table inet vpkt {
    chain tagger {
        type filter hook prerouting priority raw; policy accept;
        ip saddr 10.99.0.1 meta nftrace set 1
    }
    chain guard {
        type filter hook input priority filter; policy accept;
        icmp type echo-request counter drop comment "drop pings"
    }
}
"""


def test_nft_trace_reports_the_dropping_rule(wired: tuple[str, str]) -> None:
    a, b = wired
    nft_run(b, TRACE_RULESET)
    rules = [o["rule"] for o in nft_json(b, "list table inet vpkt")["nftables"] if "rule" in o]
    drop_handle = next(r["handle"] for r in rules if r.get("comment") == "drop pings")
    with NftTrace(b) as trace:
        assert not ping(a, "10.99.0.2", ident=0x7103, timeout=0.3)
        drop = trace.wait_for(lambda e: e["verdict"] == "drop", 2)
        assert drop is not None
        same_packet = [e for e in trace.events() if e["id"] == drop["id"]]
    assert drop["table"] == "vpkt" and drop["chain"] == "guard" and drop["type"] == "rule"
    assert drop["handle"] == drop_handle
    assert socket.inet_ntoa(drop["network_header"][12:16]) == "10.99.0.1"
    assert drop["transport_header"][0] == 8  # ICMP echo request
    assert any(e["chain"] == "tagger" for e in same_packet)
    counter = next(r for r in nft_json(b, "list table inet vpkt")["nftables"]
                   if "rule" in r and r["rule"]["handle"] == drop_handle)
    assert [x["counter"]["packets"] for x in counter["rule"]["expr"] if "counter" in x] == [1]
