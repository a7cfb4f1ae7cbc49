"""Terraform state → describe dict (vpcemu/aws/terraform.py): the provider's traps, one named test each, on
hand-written states that follow the provider's attribute schema (tests/data/terraform/); every field emitted
checked against botocore's EC2 service model; bad input refused with the file and the resource address."""
from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import botocore.session
import pytest
from typer.testing import CliRunner

from vpcemu.aws import import_describe
from vpcemu.aws.terraform import DESCRIBE_KEYS, convert_state, describe_from_state, read_state
from vpcemu.codes import ErrorCode
from vpcemu.cli import app
from vpcemu.errors import UsageError
from vpcemu.load import load_text

DATA = Path(__file__).resolve().parents[1] / "data" / "terraform"
STATES = sorted(p.name for p in DATA.glob("*") if p.name not in ("not_json.tfstate", "not_a_state.json",
                                                                 "dangling_nat.tfstate"))

# each key of the describe dict → (operation, member of its output) whose list member shape it holds
OUTPUTS = {"Vpcs": ("DescribeVpcs", "Vpcs"), "VpcAttributes": ("DescribeVpcAttribute", None),
           "Subnets": ("DescribeSubnets", "Subnets"),
           "RouteTables": ("DescribeRouteTables", "RouteTables"),
           "NetworkInterfaces": ("DescribeNetworkInterfaces", "NetworkInterfaces"),
           "SecurityGroups": ("DescribeSecurityGroups", "SecurityGroups"),
           "NetworkAcls": ("DescribeNetworkAcls", "NetworkAcls"),
           "InternetGateways": ("DescribeInternetGateways", "InternetGateways"),
           "NatGateways": ("DescribeNatGateways", "NatGateways"), "VpcEndpoints": ("DescribeVpcEndpoints", "VpcEndpoints"),
           "VpcPeeringConnections": ("DescribeVpcPeeringConnections", "VpcPeeringConnections"),
           "Reservations": ("DescribeInstances", "Reservations"), "Addresses": ("DescribeAddresses", "Addresses"),
           "ManagedPrefixLists": ("DescribeManagedPrefixLists", "PrefixLists"),
           "PrefixLists": ("DescribePrefixLists", "PrefixLists")}


def describe(name: str) -> tuple[dict, list[str]]:
    path = DATA / name
    return describe_from_state(read_state(path), str(path))


def by(items: list[dict], key: str) -> dict[str, dict]:
    return {i[key]: i for i in items}


def state(*resources: tuple[str, str, dict]) -> dict:
    """A minimal state version 4 of (type, name, attributes)."""
    return {"version": 4, "terraform_version": "1.7.5", "resources": [
        {"mode": "managed", "type": t, "name": n, "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
         "instances": [{"schema_version": 0, "attributes": a}]} for t, n, a in resources]}


VPC = ("aws_vpc", "main", {"id": "vpc-1", "cidr_block": "10.0.0.0/16", "default_route_table_id": "rtb-main",
                           "main_route_table_id": "rtb-main", "default_security_group_id": "sg-default",
                           "default_network_acl_id": "acl-default"})
RT = ("aws_route_table", "rt", {"id": "rtb-1", "vpc_id": "vpc-1", "route": []})


# --- every field is botocore's ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ec2():
    return botocore.session.get_session().get_service_model("ec2")


class ListOf:
    """A list of a botocore shape, for answers the describe dict collects that no one call returns as a list."""

    type_name = "list"

    def __init__(self, member):
        self.member, self.name = member, f"list of {member.name}"


