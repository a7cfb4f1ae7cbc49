"""vpcemu/aws: the model ⇄ AWS's describe-* shapes, import and export (pure: no root).

- every key export writes is a field of botocore's EC2 output shapes (the service model AWS's SDKs are built
  from), with the type botocore gives it;
- round trip: every valid topology of topologies/, tests/data/ and tests/ → export → import → load is the same
  model (ids, addresses, rules, routes) and the same expected reachability; the YAML export loads to the same
  Topology exactly;
- dumps made with real AWS clients (boto3) against moto import and load. Where moto shows what no real account
  does, the test says so and a hand-made fixture that follows AWS's API reference shows the real shape;
- bad input: clear message naming the file and the object id, exit 2, nothing written.
"""
from __future__ import annotations

import ast
import json
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import boto3
import botocore.session
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from vpcemu.analyze import Analyzer
from vpcemu.aws import DumpError, convert, export_describe, import_describe, read_dump
from vpcemu.cli import app
from vpcemu.errors import TopologyError
from vpcemu.load import load_text, load_topology
from vpcemu.load.write import topology_text
from vpcemu.model import TargetKind, Topology

ROOT = Path(__file__).resolve().parents[2]
# hand-made: an account's dump as AWS's API reference documents each call's output, in the aws_configs layout
ACCOUNT_DUMP = ROOT / "tests" / "data" / "aws"
ACCOUNT = "111122223333"
runner = CliRunner()


def _valid_topologies() -> list[tuple[str, str]]:
    """(id, text) of every topology file of topologies/ and tests/data/, and every topology written inline in a
    test module under tests/ that loads."""
    found = [(str(p.relative_to(ROOT)), p.read_text()) for d in ("topologies", "tests/data")
             for p in sorted((ROOT / d).glob("*.yaml"))]
    for module in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "format: 1" in node.value \
                    and "vpcs:" in node.value:
                try:
                    load_text(node.value, default_name="inline")
                except TopologyError:
                    continue
                found.append((f"{module.relative_to(ROOT)}:{node.lineno}", node.value))
    return found


TOPOLOGIES = _valid_topologies()
IDS = [name for name, _ in TOPOLOGIES]


def test_the_round_trip_covers_the_files_and_the_inline_topologies():
    assert sum(1 for n in IDS if n.endswith(".yaml")) >= 6
    assert sum(1 for n in IDS if ".py:" in n) >= 20


# -- field names and types from botocore ---------------------------------------------------------
EC2 = botocore.session.get_session().get_service_model("ec2")
# describe dict key → (operation, its output member holding the list; None: the item is the whole output)
OUTPUTS = {"Vpcs": ("DescribeVpcs", "Vpcs"), "VpcAttributes": ("DescribeVpcAttribute", None),
           "Subnets": ("DescribeSubnets", "Subnets"), "RouteTables": ("DescribeRouteTables", "RouteTables"),
           "NetworkInterfaces": ("DescribeNetworkInterfaces", "NetworkInterfaces"),
           "SecurityGroups": ("DescribeSecurityGroups", "SecurityGroups"),
           "NetworkAcls": ("DescribeNetworkAcls", "NetworkAcls"),
           "InternetGateways": ("DescribeInternetGateways", "InternetGateways"),
           "NatGateways": ("DescribeNatGateways", "NatGateways"), "VpcEndpoints": ("DescribeVpcEndpoints", "VpcEndpoints"),
           "VpcPeeringConnections": ("DescribeVpcPeeringConnections", "VpcPeeringConnections"),
           "Reservations": ("DescribeInstances", "Reservations"), "Addresses": ("DescribeAddresses", "Addresses"),
           "PrefixLists": ("DescribePrefixLists", "PrefixLists"),
           "ManagedPrefixLists": ("DescribeManagedPrefixLists", "PrefixLists")}
TYPES = {"string": str, "integer": int, "long": int, "boolean": bool, "timestamp": str}


def _off_shape(value, shape, path: str) -> list[str]:
    """Every key of `value` that `shape` does not have, and every value of another type than botocore's."""
    if shape.type_name == "structure":
        if not isinstance(value, dict):
            return [f"{path}: {type(value).__name__}, not a structure"]
        out = []
        for key, item in value.items():
            if key not in shape.members:
                out.append(f"{path}.{key}: not a field of {shape.name}")
            else:
                out += _off_shape(item, shape.members[key], f"{path}.{key}")
        return out
    if shape.type_name == "list":
        if not isinstance(value, list):
            return [f"{path}: {type(value).__name__}, not a list"]
        return [p for i, item in enumerate(value) for p in _off_shape(item, shape.member, f"{path}[{i}]")]
    expected = TYPES[shape.type_name]
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        return [f"{path}: {value!r} is not {shape.type_name}"]
    return []


def off_shape(describe: dict, skip: tuple[str, ...] = ()) -> list[str]:
    out = []
    for key, items in describe.items():
        operation, member = OUTPUTS[key]
        output = EC2.operation_model(operation).output_shape
        shape = output if member is None else output.members[member].member
        for i, item in enumerate(items):
            item = {k: v for k, v in item.items() if f"{key}.{k}" not in skip}
            out += _off_shape(item, shape, f"{key}[{i}]")
    return out


