"""Instance metadata without root: `metadata_options` in the topology (AWS's defaults, refusals, the stored model
round trip, the AWS shapes), the router's marks that tell IMDS who asks, the tree it answers from, the supervisor's
IMDS per VPC with instances, and what `vpcemu exec` gives a program (no keys in instances, the CA over every
trust store, the AWS CLI on the PATH)."""
from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from vpcemu.aws import export_describe, import_describe
from vpcemu.errors import UsageError
from vpcemu.load import load_text
from vpcemu.load.write import topology_text
from vpcemu.model import MetadataOptions
from vpcemu.plan import plan_lab
from vpcemu.plan.build import ENI_TABLE
from vpcemu.plan.router_nft import INSTANCE_METADATA, METADATA_RULE, metadata_mark
from vpcemu.rules import instance as instance_rules
from vpcemu.services.credentials import LabCredentials, lab_credentials
from vpcemu.services.environment import exec_environment, trust_argv
from vpcemu.services.metadata import _listing, _tree
from vpcemu.services.supervisor import MetadataSpec, describe, supervisor_spec

TOPOLOGY = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    internet_gateway: igw
    subnets:
      a: {cidr: 10.0.0.0/24, az: us-east-1a}
    instances:
      web: {subnet: a, public_ip: true, metadata_options: {http_tokens: required, http_put_response_hop_limit: 3}}
      db: {subnet: a}
    network_interfaces:
      side: {subnet: a, private_ips: [10.0.0.50, 10.0.0.51], eips: {10.0.0.51: 198.51.100.7},
             attachment: {instance: db, device_index: 1}}
  empty:
    cidr: 10.1.0.0/16
