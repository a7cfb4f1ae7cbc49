"""Route tables ⇄ DescribeRouteTables: their routes, the main table, and the subnets associated with each.

Import keeps the routes a format-1 file writes: not the local routes, nor the gateway endpoints' prefix-list
routes (vpc_endpoint.py adds the tables to the endpoint; the loader adds the routes). A route AWS shows as
`blackhole` (its target deleted) or whose target the import does not carry over is a blackhole in the lab
too; one to a target vpcemu cannot represent (a transit gateway, a VPN gateway, …) is listed and drops its
traffic, so nothing reaches a less specific route AWS would not use. A route to a customer-managed prefix
list becomes one route per entry (a static route of the same destination wins, as in AWS).
"""
from __future__ import annotations

from ..model import RouteTable, TargetKind, Topology, Vpc, aws_id
from ..rules.route_table import route_state
from .context import Importer
from .describe import inner, live_state, objects, tag_list
from .network_interface import attachment_of

KEY = "RouteTables"
UNREPRESENTED_TARGETS = (("TransitGatewayId", "transit gateway"), ("LocalGatewayId", "local gateway"),
                         ("CarrierGatewayId", "carrier gateway"), ("CoreNetworkArn", "Cloud WAN core network"),
                         ("EgressOnlyInternetGatewayId", "egress-only internet gateway (IPv6)"),
                         ("OdbNetworkArn", "Oracle Database@AWS network"))
TARGET_FIELDS = ("GatewayId", "NatGatewayId", "NetworkInterfaceId", "InstanceId", "VpcPeeringConnectionId",
                 *(field for field, _ in UNREPRESENTED_TARGETS))


# -- export ----------------------------------------------------------------------------------------
def to_aws(t: Topology, owner: str) -> list[dict]:
    out = []
    for v in t.vpcs.values():
        for rt in v.route_tables.values():
            out.append({"RouteTableId": rt.id, "VpcId": v.id, "OwnerId": owner, "PropagatingVgws": [],
                        "Associations": _associations(v, rt), "Routes": [_route(t, v, r, owner) for r in rt.routes],
                        "Tags": tag_list(rt.name)})
    return out


def _associations(v: Vpc, rt: RouteTable) -> list[dict]:
    """The main table's association, its internet gateway's (an edge association), and each subnet associated
    explicitly (a subnet on the main table is so implicitly, as when AWS creates it)."""
    out = []
    if rt.main:
        out.append({"Main": True, "RouteTableAssociationId": aws_id("rtbassoc", rt.id), "RouteTableId": rt.id,
                    "AssociationState": {"State": "associated"}})
    if rt.edge_associations:
        out.append({"Main": False, "RouteTableAssociationId": aws_id("rtbassoc", rt.id, v.internet_gateway_id),
                    "RouteTableId": rt.id, "GatewayId": v.internet_gateway_id, "AssociationState": {"State": "associated"}})
    for s in v.subnets.values():
        if s.route_table == rt.name and not rt.main:
            out.append({"Main": False, "RouteTableAssociationId": aws_id("rtbassoc", rt.id, s.id),
                        "RouteTableId": rt.id, "SubnetId": s.id, "AssociationState": {"State": "associated"}})
    return out


def _route(t: Topology, v: Vpc, r, owner: str) -> dict:
    out: dict = {"DestinationPrefixListId": r.destination_prefix_list_id} if r.is_prefix_list else \
        {"DestinationCidrBlock": str(r.destination)}
    kind = r.target_kind
    if kind == TargetKind.LOCAL:
        out["GatewayId"] = "local"
    elif kind == TargetKind.INTERNET_GATEWAY:
        out["GatewayId"] = v.internet_gateway_id
    elif kind == TargetKind.GATEWAY_ENDPOINT:
        out["GatewayId"] = v.endpoints[r.target].id
    elif kind == TargetKind.NAT_GATEWAY and r.target in v.nat_gateways:
        out["NatGatewayId"] = v.nat_gateways[r.target].id
    elif kind == TargetKind.VPC_PEERING:
        out["VpcPeeringConnectionId"] = t.peering[r.target].id
    elif kind == TargetKind.NETWORK_INTERFACE and r.network_interface in v.network_interfaces:
        eni = v.network_interfaces[r.network_interface]
        if eni.attachment is not None:      # AWS shows the instance of an attached ENI
            out["InstanceId"] = v.instances[eni.attachment.instance].id
            out["InstanceOwnerId"] = owner
        out["NetworkInterfaceId"] = eni.id
    out["Origin"] = r.origin
    out["State"] = route_state(v, r)
    return out