@pytest.mark.parametrize("text", [t for _, t in TOPOLOGIES], ids=IDS)
def test_every_field_export_writes_is_in_botocores_ec2_output_shapes(text):
    topology = load_text(text, default_name="shapes")
    describe = export_describe(topology)
    assert set(describe) == set(OUTPUTS)
    assert off_shape(describe) == []


def test_the_hand_made_dump_uses_aws_field_names_too():
    describe, _, _ = read_dump(ACCOUNT_DUMP)
    describe.pop("TransitGateways")
    # `Entries` on a managed prefix list is the contract's one addition: GetManagedPrefixListEntries' list
    assert off_shape(describe, skip=("ManagedPrefixLists.Entries",)) == []


# -- round trip -----------------------------------------------------------------------------------
def canonical(t: Topology) -> dict:
    """What a round trip through AWS's shapes keeps: every VPC whole, peering, prefix list ids. AWS does not
    order a group's permissions (nor a network ACL's entries: their numbers do), and names a route to an
    instance's only ENI by the instance or the ENI alike."""
    vpcs = {}
    for name, v in t.vpcs.items():
        acls = {n: replace(a, entries=tuple(sorted(a.entries, key=repr))) for n, a in v.network_acls.items()}
        groups = {g: replace(sg, ingress=tuple(sorted(sg.ingress, key=repr)), egress=tuple(sorted(sg.egress, key=repr)))
                  for g, sg in v.security_groups.items()}
        tables = {n: replace(rt, routes=tuple(replace(r, target=None) if r.target_kind == TargetKind.NETWORK_INTERFACE
                                              else r for r in rt.routes)) for n, rt in v.route_tables.items()}
        vpcs[name] = replace(v, security_groups=groups, route_tables=tables, network_acls=acls)
    return {"vpcs": vpcs, "peering": t.peering, "prefix_lists": {k: p.id for k, p in t.prefix_lists.items()},
            "region": t.region}


def expected_reachability(t: Topology) -> dict:
    analyzer = Analyzer(t)
    instances = sorted(t.instances)
    return {(s, d, proto, port): analyzer.flow(s, d, proto, port, 40000).reachable
            for s in instances for d in instances if s != d for proto, port in (("icmp", None), ("tcp", 443))}


@pytest.mark.parametrize("text", [t for _, t in TOPOLOGIES], ids=IDS)
def test_export_then_import_gives_the_same_model_and_the_same_reachability(text):
    topology = load_text(text, default_name="roundtrip")
    document, notices = import_describe(export_describe(topology))
    assert notices == []            # a lab's own export holds nothing import cannot carry over
    back = load_text(document, default_name="roundtrip")
    assert canonical(back) == canonical(topology)
    assert expected_reachability(back) == expected_reachability(topology)


@pytest.mark.parametrize("text", [t for _, t in TOPOLOGIES], ids=IDS)
def test_the_yaml_export_loads_to_the_same_topology(text):
    topology = load_text(text, default_name="roundtrip")
    assert load_text(topology_text(topology), default_name="other") == topology


def test_export_files_and_the_cli_read_back_to_the_same_lab(tmp_path):
    source = ROOT / "tests" / "data" / "format-example.yaml"
    r = runner.invoke(app, ["export", str(source), "--format", "aws", "-o", str(tmp_path / "dump")])
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in (tmp_path / "dump").iterdir())
    assert "describe-vpcs.json" in names and "describe-instances.json" in names
    assert sum(n.startswith("describe-vpc-attribute-") for n in names) == 4         # two attributes, two VPCs
    r = runner.invoke(app, ["import", "aws", str(tmp_path / "dump"), "-o", str(tmp_path / "back.yaml")])
    assert r.exit_code == 0, r.output
    assert canonical(load_topology(tmp_path / "back.yaml")) == canonical(load_topology(source))
    r = runner.invoke(app, ["export", str(source), "--format", "yaml", "-o", str(tmp_path / "same.yaml")])
    assert r.exit_code == 0, r.output
    assert load_topology(tmp_path / "same.yaml", name="shop") == load_topology(source)


# -- the hand-made account dump (AWS's shapes) ---------------------------------------------------------
@pytest.fixture(scope="module")
def account():
    describe, origin, region = read_dump(ACCOUNT_DUMP)
    text, notices, topology = convert(describe, region, None, origin, str(ACCOUNT_DUMP))
    return text, notices, topology


def notice(notices, category: str, ident: str) -> str:
    found = [n for n in notices if n.category == category and n.id == ident]
    assert found, f"no {category} notice about {ident}: {[str(n) for n in notices]}"
    return found[0].detail


def test_an_account_dump_in_the_aws_configs_layout_imports(account):
    text, _, t = account
    assert t.region == "us-east-1"
    prod = t.vpcs["prod"]
    assert prod.id == "vpc-07f8e03e862a2d171" and prod.internet_gateway == "prod-igw"
    assert prod.enable_dns_hostnames is True              # from its describe-vpc-attribute file
    assert set(prod.subnets) == {"public-a", "public-b", "private-a", "private-b"}
    assert prod.subnets["private-a"].id == "subnet-09cf9498c7c74b8b8"
    assert prod.subnets["private-b"].route_table == "private-b" and prod.main_route_table.name == "main"
    assert set(prod.instances) == {"web-1", "web-2", "app-1", "app-2"}
    assert prod.instances["app-1"].id == "i-0c9ba459be506bc3b" and prod.instances["app-1"].instance_type == "m5.large"
    assert t.prefix_lists["s3"].id == "pl-63a5400a"        # AWS's own id of the S3 list in us-east-1
    assert text.startswith("# Imported by `vpcemu import aws`")


