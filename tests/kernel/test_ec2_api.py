"""The lab's EC2 API, called from inside instances by real clients (the AWS CLI and boto3) at its regional
name with no endpoint override, over the lab's own network (NAT gateway, internet gateway, an `ec2`
interface endpoint): answers match `vpcemu status`, refusals carry the CLI's codes and change nothing,
changes move real packets, and failover scripts inside the lab are measured with `drill run`.

Clients in instances find the role's credentials through IMDS (no keys in `vpcemu exec`'s environment); the
failover scripts run with nothing in theirs at all (`env -i`) and ask IMDS who they are, as on EC2.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from vpcemu.errors import UsageError
from vpcemu.lab import Lab
from vpcemu.ops import network_interface as eni_ops
from vpcemu.ops import route_table as route_ops
from vpcemu.ops.vpc_endpoint import create_vpc_endpoint, delete_vpc_endpoint
from vpcemu.services.ec2_api import calls

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.geteuid() != 0, reason="kernel tests need root")]

TOPOLOGY = Path(__file__).resolve().parents[1] / "data" / "ec2api.yaml"
BIN = Path(sys.executable).parent
PATH = f"PATH={BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}"      # aws, vpcemu and python, as setup installs them
VIP, EIP, NAT_EIP = "10.0.1.100", "198.51.100.30", "198.51.100.20"


@pytest.fixture(scope="module")
def lab():
    lab = Lab.up(TOPOLOGY, name="ec2api")
    try:
        yield lab
        lab.require_services()
    finally:
        lab.down()


def aws(lab: Lab, instance: str, *args: str) -> dict:
    """`aws ec2 ARGS --output json` inside `instance`; its answer, or AssertionError with stderr."""
    done = lab.exec(instance, ["env", PATH, "aws", "ec2", *args, "--output", "json"], timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout or "{}")


def aws_error(lab: Lab, instance: str, *args: str) -> str:
    """The error code of an `aws ec2` call that fails inside `instance`."""
    done = lab.exec(instance, ["env", PATH, "aws", "ec2", *args], timeout=60)
    assert done.returncode != 0, done.stdout
    assert "An error occurred (" in done.stderr, done.stderr
    return done.stderr.split("An error occurred (", 1)[1].split(")", 1)[0]


def boto3(lab: Lab, instance: str, code: str) -> object:
    """Run `code` (with `ec2 = boto3.client("ec2")`) in python inside `instance`; what it prints, as JSON."""
    program = "import boto3, json, time\nec2 = boto3.client('ec2')\n" + textwrap.dedent(code)
    done = lab.exec(instance, [sys.executable, "-c", program], timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# -- Describe* --------------------------------------------------------------------------------
def test_the_aws_cli_and_boto3_answers_match_status(lab):
    status = lab.status()
    vpc = status["vpcs"][0]
    enis = {e["id"]: e for e in vpc["network_interfaces"]}
    instance_ids = {i["id"]: i["name"] for i in vpc["instances"]}

    # a private instance calls through its NAT gateway; a public one through the internet gateway
    got = aws(lab, "client", "describe-network-interfaces")["NetworkInterfaces"]
    assert {e["NetworkInterfaceId"] for e in got} == set(enis)
    for e in got:
        mine = enis[e["NetworkInterfaceId"]]
        assert [a["PrivateIpAddress"] for a in e["PrivateIpAddresses"]] == mine["private_ips"]
        assert e["MacAddress"] == mine["mac"]
        attached = instance_ids.get(e.get("Attachment", {}).get("InstanceId"))
        assert attached == mine["instance"]
    reservations = boto3(lab, "web-b", """
        print(json.dumps(ec2.describe_instances()["Reservations"], default=str))""")
    assert {i["InstanceId"]: i["PrivateIpAddress"] for r in reservations for i in r["Instances"]} == \
        {i["id"]: str(lab.resolve(i["name"]).address) for i in vpc["instances"]}
    assert [s["SubnetId"] for s in aws(lab, "web-b", "describe-subnets")["Subnets"]] == [s["id"] for s in vpc["subnets"]]
    assert [v["VpcId"] for v in aws(lab, "web-b", "describe-vpcs")["Vpcs"]] == [vpc["id"]]
    tables = aws(lab, "web-b", "describe-route-tables")["RouteTables"]
    assert {t["RouteTableId"] for t in tables} == {t["id"] for t in vpc["route_tables"]}
    nat = aws(lab, "web-b", "describe-nat-gateways")["NatGateways"]
    assert [(n["NatGatewayId"], n["NatGatewayAddresses"][0]["PublicIp"]) for n in nat] == \
        [(n["id"], n["eip"]) for n in vpc["nat_gateways"]]
    addresses = aws(lab, "web-b", "describe-addresses")["Addresses"]
    assert {a["PublicIp"] for a in addresses} == {NAT_EIP, EIP}

    # filters, as botocore encodes them (Filter.N.Name / Filter.N.Value.M)
    active = lab.topology.instances["active"].id
    mine = aws(lab, "client", "describe-network-interfaces", "--filters", f"Name=attachment.instance-id,Values={active}")
    assert [e["PrivateIpAddress"] for e in mine["NetworkInterfaces"]] == ["10.0.1.10"]
    by_ip = aws(lab, "client", "describe-network-interfaces", "--filters",
                f"Name=addresses.private-ip-address,Values={VIP}", "Name=vpc-id,Values=" + vpc["id"])
    assert [e["Attachment"]["InstanceId"] for e in by_ip["NetworkInterfaces"]] == [active]
    named = aws(lab, "client", "describe-instances", "--filters", "Name=tag:Name,Values=stand*")
    assert [i["InstanceId"] for r in named["Reservations"] for i in r["Instances"]] == \
        [lab.topology.instances["standby"].id]
    assert aws_error(lab, "client", "describe-network-interfaces", "--filters", "Name=no-such-filter,Values=x") == \
        "InvalidParameterValue"
    assert aws_error(lab, "client", "describe-subnets", "--subnet-ids", "subnet-0000000000000000f") == \
        "InvalidSubnetID.NotFound"

    # every call is recorded, with the caller as the API saw it: the NAT gateway's EIP, web-b's public IP
    log = calls(lab.journal.dir)
    assert {(c["action"], c["caller_name"], c["code"]) for c in log} >= {
        ("DescribeNetworkInterfaces", "nat-a", "OK"), ("DescribeInstances", "web-b", "OK"),
        ("DescribeNetworkInterfaces", "nat-a", "InvalidParameterValue")}
    assert all(c["caller"] == NAT_EIP for c in log if c["caller_name"] == "nat-a")


def test_call_latency_from_inside_an_instance(lab):
    """Measured figures: one Describe and one AssignPrivateIpAddresses round trip with boto3 over HTTPS."""
    eni = lab.topology.network_interface("standby.eth0").id
    times = boto3(lab, "standby", f"""
        ec2.describe_vpcs()                       # the connection and the TLS session, made once
        out = {{"describe": [], "assign": []}}
        for _ in range(20):
            t = time.perf_counter(); ec2.describe_network_interfaces(); out["describe"].append(time.perf_counter() - t)
        for i in range(10):
            t = time.perf_counter()
            ec2.assign_private_ip_addresses(NetworkInterfaceId="{eni}", PrivateIpAddresses=["10.0.1.200"])
            out["assign"].append(time.perf_counter() - t)
            ec2.unassign_private_ip_addresses(NetworkInterfaceId="{eni}", PrivateIpAddresses=["10.0.1.200"])
        print(json.dumps(out))""")
    describe, assign = (statistics.median(times[k]) * 1000 for k in ("describe", "assign"))
    print(f"EC2 API latency from an instance (boto3, HTTPS via NAT): DescribeNetworkInterfaces median "
          f"{describe:.1f} ms, AssignPrivateIpAddresses median {assign:.1f} ms")
    assert describe < 1000 and assign < 2000
    assert "10.0.1.200" not in map(str, lab.refresh().topology.network_interface("standby.eth0").private_ip_addresses)


# -- refusals ---------------------------------------------------------------------------------
def _code(fn, *args) -> str:
    with pytest.raises(UsageError) as exc:
        fn(*args)
    return str(exc.value.code)


def test_refusals_carry_the_cli_codes_and_change_nothing(lab):
    t = lab.refresh().topology
    before = t
    standby_eni = t.network_interface("standby.eth0").id
    active_eth0 = t.network_interface("active.eth0")
    cases = {
        "detach the primary ENI": (
            ("detach-network-interface", "--attachment-id",
             next(a["Attachment"]["AttachmentId"] for a in aws(lab, "web-b", "describe-network-interfaces",
                                                               "--network-interface-ids", active_eth0.id)
                  ["NetworkInterfaces"])),
            _code(eni_ops.detached, t, "active.eth0")),
        "attach across AZs": (
            ("attach-network-interface", "--network-interface-id", t.network_interface("spare-b").id,
             "--instance-id", t.instances["standby"].id, "--device-index", "1"),
            _code(eni_ops.attached, t, "spare-b", "standby", 1)),
        "a device index in use": (
            ("attach-network-interface", "--network-interface-id", t.network_interface("spare").id,
             "--instance-id", t.instances["standby"].id, "--device-index", "0"),
            _code(eni_ops.attached, t, "spare", "standby", 0)),
        "reassign without AllowReassignment": (
            ("assign-private-ip-addresses", "--network-interface-id", standby_eni, "--private-ip-addresses", VIP),
            _code(eni_ops.assigned, t, "standby.eth0", [VIP])),
        "a route to an unknown target": (
            ("create-route", "--route-table-id", t.vpcs["main"].route_tables["private-a"].id,
             "--destination-cidr-block", "10.9.0.0/16", "--instance-id", "i-0123456789abcdef0"),
            _code(route_ops.route_created, t, "private-a", "10.9.0.0/16", "i-0123456789abcdef0")),
    }
    got = {name: aws_error(lab, "web-b", *args) for name, (args, _) in cases.items()}
    assert got == {name: cli for name, (_, cli) in cases.items()}
    assert got == {"detach the primary ENI": "OperationNotPermitted",
                   "attach across AZs": got["attach across AZs"],
                   "a device index in use": got["a device index in use"],
                   "reassign without AllowReassignment": "InvalidIPAddress.InUse",
                   "a route to an unknown target": "InvalidInstanceID.NotFound"}
    print("refusal codes over the API:", json.dumps(got))
    assert lab.refresh().topology == before


def test_unsigned_and_unknown_calls_are_refused_in_ec2s_error_shape(lab):
    """What a hand-made request gets: EC2's <Response><Errors><Error><Code> document."""
    out = lab.exec("web-b", ["curl", "-s", "-w", "\n%{http_code}", "-d", "Action=DescribeVpcs&Version=2016-11-15",
                             "https://ec2.us-east-1.amazonaws.com/"], timeout=30).stdout
    body, status = out.rsplit("\n", 1)
    assert status == "401" and "<Code>AuthFailure</Code>" in body and body.startswith("<?xml")
    signed = ["-H", "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261205/us-east-1/ec2/aws4_request, "
                    "SignedHeaders=host, Signature=0"]
    out = lab.exec("web-b", ["curl", "-s", "-w", "\n%{http_code}", *signed, "-d", "Action=RunInstances&Version=2016-11-15",
                             "http://ec2.us-east-1.amazonaws.com/"], timeout=30).stdout
    assert out.endswith("\n400") and "<Code>UnsupportedOperation</Code>" in out
    out = lab.exec("web-b", ["curl", "-s", *signed, "-d", "Action=DescribeVpcs&Version=2016-11-15",
                             "http://ec2.us-east-1.amazonaws.com/"], timeout=30).stdout
    assert out.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<DescribeVpcsResponse '
                          'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>')
    assert f"<vpcId>{lab.topology.vpcs['main'].id}</vpcId>" in out


