"""Valid topologies load into the model AWS would build: defaults, automatic addresses, implicit resources."""
from __future__ import annotations

from dataclasses import fields, is_dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from vpcemu.load import load_text, load_topology
from vpcemu.load.write import topology_text
from vpcemu.model import Attachment, NetworkAclEntry, Route, SecurityGroupRule, TargetKind

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "format-example.yaml"
ALL = IPv4Network("0.0.0.0/0")


def ip(text: str) -> IPv4Address:
    return IPv4Address(text)


@pytest.fixture(scope="module")
def topo():
    return load_topology(EXAMPLE)


@pytest.fixture(scope="module")
def main(topo):
    return topo.vpcs["main"]


def test_the_format_example_loads(topo):
    assert topo.name == "shop"
    assert topo.region == "us-east-1"
    assert set(topo.vpcs) == {"main", "shared"}
    assert topo.services == ("s3", "dynamodb", "sqs")
    assert set(topo.peering) == {"main-to-shared"}
    assert topo.internet_hosts["ext"].ip == ip("198.18.0.50")
    assert [(l.protocol, l.port) for l in topo.internet_hosts["ext"].listen] == [("tcp", 80), ("tcp", 443), ("udp", 53)]


def test_vpc_attributes_and_aws_defaults(main, topo):
    assert main.cidr_block == IPv4Network("10.0.0.0/16")
    assert main.enable_dns_support and main.enable_dns_hostnames
    assert main.internet_gateway == "igw"
    assert main.dns_server == ip("10.0.0.2")
    shared = topo.vpcs["shared"]
    assert shared.enable_dns_support is True and shared.enable_dns_hostnames is False
    assert shared.internet_gateway is None


def test_explicit_private_ips_are_kept(main):
    assert main.network_interfaces["web-1.eth0"].private_ip_addresses == (ip("10.0.0.10"), ip("10.0.0.11"))
    assert main.network_interfaces["svc"].private_ip_addresses == (ip("10.0.1.50"), ip("10.0.1.51"))


def test_automatic_private_ips_take_the_first_free_address_after_the_reserved_four(main, topo):
    enis = main.network_interfaces
    assert enis["app-a.eth0"].private_ip_addresses == (ip("10.0.1.4"),)
    assert enis["app-b.eth0"].private_ip_addresses == (ip("10.0.1.5"),)
    assert enis["fw-1.eth0"].private_ip_addresses == (ip("10.0.3.4"),)
    assert enis["nat-a.eni"].private_ip_addresses == (ip("10.0.0.4"),)
    assert enis["sqs.private-a"].private_ip_addresses == (ip("10.0.1.6"),)
    assert enis["sqs.private-b"].private_ip_addresses == (ip("10.0.3.5"),)
    assert topo.vpcs["shared"].network_interfaces["tools.eth0"].private_ip_address == ip("100.64.1.4")


def test_automatic_private_ips_never_take_an_address_asked_for_later_in_the_file():
    topo = load_text("""
format: 1
vpcs:
  v:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.0.0/24, az: us-east-1a}
    instances:
      first: {subnet: a}
      second: {subnet: a, private_ip: 10.0.0.4}
    network_interfaces:
      extra: {subnet: a, private_ips: [10.0.0.5]}
      auto: {subnet: a}
    nat_gateways:
      nat: {subnet: a, connectivity: private, private_ip: 10.0.0.6}
      nat-auto: {subnet: a, connectivity: private}
""")
    enis = topo.vpcs["v"].network_interfaces
    assert enis["second.eth0"].private_ip_address == ip("10.0.0.4")
    assert enis["extra"].private_ip_address == ip("10.0.0.5")
    assert enis["nat.eni"].private_ip_address == ip("10.0.0.6")
    assert enis["first.eth0"].private_ip_address == ip("10.0.0.7")
    assert enis["auto"].private_ip_address == ip("10.0.0.8")
    assert enis["nat-auto.eni"].private_ip_address == ip("10.0.0.9")


def test_a_28_subnet_holds_eleven_addresses():
    instances = "\n".join(f"      i{n}: {{subnet: tiny}}" for n in range(11))
    topo = load_text(f"""
format: 1
vpcs:
  v:
    cidr: 10.0.0.0/16
    subnets:
      tiny: {{cidr: 10.0.0.0/28, az: us-east-1a}}
    instances:
{instances}
""")
    addresses = sorted(e.private_ip_address for e in topo.vpcs["v"].network_interfaces.values())
    assert addresses == [ip(f"10.0.0.{n}") for n in range(4, 15)]


