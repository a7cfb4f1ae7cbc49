"""NAT gateways, live: DeleteNatGateway. Its namespace and requester-managed ENI go, its EIP is
disassociated (still allocated), and every route that targets it turns `blackhole` until it is
replaced (aws-vpc-reference §7), which `status` shows."""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..model import Topology
from .api import one_change
from .live import apply_topology
from .security import one_of, with_vpc

if TYPE_CHECKING:
    from ..lab import Lab


@one_change
def delete_nat_gateway(lab: Lab, name: str, vpc: str | None = None) -> Topology:
    return apply_topology(lab, nat_gateway_deleted(lab.topology, name, vpc))


def nat_gateway_deleted(topology: Topology, name: str, vpc: str | None = None) -> Topology:
    v, name = one_of(topology, "nat", name, vpc)
    nat = v.nat_gateways[name]
    # a route keeps its target's name and kind, as AWS keeps the NatGatewayId; its ENI is gone
    tables = {rt.name: replace(rt, routes=tuple(replace(r, state="blackhole", network_interface=None)
                                                if r.target == nat.name else r for r in rt.routes))
              for rt in v.route_tables.values()}
    return with_vpc(topology, replace(
        v, nat_gateways={k: n for k, n in v.nat_gateways.items() if k != nat.name},
        network_interfaces={k: e for k, e in v.network_interfaces.items() if k != nat.network_interface},
        route_tables=tables))