# -- changes ----------------------------------------------------------------------------------
def test_attach_takes_the_labs_attachment_time_and_moves_packets(lab):
    t = lab.refresh().topology
    spare, standby = t.network_interface("spare").id, t.instances["standby"].id
    timed = boto3(lab, "web-b", f"""
        t = time.perf_counter()
        a = ec2.attach_network_interface(NetworkInterfaceId="{spare}", InstanceId="{standby}", DeviceIndex=1)
        print(json.dumps({{"attachment": a["AttachmentId"], "s": time.perf_counter() - t}}))""")
    assert timed["s"] >= 0.3                           # aws.ec2_api.attachment_delay_ms
    assert lab.exec("client", ["ping", "-c1", "-W1", "10.0.1.60"]).returncode == 0
    assert lab.exec("standby", ["ip", "-4", "-o", "addr", "show", "dev", "eth1"]).stdout.count("10.0.1.60/24") == 1
    detach_s = boto3(lab, "web-b", f"""
        t = time.perf_counter()
        ec2.detach_network_interface(AttachmentId="{timed['attachment']}")
        print(time.perf_counter() - t)""")
    assert detach_s >= 0.3
    assert lab.refresh().topology.network_interface("spare").attachment is None
    assert lab.exec("client", ["ping", "-c1", "-W1", "10.0.1.60"]).returncode != 0


