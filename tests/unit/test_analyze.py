"""analyze: AWS's expected answer for a flow from the model alone — paths, headers, both legs, explanation codes."""
from __future__ import annotations

import json
import time
from ipaddress import IPv4Address as A

import pytest

from vpcemu import load_text
from vpcemu.analyze import Analyzer, analyze_flow
from vpcemu.errors import UsageError
from vpcemu.ops.nat_gateway import nat_gateway_deleted
from vpcemu.ops.route_table import route_created

ONE_VPC = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    internet_gateway: igw
    subnets:
      public:   {cidr: 10.0.0.0/24, az: us-east-1a, route_table: public}
      private:  {cidr: 10.0.1.0/24, az: us-east-1a, route_table: private, network_acl: strict}
      closed:   {cidr: 10.0.2.0/24, az: us-east-1a, network_acl: closed}
      private2: {cidr: 10.0.3.0/24, az: us-east-1a, route_table: private}
      isolated: {cidr: 10.0.4.0/24, az: us-east-1a}
    route_tables:
      main: {main: true}
      public: {routes: [{destination: 0.0.0.0/0, target: igw}]}
      private:
        routes:
          - {destination: 0.0.0.0/0, target: nat}
          - {destination: 192.168.0.0/16, target: blackhole}
    nat_gateways:
      nat: {subnet: public, eip: 198.51.100.20}
    security_groups:
      web:
        ingress:
          - {protocol: tcp, ports: 80, source: 0.0.0.0/0}
          - {protocol: icmp, source: 10.0.0.0/16}
      app:
        ingress:
          - {protocol: tcp, ports: 8080, source: sg:web}
        egress:
          - {protocol: tcp, ports: 443, destination: 0.0.0.0/0}
          - {protocol: tcp, ports: 22, destination: 0.0.0.0/0}
      silent: {egress: []}
    network_acls:
      strict:
        ingress:
          - {rule: 100, protocol: tcp, ports: 8080, source: 10.0.0.0/24, action: allow}
          - {rule: 110, protocol: tcp, ports: 1024-65535, source: 0.0.0.0/0, action: allow}
        egress:
          - {rule: 90, protocol: tcp, ports: 22, destination: 0.0.0.0/0, action: deny}
          - {rule: 100, protocol: all, destination: 0.0.0.0/0, action: allow}
      closed: {}
    instances:
      web:     {subnet: public, private_ip: 10.0.0.10, eip: 198.51.100.10, security_groups: [web]}
      web2:    {subnet: public, private_ip: 10.0.0.11, security_groups: [web]}
      app:     {subnet: private, private_ip: 10.0.1.10, security_groups: [app]}
      app-eip: {subnet: private2, private_ip: 10.0.3.10, eip: 198.51.100.11, security_groups: [web]}
      c1:      {subnet: closed, private_ip: 10.0.2.10}
      c2:      {subnet: closed, private_ip: 10.0.2.11}
      c3:      {subnet: closed, private_ip: 10.0.2.12, security_groups: [silent]}
      iso:     {subnet: isolated, private_ip: 10.0.4.10}
    network_interfaces:
      spare: {subnet: public, private_ips: [10.0.0.50], security_groups: [web]}
internet:
  hosts:
    ext: {ip: 198.18.0.50}
"""

MIDDLEBOX = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    subnets:
      web:      {cidr: 10.0.0.0/24, az: us-east-1a, route_table: web}
      db:       {cidr: 10.0.1.0/24, az: us-east-1a, route_table: db}
      inspect:  {cidr: 10.0.2.0/24, az: us-east-1a}
      inspect2: {cidr: 10.0.3.0/24, az: us-east-1a}
    route_tables:
      main: {main: true}
      web: {routes: [{destination: 10.0.1.0/24, target: fw}]}
      db: {routes: [{destination: 10.0.0.0/24, target: fw}]}
    security_groups:
      open: {ingress: [{protocol: all, source: 10.0.0.0/16}]}
    instances:
      web: {subnet: web, private_ip: 10.0.0.10, security_groups: [open]}
      db:  {subnet: db, private_ip: 10.0.1.10, security_groups: [open]}
      fw:  {subnet: inspect, private_ip: 10.0.2.10, source_dest_check: false, forwarding: true, security_groups: [open]}
      fw2: {subnet: inspect2, private_ip: 10.0.3.10, source_dest_check: false, forwarding: true, security_groups: [open]}
"""

