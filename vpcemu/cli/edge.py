"""`vpcemu eip`, `nat`, `route`, `route-table`, `endpoint`, `vpc`: live edge changes on a running lab (AWS's
AssociateAddress / DisassociateAddress, DeleteNatGateway, CreateRoute / ReplaceRoute / DeleteRoute,
AssociateRouteTable / DisassociateRouteTable with a GatewayId, CreateVpcEndpoint / ModifyVpcEndpoint /
DeleteVpcEndpoints, ModifyVpcAttribute)."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from .common import JsonOpt, LabOpt, Report, VpcOpt, apply_change, done, running_lab

eip_app = typer.Typer(no_args_is_help=True, help="Elastic IPs, live: associate (or move) and disassociate.")
nat_app = typer.Typer(no_args_is_help=True, help="NAT gateways, live: delete (its routes turn blackhole).")
route_app = typer.Typer(no_args_is_help=True, help="Routes, live: create, replace, delete.")
route_table_app = typer.Typer(no_args_is_help=True, help="Route tables, live: associate with or disassociate from "
                                                           "the internet gateway (a gateway route table).")
endpoint_app = typer.Typer(no_args_is_help=True, help="VPC endpoints, live: create, modify, delete.")
vpc_app = typer.Typer(no_args_is_help=True, help="VPCs, live: modify-attribute (DNS support, DNS hostnames).")
PublicIpArg = Annotated[str, typer.Argument(help="The Elastic IP, from the lab's public pools.")]
RouteTableArg = Annotated[str, typer.Argument(help="Route table name or rtb- id.")]
DestinationArg = Annotated[str, typer.Argument(help="Destination CIDR, e.g. 0.0.0.0/0.")]
TargetArg = Annotated[str, typer.Argument(help="blackhole, the IGW, a NAT gateway, an instance, an ENI or a peering "
                                                "(name or AWS id).")]


@eip_app.command()
def associate(public_ip: PublicIpArg,
              network_interface: Annotated[str, typer.Option("--eni", help="ENI name or id, or an instance (its eth0).")],
              private_ip: Annotated[Optional[str], typer.Option(help="Default: the ENI's primary private IP.")] = None,
              allow_reassociation: Annotated[bool, typer.Option(help="Move it if it is associated elsewhere.")] = False,
              lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Map an Elastic IP to a private IP (associate-address); with --allow-reassociation it moves."""
    from ..ops.elastic_ip import associate_address
    from ..ops.security import interface
    the_lab = running_lab(lab, as_json)

    def report(ms: float) -> Report:
        eni = interface(the_lab.topology, network_interface)
        private = next(p for p, e in eni.eips.items() if str(e) == public_ip)
        return done(f"associated {public_ip} → {eni.name} {private}",
                    {"public_ip": public_ip, "network_interface": eni.name, "private_ip": str(private)}, ms)

    apply_change(as_json, lambda: associate_address(the_lab, public_ip, network_interface, private_ip,
                                                    allow_reassociation), report)


