"""VpcEndpoint: gateway endpoints (prefix-list routes, no ENI) and interface endpoints (an ENI per subnet)."""
from __future__ import annotations

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
