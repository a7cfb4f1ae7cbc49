"""Each AWS rule exists once (vpcemu/rules/) and is reached from both ways into the model: the loader
(a topology file, problems with paths) and the live ops (pure edits of a running lab's model). Every
case here breaks one rule both ways and asserts the same AWS error code from each side."""
from __future__ import annotations

import copy
import os
import threading
from dataclasses import replace
from ipaddress import IPv4Network

import pytest
import yaml

from vpcemu.codes import ErrorCode, ExplanationCode
from vpcemu.errors import Problem, TopologyError, UsageError
from vpcemu.lab import Lab
from vpcemu.load import load_text
from vpcemu.model import NetworkAclEntry, SecurityGroupRule
from vpcemu.ops import security
from vpcemu.ops.elastic_ip import associated
from vpcemu.ops.network_interface import assigned, attached, created, deleted, detached, moved
from vpcemu.ops.route_table import route_created, route_replaced
from vpcemu.ops.vpc_endpoint import vpc_endpoint_created
from vpcemu.rules import limits
from vpcemu.rules.security_group import parse_port_range
from vpcemu.kernel.journal import MODEL_CACHE_FILE, MODEL_FILE
from vpcemu.kernel.stored_model import read_model

ANY = "0.0.0.0/0"
BASE = {
    "format": 1,
    "aws": {"services": ["s3", "dynamodb", "sqs", "sns"]},
    "vpcs": {
        "main": {
            "cidr": "10.0.0.0/16", "enable_dns_hostnames": True, "internet_gateway": "igw",
            "subnets": {
                "a": {"cidr": "10.0.1.0/24", "az": "us-east-1a", "route_table": "rt"},
                "b": {"cidr": "10.0.2.0/24", "az": "us-east-1b"},
                "c": {"cidr": "10.0.3.0/24", "az": "us-east-1a"},
                "tiny": {"cidr": "10.0.9.0/28", "az": "us-east-1a"},
            },
            "route_tables": {"rt": {"routes": [{"destination": ANY, "target": "igw"}]}},
            "security_groups": {"web": {}, "db": {}},
            "network_acls": {"strict": {"ingress": [{"rule": 100, "protocol": "tcp", "ports": 22, "source": ANY,
                                                     "action": "allow"}]}},
            "nat_gateways": {"nat": {"subnet": "a", "eip": "198.51.100.20"}},
            "endpoints": {"s3": {"type": "gateway", "service": "s3", "route_tables": ["rt"]},
                          "sqs": {"type": "interface", "service": "sqs", "subnets": ["a"]}},
            "instances": {"app": {"subnet": "a", "private_ip": "10.0.1.10", "instance_type": "t3.micro"},
                          "fw": {"subnet": "a", "private_ip": "10.0.1.11", "source_dest_check": False},
                          "far": {"subnet": "b"}},
            "network_interfaces": {
                "vip": {"subnet": "a", "private_ips": ["10.0.1.100"], "attachment": {"instance": "app", "device_index": 1}},
                "fw-in": {"subnet": "c", "attachment": {"instance": "fw", "device_index": 1}},
                "spare": {"subnet": "a", "private_ips": ["10.0.1.50"]},
                "spare-b": {"subnet": "b"},
            },
        },
        "peer": {"cidr": "10.1.0.0/16", "subnets": {"p": {"cidr": "10.1.1.0/24", "az": "us-east-1a"}},
                 "security_groups": {"there": {}}},
        "lone": {"cidr": "10.2.0.0/16", "security_groups": {"alone": {}}},
    },
    "peering": {"main-peer": {"requester": "main", "accepter": "peer"}},
}


@pytest.fixture(scope="module")
def topo():
    return load_text(yaml.safe_dump(BASE), name="rules")


def vpc(doc: dict, name: str = "main") -> dict:
    return doc["vpcs"][name]


def loader_refuses(change) -> Problem:
    """Apply `change` to a copy of BASE; the loader must refuse it with exactly one problem."""
    doc = copy.deepcopy(BASE)
    change(doc)
    with pytest.raises(TopologyError) as caught:
        load_text(yaml.safe_dump(doc), name="rules")
    problems = caught.value.problems
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def live_refuses(fn, *args, **kwargs) -> UsageError:
    with pytest.raises(UsageError) as caught:
        fn(*args, **kwargs)
    return caught.value