ENDPOINTS = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    enable_dns_hostnames: true
    internet_gateway: igw
    subnets:
      public:    {cidr: 10.0.0.0/24, az: us-east-1a, route_table: public}
      private-a: {cidr: 10.0.1.0/24, az: us-east-1a, route_table: private-a}
      private-b: {cidr: 10.0.2.0/24, az: us-east-1b, route_table: private-b}
    route_tables:
      public: {routes: [{destination: 0.0.0.0/0, target: igw}]}
      private-a: {routes: [{destination: 0.0.0.0/0, target: nat}]}
      private-b: {routes: [{destination: 0.0.0.0/0, target: nat}, {destination: 198.19.0.0/24, target: nat}]}
    nat_gateways: {nat: {subnet: public, eip: 198.51.100.20}}
    security_groups:
      vpce: {ingress: [{protocol: tcp, ports: 443, source: 10.0.0.0/16}, {protocol: icmp, source: 10.0.0.0/16}]}
    endpoints:
      s3gw: {type: gateway, service: s3, route_tables: [private-a, private-b]}
      sqs: {type: interface, service: sqs, subnets: [private-a], security_groups: [vpce]}
    instances:
      app-a: {subnet: private-a, private_ip: 10.0.1.10}
      app-b: {subnet: private-b, private_ip: 10.0.2.10}
aws:
  services: [s3, sqs]
"""

PEERED = """
format: 1
vpcs:
  a:
    cidr: 10.1.0.0/16
    internet_gateway: igw-a
    subnets:
      pub: {cidr: 10.1.0.0/24, az: us-east-1a, route_table: pub}
      s:   {cidr: 10.1.1.0/24, az: us-east-1a, route_table: r}
    route_tables:
      pub: {routes: [{destination: 0.0.0.0/0, target: igw-a}]}
      r:
        routes:
          - {destination: 10.2.0.0/16, target: ab}
          - {destination: 10.3.0.0/16, target: ab}
          - {destination: 0.0.0.0/0, target: nat-a}
    nat_gateways: {nat-a: {subnet: pub, eip: 198.51.100.20}}
    security_groups:
      web: {}
    instances:
      a1: {subnet: s, private_ip: 10.1.1.10, security_groups: [web]}
      a2: {subnet: s, private_ip: 10.1.1.11}
  b:
    cidr: 10.2.0.0/16
    subnets: {s: {cidr: 10.2.1.0/24, az: us-east-1a, route_table: r}}
    route_tables:
      r:
        routes:
          - {destination: 10.1.0.0/16, target: ab}
          - {destination: 10.3.0.0/16, target: bc}
          - {destination: 0.0.0.0/0, target: ab}
    security_groups:
      db:
        ingress:
          - {protocol: tcp, ports: 5432, source: sg:a/web}
          - {protocol: icmp, source: 10.1.0.0/16}
    instances:
      b1: {subnet: s, private_ip: 10.2.1.10, security_groups: [db]}
  c:
    cidr: 10.3.0.0/16
    subnets: {s: {cidr: 10.3.1.0/24, az: us-east-1a, route_table: r}}
    route_tables:
      r: {routes: [{destination: 10.2.0.0/16, target: bc}]}
    instances:
      c1: {subnet: s, private_ip: 10.3.1.10}
peering:
  ab: {requester: a, accepter: b}
  bc: {requester: b, accepter: c}
internet:
  hosts:
    ext: {ip: 198.18.0.50}
"""


DUAL = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
      b: {cidr: 10.0.2.0/24, az: us-east-1a}
    security_groups:
      echo: {ingress: [{protocol: icmp, icmp_type: 8, icmp_code: 0, source: 10.0.0.0/16}]}
      unreachable: {ingress: [{protocol: icmp, icmp_type: 3, source: 10.0.0.0/16}]}
    instances:
      dual: {subnet: a, private_ip: 10.0.1.10, security_groups: [echo]}
      ca:   {subnet: a, private_ip: 10.0.1.20, security_groups: [echo]}
      cb:   {subnet: b, private_ip: 10.0.2.20, security_groups: [unreachable]}
    network_interfaces:
      dual-b:
        subnet: b
        private_ips: [10.0.2.10]
        security_groups: [echo]
        attachment: {instance: dual, device_index: 1}
"""


@pytest.fixture(scope="module")
def one():
    return Analyzer(load_text(ONE_VPC, name="x"))


