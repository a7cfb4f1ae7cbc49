"""AWS's names and answers without root: endpoint DNS names as AWS shows them, the internet's public
zone, the certificate's names, the address a source uses, gateway-endpoint routes, ModifyVpcEndpoint
and ModifyVpcAttribute with AWS's refusals."""
from __future__ import annotations

import re
from ipaddress import IPv4Address as A

import pytest

from vpcemu import load_text
from vpcemu.codes import ErrorCode
from vpcemu.dns.zone import (NOERROR, NXDOMAIN, build_public_zone, build_zone, certificate_names,
                             endpoint_dns_names, public_hostname)
from vpcemu.errors import UsageError
from vpcemu.ops.route_table import route_deleted, route_replaced
from vpcemu.ops.vpc import vpc_attribute_modified
from vpcemu.ops.vpc_endpoint import vpc_endpoint_modified
from vpcemu.services.supervisor import PublicResolverSpec, supervisor_spec

TOPO = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    enable_dns_hostnames: true
    internet_gateway: igw
    subnets:
      pub:  {cidr: 10.0.0.0/24, az: us-east-1a, route_table: public}
      a:    {cidr: 10.0.1.0/24, az: us-east-1a, route_table: private}
      b:    {cidr: 10.0.2.0/24, az: us-east-1b, route_table: private}
      b2:   {cidr: 10.0.3.0/24, az: us-east-1b, route_table: private}
    route_tables:
      public:  {routes: [{destination: 0.0.0.0/0, target: igw}]}
      private: {routes: [{destination: 198.19.1.0/24, target: igw}]}
    security_groups:
      vpce: {ingress: [{protocol: tcp, ports: 443, source: 10.0.0.0/16}]}
      other: {}
    endpoints:
      s3:  {type: gateway, service: s3, route_tables: [private]}
      sqs: {type: interface, service: sqs, subnets: [a], security_groups: [vpce], private_dns: false}
    instances:
      web: {subnet: pub, private_ip: 10.0.0.10, eip: 198.51.100.10}
      app: {subnet: a, private_ip: 10.0.1.10}
  quiet:
    cidr: 10.1.0.0/16
    subnets:
      q: {cidr: 10.1.1.0/24, az: us-east-1a}
internet:
  hosts:
    ext: {ip: 198.18.0.50}
aws:
  services: [s3, sqs]
