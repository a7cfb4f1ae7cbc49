"""Prefix lists ⇄ DescribePrefixLists and DescribeManagedPrefixLists.

The AWS-managed lists of S3 and DynamoDB are the lab's own (their CIDRs are the emulated services'
addresses); import keeps their ids (aws.prefix_lists). Any other list, customer-managed or AWS-managed, is
known by its CIDRs: DescribePrefixLists gives them as Cidrs, a managed list as the Entries that
GetManagedPrefixListEntries returns (added to its item in the dump). Rules and routes that name such a list
become one per CIDR (security_group.py, route_table.py).
"""
from __future__ import annotations

from ..model import GATEWAY_SERVICES, Topology
from .context import Importer
from .describe import live_state, objects, strings

KEY = "PrefixLists"
MANAGED = "ManagedPrefixLists"


def to_aws(t: Topology) -> list[dict]:
    return [{"PrefixListId": p.id, "PrefixListName": p.prefix_list_name, "Cidrs": [str(c) for c in p.cidrs]}
            for p in t.prefix_lists.values()]


def managed_to_aws(t: Topology) -> list[dict]:
    return [{"PrefixListId": p.id, "AddressFamily": "IPv4", "State": "create-complete",
             "PrefixListArn": f"arn:aws:ec2:{t.region}:aws:prefix-list/{p.id}", "PrefixListName": p.prefix_list_name,
             "Tags": [], "OwnerId": "AWS"} for p in t.prefix_lists.values()]


def live(ctx: Importer) -> None:
    """Which pl- id is which service's list, and the CIDRs of the others. Gateway endpoint routes name their
    service's list too, so a dump without these calls still resolves them."""
    services = {f"com.amazonaws.{ctx.region}.{s}": s for s in GATEWAY_SERVICES}
    for key in (KEY, MANAGED):
        for p in ctx.items(key):
            ident, name = p.get("PrefixListId"), p.get("PrefixListName")
            if not isinstance(ident, str):
                ctx.error(key, p, None, "a prefix list without a PrefixListId")
                continue
            ctx.known[ident] = key
            if isinstance(name, str) and name in services:
                ctx.prefix_list_services[ident] = services[name]
                ctx.prefix_list_ids[services[name]] = ident
            elif p.get("AddressFamily") == "IPv6":
                continue
            elif not live_state(p.get("State"), "create-complete", "modify-complete", "modify-in-progress",
                                "restore-complete"):
                ctx.dropped("prefix list", ident, f"its state is {p.get('State')}")
            elif "Cidrs" in p or "Entries" in p:
                cidrs = strings(p, "Cidrs") + [e.get("Cidr") for e in objects(p, "Entries") if isinstance(e.get("Cidr"), str)]
                ctx.prefix_list_cidrs[ident] = list(dict.fromkeys(cidrs))
    for t in ctx.items("RouteTables"):
        for r in objects(t, "Routes"):
            pl, gateway = r.get("DestinationPrefixListId"), r.get("GatewayId")
            endpoint = next((e for e in ctx.items("VpcEndpoints") if e.get("VpcEndpointId") == gateway), None)
            name = endpoint.get("ServiceName") if endpoint else None
            if isinstance(pl, str) and isinstance(name, str) and name in services \
                    and pl not in ctx.prefix_list_services:
                ctx.prefix_list_services[pl] = services[name]
                ctx.prefix_list_ids.setdefault(services[name], pl)
