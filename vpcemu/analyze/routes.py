"""Route tables as the VPC router looks them up (aws-vpc-reference §2).

Longest prefix match over every route, each prefix-list route expanded into its member CIDRs; a
static route for exactly a member's CIDR wins the tie, so that member is left out (as the plan
leaves its kernel route out). `local` is one route per VPC CIDR, so a more specific middlebox route
(a whole subnet → an ENI) wins by prefix length.
"""
from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from ..model import PrefixList, Route, RouteTable


@dataclass(frozen=True)
class RouteChoice:
    route: Route
    destination: str            # as AWS shows the route: its CIDR, or its pl- id
    cidr: IPv4Network           # what matched: the CIDR, or the prefix list's member


class RouteLookup:
    def __init__(self, table: RouteTable, prefix_lists: dict[str, PrefixList]):
        static = {r.destination for r in table.routes if r.destination is not None}
        entries: list[RouteChoice] = []
        for r in table.routes:
            if r.is_prefix_list:
                pl = prefix_lists.get(r.destination_prefix_list_id)
                entries += [RouteChoice(r, r.destination_prefix_list_id, c)
                            for c in (pl.cidrs if pl else ()) if c not in static]
            else:
                entries.append(RouteChoice(r, str(r.destination), r.destination))
        entries.sort(key=lambda c: -c.cidr.prefixlen)
        self.table = table
        self._entries = [(int(c.cidr.network_address), int(c.cidr.netmask), c) for c in entries]

    def lookup(self, address: IPv4Address) -> RouteChoice | None:
        a = int(address)
        return next((c for net, mask, c in self._entries if a & mask == net), None)