def test_public_addresses_are_kept_as_they_are(account):
    """EIPs and an auto-assigned public IPv4 keep their real addresses: the lab's internet is closed."""
    _, _, t = account
    enis = t.network_interfaces
    assert enis["web-1.eth0"].eips == {IPv4Address("10.20.0.10"): IPv4Address("3.210.10.30")}
    assert enis["web-2.eth0"].public_ip_address == IPv4Address("34.200.1.2") and enis["web-2.eth0"].eips == {}
    assert t.vpcs["prod"].nat_gateways["nat-a"].eip == IPv4Address("3.210.10.20")


def test_nat_gateway_and_endpoint_enis_as_aws_shows_them(account):
    """AWS: a NAT gateway's ENI is requester-managed (InterfaceType nat_gateway), with an address of its subnet;
    an interface endpoint's likewise (vpc_endpoint). Their ids and addresses are kept."""
    _, _, t = account
    prod = t.vpcs["prod"]
    nat = prod.network_interfaces[prod.nat_gateways["nat-a"].network_interface]
    assert (nat.id, nat.private_ip_address, nat.interface_type) == (
        "eni-0af8dd8b16587f0ad", IPv4Address("10.20.0.100"), "nat_gateway")
    sqs = [prod.network_interfaces[n] for n in prod.endpoints["sqs"].network_interfaces]
    assert {(e.id, str(e.private_ip_address)) for e in sqs} == {("eni-0f4901ba4a45f947f", "10.20.10.200"),
                                                                ("eni-043d7db0bc4ad2ef5", "10.20.11.200")}
    assert prod.endpoints["s3"].route_tables == ("private-a", "private-b")


def test_what_is_not_live_is_dropped_and_said(account):
    _, notices, t = account
    assert "stopped" in notice(notices, "dropped", "i-0f9e8d7c6b5a49382")
    assert "deleted" in notice(notices, "dropped", "nat-05f4e3d2c1b0a9f8e")
    assert "associated with nothing" in notice(notices, "dropped", "3.210.10.99")
    assert "i-0f9e8d7c6b5a49382" not in {i.id for i in t.instances.values()}


def test_what_cannot_be_represented_is_listed_by_id_and_kind(account):
    _, notices, t = account
    unrepresentable = {(n.kind, n.id) for n in notices if n.category == "unrepresentable"}
    assert ("transit gateway", "tgw-0e1d2c3b4a5f6e7d8") in unrepresentable
    assert ("requester-managed network interface", "eni-07c3b2e1f4a5d6c8b") in unrepresentable   # a load balancer's
    # the route to the transit gateway drops its traffic rather than fall through to the default route
    routes = {str(r.destination): r for r in t.vpcs["prod"].route_tables["private-b"].routes if r.destination}
    assert routes["10.99.0.0/16"].target_kind == TargetKind.BLACKHOLE


def test_a_route_aws_shows_as_blackhole_stays_one(account):
    """AWS's shape: a route to a deleted NAT gateway is `State: blackhole` (moto's is not: see below)."""
    _, notices, t = account
    routes = {str(r.destination): r for r in t.vpcs["prod"].route_tables["private-b"].routes if r.destination}
    assert routes["192.168.0.0/16"].target_kind == TargetKind.BLACKHOLE
    assert "nat-05f4e3d2c1b0a9f8e is gone" in notice(notices, "changed", "rtb-0d574ef61700e8773")


def test_a_customer_managed_prefix_list_becomes_one_rule_per_entry(account):
    _, _, t = account
    web = t.vpcs["prod"].security_groups["web-sg"]
    ssh = {str(r.cidr) for r in web.ingress if r.from_port == 22}
    assert ssh == {"52.94.76.0/22", "54.239.98.0/24"}


def test_strict_refuses_what_cannot_be_represented(tmp_path):
    out = tmp_path / "lab.yaml"
    r = runner.invoke(app, ["import", "aws", str(ACCOUNT_DUMP), "-o", str(out), "--strict"])
    assert r.exit_code == 2 and "tgw-0e1d2c3b4a5f6e7d8" in r.output and not out.exists()
    r = runner.invoke(app, ["import", "aws", str(ACCOUNT_DUMP), "-o", str(out)])
    assert r.exit_code == 0 and out.exists()
    assert "unrepresentable: transit gateway tgw-0e1d2c3b4a5f6e7d8" in r.output


def test_the_layout_picks_a_region_and_an_account(tmp_path):
    configs = tmp_path / "aws_configs" / "accounts"
    for acct, region in ((ACCOUNT, "us-east-1"), (ACCOUNT, "eu-west-1"), ("444455556666", "us-east-1")):
        (configs / acct / region).mkdir(parents=True)
        (configs / acct / region / "vpcs.json").write_text(json.dumps({"Vpcs": []}))
    with pytest.raises(DumpError, match="several Regions"):
        read_dump(tmp_path)
    describe, origin, region = read_dump(tmp_path, region="eu-west-1", account=ACCOUNT)
    assert region == "eu-west-1" and describe == {"Vpcs": []}
    with pytest.raises(DumpError, match="no directory for account 999999999999"):
        read_dump(tmp_path, region="us-east-1", account="999999999999")