def test_an_eni_made_modified_and_deleted_over_the_api(lab):
    t = lab.refresh().topology
    subnet, sg = t.vpcs["main"].subnets["private-a"].id, t.vpcs["main"].security_groups["open"].id
    made = boto3(lab, "web-b", f"""
        e = ec2.create_network_interface(SubnetId="{subnet}", Groups=["{sg}"], SecondaryPrivateIpAddressCount=1,
            Description="made over the API",
            TagSpecifications=[{{"ResourceType": "network-interface", "Tags": [{{"Key": "Name", "Value": "api-made"}}]}}])
        eni = e["NetworkInterface"]["NetworkInterfaceId"]
        ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, SourceDestCheck={{"Value": False}})
        ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Description={{"Value": "renamed"}})
        seen = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]
        print(json.dumps({{"eni": eni, "seen": seen}}))""")
    eni = lab.refresh().topology.network_interface("api-made")
    assert eni.id == made["eni"] and eni.description == "renamed" and not eni.source_dest_check
    assert [a["PrivateIpAddress"] for a in made["seen"]["PrivateIpAddresses"]] == [str(i) for i in eni.private_ip_addresses]
    assert len(eni.private_ip_addresses) == 2 and made["seen"]["SourceDestCheck"] is False
    aws(lab, "web-b", "delete-network-interface", "--network-interface-id", made["eni"])
    assert "api-made" not in lab.refresh().topology.network_interfaces


