"""The VPC router's nftables ruleset: one `ip` table, loaded as one atomic transaction per router.

- prerouting: tracing of probe packets, ingress-subnet marks for policy routing, TTL restore (an
  invisible router);
- forward hook only, in AWS's order (aws-vpc-reference §14): source check of the sending ENI, its
  security groups' egress, the source subnet's NACL egress, the destination subnet's NACL ingress,
  the receiving ENI's security groups' ingress, destination check of the receiving ENI.
  Traffic to the router itself (subnet gateways, the resolver) takes the input hook: never filtered.
Every drop rule carries `code=<Reachability Analyzer explanation code> key=value …` for attribution.
"""
from __future__ import annotations

from collections.abc import Iterable

from ..model import NetworkInterface, Topology, Vpc
from . import names
from .network_acl import nacl_chains
from .security_group import comment, sg_chains, sg_sets

TABLE = "vpcemu"


def source_dest_checked(eni: NetworkInterface) -> bool:
    # AWS: an appliance turns the check off; requester-managed ENIs (NAT gateway…) are exempt.
    return eni.source_dest_check and not eni.requester_managed


def source_dest_check(vpc: Vpc) -> list[str]:
    """From a checked ENI's link only its own IPs as source, to it only its own IPs as destination."""
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
                  "  }"]
        for e in enis:
            why = comment(f"code=ENI_SOURCE_DEST_CHECK_RESTRICTION direction={direction} eni={e.name}")
            lines += [f"  chain {_check_chain(e, direction)} {{", f"    counter drop {why}", "  }"]
    return lines


def _check_chain(eni: NetworkInterface, direction: str) -> str:
    return f"source_dest_check_{direction}_{names.router_link(eni)}"


def router_ruleset(vpc: Vpc, marks: dict[str, int], topology: Topology, trace_src: Iterable[str] = ()) -> str:
    """The whole table. `trace_src` carries the addresses being traced over a reload."""
    links = {names.router_link(e): marks[e.subnet] for e in vpc.network_interfaces.values()}
    elements = ", ".join(f'"{link}" : {mark:#x}' for link, mark in sorted(links.items()))
    traced = ", ".join(sorted(set(trace_src)))
    # AWS's VPC router does not decrement TTL: add back what the kernel's forward path takes away.
    # (nft 1.0.6 rejects `ip ttl set ip ttl map …`, so a verdict map jumps to one setter per value.)
    ttl_vmap = ", ".join(f"{n} : jump ttl_{n}" for n in range(1, 255))
    ttl_chains = [f"  chain ttl_{n} {{ ip ttl set {n + 1}; }}" for n in range(1, 255)]
    lines = [
        f"table ip {TABLE}",
        f"delete table ip {TABLE}",
        f"table ip {TABLE} {{",
        "  map eni_subnet_mark {",
        "    type ifname : mark",
        *([f"    elements = {{ {elements} }}"] if elements else []),
        "  }",
        # a probe adds its addresses while it runs, so only its packets are traced
        "  set trace_src {",
        "    type ipv4_addr; flags interval;",
        *([f"    elements = {{ {traced} }};"] if traced else []),
        "  }",
        *sg_sets(topology, vpc),
        *ttl_chains,
        "  chain prerouting {",
        "    type filter hook prerouting priority mangle; policy accept;",
        "    ip saddr @trace_src meta nftrace set 1",
        "    ip daddr @trace_src meta nftrace set 1",
        "    meta mark set iifname map @eni_subnet_mark",
        f"    ip ttl vmap {{ {ttl_vmap} }}",
        "  }",
        *source_dest_check(vpc),
        *sg_chains(vpc),
        *nacl_chains(vpc),
        "}",
    ]
    return "\n".join(lines) + "\n"