# -- import ----------------------------------------------------------------------------------------
def live(ctx: Importer) -> None:
    for t in ctx.items(KEY):
        ident = t.get("RouteTableId")
        if not isinstance(ident, str):
            ctx.error(KEY, t, None, "a route table without a RouteTableId")
            continue
        ctx.known[ident] = KEY
        if ctx.reference(KEY, t, ident, "VpcId", t.get("VpcId"), "Vpcs"):
            ctx.of(KEY)[ident] = t
        elif ctx.holds(t.get("VpcId")):
            ctx.dropped("route table", ident, f"its VPC {t.get('VpcId')} is not carried over")


def from_aws(ctx: Importer) -> None:
    associated: dict[str, str] = {}
    edges: dict[str, list[str]] = {}
    main: dict[str, str] = {}
    for ident, t in ctx.of(KEY).items():
        vpc = t["VpcId"]
        for a in objects(t, "Associations"):
            if not live_state(inner(a, "AssociationState", "State"), "associated"):
                continue
            if a.get("Main") is True:
                main[vpc] = ident
            elif isinstance(a.get("SubnetId"), str):
                if ctx.reference(KEY, t, ident, "Associations.SubnetId", a["SubnetId"], "Subnets"):
                    associated[a["SubnetId"]] = ident
            elif isinstance(a.get("GatewayId"), str):
                gateway = a["GatewayId"]
                if gateway.startswith("igw-") and \
                        ctx.reference(KEY, t, ident, "Associations.GatewayId", gateway, "InternetGateways"):
                    edges.setdefault(ident, []).append(ctx.names[gateway])
                elif not gateway.startswith("igw-"):
                    ctx.unrepresentable("edge association (ingress routing)", ident,
                                        f"{gateway} is associated with this route table; vpcemu routes the inbound "
                                        "traffic of internet gateways only")
        fragment: dict = {"id": ident}
        if main.get(vpc) == ident:
            fragment["main"] = True
        if ident in edges:
            fragment["edge_associations"] = edges[ident]
        routes = _routes(ctx, t, ident, vpc)
        if routes:
            fragment["routes"] = [r for r, _ in routes]
        ctx.place(vpc, "route_tables", ident, fragment, KEY, t)
        base = f"vpcs.{ctx.names[vpc]}.route_tables.{ctx.names[ident]}.routes"
        for i, (_, label) in enumerate(routes):
            ctx.came_from(f"{base}[{i}]", KEY, t, f"{ident} (route to {label})")
    for s_id, s in ctx.of("Subnets").items():
        table = associated.get(s_id) or main.get(s["VpcId"])
        if table is not None:
            ctx.vpc_doc(s["VpcId"])["subnets"][ctx.names[s_id]]["route_table"] = ctx.names[table]


