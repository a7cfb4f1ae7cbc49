"""Applying a Plan to the kernel, all-or-nothing, and tearing a lab down from its journal.

Everything goes through netlink on one socket per namespace; veths are created with the peer
already in its namespace; each nft ruleset is one transaction. A failure part-way rolls back by
deleting the namespaces created so far (their interfaces, routes and rulesets go with them).
"""
from __future__ import annotations

import errno as errno_mod
import os
from collections import defaultdict
from collections.abc import Iterable

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from ..errors import KernelError
from ..plan.names import ownership_mark
from ..plan.state import Plan
from . import netns
from .journal import Journal
from .nft import nft_run

NUD_PERMANENT = 0x80
RTNH_F_ONLINK = 4
SCOPES = {"universe": 0, "link": 253}
FR_ACT_BLACKHOLE = 6


class Namespaces:
    """One open netlink socket per namespace, and a name → ifindex cache, for the whole build."""

    def __init__(self) -> None:
        self.sockets: dict[str, IPRoute] = {}
        self.indexes: dict[str, dict[str, int]] = {}

    def ipr(self, ns: str) -> IPRoute:
        if ns not in self.sockets:
            self.sockets[ns] = netns.open_iproute(ns)
        return self.sockets[ns]

    def index(self, ns: str, ifname: str) -> int:
        cache = self.indexes.get(ns)
        if cache is None or ifname not in cache:
            cache = self.indexes[ns] = {link.get("IFLA_IFNAME"): link["index"] for link in self.ipr(ns).get_links()}
        if ifname not in cache:
            raise KernelError("link lookup", ns, ifname, errno_mod.ENODEV, "no such interface")
        return cache[ifname]

    def forget(self, ns: str) -> None:
        self.indexes.pop(ns, None)

    def close(self) -> None:
        for ipr in self.sockets.values():
            ipr.close()
        self.sockets.clear()