@pytest.fixture(scope="module")
def endpoints():
    return Analyzer(load_text(ENDPOINTS, name="x"))


@pytest.fixture(scope="module")
def peered():
    return Analyzer(load_text(PEERED, name="x"))


def blocked(analysis, **expected):
    """The flow is not reachable, for exactly one explanation that has these fields."""
    assert not analysis.reachable
    assert len(analysis.explanations) == 1, analysis.explanations
    got = analysis.explanations[0]
    assert {k: got.get(k) for k in expected} == expected, got
    return got


def hop(analysis, component, leg="forward"):
    hops = analysis.forward if leg == "forward" else analysis.return_path
    return next(h for h in hops if h.component == component)


def kinds(analysis, kind, leg="forward"):
    hops = analysis.forward if leg == "forward" else analysis.return_path
    return [h for h in hops if h.kind == kind]


# -- security groups, network ACLs, same subnet --------------------------------------------------------
def test_cross_subnet_flow_passes_both_nacls_and_both_security_groups(one):
    a = one.flow("web", "app", "tcp", 8080)
    assert a.reachable and a.explanations == []
    assert a.components() == ["eni web.eth0", "eni app.eth0"]
    assert a.components("return") == ["eni app.eth0", "eni web.eth0"]
    assert hop(a, "route-table public").route == {"destination": "10.0.0.0/16", "target": "local"}
    assert hop(a, "network-acl strict").rule == "subnet=private 100 allow tcp/8080 10.0.0.0/24"
    assert hop(a, "security-group app").rule == "eni=app.eth0 tcp/8080 sg:web"
    back = hop(a, "network-acl strict", "return")
    assert (back.direction, back.sport, back.dport) == ("egress", 8080, 40000)


def test_security_group_ingress_drop(one):
    blocked(one.flow("web", "app", "tcp", 9090), code="ENI_SG_RULES_MISMATCH", direction="ingress",
            eni="app.eth0", sg="app", leg="forward")


def test_security_group_egress_drop(one):
    blocked(one.flow("app", "web", "tcp", 80), code="ENI_SG_RULES_MISMATCH", direction="egress",
            eni="app.eth0", sg="app")
    assert one.flow("c1", "c2", "icmp").reachable           # the default group: members reach each other
    blocked(one.flow("c3", "c1", "icmp"), code="ENI_SG_RULES_MISMATCH", direction="egress", eni="c3.eth0",
            sg="silent")


def test_network_acl_drops_each_direction_with_its_rule(one):
    blocked(one.flow("app", "web", "tcp", 22), code="SUBNET_ACL_RESTRICTION", direction="egress", acl="strict",
            subnet="private", rule="90")
    blocked(one.flow("web", "app", "tcp", 22), code="SUBNET_ACL_RESTRICTION", direction="ingress", acl="strict",
            subnet="private", rule="*")


def test_network_acl_without_the_ephemeral_ports_rule_drops_only_the_answer():
    no_egress = ONE_VPC.replace("- {rule: 100, protocol: all, destination: 0.0.0.0/0, action: allow}",
                                "- {rule: 100, protocol: tcp, ports: 443, destination: 0.0.0.0/0, action: allow}")
    a = analyze_flow(load_text(no_egress, name="x"), "web", "app", "tcp", 8080)
    assert a.components() == ["eni web.eth0", "eni app.eth0"]            # the request arrives
    blocked(a, code="SUBNET_ACL_RESTRICTION", direction="egress", acl="strict", subnet="private", rule="*",
            leg="return")
    no_ephemeral = ONE_VPC.replace("- {rule: 110, protocol: tcp, ports: 1024-65535, source: 0.0.0.0/0, action: allow}",
                                   "")
    a = analyze_flow(load_text(no_ephemeral, name="x"), "app", "ext", "tcp", 443)
    assert a.components()[-1] == "internet host ext"
    blocked(a, code="SUBNET_ACL_RESTRICTION", direction="ingress", acl="strict", subnet="private", rule="*",
            leg="return")
    assert analyze_flow(load_text(ONE_VPC, name="x"), "app", "ext", "tcp", 443).reachable


