"""The VPC router's nftables ruleset: one `ip` table, loaded as one atomic transaction per router.

- prerouting: tracing of probe packets, ingress-subnet marks for policy routing (and the IGW's mark, when
  a gateway route table routes what it delivers), TTL restore (an invisible router);
  a connection to the instance metadata service (169.254.169.254) gets the mark of the ENI link it came in on,
  which its accepted socket keeps (tcp_fwmark_accept): how the service knows the asker;
- forward hook only, in AWS's order (aws-vpc-reference §14): source check of the sending ENI, its
  security groups' egress, the source subnet's NACL egress, the destination subnet's NACL ingress,
  the receiving ENI's security groups' ingress, destination check of the receiving ENI.
  Traffic to the router itself (subnet gateways, the resolver) takes the input hook: never filtered.
Every drop rule carries `code=<Reachability Analyzer explanation code> key=value …` for attribution.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from ipaddress import IPv4Network

from ..codes import ExplanationCode
from ..model import NetworkInterface, Route, TargetKind, Topology, Vpc
from . import names
from .network_acl import nacl_chains
from .nft import TABLE, TRACE_SET, drop, prerouting_chain, ruleset, trace_set
from .internet_gateway import ROUTER_LINK as IGW_LINK
from .peering import peering_chain
from .security_group import sg_chains, sg_sets
from .vpc_endpoint import gateway_endpoint_chain


INSTANCE_METADATA = "169.254.169.254"         # IMDS, answered by the router as the hypervisor answers it


def source_dest_checked(eni: NetworkInterface) -> bool:
    # AWS: an appliance turns the check off; requester-managed ENIs (NAT gateway…) are exempt.
    return eni.source_dest_check and not eni.requester_managed


def source_dest_check(vpc: Vpc) -> list[str]:
    """From a checked ENI's link only its own IPs as source, to it only its own IPs as destination.

    It depends on the VPC's ENIs alone, and a live change that leaves them alone keeps their (immutable)
    mapping, so the lines made from that very mapping are reused (callers must not modify them)."""
    interfaces = vpc.network_interfaces
    hit = _checks.get(id(interfaces))
    if hit is None:
        if len(_checks) >= 8:
            _checks.clear()
        hit = _checks[id(interfaces)] = (interfaces, _source_dest_check(vpc))    # held: its id stays its own
    return hit[1]


_checks: dict[int, tuple[object, list[str]]] = {}


def _source_dest_check(vpc: Vpc) -> list[str]:
    enis = sorted((e for e in vpc.network_interfaces.values() if source_dest_checked(e)), key=names.router_link)
    own = ", ".join(f'"{names.router_link(e)}" . {ip}' for e in enis for ip in e.private_ip_addresses)
    lines = ["  set eni_addresses {",
             "    type ifname . ipv4_addr;",
             *([f"    elements = {{ {own} }};"] if own else []),
             "  }"]
    for direction, key, field, priority in (("egress", "iifname", "saddr", "filter - 30"),
                                            ("ingress", "oifname", "daddr", "filter + 20")):
        vmap = ", ".join(f'"{names.router_link(e)}" : goto {_check_chain(e, direction)}' for e in enis)
        lines += [f"  chain source_dest_check_{direction} {{",
                  f"    type filter hook forward priority {priority}; policy accept;",
                  # only a packet that fails the set lookup meets the per-ENI drop, found by name
                  *([f"    {key} . ip {field} != @eni_addresses {key} vmap {{ {vmap} }}"] if vmap else []),
                  # the first forward chain: TTL 255 restored after the kernel's decrement (TTL_CHAINS)
                  *([f"    {TTL_255_RESTORE}"] if direction == "egress" else []),
                  "  }"]
        for e in enis:
            refused = drop(ExplanationCode.ENI_SOURCE_DEST_CHECK_RESTRICTION, direction=direction, eni=e.name)
            lines += [f"  chain {_check_chain(e, direction)} {{", f"    {refused}", "  }"]
    return lines


def _check_chain(eni: NetworkInterface, direction: str) -> str:
    return f"source_dest_check_{direction}_{names.router_link(eni)}"


EDGE_MARK = 0xFF         # packets from the IGW, when a gateway route table routes them (subnet marks start at 0x100)


# AWS's VPC router does not decrement TTL: add back what the kernel's forward path takes away.
# (nft 1.0.6 rejects `ip ttl set ip ttl map …`, so a verdict map jumps to one setter per value.)
# TTL 255 has no value above it: such a packet gets a mark bit (above the subnet marks' mask) instead, and the
# first forward chain, after the kernel's decrement, sets 255 again.
TTL_255_MARK = 0x10000
TTL_VMAP = ", ".join(f"{n} : jump ttl_{n}" for n in range(1, 256))
TTL_CHAINS = (*(f"  chain ttl_{n} {{ ip ttl set {n + 1}; }}" for n in range(1, 255)),
              f"  chain ttl_255 {{ meta mark set meta mark or {TTL_255_MARK:#x}; }}")
TTL_255_RESTORE = f"meta mark and {TTL_255_MARK:#x} == {TTL_255_MARK:#x} ip ttl set 255"


def metadata_mark(eni: NetworkInterface) -> int:
    """The mark a connection from `eni` to IMDS carries: its id's first 8 hex digits (the whole of a short id), so
    the mark of an ENI never changes and the service needs no table the ruleset and the model could disagree on."""
    return int(eni.id[4:12], 16)


def metadata_map(vpc: Vpc) -> list[str]:
    enis = sorted(vpc.network_interfaces.values(), key=names.router_link)
    elements = ", ".join(f'"{names.router_link(e)}" : {metadata_mark(e):#x}' for e in enis)
    return ["  map metadata_mark {",
            "    type ifname : mark",
            *([f"    elements = {{ {elements} }}"] if elements else []),
            "  }"]


# The packets of a connection to IMDS (a local address: routing looks it up in the local table before any
# fwmark rule) carry the mark of the ENI they came from; from any other link (a peering, the IGW) the map has no
# element, the mark stays, and the service, finding no ENI of that mark, answers nothing.
METADATA_RULE = f"ip daddr {INSTANCE_METADATA} meta mark set iifname map @metadata_mark"


def middlebox_routes(vpc: Vpc) -> list[tuple[str, Route]]:
    """(subnet, route) for every route a subnet's table sends to an ENI or instance: a middlebox."""
    return [(s.name, r) for s in vpc.subnets.values() for r in vpc.route_tables[s.route_table].routes
            if r.target_kind == TargetKind.NETWORK_INTERFACE and r.network_interface in vpc.network_interfaces]