def check_shape(value, shape, path: str, extra: dict | None = None) -> None:
    """`value` is of `shape`: each key a member (or in `extra`, key → shape), each value of the member's type."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), f"{path}: {shape.name} is an object"
        for key, v in value.items():
            member = shape.members.get(key) or (extra or {}).get(key)
            assert member is not None, f"{path}.{key} is not a member of botocore's {shape.name}"
            check_shape(v, member, f"{path}.{key}")
    elif kind == "list":
        assert isinstance(value, list), f"{path}: {shape.name} is a list"
        for i, v in enumerate(value):
            check_shape(v, shape.member, f"{path}[{i}]", extra)
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), f"{path}: {shape.name} is an integer"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{path}: {shape.name} is a boolean"
    else:
        assert isinstance(value, str), f"{path}: {shape.name} is a {kind}"


@pytest.mark.parametrize("name", STATES)
def test_every_emitted_key_is_a_member_of_botocores_shape(ec2, name):
    out, _ = describe(name)
    assert set(out) == set(DESCRIBE_KEYS) == set(OUTPUTS)
    entries = ec2.operation_model("GetManagedPrefixListEntries").output_shape.members["Entries"]
    for key, items in out.items():
        op, member = OUTPUTS[key]
        output = ec2.operation_model(op).output_shape
        # the output's list; VpcAttributes: a list of whole describe-vpc-attribute answers
        shape = output.members[member] if member else ListOf(output)
        # get-managed-prefix-list-entries' answer rides on its list, as the importer takes it
        check_shape(items, shape, key, extra={"Entries": entries} if key == "ManagedPrefixLists" else None)


def test_the_shape_check_catches_a_made_up_field(ec2):
    shape = ec2.operation_model("DescribeVpcs").output_shape.members["Vpcs"]
    with pytest.raises(AssertionError, match="EnableDnsHostnames is not a member"):
        check_shape([{"VpcId": "vpc-1", "EnableDnsHostnames": True}], shape, "Vpcs")


# --- the provider's traps ---------------------------------------------------------------------------------


def test_local_route_is_synthesized_for_every_vpc_cidr():
    out, _ = describe("local_and_endpoint_routes.tfstate")
    routes = by(out["RouteTables"], "RouteTableId")["rtb-0f00000000000a010"]["Routes"]
    local = [r for r in routes if r.get("GatewayId") == "local"]
    assert local == [{"DestinationCidrBlock": "10.1.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable",
                      "State": "active"},
                     {"DestinationCidrBlock": "100.64.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable",
                      "State": "active"}]
    # the main table, which the state names only by id, has them too
    main = by(out["RouteTables"], "RouteTableId")["rtb-0f00000000000a000"]["Routes"]
    assert [r["DestinationCidrBlock"] for r in main] == ["10.1.0.0/16", "100.64.0.0/16"]
    vpc = out["Vpcs"][0]
    assert [a["CidrBlock"] for a in vpc["CidrBlockAssociationSet"]] == ["10.1.0.0/16", "100.64.0.0/16"]


def test_gateway_endpoint_routes_are_synthesized_as_aws_shows_them():
    out, _ = describe("local_and_endpoint_routes.tfstate")
    routes = by(out["RouteTables"], "RouteTableId")["rtb-0f00000000000a010"]["Routes"]
    # s3 by the endpoint's route_table_ids, dynamodb by aws_vpc_endpoint_route_table_association
    assert [r for r in routes if "DestinationPrefixListId" in r] == [
        {"DestinationPrefixListId": "pl-02cd2c6b", "GatewayId": "vpce-0f00000000000a002", "Origin": "CreateRoute",
         "State": "active"},
        {"DestinationPrefixListId": "pl-63a5400a", "GatewayId": "vpce-0f00000000000a001", "Origin": "CreateRoute",
         "State": "active"}]
    assert by(out["VpcEndpoints"], "VpcEndpointId")["vpce-0f00000000000a002"]["RouteTableIds"] == ["rtb-0f00000000000a010"]
    # AWS's own lists behind them, as describe-prefix-lists gives them
    assert by(out["PrefixLists"], "PrefixListId")["pl-63a5400a"] == {
        "PrefixListId": "pl-63a5400a", "PrefixListName": "com.amazonaws.us-east-1.s3",
        "Cidrs": ["52.216.0.0/15", "54.231.0.0/16"]}
    assert by(out["RouteTables"], "RouteTableId")["rtb-0f00000000000a010"]["Routes"][0] == {
        "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-0f00000000000a001", "Origin": "CreateRoute",
        "State": "active"}


def test_security_group_rules_inline_and_separate_are_merged_and_deduplicated():
    out, _ = describe("rules_inline_and_separate.tfstate")
    web = by(out["SecurityGroups"], "GroupId")["sg-0f00000000000b001"]
    # ssh is inline and aws_security_group_rule (a refreshed state): once; http ("6") only separate
    assert web["IpPermissions"] == [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "ssh"}],
         "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []},
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
         "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []},
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
         "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}]
    db = by(out["SecurityGroups"], "GroupId")["sg-0f00000000000b002"]
    # two aws_vpc_security_group_ingress_rule for the same reference: one pair, the description kept
    assert db["IpPermissions"] == [
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
         "UserIdGroupPairs": [{"GroupId": "sg-0f00000000000b001", "Description": "app", "UserId": "123456789012"}]}]
    assert db["IpPermissionsEgress"] == [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [],
                                          "PrefixListIds": [], "UserIdGroupPairs": []}]


def test_network_acl_rules_inline_and_separate_are_merged():
    out, _ = describe("rules_inline_and_separate.tfstate")
    acl = by(out["NetworkAcls"], "NetworkAclId")["acl-0f00000000000d001"]
    assert [(e["Egress"], e["RuleNumber"], e["Protocol"], e.get("PortRange")) for e in acl["Entries"]] == [
        (False, 100, "6", {"From": 443, "To": 443}), (False, 110, "6", {"From": 1024, "To": 65535}),
        (False, 32767, "-1", None), (True, 100, "-1", None), (True, 32767, "-1", None)]
    # subnet_ids and aws_network_acl_association say the same: one association, with AWS's id
    assert acl["Associations"] == [{"NetworkAclAssociationId": "aclassoc-0f00000000000d001",
                                    "NetworkAclId": "acl-0f00000000000d001", "SubnetId": "subnet-0f00000000000a001"}]
    default = by(out["NetworkAcls"], "NetworkAclId")["acl-0f00000000000a000"]
    assert default["IsDefault"] and default["Associations"] == []


def test_routes_inline_and_separate_are_one_route():
    out, _ = describe("rules_inline_and_separate.tfstate")
    routes = by(out["RouteTables"], "RouteTableId")["rtb-0f00000000000a010"]["Routes"]
    assert [(r["DestinationCidrBlock"], r["GatewayId"], r["State"]) for r in routes] == [
        ("0.0.0.0/0", "igw-0f00000000000a001", "active"), ("10.1.0.0/16", "local", "active"),
        ("192.168.0.0/16", "igw-0f00000000000a001", "blackhole")]


def test_subnet_without_association_uses_the_main_route_table():
    out, _ = describe("subnet_without_association.tfstate")
    tables = by(out["RouteTables"], "RouteTableId")
    main = [t for t in out["RouteTables"] if any(a["Main"] for a in t["Associations"])]
    assert [t["RouteTableId"] for t in main] == ["rtb-0f00000000000a000"]       # aws_vpc's main_route_table_id
    assert main[0]["Associations"] == [{"Main": True, "RouteTableAssociationId": main[0]["Associations"][0][
        "RouteTableAssociationId"], "RouteTableId": "rtb-0f00000000000a000", "AssociationState": {"State": "associated"}}]
    explicit = [a.get("SubnetId") for t in out["RouteTables"] for a in t["Associations"] if not a["Main"]]
    assert explicit == ["subnet-0f00000000000a001"]     # the other subnet is in no association: it uses main
    assert tables["rtb-0f00000000000a000"]["Routes"] == [{"DestinationCidrBlock": "10.1.0.0/16", "GatewayId": "local",
                                                          "Origin": "CreateRouteTable", "State": "active"}]


def test_main_route_table_is_the_vpcs_default_table():
    out, _ = describe("main_route_table_is_default.tfstate")
    one = by(out["RouteTables"], "RouteTableId")["rtb-0f00000000000a000"]      # aws_default_route_table
    assert [a["Main"] for a in one["Associations"]] == [True]
    assert [(r["DestinationCidrBlock"], r.get("GatewayId") or r.get("VpcPeeringConnectionId")) for r in one["Routes"]] == [
        ("0.0.0.0/0", "igw-0f00000000000a001"), ("10.1.0.0/16", "local"), ("10.2.0.0/16", "pcx-0f00000000000e001")]


def test_main_route_table_association_moves_main_and_keeps_the_original_table():
    out, _ = describe("main_route_table_is_default.tfstate")
    tables = by(out["RouteTables"], "RouteTableId")
    assert tables["rtb-0f00000000000b010"]["Associations"] == [
        {"Main": True, "RouteTableAssociationId": "rtbassoc-0f00000000000b000", "RouteTableId": "rtb-0f00000000000b010",
         "AssociationState": {"State": "associated"}}]
    original = tables["rtb-0f00000000000b000"]
    assert original["Associations"] == [] and original["VpcId"] == "vpc-0f00000000000a002"
    assert [r["GatewayId"] for r in original["Routes"]] == ["local"]


def test_default_security_group_and_network_acl_managed_or_as_aws_makes_them():
    out, _ = describe("main_route_table_is_default.tfstate")
    groups, acls = by(out["SecurityGroups"], "GroupId"), by(out["NetworkAcls"], "NetworkAclId")
    managed = groups["sg-0f00000000000a000"]        # aws_default_security_group: its rules replace AWS's
    assert managed["GroupName"] == "default"
    assert [(p["IpProtocol"], p.get("FromPort")) for p in managed["IpPermissions"]] == [("tcp", 22)]
    assert [(p["IpProtocol"], p.get("FromPort")) for p in managed["IpPermissionsEgress"]] == [("tcp", 443)]
    made = groups["sg-0f00000000000b000"]           # not managed: AWS's default rules
    assert made["IpPermissions"] == [{"IpProtocol": "-1", "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
                                      "UserIdGroupPairs": [{"GroupId": "sg-0f00000000000b000", "UserId": "123456789012"}]}]
    assert made["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
    assert [(e["Egress"], e["RuleNumber"], e["RuleAction"]) for e in acls["acl-0f00000000000a000"]["Entries"]] == [
        (False, 100, "allow"), (False, 32767, "deny"), (True, 100, "allow"), (True, 32767, "deny")]
    assert acls["acl-0f00000000000a000"]["Entries"][0]["PortRange"] == {"From": 22, "To": 22}
    assert acls["acl-0f00000000000b000"]["IsDefault"]
    assert [a["SubnetId"] for a in acls["acl-0f00000000000b000"]["Associations"]] == ["subnet-0f00000000000b001"]


def test_instance_primary_eni_is_built_from_the_instances_attributes():
    out, _ = describe("instance_primary_eni.tfstate")
    eni = by(out["NetworkInterfaces"], "NetworkInterfaceId")["eni-0a11f2e3d4c5b6001"]   # primary_network_interface_id
    assert eni["SubnetId"] == "subnet-0f00000000000a001" and eni["VpcId"] == "vpc-0f00000000000a001"
    assert eni["PrivateIpAddresses"] == [
        {"Primary": True, "PrivateIpAddress": "10.1.1.10", "Association": {"PublicIp": "198.51.100.7", "IpOwnerId": "amazon"}},
        {"Primary": False, "PrivateIpAddress": "10.1.1.11"}, {"Primary": False, "PrivateIpAddress": "10.1.1.12"}]
    assert eni["Groups"] == [{"GroupId": "sg-0f00000000000b001", "GroupName": "web"}]    # vpc_security_group_ids
    assert eni["Attachment"]["InstanceId"] == "i-0f00000000000a001" and eni["Attachment"]["DeviceIndex"] == 0
    web = by([r["Instances"][0] for r in out["Reservations"]], "InstanceId")["i-0f00000000000a001"]
    assert web["PublicIpAddress"] == "198.51.100.7" and web["PrivateIpAddress"] == "10.1.1.10"
    assert [n["NetworkInterfaceId"] for n in web["NetworkInterfaces"]] == ["eni-0a11f2e3d4c5b6001"]
    assert web["NetworkInterfaces"][0]["Association"] == {"PublicIp": "198.51.100.7", "IpOwnerId": "amazon"}


def test_instance_without_its_public_ip_is_said():
    data = read_state(DATA / "instance_primary_eni.tfstate")
    web = next(r for r in data["resources"] if r["type"] == "aws_instance" and r["name"] == "web")
    web["instances"][0]["attributes"].update(public_ip="", instance_state="stopped")
    out, warnings = describe_from_state(data, "x")
    instance = by([r["Instances"][0] for r in out["Reservations"]], "InstanceId")["i-0f00000000000a001"]
    assert "PublicIpAddress" not in instance and instance["State"] == {"Code": 80, "Name": "stopped"}
    assert "aws_instance.web (aws_instance): associate_public_ip_address is true but the state has no public_ip " \
        "(a stopped instance gives its public IPv4 back); the lab gives it none" in warnings


def test_instance_launched_with_an_eni_and_a_second_attached():
    out, _ = describe("instance_primary_eni.tfstate")
    enis = by(out["NetworkInterfaces"], "NetworkInterfaceId")
    fw = by([r["Instances"][0] for r in out["Reservations"]], "InstanceId")["i-0f00000000000a002"]
    assert [(n["NetworkInterfaceId"], n["Attachment"]["DeviceIndex"]) for n in fw["NetworkInterfaces"]] == [
        ("eni-0b22f2e3d4c5b6002", 0), ("eni-0c33f2e3d4c5b6003", 1)]
    assert fw["SubnetId"] == "subnet-0f00000000000a001" and fw["SourceDestCheck"] is False
    assert enis["eni-0c33f2e3d4c5b6003"]["Attachment"]["AttachmentId"] == "eni-attach-0f00000000000f003"
    assert enis["eni-0c33f2e3d4c5b6003"]["Groups"] == [{"GroupId": "sg-0f00000000000a000", "GroupName": "default"}]
    # aws_eip_association onto the secondary address
    assert enis["eni-0c33f2e3d4c5b6003"]["PrivateIpAddresses"][1]["Association"]["PublicIp"] == "198.51.100.8"
    assert out["Addresses"][0] | {"Tags": []} == {
        "AllocationId": "eipalloc-0f00000000000f001", "PublicIp": "198.51.100.8", "Domain": "vpc",
        "AssociationId": "eipassoc-0f00000000000f001", "NetworkInterfaceId": "eni-0c33f2e3d4c5b6003",
        "PrivateIpAddress": "10.1.1.31", "InstanceId": "i-0f00000000000a002", "NetworkInterfaceOwnerId": "123456789012",
        "PublicIpv4Pool": "amazon", "NetworkBorderGroup": "us-east-1", "Tags": []}
    assert "PublicIpAddress" not in fw         # its EIP is on eth1, not on the primary address


def test_security_group_rule_fields():
    out, warnings = describe("sg_rule_fields.tfstate")
    app = by(out["SecurityGroups"], "GroupId")["sg-0f00000000000b001"]
    perms = {(p["IpProtocol"], p.get("FromPort"), p.get("ToPort")): p for p in app["IpPermissions"]}
    assert [r["CidrIp"] for r in perms[("tcp", 443, 443)]["IpRanges"]] == ["10.0.0.0/8", "172.16.0.0/12"]
    assert perms[("tcp", 443, 443)]["Ipv6Ranges"] == []
    assert perms[("tcp", 8443, 8443)]["PrefixListIds"] == [{"PrefixListId": "pl-0f00000000000a001"}]
    assert [g["GroupId"] for g in perms[("tcp", 9000, 9100)]["UserIdGroupPairs"]] == ["sg-0f00000000000b002"]
    assert [g["GroupId"] for g in perms[("-1", None, None)]["UserIdGroupPairs"]] == ["sg-0f00000000000b001"]  # self
    assert "FromPort" not in perms[("-1", None, None)]
    assert [r["CidrIp"] for r in perms[("icmp", 8, 0)]["IpRanges"]] == ["10.0.0.0/8"]        # type 8, code 0
    assert [r["CidrIp"] for r in perms[("icmp", -1, -1)]["IpRanges"]] == ["192.168.0.0/16"]  # all ICMP
    assert [r["CidrIp"] for r in perms[("50", None, None)]["IpRanges"]] == ["10.9.0.0/16"]   # a protocol number
    assert [p["IpRanges"] for p in app["IpPermissionsEgress"]] == [[{"CidrIp": "0.0.0.0/0"}]]
    assert [w for w in warnings if "IPv6" in w] == [
        "aws_security_group.app (aws_security_group): ingress[0].ipv6_cidr_blocks ::/0 left out (IPv6 is not represented)",
        "aws_security_group.app (aws_security_group): egress[0].ipv6_cidr_blocks ::/0 left out (IPv6 is not represented)"]


def test_managed_prefix_list_entries_inline_and_separate():
    out, _ = describe("sg_rule_fields.tfstate")
    assert out["ManagedPrefixLists"] == [{
        "PrefixListId": "pl-0f00000000000a001", "AddressFamily": "IPv4", "State": "create-complete",
        "PrefixListName": "office", "Entries": [{"Cidr": "192.0.2.0/28", "Description": "hq"},
                                                {"Cidr": "198.18.7.0/24", "Description": "branch"}],
        "MaxEntries": 5, "Version": 2, "OwnerId": "123456789012",
        "PrefixListArn": "arn:aws:ec2:us-east-1:123456789012:prefix-list/pl-0f00000000000a001"}]


def test_network_acl_rule_fields():
    out, warnings = describe("nacl_rule_fields.tfstate")
    acl = by(out["NetworkAcls"], "NetworkAclId")["acl-0f00000000000d001"]
    assert acl["Entries"] == [
        {"RuleNumber": 100, "Protocol": "6", "RuleAction": "allow", "Egress": False, "CidrBlock": "0.0.0.0/0",
         "PortRange": {"From": 443, "To": 443}},
        {"RuleNumber": 110, "Protocol": "17", "RuleAction": "allow", "Egress": False, "CidrBlock": "10.0.0.0/8",
         "PortRange": {"From": 53, "To": 53}},
        {"RuleNumber": 120, "Protocol": "1", "RuleAction": "allow", "Egress": False, "CidrBlock": "10.0.0.0/8",
         "IcmpTypeCode": {"Code": 0, "Type": 8}},
        {"RuleNumber": 130, "Protocol": "-1", "RuleAction": "deny", "Egress": False, "CidrBlock": "192.0.2.0/24"},
        {"RuleNumber": 32767, "Protocol": "-1", "RuleAction": "deny", "Egress": False, "CidrBlock": "0.0.0.0/0"},
        {"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": True, "CidrBlock": "0.0.0.0/0"},
        {"RuleNumber": 32767, "Protocol": "-1", "RuleAction": "deny", "Egress": True, "CidrBlock": "0.0.0.0/0"}]
    assert "aws_network_acl.edge (aws_network_acl): ingress[4].rule 140 for ::/0 left out (IPv6 is not represented)" \
        in warnings
    # subnet b has no NACL of its own: the VPC's default one, allow-all as AWS makes it
    default = by(out["NetworkAcls"], "NetworkAclId")["acl-0f00000000000a000"]
    assert [a["SubnetId"] for a in default["Associations"]] == ["subnet-0f00000000000a002"]


def test_peering_connection():
    out, _ = describe("main_route_table_is_default.tfstate")
    [pcx] = out["VpcPeeringConnections"]
    assert pcx["Status"] == {"Code": "active"}
    assert (pcx["RequesterVpcInfo"]["VpcId"], pcx["RequesterVpcInfo"]["CidrBlock"]) == ("vpc-0f00000000000a001", "10.1.0.0/16")
    assert (pcx["AccepterVpcInfo"]["VpcId"], pcx["AccepterVpcInfo"]["CidrBlock"]) == ("vpc-0f00000000000a002", "10.2.0.0/16")


# --- the whole VPC ------------------------------------------------------------------------------------------


def test_whole_vpc_state_and_show_json_give_the_same_describe_dict():
    tfstate, w1 = describe("whole_vpc.tfstate")
    show, w2 = describe("whole_vpc.show.json")
    assert tfstate == show and w1 == w2
    assert json.loads(json.dumps(tfstate)) == tfstate          # plain JSON, as boto3's answers are


def test_whole_vpc():
    out, warnings = describe("whole_vpc.tfstate")
    assert len(out["Vpcs"]) == 1 and len(out["Subnets"]) == 4
    subnets = {s["SubnetId"]: s for s in out["Subnets"]}
    nats = by(out["NatGateways"], "NatGatewayId")
    assert {n["SubnetId"] for n in nats.values()} == {"subnet-0a1b2c3d4e5f6000a", "subnet-0a1b2c3d4e5f6000b"}
    assert all(subnets[n["SubnetId"]]["MapPublicIpOnLaunch"] for n in nats.values())
    # each private subnet's table goes to the NAT gateway of its own AZ, and to S3 through the endpoint
    for table in out["RouteTables"]:
        subnet_ids = [a["SubnetId"] for a in table["Associations"] if "SubnetId" in a]
        for sid in subnet_ids:
            default = next(r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0")
            if subnets[sid]["MapPublicIpOnLaunch"]:
                assert default["GatewayId"] == "igw-0a1b2c3d4e5f60001"
            else:
                assert subnets[nats[default["NatGatewayId"]]["SubnetId"]]["AvailabilityZone"] == \
                    subnets[sid]["AvailabilityZone"]
            assert {"DestinationPrefixListId": "pl-63a5400a", "GatewayId": "vpce-0a1b2c3d4e5f60003",
                    "Origin": "CreateRoute", "State": "active"} in table["Routes"]
    s3 = by(out["VpcEndpoints"], "VpcEndpointId")["vpce-0a1b2c3d4e5f60003"]
    assert len(s3["RouteTableIds"]) == 3        # route_table_ids and the association resource: no duplicate
    sqs = by(out["VpcEndpoints"], "VpcEndpointId")["vpce-0a1b2c3d4e5f60004"]
    assert (sqs["VpcEndpointType"], sqs["PrivateDnsEnabled"], sqs["Groups"][0]["GroupName"]) == ("Interface", True, "vpce")
    # the NAT gateways' ENIs: requester-managed, their EIPs associated as aws_eip and the NAT both say
    nat_enis = [e for e in out["NetworkInterfaces"] if e["RequesterManaged"]]
    assert sorted(e["Association"]["PublicIp"] for e in nat_enis) == ["203.0.113.11", "203.0.113.12"]
    assert {a["NetworkInterfaceId"] for a in out["Addresses"]} == {e["NetworkInterfaceId"] for e in nat_enis}
    assert warnings == []
    assert out["VpcAttributes"] == [{"VpcId": "vpc-0a1b2c3d4e5f60001", "EnableDnsSupport": {"Value": True}},
                                    {"VpcId": "vpc-0a1b2c3d4e5f60001", "EnableDnsHostnames": {"Value": True}}]


def test_each_id_is_traced_to_its_resource_address():
    out, _, addresses = convert_state(read_state(DATA / "whole_vpc.tfstate"), "x")
    assert addresses["i-0a1b2c3d4e5f60002"] == 'aws_instance.app["a"]'
    assert addresses["eni-0c01d2e3f4a5b6c01"] == "aws_instance.web"              # a primary ENI: its instance
    assert addresses["eni-0a01e2f3a4b5c6a01"] == 'module.vpc.aws_nat_gateway.this["a"]'
    assert addresses["sg-0a1b2c3d4e5f60000"] == "module.vpc.aws_vpc.this"         # the VPC's default group
    assert addresses["203.0.113.11"] == 'module.vpc.aws_eip.nat["a"]'
    assert addresses[out["Reservations"][0]["ReservationId"]] == "aws_instance.web"


def test_the_order_of_resources_does_not_matter():
    data = read_state(DATA / "whole_vpc.tfstate")
    shuffled = copy.deepcopy(data)
    random.Random(7).shuffle(shuffled["resources"])
    assert describe_from_state(shuffled, "x") == describe_from_state(data, "x")


# --- what is not represented is said ---------------------------------------------------------------------


def test_unrepresented_resources_and_targets_are_warned_and_left_out():
    data = state(VPC, RT,
                 ("aws_ec2_transit_gateway", "tgw", {"id": "tgw-1"}),
                 ("aws_route", "to_tgw", {"route_table_id": "rtb-1", "destination_cidr_block": "172.16.0.0/12",
                                          "transit_gateway_id": "tgw-1"}),
                 ("aws_route", "to_vgw", {"route_table_id": "rtb-1", "destination_cidr_block": "192.168.0.0/16",
                                          "gateway_id": "vgw-1"}),
                 ("aws_route", "v6", {"route_table_id": "rtb-1", "destination_ipv6_cidr_block": "::/0",
                                      "gateway_id": "igw-1"}),
                 ("aws_lb", "web", {"id": "arn:aws:elasticloadbalancing:lb/web"}),
                 ("random_id", "x", {"id": "abc"}))
    out, warnings = describe_from_state(data, "main.tfstate")
    assert warnings == [
        "aws_ec2_transit_gateway.tgw (aws_ec2_transit_gateway): not represented in a lab; left out",
        "aws_lb.web (aws_lb): not represented in a lab; left out",
        "aws_route.to_tgw (aws_route): route to 172.16.0.0/12 via transit gateway tgw-1 left out "
        "(transit gateways are not represented)",
        "aws_route.to_vgw (aws_route): route to 192.168.0.0/16 via virtual private gateway vgw-1 left out "
        "(VPN is not represented)",
        "aws_route.v6 (aws_route): route to ::/0 left out (IPv6 is not represented)"]
    assert [r["GatewayId"] for r in by(out["RouteTables"], "RouteTableId")["rtb-1"]["Routes"]] == ["local"]


def test_a_reference_to_a_resource_left_out_is_left_out_with_it():
    data = state(VPC, RT, ("aws_customer_gateway", "cgw", {"id": "sg-looks-like-a-group"}),
                 ("aws_security_group", "a", {"id": "sg-a", "vpc_id": "vpc-1", "name": "a",
                                              "ingress": [{"protocol": "tcp", "from_port": 1, "to_port": 2,
                                                           "security_groups": ["sg-looks-like-a-group"]}]}))
    out, warnings = describe_from_state(data, "x")
    assert by(out["SecurityGroups"], "GroupId")["sg-a"]["IpPermissions"] == []
    assert any("sg-looks-like-a-group is aws_customer_gateway.cgw (aws_customer_gateway), which is not represented"
               in w for w in warnings)


# --- bad input: a clear message naming the file and the resource, exit 2 --------------------------------------


def test_not_json_is_refused_naming_the_file():
    path = DATA / "not_json.tfstate"
    with pytest.raises(UsageError) as e:
        read_state(path)
    assert e.value.exit_code == 2
    assert str(path) in str(e.value) and "not JSON" in str(e.value) and "line 3" in str(e.value)


def test_not_a_state_is_refused():
    path = DATA / "not_a_state.json"
    with pytest.raises(UsageError, match=r"not_a_state\.json: not a Terraform state: it has no `version`"):
        read_state(path)
    with pytest.raises(UsageError, match="not a Terraform state"):
        describe_from_state([1, 2], "list.json")


def test_a_dangling_reference_is_refused_naming_the_file_and_the_resource():
    path = DATA / "dangling_nat.tfstate"
    with pytest.raises(UsageError) as e:
        describe_from_state(read_state(path), str(path))
    assert e.value.exit_code == 2 and e.value.code == ErrorCode.NAT_GATEWAY_NOT_FOUND
    assert str(e.value).startswith(f"{path}: aws_route.nat: nat_gateway_id = nat-0deadbeef0000001: "
                                   f"no NAT gateway nat-0deadbeef0000001 in the state")


def test_a_reference_to_a_data_source_says_so():
    data = state(("aws_subnet", "a", {"id": "subnet-1", "vpc_id": "vpc-existing", "cidr_block": "10.0.1.0/24"}))
    data["resources"].append({"mode": "data", "type": "aws_vpc", "name": "existing",
                              "instances": [{"attributes": {"id": "vpc-existing", "cidr_block": "10.0.0.0/16"}}]})
    with pytest.raises(UsageError) as e:
        describe_from_state(data, "net.tfstate")
    assert "net.tfstate: aws_subnet.a: vpc_id = vpc-existing: no VPC vpc-existing" in str(e.value)
    assert e.value.hint.startswith("the state reads it (data.aws_vpc.existing) but does not manage it")


def test_json_nested_too_deeply_is_refused(tmp_path):
    path = tmp_path / "deep.tfstate"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(UsageError, match="deep.tfstate: nested too deeply"):
        read_state(path)


def _mutate(data: dict, rng: random.Random) -> None:
    """Replaces or deletes one to three values anywhere in the state with values of the wrong kind."""
    junk = [None, "", "x", 0, -1, 99999, True, [], {}, ["a"], [{}], {"a": 1}, "10.0.0.0/33", "sg-nope", [None], 3.5]
    for _ in range(rng.randint(1, 3)):
        paths, stack = [], [((), data)]
        while stack:
            path, node = stack.pop()
            children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
            for k, v in children:
                paths.append(path + (k,))
                stack.append((path + (k,), v))
        *parent, last = rng.choice(paths)
        node = data
        for k in parent:
            node = node[k]
        if rng.random() < 0.2:
            del node[last]
        else:
            node[last] = copy.deepcopy(rng.choice(junk))


@pytest.mark.parametrize("seed", range(4))
def test_mutated_states_give_a_describe_dict_or_a_usage_error(seed):
    rng = random.Random(seed)
    bases = [read_state(DATA / name) for name in STATES]
    for _ in range(150):
        data = copy.deepcopy(rng.choice(bases))
        _mutate(data, rng)
        try:
            out, _ = describe_from_state(data, "mutated.tfstate")
        except UsageError as e:
            assert str(e).startswith("mutated.tfstate: ") and e.exit_code == 2
        else:
            assert set(out) == set(DESCRIBE_KEYS)


def test_other_state_versions_and_plans_are_refused():
    with pytest.raises(UsageError, match="version 3 is not supported"):
        describe_from_state({"version": 3, "modules": []}, "old.tfstate")
    with pytest.raises(UsageError, match="a plan"):
        describe_from_state({"format_version": "1.2", "planned_values": {}}, "plan.json")


def test_a_wrong_attribute_type_names_the_resource_and_the_attribute():
    data = state(("aws_vpc", "main", {"id": "vpc-1", "cidr_block": ["10.0.0.0/16"]}))
    data["resources"][0]["module"] = "module.net"
    data["resources"][0]["instances"][0]["index_key"] = "blue"
    with pytest.raises(UsageError, match=r'x: module\.net\.aws_vpc\.main\["blue"\]: cidr_block must be a string'):
        describe_from_state(data, "x")


def test_a_state_that_contradicts_itself_is_refused():
    data = state(VPC, RT, ("aws_internet_gateway", "igw", {"id": "igw-1", "vpc_id": "vpc-1"}),
                 ("aws_nat_gateway", "nat", {"id": "nat-1", "subnet_id": "subnet-1", "connectivity_type": "private",
                                             "network_interface_id": "eni-n", "private_ip": "10.0.1.5"}),
                 ("aws_subnet", "s", {"id": "subnet-1", "vpc_id": "vpc-1", "cidr_block": "10.0.1.0/24"}),
                 ("aws_route", "a", {"route_table_id": "rtb-1", "destination_cidr_block": "0.0.0.0/0",
                                     "gateway_id": "igw-1"}),
                 ("aws_route", "b", {"route_table_id": "rtb-1", "destination_cidr_block": "0.0.0.0/0",
                                     "nat_gateway_id": "nat-1"}))
    with pytest.raises(UsageError) as e:
        describe_from_state(data, "x")
    assert e.value.code == ErrorCode.ROUTE_ALREADY_EXISTS
    assert "aws_route.b: route sends 0.0.0.0/0 to nat-1, but aws_route.a sends it to igw-1" in str(e.value)


# --- through the importer and the loader, and the command ------------------------------------------------------


@pytest.mark.parametrize("name", STATES)
def test_every_state_imports_and_loads(name):
    out, _ = describe(name)
    text, _ = import_describe(out, source=name)
    topology = load_text(text, source=name)
    assert {v.id for v in topology.vpcs.values()} == {v["VpcId"] for v in out["Vpcs"]}


def test_the_whole_vpc_imports_as_the_lab_it_describes():
    out, _ = describe("whole_vpc.tfstate")
    text, notices = import_describe(out, source="whole_vpc.tfstate")
    t = load_text(text, source="whole_vpc.tfstate")
    [vpc] = t.vpcs.values()
    assert vpc.id == "vpc-0a1b2c3d4e5f60001" and vpc.enable_dns_hostnames
    assert {s.id: s.route_table for s in vpc.subnets.values()} == {
        "subnet-0a1b2c3d4e5f6000a": "shop-public", "subnet-0a1b2c3d4e5f6000b": "shop-public",
        "subnet-0a1b2c3d4e5f6001a": "shop-private-a", "subnet-0a1b2c3d4e5f6001b": "shop-private-b"}
    assert {n: str(g.subnet) for n, g in vpc.nat_gateways.items()} == {"shop-a": "shop-public-a",
                                                                        "shop-b": "shop-public-b"}
    assert {n: (e.vpc_endpoint_type, e.service) for n, e in vpc.endpoints.items()} == {
        "shop-s3": ("Gateway", "s3"), "shop-sqs": ("Interface", "sqs")}
    assert sorted(t.instances) == ["app-a", "app-b", "web"]
    assert [str(n) for n in notices] == ["changed: VPC endpoint vpce-0a1b2c3d4e5f60004: its network interfaces in "
                                         "shop-private-a, shop-private-b are not in the dump; vpcemu chooses their "
                                         "addresses"]


runner = CliRunner()


def test_import_terraform_writes_the_topology(tmp_path):
    out = tmp_path / "lab.yaml"
    r = runner.invoke(app, ["import", "terraform", str(DATA / "whole_vpc.show.json"), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert load_text(out.read_text()).vpcs["shop"].id == "vpc-0a1b2c3d4e5f60001"


def test_import_terraform_strict_refuses_what_it_leaves_out(tmp_path):
    out = tmp_path / "lab.yaml"
    r = runner.invoke(app, ["import", "terraform", str(DATA / "sg_rule_fields.tfstate"), "-o", str(out), "--strict"])
    assert r.exit_code == 2 and "aws_security_group.app" in r.output and not out.exists()
    r = runner.invoke(app, ["import", "terraform", str(DATA / "sg_rule_fields.tfstate"), "-o", str(out)])
    assert r.exit_code == 0 and out.exists()
    assert "unrepresentable: aws_security_group aws_security_group.app: ingress[0].ipv6_cidr_blocks ::/0" in r.output


@pytest.mark.parametrize("name, said", [("dangling_nat.tfstate", "aws_route.nat: nat_gateway_id = nat-0deadbeef0000001"),
                                        ("not_json.tfstate", "not JSON"),
                                        ("not_a_state.json", "not a Terraform state")])
def test_import_terraform_refuses_bad_input_writing_nothing(tmp_path, name, said):
    out = tmp_path / "lab.yaml"
    r = runner.invoke(app, ["import", "terraform", str(DATA / name), "-o", str(out)])
    assert r.exit_code == 2 and said in r.output and not out.exists()


def test_an_aws_rule_broken_by_the_state_names_the_resource(tmp_path):
    data = read_state(DATA / "subnet_without_association.tfstate")
    implicit = next(r for r in data["resources"] if r["type"] == "aws_subnet" and r["name"] == "implicit")
    implicit["instances"][0]["attributes"]["cidr_block"] = "10.9.2.0/24"        # outside the VPC's 10.1.0.0/16
    path, out = tmp_path / "outside.tfstate", tmp_path / "lab.yaml"
    path.write_text(json.dumps(data))
    r = runner.invoke(app, ["import", "terraform", str(path), "-o", str(out)])
    assert r.exit_code == 2 and not out.exists()
    assert "aws_subnet.implicit: subnet-0f00000000000a002: 10.9.2.0/24 is not inside the VPC CIDR 10.1.0.0/16" \
        in " ".join(r.output.split())


# --- the accepter side of a peering connection ----------------------------------------------------------------

A, B, PCX = "vpc-0a000000000000001", "vpc-0b000000000000002", "pcx-0ab00000000000003"


def vpc(name: str, vpc_id: str, cidr: str, owner: str, n: int) -> tuple[str, str, dict]:
    return ("aws_vpc", name, {"id": vpc_id, "cidr_block": cidr, "owner_id": owner,
                              "default_route_table_id": f"rtb-0{n}000000000000000", "main_route_table_id":
                              f"rtb-0{n}000000000000000", "default_security_group_id": f"sg-0{n}000000000000000",
                              "default_network_acl_id": f"acl-0{n}000000000000000"})


VPC_A, VPC_B = vpc("a", A, "10.0.0.0/16", "111111111111", 1), vpc("b", B, "10.1.0.0/16", "222222222222", 2)
REQUEST = ("aws_vpc_peering_connection", "ab", {"id": PCX, "vpc_id": A, "peer_vpc_id": B,
                                               "peer_owner_id": "222222222222", "accept_status": "pending-acceptance"})
ACCEPT = ("aws_vpc_peering_connection_accepter", "ab", {
    "id": PCX, "vpc_peering_connection_id": PCX, "vpc_id": B, "peer_vpc_id": A, "peer_owner_id": "111111111111",
    "peer_region": "us-east-1", "accept_status": "active", "auto_accept": True,
    "accepter": [{"allow_remote_vpc_dns_resolution": True}]})


def convert(data: dict) -> tuple[dict, list[str]]:
    return describe_from_state(data, "x.tfstate")


def test_peering_accepter_in_the_same_state_makes_the_request_active():
    # the request's accept_status was read before the accepter accepted: the accepter's holds
    out, warnings = convert(state(VPC_A, VPC_B, REQUEST, ACCEPT))
    [pcx] = out["VpcPeeringConnections"]
    assert pcx["Status"] == {"Code": "active"} and warnings == []
    assert (pcx["RequesterVpcInfo"]["VpcId"], pcx["AccepterVpcInfo"]["VpcId"]) == (A, B)
    assert pcx["AccepterVpcInfo"]["PeeringOptions"] == {"AllowDnsResolutionFromRemoteVpc": True}
    text, _ = import_describe(out)
    assert len(load_text(text).peering) == 1


def test_a_request_never_accepted_is_dropped_on_import():
    out, _ = convert(state(VPC_A, VPC_B, REQUEST))
    assert out["VpcPeeringConnections"][0]["Status"] == {"Code": "pending-acceptance"}
    text, notices = import_describe(out)
    assert load_text(text).peering == {} and any(PCX in str(n) for n in notices)


def test_peering_accepter_alone_is_the_accepters_view():
    # the accepter's account: its own VPC is vpc_id, the requester's VPC (A) is not in this state (the
    # fixture is state(VPC_B, ACCEPT), so every field is also checked against botocore's shapes above)
    out, warnings = describe("peering_accepter.tfstate")
    assert (out, warnings) == convert(state(VPC_B, ACCEPT))
    [pcx] = out["VpcPeeringConnections"]
    assert (pcx["RequesterVpcInfo"], pcx["Status"]) == (
        {"VpcId": A, "OwnerId": "111111111111", "Region": "us-east-1"}, {"Code": "active"})
    assert pcx["AccepterVpcInfo"]["VpcId"] == B and pcx["AccepterVpcInfo"]["OwnerId"] == "222222222222"
    assert warnings == ["aws_vpc_peering_connection_accepter.ab (aws_vpc_peering_connection_accepter): requester VPC "
                        f"{A} is not in the state (another account or state); its CIDR is unknown"]


def test_peering_accepter_of_an_unknown_vpc_is_refused():
    bad = (ACCEPT[0], ACCEPT[1], {**ACCEPT[2], "vpc_id": "vpc-0c000000000000009"})
    with pytest.raises(UsageError, match=r"accepter\.ab: vpc_id = vpc-0c000000000000009: no VPC vpc-0c"):
        convert(state(VPC_B, bad))