# -- names -----------------------------------------------------------------------------------------
def minimal(**extra) -> dict:
    vpc = {"VpcId": "vpc-0123456789abcdef0", "CidrBlock": "10.0.0.0/16", "State": "available",
           "Tags": [{"Key": "Name", "Value": "main"}]}
    subnets = [{"SubnetId": f"subnet-0123456789abcdef{i}", "VpcId": vpc["VpcId"], "CidrBlock": f"10.0.{i}.0/24",
                "AvailabilityZone": "us-east-1a", "State": "available",
                "Tags": [{"Key": "Name", "Value": name}] if name else []}
               for i, name in enumerate(("web server #1", "dup", "dup", None))]
    return {"Vpcs": [vpc], "Subnets": subnets, **extra}


def test_names_are_name_tags_made_valid_and_unique_else_ids():
    _, _, t = convert(minimal())
    assert set(t.vpcs["main"].subnets) == {"web-server-1", "subnet-0123456789abcdef1", "subnet-0123456789abcdef2",
                                           "subnet-0123456789abcdef3"}


# -- dumps made with boto3 against moto ------------------------------------------------------------
CALLS = {"describe_vpcs": "vpcs", "describe_subnets": "subnets", "describe_route_tables": "route-tables",
         "describe_network_interfaces": "network-interfaces", "describe_security_groups": "security-groups",
         "describe_network_acls": "network-acls", "describe_internet_gateways": "internet-gateways",
         "describe_nat_gateways": "nat-gateways", "describe_vpc_endpoints": "vpc-endpoints",
         "describe_vpc_peering_connections": "vpc-peering-connections", "describe_instances": "instances",
         "describe_addresses": "addresses", "describe_prefix_lists": "prefix-lists",
         "describe_managed_prefix_lists": "managed-prefix-lists"}


def save_dump(ec2, directory: Path) -> Path:
    """Each describe-* response as a file, as a person saves them (the DNS attributes per VPC too)."""
    directory.mkdir()
    for call, name in CALLS.items():
        response = getattr(ec2, call)()
        response.pop("ResponseMetadata", None)
        (directory / f"{name}.json").write_text(json.dumps(response, default=str))
    for vpc in ec2.describe_vpcs()["Vpcs"]:
        for attribute in ("enableDnsSupport", "enableDnsHostnames"):
            response = ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute=attribute)
            response.pop("ResponseMetadata", None)
            (directory / f"{vpc['VpcId']}-{attribute}.json").write_text(json.dumps(response))
    return directory


def named(kind: str, name: str) -> list[dict]:
    return [{"ResourceType": kind, "Tags": [{"Key": "Name", "Value": name}]}]


