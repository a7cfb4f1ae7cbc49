"""InternetGateway: 1:1 NAT between public IPv4s / Elastic IPs and private IPs of one VPC."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InternetGateway:
    name: str
    id: str
    vpc: str
