"""The edge, pure: the plan of IGWs, NAT gateways, the internet and peering, and the live edits of
Elastic IPs, NAT gateways and routes with AWS's refusals."""
from __future__ import annotations

from ipaddress import IPv4Address as A
from pathlib import Path

import pytest

from vpcemu import load_text
from vpcemu.errors import UsageError
from vpcemu.load import load_topology
from vpcemu.ops.elastic_ip import associated, disassociated
from vpcemu.ops.nat_gateway import nat_gateway_deleted
from vpcemu.ops.route_table import route_created, route_deleted, route_replaced
from vpcemu.plan import plan_lab
from vpcemu.plan.internet_gateway import public_mappings
from vpcemu.plan.names import router_link

EDGE = Path(__file__).resolve().parents[2] / "topologies" / "edge.yaml"

PEERED = """
format: 1
vpcs:
  a:
    cidr: 10.1.0.0/16
    internet_gateway: igw-a
    subnets: {s: {cidr: 10.1.1.0/24, az: us-east-1a, route_table: r}}
    route_tables:
      r: {routes: [{destination: 10.2.0.0/16, target: ab}, {destination: 0.0.0.0/0, target: igw-a}]}
    instances: {a1: {subnet: s, public_ip: true}}
  b:
    cidr: 10.2.0.0/16
    subnets: {s: {cidr: 10.2.1.0/24, az: us-east-1a, route_table: r}}
    route_tables:
      r: {routes: [{destination: 10.1.0.0/16, target: ab}, {destination: 0.0.0.0/0, target: ab}]}
    instances: {b1: {subnet: s}}
peering:
  ab: {requester: a, accepter: b}
"""


@pytest.fixture(scope="module")
def edge():
    return load_topology(EDGE)


def refused(code, fn, *args, **kwargs):
    with pytest.raises(UsageError) as e:
        fn(*args, **kwargs)
    assert e.value.code == code, e.value
    return e.value


def test_edge_namespaces(edge):
    plan = plan_lab(edge)
    for ns in ("edge-inet", "edge-h-ext", "edge-igw-main", "edge-nat-nat-a", "edge-nat-nat-b"):
        assert ns in plan.namespaces
    assert "edge-aws" not in plan.namespaces           # no aws.services in this file


def test_igw_maps_every_public_address_and_drops_by_aws_codes(edge):
    maps = public_mappings(edge.vpcs["main"])
    assert maps == {A("10.0.0.4"): A("198.51.100.20"), A("10.0.0.10"): A("198.51.100.10"),
                    A("10.0.2.4"): A("198.51.100.21")}
    nft = plan_lab(edge).nft["edge-igw-main"]
    assert "198.51.100.10 : 10.0.0.10" in nft and "10.0.0.10 : 198.51.100.10" in nft
    for code in ("IGW_PUBLIC_IP_ASSOCIATION_FOR_EGRESS", "IGW_PRIVATE_IP_ASSOCIATION_FOR_INGRESS",
                 "IGW_SOURCE_ADDRESS_NOT_IN_RFC1918_INGRESS", "IGW_DESTINATION_ADDRESS_NOT_IN_RFC1918_EGRESS"):
        assert f"code={code}" in nft


def test_the_internet_routes_only_the_labs_own_public_addresses(edge):
    core = {r.destination for r in plan_lab(edge).routes if r.namespace == "edge-inet"}
    assert core == {"198.18.0.50/32", "198.51.100.10/32", "198.51.100.20/32", "198.51.100.21/32"}


def test_nat_gateway_translates_to_its_private_ip_with_ports_1024_to_65535(edge):
    nft = plan_lab(edge).nft["edge-nat-nat-a"]
    assert "snat to 10.0.0.4:1024-65535" in nft
    assert "icmp type echo-request counter drop" in nft
    assert "code=NGW_REQUIRES_SOURCE_IN_VPC" in nft
    # its ENI is eth0 in its own namespace, default route via its subnet's router
    routes = [r for r in plan_lab(edge).routes if r.namespace == "edge-nat-nat-a"]
    assert [(r.destination, r.gateway, r.ifname) for r in routes] == [("0.0.0.0/0", "10.0.0.1", "eth0")]