"""


@pytest.fixture(scope="module")
def topo():
    return load_text(TOPO, name="pn")


def test_endpoint_names_are_the_id_and_eight_characters_regional_then_zonal(topo):
    v = topo.vpcs["main"]
    ep = v.endpoints["sqs"]
    assert re.fullmatch(r"vpce-[0-9a-f]{17}-[a-z2-7]{8}", ep.dns_id) and ep.dns_id.startswith(ep.id + "-")
    names = list(endpoint_dns_names(topo, v, ep))
    assert names == [f"{ep.dns_id}.sqs.us-east-1.vpce.amazonaws.com",
                     f"{ep.dns_id}-us-east-1a.sqs.us-east-1.vpce.amazonaws.com"]
    assert endpoint_dns_names(topo, v, v.endpoints["s3"]) == {}          # a gateway endpoint has no names


def test_public_hostnames_follow_the_region():
    assert public_hostname(A("198.51.100.10"), "us-east-1") == "ec2-198-51-100-10.compute-1.amazonaws.com"
    assert public_hostname(A("198.51.100.10"), "eu-west-1") == "ec2-198-51-100-10.eu-west-1.compute.amazonaws.com"


def test_the_public_zone_answers_what_public_dns_answers(topo):
    z = build_public_zone(topo)
    ep = topo.vpcs["main"].endpoints["sqs"]
    eni = topo.network_interface(ep.network_interfaces[0]).private_ip_address
    assert z.lookup("sqs.us-east-1.amazonaws.com") == (NOERROR, topo.service_addresses["sqs"])
    assert z.lookup("bucket.s3.us-east-1.amazonaws.com") == (NOERROR, topo.service_addresses["s3"])
    assert z.lookup(f"{ep.dns_id}.sqs.us-east-1.vpce.amazonaws.com") == (NOERROR, (eni,))   # private answer
    assert z.lookup("ec2-198-51-100-10.compute-1.amazonaws.com") == (NOERROR, (A("198.51.100.10"),))
    assert z.lookup("10.100.51.198.in-addr.arpa", "PTR") == (NOERROR, ("ec2-198-51-100-10.compute-1.amazonaws.com",))
    assert z.lookup("ext") == (NOERROR, (A("198.18.0.50"),))
    for name in ("ip-10-0-0-10.ec2.internal", "example.com", "dynamodb.us-east-1.amazonaws.com"):
        assert z.lookup(name)[0] == NXDOMAIN, name


def test_an_instance_public_name_is_its_private_ip_inside_its_vpc_and_public_elsewhere(topo):
    name = "ec2-198-51-100-10.compute-1.amazonaws.com"
    assert build_zone(topo, "main", topo.service_addresses).lookup(name) == (NOERROR, (A("10.0.0.10"),))
    assert build_zone(topo, "quiet", topo.service_addresses).lookup(name) == (NOERROR, (A("198.51.100.10"),))
    off = vpc_attribute_modified(topo, "main", enable_dns_hostnames=False)     # no public names then
    assert build_public_zone(off).lookup(name)[0] == NXDOMAIN


def test_the_certificate_covers_every_service_and_endpoint_name_of_the_services_served():
    names = certificate_names(["s3", "sqs", "ec2"], "us-east-1")
    assert {"sqs.us-east-1.amazonaws.com", "*.sqs.us-east-1.vpce.amazonaws.com", "ec2.us-east-1.amazonaws.com",
            "*.ec2.us-east-1.vpce.amazonaws.com", "*.s3.us-east-1.amazonaws.com", "s3.amazonaws.com"} <= set(names)


def test_internet_hosts_get_the_internet_resolver(topo):
    assert supervisor_spec(topo, "lab1").public == PublicResolverSpec("lab1-inet", "169.254.255.1")


def test_the_address_a_source_uses(topo):
    assert topo.address_seen_by("ext", "web") == A("198.51.100.10")
    assert topo.address_seen_by("ext", topo.instances["web"].id) == A("198.51.100.10")
    assert topo.address_seen_by("app", "web") is None                      # inside: the private IP
    assert topo.address_seen_by("ext", "s3") is None                        # not an instance
    with pytest.raises(UsageError, match="app has no public IP") as e:
        topo.address_seen_by("ext", "app")
    assert "eip associate" in e.value.hint


@pytest.mark.parametrize("destination", ["pl-63a5400a", "198.19.0.0/24", "198.19.0.0/25"])
def test_a_gateway_endpoint_route_is_the_endpoints(topo, destination):
    pl = topo.prefix_lists["s3"]
    value = pl.id if destination.startswith("pl-") else destination
    if destination == "198.19.0.0/25":           # not one of its CIDRs: just a route the table does not have
        with pytest.raises(UsageError) as e:
            route_deleted(topo, "private", value)
        assert e.value.code == ErrorCode.INVALID_ROUTE_NOT_FOUND
        return
    for edit in (lambda: route_deleted(topo, "private", value), lambda: route_replaced(topo, "private", value, "igw")):
        with pytest.raises(UsageError, match="belongs to gateway endpoint s3") as e:
            edit()
        assert e.value.code == ErrorCode.INVALID_PARAMETER_VALUE and "--remove-route-table private" in e.value.hint


def test_a_static_route_for_a_prefix_list_cidr_is_still_the_users(topo):
    after = route_deleted(topo, "private", "198.19.1.0/24")
    assert [r.destination_prefix_list_id for r in after.vpcs["main"].route_tables["private"].routes
            if r.is_prefix_list] == [topo.prefix_lists["s3"].id]
    with pytest.raises(UsageError) as e:
        route_deleted(topo, "public", topo.prefix_lists["s3"].id)
    assert e.value.code == ErrorCode.INVALID_ROUTE_NOT_FOUND


def test_modify_an_interface_endpoint(topo):
    t = vpc_endpoint_modified(topo, "sqs", add_subnets=["b"], add_security_groups=["other"], private_dns_enabled=True)
    ep = t.vpcs["main"].endpoints["sqs"]
    assert ep.subnets == ("a", "b") and ep.security_groups == ("vpce", "other") and ep.private_dns_enabled
    assert [t.network_interface(n).subnet for n in ep.network_interfaces] == ["a", "b"]
    assert all(t.network_interface(n).security_groups == ("vpce", "other") for n in ep.network_interfaces)
    assert build_zone(t, "main", t.service_addresses).lookup("sqs.us-east-1.amazonaws.com")[1] == tuple(
        t.network_interface(n).private_ip_address for n in ep.network_interfaces)
    t = vpc_endpoint_modified(t, "sqs", remove_subnets=["a"], remove_security_groups=["vpce"])
    ep = t.vpcs["main"].endpoints["sqs"]
    assert ep.subnets == ("b",) and ep.network_interfaces == ("sqs.b",) and "sqs.a" not in t.network_interfaces


@pytest.mark.parametrize("change, code, words", [
    ({"add_subnets": ["b", "b2"]}, ErrorCode.DUPLICATE_SUBNETS_IN_SAME_ZONE, "availability zone of b2"),
    ({"add_subnets": ["a"]}, ErrorCode.DUPLICATE_SUBNETS_IN_SAME_ZONE, "availability zone of a"),
    ({"remove_subnets": ["a"]}, ErrorCode.MISSING_PARAMETER, "at least one subnet"),
    ({"remove_subnets": ["b"]}, ErrorCode.INVALID_PARAMETER, "has no subnet 'b'"),
    ({"remove_security_groups": ["vpce"]}, ErrorCode.MISSING_PARAMETER, "at least one security group"),
    ({"add_security_groups": ["nope"]}, ErrorCode.INVALID_GROUP_NOT_FOUND, "nope"),
    ({"add_route_tables": ["public"]}, ErrorCode.INVALID_PARAMETER, "not route tables"),
])
def test_modify_an_interface_endpoint_refusals(topo, change, code, words):
    with pytest.raises(UsageError, match=words) as e:
        vpc_endpoint_modified(topo, "sqs", **change)
    assert e.value.code == code


def test_private_dns_needs_both_dns_attributes_and_they_stay_on_under_it(topo):
    off = vpc_attribute_modified(topo, "main", enable_dns_hostnames=False)
    with pytest.raises(UsageError, match="needs both enable_dns_support and enable_dns_hostnames") as e:
        vpc_endpoint_modified(off, "sqs", private_dns_enabled=True)
    assert e.value.code == ErrorCode.INVALID_PARAMETER
    on = vpc_endpoint_modified(topo, "sqs", private_dns_enabled=True)
    with pytest.raises(UsageError, match="private DNS of endpoint") as e:
        vpc_attribute_modified(on, "main", enable_dns_support=False)
    with pytest.raises(UsageError, match="multiple attribute types") as e:
        vpc_attribute_modified(topo, "main", enable_dns_support=True, enable_dns_hostnames=True)
    assert e.value.code == ErrorCode.INVALID_PARAMETER_COMBINATION


def test_modify_a_gateway_endpoint(topo):
    t = vpc_endpoint_modified(topo, "s3", add_route_tables=["public"], remove_route_tables=["private"])
    rts = t.vpcs["main"].route_tables
    assert t.vpcs["main"].endpoints["s3"].route_tables == ("public",)
    assert [r.target for r in rts["public"].routes if r.is_prefix_list] == ["s3"]
    assert not any(r.is_prefix_list for r in rts["private"].routes)
    with pytest.raises(UsageError) as e:
        vpc_endpoint_modified(topo, "s3", add_subnets=["a"])
    assert e.value.code == ErrorCode.INVALID_PARAMETER
    with pytest.raises(UsageError) as e:
        vpc_endpoint_modified(topo, "s3", add_route_tables=["private"])
    assert e.value.code == ErrorCode.INVALID_PARAMETER_VALUE