def middlebox_destinations(vpc: Vpc) -> list[tuple[str, IPv4Network]]:
    """(subnet, range) for what a subnet's table really sends to a middlebox: each route to an ENI less what a
    more specific route takes (the VPC's local route first: 0.0.0.0/0 to an appliance leaves the VPC's own
    traffic direct), as disjoint ranges (an nft interval set refuses overlapping ones)."""
    out: set[tuple[str, IPv4Network]] = set()
    for subnet, r in middlebox_routes(vpc):
        table = vpc.route_tables[vpc.subnets[subnet].route_table]
        narrower = [c for c in (*vpc.cidr_blocks, *(o.destination for o in table.routes if o.destination is not None))
                    if c != r.destination and c.subnet_of(r.destination)]
        ranges = [r.destination]
        for c in narrower:
            ranges = [piece for x in ranges for piece in
                      ((x,) if not x.overlaps(c) else tuple(x.address_exclude(c)) if c.subnet_of(x) else ())]
        out.update((subnet, x) for x in ranges)
    return sorted(out, key=lambda item: (item[0], item[1]))


def gateway_routes(vpc: Vpc) -> list[tuple[str, Route]]:
    """(gateway route table, route) for every route of a table edge-associated with the IGW to an ENI or instance:
    the appliance that inbound traffic crosses first (ingress routing)."""
    return [(rt.name, r) for rt in vpc.route_tables.values() if rt.edge_associations for r in rt.routes
            if r.target_kind == TargetKind.NETWORK_INTERFACE and r.network_interface in vpc.network_interfaces]


