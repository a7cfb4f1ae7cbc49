"""VpcPeeringConnection: a link between two VPC routers; no transitive or edge-to-edge routing."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VpcPeeringConnection:
    name: str
    id: str
    requester: str
    accepter: str