def test_an_instance_has_a_primary_eni_named_eth0(main):
    web = main.instances["web-1"]
    assert web.primary_network_interface == "web-1.eth0"
    assert web.subnet == "public-a" and web.availability_zone == "us-east-1a"
    assert web.instance_type == "t3.micro"
    eth0 = main.network_interfaces["web-1.eth0"]
    assert eth0.attachment == Attachment("web-1", 0)
    assert eth0.subnet == "public-a"
    assert eth0.security_groups == ("web",)
    assert eth0.source_dest_check is True
    assert eth0.mac_address.startswith("0e:")


def test_instance_options(main):
    fw = main.instances["fw-1"]
    assert fw.forwarding is True
    assert main.network_interfaces["fw-1.eth0"].source_dest_check is False
    assert main.network_interfaces["fw-1.eth0"].security_groups == ("default",)
    assert main.instances["app-a"].forwarding is False


def test_a_standalone_eni_keeps_its_attachment_and_eips(main, topo):
    svc = main.network_interfaces["svc"]
    assert svc.attachment == Attachment("app-a", 1)
    assert svc.eips == {ip("10.0.1.51"): ip("198.51.100.30")}
    assert svc.security_groups == ("web",)
    assert [e.name for e in topo.interfaces_of("app-a")] == ["app-a.eth0", "svc"]


def test_public_ip_is_assigned_from_the_first_public_pool(main):
    eth0 = main.network_interfaces["web-1.eth0"]
    assert eth0.public_ip is True
    assert eth0.public_ip_address == ip("198.51.100.10")
    assert eth0.public_ip_address in IPv4Network("198.51.100.0/24")
    assert eth0.public_addresses == {ip("10.0.0.10"): ip("198.51.100.10")}
    assert main.network_interfaces["app-a.eth0"].public_ip_address is None


def test_automatic_public_ips_skip_elastic_ips_and_internet_hosts():
    topo = load_text("""
format: 1
vpcs:
  v:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.0.0/24, az: us-east-1a}
    instances:
      one: {subnet: a, public_ip: true}
      two: {subnet: a, eip: 198.51.100.10}
      three: {subnet: a, public_ip: true}
internet:
  hosts:
    h: {ip: 198.51.100.11}
""")
    enis = topo.vpcs["v"].network_interfaces
    assert enis["one.eth0"].public_ip_address == ip("198.51.100.12")
    assert enis["three.eth0"].public_ip_address == ip("198.51.100.13")
    assert enis["two.eth0"].public_addresses == {enis["two.eth0"].private_ip_address: ip("198.51.100.10")}


def test_default_security_group_has_aws_default_rules(main, topo):
    for vpc in topo.vpcs.values():
        default = vpc.security_groups["default"]
        assert default.ingress == (SecurityGroupRule("-1", group="default"),)
        assert default.egress == (SecurityGroupRule("-1", cidr=ALL),)


def test_security_group_rules(main):
    web = main.security_groups["web"]
    assert web.ingress == (
        SecurityGroupRule("tcp", 80, 80, cidr=ALL),
        SecurityGroupRule("tcp", 22, 22, group="bastion"),
        SecurityGroupRule("icmp", cidr=IPv4Network("10.0.0.0/16")),
    )


def test_a_group_without_egress_allows_all_outbound_and_egress_empty_allows_none(main):
    assert main.security_groups["web"].egress == (SecurityGroupRule("-1", cidr=ALL),)
    assert main.security_groups["vpce"].egress == (SecurityGroupRule("-1", cidr=ALL),)
    assert main.security_groups["db"].egress == ()
    assert main.security_groups["db"].ingress == (SecurityGroupRule("tcp", 5432, 5432, group="web"),)


def test_default_network_acl_allows_everything(main):
    default = main.network_acls["default"]
    assert default.is_default
    assert default.ordered(egress=False) == [NetworkAclEntry(100, "-1", "allow", False, ALL)]
    assert default.ordered(egress=True) == [NetworkAclEntry(100, "-1", "allow", True, ALL)]


