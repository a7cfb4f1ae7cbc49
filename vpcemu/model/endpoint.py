"""VpcEndpoint: gateway endpoints (prefix-list routes, no ENI) and interface endpoints (an ENI per subnet)."""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class VpcEndpoint:
    name: str
    id: str
    vpc: str
    vpc_endpoint_type: str                       # Gateway | Interface
    service: str                                 # s3, dynamodb, sqs …
    route_tables: tuple[str, ...] = ()           # Gateway
    subnets: tuple[str, ...] = ()                # Interface
    security_groups: tuple[str, ...] = ()        # Interface
    private_dns_enabled: bool = False            # Interface
    network_interfaces: tuple[str, ...] = ()     # Interface: one requester-managed ENI per subnet

    def service_name(self, region: str) -> str:
        """AWS's ServiceName of the endpoint (`com.amazonaws.us-east-1.s3`): the region is the topology's."""
        return f"com.amazonaws.{region}.{self.service}"

    @property
    def dns_id(self) -> str:
        """The first label of the endpoint's DNS names: its id and 8 characters AWS picks once
        (`vpce-099deb00b40f00e22-lj2wisx3`, aws-vpc-reference §9); here made from the id, so they never change."""
        digest = base64.b32encode(hashlib.sha256(self.id.encode()).digest()).decode().lower()
        return f"{self.id}-{digest[:8]}"
