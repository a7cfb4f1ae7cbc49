"""`peering:` → VPC peering connections (rules/peering.py). Their pairs are read first, so route
targets and security group references of every VPC can name them."""
from __future__ import annotations

from typing import Any

from ..model import Vpc, VpcPeeringConnection, aws_id
from ..rules import peering as rules
from .context import Document
from .shape import Reader


def peer_pair(r: Reader, name: str, raw: Any) -> tuple[str, str] | None:
    data = r.mapping(raw, f"peering.{name}", ("id", "requester", "accepter"), required=("requester", "accepter"))
    req, acc = data.get("requester"), data.get("accepter")
    if isinstance(req, str) and isinstance(acc, str):
        return req, acc
    return None


def connections(doc: Document, vpcs: dict[str, Vpc], raw: dict[str, Any]) -> dict[str, VpcPeeringConnection]:
    out = {}
    pairs: set[frozenset[str]] = set()
    for name, pair in doc.peer_names.items():
        path = f"peering.{name}"
        if pair is None:
            continue
        doc.claim(name, "peering connection", path)
        found = [doc.passes(f"{path}.{role}", rules.peer_vpc, v, vpcs)
                 for role, v in (("requester", pair[0]), ("accepter", pair[1]))]
        if not all(found) or not doc.passes(path, rules.connection, vpcs[pair[0]], vpcs[pair[1]], pairs):
            continue
        pairs.add(frozenset(pair))
        given = raw[name].get("id") if isinstance(raw.get(name), dict) else None
        out[name] = VpcPeeringConnection(name, doc.resource_id(given, "pcx", f"{path}.id", aws_id("pcx", name)), *pair)
    return out