def test_same_subnet_skips_route_tables_and_network_acls(one):
    a = one.flow("c1", "c2", "icmp")                # the closed NACL denies everything at the subnet's edge
    assert a.reachable
    assert kinds(a, "route-table") == [] and not any(h.component.startswith("network-acl") for h in a.forward)
    assert a.components() == ["eni c1.eth0", "eni c2.eth0"]
    blocked(one.flow("c1", "web", "icmp"), code="SUBNET_ACL_RESTRICTION", direction="egress", acl="closed",
            subnet="closed", rule="*")


def test_resolver_is_never_filtered(one):
    for dst, proto in (("10.0.0.2", "udp"), ("169.254.169.253", "tcp")):
        a = one.flow("c3", dst, proto, 53)          # silent SG (no egress) in the closed NACL's subnet
        assert a.reachable, a.explanations
        assert a.components() == ["eni c3.eth0", "resolver main"]
        assert a.components("return") == ["resolver main", "eni c3.eth0"]


def test_icmp_rules_match_type_and_code():
    t = load_text(DUAL, name="x")
    assert analyze_flow(t, "dual", "ca", "icmp").reachable                     # echo: type 8 code 0
    blocked(analyze_flow(t, "ca", "cb", "icmp"), code="ENI_SG_RULES_MISMATCH", direction="ingress", eni="cb.eth0")


def test_a_multi_homed_instance_sends_by_the_interface_its_os_routes_by():
    t = load_text(DUAL, name="x")
    assert analyze_flow(t, "dual", "cb", "icmp").source_address == "10.0.2.10"    # subnet b: by eth1
    a = analyze_flow(t, "ca", "dual-b", "icmp")            # answers from eth1's address leave by eth1
    assert a.reachable and a.components("return") == ["eni dual-b", "eni ca.eth0"]
    # eth0's address answering subnet b leaves by eth1 (connected route), where it is not eth1's own source
    blocked(analyze_flow(t, "cb", "dual", "icmp"), code="ENI_SOURCE_DEST_CHECK_RESTRICTION", direction="egress",
            eni="dual-b", leg="return")


# -- routes ---------------------------------------------------------------------------------------------
def test_no_route(one):
    blocked(one.flow("iso", "ext", "icmp"), code="NO_ROUTE_TO_DESTINATION", route_table="main",
            component="route-table main")


def test_blackhole_route(one):
    blocked(one.flow("app", "192.168.1.1", "tcp", 443), code="BAD_STATE_ROUTE",
            route="private 192.168.0.0/16 state=blackhole")


def test_deleted_nat_gateway_leaves_a_blackhole_route():
    t = nat_gateway_deleted(load_text(ONE_VPC, name="x"), "nat")
    blocked(analyze_flow(t, "app", "ext", "tcp", 443), code="BAD_STATE_ROUTE",
            route="private 0.0.0.0/0 state=blackhole")


def test_middlebox_with_source_dest_check_off_forwards_both_ways():
    a = analyze_flow(load_text(MIDDLEBOX, name="x"), "web", "db", "tcp", 5432)
    assert a.reachable, a.explanations
    assert a.components() == ["eni web.eth0", "eni fw.eth0", "eni db.eth0"]
    assert a.components("return") == ["eni db.eth0", "eni fw.eth0", "eni web.eth0"]
    assert [h.route for h in kinds(a, "route-table")] == [{"destination": "10.0.1.0/24", "target": "fw"},
                                                          {"destination": "10.0.0.0/16", "target": "local"}]
    assert hop(a, "eni db.eth0").src == "10.0.0.10"          # the middlebox keeps the source


def test_middlebox_with_source_dest_check_on_drops():
    t = load_text(MIDDLEBOX.replace("fw:  {subnet: inspect, private_ip: 10.0.2.10, source_dest_check: false,",
                                    "fw:  {subnet: inspect, private_ip: 10.0.2.10,"), name="x")
    blocked(analyze_flow(t, "web", "db", "tcp", 5432), code="ENI_SOURCE_DEST_CHECK_RESTRICTION",
            direction="ingress", eni="fw.eth0")


def test_middlebox_that_does_not_forward_drops():
    t = load_text(MIDDLEBOX.replace("source_dest_check: false, forwarding: true, security_groups: [open]}\n      fw2",
                                    "source_dest_check: false, security_groups: [open]}\n      fw2"), name="x")
    blocked(analyze_flow(t, "web", "db", "icmp"), code="NO_POSSIBLE_DESTINATION", eni="fw.eth0",
            detail="the-instance-does-not-forward-packets")