@pytest.fixture(scope="module")
def moto_dump(tmp_path_factory):
    """VPCs, subnets, route tables, SGs, NACLs, ENIs, instances, EIPs, an IGW, a gateway endpoint and a peering,
    made with boto3 against moto; EIPs allocated with an Address (AllocateAddress's BYOIP parameter) so they
    are real public addresses, not moto's 127.x ones."""
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        made = {}
        vpc = made["vpc"] = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=named("vpc", "shop"))["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        other = ec2.create_vpc(CidrBlock="172.16.0.0/16", TagSpecifications=named("vpc", "shared"))["Vpc"]["VpcId"]
        pub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24", AvailabilityZone="us-east-1a",
                                TagSpecifications=named("subnet", "public-a"))["Subnet"]["SubnetId"]
        priv = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1b",
                                 TagSpecifications=named("subnet", "private-b"))["Subnet"]["SubnetId"]
        ec2.create_subnet(VpcId=other, CidrBlock="172.16.1.0/24", AvailabilityZone="us-east-1a")
        igw = ec2.create_internet_gateway(TagSpecifications=named("internet-gateway", "igw"))["InternetGateway"]
        ec2.attach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=vpc)
        pcx = ec2.create_vpc_peering_connection(VpcId=vpc, PeerVpcId=other, TagSpecifications=named(
            "vpc-peering-connection", "to-shared"))["VpcPeeringConnection"]["VpcPeeringConnectionId"]
        ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
        web = ec2.create_security_group(VpcId=vpc, GroupName="web", Description="web servers")["GroupId"]
        db = ec2.create_security_group(VpcId=vpc, GroupName="db", Description="databases")["GroupId"]
        s3_list = next(p["PrefixListId"] for p in ec2.describe_prefix_lists()["PrefixLists"]
                       if p["PrefixListName"] == "com.amazonaws.us-east-1.s3")
        ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "http"}]},
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "52.94.76.0/22"}]},
            {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}])
        ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": web}]}])
        ec2.authorize_security_group_egress(GroupId=db, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "PrefixListIds": [{"PrefixListId": s3_list}]}])
        acl = ec2.create_network_acl(VpcId=vpc, TagSpecifications=named("network-acl", "strict"))["NetworkAcl"]["NetworkAclId"]
        for number, egress, protocol, ports in ((100, False, "6", (443, 443)), (110, False, "6", (1024, 65535)),
                                                (100, True, "-1", None)):
            extra = {"PortRange": {"From": ports[0], "To": ports[1]}} if ports else {}
            ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=number, Protocol=protocol, RuleAction="allow",
                                         Egress=egress, CidrBlock="0.0.0.0/0", **extra)
        association = next(a["NetworkAclAssociationId"] for a in ec2.describe_network_acls(
            Filters=[{"Name": "association.subnet-id", "Values": [priv]}])["NetworkAcls"][0]["Associations"]
            if a["SubnetId"] == priv)
        ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl)

        def launch(name: str, subnet: str, **kwargs) -> str:
            return ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, SubnetId=subnet,
                                     TagSpecifications=named("instance", name), **kwargs)["Instances"][0]["InstanceId"]

        made["web-1"] = launch("web-1", pub, InstanceType="t3.micro", SecurityGroupIds=[web], PrivateIpAddress="10.0.0.10")
        app_1 = launch("app", priv, InstanceType="t3.micro", SecurityGroupIds=[db])
        fw = made["fw"] = launch("fw", pub, InstanceType="m5.large")
        ec2.modify_instance_attribute(InstanceId=fw, SourceDestCheck={"Value": False})
        made["old"] = launch("old", priv)
        ec2.stop_instances(InstanceIds=[made["old"]])
        svc = ec2.create_network_interface(SubnetId=priv, Groups=[web], TagSpecifications=named("network-interface", "svc"),
                                           PrivateIpAddresses=[{"PrivateIpAddress": "10.0.1.50", "Primary": True},
                                                               {"PrivateIpAddress": "10.0.1.51", "Primary": False}])
        ec2.attach_network_interface(NetworkInterfaceId=svc["NetworkInterface"]["NetworkInterfaceId"], InstanceId=app_1,
                                     DeviceIndex=1)
        ec2.create_network_interface(SubnetId=pub, TagSpecifications=named("network-interface", "spare"))
        eip = ec2.allocate_address(Domain="vpc", Address="54.240.1.10")
        ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=made["web-1"])
        public = ec2.create_route_table(VpcId=vpc, TagSpecifications=named("route-table", "public"))["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=public, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw["InternetGatewayId"])
        ec2.create_route(RouteTableId=public, DestinationCidrBlock="172.16.0.0/16", VpcPeeringConnectionId=pcx)
        ec2.associate_route_table(RouteTableId=public, SubnetId=pub)
        private = ec2.create_route_table(VpcId=vpc, TagSpecifications=named("route-table", "private"))["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=private, DestinationCidrBlock="0.0.0.0/0", InstanceId=fw)
        ec2.associate_route_table(RouteTableId=private, SubnetId=priv)
        ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3", RouteTableIds=[private],
                                VpcEndpointType="Gateway", TagSpecifications=named("vpc-endpoint", "s3"))
        return save_dump(ec2, tmp_path_factory.mktemp("moto") / "dump"), made


def imported(path: Path):
    describe, origin, region = read_dump(path)
    return convert(describe, region, None, origin, str(path))


def test_a_dump_made_with_boto3_against_moto_imports_and_loads(moto_dump):
    path, made = moto_dump
    text, notices, t = imported(path)
    shop = t.vpcs["shop"]
    assert shop.id == made["vpc"] and shop.enable_dns_hostnames is True     # describe-vpc-attribute's answer
    assert shop.internet_gateway == "igw" and set(shop.subnets) == {"public-a", "private-b"}
    assert shop.subnets["private-b"].network_acl == "strict" and shop.subnets["private-b"].route_table == "private"
    assert {str(r.destination): r.target for r in shop.route_tables["public"].routes if r.destination} == {
        "10.0.0.0/16": "local", "0.0.0.0/0": "igw", "172.16.0.0/16": "to-shared"}
    assert {str(r.destination): r.target for r in shop.route_tables["private"].routes if r.destination}[
        "0.0.0.0/0"] == "fw"
    assert [r for r in shop.route_tables["private"].routes if r.is_prefix_list][0].target == "s3"
    assert shop.instances["web-1"].id == made["web-1"] and shop.instances["fw"].forwarding is True
    assert shop.network_interfaces["web-1.eth0"].eips == {IPv4Address("10.0.0.10"): IPv4Address("54.240.1.10")}
    assert shop.network_interfaces["svc"].attachment.instance == "app"
    assert shop.network_interfaces["spare"].attachment is None
    db = shop.security_groups["db"]
    assert {r.peer_text() for r in db.ingress} == {"sg:web"} and "pl:s3" in {r.peer_text() for r in db.egress}
    assert set(t.peering) == {"to-shared"}
    assert "stopped" in notice(notices, "dropped", made["old"])
    default = next(v for v in t.vpcs.values() if v.cidr_block == IPv4Network("172.31.0.0/16"))
    assert default.name == default.id and default.enable_dns_hostnames is True     # moto's default VPC, untagged


def test_moto_shows_an_instance_source_dest_check_apart_from_its_eni(moto_dump):
    """moto: ModifyInstanceAttribute SourceDestCheck changes the instance's field but not its primary ENI's (AWS:
    they are one attribute). The instance's, which is what was set, wins, and that is said."""
    path, made = moto_dump
    _, notices, t = imported(path)
    assert t.network_interfaces["fw.eth0"].source_dest_check is False
    assert "the instance's is kept" in notice(notices, "changed", made["fw"])


def nat_and_endpoint_dump(tmp_path: Path, address: str | None = "54.240.1.20") -> Path:
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        allocation = ec2.allocate_address(Domain="vpc", **({"Address": address} if address else {}))["AllocationId"]
        nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"]["NatGatewayId"]
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
        ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.sqs", SubnetIds=[subnet],
                                VpcEndpointType="Interface", PrivateDnsEnabled=True)
        return save_dump(ec2, tmp_path / "nat")