def both(code: ErrorCode, change, fn, *args, **kwargs) -> tuple[Problem, UsageError]:
    problem, refused = loader_refuses(change), live_refuses(fn, *args, **kwargs)
    assert problem.code == code, problem
    assert refused.code == code, refused
    return problem, refused


def test_the_base_topology_loads(topo):
    assert {"nat.eni", "sqs.a", "vip", "spare"} <= set(topo.network_interfaces)


# -- routes -------------------------------------------------------------------------------------------
def add_route(destination, target, table="rt"):
    def change(doc):
        vpc(doc)["route_tables"][table]["routes"].append({"destination": destination, "target": target})
    return change


@pytest.mark.parametrize("destination, target, code", [
    ("169.254.169.0/24", "igw", ErrorCode.INVALID_PARAMETER_VALUE),        # AWS's reserved range
    (ANY, "nat", ErrorCode.ROUTE_ALREADY_EXISTS),                          # one route per destination
    ("10.0.0.0/16", "fw", ErrorCode.ROUTE_ALREADY_EXISTS),                 # the local route
    ("10.0.1.0/25", "spare", ErrorCode.INVALID_PARAMETER_VALUE),           # more specific than local: not a subnet
    ("10.0.2.0/24", "igw", ErrorCode.INVALID_PARAMETER_VALUE),             # … and not to an ENI or a NAT gateway
    ("10.9.0.0/16", "nosuch", ErrorCode.INVALID_ROUTE_NOT_FOUND),
    ("10.9.0.0/16", "app", ErrorCode.INVALID_INSTANCE_ID),                 # app has two ENIs: name one
    ("10.9.0.0/16", "local", ErrorCode.INVALID_PARAMETER_VALUE),
    ("pl:s3", "s3", ErrorCode.INVALID_PARAMETER_VALUE),                    # prefix-list routes are the endpoint's
])
def test_route_rules(topo, destination, target, code):
    both(code, add_route(destination, target), route_created, topo, "rt", destination, target)


def test_a_route_table_holds_at_most_its_quota_of_routes(topo):
    many = [{"destination": f"10.{100 + i // 250}.{i % 250}.0/24", "target": "blackhole"}
            for i in range(limits.MAX_ROUTES_PER_TABLE)]
    full = load_text(yaml.safe_dump({**BASE, "vpcs": {**BASE["vpcs"], "main": {
        **vpc(BASE), "route_tables": {"rt": {"routes": many}}}}}), name="rules")
    assert len(full.vpcs["main"].route_tables["rt"].routes) == limits.MAX_ROUTES_PER_TABLE + 2   # + local + s3
    both(ErrorCode.ROUTE_LIMIT_EXCEEDED,
         lambda doc: vpc(doc)["route_tables"]["rt"].update(routes=[*many, {"destination": ANY, "target": "igw"}]),
         route_created, full, "rt", ANY, "igw")


def test_decided_a_requester_managed_eni_is_not_a_route_target(topo):
    """AWS owns a NAT gateway's or an interface endpoint's ENI (requester-managed ENIs: users may only
    look at them); traffic reaches it through the NAT gateway, or by DNS. Both sides refuse it."""
    for eni in ("nat.eni", "sqs.a"):
        problem, refused = both(ErrorCode.OPERATION_NOT_PERMITTED, add_route("10.9.0.0/16", eni),
                                route_created, topo, "rt", "10.9.0.0/16", eni)
        assert problem.path == "vpcs.main.route_tables.rt.routes[1].target"
        assert "requester-managed" in refused.message
    assert live_refuses(route_replaced, topo, "rt", ANY, "nat.eni").code == ErrorCode.OPERATION_NOT_PERMITTED
    assert route_created(topo, "rt", "10.9.0.0/16", "nat").vpcs["main"].route_tables["rt"].routes[-1].network_interface \
        == "nat.eni"


@pytest.mark.parametrize("eni", ["nat.eni", "sqs.a"])
def test_a_requester_managed_eni_is_only_looked_at(topo, eni):
    """Moving, attaching, detaching or deleting a NAT gateway's or an endpoint's ENI: OperationNotPermitted
    before anything changes (a move used to reach the kernel and fail there)."""
    for refused in (live_refuses(moved, topo, eni, "far"), live_refuses(attached, topo, eni, "far", 1),
                    live_refuses(detached, topo, eni), live_refuses(deleted, topo, eni)):
        assert refused.code == ErrorCode.OPERATION_NOT_PERMITTED and "requester-managed" in refused.message