def test_routing_loop_between_middleboxes_ends():
    looped = MIDDLEBOX.replace("      main: {main: true}", """      main: {main: true}
      to-fw2: {routes: [{destination: 10.0.1.0/24, target: fw2}]}
      to-fw: {routes: [{destination: 10.0.1.0/24, target: fw}]}""").replace(
        "inspect:  {cidr: 10.0.2.0/24, az: us-east-1a}",
        "inspect:  {cidr: 10.0.2.0/24, az: us-east-1a, route_table: to-fw2}"
    ).replace("inspect2: {cidr: 10.0.3.0/24, az: us-east-1a}",
              "inspect2: {cidr: 10.0.3.0/24, az: us-east-1a, route_table: to-fw}")
    blocked(analyze_flow(load_text(looped, name="x"), "web", "db", "icmp"), code="NO_PATH", detail="routing-loop")


# -- internet gateway ----------------------------------------------------------------------------------
def test_igw_egress_needs_a_public_ip(one):
    blocked(one.flow("web2", "ext", "tcp", 80), code="IGW_PUBLIC_IP_ASSOCIATION_FOR_EGRESS", direction="egress",
            igw="igw")


def test_igw_translates_an_eip_both_ways(one):
    a = one.flow("web", "ext", "tcp", 80)
    assert a.reachable
    assert a.components() == ["eni web.eth0", "igw igw", "internet host ext"]
    assert (hop(a, "igw igw").src, hop(a, "internet host ext").src) == ("198.51.100.10", "198.51.100.10")
    assert hop(a, "igw igw", "return").dst == "10.0.0.10"
    assert a.return_path[-1].src == "198.18.0.50" and a.return_path[-1].dst == "10.0.0.10"
    blocked(one.flow("web", "10.9.9.9", "icmp"), code="IGW_DESTINATION_ADDRESS_NOT_IN_RFC1918_EGRESS")


def test_internet_to_an_eip_allowed_and_denied_by_security_group(one):
    a = one.flow("ext", "web", "tcp", 80)
    assert a.reachable and a.destination_address == "198.51.100.10"
    assert a.components() == ["internet host ext", "igw igw", "eni web.eth0"]
    assert hop(a, "igw igw").dst == "10.0.0.10"
    assert hop(a, "igw igw", "return").src == "198.51.100.10"
    assert one.flow("ext", "198.51.100.10", "tcp", 80).reachable
    blocked(one.flow("ext", "web", "tcp", 22), code="ENI_SG_RULES_MISMATCH", direction="ingress", eni="web.eth0")
    blocked(one.flow("ext", "198.51.100.99", "icmp"), code="NO_POSSIBLE_DESTINATION", component="internet")


def test_private_subnet_instance_with_an_eip_does_not_answer_the_internet(one):
    a = one.flow("ext", "app-eip", "tcp", 80)
    assert a.components()[-1] == "eni app-eip.eth0"          # the request arrives …
    assert a.components("return") == ["eni app-eip.eth0", "eni nat.eni"]    # … its answer goes to the NAT gateway
    blocked(a, code="NGW_SOURCE_ADDRESS_REASSIGN", nat_gateway="nat", leg="return", component="nat-gateway nat")


# -- NAT gateway ---------------------------------------------------------------------------------------
def test_nat_gateway_translates_to_its_private_ip_then_the_igw_to_its_eip(one):
    nat_ip = str(one.topology.network_interface("nat.eni").private_ip_address)
    a = one.flow("app", "ext", "tcp", 443)
    assert a.reachable
    assert a.components() == ["eni app.eth0", "eni nat.eni", "nat-gateway nat", "igw igw", "internet host ext"]
    nat = hop(a, "nat-gateway nat")
    assert (nat.src, nat.sport_range) == (nat_ip, "1024-65535")
    assert hop(a, "igw igw").src == "198.51.100.20"
    assert [h.dst for h in a.return_path if h.kind in ("igw", "nat-gateway")] == [nat_ip, "10.0.1.10"]
    assert a.components("return") == ["internet host ext", "igw igw", "eni nat.eni", "nat-gateway nat",
                                      "eni app.eth0"]


def test_private_nat_gateway_is_dropped_by_the_igw():
    t = load_text(ONE_VPC.replace("nat: {subnet: public, eip: 198.51.100.20}",
                                  "nat: {subnet: public, connectivity: private}"), name="x")
    a = analyze_flow(t, "app", "ext", "tcp", 443)
    assert "nat-gateway nat" in a.components()
    blocked(a, code="IGW_PUBLIC_IP_ASSOCIATION_FOR_EGRESS", igw="igw")