def test_peering_link_routes_and_no_transit():
    t = load_text(PEERED, name="pr")
    plan = plan_lab(t)
    veth = next(v for v in plan.veths if v.owner == "peering ab")
    assert (veth.namespace, veth.peer_namespace) == ("pr-vpc-a", "pr-vpc-b")
    to_peer = [r for r in plan.routes if r.namespace == "pr-vpc-b" and r.ifname == "pcx0"]
    assert {r.destination for r in to_peer} == {"10.1.0.0/16", "0.0.0.0/0"}
    assert 'iifname "pcx0" ip daddr != { 10.1.0.0/16 } counter drop' in plan.nft["pr-vpc-a"]
    assert "PCX_REQUIRES_ADDRESS_IN_VPC_CIDR" in plan.nft["pr-vpc-b"]


def test_associate_moves_and_disassociates_an_eip(edge):
    t = associated(edge, "198.51.100.30", "app-a")
    assert t.network_interface("app-a.eth0").eips == {A("10.0.1.10"): A("198.51.100.30")}
    refused("Resource.AlreadyAssociated", associated, t, "198.51.100.30", "app-b")
    moved = associated(t, "198.51.100.30", "app-b", allow_reassociation=True)
    assert moved.network_interface("app-a.eth0").eips == {}
    assert moved.network_interface("app-b.eth0").eips == {A("10.0.3.10"): A("198.51.100.30")}
    gone = disassociated(moved, "198.51.100.30")
    assert gone.network_interface("app-b.eth0").eips == {}
    assert associated(t, "198.51.100.30", "app-a") is t          # idempotent, as AWS


def test_eip_refusals(edge):
    refused("InvalidAddress.NotFound", associated, edge, "192.0.2.7", "web")
    refused("InvalidParameterValue", associated, edge, "not-an-ip", "web")
    refused("InvalidNetworkInterfaceID.NotFound", associated, edge, "198.51.100.30", "nope")
    refused("InvalidParameterValue", associated, edge, "198.51.100.30", "web", private_ip="10.0.0.99")
    refused("OperationNotPermitted", associated, edge, "198.51.100.30", "nat-a.eni")
    refused("Resource.AlreadyAssociated", associated, edge, "198.51.100.20", "web", allow_reassociation=True)
    refused("OperationNotPermitted", disassociated, edge, "198.51.100.20")
    refused("InvalidAssociationID.NotFound", disassociated, edge, "198.51.100.99")
    no_igw = load_text(PEERED, name="pr")
    refused("Gateway.NotAttached", associated, no_igw, "198.51.100.30", "b1")


def test_deleting_a_nat_gateway_blackholes_its_routes_and_repointing_restores(edge):
    t = nat_gateway_deleted(edge, "nat-a")
    assert "nat-a" not in t.vpcs["main"].nat_gateways and "nat-a.eni" not in t.network_interfaces
    route = next(r for r in t.vpcs["main"].route_tables["private-a"].routes if r.target == "nat-a")
    assert route.state == "blackhole"
    plan = plan_lab(t, "edge")
    assert "edge-nat-nat-a" not in plan.namespaces
    assert any(r.type == "blackhole" and r.destination == "0.0.0.0/0" and r.namespace == "edge-vpc-main"
               for r in plan.routes)
    back = route_replaced(t, "private-a", "0.0.0.0/0", "nat-b")
    route = next(r for r in back.vpcs["main"].route_tables["private-a"].routes if str(r.destination) == "0.0.0.0/0")
    assert (route.target, route.state, route.network_interface) == ("nat-b", "active", "nat-b.eni")
    refused("NatGatewayNotFound", nat_gateway_deleted, t, "nat-a")


def test_route_edit_refusals(edge):
    refused("InvalidRouteTableID.NotFound", route_replaced, edge, "nope", "0.0.0.0/0", "igw")
    refused("InvalidRoute.NotFound", route_replaced, edge, "public", "10.9.0.0/16", "igw")
    refused("RouteAlreadyExists", route_created, edge, "public", "0.0.0.0/0", "igw")
    refused("InvalidParameterValue", route_deleted, edge, "public", "10.0.0.0/16")
    refused("InvalidParameterValue", route_created, edge, "public", "10.0.0.128/25", "web")
    refused("InvalidParameterValue", route_created, edge, "public", "169.254.169.0/24", "igw")
    refused("InvalidRoute.NotFound", route_created, edge, "public", "10.9.0.0/16", "nope")
    t = route_created(edge, "public", "203.0.113.0/24", "blackhole")
    assert route_deleted(t, "public", "203.0.113.0/24").vpcs["main"].route_tables["public"] == \
        edge.vpcs["main"].route_tables["public"]


