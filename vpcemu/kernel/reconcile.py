"""Reconcile a lab's kernel with its plan: read what the lab's namespaces hold, name each difference
from the plan (`differences`), and fix each (`reconcile`).

`vpcemu repair` and `vpcemu status --check` run it, and so does every live change whose kernel step
failed or whose predecessor was killed (Lab.change), so it reads fast: apply's worker threads enter
the namespaces, one netlink socket each, five dumps (links, addresses, routes, rules, neighbours)
decoded by hand (rtnl.py), then the planned sysctls and checksum offloads, and the nft table of each
namespace the plan filters in.

Compared with the plan:
- namespaces: planned ones missing; ones this lab journalled that the plan no longer has (extra). A
  planned namespace carrying another lab's ownership mark is reported and never touched.
- links: each planned veth end by name, MAC and MTU in its namespace, up where planned up (lo too). An end
  found elsewhere in the lab or under another name (an ENI parked that should be attached, a move
  cut short) is moved back; a veth with both ends gone is made anew; links no plan names are deleted.
- addresses, policy rules, permanent neighbours: exactly the planned ones. The kernel's own (lo's
  127.0.0.1/8, the three default rules) and neighbours learned by ARP are left out.
- routes: those of every table the plan uses in the lab, except the ones the kernel makes for an
  address (proto kernel): missing, different or extra.
- nft: a planned ruleset and `nft list` of it differ in form (priorities resolved, elements sorted,
  lines split), so the planned text is loaded once into a private scratch namespace and listed there,
  which gives nft's own form of it, kept in the lab's state directory under the text's digest. The
  namespace's listing (counter values and the probes' traced addresses left out) is compared with it
  block by block (each chain, set and map): a rule, element, chain or table gone, added or changed
  shows, named by its block. A difference reloads the planned table as one transaction, as a build
  does, with the traced addresses carried over. Reloading every table on every repair instead would
  cost a 500-ENI router ~75 ms and reset its counters each time, and could not tell `check` anything.
  Namespaces the plan loads no table into (instances) are not looked at: their filters are the
  instance's own.
- the sysctls the plan sets, the TX checksum offload it turns off, the files and symlinks it writes.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections import defaultdict
from dataclasses import dataclass, field

from pyroute2.netlink.rtnl import RTM_DELADDR, RTM_DELNEIGH, RTM_DELROUTE, RTM_DELRULE, RTM_NEWLINK

from ..errors import KernelError
from ..plan.names import OWNERSHIP_PREFIX, ownership_mark
from ..plan.nft import TABLE, TRACE_SET
from ..plan.state import Address, Neighbour, Plan, RouteEntry, RuleEntry, Veth
from . import netns, rtnl
from .apply import (
    GONE, _for_each, apply_config, apply_links, create_namespaces, read_marks, remove_namespaces, write_files,
)
from .interface import delete_link, move_links, set_mac
from .journal import Journal
from .nft import nft_canonical_listing, nft_run, nft_table_listing
from .rtnl import CHANGE, LinkState, Rtnl

NFT_LISTINGS = "nft-listings"         # in the lab's state directory: planned ruleset digest → nft's listing
_LO = 1
_KERNEL_ADDRESS = ("lo", "127.0.0.1", 8)
_DEFAULT_RULES = {(0, 255), (32766, 254), (32767, 253)}     # (priority, table) of local, main, default


def differences(plan: Plan, journal: Journal) -> list[str]:
    """One line per way the lab's kernel differs from `plan`; empty when they agree. Changes nothing
    (but the cache of nft listings in the state directory)."""
    found = _Findings.of(plan, journal)
    return found.structure + found.config


def reconcile(plan: Plan, journal: Journal) -> list[str]:
    """Make the lab's kernel hold `plan`; one line per fix made (empty: nothing differed)."""
    found = _Findings.of(plan, journal)
    done = list(found.structure)
    if found.structure:
        found.fix_structure(plan, journal)
        # moved and new links lost (or never had) their addresses, routes and neighbours: look again
        found = _Findings.of(plan, journal)
        if found.structure:
            raise KernelError("repair", None, plan.lab, None, "still differs after repair: "
                              + "; ".join(found.structure[:5]))
    done += found.config
    found.fix_config(plan, journal)
    return done


