"""VPC endpoints ⇄ DescribeVpcEndpoints: gateway endpoints with their route tables, interface endpoints with
their subnets, security groups, private DNS and one requester-managed ENI per subnet. A service the emulated
region does not offer, and other endpoint types (Gateway Load Balancer, resource, service network), cannot
be represented and are listed."""
from __future__ import annotations

from ..model import KNOWN_SERVICES, Topology
from .context import Importer
from .describe import live_state, objects, strings, tag_list
from .network_interface import private_ips

KEY = "VpcEndpoints"


def to_aws(t: Topology, owner: str) -> list[dict]:
    out = []
    for v in t.vpcs.values():
        for e in v.endpoints.values():
            enis = [v.network_interfaces[n] for n in e.network_interfaces]
            out.append({
                "VpcEndpointId": e.id, "VpcEndpointType": e.vpc_endpoint_type, "VpcId": v.id,
                "ServiceName": e.service_name(t.region), "State": "available",
                "RouteTableIds": [v.route_tables[n].id for n in e.route_tables],
                "SubnetIds": [v.subnets[n].id for n in e.subnets],
                "Groups": [{"GroupId": v.security_groups[g].id, "GroupName": g} for g in e.security_groups],
                "IpAddressType": "ipv4", "PrivateDnsEnabled": e.private_dns_enabled, "RequesterManaged": False,
                "NetworkInterfaceIds": [x.id for x in enis], "OwnerId": owner, "Tags": tag_list(e.name)})
    return out


def service(ctx: Importer, endpoint: dict) -> str | None:
    """com.amazonaws.<region>.<service> → the service, if the emulated region offers it."""
    name = endpoint.get("ServiceName")
    prefix = f"com.amazonaws.{ctx.region}."
    if isinstance(name, str) and name.startswith(prefix) and name[len(prefix):] in KNOWN_SERVICES:
        return name[len(prefix):]
    return None


def live(ctx: Importer) -> None:
    for e in ctx.items(KEY):
        ident = e.get("VpcEndpointId")
        if not isinstance(ident, str):
            ctx.error(KEY, e, None, "a VPC endpoint without a VpcEndpointId")
            continue
        ctx.known[ident] = KEY
        etype = e.get("VpcEndpointType")
        if not live_state(e.get("State"), "available"):
            ctx.dropped("VPC endpoint", ident, f"its state is {e.get('State')}, not available")
        elif not ctx.reference(KEY, e, ident, "VpcId", e.get("VpcId"), "Vpcs"):
            if ctx.holds(e.get("VpcId")):
                ctx.dropped("VPC endpoint", ident, f"its VPC {e.get('VpcId')} is not carried over")
        elif etype not in ("Gateway", "Interface"):
            ctx.unrepresentable(f"{etype} VPC endpoint", ident, f"{e.get('ServiceName')}: vpcemu emulates gateway and "
                                "interface endpoints")
        elif service(ctx, e) is None:
            ctx.unrepresentable("VPC endpoint", ident, f"{e.get('ServiceName')} is not a service the emulated region "
                                f"offers ({', '.join(KNOWN_SERVICES)})")
        else:
            ctx.of(KEY)[ident] = e


def from_aws(ctx: Importer) -> None:
    for ident, e in ctx.of(KEY).items():
        name = service(ctx, e)
        ctx.services.add(name)
        fragment: dict = {"id": ident, "type": e["VpcEndpointType"].lower(), "service": name}
        if e["VpcEndpointType"] == "Gateway":
            tables = [t for t in strings(e, "RouteTableIds")
                      if ctx.reference(KEY, e, ident, "RouteTableIds", t, "RouteTables")]
            tables += [t for t in _tables_routing_to(ctx, ident) if t not in tables]
            fragment["route_tables"] = [ctx.names[t] for t in tables]
        else:
            subnets = [s for s in strings(e, "SubnetIds") if ctx.reference(KEY, e, ident, "SubnetIds", s, "Subnets")]
            fragment["subnets"] = [ctx.names[s] for s in subnets]
            groups = objects(e, "Groups")
            fragment["security_groups"] = [ctx.names[g["GroupId"]] for g in groups
                                           if ctx.reference(KEY, e, ident, "Groups.GroupId", g.get("GroupId"),
                                                            "SecurityGroups")]
            fragment["private_dns"] = e.get("PrivateDnsEnabled") is True
            interfaces = {}
            for eni_id in strings(e, "NetworkInterfaceIds"):
                eni = ctx.of("NetworkInterfaces").get(eni_id)
                if eni is not None and eni.get("SubnetId") in subnets and private_ips(eni):
                    interfaces[ctx.names[eni["SubnetId"]]] = {"id": eni_id, "private_ip": private_ips(eni)[0]}
            missing = [ctx.names[s] for s in subnets if ctx.names[s] not in interfaces]
            if missing:
                ctx.changed("VPC endpoint", ident, f"its network interfaces in {', '.join(missing)} are not in the dump; "
                            "vpcemu chooses their addresses")
            if interfaces:
                fragment["network_interfaces"] = interfaces
        ctx.place(e["VpcId"], "endpoints", ident, fragment, KEY, e)


def _tables_routing_to(ctx: Importer, endpoint: str) -> list[str]:
    """Tables with a prefix-list route to the endpoint (a Terraform-made dump may list them only there)."""
    return [i for i, t in ctx.of("RouteTables").items()
            if any(r.get("GatewayId") == endpoint and r.get("DestinationPrefixListId") for r in objects(t, "Routes"))]