def test_nat_gateway_answers_nothing_itself(one):
    nat_ip = str(one.topology.network_interface("nat.eni").private_ip_address)
    blocked(one.flow("ext", "198.51.100.20", "icmp"), code="NO_POSSIBLE_DESTINATION", nat_gateway="nat",
            detail="a-NAT-gateway-does-not-answer-ping")
    blocked(one.flow("ext", "198.51.100.20", "tcp", 80), code="NO_POSSIBLE_DESTINATION", nat_gateway="nat",
            detail="no-unsolicited-inbound-connections")
    blocked(one.flow("web", nat_ip, "icmp"), code="NO_POSSIBLE_DESTINATION", nat_gateway="nat")


# -- detached ENIs -------------------------------------------------------------------------------------
def test_detached_eni_neither_receives_nor_sends(one):
    blocked(one.flow("web", "spare", "icmp"), code="NO_POSSIBLE_DESTINATION", eni="spare",
            detail="the-network-interface-is-detached")
    blocked(one.flow("spare", "web", "icmp"), code="BAD_STATE_ATTACHMENT", eni="spare")


# -- VPC endpoints -------------------------------------------------------------------------------------
def test_gateway_endpoint_keeps_the_source_private_and_carries_tcp_and_echo_only(endpoints):
    pl = endpoints.topology.prefix_lists["s3"].id
    a = endpoints.flow("app-a", "s3", "tcp", 443)
    assert a.reachable and a.destination_address == "198.19.0.10"
    assert a.components() == ["eni app-a.eth0", "vpc-endpoint s3gw", "aws service s3"]
    assert hop(a, "route-table private-a").route == {"destination": pl, "target": "s3gw"}
    assert hop(a, "aws service s3").src == "10.0.1.10"
    assert a.components("return") == ["aws service s3", "vpc-endpoint s3gw", "eni app-a.eth0"]
    assert endpoints.flow("app-a", "s3", "icmp").reachable
    blocked(endpoints.flow("app-a", "s3", "udp", 53), code="VPCE_GATEWAY_PROTOCOL_RESTRICTION", direction="egress",
            vpc_endpoint="s3gw")


def test_static_route_beats_the_prefix_list_on_an_exact_tie(endpoints):
    tie = endpoints.flow("app-b", "s3", "tcp", 443)                       # 198.19.0.10: 198.19.0.0/24 → nat
    assert tie.reachable
    assert "vpc-endpoint s3gw" not in tie.components() and "nat-gateway nat" in tie.components()
    assert hop(tie, "route-table private-b").route == {"destination": "198.19.0.0/24", "target": "nat"}
    assert hop(tie, "aws service s3").src == "198.51.100.20"
    other = endpoints.flow("app-b", "198.19.1.10", "tcp", 443)            # the prefix list's other CIDR
    assert other.components() == ["eni app-b.eth0", "vpc-endpoint s3gw", "aws service s3"]
    # a static route created after the endpoint's route wins the tie as well
    later = Analyzer(route_created(endpoints.topology, "private-a", "198.19.1.0/24", "nat"))
    assert "nat-gateway nat" in later.flow("app-a", "198.19.1.10", "tcp", 443).components()
    assert "vpc-endpoint s3gw" in later.flow("app-a", "198.19.0.10", "tcp", 443).components()


def test_interface_endpoint_forwards_tcp_from_its_own_address(endpoints):
    eni_ip = str(endpoints.topology.network_interface("sqs.private-a").private_ip_address)
    sqs = str(endpoints.topology.service_addresses["sqs"][0])
    a = endpoints.flow("app-a", "sqs.private-a", "tcp", 443)
    assert a.reachable, a.explanations
    assert a.components() == ["eni app-a.eth0", "eni sqs.private-a", "vpc-endpoint sqs", "aws service sqs"]
    assert (hop(a, "aws service sqs").src, hop(a, "aws service sqs").dst) == (eni_ip, sqs)
    assert a.components("return") == ["aws service sqs", "vpc-endpoint sqs", "eni sqs.private-a", "eni app-a.eth0"]
    assert (a.return_path[-1].src, a.return_path[-1].dst) == (eni_ip, "10.0.1.10")