"""


@pytest.fixture(scope="module")
def topo():
    return load_text(TOPOLOGY, name="md")


def test_metadata_options_default_as_aws_and_round_trip_through_the_stored_model(topo):
    assert topo.instances["db"].metadata_options == MetadataOptions("optional", 1, "enabled")
    assert topo.instances["web"].metadata_options == MetadataOptions("required", 3, "enabled")
    text = topology_text(topo)
    assert "metadata_options: {http_tokens: required, http_put_response_hop_limit: 3, http_endpoint: enabled}" in text
    assert text.count("metadata_options") == 1          # defaults are not written
    assert load_text(text, name="md") == topo
    back = load_text(import_describe(export_describe(topo))[0], name="md")
    assert back.instances["web"].metadata_options == topo.instances["web"].metadata_options


def test_metadata_options_refusals_carry_aws_code():
    for args in (("v1",), (None, 0), (None, 65), (None, True), (None, None, "off")):
        with pytest.raises(UsageError) as refused:
            instance_rules.metadata_options(*args)
        assert refused.value.code == "InvalidParameterValue"
    current = MetadataOptions("required", 2, "enabled")
    assert instance_rules.metadata_options(http_endpoint="disabled", current=current) == \
        MetadataOptions("required", 2, "disabled")


def test_the_router_marks_imds_connections_with_their_enis_mark(topo):
    plan = plan_lab(topo, "md")
    text = plan.nft["md-vpc-main"]
    for eni in topo.vpcs["main"].network_interfaces.values():
        assert f'"e{eni.id[4:14]}" : {metadata_mark(eni):#x}' in text
        assert metadata_mark(eni) == int(eni.id[4:12], 16)
    prerouting = text.split("chain prerouting {")[1].split("\n  }")[0]
    assert prerouting.strip().endswith(METADATA_RULE)
    assert ("md-vpc-main", "lo", INSTANCE_METADATA, 32) in {(a.namespace, a.ifname, a.address, a.prefixlen)
                                                             for a in plan.addresses}
    assert str(plan.sysctls["md-vpc-main"]["net/ipv4/tcp_fwmark_accept"]) == "1"
    # the answers, carrying that mark, are routed by source before any subnet's route table could take them
    rules = [r for r in plan.rules if r.namespace == "md-vpc-main"]
    imds = next(r for r in rules if r.source == f"{INSTANCE_METADATA}/32")
    assert imds.table == ENI_TABLE
    assert imds.priority < min(r.priority for r in rules if r.fwmark is not None and r.table != ENI_TABLE)
    # TTL 255: marked in prerouting, set again after the kernel's decrement
    assert "255 : jump ttl_255" in text and "chain ttl_255 { meta mark set meta mark or 0x10000; }" in text
    egress = text.split("chain source_dest_check_egress {")[1].split("\n  }")[0]
    assert egress.strip().endswith("meta mark and 0x10000 == 0x10000 ip ttl set 255")


def test_the_tree_answers_each_interface_by_its_mac(topo):
    creds = LabCredentials("ASIAEXAMPLE", "secret", "token", "role-x", b"k" * 32)
    started = datetime(2026, 12, 5, tzinfo=timezone.utc)
    tree = _tree(topo, topo.instances["db"], started, creds)
    meta = tree["meta-data"]
    eth0, side = topo.network_interface("db.eth0"), topo.network_interface("side")
    assert meta["local-ipv4"] == str(eth0.private_ip_address) and "public-ipv4" not in meta
    assert _listing(meta["network"]["interfaces"]["macs"]) == "\n".join(sorted([eth0.mac_address + "/",
                                                                                side.mac_address + "/"]))
    mac = meta["network"]["interfaces"]["macs"][side.mac_address]
    assert (mac["device-number"], mac["interface-id"], mac["local-ipv4s"]) == ("1", side.id, "10.0.0.50\n10.0.0.51")
    assert mac["public-ipv4s"] == "198.51.100.7" and mac["ipv4-associations"] == {"198.51.100.7": "10.0.0.51"}
    assert "public-ipv4s" not in meta["network"]["interfaces"]["macs"][eth0.mac_address]
    assert json.loads(meta["iam"]["security-credentials"]["role-x"])["AccessKeyId"] == "ASIAEXAMPLE"
    assert json.loads(tree["dynamic"]["instance-identity"]["document"])["pendingTime"] == "2026-12-05T00:00:00Z"
    assert "public-ipv4" in _tree(topo, topo.instances["web"], started, creds)["meta-data"]


def test_lab_credentials_are_made_once_and_kept(tmp_path):
    first = lab_credentials(tmp_path)
    assert first == lab_credentials(tmp_path) and first.access_key_id.startswith("ASIA")
    assert os.stat(tmp_path / "credentials.json").st_mode & 0o777 == 0o600


def test_the_supervisor_serves_imds_in_each_vpc_with_instances(topo):
    spec = supervisor_spec(topo, "md")
    assert spec.metadata == (MetadataSpec("main", "md-vpc-main"),)
    assert {"service": "dns main", "kind": "dns", "namespace": "md-vpc-main",
            "addresses": ["10.0.0.2", "169.254.169.253", "169.254.169.254 tcp/80"]} in describe(spec)
    quiet = replace(topo, vpcs={"empty": replace(topo.vpcs["empty"], enable_dns_support=False)})
    assert not supervisor_spec(quiet, "md").needed


def test_exec_gives_instances_no_keys_and_the_aws_cli_on_the_path(tmp_path):
    inside, outside = exec_environment("us-east-1", None, instance=True), exec_environment("us-east-1", None)
    assert "AWS_ACCESS_KEY_ID" not in inside and "AWS_EC2_METADATA_DISABLED" not in inside
    assert outside["AWS_ACCESS_KEY_ID"] and outside["AWS_EC2_METADATA_DISABLED"] == "true"
    assert inside["PATH"].split(os.pathsep)[0] == str(Path(sys.prefix) / "bin")
    bundle = tmp_path / "ca-bundle.pem"
    argv = trust_argv(bundle)
    import certifi
    assert argv[:3] == [sys.executable, "-I", "-S"] and argv[3].endswith("services/trust_mount.py")
    assert argv[4] == str(bundle) and argv[-1] == "--" and os.path.realpath(certifi.where()) in argv
