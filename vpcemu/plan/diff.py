"""The difference between two plans of one lab, as the steps that turn a kernel holding the first into one
holding the second: what a live change (ops/live.py) and a reset (Lab.reset) apply, without reading the
kernel back. Pure: kernel/apply.py's `apply_diff` carries it out.

A veth end is known by its MAC: an end planned elsewhere (another namespace or name: an ENI attached,
detached or moved) is moved there, never made anew. A link that changes namespace loses its addresses,
routes, neighbours and per-link sysctls, so everything planned on a moved or new link is applied again,
and nothing is deleted from a link that left (it went with it) or from a namespace that goes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .nft import TABLE
from .state import Address, Neighbour, Plan, RouteEntry, RuleEntry, Veth


@dataclass(frozen=True)
class PlanDiff:
    create: tuple[str, ...] = ()                        # namespaces to make (marked as the lab's)
    unlink: tuple[tuple[str, str], ...] = ()            # (namespace, ifname): veths no longer planned
    moves: tuple[tuple[str, str, str, str, str], ...] = ()      # (namespace, ifname, to namespace, to ifname, MAC)
    veths: tuple[Veth, ...] = ()                        # to make
    config: Plan | None = None                          # addresses, links up, sysctls, routes, rules, neighbours to add or replace
    delete: dict[str, tuple[list[Address], list[RouteEntry], list[RuleEntry], list[Neighbour]]] = \
        field(default_factory=dict)                     # namespace → what to delete there
    nft: dict[str, str] = field(default_factory=dict)   # namespace → its table anew (or deleted)
    files: dict[str, str] = field(default_factory=dict)
    symlinks: dict[str, str] = field(default_factory=dict)
    remove: tuple[str, ...] = ()                        # namespaces to delete, last

    def lines(self) -> list[str]:
        """One line per kernel step, as `reset` and `repair` report them."""
        c = self.config
        out = [f"namespace {ns} made" for ns in self.create]
        out += [f"link {ns}/{ifname} deleted" for ns, ifname in self.unlink]
        out += [f"link {ns}/{ifname} moved to {to}/{name}" for ns, ifname, to, name, _ in self.moves]
        out += [f"veth {v.namespace}/{v.ifname} ⇄ {v.peer_namespace}/{v.peer_ifname} ({v.owner}) made" for v in self.veths]
        if c is not None:
            out += [f"{a.namespace}: address {a.address}/{a.prefixlen} on {a.ifname} added" for a in c.addresses]
            out += [f"{r.namespace}: route {r.destination} table {r.table} set" for r in c.routes]
            out += [f"{r.namespace}: rule pref {r.priority} added" for r in c.rules]
            out += [f"{n.namespace}: permanent neighbour {n.address} on {n.ifname} set" for n in c.neighbours]
            out += [f"{ns}: sysctl {k} set to {v}" for ns, d in c.sysctls.items() for k, v in d.items()]
        for ns, (addresses, routes, rules, neighbours) in self.delete.items():
            out += [f"{ns}: address {a.address}/{a.prefixlen} on {a.ifname} deleted" for a in addresses]
            out += [f"{ns}: route {r.destination} table {r.table} deleted" for r in routes]
            out += [f"{ns}: rule pref {r.priority} deleted" for r in rules]
            out += [f"{ns}: permanent neighbour {n.address} on {n.ifname} deleted" for n in neighbours]
        out += [f"{ns}: nft table reloaded" for ns in self.nft]
        out += [f"file {path} written" for path in self.files]
        out += [f"symlink {path} → {target} made" for path, target in self.symlinks.items()]
        out += [f"namespace {ns} deleted" for ns in self.remove]
        return out


def plan_diff(old: Plan, new: Plan, keep_nft: frozenset[str] = frozenset()) -> PlanDiff:
    """The steps from `old` to `new`. Rulesets of the namespaces in `keep_nft` are left to the caller (the
    VPC routers': ops/security.py changes them as diffs)."""
    staying = set(new.namespaces)
    old_ns = set(old.namespaces)
    create = tuple(ns for ns in new.namespaces if ns not in old_ns)
    remove = tuple(ns for ns in old.namespaces if ns not in staying)

    # -- links, by MAC ------------------------------------------------------------------------------
    was = {mac: (ns, ifname) for v in old.veths
           for ns, ifname, mac in ((v.namespace, v.ifname, v.mac), (v.peer_namespace, v.peer_ifname, v.peer_mac))}
    planned = {mac for v in new.veths for mac in (v.mac, v.peer_mac)}
    moves, veths = [], []
    fresh: set[tuple[str, str]] = set()            # links new or moved in: everything on them is applied
    for v in new.veths:
        ends = ((v.namespace, v.ifname, v.mac), (v.peer_namespace, v.peer_ifname, v.peer_mac))
        if not all(mac in was for _, _, mac in ends):       # new (an end alone would be a torn pair: anew)
            veths.append(v)
            fresh.update((ns, ifname) for ns, ifname, _ in ends)
            continue
        for ns, ifname, mac in ends:
            if was.get(mac) != (ns, ifname):
                moves.append((*was[mac], ns, ifname, mac))
                fresh.add((ns, ifname))
    anew = {mac for v in veths for mac in (v.mac, v.peer_mac)}
    gone = {(ns, ifname) for mac, (ns, ifname) in was.items() if mac not in planned or mac in anew}
    gone |= {(ns, ifname) for ns, ifname, *_ in moves}
    unlink = []
    for v in old.veths:
        if not ({v.mac, v.peer_mac} & planned) or {v.mac, v.peer_mac} & anew:
            end = next(((ns, i) for ns, i in ((v.namespace, v.ifname), (v.peer_namespace, v.peer_ifname))
                        if ns in staying), None)
            if end is not None:
                unlink.append(end)

    def applies(item, ifname: str | None, before: set) -> bool:
        return (item.namespace, ifname) in fresh or item not in before

    def deletes(item, key, ifname: str | None, after) -> bool:
        return item.namespace in staying and (item.namespace, ifname) not in gone and key not in after

    def per_link(items: tuple, before: tuple) -> tuple:
        """(namespace, ifname) settings new, or on a link new or moved in."""
        had = set(before)
        return tuple(x for x in items if x in fresh or x not in had)

    # -- inside the namespaces --------------------------------------------------------------------------
    old_addresses, new_addresses = set(old.addresses), set(new.addresses)
    addresses = tuple(a for a in new.addresses if applies(a, a.ifname, old_addresses))
    dropped_addresses = [a for a in old.addresses if deletes(a, a, a.ifname, new_addresses)]
    links_up = per_link(new.links_up, old.links_up)
    old_routes, new_routes = _keyed_routes(old), _keyed_routes(new)
    routes = tuple(r for k, r in new_routes.items()
                   if (r.namespace, r.ifname) in fresh or k not in old_routes or _route(old_routes[k]) != _route(r))
    dropped_routes = [r for k, r in old_routes.items() if deletes(r, k, r.ifname, new_routes)]
    old_rules, new_rules = {_rule(r) for r in old.rules}, {_rule(r) for r in new.rules}
    rules = tuple(r for r in new.rules if _rule(r) not in old_rules)
    dropped_rules = [r for r in old.rules if deletes(r, _rule(r), None, new_rules)]
    old_neighbours, new_neighbours = _keyed_neighbours(old), _keyed_neighbours(new)
    neighbours = tuple(n for k, n in new_neighbours.items()
                       if (n.namespace, n.ifname) in fresh or old_neighbours.get(k) != n)
    dropped_neighbours = [n for k, n in old_neighbours.items() if deletes(n, k, n.ifname, new_neighbours)]
    sysctls: dict[str, dict[str, str]] = {}
    for ns, values in new.sysctls.items():
        before = old.sysctls.get(ns, {})
        links = {ifname for n, ifname in fresh if n == ns}
        for key, value in values.items():
            if before.get(key) != value or _link_of(key) in links:
                sysctls.setdefault(ns, {})[key] = value
    tx_off = per_link(new.tx_checksum_off, old.tx_checksum_off)
    gro_on = per_link(new.gro_on, old.gro_on)
    touched = (*(a.namespace for a in addresses), *(ns for ns, _ in links_up), *(r.namespace for r in routes),
               *(r.namespace for r in rules), *(n.namespace for n in neighbours), *sysctls, *(ns for ns, _ in tx_off),
               *(ns for ns, _ in gro_on))
    config = Plan(new.lab, tuple(dict.fromkeys(touched)), addresses=addresses, links_up=links_up, routes=routes,
                  rules=rules, neighbours=neighbours, sysctls=sysctls, tx_checksum_off=tx_off,
                  gro_on=gro_on) if touched else None
    delete: dict[str, tuple[list, list, list, list]] = {}
    for i, items in enumerate((dropped_addresses, dropped_routes, dropped_rules, dropped_neighbours)):
        for item in items:
            delete.setdefault(item.namespace, ([], [], [], []))[i].append(item)

    nft = {ns: text for ns, text in new.nft.items() if ns not in keep_nft and old.nft.get(ns) != text}
    nft.update({ns: f"delete table ip {TABLE}\n" for ns in old.nft
                if ns in staying and ns not in new.nft and ns not in keep_nft})
    files = {p: c for p, c in new.files.items() if old.files.get(p) != c}
    symlinks = {p: t for p, t in new.symlinks.items() if old.symlinks.get(p) != t}
    return PlanDiff(create, tuple(unlink), tuple(moves), tuple(veths), config, delete, nft, files, symlinks, remove)


def _route(r: RouteEntry) -> tuple:
    """A planned route as the kernel holds it (the comment is the plan's alone)."""
    return r.namespace, r.table, r.destination, r.type, r.gateway, r.ifname, r.scope, r.onlink


def _rule(r: RuleEntry) -> tuple:
    return r.namespace, r.priority, r.action, r.table, r.fwmark, r.fwmask, r.destination, r.source


def _keyed_routes(plan: Plan) -> dict:
    return {(r.namespace, r.table, r.destination): r for r in plan.routes}


def _keyed_neighbours(plan: Plan) -> dict:
    return {(n.namespace, n.ifname, n.address): n for n in plan.neighbours}


def _link_of(sysctl: str) -> str | None:
    """The link a per-link sysctl (`net/ipv4/conf/<link>/…`, `net/ipv4/neigh/<link>/…`) is about; None for others."""
    parts = sysctl.split("/")
    return parts[3] if len(parts) > 4 and parts[2] in ("conf", "neigh") else None