def _routes(ctx: Importer, table: dict, ident: str, vpc: str) -> list[tuple[dict, str]]:
    statics = {r["DestinationCidrBlock"] for r in objects(table, "Routes") if isinstance(r.get("DestinationCidrBlock"), str)}
    out: list[tuple[dict, str]] = []
    for r in objects(table, "Routes"):
        dest, plist, v6 = r.get("DestinationCidrBlock"), r.get("DestinationPrefixListId"), r.get("DestinationIpv6CidrBlock")
        label = dest or plist or v6
        if r.get("GatewayId") == "local":
            continue
        if v6 and not dest:
            ctx.unrepresentable("IPv6 route", ident, f"{v6}: vpcemu emulates IPv4 only")
            continue
        if r.get("Origin") == "EnableVgwRoutePropagation":
            ctx.unrepresentable("propagated route", ident, f"{label} from virtual private gateway {r.get('GatewayId')}")
            continue
        if plist and str(r.get("GatewayId", "")).startswith("vpce-") and r["GatewayId"] in ctx.of("VpcEndpoints"):
            continue        # a gateway endpoint's own route: the endpoint lists this table (vpc_endpoint.py)
        target = _target(ctx, table, ident, vpc, r, label)
        if target is None:
            continue
        if not plist:
            out.append(({"destination": dest, "target": target}, str(label)))
        elif plist in ctx.prefix_list_cidrs:
            cidrs = [c for c in ctx.prefix_list_cidrs[plist] if c not in statics]
            ctx.changed("route", ident, f"{plist} → {target} becomes one route per entry of the prefix list "
                        f"({', '.join(cidrs) or 'none left'})")
            out += [({"destination": c, "target": target}, f"{c} of {plist}") for c in cidrs]
        else:
            ctx.unrepresentable("prefix-list route", ident, f"{plist}: its entries are not in the dump "
                                "(add them to its DescribeManagedPrefixLists item as Entries)")
    return out


def _target(ctx: Importer, table: dict, ident: str, vpc: str, r: dict, label: str) -> str | None:
    """The document's target for AWS route `r`: a name, `blackhole`, or None (refused: a dangling reference)."""
    if r.get("State") == "blackhole":
        gone = next((r[f] for f in TARGET_FIELDS if r.get(f)), None)
        if gone is not None:      # without a target it is vpcemu's own explicit blackhole route
            ctx.changed("route", ident, f"{label}: AWS shows it as a blackhole ({gone} is gone); the lab drops its "
                        "traffic too")
        return "blackhole"
    for field, kind in UNREPRESENTED_TARGETS:
        if r.get(field):
            return _unrepresented(ctx, kind, r[field], ident, label)
    gateway = r.get("GatewayId")
    if isinstance(gateway, str):
        if gateway.startswith("igw-"):
            return _named(ctx, table, ident, r, label, "GatewayId", "InternetGateways")
        kind = "virtual private gateway (VPN)" if gateway.startswith("vgw-") else \
            "Gateway Load Balancer endpoint" if gateway.startswith("vpce-") else "gateway"
        return _unrepresented(ctx, kind, gateway, ident, label)
    if r.get("NatGatewayId"):
        return _named(ctx, table, ident, r, label, "NatGatewayId", "NatGateways")
    if r.get("VpcPeeringConnectionId"):
        return _named(ctx, table, ident, r, label, "VpcPeeringConnectionId", "VpcPeeringConnections")
    eni = r.get("NetworkInterfaceId")
    if eni:
        role = ctx.eni_role.get(eni)
        if role in ("primary", "standalone"):
            instance = attachment_of(ctx.of("NetworkInterfaces")[eni]).get("InstanceId")
            if role == "primary" and len(ctx.attached.get(instance, ())) == 1:
                return ctx.names[instance]          # the instance itself reads better, and means the same ENI
            return ctx.names[eni] if role == "standalone" else f"{ctx.names[instance]}.eth0"
        if role is not None:
            return _unrepresented(ctx, f"{role} network interface", eni, ident, label)
        return _named(ctx, table, ident, r, label, "NetworkInterfaceId", "NetworkInterfaces")
    if r.get("InstanceId"):
        return _named(ctx, table, ident, r, label, "InstanceId", "Instances")
    return _unrepresented(ctx, "route target", label, ident, label)


def _named(ctx: Importer, table: dict, ident: str, r: dict, label: str, field: str, key: str) -> str | None:
    target = r[field]
    if ctx.is_live(key, target):
        return ctx.names[target]
    if ctx.holds(target):
        ctx.changed("route", ident, f"{label}: its target {target} is not carried over; AWS shows such a route as "
                    "a blackhole, and the lab drops its traffic")
        return "blackhole"
    ctx.reference(KEY, table, ident, f"route {label}: {field}", target, key)
    return None


def _unrepresented(ctx: Importer, kind: str, target: str, ident: str, label: str) -> str:
    ctx.unrepresentable(kind, target, f"route {label} of {ident} goes to it; the lab drops that traffic (blackhole)")
    return "blackhole"