def test_moto_requester_managed_enis_outside_their_subnet_are_refused(tmp_path):
    """moto: a NAT gateway's and an interface endpoint's ENIs say `RequesterManaged: false` and take an address
    outside their subnet (10.x at random). Import tells those ENIs by what refers to them, whatever their flag says,
    and the loader refuses the addresses, naming the file and the object's id."""
    path = nat_and_endpoint_dump(tmp_path)
    enis = json.loads((path / "network-interfaces.json").read_text())["NetworkInterfaces"]
    assert enis and all(e["RequesterManaged"] is False for e in enis)           # what moto shows
    with pytest.raises(DumpError) as refused:
        imported(path)
    text = str(refused.value)
    nat = json.loads((path / "nat-gateways.json").read_text())["NatGateways"][0]["NatGatewayId"]
    endpoint = json.loads((path / "vpc-endpoints.json").read_text())["VpcEndpoints"][0]["VpcEndpointId"]
    assert f"nat-gateways.json: {nat}: " in text and f"vpc-endpoints.json: {endpoint}: " in text
    assert "is not in subnet" in text and "nothing was built" in text


def test_moto_elastic_ips_from_127_are_refused_as_loopback(tmp_path):
    """moto: AllocateAddress without an Address gives 127.x.y.z; AWS never does (the hand-made dump's EIPs are
    real public addresses, kept: test_public_addresses_are_kept_as_they_are)."""
    path = nat_and_endpoint_dump(tmp_path, address=None)
    with pytest.raises(DumpError, match=r"127\.\d+\.\d+\.\d+ is not in the lab's public address pools .* is a "
                                        r"loopback address"):
        imported(path)


def test_moto_prefix_lists_without_cidrs_import_as_aws_lists_with_them(moto_dump, account):
    """moto: DescribePrefixLists gives no Cidrs; AWS gives them (the hand-made dump). An AWS-managed service
    list is the lab's own either way, known by its name; its id is kept."""
    path, _ = moto_dump
    lists = json.loads((path / "prefix-lists.json").read_text())["PrefixLists"]
    assert all("Cidrs" not in p for p in lists)                                # what moto shows
    _, _, from_moto = imported(path)
    moto_s3 = next(p["PrefixListId"] for p in lists if p["PrefixListName"].endswith(".s3"))
    assert from_moto.prefix_lists["s3"].id == moto_s3
    _, _, from_aws = account
    assert from_aws.prefix_lists["s3"].id == "pl-63a5400a"
    assert from_moto.prefix_lists["s3"].cidrs == from_aws.prefix_lists["s3"].cidrs    # the emulated S3's addresses


def test_moto_keeps_a_route_to_a_deleted_nat_gateway_active(tmp_path):
    """moto: after DeleteNatGateway the route to it stays `active` (AWS: `blackhole`, as the hand-made dump
    shows: test_a_route_aws_shows_as_blackhole_stays_one). Import makes it a blackhole either way: its target
    is not live."""
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        allocation = ec2.allocate_address(Domain="vpc", Address="54.240.1.30")["AllocationId"]
        nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"]["NatGatewayId"]
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
        ec2.delete_nat_gateway(NatGatewayId=nat)
        path = save_dump(ec2, tmp_path / "deleted")
    routes = json.loads((path / "route-tables.json").read_text())["RouteTables"]
    route = next(r for t in routes for r in t["Routes"] if r.get("NatGatewayId") == nat)
    assert route["State"] == "active"                                          # what moto shows
    _, notices, t = imported(path)
    table_name = next(rt for v in t.vpcs.values() for rt in v.route_tables.values() if rt.id == table)
    default = next(r for r in table_name.routes if r.destination == IPv4Network("0.0.0.0/0"))
    assert default.target_kind == TargetKind.BLACKHOLE
    assert f"its target {nat} is not carried over" in notice(notices, "changed", table)


# -- bad input: a clear message naming the file and the object id, exit 2, nothing written ---------------------
def write(directory: Path, **files) -> Path:
    directory.mkdir(exist_ok=True)
    for name, body in files.items():
        (directory / f"{name}.json").write_text(body if isinstance(body, str) else json.dumps(body))
    return directory


def refused(path: Path, tmp_path: Path) -> str:
    out = tmp_path / "lab.yaml"
    r = runner.invoke(app, ["import", "aws", str(path), "-o", str(out)])
    assert r.exit_code == 2, r.output
    assert not out.exists()
    return " ".join(r.output.split())


def test_a_file_that_is_not_json(tmp_path):
    path = write(tmp_path / "d", vpcs={"Vpcs": minimal()["Vpcs"]}, subnets='{"Subnets": [')
    assert "subnets.json: is not JSON" in refused(path, tmp_path)


def test_an_unknown_top_level_key(tmp_path):
    path = write(tmp_path / "d", vpcs={"Vpcs": minimal()["Vpcs"]}, buckets={"Buckets": []})
    assert "buckets.json: top-level key 'Buckets' is not the output of a describe-* call" in refused(path, tmp_path)