def test_an_ec2_interface_endpoint_carries_the_api_calls(lab):
    """`endpoint create … ec2` with private DNS: the regional name resolves to the endpoint's ENI in the VPC."""
    create_vpc_endpoint(lab, "ec2", "ec2", "interface", None, ["private-b"], ["open"], True)
    try:
        ep_ip = str(lab.topology.network_interface(lab.topology.vpcs["main"].endpoints["ec2"].network_interfaces[0])
                    .private_ip_address)
        since = time.time()
        assert [v["VpcId"] for v in aws(lab, "far", "describe-vpcs")["Vpcs"]] == [lab.topology.vpcs["main"].id]
        got = [(c["caller"], c["caller_name"]) for c in calls(lab.journal.dir, since=since)]
        assert got == [(ep_ip, "ec2")]
    finally:
        delete_vpc_endpoint(lab, "ec2")


def test_concurrent_api_and_cli_changes_lose_nothing(lab):
    group = lab.topology.vpcs["main"].security_groups["scratch"].id
    api_ports, cli_ports = range(2000, 2015), range(3000, 3015)
    vpcemu = str(BIN / "vpcemu")

    def from_the_cli():
        for port in cli_ports:
            subprocess.run([vpcemu, "sg", "authorize", "scratch", "-p", "tcp", "--port", str(port), "--peer",
                            "10.0.0.0/16", "--lab", lab.name], check=True, capture_output=True, timeout=60)

    cli = threading.Thread(target=from_the_cli)
    cli.start()
    boto3(lab, "web-b", f"""
        for port in {list(api_ports)}:
            ec2.authorize_security_group_ingress(GroupId="{group}", IpPermissions=[{{"IpProtocol": "tcp",
                "FromPort": port, "ToPort": port, "IpRanges": [{{"CidrIp": "10.0.0.0/16"}}]}}])
        print("null")""")
    cli.join()
    ports = {r.from_port for r in lab.refresh().topology.vpcs["main"].security_groups["scratch"].ingress}
    assert ports == set(api_ports) | set(cli_ports)
    got = aws(lab, "web-b", "describe-security-groups", "--group-ids", group)["SecurityGroups"][0]["IpPermissions"]
    assert {p["FromPort"] for p in got} == ports