def test_decided_a_vpc_endpoint_is_not_a_route_target(topo):
    """A gateway endpoint's routes are its prefix-list routes, added and removed with its route tables;
    CreateRoute takes a VPC endpoint only for Gateway Load Balancer endpoints, which vpcemu has none of."""
    for endpoint in ("s3", "sqs"):
        problem, refused = both(ErrorCode.INVALID_PARAMETER_VALUE, add_route("10.9.0.0/16", endpoint),
                                route_created, topo, "rt", "10.9.0.0/16", endpoint)
        assert "VPC endpoint" in problem.message and "VPC endpoint" in refused.message


def test_route_target_in_another_vpc_says_where_it_is(topo):
    def change(doc):
        vpc(doc, "peer")["route_tables"] = {"main": {"main": True, "routes": [{"destination": "10.9.0.0/16",
                                                                              "target": "igw"}]}}
    problem, refused = both(ErrorCode.INVALID_ROUTE_NOT_FOUND, change,
                            route_created, topo, "main", "10.9.0.0/16", "igw", vpc="peer")
    assert "(igw is the internet gateway of VPC main)" in problem.message
    assert "(igw is the internet gateway of VPC main)" in refused.message


# -- protocol and ports (security group rules and network ACL entries) --------------------------------
def add_ingress(rule, group="web"):
    def change(doc):
        vpc(doc)["security_groups"][group].setdefault("ingress", []).append(rule)
    return change


@pytest.mark.parametrize("fields, live, code", [
    ({"protocol": "http"}, SecurityGroupRule("http", cidr=IPv4Network(ANY)), ErrorCode.INVALID_PARAMETER_VALUE),
    ({"protocol": "tcp", "ports": "8080-80"}, SecurityGroupRule("tcp", 8080, 80, cidr=IPv4Network(ANY)),
     ErrorCode.INVALID_PARAMETER_VALUE),
    ({"protocol": "udp", "ports": 70000}, SecurityGroupRule("udp", 70000, 70000, cidr=IPv4Network(ANY)),
     ErrorCode.INVALID_PARAMETER_VALUE),
    ({"protocol": "all", "ports": 80}, SecurityGroupRule("-1", 80, 80, cidr=IPv4Network(ANY)),
     ErrorCode.INVALID_PARAMETER_VALUE),
    ({"protocol": 47, "ports": 80}, SecurityGroupRule("47", 80, 80, cidr=IPv4Network(ANY)),
     ErrorCode.INVALID_PARAMETER_VALUE),
    ({"protocol": "icmp", "icmp_type": 300}, SecurityGroupRule("icmp", 300, None, cidr=IPv4Network(ANY)),
     ErrorCode.INVALID_PARAMETER_VALUE),
    ({"protocol": "icmp", "icmp_code": 4}, SecurityGroupRule("icmp", -1, 4, cidr=IPv4Network(ANY)),
     ErrorCode.INVALID_PARAMETER_VALUE),
])
def test_protocol_and_ports_of_a_security_group_rule(topo, fields, live, code):
    both(code, add_ingress({**fields, "source": ANY}), security.authorized, topo, "web", [live], egress=False)


@pytest.mark.parametrize("fields, protocol, ports, code", [
    ({"protocol": "http"}, "http", (None, None), ErrorCode.INVALID_PARAMETER_VALUE),
    ({"protocol": "tcp", "ports": "8080-80"}, "tcp", (8080, 80), ErrorCode.INVALID_PARAMETER_VALUE),
    ({"protocol": "all", "ports": 80}, "all", (80, 80), ErrorCode.INVALID_PARAMETER_VALUE),
])
def test_protocol_and_ports_of_a_network_acl_entry(topo, fields, protocol, ports, code):
    def change(doc):
        vpc(doc)["network_acls"]["strict"]["ingress"].append({"rule": 110, "source": ANY, "action": "allow", **fields})
    entry = NetworkAclEntry(110, protocol, "allow", False, IPv4Network(ANY), *ports)
    both(code, change, security.with_network_acl_entry, topo, "strict", entry)


def test_ports_are_read_with_one_rule():
    """`--port` (cli_security.py) and the file's `ports` both go through parse_port_range."""
    assert parse_port_range("1024-65535") == (1024, 65535) and parse_port_range(22) == (22, 22)
    assert live_refuses(parse_port_range, "22-x").code == ErrorCode.INVALID_PARAMETER_VALUE
    problem = loader_refuses(add_ingress({"protocol": "tcp", "ports": "22-x", "source": ANY}))
    assert problem.code == ErrorCode.INVALID_PARAMETER_VALUE and problem.path.endswith(".ports")