# -- what the plan asks of each namespace, grouped once (a 500-ENI plan has ~500 namespaces) ----------
@dataclass
class _Share:
    addresses: list[Address] = field(default_factory=list)
    links_up: list[str] = field(default_factory=lambda: ["lo"])
    routes: list[RouteEntry] = field(default_factory=list)
    rules: list[RuleEntry] = field(default_factory=list)
    neighbours: list[Neighbour] = field(default_factory=list)
    tx_off: list[str] = field(default_factory=list)
    gro_on: list[str] = field(default_factory=list)


def _shares(plan: Plan) -> dict[str, _Share]:
    shares: dict[str, _Share] = defaultdict(_Share)
    for a in plan.addresses:
        shares[a.namespace].addresses.append(a)
    for ns, ifname in plan.links_up:
        shares[ns].links_up.append(ifname)
    for r in plan.routes:
        shares[r.namespace].routes.append(r)
    for rule in plan.rules:
        shares[rule.namespace].rules.append(rule)
    for n in plan.neighbours:
        shares[n.namespace].neighbours.append(n)
    for ns, ifname in plan.tx_checksum_off:
        shares[ns].tx_off.append(ifname)
    for ns, ifname in plan.gro_on:
        shares[ns].gro_on.append(ifname)
    return shares


# -- what the kernel holds ---------------------------------------------------------------------------
@dataclass
class _Seen:
    """One namespace as read."""

    links: list[LinkState]
    addresses: list[rtnl.AddressState]
    routes: list[rtnl.RouteState]
    rules: list[rtnl.RuleState]
    neighbours: list[rtnl.NeighbourState]
    sysctls: dict[str, str | None]            # planned key → its value (None: no such file, its link is gone)
    tx_on: set[str]                           # planned checksum-off links that have it on
    gro_off: set[str]                         # planned GRO links that have it off
    nft: str | None                           # the lab's table as nft lists it; None: none there

    def __post_init__(self) -> None:
        self.by_name = {link.ifname: link for link in self.links}
        self.names = {link.index: link.ifname for link in self.links}


def _observe(plan: Plan, shares: dict[str, _Share], namespaces: list[str]) -> dict[str, _Seen]:
    sysctls = plan.sysctls
    seen: dict[str, _Seen] = {}
    lock = threading.Lock()

    def read(ns: str) -> None:
        netns.enter_netns(ns)
        with Rtnl(ns) as sock:
            links = sock.links()
            present = {link.ifname for link in links}
            item = _Seen(links, sock.addresses(), sock.routes(), sock.rules(), sock.neighbours(),
                         {key: _read_sysctl(ns, key) for key in sysctls.get(ns, {})},
                         netns.tx_checksum_on(ns, [i for i in shares[ns].tx_off if i in present], sock.sock),
                         netns.gro_off(ns, [i for i in shares[ns].gro_on if i in present], sock.sock),
                         nft_table_listing(ns, "ip", TABLE) if ns in plan.nft else None)
        with lock:
            seen[ns] = item

    _for_each(namespaces, read)
    return seen