def test_custom_network_acl_keeps_its_rules_and_ends_in_the_implicit_deny(main):
    strict = main.network_acls["strict"]
    assert not strict.is_default
    assert strict.ordered(egress=False) == [
        NetworkAclEntry(100, "tcp", "allow", False, ALL, 443, 443),
        NetworkAclEntry(110, "tcp", "allow", False, ALL, 1024, 65535),
    ]
    assert strict.ordered(egress=True) == [NetworkAclEntry(100, "-1", "allow", True, ALL)]


def test_subnets_use_their_tables_and_acls(main):
    assert main.subnets["public-a"].route_table == "public"
    assert main.subnets["private-a"].network_acl == "strict"
    assert main.subnets["private-b"].route_table == "main"
    assert main.subnets["private-b"].network_acl == "default"
    assert main.subnets["private-b"].gateway == ip("10.0.3.1")


def test_every_route_table_starts_with_a_local_route_per_vpc_cidr(main, topo):
    local = Route(IPv4Network("10.0.0.0/16"), TargetKind.LOCAL, "local", origin="CreateRouteTable")
    for table in main.route_tables.values():
        assert table.routes[0] == local
    assert main.route_tables["main"].routes == (local,)
    shared = topo.vpcs["shared"]
    assert [r.destination for r in shared.main_route_table.routes] == [
        IPv4Network("172.16.0.0/16"), IPv4Network("100.64.0.0/16")]
    assert all(r.target_kind == TargetKind.LOCAL for r in shared.main_route_table.routes)


def test_a_vpc_without_route_tables_gets_an_implicit_main_one(topo):
    shared = topo.vpcs["shared"]
    assert list(shared.route_tables) == ["main"]
    assert shared.main_route_table.name == "main"
    assert shared.subnets["shared-a"].route_table == "main"


def test_a_main_table_may_have_any_name():
    topo = load_text("""
format: 1
vpcs:
  v:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.0.0/24, az: us-east-1a}
    route_tables:
      primary: {main: true}
""")
    vpc = topo.vpcs["v"]
    assert list(vpc.route_tables) == ["primary"]
    assert vpc.subnets["a"].route_table == "primary"


def test_static_routes(main):
    routes = {r.destination: r for r in main.route_tables["private-a"].routes if r.destination}
    assert routes[ALL].target_kind == TargetKind.NAT_GATEWAY
    assert routes[ALL].network_interface == "nat-a.eni"
    middlebox = routes[IPv4Network("10.0.3.0/24")]
    assert (middlebox.target_kind, middlebox.target, middlebox.network_interface) == (
        TargetKind.NETWORK_INTERFACE, "fw-1", "fw-1.eth0")
    assert routes[IPv4Network("192.168.0.0/16")].state == "blackhole"
    assert routes[ALL].state == "active"
    igw = main.route_tables["public"].routes[1]
    assert (igw.destination, igw.target_kind, igw.target) == (ALL, TargetKind.INTERNET_GATEWAY, "igw")


def test_gateway_endpoint_adds_its_prefix_list_route_to_the_chosen_tables_only(main, topo):
    s3 = topo.prefix_lists["s3"]
    assert s3.prefix_list_name == "com.amazonaws.us-east-1.s3"
    assert s3.id.startswith("pl-")
    pl_routes = [r for r in main.route_tables["private-a"].routes if r.is_prefix_list]
    assert pl_routes == [Route(None, TargetKind.GATEWAY_ENDPOINT, "s3", destination_prefix_list_id=s3.id)]
    for name in ("main", "public"):
        assert not any(r.is_prefix_list for r in main.route_tables[name].routes)
    endpoint = main.endpoints["s3"]
    assert (endpoint.vpc_endpoint_type, endpoint.route_tables) == ("Gateway", ("private-a",))
    assert endpoint.network_interfaces == ()


def test_interface_endpoint_gets_one_requester_managed_eni_per_subnet(main):
    sqs = main.endpoints["sqs"]
    assert sqs.vpc_endpoint_type == "Interface"
    assert sqs.subnets == ("private-a", "private-b")
    assert sqs.network_interfaces == ("sqs.private-a", "sqs.private-b")
    assert sqs.private_dns_enabled is True
    for name in sqs.network_interfaces:
        eni = main.network_interfaces[name]
        assert eni.requester_managed and eni.interface_type == "vpc_endpoint"
        assert eni.security_groups == ("vpce",)
        assert eni.attachment is None