def test_protocols_are_stored_in_one_normal_form(topo):
    doc = copy.deepcopy(BASE)
    add_ingress({"protocol": 6, "source": "10.0.0.0/8"})(doc)
    loaded = load_text(yaml.safe_dump(doc), name="rules").vpcs["main"].security_groups["web"].ingress
    live = security.authorized(topo, "web", [SecurityGroupRule("6", cidr=IPv4Network("10.0.0.0/8"))], egress=False)
    assert loaded == live.vpcs["main"].security_groups["web"].ingress == (
        SecurityGroupRule("tcp", 0, 65535, cidr=IPv4Network("10.0.0.0/8")),)


@pytest.mark.parametrize("peer, rule, code", [
    ("sg:nosuch", SecurityGroupRule("-1", group="nosuch"), ErrorCode.INVALID_GROUP_NOT_FOUND),
    ("sg:lone/alone", SecurityGroupRule("-1", group="lone/alone"), ErrorCode.INVALID_GROUP_NOT_FOUND),   # not peered
    ("sg:peer/nosuch", SecurityGroupRule("-1", group="peer/nosuch"), ErrorCode.INVALID_GROUP_NOT_FOUND),
    ("pl:sqs", SecurityGroupRule("-1", prefix_list="sqs"), ErrorCode.INVALID_PREFIX_LIST_ID_NOT_FOUND),
])
def test_security_group_rule_peers(topo, peer, rule, code):
    both(code, add_ingress({"protocol": "all", "source": peer}), security.authorized, topo, "web", [rule], egress=False)
    assert security.authorized(topo, "web", [SecurityGroupRule("-1", group="peer/there")], egress=False)


def test_security_group_rule_quota(topo):
    rules = [SecurityGroupRule("tcp", p, p, cidr=IPv4Network(ANY)) for p in range(1, limits.MAX_SG_RULES_PER_DIRECTION + 2)]
    both(ErrorCode.RULES_PER_SECURITY_GROUP_LIMIT_EXCEEDED,
         lambda doc: vpc(doc)["security_groups"]["web"].update(ingress=[
             {"protocol": "tcp", "ports": r.from_port, "source": ANY} for r in rules]),
         security.authorized, topo, "web", rules, egress=False)


# -- network ACL entries ------------------------------------------------------------------------------
def add_entry(**fields):
    def change(doc):
        vpc(doc)["network_acls"]["strict"]["ingress"].append(
            {"rule": 110, "protocol": "all", "source": ANY, "action": "allow", **fields})
    return change


def test_network_acl_entry_numbers(topo):
    entry = NetworkAclEntry(32767, "-1", "allow", False, IPv4Network(ANY))
    both(ErrorCode.INVALID_PARAMETER_VALUE, add_entry(rule=32767), security.with_network_acl_entry, topo, "strict", entry)
    both(ErrorCode.NETWORK_ACL_ENTRY_ALREADY_EXISTS, add_entry(rule=100),
         security.with_network_acl_entry, topo, "strict", replace(entry, rule_number=100))


def test_network_acl_entry_quota(topo):
    t = topo
    for n in range(1, limits.MAX_NACL_RULES_PER_DIRECTION):
        t = security.with_network_acl_entry(t, "strict", NetworkAclEntry(n, "-1", "allow", False, IPv4Network(ANY)))
    both(ErrorCode.NETWORK_ACL_ENTRY_LIMIT_EXCEEDED,
         lambda doc: vpc(doc)["network_acls"]["strict"]["ingress"].extend(
             {"rule": n, "protocol": "all", "source": ANY, "action": "allow"}
             for n in range(1, limits.MAX_NACL_RULES_PER_DIRECTION + 1)),
         security.with_network_acl_entry, t, "strict", NetworkAclEntry(999, "-1", "allow", False, IPv4Network(ANY)))


def test_network_acl_entry_action(topo):
    both(ErrorCode.INVALID_PARAMETER_VALUE, add_entry(action="permit"), security.with_network_acl_entry, topo, "strict",
         NetworkAclEntry(110, "-1", "permit", False, IPv4Network(ANY)))


