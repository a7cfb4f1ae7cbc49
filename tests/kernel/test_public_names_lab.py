"""AWS's names and answers on one lab, with real clients: DNS queries from an internet host to the
internet's resolver, curl and boto3 over TLS to an endpoint's `vpce-…` name (the lab CA given
explicitly), probes from the internet to instances by name and to an EIP with both legs captured,
gateway-endpoint routes refused, ModifyVpcEndpoint and ModifyVpcAttribute followed by the data path
and the resolvers, and `eni create` on a reserved address."""
from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from kernel_clients import resolve, run
from vpcemu.cli import app
from vpcemu.drill import run_drill
from vpcemu.errors import UsageError
from vpcemu.lab import Lab
from vpcemu.load import load_text
from vpcemu.ops import vpc_endpoint
from vpcemu.ops.vpc import modify_vpc_attribute
from vpcemu.services.supervisor import CA_DIR

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.geteuid() != 0, reason="kernel tests need root")]

TOPOLOGY = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    enable_dns_hostnames: true
    internet_gateway: igw
    subnets:
      pub:   {cidr: 10.0.0.0/24, az: us-east-1a, route_table: public}
      shut:  {cidr: 10.0.4.0/24, az: us-east-1a, route_table: public, network_acl: noreturn}
      iso-a: {cidr: 10.0.1.0/24, az: us-east-1a, route_table: isolated}
      iso-b: {cidr: 10.0.2.0/24, az: us-east-1b, route_table: isolated}
    route_tables:
      public: {routes: [{destination: 0.0.0.0/0, target: igw}]}
      isolated: {}
    network_acls:
      noreturn:
        ingress: [{rule: 100, protocol: all, source: 0.0.0.0/0, action: allow}]
        egress: [{rule: 100, protocol: tcp, ports: 1024-65535, destination: 0.0.0.0/0, action: deny},
                 {rule: 200, protocol: all, destination: 0.0.0.0/0, action: allow}]
    security_groups:
      web: {ingress: [{protocol: tcp, ports: 80, source: 0.0.0.0/0}, {protocol: icmp, source: 0.0.0.0/0}]}
      vpce: {ingress: [{protocol: tcp, ports: 443, source: 10.0.0.0/16}]}
      closed: {}
    endpoints:
      s3:  {type: gateway, service: s3, route_tables: [isolated]}
      sqs: {type: interface, service: sqs, subnets: [iso-a], security_groups: [vpce], private_dns: false}
    instances:
      web:  {subnet: pub, private_ip: 10.0.0.10, eip: 198.51.100.10, security_groups: [web]}
      shut: {subnet: shut, private_ip: 10.0.4.10, eip: 198.51.100.11, security_groups: [web]}
      iso:  {subnet: iso-a, private_ip: 10.0.1.10}
internet:
  hosts:
    ext: {ip: 198.18.0.50}
aws:
  services: [s3, sqs]
expect:
  - {from: ext, to: web, protocol: tcp, port: 80, reachable: true, via: [igw]}
  - {from: ext, to: shut, protocol: tcp, port: 80, reachable: false, reason: SUBNET_ACL_RESTRICTION}