def edge_route_table(vpc: Vpc) -> str | None:
    """The table edge-associated with the VPC's internet gateway, if one is."""
    return next((rt.name for rt in vpc.route_tables.values() if vpc.internet_gateway in rt.edge_associations), None)


def ingress_routing(vpc: Vpc) -> list[str]:
    """Inbound traffic a gateway route table sends to an appliance ENI without a public IP goes no further: AWS
    requires one for traffic from an internet gateway (gateway-route-tables.html), INGRESS_RTB_NO_PUBLIC_IP.
    Before every other filter, as the analysis checks it when the gateway route table is looked up."""
    routes = gateway_routes(vpc)
    if not routes:
        return []
    lines = ["  chain ingress_routing {", "    type filter hook forward priority filter - 40; policy accept;"]
    for table, r in routes:
        eni = vpc.network_interfaces[r.network_interface]
        if not eni.public_addresses:
            refused = drop(ExplanationCode.INGRESS_RTB_NO_PUBLIC_IP, direction="ingress", igw=vpc.internet_gateway,
                           route_table=table, eni=eni.name)
            lines.append(f'    iifname "{IGW_LINK}" oifname "{names.router_link(eni)}" ip daddr {r.destination} '
                         f'{refused}')
    return [*lines, "  }"]


def middlebox_zones(vpc: Vpc, marks: dict[str, int]) -> list[str]:
    """Conntrack zones for traffic through a middlebox (a route to an ENI): its packets cross this router
    twice with the same addresses and ports, once on each side of the appliance. One conntrack entry
    for both passes goes wrong (a RST answering an unanswered SYN deletes it on the first pass, so the
    second pass is invalid), while AWS tracks each ENI's side on its own. So each pass gets its own
    zone, that of the ENI on the far side of the middlebox, which its replies get too: a packet from a
    middlebox takes the zone of the ENI it is for; a packet routed to (or addressed to) a middlebox
    that of its sender."""
    routes = middlebox_routes(vpc)
    # an appliance of ingress routing is a middlebox too; traffic from the IGW keeps the default zone (its
    # answer, from the appliance to an address no ENI has, gets no zone of its own either)
    both = [*routes, *gateway_routes(vpc)]
    if not both:
        return []
    boxes = ", ".join(sorted({f'"{names.router_link(vpc.network_interfaces[r.network_interface])}"' for _, r in both}))
    zone = {names.router_link(e): i + 1 for i, e in enumerate(sorted(vpc.network_interfaces.values(),
                                                                      key=names.router_link))}
    to_box = ", ".join(f"{marks[subnet]:#x} . {cidr}" for subnet, cidr in middlebox_destinations(vpc))
    box_ips = ", ".join(str(ip) for t in sorted({r.network_interface for _, r in both})
                        for ip in vpc.network_interfaces[t].private_ip_addresses)
    by_link = ", ".join(f'"{link}" : {z}' for link, z in zone.items())
    by_address = ", ".join(f"{ip} : {zone[names.router_link(e)]}" for e in vpc.network_interfaces.values()
                           for ip in e.private_ip_addresses)
    return [
        "  set middlebox_links {", "    type ifname;", f"    elements = {{ {boxes} }}", "  }",
        "  set to_middlebox {", "    type mark . ipv4_addr; flags interval;",
        *([f"    elements = {{ {to_box} }}"] if to_box else []), "  }",
        "  map link_zone {", "    typeof iifname : ct zone;", f"    elements = {{ {by_link} }}", "  }",
        "  map address_zone {", "    typeof ip daddr : ct zone;", f"    elements = {{ {by_address} }}", "  }",
        "  chain middlebox_zone {",
        "    type filter hook prerouting priority raw; policy accept;",
        "    meta mark set iifname map @eni_subnet_mark",
        "    iifname @middlebox_links ct zone set ip daddr map @address_zone",
        "    iifname != @middlebox_links meta mark . ip daddr @to_middlebox ct zone set iifname map @link_zone",
        # the middlebox's own traffic: the same zone both ways
        f"    iifname != @middlebox_links ip daddr {{ {box_ips} }} ct zone set iifname map @link_zone",
        "  }",
    ]