def test_nat_gateway_holds_its_eip_on_a_requester_managed_eni(main):
    nat = main.nat_gateways["nat-a"]
    assert (nat.subnet, nat.connectivity_type, nat.eip) == ("public-a", "public", ip("198.51.100.20"))
    eni = main.network_interfaces[nat.network_interface]
    assert eni.requester_managed and eni.interface_type == "nat_gateway"
    assert eni.source_dest_check is False
    assert eni.eips == {ip("10.0.0.4"): ip("198.51.100.20")}


def test_expectations(topo):
    first, second, third = topo.expect
    assert (first.source, first.destination, first.protocol, first.port, first.reachable, first.via) == (
        "web-1", "ext", "tcp", 80, True, ("igw",))
    assert (second.via, second.not_via) == (("s3",), ("nat-a",))
    assert (third.reachable, third.reason) == (False, "ENI_SG_RULES_MISMATCH")


def _ids(value, out: dict, path: str = "") -> dict:
    """Every `id` field anywhere in the topology, by where it sits."""
    if is_dataclass(value):
        for f in fields(value):
            child = getattr(value, f.name)
            if f.name == "id":
                out[path] = child
            else:
                _ids(child, out, f"{path}.{f.name}")
    elif isinstance(value, dict):
        for k, v in value.items():
            _ids(v, out, f"{path}[{k}]")
    elif isinstance(value, tuple):
        for i, v in enumerate(value):
            _ids(v, out, f"{path}[{i}]")
    return out


def test_ids_are_stable_across_loads_and_unique(topo):
    again = load_topology(EXAMPLE)
    ids = _ids(topo, {})
    assert len(ids) > 30
    assert ids == _ids(again, {})
    assert len(set(ids.values())) == len(ids)
    main = topo.vpcs["main"]
    assert main.id.startswith("vpc-") and main.subnets["public-a"].id.startswith("subnet-")
    assert main.network_interfaces["svc"].id.startswith("eni-") and main.instances["web-1"].id.startswith("i-")
    assert {e.mac_address for e in main.network_interfaces.values()} == {
        e.mac_address for e in again.vpcs["main"].network_interfaces.values()}


def test_cidrs_are_canonicalised_like_aws_does():
    topo = load_text("""
format: 1
vpcs:
  v:
    cidr: 10.0.0.5/16
    secondary_cidrs: [100.68.0.18/18]
    subnets:
      a: {cidr: 10.0.1.7/24, az: us-east-1a}
    security_groups:
      g:
        ingress:
          - {protocol: tcp, ports: 22, source: 192.168.1.9/24}
    network_acls:
      n:
        ingress:
          - {rule: 1, protocol: all, source: 172.16.5.5/12, action: deny}
""")
    vpc = topo.vpcs["v"]
    assert vpc.cidr_block == IPv4Network("10.0.0.0/16")
    assert vpc.secondary_cidr_blocks == (IPv4Network("100.68.0.0/18"),)
    assert vpc.subnets["a"].cidr_block == IPv4Network("10.0.1.0/24")
    assert vpc.security_groups["g"].ingress[0].cidr == IPv4Network("192.168.1.0/24")
    assert vpc.network_acls["n"].entries[0].cidr_block == IPv4Network("172.16.0.0/12")


def test_lab_name_defaults_to_the_file_stem_and_can_be_overridden(tmp_path):
    path = tmp_path / "lab-1.yaml"
    path.write_text("format: 1\nvpcs:\n  v: {cidr: 10.0.0.0/16}\n")
    assert load_topology(path).name == "lab-1"
    assert load_topology(path, name="other").name == "other"


def test_the_ec2_apis_timing_is_read_and_written_back():
    text = ("format: 1\naws:\n  services: [ec2]\n  ec2_api: {attachment_delay_ms: 3000, association_delay_ms: 1500}\n"
            "vpcs:\n  main: {cidr: 10.0.0.0/16}\n")
    topo = load_text(text, default_name="timing")
    assert (topo.ec2_api.attachment_delay_ms, topo.ec2_api.association_delay_ms) == (3000, 1500)
    again = load_text(topology_text(topo), default_name="timing")
    assert again.ec2_api == topo.ec2_api
    assert load_text(text.replace("association_delay_ms: 1500", "association_delay_ms: 0"),
                     default_name="timing").ec2_api.association_delay_ms == 0