# -- failover scripts inside the lab, measured with `drill run` ---------------------------------
WATCHDOG = """\
#!/bin/bash
# {what}: keepalived-style, on the standby: three missed health checks, then take over.
# Who it is (ENI, instance, region) and its credentials come from IMDS (v2): its environment is empty.
set -eu
PEER=$1 RTB=${{2:-}}
TOKEN=$(curl -sf -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" http://169.254.169.254/latest/api/token)
md() {{ curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" "http://169.254.169.254/latest/meta-data/$1"; }}
MAC=$(md mac)
ENI=$(md network/interfaces/macs/$MAC/interface-id)
INSTANCE=$(md instance-id)
export AWS_DEFAULT_REGION=$(md placement/region)
misses=0
while [ $misses -lt 3 ]; do
  if {check}; then misses=0; else misses=$((misses+1)); fi
done
echo "$(date +%T.%N) $PEER is down: taking over on $ENI"
{takeover}
echo "$(date +%T.%N) done"
"""


PING = 'ping -c1 -W0.1 "$PEER" >/dev/null'


CLEAN = ["env", "-i", f"PATH={BIN}:/usr/sbin:/usr/bin:/sbin:/bin"]      # nothing from `vpcemu exec`'s environment


def failover(lab: Lab, tmp_path: Path, standby: str, peer: str, what: str, takeover: str,
             client: str, target: str, fault: list[str], args: tuple[str, ...] = (), check: str = PING) -> dict:
    script = tmp_path / f"{standby}-failover.sh"
    script.write_text(WATCHDOG.format(what=what, takeover=takeover, check=check))
    watchdog = subprocess.Popen(lab.exec_argv(standby, [*CLEAN, "bash", str(script), peer, *args]),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        done = subprocess.run([str(BIN / "vpcemu"), "drill", "run", "--client", client, "--target", target,
                               "--lab", lab.name, "--json", "--", *fault], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        report = json.loads(done.stdout)
        out, _ = watchdog.communicate(timeout=30)
    finally:
        if watchdog.poll() is None:
            watchdog.kill()
            watchdog.wait()
    assert watchdog.returncode == 0, out
    print(f"{what}: outage {report['outage_ms']} ms, {report['probes_lost']}/{report['probes_sent']} probes lost; "
          f"API calls: {[(c['action'], c['code'], c['t_ms']) for c in report['api_calls']]}")
    return report | {"watchdog_output": out}


def test_a_standby_takes_the_vip_with_assign_private_ip_addresses(lab, tmp_path):
    standby_eni = lab.topology.network_interface("standby.eth0").id
    report = failover(
        lab, tmp_path, "standby", "10.0.1.10", "VIP failover",
        f"aws ec2 assign-private-ip-addresses --network-interface-id $ENI --private-ip-addresses {VIP} "
        "--allow-reassignment", "client", VIP,
        [str(BIN / "vpcemu"), "exec", "--lab", lab.name, "active", "--", "sysctl", "-qw",
         "net.ipv4.icmp_echo_ignore_all=1"])
    assert report["recovered"] and report["probes_lost"] > 0 and report["outage_ms"] > 0
    assert f"taking over on {standby_eni}\n" in report["watchdog_output"]      # its own ENI, from IMDS
    assert [c["action"] for c in report["api_calls"]] == ["AssignPrivateIpAddresses"]
    assert report["api_calls"][0]["caller_name"] == "nat-a" and report["api_calls"][0]["code"] == "OK"
    assert VIP in map(str, lab.refresh().topology.network_interface("standby.eth0").private_ip_addresses)
    assert lab.exec("standby", ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]).stdout.count(f"{VIP}/24") == 1


def test_a_standby_takes_the_eip_with_associate_address(lab, tmp_path):
    report = failover(
        lab, tmp_path, "web-b", "10.0.0.10", "EIP failover",
        # onto a secondary IP: the primary's public IP, which carries this very API call, stays
        f"aws ec2 associate-address --public-ip {EIP} --network-interface-id $ENI --private-ip-address 10.0.0.12 "
        "--allow-reassociation",
        "ext", EIP,
        [str(BIN / "vpcemu"), "exec", "--lab", lab.name, "web-a", "--", "sysctl", "-qw",
         "net.ipv4.icmp_echo_ignore_all=1"])
    # the probes' ICMP flow is tracked at the IGW: it follows the EIP because the move forgets it there
    assert report["recovered"] and report["probes_lost"] > 0
    assert [c["action"] for c in report["api_calls"]] == ["AssociateAddress"]
    assert lab.refresh().topology.network_interface("web-b.eth0").eips == {IPv4Address("10.0.0.12"): IPv4Address(EIP)}


def test_a_nat_instance_takes_the_route_with_replace_route(lab, tmp_path):
    """Last: the NAT gateway goes, and private-a's instances reach the API no more (nat-i is public)."""
    t = lab.refresh().topology
    ruleset = ('table ip nat {\n  chain post {\n    type nat hook postrouting priority 100; policy accept;\n'
               '    oifname "eth0" ip saddr 10.0.0.0/16 ip daddr != 10.0.0.0/16 masquerade\n  }\n}\n')
    done = lab.exec("nat-i", ["nft", "-f", "-"], input=ruleset)        # the NAT instance's own OS does the NAT
    assert done.returncode == 0, done.stderr
    report = failover(
        lab, tmp_path, "nat-i", "unused", "NAT instance failover",
        "aws ec2 replace-route --route-table-id $RTB --destination-cidr-block 0.0.0.0/0 --instance-id $INSTANCE",
        "far", "ext", [str(BIN / "vpcemu"), "nat", "delete", "nat-a", "--lab", lab.name],
        (t.vpcs["main"].route_tables["private-b"].id,),
        # a NAT gateway answers no ping: the health check is the route's state, as the EC2 API says it
        check='[ "$(aws ec2 describe-route-tables --route-table-ids $RTB --output text --query '
              '"RouteTables[0].Routes[?DestinationCidrBlock==\'0.0.0.0/0\'].State")" = active ]')
    assert report["recovered"] and report["probes_lost"] > 0
    changes = [c for c in report["api_calls"] if c["action"] != "DescribeRouteTables"]     # the health checks
    assert [(c["action"], c["caller_name"], c["code"]) for c in changes] == [("ReplaceRoute", "nat-i", "OK")]
    route = next(r for r in lab.refresh().topology.vpcs["main"].route_tables["private-b"].routes
                 if str(r.destination) == "0.0.0.0/0")
    assert route.target == "nat-i"
