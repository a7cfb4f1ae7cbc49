"""VPC endpoints and VPC DNS with real packets and real clients: boto3 through an S3 gateway endpoint
and an SQS interface endpoint with private DNS, route priority, endpoint security groups, private DNS
off, and endpoints added and removed on a running lab."""
from __future__ import annotations

import os
from ipaddress import IPv4Network

import pytest

from kernel_clients import BOTO, SQS, WHOAMI, fails, resolve, run
from vpcemu.lab import Lab
from vpcemu.load import load_text
from vpcemu.model import SecurityGroupRule
from vpcemu.ops import security, vpc_endpoint

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.geteuid() != 0, reason="kernel tests need root")]

TOPOLOGY = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    enable_dns_hostnames: true
    internet_gateway: igw
    subnets:
      public-a:   {cidr: 10.0.0.0/24, az: us-east-1a, route_table: public}
      private-a:  {cidr: 10.0.1.0/24, az: us-east-1a, route_table: private-a}
      private-b:  {cidr: 10.0.3.0/24, az: us-east-1b, route_table: private-b}
      private-c:  {cidr: 10.0.4.0/24, az: us-east-1b, route_table: private-c}
      isolated-a: {cidr: 10.0.5.0/24, az: us-east-1a, route_table: isolated}
      isolated-b: {cidr: 10.0.6.0/24, az: us-east-1b, route_table: isolated}
    route_tables:
      public:    {routes: [{destination: 0.0.0.0/0, target: igw}]}
      private-a: {routes: [{destination: 0.0.0.0/0, target: nat-a}]}
      private-b: {routes: [{destination: 0.0.0.0/0, target: nat-a}]}
      private-c: {routes: [{destination: 0.0.0.0/0, target: nat-a}, {destination: 198.19.1.0/24, target: nat-a}]}
      isolated: {}
    nat_gateways:
      nat-a: {subnet: public-a, eip: 198.51.100.20}
    security_groups:
      vpce: {ingress: [{protocol: tcp, ports: 443, source: 10.0.0.0/16}, {protocol: tcp, ports: 80, source: 10.0.0.0/16}]}
    endpoints:
      s3: {type: gateway, service: s3, route_tables: [private-a, private-c]}
      sqs: {type: interface, service: sqs, subnets: [isolated-a, isolated-b], security_groups: [vpce]}
    instances:
      app-a: {subnet: private-a, private_ip: 10.0.1.10}
      app-b: {subnet: private-b, private_ip: 10.0.3.10}
      app-c: {subnet: private-c, private_ip: 10.0.4.10}
      iso:   {subnet: isolated-a, private_ip: 10.0.5.10}
aws:
  services: [s3, sqs, dynamodb]