def test_interface_endpoint_does_not_answer_icmp_and_has_its_own_security_groups(endpoints):
    blocked(endpoints.flow("app-a", "sqs.private-a", "icmp"), code="NO_POSSIBLE_DESTINATION", vpc_endpoint="sqs",
            detail="an-interface-endpoint-does-not-answer-ping")
    blocked(endpoints.flow("app-a", "sqs.private-a", "tcp", 80), code="ENI_SG_RULES_MISMATCH", direction="ingress",
            eni="sqs.private-a", sg="vpce")


# -- peering ---------------------------------------------------------------------------------------------
def test_peering_delivers_into_the_peer(peered):
    a = peered.flow("a1", "b1", "icmp")
    assert a.reachable
    assert a.components() == ["eni a1.eth0", "peering ab", "eni b1.eth0"]
    assert a.components("return") == ["eni b1.eth0", "peering ab", "eni a1.eth0"]


def test_security_group_reference_across_peering(peered):
    assert peered.flow("a1", "b1", "tcp", 5432).reachable                 # a1 is in a/web
    blocked(peered.flow("a2", "b1", "tcp", 5432), code="ENI_SG_RULES_MISMATCH", direction="ingress",
            eni="b1.eth0", sg="db")


def test_no_transit_through_a_peer(peered):
    blocked(peered.flow("a1", "c1", "icmp"), code="PCX_REQUIRES_ADDRESS_IN_VPC_CIDR", peering="ab", vpc="b")


def test_peer_cannot_use_this_vpcs_igw_nat_or_resolver(peered):
    assert peered.flow("a1", "ext", "tcp", 80).reachable                  # a's own NAT gateway works for a
    blocked(peered.flow("b1", "ext", "tcp", 80), code="PCX_REQUIRES_ADDRESS_IN_VPC_CIDR", peering="ab", vpc="a")
    # the peer's router gets the query, but answers only its own VPC's ENIs
    blocked(peered.flow("b1", "10.1.0.2", "udp", 53), code="NO_POSSIBLE_DESTINATION", component="resolver a",
            leg="return")


# -- API -------------------------------------------------------------------------------------------------
def test_names_ids_and_serialisation(one):
    eni = one.topology.network_interface("web.eth0")
    a = analyze_flow(one.topology, eni.id, "app", "tcp", 8080)
    assert a.reachable and a.source_address == "10.0.0.10"
    d = json.loads(json.dumps(a.to_dict()))
    assert d["forward"][0]["component"] == "eni web.eth0" and d["reachable"] is True
    with pytest.raises(UsageError):
        one.flow("nope", "web")
    with pytest.raises(UsageError):
        one.flow("web", "nope")
    with pytest.raises(UsageError):
        one.flow("web", "app", "tcp")


def test_a_matrix_of_500_flows_takes_well_under_half_a_second():
    subnets = "\n".join(f"      s{i}: {{cidr: 10.0.{i}.0/24, az: us-east-1a, "
                        f"route_table: {'public' if i < 2 else 'private'}}}" for i in range(6))
    instances = "\n".join(f"      i{n}: {{subnet: s{n % 6}, security_groups: [{'web' if n % 2 else 'app'}]}}"
                          for n in range(48))
    t = load_text(f"""
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    internet_gateway: igw
    subnets:
{subnets}
    route_tables:
      public: {{routes: [{{destination: 0.0.0.0/0, target: igw}}]}}
      private: {{routes: [{{destination: 0.0.0.0/0, target: nat}}]}}
    nat_gateways: {{nat: {{subnet: s0, eip: 198.51.100.20}}}}
    security_groups:
      web: {{ingress: [{{protocol: tcp, ports: 80, source: 0.0.0.0/0}}]}}
      app: {{ingress: [{{protocol: tcp, ports: 80, source: sg:web}}]}}
    instances:
{instances}
internet:
  hosts:
    ext: {{ip: 198.18.0.50}}
""", name="x")
    assert len(t.network_interfaces) >= 49
    names = [*t.instances, "ext"]
    flows = [(s, d) for s in names for d in names][:500]
    start = time.perf_counter()
    analyzer = Analyzer(t)
    results = [analyzer.flow(s, d, "tcp", 80) for s, d in flows]
    assert time.perf_counter() - start < 0.5
    assert any(r.reachable for r in results) and not all(r.reachable for r in results)
    assert A(results[0].source_address) in t.network_interface("i0.eth0").private_ip_addresses