def test_a_dangling_reference(tmp_path):
    dump = minimal()
    table = {"RouteTableId": "rtb-0123456789abcdef0", "VpcId": "vpc-0123456789abcdef0", "Associations": [],
             "Routes": [{"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-0123456789abcdef0",
                         "Origin": "CreateRoute", "State": "active"}]}
    path = write(tmp_path / "d", vpcs={"Vpcs": dump["Vpcs"]}, subnets={"Subnets": dump["Subnets"]},
                 tables={"RouteTables": [table]})
    text = refused(path, tmp_path)
    assert "tables.json: rtb-0123456789abcdef0: route 0.0.0.0/0: NatGatewayId 'nat-0123456789abcdef0' is not in the " \
           "dump" in text


def test_a_subnet_outside_its_vpc(tmp_path):
    dump = minimal()
    dump["Subnets"][3]["CidrBlock"] = "10.9.0.0/24"
    path = write(tmp_path / "d", vpcs={"Vpcs": dump["Vpcs"]}, subnets={"Subnets": dump["Subnets"]})
    text = refused(path, tmp_path)
    assert "subnets.json: subnet-0123456789abcdef3: 10.9.0.0/24 is not inside the VPC CIDR 10.0.0.0/16" in text
    assert "InvalidSubnet.Range" in text


def test_a_subnet_of_a_vpc_not_in_the_dump(tmp_path):
    path = write(tmp_path / "d", subnets={"Subnets": minimal()["Subnets"]})
    assert "subnets.json: subnet-0123456789abcdef0: VpcId 'vpc-0123456789abcdef0' is not in the dump" in \
        refused(path, tmp_path)


def test_one_page_of_a_longer_output(tmp_path):
    path = write(tmp_path / "d", vpcs={"Vpcs": minimal()["Vpcs"], "NextToken": "abc"})
    assert "vpcs.json: is one page of a longer output" in refused(path, tmp_path)


def test_the_python_api_names_the_key_and_the_id():
    dump = minimal()
    dump["Subnets"][0]["CidrBlock"] = "10.9.0.0/24"
    with pytest.raises(DumpError, match=r"Subnets: subnet-0123456789abcdef0: 10\.9\.0\.0/24 is not inside"):
        import_describe(dump)
    with pytest.raises(DumpError, match="'Buckets' is not the output of a describe-\\* call"):
        import_describe({"Buckets": []})


# -- the loader, widened for public addresses and ids ---------------------------------------------------------
BASE = """format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    internet_gateway: igw
    subnets:
      a: {cidr: 10.0.0.0/24, az: us-east-1a}
    instances:
"""


@pytest.mark.parametrize("instance", ["web: {subnet: a, eip: 54.240.1.10}", "web: {subnet: a, public_ip: 34.200.1.2}",
                                      "web: {subnet: a, eip: 198.51.100.10}"])
def test_any_public_unicast_address_is_an_eip_or_a_public_ip(instance):
    t = load_text(BASE + f"      {instance}\n")
    assert list(t.network_interfaces["web.eth0"].public_addresses.values())[0] == IPv4Address(instance.split(": ")[-1][:-1])


def test_a_public_ip_aws_assigned_stays_when_a_second_eni_is_attached():
    """AWS: the auto-assigned public IPv4 needs a one-ENI launch, but stays when a second ENI is attached later
    (aws-vpc-reference: it is released on stop or when an EIP is associated with eth0)."""
    eni = "    network_interfaces:\n      two: {subnet: a, attachment: {instance: web, device_index: 1}}\n"
    t = load_text(BASE + "      web: {subnet: a, public_ip: 34.200.1.2}\n" + eni)
    assert t.network_interfaces["web.eth0"].public_ip_address == IPv4Address("34.200.1.2")
    with pytest.raises(TopologyError, match="more than one network interface"):
        load_text(BASE + "      web: {subnet: a, public_ip: true}\n" + eni)


def test_public_ip_true_still_takes_the_documentation_pool():
    t = load_text(BASE + "      web: {subnet: a, public_ip: true}\n")
    assert t.network_interfaces["web.eth0"].public_ip_address in IPv4Network("198.51.100.0/24")


def test_given_ids_win_over_derived_ones():
    t = load_text(BASE.replace("    cidr:", "    id: vpc-0123456789abcdef0\n    cidr:")
                  + "      web: {id: i-0123456789abcdef0, subnet: a, network_interface_id: eni-0123456789abcdef0}\n")
    assert t.vpcs["main"].id == "vpc-0123456789abcdef0"
    assert t.instances["web"].id == "i-0123456789abcdef0"
    assert t.network_interfaces["web.eth0"].id == "eni-0123456789abcdef0"
    assert t.vpcs["main"].internet_gateway_id.startswith("igw-")