# -- ENI attachment -----------------------------------------------------------------------------------
def attach(eni, instance, index):
    def change(doc):
        vpc(doc)["network_interfaces"][eni]["attachment"] = {"instance": instance, "device_index": index}
    return change


@pytest.mark.parametrize("eni, instance, index, code", [
    ("spare-b", "fw", 2, ErrorCode.INVALID_PARAMETER_COMBINATION),        # another Availability Zone
    ("spare", "fw", 0, ErrorCode.INVALID_PARAMETER_VALUE),                # the primary's index
    ("spare", "fw", 1, ErrorCode.INVALID_PARAMETER_VALUE),                # fw-in is there
    ("spare", "fw", 32, ErrorCode.INVALID_PARAMETER_VALUE),
    ("spare", "app", 2, ErrorCode.ATTACHMENT_LIMIT_EXCEEDED),             # a t3.micro takes two ENIs
])
def test_eni_attachment(topo, eni, instance, index, code):
    both(code, attach(eni, instance, index), attached, topo, eni, instance, index)


def test_eni_attachment_to_an_instance_of_another_vpc():
    """Multi-VPC ENIs are not emulated: refused from both sides with the same code and words."""
    def with_instance(doc):
        doc["vpcs"]["peer"]["instances"] = {"there": {"subnet": "p"}}
    doc = copy.deepcopy(BASE)
    with_instance(doc)
    t = load_text(yaml.safe_dump(doc), name="rules")
    problem, refused = both(ErrorCode.INVALID_PARAMETER_COMBINATION,
                            lambda d: (with_instance(d), attach("spare", "there", 1)(d)), attached, t, "spare", "there", 1)
    assert problem.message == refused.message == "spare is in VPC main but instance there is in VPC peer"


def test_private_ips_per_interface_of_the_instance_type(topo):
    both(ErrorCode.PRIVATE_IP_ADDRESS_LIMIT_EXCEEDED,
         lambda doc: vpc(doc)["instances"]["app"].update(secondary_private_ips=["10.0.1.20", "10.0.1.21"]),
         assigned, topo, "app.eth0", ["10.0.1.20", "10.0.1.21"])


# -- security groups on an ENI ------------------------------------------------------------------------
@pytest.mark.parametrize("groups, code", [
    (["nosuch"], ErrorCode.INVALID_GROUP_NOT_FOUND),
    (["web", "web"], ErrorCode.INVALID_PARAMETER_VALUE),
    ([], ErrorCode.INVALID_PARAMETER_VALUE),
    (["web", "db", "default", "g1", "g2", "g3"], ErrorCode.SECURITY_GROUPS_PER_INTERFACE_LIMIT_EXCEEDED),
])
def test_security_groups_on_an_eni(groups, code):
    doc = copy.deepcopy(BASE)
    vpc(doc)["security_groups"].update(g1={}, g2={}, g3={})
    topology = load_text(yaml.safe_dump(doc), name="rules")

    def change(d):
        vpc(d)["security_groups"].update(g1={}, g2={}, g3={})
        vpc(d)["instances"]["app"]["security_groups"] = groups
    both(code, change, security.with_interface_attribute, topology, "app", groups=groups)


# -- private IP claims --------------------------------------------------------------------------------
@pytest.mark.parametrize("address, code", [
    ("10.0.2.10", ErrorCode.INVALID_PARAMETER_VALUE),          # not in the subnet
    ("10.0.1.3", ErrorCode.INVALID_PARAMETER_VALUE),           # reserved: the first four
    ("10.0.1.255", ErrorCode.INVALID_PARAMETER_VALUE),         # reserved: the last
    ("10.0.1.10", ErrorCode.INVALID_IP_ADDRESS_IN_USE),        # app's
])
def test_private_ip_claims(topo, address, code):
    claim = lambda doc: vpc(doc)["network_interfaces"]["spare"]["private_ips"].append(address)  # noqa: E731
    both(code, claim, assigned, topo, "spare", [address])
    both(code, claim, created, topo, "new", "a", [address])


def test_a_full_subnet(topo):
    for i in range(11):
        topo = created(topo, f"t{i}", "tiny")
    assert topo.network_interface("t10").private_ip_address.exploded == "10.0.9.14"
    both(ErrorCode.INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET,
         lambda doc: vpc(doc)["network_interfaces"].update({f"t{i}": {"subnet": "tiny"} for i in range(12)}),
         created, topo, "t11", "tiny")


