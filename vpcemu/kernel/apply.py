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
  pyroute2 sends for the same calls, encoded by `rtnl` with struct, sent up to rtnl.BATCH per syscall,
  with an ack asked only for the last of a batch (a failed request is answered anyway), so no asyncio
  round trip per request and one receive per batch;
* interface indexes from one link dump per namespace; all veths of a namespace are made by one
  thread in plan order, so indexes come out as with a sequential build;
* a namespace's socket is closed before the next is opened: a build never holds one fd per
  namespace (libnftables' select() aborts the process on an fd >= 1024);
* teardown reads the ownership marks (read_marks, the one reader) through the same workers and scans /proc once for processes
  in the lab's namespaces, instead of once per namespace.
Phases are not overlapped: creating namespaces while veths are made into earlier ones measured slower
(rtnl and the /run/netns directory lock are shared).
"""
from __future__ import annotations

import errno as errno_mod
import os
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, wait
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pyroute2.netlink.rtnl import (
    RTM_DELADDR, RTM_DELNEIGH, RTM_DELROUTE, RTM_DELRULE, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWNEIGH, RTM_NEWROUTE,
    RTM_NEWRULE,
)

from ..errors import KernelError
from ..plan.diff import PlanDiff
from ..plan.names import OWNERSHIP_PREFIX, ownership_mark
from ..plan.state import Plan
from . import netns, rtnl
from .interface import delete_link, move_links
from .journal import NETNS_NOT_OURS, Journal
from .nft import nft_run
from .pids import stop_process
from .rtnl import CHANGE, CREATE, REPLACE, Rtnl

T = TypeVar("T")

_LO = 1     # lo's ifindex, in every namespace (LOOPBACK_IFINDEX)
# what entering a /run/netns entry that is no namespace of ours to judge fails with: it vanished
# (ENOENT); it is a plain file, a directory or another kind of namespace (EINVAL); this process may
# not enter it, as with a namespace of another user namespace (EPERM, EACCES)
_NOT_ENTERABLE = frozenset({errno_mod.ENOENT, errno_mod.EINVAL, errno_mod.EPERM, errno_mod.EACCES})
_EXISTS = frozenset({errno_mod.EEXIST})
# what deleting an entry that is gone already answers (or its link: moved away, or deleted)
GONE = frozenset({errno_mod.ENOENT, errno_mod.ESRCH, errno_mod.EADDRNOTAVAIL, errno_mod.ENODEV})

# -- the worker threads: they enter namespaces and stay there, so no thread per namespace step ---------
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


# -- build -------------------------------------------------------------------------------------------
def build(plan: Plan, journal: Journal, lab_uuid: str) -> None:
    """Create everything in `plan`; on any failure remove what was created and re-raise."""
    mark = ownership_mark(plan.lab, lab_uuid)
    # the files (resolv.conf per instance) wait on the disk, the rest on rtnl and the CPU: both at once
    journal.record_many("file", [{"path": path} for path in plan.files])
    journal.record_many("symlink", [{"path": path} for path in plan.symlinks])
    with ThreadPoolExecutor(1, thread_name_prefix="files") as pool:
        files = pool.submit(write_files, plan.files, plan.symlinks)
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
    """Each namespace, journalled first, IPv6 off, lo up, and marked as this lab's (the alias of lo).
    One this lab journalled before and that exists already (a change killed after making it) is taken
    as made if it carries this mark or none yet; a placeholder file left without its mount is replaced."""
    netns.ensure_netns_dir()
    # lo up, and the lab's ownership mark as its alias, in one request
    lo_body = rtnl.link_up(_LO, alias=mark)
    journal_lock = threading.Lock()
    made, taken = journal.recorded_namespaces()
    journalled = (set(made) - taken) & set(plan.namespaces)

    def create(ns: str) -> None:
        with journal_lock:
            journal.record("netns", name=ns)
        if ns in journalled and netns.netns_inode(ns) is not None:
            netns.enter_netns(ns)
            with Rtnl(ns) as sock:
                found = sock.get_alias(_LO)
            if found not in (mark, None):       # the name is someone else's: teardown must not take it
                with journal_lock:
                    journal.record(NETNS_NOT_OURS, name=ns)
                raise KernelError("create_netns", ns, found, errno_mod.EEXIST, "exists and is another lab's")
        else:
            if ns in journalled:
                netns.delete_netns(ns)          # the placeholder of a creation cut short, if any
            try:
                netns.create_and_enter(ns)
            except KernelError as exc:
                if exc.errno == errno_mod.EEXIST:      # the name is someone else's: teardown must not take it
                    with journal_lock:
                        journal.record(NETNS_NOT_OURS, name=ns)
                raise
        with Rtnl(ns) as sock:
            sock.request(RTM_NEWLINK, CHANGE, lo_body, "lo up + ownership mark", "lo")
            sock.flush()

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
    netns.enter_netns(ns)
    with Rtnl(ns) as sock:
        # a veth whose end here has its planned name and MAC exists already: its peer was made with it
        present = {(link.ifname, link.mac) for link in sock.links()}
        veths = [v for v in veths if (v.ifname, v.mac) not in present]
        # The peer namespaces' fd numbers go into the requests; only one batch's are open at a time.
        for start in range(0, len(veths), rtnl.BATCH):
            fds: dict[str, int] = {}
            try:
                for v in veths[start:start + rtnl.BATCH]:
                    if v.peer_namespace not in fds:
                        fds[v.peer_namespace] = os.open(f"{netns.NETNS_DIR}/{v.peer_namespace}",
                                                        os.O_RDONLY | os.O_CLOEXEC)
                    sock.request(RTM_NEWLINK, CREATE, rtnl.veth(v, fds[v.peer_namespace]), "veth add",
                                 f"{v.ifname} ⇄ {v.peer_namespace}/{v.peer_ifname}")
                sock.flush()
            finally:
                for fd in fds.values():
                    os.close(fd)


def apply_config(plan: Plan) -> None:
    """Addresses, links up, sysctls, routes, rules, neighbours: per namespace, in dependency order.
    Applying it again changes nothing and is no error: addresses, routes and neighbours are replaced,
    and a rule add the kernel refuses as existing found an identical rule (it compares every field)."""
    addresses, links_up, routes, rules, neighbours, tx_off, gro_on = (defaultdict(list) for _ in range(7))
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
    for ns, ifname in plan.gro_on:
        gro_on[ns].append(ifname)

    def configure(ns: str) -> None:
        sysctls = plan.sysctls.get(ns)
        if not (addresses[ns] or links_up[ns] or routes[ns] or rules[ns] or neighbours[ns] or tx_off[ns] or gro_on[ns]
                or sysctls):
            return
        netns.enter_netns(ns)
        with Rtnl(ns) as sock:
            cache: dict[str, int] | None = None

            def index(ifname: str) -> int:
                nonlocal cache
                if cache is None:
                    cache = sock.dump_links()
                if ifname not in cache:
                    raise KernelError("link lookup", ns, ifname, errno_mod.ENODEV, "no such interface")
                return cache[ifname]

            for a in addresses[ns]:
                sock.request(RTM_NEWADDR, REPLACE, rtnl.address(a, index(a.ifname)),
                             "address add", f"{a.address}/{a.prefixlen} on {a.ifname}")
            for ifname in links_up[ns]:
                sock.request(RTM_NEWLINK, CHANGE, rtnl.link_up(index(ifname)), "link up", ifname)
            sock.flush()
            if sysctls:
                netns.write_sysctls_here(ns, sysctls)
            if tx_off[ns]:
                netns.disable_tx_checksum(ns, tx_off[ns], sock.sock)
            if gro_on[ns]:
                netns.enable_gro(ns, gro_on[ns], sock.sock)
            for r in routes[ns]:
                oif = index(r.ifname) if r.type == "unicast" and r.ifname else None
                sock.request(RTM_NEWROUTE, REPLACE, rtnl.route(r, oif), "route add",
                             f"{r.destination} table {r.table}")
            for rule in rules[ns]:
                sock.request(RTM_NEWRULE, CREATE, rtnl.rule(rule), "rule add", f"pref {rule.priority}",
                             done_if=_EXISTS)
            for n in neighbours[ns]:
                sock.request(RTM_NEWNEIGH, REPLACE, rtnl.neighbour(n, index(n.ifname)),
                             "neighbour add", f"{n.address} lladdr {n.mac} on {n.ifname}")
            sock.flush()

    _for_each(plan.namespaces, configure)


def apply_diff(diff: PlanDiff, journal: Journal) -> None:
    """Carry out a plan diff (plan/diff.py) on a lab whose kernel holds the diff's old plan: namespaces made,
    veths no longer planned deleted, moved ends moved, new veths made, what is new or changed added or replaced,
    what is no longer planned deleted (what is gone already is no error), rulesets reloaded, files written,
    namespaces no longer planned deleted last. Nothing is read back but link indexes."""
    if diff.create:
        create_namespaces(Plan(journal.lab, diff.create), journal,
                          ownership_mark(journal.lab, journal.state().get("uuid", "")))
    for ns, ifname in diff.unlink:
        delete_link(ns, ifname)
    move_links(diff.moves)
    if diff.veths:
        apply_links(Plan(journal.lab, (), veths=diff.veths))
    if diff.config is not None:
        apply_config(diff.config)
    if diff.delete:
        _for_each(diff.delete.items(), _delete_entries)
    for ns, text in diff.nft.items():
        nft_run(ns, text)
    if diff.files or diff.symlinks:
        journal.record_many("file", [{"path": path} for path in diff.files])
        journal.record_many("symlink", [{"path": path} for path in diff.symlinks])
        write_files(diff.files, diff.symlinks)
    remove_namespaces(journal, diff.remove)


def _delete_entries(item: tuple[str, tuple[list, list, list, list]]) -> None:
    ns, (addresses, routes, rules, neighbours) = item
    netns.enter_netns(ns)
    with Rtnl(ns) as sock:
        links = sock.dump_links() if addresses or neighbours else {}
        for a in addresses:
            if a.ifname in links:
                sock.request(RTM_DELADDR, CHANGE, rtnl.address(a, links[a.ifname]), "address delete",
                             f"{a.address}/{a.prefixlen} on {a.ifname}", done_if=GONE)
        for r in routes:
            sock.request(RTM_DELROUTE, CHANGE, rtnl.route(r, None), "route delete", f"{r.destination} table {r.table}",
                         done_if=GONE)
        for r in rules:
            sock.request(RTM_DELRULE, CHANGE, rtnl.rule(r), "rule delete", f"pref {r.priority}", done_if=GONE)
        for n in neighbours:
            if n.ifname in links:
                sock.request(RTM_DELNEIGH, CHANGE, rtnl.neighbour(n, links[n.ifname], with_mac=False),
                             "neighbour delete", f"{n.address} on {n.ifname}", done_if=GONE)
        sock.flush()


def remove_namespaces(journal: Journal, names: Iterable[str]) -> None:
    """Delete namespaces of the lab that are no longer planned, their processes first (journalled as gone)."""
    for ns in names:
        journal.record("netns_deleted", name=ns)
        netns.kill_processes_in_netns(ns)
        netns.delete_netns(ns)


def write_files(files: dict[str, str], symlinks: dict[str, str]) -> None:
    for path, content in files.items():
        write_file(path, content)
    write_symlinks(symlinks)


# a hard link cannot be made: across filesystems, too many links, not allowed (fs.protected_hardlinks)
_NO_HARD_LINK = frozenset({errno_mod.EXDEV, errno_mod.EMLINK, errno_mod.EPERM})


def write_symlinks(links: dict[str, str]) -> None:
    """Each path a symlink to its target (one there already is replaced). The paths of one target share one
    symlink: the first is made, the others are hard links to it, since a symlink takes a new inode, and on
    ext4 finding one costs more the more files were deleted lately (2,000 symlinks made after some lab
    builds took 0.65 s; as hard links, 0.03 s). A symlink of its own where no link can be made."""
    made: dict[str, str] = {}
    parents: set[str] = set()
    for path, target in links.items():
        parent = os.path.dirname(path)
        if parent not in parents:
            os.makedirs(parent, exist_ok=True)
            parents.add(parent)
        if os.path.islink(path):
            os.unlink(path)
        first = made.get(target)
        if first is not None:
            try:
                os.link(first, path, follow_symlinks=False)
                continue
            except OSError as exc:
                if exc.errno not in _NO_HARD_LINK:
                    raise
        os.symlink(target, path)
        made[target] = path


def write_file(path: str, content: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(content)


# -- teardown ----------------------------------------------------------------------------------------
def teardown(journal: Journal, expect_mark: str | None = None) -> list[str]:
    """Remove what the journal lists, newest first: its processes, files and namespaces. A namespace
    goes only if it carries the lab's mark (`expect_mark`; without one, any mark of this lab) or, made
    by a build that died part-way, none yet; a placeholder such a build left in /run/netns goes too.
    An entry that cannot be this lab's (a name no namespace can have, a path outside what a lab
    writes, a process entry without its start time) is left alone. Returns what was left alone, and
    why."""
    problems: list[str] = []
    entries = journal.entries()
    for entry in reversed(entries):
        if entry["kind"] != "process":
            continue
        if not all(isinstance(entry.get(k), int) and not isinstance(entry.get(k), bool) for k in ("pid", "starttime")):
            problems.append(f"journal entry {entry!r} names no process by pid and start time; left alone")
            continue
        try:                                # the supervisor: SIGTERM, so it stops its services cleanly
            stop_process(entry)
        except KernelError as exc:          # still alive after SIGKILL; killed with its namespace below
            problems.append(str(exc))
    for entry in reversed(entries):
        if entry["kind"] not in ("file", "symlink"):
            continue
        path = entry.get("path")
        if not _lab_path(journal, path):
            problems.append(f"journal entry {entry['kind']} {path!r} is not a path lab {journal.lab} writes; left alone")
        elif entry["kind"] == "file":
            remove_file(path)
        elif os.path.islink(path):
            os.unlink(path)                 # only the link we made: never what it points to
    recorded, taken = journal.recorded_namespaces()
    namespaces = []
    for ns in reversed(recorded):
        if netns.valid_name(ns):
            namespaces.append(ns)
        else:
            problems.append(f"journal names namespace {ns!r}, which cannot be a namespace's name; left alone")
    existing = [ns for ns in namespaces if netns.netns_inode(ns) is not None]
    marks = read_marks(existing)
    ours = f"{OWNERSHIP_PREFIX}:{journal.lab}:"
    doomed = []
    for ns in existing:
        mark = marks.get(ns, "")
        # one whose build died before the mark was written is still ours by the journal, unless its
        # creation found the name taken
        if ns not in marks or not ((mark is None and ns not in taken) or mark == expect_mark
                                   or (expect_mark is None and mark and mark.startswith(ours))):
            problems.append(f"namespace {ns} does not carry this lab's ownership mark; left alone")
            continue
        doomed.append(ns)
    inhabited = _inhabited_netns() if doomed else set()
    for ns in doomed:
        if netns.netns_inode(ns) in inhabited:
            netns.kill_processes_in_netns(ns)
        netns.delete_netns(ns)
    for ns in namespaces:
        if ns not in existing and ns not in taken:
            netns.remove_placeholder(ns)
    return problems


def _lab_path(journal: Journal, path: object) -> bool:
    """Whether `path` is one a lab writes: in its state directory, or /etc/netns/<lab>-... ."""
    if not isinstance(path, str) or "\0" in path or os.path.normpath(path) != path:
        return False
    return path.startswith(f"{journal.dir}/") or path.startswith(f"/etc/netns/{journal.lab}-")


def read_marks(names: Iterable[str]) -> dict[str, str | None]:
    """The ownership mark of each namespace (the alias of its lo, None where it has none), read by the
    worker threads. A name that is no network namespace this process can enter is left out: not ours
    to judge. Any other failure is raised."""
    marks: dict[str, str | None] = {}

    def read(ns: str) -> None:
        try:
            netns.enter_netns(ns)
        except KernelError as exc:
            if exc.errno in _NOT_ENTERABLE:
                return
            raise
        with Rtnl(ns) as sock:
            marks[ns] = sock.get_alias(_LO)

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