def router_ruleset(vpc: Vpc, marks: dict[str, int], topology: Topology, trace_src: Iterable[str] = ()) -> str:
    """The whole table. `trace_src` carries the addresses being traced over a reload."""
    links = {names.router_link(e): marks[e.subnet] for e in vpc.network_interfaces.values()}
    if edge_route_table(vpc):
        links[IGW_LINK] = EDGE_MARK         # policy routing sends what the IGW delivers to the gateway route table
    elements = ", ".join(f'"{link}" : {mark:#x}' for link, mark in sorted(links.items()))
    return ruleset(
        ["  map eni_subnet_mark {",
         "    type ifname : mark",
         *([f"    elements = {{ {elements} }}"] if elements else []),
         "  }"],
        trace_set(trace_src),
        sg_sets(topology, vpc),
        TTL_CHAINS,
        metadata_map(vpc),
        prerouting_chain("meta mark set iifname map @eni_subnet_mark", f"ip ttl vmap {{ {TTL_VMAP} }}", METADATA_RULE),
        middlebox_zones(vpc, marks),
        ingress_routing(vpc),
        source_dest_check(vpc),
        sg_chains(vpc),
        nacl_chains(vpc),
        peering_chain(topology, vpc),
        gateway_endpoint_chain(topology, vpc),
    )


# -- live changes as diffs -------------------------------------------------------------------------
# a top-level block starts on a line `  KIND NAME {` (its lines follow, up to `  }`), or is that line alone
_BLOCK_START = re.compile(r"\n(?=  [^\s}])")


@lru_cache(maxsize=4)
def blocks(text: str) -> dict[str, str]:
    """The table's top-level blocks (`chain X`, `set X`, `map X`) → their text, in order (cached: a live
    change's new ruleset is the next change's old one)."""
    head = f"table ip {TABLE} {{\n"
    body = text[text.index(head) + len(head):text.rindex("\n}")]
    return {block[2:block.index(" {")]: block for block in _BLOCK_START.split(body)}


def _inner(block: str) -> list[str]:
    if "\n" not in block:
        return [block[block.index("{") + 1:block.rindex("}")].strip()]
    return [line.strip() for line in block.split("\n")[1:-1]]


def _base(inner: list[str]) -> bool:
    return bool(inner) and inner[0].startswith("type filter hook")


def _elements(lines: list[str]) -> tuple[list[str], str | None]:
    """A set's or map's declaration lines without its elements, and the elements text."""
    decl = [line for line in lines if not line.startswith("elements")]
    elems = next((line for line in lines if line.startswith("elements")), None)
    return decl, (elems[elems.index("{") + 1:elems.rindex("}")].strip() if elems else None)


def _regular_chain(block: str) -> bool:
    """A chain block of several lines that hooks nowhere (its rules alone, one a line)."""
    line = block.find("\n")
    return line >= 0 and not block.startswith("type filter hook", line + 5) and block.startswith("  chain ")