# -- VPC endpoints ------------------------------------------------------------------------------------
def add_endpoint(name, **fields):
    def change(doc):
        vpc(doc, fields.pop("vpc", "main")).setdefault("endpoints", {})[name] = fields
    return change


@pytest.mark.parametrize("fields, live, code", [
    ({"type": "gateway", "service": "sqs"}, {"vpc_endpoint_type": "Gateway"}, ErrorCode.INVALID_SERVICE_NAME),
    ({"type": "interface", "service": "kms", "subnets": ["b"]}, {"subnets": ["b"]}, ErrorCode.INVALID_SERVICE_NAME),
    ({"type": "interface", "service": "sns", "subnets": ["a", "c"]}, {"subnets": ["a", "c"]},
     ErrorCode.DUPLICATE_SUBNETS_IN_SAME_ZONE),
    ({"type": "interface", "service": "sqs", "subnets": ["b"]}, {"subnets": ["b"]}, ErrorCode.INVALID_PARAMETER),
    ({"type": "interface", "service": "sns", "subnets": ["b"], "route_tables": ["rt"]},
     {"subnets": ["b"], "route_tables": ["rt"]}, ErrorCode.INVALID_PARAMETER),
    ({"type": "interface", "service": "sns", "subnets": ["b"], "security_groups": ["nosuch"]},
     {"subnets": ["b"], "security_groups": ["nosuch"]}, ErrorCode.INVALID_GROUP_NOT_FOUND),
    ({"type": "gateway", "service": "dynamodb", "route_tables": ["rt", "rt"]},
     {"vpc_endpoint_type": "Gateway", "route_tables": ["rt", "rt"]}, ErrorCode.INVALID_PARAMETER_VALUE),
    ({"type": "gateway", "service": "s3", "route_tables": ["rt"]},
     {"vpc_endpoint_type": "Gateway", "route_tables": ["rt"]}, ErrorCode.ROUTE_ALREADY_EXISTS),
    ({"type": "gateway", "service": "dynamodb", "route_tables": ["rt"], "subnets": ["a"]},
     {"vpc_endpoint_type": "Gateway", "route_tables": ["rt"], "subnets": ["a"]}, ErrorCode.INVALID_PARAMETER),
])
def test_endpoint_rules(topo, fields, live, code):
    service = fields["service"]
    both(code, add_endpoint("ep", **fields), vpc_endpoint_created, topo, "ep", service, vpc="main", **live)


def test_private_dns_needs_the_vpc_dns_attributes(topo):
    problem, refused = both(ErrorCode.INVALID_PARAMETER,
                            add_endpoint("ep", vpc="peer", type="interface", service="sns", subnets=["p"]),
                            vpc_endpoint_created, topo, "ep", "sns", subnets=["p"], vpc="peer")
    assert problem.hint == refused.hint == "set enable_dns_hostnames: true on the VPC, or turn private DNS off"


# -- Elastic IPs --------------------------------------------------------------------------------------
def test_elastic_ip_rules(topo):
    def eip(address):
        return lambda doc: vpc(doc)["instances"]["far"].update(eip=address)
    both(ErrorCode.INVALID_ADDRESS_NOT_FOUND, eip("192.0.2.10"), associated, topo, "192.0.2.10", "far")
    problem, refused = both(ErrorCode.RESOURCE_ALREADY_ASSOCIATED, eip("198.51.100.20"),
                            associated, topo, "198.51.100.20", "far", allow_reassociation=True)
    for text in (problem.message, refused.message):     # the file's first claim holds it: here the instance's
        assert text.startswith("Elastic IP 198.51.100.20 is already associated at vpcs.main.")
    both(ErrorCode.INVALID_PARAMETER_VALUE,
         lambda doc: vpc(doc)["network_interfaces"]["spare"].update(eips={"10.0.1.99": "198.51.100.30"}),
         associated, topo, "198.51.100.30", "spare", private_ip="10.0.1.99")