def _netlink(operation: str, ns: str, obj: str, call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except NetlinkError as exc:
        raise KernelError(operation, ns, obj, exc.code, os.strerror(exc.code)) from None


def build(plan: Plan, journal: Journal, lab_uuid: str) -> None:
    """Create everything in `plan`; on any failure remove what was created and re-raise."""
    netns.ensure_netns_dir()
    mark = ownership_mark(plan.lab, lab_uuid)
    nss = Namespaces()
    try:
        for ns in plan.namespaces:
            journal.record("netns", name=ns)
            netns.create_netns(ns)
            netns.set_ownership_mark(ns, mark)
        apply_links(nss, plan)
        apply_config(nss, plan)
        for ns, text in plan.nft.items():
            nft_run(ns, text)
        for path, content in plan.files.items():
            journal.record("file", path=path)
            write_file(path, content)
    except BaseException:
        nss.close()
        teardown(journal, expect_mark=mark)
        raise
    nss.close()


def apply_links(nss: Namespaces, plan: Plan) -> None:
    by_ns: dict[str, list] = defaultdict(list)
    for veth in plan.veths:
        by_ns[veth.namespace].append(veth)
    for ns, veths in by_ns.items():
        ipr = nss.ipr(ns)
        fds: dict[str, int] = {}
        try:
            for v in veths:
                if v.peer_namespace not in fds:
                    fds[v.peer_namespace] = os.open(f"{netns.NETNS_DIR}/{v.peer_namespace}", os.O_RDONLY | os.O_CLOEXEC)
                _netlink("veth add", ns, f"{v.ifname} ⇄ {v.peer_namespace}/{v.peer_ifname}", ipr.link, "add",
                         ifname=v.ifname, kind="veth", address=v.mac,
                         peer={"ifname": v.peer_ifname, "net_ns_fd": fds[v.peer_namespace], "address": v.peer_mac})
        finally:
            for fd in fds.values():
                os.close(fd)
        nss.forget(ns)


def apply_config(nss: Namespaces, plan: Plan) -> None:
    """Addresses, links up, sysctls, routes, rules, neighbours: per namespace, in dependency order."""
    for ns in plan.namespaces:
        ipr = nss.ipr(ns)
        for a in plan.in_namespace(ns, plan.addresses):
            _netlink("address add", ns, f"{a.address}/{a.prefixlen} on {a.ifname}", ipr.addr, "add",
                     index=nss.index(ns, a.ifname), address=a.address, prefixlen=a.prefixlen)
        for link_ns, ifname in plan.links_up:
            if link_ns == ns:
                _netlink("link up", ns, ifname, ipr.link, "set", index=nss.index(ns, ifname), state="up")
        sysctls = plan.sysctls.get(ns)
        if sysctls:
            netns.write_sysctls(ns, sysctls)
        off = [ifname for tx_ns, ifname in plan.tx_checksum_off if tx_ns == ns]
        if off:
            netns.disable_tx_checksum(ns, off)
        for r in plan.in_namespace(ns, plan.routes):
            add_route(nss, r)
        for rule in plan.in_namespace(ns, plan.rules):
            add_rule(ipr, rule)
        for n in plan.in_namespace(ns, plan.neighbours):
            _netlink("neighbour add", ns, f"{n.address} lladdr {n.mac} on {n.ifname}", ipr.neigh, "add",
                     dst=n.address, lladdr=n.mac, ifindex=nss.index(ns, n.ifname), state=NUD_PERMANENT)


def add_route(nss: Namespaces, r) -> None:
    kwargs: dict = {"dst": r.destination, "table": r.table, "type": r.type}
    if r.type == "unicast":
        kwargs["scope"] = SCOPES[r.scope]
        if r.ifname:
            kwargs["oif"] = nss.index(r.namespace, r.ifname)
        if r.gateway:
            kwargs["gateway"] = r.gateway
        if r.onlink:
            kwargs["flags"] = RTNH_F_ONLINK
    _netlink("route add", r.namespace, f"{r.destination} table {r.table}", nss.ipr(r.namespace).route, "add", **kwargs)


def add_rule(ipr: IPRoute, rule) -> None:
    kwargs: dict = {"priority": rule.priority}
    if rule.action == "blackhole":
        kwargs["action"] = "FR_ACT_BLACKHOLE"
    else:
        kwargs["table"] = rule.table
    if rule.fwmark is not None:
        kwargs["fwmark"] = rule.fwmark
        kwargs["fwmask"] = rule.fwmask
    if rule.destination:
        address, length = rule.destination.split("/")
        kwargs.update(dst=address, dst_len=int(length))
    if rule.source:
        address, length = rule.source.split("/")
        kwargs.update(src=address, src_len=int(length))
    _netlink("rule add", rule.namespace, f"pref {rule.priority}", ipr.rule, "add", **kwargs)


def write_file(path: str, content: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(content)


def teardown(journal: Journal, expect_mark: str | None = None) -> list[str]:
    """Remove what the journal lists, newest first; namespaces only if they carry the lab's mark."""
    problems: list[str] = []
    entries = journal.entries()
    for entry in reversed(entries):
        if entry["kind"] == "file":
            remove_file(entry["path"])
    namespaces = [e["name"] for e in entries if e["kind"] == "netns"]
    for ns in reversed(namespaces):
        if netns.netns_inode(ns) is None:
            continue
        if expect_mark is not None and not _owned(ns, expect_mark):
            problems.append(f"namespace {ns} does not carry this lab's ownership mark; left alone")
            continue
        netns.kill_processes_in_netns(ns)
        netns.delete_netns(ns)
    return problems


def _owned(ns: str, mark: str) -> bool:
    try:
        current = netns.get_ownership_mark(ns)
    except KernelError:
        return False
    # a namespace whose build died before the mark was written is still ours by the journal
    return current in (mark, None)


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