"""


@pytest.fixture(scope="module")
def lab():
    with Lab.up(load_text(TOPOLOGY, name="ep"), name=f"ep{os.getpid() % 100000}") as lab:
        yield lab


def components(result) -> list[str]:
    return [h.component for h in result.hops if h.leg == "forward"]


def test_boto3_through_the_s3_gateway_endpoint_keeps_the_private_source(lab):
    out = run(lab, "app-a", BOTO, "bkt-a")
    assert out["s3"] == {"body": "hello", "client": "10.0.1.10"}
    r = lab.probe("app-a", "s3", protocol="tcp", port=443)
    assert r.reachable and "vpc-endpoint s3" in components(r)
    assert not any(c.startswith("nat-gateway") for c in components(r))


def test_a_subnet_without_the_endpoint_still_goes_through_its_nat_gateway(lab):
    out = run(lab, "app-b", BOTO, "bkt-b")
    assert out["s3"]["client"] == "198.51.100.20"
    r = lab.probe("app-b", "s3", protocol="tcp", port=443)
    assert "nat-gateway nat-a" in components(r) and "vpc-endpoint s3" not in components(r)


def test_an_exact_cidr_static_route_beats_the_prefix_list_route(lab):
    first, second = (str(a) for a in lab.topology.service_addresses["s3"])      # 198.19.0.10, 198.19.1.10
    via_endpoint = lab.probe("app-c", first, protocol="tcp", port=443)
    via_nat = lab.probe("app-c", second, protocol="tcp", port=443)
    assert "vpc-endpoint s3" in components(via_endpoint) and "nat-gateway nat-a" not in components(via_endpoint)
    assert "nat-gateway nat-a" in components(via_nat) and "vpc-endpoint s3" not in components(via_nat)


def test_the_gateway_endpoint_passes_only_tcp_and_echo(lab):
    assert lab.probe("app-a", "s3", protocol="icmp").decided_by == "answer"
    r = lab.probe("app-a", "s3", protocol="udp", port=443)
    assert not r.reachable and {e["code"] for e in r.explanations} == {"VPCE_GATEWAY_PROTOCOL_RESTRICTION"}
    assert r.decided_by == "drop"               # the trace showed the drop: no waiting out the timeout


def test_sqs_through_the_interface_endpoint_with_private_dns_and_no_nat(lab):
    enis = sorted(str(lab.topology.network_interface(n).private_ip_address)
                  for n in lab.topology.vpcs["main"].endpoints["sqs"].network_interfaces)
    assert resolve(lab, "iso", "sqs.us-east-1.amazonaws.com") == enis
    out = run(lab, "iso", SQS, "q-iso")
    assert out["body"] == "m1" and out["client"] in enis          # the service sees the endpoint ENI
    r = lab.probe("iso", enis[0], protocol="icmp")                # an interface endpoint does not answer ping
    assert not r.reachable


def test_the_endpoint_security_group_without_443_blocks_it_and_the_probe_names_it(lab):
    rule = SecurityGroupRule("tcp", 443, 443, cidr=IPv4Network("10.0.0.0/16"))
    security.revoke_security_group_ingress(lab, "vpce", rule)
    try:
        eni = lab.topology.vpcs["main"].endpoints["sqs"].network_interfaces[0]
        address = str(lab.topology.network_interface(eni).private_ip_address)
        r = lab.probe("iso", address, protocol="tcp", port=443)
        assert not r.reachable
        assert {(e["code"], e["eni"], e["sg"]) for e in r.explanations} == {("ENI_SG_RULES_MISMATCH", eni, "vpce")}
        assert r.decided_by == "drop"
        fails(lab, "iso", SQS, "q-blocked")                     # boto3 itself cannot get through
    finally:
        security.authorize_security_group_ingress(lab, "vpce", rule)


def test_endpoints_added_and_removed_live_with_private_dns_off(lab):
    sqs_public = sorted(str(a) for a in lab.topology.service_addresses["sqs"])
    vpc_endpoint.delete_vpc_endpoint(lab, "sqs")
    assert resolve(lab, "iso", "sqs.us-east-1.amazonaws.com") == sqs_public
    assert not lab.probe("iso", sqs_public[0], protocol="tcp", port=443).reachable     # no NAT, no endpoint
    vpc_endpoint.create_vpc_endpoint(lab, "sqs2", "sqs", "interface", subnets=["isolated-a"],
                                     security_groups=["vpce"], private_dns_enabled=False)
    ep = lab.topology.vpcs["main"].endpoints["sqs2"]
    eni = str(lab.topology.network_interface(ep.network_interfaces[0]).private_ip_address)
    # private DNS off: the public name is public, and app-a reaches it through the NAT gateway
    assert resolve(lab, "iso", "sqs.us-east-1.amazonaws.com") == sqs_public
    assert run(lab, "app-a", SQS, "q-nat")["client"] == "198.51.100.20"
    # the endpoint's own names still reach the ENI
    name = f"{ep.dns_id}.sqs.us-east-1.vpce.amazonaws.com"
    assert resolve(lab, "iso", name) == [eni]
    assert run(lab, "iso", WHOAMI, f"http://{name}/vpcemu/whoami")["client"] == eni
    # a gateway endpoint added live: its prefix-list routes appear, and go when it goes
    vpc_endpoint.create_vpc_endpoint(lab, "s3b", "s3", "gateway", route_tables=["private-b"])
    assert "vpc-endpoint s3, s3b" in components(lab.probe("app-b", "s3", protocol="tcp", port=443))
    vpc_endpoint.delete_vpc_endpoint(lab, "s3b")
    assert "nat-gateway nat-a" in components(lab.probe("app-b", "s3", protocol="tcp", port=443))
    assert lab.status()["status"] == "up"