"""

# a real DNS query (dnslib on the wire) to the nameserver of the namespace's resolv.conf: rcode and A records
DIG = r"""
import json, sys
from dnslib import DNSRecord, QTYPE, RCODE
server = next(l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver"))
q = DNSRecord.question(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "A")
r = DNSRecord.parse(q.send(server, 53, timeout=3))
print(json.dumps({"server": server, "rcode": RCODE[r.header.rcode],
                  "answers": sorted(str(a.rdata).rstrip(".") for a in r.rr)}))
"""

SQS_AT = r"""
import json, sys, boto3
sqs = boto3.client("sqs", endpoint_url=sys.argv[1], verify=sys.argv[2])
q = sqs.create_queue(QueueName="by-vpce")["QueueUrl"]
sqs.send_message(QueueUrl=q, MessageBody="via endpoint")
m = sqs.receive_message(QueueUrl=q, WaitTimeSeconds=1)
print(json.dumps({"body": m["Messages"][0]["Body"],
                  "client": m["ResponseMetadata"]["HTTPHeaders"].get("x-vpcemu-client-address")}))
"""


@pytest.fixture(scope="module")
def lab():
    with Lab.up(load_text(TOPOLOGY, name="pn"), name=f"pn{os.getpid() % 100000}") as lab:
        yield lab


def dig(lab, host: str, name: str, qtype: str = "A") -> tuple[str, list[str]]:
    out = run(lab, host, DIG, name, qtype)
    return out["rcode"], out["answers"]


def endpoint_ips(lab, name: str = "sqs") -> list[str]:
    t = lab.topology
    return sorted(str(t.network_interface(n).private_ip_address) for n in t.vpcs["main"].endpoints[name].network_interfaces)


def cli(lab, *args: str):
    """A CLI verb on this lab (its name where the verb takes it: positional for status and matrix)."""
    positional = args[0] in ("status", "matrix", "verify")
    return CliRunner().invoke(app, [args[0], lab.name, *args[1:]] if positional else [*args, "--lab", lab.name])


# -- item 3: the internet's resolver -----------------------------------------------------------------
def test_an_internet_host_resolves_what_public_dns_answers(lab):
    ep = lab.topology.vpcs["main"].endpoints["sqs"]
    sqs = sorted(str(a) for a in lab.topology.service_addresses["sqs"])
    assert dig(lab, "ext", "sqs.us-east-1.amazonaws.com") == ("NOERROR", sqs)
    assert dig(lab, "ext", f"{ep.dns_id}.sqs.us-east-1.vpce.amazonaws.com") == ("NOERROR", endpoint_ips(lab))
    assert dig(lab, "ext", f"{ep.dns_id}-us-east-1a.sqs.us-east-1.vpce.amazonaws.com") == ("NOERROR", endpoint_ips(lab))
    assert dig(lab, "ext", "ec2-198-51-100-10.compute-1.amazonaws.com") == ("NOERROR", ["198.51.100.10"])
    assert dig(lab, "ext", "10.100.51.198.in-addr.arpa", "PTR") == ("NOERROR", ["ec2-198-51-100-10.compute-1.amazonaws.com"])
    for name in ("ip-10-0-0-10.ec2.internal", "www.example.com", "ec2-198-51-100-99.compute-1.amazonaws.com"):
        assert dig(lab, "ext", name)[0] == "NXDOMAIN", name
    # the host's own resolver library (glibc, through its resolv.conf) gets the same answer
    assert resolve(lab, "ext", "ec2-198-51-100-10.compute-1.amazonaws.com") == ["198.51.100.10"]
    # inside the VPC the public name is the private IP (aws-vpc-reference §10)
    assert resolve(lab, "iso", "ec2-198-51-100-10.compute-1.amazonaws.com") == ["10.0.0.10"]


# -- item 4: TLS for the endpoint's own names -----------------------------------------------------------
def test_curl_and_boto3_over_tls_to_the_vpce_name_with_verification(lab):
    ep = lab.topology.vpcs["main"].endpoints["sqs"]
    ca = str(lab.journal.dir / CA_DIR / "ca.pem")              # the lab CA alone, given explicitly
    for name in (f"{ep.dns_id}.sqs.us-east-1.vpce.amazonaws.com",
                 f"{ep.dns_id}-us-east-1a.sqs.us-east-1.vpce.amazonaws.com"):
        r = lab.exec("iso", ["curl", "-sS", "--cacert", ca, "-o", "/dev/null", "-w", "%{http_code} %{remote_ip}",
                             f"https://{name}/vpcemu/whoami"])
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == ["200", endpoint_ips(lab)[0]]
    out = run(lab, "iso", SQS_AT, f"https://{ep.dns_id}.sqs.us-east-1.vpce.amazonaws.com", ca)
    assert out == {"body": "via endpoint", "client": endpoint_ips(lab)[0]}
    # a name the certificate does not cover fails verification (curl: 60)
    r = lab.exec("iso", ["curl", "-sS", "--cacert", ca, "--resolve", f"other.example.com:443:{endpoint_ips(lab)[0]}",
                         "https://other.example.com/"])
    assert r.returncode == 60, r.stderr


# -- item 5: names in status, gateway-endpoint routes ------------------------------------------------------
def test_status_lists_endpoint_names_and_prefix_lists_and_their_routes_are_refused(lab):
    st = json.loads(cli(lab, "status", "--json").stdout)
    st = st[0] if isinstance(st, list) else st
    eps = {e["name"]: e for e in st["vpcs"][0]["endpoints"]}
    ep = lab.topology.vpcs["main"].endpoints["sqs"]
    assert eps["sqs"]["dns_names"] == [f"{ep.dns_id}.sqs.us-east-1.vpce.amazonaws.com",
                                       f"{ep.dns_id}-us-east-1a.sqs.us-east-1.vpce.amazonaws.com"]
    pl = lab.topology.prefix_lists["s3"]
    assert eps["s3"]["prefix_list_id"] == pl.id
    assert {p["id"]: p["cidrs"] for p in st["prefix_lists"]}[pl.id] == [str(c) for c in pl.cidrs]
    text = cli(lab, "status").stdout
    assert f"{ep.dns_id}.sqs.us-east-1.vpce.amazonaws.com" in text and f"prefix list {pl.id}" in text
    for destination in (pl.id, str(pl.cidrs[0])):
        r = cli(lab, "route", "delete", "isolated", destination)
        assert r.exit_code == 2 and "belongs to gateway endpoint s3" in r.output and "InvalidParameterValue" in r.output
    assert lab.probe("iso", "s3", protocol="tcp", port=443).reachable        # nothing changed


# -- items 6 and 9: probes from the internet ----------------------------------------------------------------
def test_a_probe_from_the_internet_by_name_goes_to_the_public_ip_and_is_seen_at_the_destination(lab):
    r = lab.probe("ext", "web", protocol="tcp", port=80)
    assert r.destination_address == "198.51.100.10" and r.reachable and r.answer == "rst"   # nothing listens
    assert r.header_at_destination["dst"] == "10.0.0.10"      # the IGW translated it, as AWS delivers it
    assert any(h.leg == "return" and h.source == "198.51.100.10" for h in r.hops)
    by_eip = lab.probe("ext", "198.51.100.10", protocol="icmp")
    assert by_eip.reachable and by_eip.header_at_destination["dst"] == "10.0.0.10"


def test_a_reply_dropped_on_its_way_back_shows_its_return_hops(lab):
    r = lab.probe("ext", "shut", protocol="tcp", port=80)
    assert not r.reachable and r.header_at_destination["dst"] == "10.0.4.10"
    back = [h for h in r.hops if h.leg == "return"]
    # out of the instance, into the router, and no further: the NACL dropped it there (the two captures'
    # clocks may order a veth's two ends either way, so as a set)
    assert {(h.component, h.direction) for h in back} == {("shut eth0", "out"), ("eni shut.eth0", "in")}
    assert [(e["code"], e["direction"], e["acl"]) for e in r.explanations] == [
        ("SUBNET_ACL_RESTRICTION", "egress", "noreturn")]


def test_verify_from_the_internet_by_name_holds(lab):
    r = cli(lab, "verify", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    verdicts = out["verdicts"] if isinstance(out, dict) else out
    assert len(verdicts) == 2 and all(v["holds"] for v in verdicts), verdicts


def test_a_drill_from_the_internet_streams_to_the_public_ip(lab):
    report = run_drill(lab, "steady", "ext", "web", action=lambda: None)
    assert report.target == "198.51.100.10" and report.recovered and report.probes_lost == 0
    with pytest.raises(UsageError, match="iso has no public IP"):
        run_drill(lab, "steady", "ext", "iso", action=lambda: None)


def test_an_instance_without_a_public_ip_is_refused_by_name_from_the_internet(lab):
    for args in (["probe", "ext", "iso", "--protocol", "icmp"], ["matrix", "--from", "ext", "--to", "iso", "-p", "icmp"]):
        r = cli(lab, *args)
        assert r.exit_code == 2 and "iso has no public IP" in r.output, (args, r.output)


# -- item 10: live attributes ------------------------------------------------------------------------------
def test_modify_endpoint_subnets_groups_and_private_dns_live(lab):
    vpc_endpoint.modify_vpc_endpoint(lab, "sqs", add_subnets=["iso-b"], private_dns_enabled=True)
    ips = endpoint_ips(lab)
    assert len(ips) == 2
    ep = lab.topology.vpcs["main"].endpoints["sqs"]
    assert resolve(lab, "iso", "sqs.us-east-1.amazonaws.com") == ips                     # private DNS on
    assert dig(lab, "ext", "sqs.us-east-1.amazonaws.com")[1] == sorted(str(a) for a in lab.topology.service_addresses["sqs"])
    assert dig(lab, "ext", f"{ep.dns_id}-us-east-1b.sqs.us-east-1.vpce.amazonaws.com")[1] == [
        str(lab.topology.network_interface("sqs.iso-b").private_ip_address)]
    new = str(lab.topology.network_interface("sqs.iso-b").private_ip_address)
    assert lab.probe("iso", new, protocol="tcp", port=443).reachable
    r = cli(lab, "endpoint", "modify", "sqs", "--add-subnet", "pub")                    # another subnet in us-east-1a
    assert r.exit_code == 2 and "DuplicateSubnetsInSameZone" in r.output
    r = cli(lab, "vpc", "modify-attribute", "main", "--no-enable-dns-hostnames")
    assert r.exit_code == 2 and "private DNS of endpoint(s) sqs" in r.output
    # the groups: the new ENI is closed once vpce is swapped for a group without 443
    vpc_endpoint.modify_vpc_endpoint(lab, "sqs", add_security_groups=["closed"], remove_security_groups=["vpce"])
    blocked = lab.probe("iso", new, protocol="tcp", port=443)
    assert not blocked.reachable and {e["code"] for e in blocked.explanations} == {"ENI_SG_RULES_MISMATCH"}
    r = cli(lab, "endpoint", "modify", "sqs", "--remove-subnet", "iso-b", "--add-group", "vpce",
            "--remove-group", "closed", "--no-private-dns", "--json")
    assert r.exit_code == 0, r.output
    assert dig(lab, "ext", f"{ep.dns_id}-us-east-1b.sqs.us-east-1.vpce.amazonaws.com")[0] == "NXDOMAIN"
    assert resolve(lab, "iso", "sqs.us-east-1.amazonaws.com") == sorted(str(a) for a in lab.topology.service_addresses["sqs"])
    assert lab.probe("iso", endpoint_ips(lab)[0], protocol="tcp", port=443).reachable
    assert lab.status()["status"] == "up"


def test_modify_vpc_attribute_live(lab):
    private = "ip-10-0-0-10.ec2.internal"
    assert resolve(lab, "iso", private) == ["10.0.0.10"]
    modify_vpc_attribute(lab, "main", enable_dns_hostnames=False)
    try:
        assert resolve(lab, "iso", private) == []
        assert dig(lab, "ext", "ec2-198-51-100-10.compute-1.amazonaws.com")[0] == "NXDOMAIN"
        r = cli(lab, "endpoint", "modify", "sqs", "--private-dns")
        assert r.exit_code == 2 and "needs both enable_dns_support and enable_dns_hostnames" in r.output
        r = cli(lab, "vpc", "modify-attribute", "main", "--enable-dns-support", "--enable-dns-hostnames")
        assert r.exit_code == 2 and "InvalidParameterCombination" in r.output
    finally:
        r = cli(lab, "vpc", "modify-attribute", "main", "--enable-dns-hostnames")
        assert r.exit_code == 0, r.output
    assert resolve(lab, "iso", private) == ["10.0.0.10"]
    assert dig(lab, "ext", "ec2-198-51-100-10.compute-1.amazonaws.com") == ("NOERROR", ["198.51.100.10"])


# -- item 11: one rule, one message ------------------------------------------------------------------------
def test_eni_create_on_a_reserved_address_says_why(lab):
    r = cli(lab, "eni", "create", "x", "--subnet", "iso-a", "-a", "10.0.1.2")
    assert r.exit_code == 2, r.output
    assert "10.0.1.2 is reserved by AWS in 10.0.1.0/24 (the first four and the last address)" in r.output
    assert "hint: assignable here: 10.0.1.4 to 10.0.1.254" in r.output
    assert "x" not in lab.topology.network_interfaces


QUIET = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    enable_dns_support: false
    enable_dns_hostnames: true
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
    instances:
      a1: {subnet: a, private_ip: 10.0.1.10}
"""


def test_dns_support_turned_on_in_a_lab_built_with_it_off():
    with Lab.up(load_text(QUIET, name="q"), name=f"pq{os.getpid() % 100000}") as lab:
        # the supervisor runs for the instance's metadata service; the resolver stays silent, as AWS's
        assert lab.status()["supervisor"]["state"] == "up"
        assert resolve(lab, "a1", "ip-10-0-1-10.ec2.internal") == []
        r = cli(lab, "vpc", "modify-attribute", "main", "--enable-dns-support")
        assert r.exit_code == 0, r.output
        assert resolve(lab, "a1", "ip-10-0-1-10.ec2.internal") == ["10.0.1.10"]
        assert lab.status()["status"] == "up"