@eip_app.command()
def disassociate(public_ip: PublicIpArg, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Remove an Elastic IP's mapping (disassociate-address); it stays allocated to the lab."""
    from ..ops.elastic_ip import disassociate_address
    the_lab = running_lab(lab, as_json)
    apply_change(as_json, lambda: disassociate_address(the_lab, public_ip),
                 lambda ms: done(f"disassociated {public_ip}", {"public_ip": public_ip}, ms))


@nat_app.command()
def delete(nat_gateway: Annotated[str, typer.Argument(help="NAT gateway name or nat- id.")],
           vpc: VpcOpt = None, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Delete a NAT gateway (delete-nat-gateway): routes to it turn blackhole until replaced."""
    from ..ops.nat_gateway import delete_nat_gateway
    the_lab = running_lab(lab, as_json)
    name = the_lab.topology.name_of(nat_gateway, "nat")       # gone from the model once deleted

    def report(ms: float) -> Report:
        blackholes = [f"{rt.name} {r.destination}" for v in the_lab.topology.vpcs.values()
                      for rt in v.route_tables.values() for r in rt.routes
                      if r.target == name and r.state == "blackhole"]
        return done(f"deleted {name}; blackhole routes: {', '.join(blackholes) or 'none'}",
                    {"nat_gateway": name, "blackhole_routes": blackholes}, ms)

    apply_change(as_json, lambda: delete_nat_gateway(the_lab, nat_gateway, vpc), report)


def _route_change(verb: str, fn, route_table: str, destination: str, target: str | None, vpc, lab, as_json) -> None:
    from ..rules.route_table import TARGET_KINDS
    the_lab = running_lab(lab, as_json)
    args = (route_table, destination) if target is None else (route_table, destination, target)
    t = the_lab.topology                # said by name: a table or target given by its AWS id too
    table, to = t.name_of(route_table, "rtb"), None if target is None else t.name_of(target, *TARGET_KINDS)
    apply_change(as_json, lambda: fn(the_lab, *args, vpc=vpc),
                 lambda ms: done(f"{verb} {table}: {destination}" + (f" → {to}" if to else ""),
                                 {"route_table": table, "destination": destination, "target": to,
                                  "operation": verb}, ms))


@route_app.command()
def create(route_table: RouteTableArg, destination: DestinationArg, target: TargetArg,
           vpc: VpcOpt = None, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Add a route (create-route): `vpcemu route create private-a 203.0.113.0/24 blackhole`."""
    from ..ops.route_table import create_route
    _route_change("created", create_route, route_table, destination, target, vpc, lab, as_json)


@route_app.command(name="replace")
def replace_(route_table: RouteTableArg, destination: DestinationArg, target: TargetArg,
             vpc: VpcOpt = None, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Re-point a route in place (replace-route): `vpcemu route replace private-a 0.0.0.0/0 nat-b`."""
    from ..ops.route_table import replace_route
    _route_change("replaced", replace_route, route_table, destination, target, vpc, lab, as_json)


@route_app.command(name="delete")
def delete_route(route_table: RouteTableArg, destination: DestinationArg,
                 vpc: VpcOpt = None, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Remove a route (delete-route)."""
    from ..ops.route_table import delete_route as op
    _route_change("deleted", op, route_table, destination, None, vpc, lab, as_json)


GatewayOpt = Annotated[str, typer.Option("--gateway", help="The VPC's internet gateway (name or igw- id).")]


def _edge_change(verb: str, fn, route_table: str, gateway: str, vpc, lab, as_json) -> None:
    the_lab = running_lab(lab, as_json)
    t = the_lab.topology
    table, igw = t.name_of(route_table, "rtb"), t.name_of(gateway, "igw")
    apply_change(as_json, lambda: fn(the_lab, route_table, gateway, vpc=vpc),
                 lambda ms: done(f"{verb} {table} {'with' if verb == 'associated' else 'from'} {igw}: inbound "
                                 f"traffic {'follows' if verb == 'associated' else 'no longer follows'} its routes",
                                 {"route_table": table, "gateway": igw, "operation": verb}, ms))


@route_table_app.command(name="associate")
def associate_route_table(route_table: RouteTableArg, gateway: GatewayOpt,
                          vpc: VpcOpt = None, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Make a gateway route table (associate-route-table --gateway-id): what the IGW delivers follows its routes,
    e.g. a subnet's CIDR to a firewall appliance's ENI."""
    from ..ops.route_table import associate_route_table as op
    _edge_change("associated", op, route_table, gateway, vpc, lab, as_json)


@route_table_app.command(name="disassociate")
def disassociate_route_table(route_table: RouteTableArg, gateway: GatewayOpt,
                             vpc: VpcOpt = None, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Remove an edge association (disassociate-route-table): inbound traffic goes straight to its ENI again."""
    from ..ops.route_table import disassociate_route_table as op
    _edge_change("disassociated", op, route_table, gateway, vpc, lab, as_json)


@endpoint_app.command(name="create")
def create_endpoint(
        name: Annotated[str, typer.Argument(help="Name of the new endpoint.")],
        service: Annotated[str, typer.Option("--service", help="s3, dynamodb, sqs … (from aws.services).")],
        endpoint_type: Annotated[str, typer.Option("--type", help="interface or gateway.")] = "interface",
        route_table: Annotated[Optional[list[str]], typer.Option("--route-table", help="Gateway: a route table "
                                                                 "(repeat).")] = None,
        subnet: Annotated[Optional[list[str]], typer.Option("--subnet", help="Interface: a subnet, one per AZ "
                                                            "(repeat).")] = None,
        group: Annotated[Optional[list[str]], typer.Option("--group", help="Interface: a security group (repeat; "
                                                           "default: the VPC's default).")] = None,
        private_dns: Annotated[bool, typer.Option(help="Interface: the service's name resolves to the ENIs.")] = True,
        vpc: VpcOpt = None, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Create a VPC endpoint (create-vpc-endpoint): routes, ENIs and DNS follow at once."""
    from ..ops.vpc_endpoint import create_vpc_endpoint
    the_lab = running_lab(lab, as_json)

    def report(ms: float) -> Report:
        ep = next(v.endpoints[name] for v in the_lab.topology.vpcs.values() if name in v.endpoints)
        enis = [the_lab.topology.network_interface(n) for n in ep.network_interfaces]
        return done(f"created {ep.vpc_endpoint_type.lower()} endpoint {name} ({ep.id}) for {service}"
                    + (f": ENIs {', '.join(str(e.private_ip_address) for e in enis)}" if enis else
                       f": routes in {', '.join(ep.route_tables)}"),
                    {"name": name, "id": ep.id, "service": service, "type": ep.vpc_endpoint_type,
                     "route_tables": list(ep.route_tables),
                     "network_interfaces": {e.name: str(e.private_ip_address) for e in enis}}, ms)

    apply_change(as_json, lambda: create_vpc_endpoint(the_lab, name, service, endpoint_type, route_table, subnet, group,
                                                      private_dns, vpc), report)


def _endpoint_text(topology, name: str) -> tuple[str, dict]:
    from ..dns.zone import endpoint_dns_entries
    v, ep = next((v, v.endpoints[name]) for v in topology.vpcs.values() if name in v.endpoints)
    enis = {n: str(topology.network_interface(n).private_ip_address) for n in ep.network_interfaces}
    where = (f"ENIs {', '.join(f'{n} {ip}' for n, ip in enis.items())}, groups {', '.join(ep.security_groups)}"
             + (", private DNS" if ep.private_dns_enabled else "") if ep.vpc_endpoint_type == "Interface"
             else f"routes in {', '.join(ep.route_tables) or 'no route table'}")
    return where, {"name": name, "id": ep.id, "type": ep.vpc_endpoint_type, "subnets": list(ep.subnets),
                   "security_groups": list(ep.security_groups), "private_dns": ep.private_dns_enabled,
                   "route_tables": list(ep.route_tables), "network_interfaces": enis,
                   "dns_names": endpoint_dns_entries(topology, v, ep)}


@endpoint_app.command(name="modify")
def modify_endpoint(
        name: Annotated[str, typer.Argument(help="Endpoint name or vpce- id.")],
        add_subnet: Annotated[Optional[list[str]], typer.Option("--add-subnet", help="Interface: a subnet to add, "
                                                                "one per AZ (repeat).")] = None,
        remove_subnet: Annotated[Optional[list[str]], typer.Option("--remove-subnet", help="Interface: a subnet to "
                                                                   "remove (repeat); its ENI goes.")] = None,
        add_group: Annotated[Optional[list[str]], typer.Option("--add-group", help="Interface: a security group to "
                                                               "add (repeat).")] = None,
        remove_group: Annotated[Optional[list[str]], typer.Option("--remove-group", help="Interface: a security "
                                                                  "group to remove (repeat).")] = None,
        add_route_table: Annotated[Optional[list[str]], typer.Option("--add-route-table", help="Gateway: a route "
                                                                     "table to add (repeat).")] = None,
        remove_route_table: Annotated[Optional[list[str]], typer.Option("--remove-route-table", help="Gateway: a "
                                                                        "route table to remove (repeat).")] = None,
        private_dns: Annotated[Optional[bool], typer.Option("--private-dns/--no-private-dns",
                                                            help="Interface: turn private DNS on or off.")] = None,
        vpc: VpcOpt = None, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Change a VPC endpoint (modify-vpc-endpoint): ENIs, routes and DNS follow at once."""
    from ..ops.vpc_endpoint import modify_vpc_endpoint
    the_lab = running_lab(lab, as_json)
    said = the_lab.topology.name_of(name, "vpce")

    def report(ms: float) -> Report:
        where, data = _endpoint_text(the_lab.topology, said)
        return done(f"modified endpoint {said}: {where}", data, ms)

    apply_change(as_json, lambda: modify_vpc_endpoint(the_lab, name, add_subnet, remove_subnet, add_group, remove_group,
                                                      add_route_table, remove_route_table, private_dns, vpc), report)


@vpc_app.command(name="modify-attribute")
def modify_attribute(
        vpc: Annotated[str, typer.Argument(help="VPC name or vpc- id.")],
        dns_support: Annotated[Optional[bool], typer.Option("--enable-dns-support/--no-enable-dns-support",
                                                            help="The VPC's resolver answers.")] = None,
        dns_hostnames: Annotated[Optional[bool], typer.Option("--enable-dns-hostnames/--no-enable-dns-hostnames",
                                                              help="Private and public DNS hostnames.")] = None,
        lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Change one DNS attribute of a VPC (modify-vpc-attribute); the resolvers follow at once."""
    from ..ops.vpc import modify_vpc_attribute
    the_lab = running_lab(lab, as_json)

    def report(ms: float) -> Report:
        v = the_lab.topology.vpcs[the_lab.topology.name_of(vpc, "vpc")]
        return done(f"VPC {v.name}: enable_dns_support {str(v.enable_dns_support).lower()}, "
                    f"enable_dns_hostnames {str(v.enable_dns_hostnames).lower()}",
                    {"vpc": v.name, "id": v.id, "enable_dns_support": v.enable_dns_support,
                     "enable_dns_hostnames": v.enable_dns_hostnames}, ms)

    apply_change(as_json, lambda: modify_vpc_attribute(the_lab, vpc, dns_support, dns_hostnames), report)


@endpoint_app.command(name="delete")
def delete_endpoint(name: Annotated[str, typer.Argument(help="Endpoint name or vpce- id.")],
                    vpc: VpcOpt = None, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Delete a VPC endpoint (delete-vpc-endpoints): its routes, ENIs and names go."""
    from ..ops.vpc_endpoint import delete_vpc_endpoint
    the_lab = running_lab(lab, as_json)
    said = the_lab.topology.name_of(name, "vpce")
    apply_change(as_json, lambda: delete_vpc_endpoint(the_lab, name, vpc),
                 lambda ms: done(f"deleted endpoint {said}", {"name": said}, ms))