ENDPOINTS = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    enable_dns_hostnames: true
    internet_gateway: igw
    subnets:
      public-a:  {cidr: 10.0.0.0/24, az: us-east-1a, route_table: public}
      private-a: {cidr: 10.0.1.0/24, az: us-east-1a, route_table: private-a}
      private-b: {cidr: 10.0.3.0/24, az: us-east-1b, route_table: private-b}
    route_tables:
      public: {routes: [{destination: 0.0.0.0/0, target: igw}]}
      private-a: {routes: [{destination: 0.0.0.0/0, target: nat-a}]}
      private-b: {routes: [{destination: 0.0.0.0/0, target: nat-a}, {destination: 198.19.0.0/24, target: nat-a}]}
    nat_gateways: {nat-a: {subnet: public-a, eip: 198.51.100.20}}
    security_groups:
      vpce: {ingress: [{protocol: tcp, ports: 443, source: 10.0.0.0/16}]}
    endpoints:
      s3: {type: gateway, service: s3, route_tables: [private-a, private-b]}
      sqs: {type: interface, service: sqs, subnets: [private-a, private-b], security_groups: [vpce]}
    instances:
      app-a: {subnet: private-a, private_ip: 10.0.1.10}
      app-b: {subnet: private-b, private_ip: 10.0.3.10}
aws:
  services: [s3, dynamodb, sqs]