def _rule_added(name: str, old_block: str, new_block: str) -> str | None:
    """For a regular chain that only gained one rule (a security group rule authorized): the command putting it
    at its place, found by index (no rule handles needed; the chain's other rules stay as they are); else None."""
    was, now = old_block.split("\n"), new_block.split("\n")      # the head line, a line per rule, `  }`
    k = next((j for j, (x, y) in enumerate(zip(was, now, strict=False)) if x != y), len(was))
    if now[:k] + now[k + 1:] != was:
        return None
    rule = now[k].strip()
    if k > 1:
        return f"add rule ip {TABLE} {name} index {k - 2} {rule}"          # after the rule before it
    return f"insert rule ip {TABLE} {name} index 0 {rule}" if len(was) > 2 else f"add rule ip {TABLE} {name} {rule}"


def ruleset_diff(old: str, new: str) -> str | None:
    """One nft transaction turning the loaded `old` table into `new`, touching only what changed.

    A chain that only gained one rule gets that rule at its place; other changed chains are flushed and
    refilled, changed sets and maps refilled; new blocks added, removed ones deleted. `None` when only a
    whole reload can do it (a base chain's hook, a set's type). The probe tracing set `trace_src` belongs
    to running probes and is never touched.
    """
    a, b = blocks(old), blocks(new)
    first: list[str] = []           # declarations of new sets/maps and empty new chains
    flushes: list[str] = []
    bodies: list[str] = []          # inside one `table ip vpcemu { … }`
    deletes: list[str] = []
    rule_adds: list[str] = []       # one rule put into a chain at its place, by index
    traced = f"set {TRACE_SET}"
    for key, block in b.items():
        old_block = a.get(key)
        if key == traced or old_block == block:
            continue
        kind, name = key.split()
        if old_block is not None and _regular_chain(block) and _regular_chain(old_block):
            # as it is: one rule more goes in at its place, else the chain is refilled with its block
            added = _rule_added(name, old_block, block) if block.count("\n") == old_block.count("\n") + 1 else None
            if added is not None:
                rule_adds.append(added)
                continue
            flushes.append(f"flush chain ip {TABLE} {name}")
            if block.count("\n") > 1:
                bodies.append(block)
            continue
        inner, old_inner = _inner(block), _inner(old_block) if old_block is not None else None
        # a base chain's hook is its first line
        if _base(inner) or (old_inner is not None and _base(old_inner)):
            if old_inner is None or old_inner[0] != inner[0]:
                return None         # a base chain appears, goes or changes its hook
        if kind == "chain":
            if old_inner is None:
                first.append(f"add chain ip {TABLE} {name}")
            else:
                flushes.append(f"flush chain ip {TABLE} {name}")
            rules = inner[1:] if _base(inner) else inner
            if rules:
                bodies.append(f"  chain {name} {{\n" + "\n".join(f"    {r}" for r in rules) + "\n  }")
            continue
        decl, elements = _elements(inner)
        if old_inner is None:
            first.append(f"add {kind} ip {TABLE} {name} {{ {' '.join(d.rstrip(';') + ';' for d in decl)} }}")
        elif _elements(old_inner)[0] != decl:
            return None             # a set's type or flags changed
        else:
            flushes.append(f"flush {kind} ip {TABLE} {name}")
        if elements:
            bodies.append(f"add element ip {TABLE} {name} {{ {elements} }}")
    for key in a:
        if key not in b:
            kind, name = key.split()
            if _base(_inner(a[key])):
                return None
            deletes.append(f"delete {kind} ip {TABLE} {name}")
    element_adds = [x for x in bodies if x.startswith("add element")]
    chain_bodies = [x for x in bodies if not x.startswith("add element")]
    out = [*first, *flushes, *element_adds, *rule_adds]
    if chain_bodies:
        out += [f"table ip {TABLE} {{", *chain_bodies, "}"]
    # chains before sets: a removed set may still be named by a removed chain until that goes
    out += sorted(deletes, key=lambda d: not d.startswith("delete chain"))
    return "\n".join(out) + "\n"
