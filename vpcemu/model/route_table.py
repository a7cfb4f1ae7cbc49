"""RouteTable and Route: the `local` routes, static routes and prefix-list routes of one table, and the gateways
it is edge-associated with."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from ipaddress import IPv4Network


class TargetKind(str, Enum):
    LOCAL = "local"
    BLACKHOLE = "blackhole"
    NETWORK_INTERFACE = "network-interface"   # an ENI, or an instance (its primary ENI)
    INTERNET_GATEWAY = "internet-gateway"
    NAT_GATEWAY = "nat-gateway"
    GATEWAY_ENDPOINT = "gateway-endpoint"
    VPC_PEERING = "vpc-peering-connection"


@dataclass(frozen=True)
class Route:
    """One route. `target` names the resource; for an instance target, `network_interface` is its primary ENI."""

    destination: IPv4Network | None
    target_kind: TargetKind
    target: str | None = None
    network_interface: str | None = None
    destination_prefix_list_id: str | None = None
    origin: str = "CreateRoute"          # CreateRouteTable (local), CreateRoute, CreateVpcEndpoint
    state: str = "active"                # active | blackhole

    @property
    def is_prefix_list(self) -> bool:
        return self.destination_prefix_list_id is not None


@dataclass(frozen=True)
class RouteTable:
    """`edge_associations`: the gateways (this VPC's internet gateway) whose inbound traffic the table routes:
    a gateway route table (aws-vpc-reference §2, ingress routing)."""

    name: str
    id: str
    vpc: str
    main: bool
    routes: tuple[Route, ...]
    edge_associations: tuple[str, ...] = ()