def test_elastic_ips_keep_their_allocation_ids_through_import_and_export(account):
    """AWS's AllocationIds of the EIPs carried over (an ENI's, a NAT gateway's) are kept (aws.elastic_ips) and
    given back by an export, in DescribeAddresses, the ENI's association and the NAT gateway's address."""
    text, _, t = account
    assert t.elastic_ip_ids[IPv4Address("3.210.10.30")] == "eipalloc-563bb0ad096a7d353"
    assert t.elastic_ip_ids[IPv4Address("3.210.10.20")] == "eipalloc-dddc5b68013ff2a0d"
    out = export_describe(t)
    assert {a["PublicIp"]: a["AllocationId"] for a in out["Addresses"]}["3.210.10.30"] == "eipalloc-563bb0ad096a7d353"
    web = next(e for e in out["NetworkInterfaces"] if e["NetworkInterfaceId"] == t.network_interfaces["web-1.eth0"].id)
    assert web["Association"]["AllocationId"] == "eipalloc-563bb0ad096a7d353"
    nat = next(n for n in out["NatGateways"] if n["NatGatewayAddresses"][0]["PublicIp"] == "3.210.10.20")
    assert nat["NatGatewayAddresses"][0]["AllocationId"] == "eipalloc-dddc5b68013ff2a0d"
    # the id names the address wherever ids are taken, and the stored document keeps it
    assert t.named("eipalloc-563bb0ad096a7d353", "eipalloc").name == "3.210.10.30"
    assert load_text(topology_text(t)).elastic_ip_ids == t.elastic_ip_ids


def test_an_elastic_ip_without_a_kept_id_gets_a_stable_derived_one():
    t = load_text(BASE + "      web: {subnet: a, eip: 54.240.1.10}\n")
    assert t.elastic_ip_ids == {} and t.allocation_id(IPv4Address("54.240.1.10")).startswith("eipalloc-")
    assert t.allocation_id(IPv4Address("54.240.1.10")) == load_text(topology_text(t)).allocation_id(IPv4Address("54.240.1.10"))


@pytest.mark.parametrize("entry, message", [
    ("{54.240.1.10: {id: eipalloc-nothex}}", "aws.elastic_ips.54.240.1.10.id: 'eipalloc-nothex' is not an AWS id"),
    ("{10.0.0.9: {id: eipalloc-0123456789abcdef0}}", "aws.elastic_ips.10.0.0.9: 10.0.0.9 is not in the lab's public"),
    ("{not-an-ip: {id: eipalloc-0123456789abcdef0}}", "aws.elastic_ips.not-an-ip:"),
    ("[54.240.1.10]", "aws.elastic_ips: must be a map of Elastic IPs, not a list"),
    ("{54.240.1.10: {}}", "aws.elastic_ips.54.240.1.10.id: is required"),
])
def test_a_bad_kept_allocation_id_is_refused_with_its_path(entry, message):
    with pytest.raises(TopologyError) as refused:
        load_text(BASE.replace("vpcs:", f"aws: {{elastic_ips: {entry}}}\nvpcs:", 1) + "      web: {subnet: a}\n")
    assert message in str(refused.value)


# -- the host's own networks stay out of a lab ---------------------------------------------------------
def test_the_hosts_uplink_networks_are_read_from_its_addresses():
    import subprocess

    from vpcemu.kernel.host import uplink_networks
    links = json.loads(subprocess.run(["ip", "-j", "-4", "addr"], capture_output=True, text=True, check=True).stdout)
    expected = {IPv4Network(f"{a['local']}/{a['prefixlen']}", strict=False): link["ifname"]
                for link in links for a in link.get("addr_info", []) if a.get("scope") == "global"}
    assert uplink_networks() == expected


def test_up_refuses_a_public_address_on_the_hosts_own_network(monkeypatch):
    """Checked when the lab is built (the loader stays pure): nothing is created."""
    from vpcemu import lab as lab_module
    from vpcemu.errors import UsageError
    from vpcemu.kernel import host
    monkeypatch.setattr(host, "uplink_networks", lambda: {IPv4Network("198.18.7.0/24"): "eth0"})

    def planned(*args):
        raise AssertionError("up went on to plan the lab")
    monkeypatch.setattr("vpcemu.plan.build.plan_lab", planned)
    topology = load_text(BASE + "      web: {subnet: a, eip: 54.240.1.10}\n"
                         "internet:\n  hosts:\n    ext: {ip: 198.18.7.9}\n", default_name="uplink")
    with pytest.raises(UsageError, match=r"198\.18\.7\.9 \(internet host ext\) is in 198\.18\.7\.0/24, the network "
                                         r"of this host's eth0") as refused:
        lab_module.Lab.up(topology)
    assert refused.value.exit_code == 2


# -- hostile dumps -----------------------------------------------------------------------------------
def _paths(value, path=()):
    """Every place in a JSON value: (path, value)."""
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*path, i))


def test_a_mangled_dump_is_refused_or_imported_never_a_crash():
    """Each field of the account dump, in turn at random, deleted or given a value of another type: the
    import either succeeds or refuses with a DumpError (exit 2); nothing else escapes."""
    import copy
    import random
    describe, _, _ = read_dump(ACCOUNT_DUMP)
    places = [p for p, _ in _paths(describe) if len(p) >= 2]
    rng = random.Random(15)
    outcomes = {"imported": 0, "refused": 0}
    for _ in range(300):
        mangled = copy.deepcopy(describe)
        *parent_path, last = rng.choice(places)
        parent = mangled
        for step in parent_path:
            parent = parent[step]
        if isinstance(parent, dict) and rng.random() < 0.3:
            del parent[last]
        else:
            parent[last] = rng.choice([None, 7, -1, "x", "", [], {}, True, [1], {"a": 1}, "10.0.0.0/8", "vpc-00000000"])
        try:
            import_describe(mangled, region="us-east-1")
            outcomes["imported"] += 1
        except DumpError:
            outcomes["refused"] += 1
    assert outcomes["imported"] > 0 and outcomes["refused"] > 0
