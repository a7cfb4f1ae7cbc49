"""The VPC router's nftables ruleset: ingress-subnet marks for policy routing, and an invisible router.

Loaded as one atomic transaction per router namespace.
"""
from __future__ import annotations

from ..model import Vpc
from . import names

TABLE = "vpcemu"


def router_ruleset(vpc: Vpc, marks: dict[str, int]) -> str:
    links = {names.router_link(e): marks[e.subnet] for e in vpc.network_interfaces.values()}
    elements = ", ".join(f'"{link}" : {mark:#x}' for link, mark in sorted(links.items()))
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
        *( [f"    elements = {{ {elements} }}"] if elements else [] ),
        "  }",
        *ttl_chains,
        "  chain prerouting {",
        "    type filter hook prerouting priority mangle; policy accept;",
        "    meta mark set iifname map @eni_subnet_mark",
        f"    ip ttl vmap {{ {ttl_vmap} }}",
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"