"""


def test_gateway_endpoint_routes_each_prefix_list_cidr_and_static_wins_a_tie():
    t = load_text(ENDPOINTS, name="ep")
    plan = plan_lab(t)
    s3 = [str(c) for c in t.prefix_lists["s3"].cidrs]
    assert s3 == ["198.19.0.0/24", "198.19.1.0/24"]

    def table(name):
        tid = 1000 + list(t.vpcs["main"].route_tables).index(name)
        return {r.destination: r for r in plan.routes if r.namespace == "ep-vpc-main" and r.table == tid}

    a, b = table("private-a"), table("private-b")
    assert all(a[c].ifname == "gwe" for c in s3)
    assert b["198.19.0.0/24"].ifname != "gwe" and b["198.19.1.0/24"].ifname == "gwe"
    assert "code=VPCE_GATEWAY_PROTOCOL_RESTRICTION" in plan.nft["ep-vpc-main"]


def test_interface_endpoint_namespace_holds_one_eni_per_subnet_and_forwards_tcp():
    t = load_text(ENDPOINTS, name="ep")
    plan = plan_lab(t)
    ns = "ep-vpce-sqs"
    assert ns in plan.namespaces
    enis = {v.peer_ifname: v.peer_mac for v in plan.veths if v.peer_namespace == ns}
    assert set(enis) == {"eth0", "eth1"}
    sqs = str(t.service_addresses["sqs"][0])
    assert f"meta l4proto tcp dnat to {sqs}" in plan.nft[ns]
    assert "code=VPCE_INTRA_VPC_TRAFFIC" in plan.nft[ns]
    region = plan.nft["ep-aws"]
    assert 'iifname "v0" ct state new ct mark set 1' in region and 'iifname "i0x0" ct state new ct mark set 2' in region
    assert {(r.priority, r.fwmark, r.table) for r in plan.rules if r.namespace == "ep-aws"} == {(3001, 1, 3001),
                                                                                              (3002, 2, 3002)}


def link_mtus(plan) -> dict[tuple[str, str], int]:
    """(namespace, interface) → MTU of both ends of every planned veth."""
    out = {}
    for v in plan.veths:
        out[v.namespace, v.ifname] = out[v.peer_namespace, v.peer_ifname] = v.mtu
    return out


def test_links_carry_aws_mtus_jumbo_in_the_vpc_1500_on_the_internet_8500_at_nat_gateways_and_endpoints():
    t = load_text(ENDPOINTS + "internet: {hosts: {ext: {ip: 198.18.0.50}}}\n", name="ep")
    mtus = link_mtus(plan_lab(t))
    vpc = t.vpcs["main"]
    instance_enis = [e for e in vpc.network_interfaces.values() if e.attachment is not None]
    assert {"app-a", "app-b"} == {e.attachment.instance for e in instance_enis}
    for eni in instance_enis:
        assert mtus["ep-vpc-main", router_link(eni)] == 9001
        assert mtus[f"ep-i-{eni.attachment.instance}", "eth0"] == 9001
    assert mtus["ep-nat-nat-a", "eth0"] == 8500                             # PMTUD supported
    assert mtus["ep-vpce-sqs", "eth0"] == mtus["ep-vpce-sqs", "eth1"] == 8500
    assert mtus["ep-vpc-main", "igw"] == mtus["ep-igw-main", "vpc"] == 9001  # the VPC's side of its IGW
    assert mtus["ep-igw-main", "inet"] == 1500                              # the IGW fragments or says frag-needed
    assert mtus["ep-h-ext", "eth0"] == mtus["ep-inet", "h0"] == 1500
    assert mtus["ep-aws", "eth0"] == mtus["ep-vpc-main", "gwe"] == mtus["ep-vpce-sqs", "svc"] == 1500
    peered = link_mtus(plan_lab(load_text(PEERED, name="pc")))
    assert peered["pc-vpc-a", "pcx0"] == peered["pc-vpc-b", "pcx0"] == 9001     # intra-Region peering


def test_interface_endpoint_dns_private_names_and_vpce_names():
    from vpcemu.dns.zone import build_zone
    t = load_text(ENDPOINTS, name="ep")
    ep = t.vpcs["main"].endpoints["sqs"]
    ips = tuple(t.network_interface(n).private_ip_address for n in ep.network_interfaces)
    zone = build_zone(t, "main", t.service_addresses)
    assert zone.lookup("sqs.us-east-1.amazonaws.com") == ("NOERROR", ips)
    assert zone.lookup(f"{ep.dns_id}.sqs.us-east-1.vpce.amazonaws.com") == ("NOERROR", ips)
    assert zone.lookup(f"{ep.dns_id}-us-east-1b.sqs.us-east-1.vpce.amazonaws.com") == ("NOERROR", ips[1:])
    assert zone.lookup("s3.us-east-1.amazonaws.com") == ("NOERROR", t.service_addresses["s3"])   # DNS unchanged
    off = load_text(ENDPOINTS.replace("security_groups: [vpce]}", "security_groups: [vpce], private_dns: false}"),
                    name="ep")
    zone = build_zone(off, "main", off.service_addresses)
    assert zone.lookup("sqs.us-east-1.amazonaws.com") == ("NOERROR", off.service_addresses["sqs"])
    assert zone.lookup(f"{ep.dns_id}.sqs.us-east-1.vpce.amazonaws.com") == ("NOERROR", ips)


def test_endpoint_create_and_delete_edits_with_aws_refusals():
    from vpcemu.ops.vpc_endpoint import vpc_endpoint_created, vpc_endpoint_deleted
    t = load_text(ENDPOINTS, name="ep")
    refused("DuplicateSubnetsInSameZone", vpc_endpoint_created, t, "x", "dynamodb", "interface",
            subnets=["private-a", "public-a"], private_dns_enabled=False)
    refused("InvalidServiceName", vpc_endpoint_created, t, "x", "sqs", "gateway", route_tables=["public"])
    refused("InvalidServiceName", vpc_endpoint_created, t, "x", "kms", "interface", subnets=["private-a"])
    refused("InvalidParameter", vpc_endpoint_created, t, "x", "sqs", "interface", subnets=["private-a"])
    refused("RouteAlreadyExists", vpc_endpoint_created, t, "x", "s3", "gateway", route_tables=["private-a"])
    refused("InvalidGroup.NotFound", vpc_endpoint_created, t, "x", "dynamodb", "interface", subnets=["private-a"],
            security_groups=["nope"])
    refused("InvalidVpcEndpointId.NotFound", vpc_endpoint_deleted, t, "nope")
    g = vpc_endpoint_created(t, "ddb", "dynamodb", "gateway", route_tables=["public"])
    assert any(r.target == "ddb" and r.is_prefix_list for r in g.vpcs["main"].route_tables["public"].routes)
    i = vpc_endpoint_created(g, "ddbi", "dynamodb", "interface", subnets=["public-a"], private_dns_enabled=True)
    assert i.network_interface("ddbi.public-a").requester_managed
    back = vpc_endpoint_deleted(vpc_endpoint_deleted(i, "ddbi"), "ddb")
    assert back.vpcs["main"] == t.vpcs["main"]
    no_sqs = vpc_endpoint_deleted(t, "sqs")
    assert "sqs.private-a" not in no_sqs.network_interfaces and plan_lab(no_sqs)
