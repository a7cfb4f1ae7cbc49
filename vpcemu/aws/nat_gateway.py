"""NAT gateways ⇄ DescribeNatGateways: subnet, connectivity, and the primary address (its requester-managed
ENI, private IP and, when public, Elastic IP). Only `available` ones are live; routes to the others are
blackholes (route_table.py), as AWS shows them."""
from __future__ import annotations

from ..model import Topology
from .context import Importer
from .describe import live_state, objects, tag_list
from .elastic_ip import keep_allocation_id
from .network_interface import association_id

KEY = "NatGateways"


def to_aws(t: Topology, owner: str) -> list[dict]:
    out = []
    for v in t.vpcs.values():
        for n in v.nat_gateways.values():
            eni = v.network_interfaces[n.network_interface]
            address: dict = {"NetworkInterfaceId": eni.id, "PrivateIp": str(eni.private_ip_address), "IsPrimary": True,
                             "Status": "succeeded"}
            if n.eip is not None:
                address |= {"AllocationId": t.allocation_id(n.eip), "PublicIp": str(n.eip),
                            "AssociationId": association_id(n.eip, eni.id)}
            out.append({"NatGatewayId": n.id, "SubnetId": v.subnets[n.subnet].id, "VpcId": v.id, "State": "available",
                        "ConnectivityType": n.connectivity_type, "NatGatewayAddresses": [address],
                        "Tags": tag_list(n.name)})
    return out


def live(ctx: Importer) -> None:
    for n in ctx.items(KEY):
        ident = n.get("NatGatewayId")
        if not isinstance(ident, str):
            ctx.error(KEY, n, None, "a NAT gateway without a NatGatewayId")
            continue
        ctx.known[ident] = KEY
        if not live_state(n.get("State"), "available"):
            ctx.dropped("NAT gateway", ident, f"its state is {n.get('State')}, not available")
        elif ctx.reference(KEY, n, ident, "SubnetId", n.get("SubnetId"), "Subnets"):
            ctx.of(KEY)[ident] = n
        elif ctx.holds(n.get("SubnetId")):
            ctx.dropped("NAT gateway", ident, f"its subnet {n.get('SubnetId')} is not carried over")


def from_aws(ctx: Importer) -> None:
    for ident, n in ctx.of(KEY).items():
        addresses = sorted(objects(n, "NatGatewayAddresses"), key=lambda a: a.get("IsPrimary") is False)
        fragment: dict = {"id": ident, "subnet": ctx.names[n["SubnetId"]],
                          "connectivity": n.get("ConnectivityType") or "public"}
        if addresses:
            primary = addresses[0]
            if primary.get("PublicIp"):
                fragment["eip"] = primary["PublicIp"]
                keep_allocation_id(ctx, primary["PublicIp"], primary.get("AllocationId"))
            if primary.get("PrivateIp"):
                fragment["private_ip"] = primary["PrivateIp"]
            if primary.get("NetworkInterfaceId"):
                fragment["network_interface_id"] = primary["NetworkInterfaceId"]
        for extra in addresses[1:]:
            ctx.unrepresentable("secondary NAT gateway address", ident, f"{extra.get('PrivateIp')} "
                                f"{extra.get('PublicIp') or ''}".strip() + ": the lab's NAT gateway has one address")
        ctx.place(ctx.of("Subnets")[n["SubnetId"]]["VpcId"], "nat_gateways", ident, fragment, KEY, n)