# -- names (known difference: names made live were not checked lab-wide) -------------------------------
@pytest.mark.parametrize("name", ["app", "fw.eth0", "nat", "nat.eni", "s3", "sqs.a", "igw", "main-peer"])
def test_decided_a_name_made_live_is_unique_lab_wide_as_in_the_file(topo, name):
    """Routes, `from`, `to` and `via` resolve names across the lab, so a live ENI or endpoint may not
    take one the lab uses; the message and code are the loader's (a vpcemu rule: AWS names by id)."""
    problem = loader_refuses(lambda doc: vpc(doc)["network_interfaces"].update({name: {"subnet": "b"}}))
    for refused in (live_refuses(created, topo, name, "b"),
                    live_refuses(vpc_endpoint_created, topo, name, "sns", subnets=["b"])):
        assert refused.code is problem.code is None
        assert refused.message.startswith(f"name {name!r} is already used by the")
        assert problem.message.startswith(f"name {name!r} is already used by the")


def test_decided_a_name_made_live_has_the_file_syntax(topo):
    problem = loader_refuses(lambda doc: vpc(doc)["network_interfaces"].update({"web 1": {"subnet": "b"}}))
    refused = live_refuses(created, topo, "web 1", "b")
    assert problem.message == refused.message == "'web 1' is not a valid name"
    assert refused.code is problem.code is None
    clash = created(topo, "ep.b", "b")                    # the name the endpoint's ENI in b would take
    assert live_refuses(vpc_endpoint_created, clash, "ep", "sns", subnets=["b"]).message.startswith(
        "name 'ep.b' is already used by the network interface")


# -- expectations -------------------------------------------------------------------------------------
def test_expect_reason_accepts_exactly_the_explanation_codes():
    doc = copy.deepcopy(BASE)
    doc["expect"] = [{"from": "app", "to": "far", "reachable": False, "reason": str(code)} for code in ExplanationCode]
    assert len(load_text(yaml.safe_dump(doc), name="rules").expect) == len(ExplanationCode)
    for reason in ("SG_BLOCKED", ["NO_PATH"]):
        doc["expect"] = [{"from": "app", "to": "far", "reachable": False, "reason": reason}]
        problem = loader_refuses(lambda d: d.update(expect=doc["expect"]))
        assert problem.path == "expect[0].reason"


# -- the one write path of a lab's model --------------------------------------------------------------
class _Journal:
    lab = "rules"

    def __init__(self, directory):
        self.dir = directory


def test_commit_replaces_the_model_atomically_and_reloads_resolvers_only_for_their_inputs(topo, tmp_path,
                                                                                           monkeypatch):
    reloads = []
    monkeypatch.setattr("vpcemu.lab.process.reload_supervisor", reloads.append)
    lab = Lab("rules", topo, _Journal(tmp_path))
    lab.commit(topo)
    assert read_model(tmp_path) == topo and reloads == []
    moved = attached(topo, "spare", "fw", 2)                 # no address changes: the zones stay
    assert lab.commit(moved) is moved and lab.topology is moved and reloads == []
    readdressed = assigned(moved, "spare", ["10.0.1.60"])
    lab.commit(readdressed)
    assert reloads == [lab.journal]
    assert read_model(tmp_path) == readdressed
    with pytest.raises(yaml.YAMLError):             # a format-1 document holds no lock
        lab.commit(replace(readdressed, name=threading.Lock()))
    assert load_text((tmp_path / MODEL_FILE).read_text(), committed=True) == readdressed    # the old model stays whole
    assert read_model(tmp_path) == readdressed
    assert sorted(p.name for p in tmp_path.iterdir()) == [MODEL_CACHE_FILE, MODEL_FILE]   # no half-written file left


def test_refresh_sees_every_commit_even_one_with_the_same_inode_and_mtime(topo, tmp_path, monkeypatch):
    """The model's version is its document's digest: another process's commit is read before the next
    change even where the file's inode and mtime repeat (ext4 reuses inodes, mtimes are coarse), which a
    stat-based version missed and ten parallel `sg authorize` lost rules by."""
    monkeypatch.setattr("vpcemu.lab.process.reload_supervisor", lambda journal: None)
    mine, theirs = Lab("rules", topo, _Journal(tmp_path)), Lab("rules", topo, _Journal(tmp_path))
    mine.commit(topo)
    path, kept = tmp_path / MODEL_FILE, tmp_path / "kept"
    os.link(path, kept)                                 # the inode `mine` read stays alive
    before = path.stat()
    moved = attached(topo, "spare", "fw", 2)
    theirs.commit(moved)
    kept.write_bytes(path.read_bytes())                 # their document, in the old inode, with the old mtime
    os.utime(kept, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(kept, path)
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert mine.refresh().topology == moved
    assert mine.refresh().topology is mine.topology       # nothing committed since: not read again