def _read_sysctl(ns: str, key: str) -> str | None:
    try:
        fd = os.open(f"/proc/sys/{key}", os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise KernelError("sysctl read", ns, key, exc.errno, exc.strerror or str(exc)) from None
    try:
        return os.read(fd, 256).decode().strip()
    finally:
        os.close(fd)


# -- the differences, and how each is fixed ------------------------------------------------------------
@dataclass
class _Findings:
    structure: list[str] = field(default_factory=list)       # namespaces and links
    config: list[str] = field(default_factory=list)          # everything inside them
    create: list[str] = field(default_factory=list)          # namespaces to make
    remove: list[str] = field(default_factory=list)          # namespaces to delete, last
    unlink: list[tuple[str, str]] = field(default_factory=list)       # (ns, ifname) to delete
    moves: list[tuple[str, str, str, str, str]] = field(default_factory=list)   # (ns, ifname, to ns, name, MAC)
    macs: list[tuple[str, str, str]] = field(default_factory=list)   # (ns, ifname, MAC)
    veths: list[Veth] = field(default_factory=list)                  # to make anew
    marks: list[str] = field(default_factory=list)                   # namespaces whose lo lacks the mark
    addresses: list[Address] = field(default_factory=list)
    links_up: list[tuple[str, str]] = field(default_factory=list)
    routes: list[RouteEntry] = field(default_factory=list)
    rules: list[RuleEntry] = field(default_factory=list)
    neighbours: list[Neighbour] = field(default_factory=list)
    sysctls: dict[str, dict[str, str]] = field(default_factory=dict)
    tx_off: list[tuple[str, str]] = field(default_factory=list)
    gro_on: list[tuple[str, str]] = field(default_factory=list)
    # per namespace, requests sent as they are, (message type, body, operation, object): deletes of what is
    # not planned, planned MTUs
    requests: dict[str, list[tuple[int, bytes, str, str]]] = field(default_factory=lambda: defaultdict(list))
    rulesets: dict[str, str] = field(default_factory=dict)   # namespace → the text to load
    files: dict[str, str] = field(default_factory=dict)
    symlinks: dict[str, str] = field(default_factory=dict)
    foreign: set[str] = field(default_factory=set)         # planned namespaces another owner marked
    mark: str | None = None

    @classmethod
    def of(cls, plan: Plan, journal: Journal) -> _Findings:
        found = cls()
        uuid = journal.state().get("uuid")
        found.mark = ownership_mark(plan.lab, uuid) if uuid else None
        planned = set(plan.namespaces)
        present = [ns for ns in plan.namespaces if netns.netns_inode(ns) is not None]
        for ns in plan.namespaces:
            if ns not in present:
                found.structure.append(f"namespace {ns} is missing")
                found.create.append(ns)
        # a journal names namespaces the lab made; a name no namespace can have is not followed (as down does)
        extra = [ns for ns in dict.fromkeys(e.get("name") for e in journal.entries("netns"))
                 if netns.valid_name(ns) and ns not in planned and netns.netns_inode(ns) is not None]
        marks = read_marks(extra)
        for ns in extra:
            if ns in marks and _ours(marks[ns], found.mark, plan.lab):
                found.structure.append(f"namespace {ns} is no longer planned")
                found.remove.append(ns)
        shares = _shares(plan)
        seen = _observe(plan, shares, present)
        for ns in present:
            alias = seen[ns].by_name.get("lo", LinkState(_LO, "lo", None, False, None, None)).alias
            if not _ours(alias, found.mark, plan.lab):
                found.structure.append(f"namespace {ns} carries another owner's mark ({alias}); left alone")
                found.foreign.add(ns)
                del seen[ns]
            elif alias is None and found.mark is not None:
                found.config.append(f"{ns}: lo has no ownership mark")
                found.marks.append(ns)
        found._links(plan, seen)
        tables = {r.table for r in plan.routes}
        for ns, item in seen.items():
            found._inside(plan, shares[ns], tables, ns, item)
        found._nft(plan, journal, seen)
        found._files(plan)
        return found

    # -- links ---------------------------------------------------------------------------------
    def _links(self, plan: Plan, seen: dict[str, _Seen]) -> None:
        by_mac: dict[str, tuple[str, str]] = {}
        for ns, item in seen.items():
            for link in item.links:
                if link.index != _LO and link.mac is not None:
                    by_mac.setdefault(link.mac, (ns, link.ifname))
        planned_macs = {v.mac for v in plan.veths} | {v.peer_mac for v in plan.veths}
        accounted: set[tuple[str, str]] = set()
        for v in plan.veths:
            planned = ((v.namespace, v.ifname, v.mac), (v.peer_namespace, v.peer_ifname, v.peer_mac))
            if {v.namespace, v.peer_namespace} & self.foreign:
                accounted.update((ns, ifname) for ns, ifname, _ in planned)     # left as they are
                continue
            ends = [self._end(seen, by_mac, planned_macs, ns, ifname, mac, accounted) for ns, ifname, mac in planned]
            what = f"veth {v.namespace}/{v.ifname} ⇄ {v.peer_namespace}/{v.peer_ifname} ({v.owner})"
            if ends[0] is None and ends[1] is None:
                self.structure.append(f"{what} is missing")
                self.veths.append(v)
                continue
            if ends[0] is None or ends[1] is None:
                # one end is outside the lab's namespaces: the pair goes and is made anew
                ns, ifname = next(e for e in ends if e is not None)[:2]
                self.structure.append(f"{what}: one end is outside the lab; made anew")
                self.unlink.append((ns, ifname))
                self.veths.append(v)
                continue
            for (ns, ifname, mac), end in zip(planned, ends, strict=True):
                kind, where = end[2], end[:2]
                if kind == "ok":
                    self._mtu(seen[ns].by_name[ifname], ns, v)
                elif kind == "moved":
                    self.structure.append(f"link {where[0]}/{where[1]} ({mac}, {v.owner}) belongs in {ns} as {ifname}")
                    self.moves.append((where[0], where[1], ns, ifname, mac))
                elif kind == "mac":
                    self.structure.append(f"link {ns}/{ifname} ({v.owner}) has MAC {seen[ns].by_name[ifname].mac}, "
                                          f"planned {mac}")
                    self.macs.append((ns, ifname, mac))
        for ns, item in seen.items():
            for link in item.links:
                if link.index != _LO and (ns, link.ifname) not in accounted:
                    self.structure.append(f"link {ns}/{link.ifname} ({link.mac}) is not planned")
                    self.unlink.append((ns, link.ifname))

    def _mtu(self, link: LinkState, ns: str, v: Veth) -> None:
        """A veth end in place: its MTU as planned (a moved or re-MACed end is looked at again after the fix)."""
        if link.mtu != v.mtu:
            self.config.append(f"{ns}: link {link.ifname} ({v.owner}) has MTU {link.mtu}, planned {v.mtu}")
            self.requests[ns].append((RTM_NEWLINK, rtnl.link_mtu(link.index, v.mtu), "link set mtu", link.ifname))

    @staticmethod
    def _end(seen: dict[str, _Seen], by_mac: dict, planned_macs: set[str], ns: str, ifname: str, mac: str,
             accounted: set) -> tuple[str, str, str] | None:
        """(namespace, name, how) of a planned veth end as found: in place ("ok"), elsewhere in the lab
        or under another name ("moved"), in place with another MAC ("mac"); None: nowhere."""
        link = seen[ns].by_name.get(ifname) if ns in seen else None
        if link is not None and link.mac == mac:
            accounted.add((ns, ifname))
            return ns, ifname, "ok"
        if mac in by_mac:
            accounted.add(by_mac[mac])
            return (*by_mac[mac], "moved")
        if link is not None and link.mac not in planned_macs:
            accounted.add((ns, ifname))
            return ns, ifname, "mac"
        return None

    # -- inside one namespace ------------------------------------------------------------------------
    def _inside(self, plan: Plan, share: _Share, tables: set[int], ns: str, item: _Seen) -> None:
        names, present = item.names, item.by_name
        say = self.config.append

        def gone(what: str, kind: int, raw: bytes) -> None:
            say(f"{ns}: {what} is not planned")
            self.requests[ns].append((kind, raw, "delete", what))

        for ifname in share.links_up:
            if ifname in present and not present[ifname].up:
                say(f"{ns}: link {ifname} is down")
                self.links_up.append((ns, ifname))

        wanted_addresses = {(a.ifname, a.address, a.prefixlen): a for a in share.addresses}
        have = set()
        for a in item.addresses:
            key = (names.get(a.index, str(a.index)), a.address, a.prefixlen)
            have.add(key)
            if key not in wanted_addresses and key != _KERNEL_ADDRESS:
                gone(f"address {a.address}/{a.prefixlen} on {key[0]}", RTM_DELADDR, a.raw)
        for key, a in wanted_addresses.items():
            if key not in have and a.ifname in present:
                say(f"{ns}: address {a.address}/{a.prefixlen} on {a.ifname} is missing")
                self.addresses.append(a)

        for key, value in plan.sysctls.get(ns, {}).items():
            found = item.sysctls.get(key)
            if found is not None and found != str(value):
                say(f"{ns}: sysctl {key} is {found}, planned {value}")
                self.sysctls.setdefault(ns, {})[key] = value
        for ifname in sorted(item.tx_on):
            say(f"{ns}: TX checksum offload is on for {ifname}")
            self.tx_off.append((ns, ifname))
        for ifname in sorted(item.gro_off):
            say(f"{ns}: GRO is off for {ifname}")
            self.gro_on.append((ns, ifname))

        wanted_routes = {(r.table, _cidr(r.destination)): r for r in share.routes}
        kernel_routes: dict[tuple[int, str], rtnl.RouteState] = {}
        for r in item.routes:
            if r.table not in tables:
                continue
            key = (r.table, r.destination)
            if key in wanted_routes and r.priority == 0 and r.tos == 0 and key not in kernel_routes:
                kernel_routes[key] = r
            else:
                via = f" via {r.gateway}" if r.gateway else ""
                dev = f" dev {names.get(r.oif, r.oif)}" if r.oif else ""
                gone(f"route {r.type} {r.destination}{via}{dev} table {r.table}", RTM_DELROUTE, r.raw)
        for key, r in wanted_routes.items():
            if r.ifname is not None and r.type == "unicast" and r.ifname not in present:
                continue
            k = kernel_routes.get(key)
            if k is None:
                say(f"{ns}: route {_route_text(r)} is missing")
                self.routes.append(r)
            elif not _same_route(r, k, names):
                say(f"{ns}: route {r.destination} table {r.table} is {k.type} via {k.gateway} dev "
                    f"{names.get(k.oif, k.oif)}, planned {_route_text(r)}")
                self.routes.append(r)

        wanted_rules = {_rule_key(r): r for r in share.rules}
        have_rules = set()
        for r in item.rules:
            key = (r.priority, r.action, r.table, r.fwmark, r.fwmask, r.destination, r.source, r.iifname, r.oifname)
            if key in wanted_rules and key not in have_rules:
                have_rules.add(key)
            elif (r.priority, r.table) not in _DEFAULT_RULES or key[3:] != (None,) * 6:
                gone(f"rule pref {r.priority} {_rule_text(key)}", RTM_DELRULE, r.raw)
        for key, r in wanted_rules.items():
            if key not in have_rules:
                say(f"{ns}: rule pref {r.priority} {_rule_text(key)} is missing")
                self.rules.append(r)

        wanted_neighbours = {(n.ifname, n.address): n for n in share.neighbours}
        have_neighbours = {}
        for n in item.neighbours:
            key = (names.get(n.index, str(n.index)), n.address)
            if not n.permanent:
                continue
            if key in wanted_neighbours:
                have_neighbours[key] = n.mac
            else:
                gone(f"permanent neighbour {n.address} lladdr {n.mac} on {key[0]}", RTM_DELNEIGH, n.raw)
        for key, n in wanted_neighbours.items():
            if n.ifname not in present or have_neighbours.get(key) == n.mac:
                continue
            state = "is missing" if key not in have_neighbours else f"has lladdr {have_neighbours[key]}"
            say(f"{ns}: permanent neighbour {n.address} lladdr {n.mac} on {n.ifname} {state}")
            self.neighbours.append(n)

    # -- rulesets ------------------------------------------------------------------------------
    def _nft(self, plan: Plan, journal: Journal, seen: dict[str, _Seen]) -> None:
        cache = journal.dir / NFT_LISTINGS
        keep = set()
        for ns, text in plan.nft.items():
            if ns not in seen:
                continue
            digest = hashlib.sha256(text.encode()).hexdigest()
            keep.add(digest)
            found = seen[ns].nft
            if found is None:
                self.config.append(f"{ns}: nft table {TABLE} is missing")
                self.rulesets[ns] = text
                continue
            canonical = _untraced(_canonical(cache, digest, text))[0]
            untraced, traced = _untraced(found)
            if untraced == canonical:
                continue
            # a table changed by diffs lists its newer chains and sets last: compare block by block
            found_blocks, planned_blocks = _blocks(untraced), _blocks(canonical)
            changed = sorted({k for k in found_blocks.keys() | planned_blocks.keys()
                              if found_blocks.get(k) != planned_blocks.get(k)})
            if changed:
                shown = ", ".join(f"{k} {'missing' if k not in found_blocks else 'not planned' if k not in planned_blocks else 'differs'}"
                                  for k in changed[:4])
                more = f" and {len(changed) - 4} more" if len(changed) > 4 else ""
                self.config.append(f"{ns}: nft table {TABLE}: {shown}{more}")
                self.rulesets[ns] = text + (f"add element ip {TABLE} {TRACE_SET} {{ {traced} }}\n" if traced else "")
        if cache.is_dir():
            for entry in os.listdir(cache):
                if entry not in keep:
                    try:
                        os.unlink(cache / entry)
                    except FileNotFoundError:
                        pass

    # -- files -----------------------------------------------------------------------------------
    def _files(self, plan: Plan) -> None:
        for path, content in plan.files.items():
            try:
                with open(path) as f:
                    same = f.read() == content
            except FileNotFoundError:
                self.config.append(f"file {path} is missing")
                self.files[path] = content
                continue
            if not same:
                self.config.append(f"file {path} differs")
                self.files[path] = content
        for path, target in plan.symlinks.items():
            try:
                found = os.readlink(path)
            except FileNotFoundError:
                found = None
            except OSError:             # something else is there, not ours to replace
                self.config.append(f"{path} is not the planned symlink to {target}; left alone")
                continue
            if found != target:
                self.config.append(f"symlink {path} → {target} is " + ("missing" if found is None else f"→ {found}"))
                self.symlinks[path] = target

    # -- fixing ----------------------------------------------------------------------------------
    def fix_structure(self, plan: Plan, journal: Journal) -> None:
        if self.create:
            create_namespaces(Plan(plan.lab, tuple(self.create)), journal, self.mark or "")
        for ns, ifname in self.unlink:
            delete_link(ns, ifname)
        move_links(self.moves)
        for ns, ifname, mac in self.macs:
            set_mac(ns, ifname, mac)
        if self.veths:
            apply_links(Plan(plan.lab, (), veths=tuple(self.veths)))
        self._remove_namespaces(journal)

    def fix_config(self, plan: Plan, journal: Journal) -> None:
        namespaces = tuple(dict.fromkeys(
            [a.namespace for a in self.addresses] + [ns for ns, _ in self.links_up] + [r.namespace for r in self.routes]
            + [r.namespace for r in self.rules] + [n.namespace for n in self.neighbours] + list(self.sysctls)
            + [ns for ns, _ in self.tx_off] + [ns for ns, _ in self.gro_on]))
        if namespaces:
            apply_config(Plan(plan.lab, namespaces, addresses=tuple(self.addresses), links_up=tuple(self.links_up),
                              routes=tuple(self.routes), rules=tuple(self.rules), neighbours=tuple(self.neighbours),
                              sysctls=self.sysctls, tx_checksum_off=tuple(self.tx_off),
                              gro_on=tuple(self.gro_on)))
        work = list(self.requests.items()) + [(ns, []) for ns in self.marks if ns not in self.requests]
        if work:
            _for_each(work, self._send)
        for ns, text in self.rulesets.items():
            nft_run(ns, text)
        write_files(self.files, self.symlinks)
        self._remove_namespaces(journal)

    def _send(self, item: tuple[str, list[tuple[int, bytes, str, str]]]) -> None:
        ns, requests = item
        netns.enter_netns(ns)
        with Rtnl(ns) as sock:
            if ns in self.marks and self.mark is not None:
                sock.request(RTM_NEWLINK, CHANGE, rtnl.link_up(_LO, alias=self.mark), "ownership mark", "lo")
            for kind, raw, operation, what in requests:
                sock.request(kind, CHANGE, raw, operation, what, done_if=GONE)
            sock.flush()

    def _remove_namespaces(self, journal: Journal) -> None:
        remove_namespaces(journal, self.remove)
        self.remove = []


# -- helpers -------------------------------------------------------------------------------------------
def _ours(alias: str | None, mark: str | None, lab: str) -> bool:
    """A namespace is this lab's if its mark is the lab's, or it has none yet (made, cut short before
    the mark); without the lab's uuid any mark of this lab's name will do."""
    if alias is None or alias == mark:
        return True
    return mark is None and alias.startswith(f"{OWNERSHIP_PREFIX}:{lab}:")


def _cidr(value: str) -> str:
    address, _, length = value.partition("/")
    return f"{address}/{length or 32}"


def _same_route(r: RouteEntry, k: rtnl.RouteState, names: dict[int, str]) -> bool:
    if k.type != r.type:
        return False
    if r.type != "unicast":
        return True
    return (k.gateway == r.gateway and k.scope == r.scope and k.onlink == r.onlink
            and (r.ifname is None or names.get(k.oif) == r.ifname))


def _route_text(r: RouteEntry) -> str:
    via = f" via {r.gateway}" if r.gateway else ""
    dev = f" dev {r.ifname}" if r.ifname else ""
    return f"{r.type} {r.destination}{via}{dev} table {r.table}"


def _rule_key(r: RuleEntry) -> tuple:
    """A planned rule as a dump reads it back: a mark without a mask has the kernel's full mask."""
    fwmask = None if r.fwmark is None else 0xFFFFFFFF if r.fwmask is None else r.fwmask
    return (r.priority, r.action, r.table if r.action == "lookup" else None, r.fwmark, fwmask,
            _cidr(r.destination) if r.destination else None, _cidr(r.source) if r.source else None, None, None)


def _rule_text(key: tuple) -> str:
    _, action, table, fwmark, fwmask, dst, src, iif, oif = key
    parts = [f"from {src}" if src else "", f"to {dst}" if dst else "",
             f"fwmark {fwmark:#x}/{fwmask:#x}" if fwmark is not None else "",
             f"iif {iif}" if iif else "", f"oif {oif}" if oif else "",
             f"lookup {table}" if action == "lookup" else action]
    return " ".join(p for p in parts if p)


def _canonical(cache, digest: str, text: str) -> str:
    path = cache / digest
    try:
        return path.read_text()
    except FileNotFoundError:
        pass
    listing = nft_canonical_listing(text, "ip", TABLE)
    os.makedirs(cache, mode=0o700, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=cache, prefix=".", delete=False) as f:
        f.write(listing)
    os.replace(f.name, path)
    return listing


def _untraced(listing: str) -> tuple[str, str]:
    """nft's listing of a table without the elements of the probes' trace set (running probes own
    them), and those elements."""
    head = f"\tset {TRACE_SET} {{\n"
    start = listing.find(head)
    if start < 0:
        return listing, ""
    end = listing.index("\n\t}\n", start)
    block = listing[start:end].split("\n")
    kept, traced, inside = [], [], False
    for line in block:
        text = line.strip()
        if text.startswith("elements = {"):
            inside, text = True, text[len("elements = {"):]
        if inside:
            inside = not text.endswith("}")
            traced.append(text.rstrip("}").strip().rstrip(","))
        else:
            kept.append(line)
    return listing[:start] + "\n".join(kept) + listing[end:], ", ".join(t for t in traced if t)


def _blocks(listing: str) -> dict[str, str]:
    """nft's listing of a table as {`chain X` / `set X` / `map X`: its lines}."""
    blocks: dict[str, str] = {}
    lines = [line for line in listing.splitlines()[1:-1] if line]     # blank lines part the blocks
    i = 0
    while i < len(lines):
        start = i
        while i < len(lines) and lines[i] != "\t}":
            i += 1
        i += 1
        blocks[" ".join(lines[start].split()[:2])] = "\n".join(lines[start:i])
    return blocks
