"""The security verbs and probe explanations through the real `vpcemu` CLI, on a running lab.

Each change is made with the CLI, then judged by a real probe packet through the CLI: the verdict,
and for a drop the explanation the kernel's nft trace gave (code, component, direction, rule).
"""
from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from vpcemu.cli import app
from vpcemu.lab import Lab
from vpcemu.load import load_text

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.geteuid() != 0, reason="kernel tests need root")]

LAB = "k-clisec"
TOPOLOGY = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
      b: {cidr: 10.0.2.0/24, az: us-east-1a}
    security_groups:
      quiet: {ingress: []}
      open: {ingress: [{protocol: all, source: 0.0.0.0/0}]}
    network_acls:
      locked: {}
    instances:
      x: {subnet: a, private_ip: 10.0.1.10, security_groups: [quiet]}
      y: {subnet: b, private_ip: 10.0.2.10, security_groups: [open]}
"""
runner = CliRunner()


@pytest.fixture(scope="module")
def lab():
    with Lab.up(load_text(TOPOLOGY, name=LAB)) as lab:
        yield lab


def cli(*args: str) -> tuple[int, dict]:
    r = runner.invoke(app, [*args, "--lab", LAB, "--json"])
    return r.exit_code, json.loads(r.stdout)


def probe(source: str, destination: str, *extra: str) -> tuple[bool, list[dict]]:
    code, body = cli("probe", source, destination, *extra)
    assert code == (0 if body["reachable"] else 1)
    return body["reachable"], body["explanations"]


def test_sg_verbs_change_what_probes_see_and_drops_name_the_group(lab):
    reachable, why = probe("y", "x")
    assert not reachable
    assert [(e["code"], e["direction"], e["eni"], e["sg"]) for e in why] == \
        [("ENI_SG_RULES_MISMATCH", "ingress", "x.eth0", "quiet")]

    code, body = cli("sg", "authorize", "quiet", "-p", "icmp", "--peer", "10.0.2.0/24")
    assert code == 0 and body["ingress"] == ["icmp 10.0.2.0/24"] and body["applied_ms"] > 0
    assert probe("y", "x") == (True, [])

    code, body = cli("sg", "authorize", "quiet", "-p", "icmp", "--peer", "10.0.2.0/24")
    assert code == 2 and "InvalidPermission.Duplicate" in body["message"]

    code, body = cli("sg", "revoke", "quiet", "-p", "icmp", "--peer", "10.0.2.0/24")
    assert code == 0 and body["ingress"] == []
    assert not probe("y", "x")[0]


def test_sg_refusals_exit_2_and_change_nothing(lab):
    before = cli("sg", "show", "quiet")[1]
    assert "applied_ms" not in before           # a display applies nothing (it used to say "applied in 0.0 ms")
    for args, code in [(("sg", "authorize", "nosuch", "-p", "tcp", "--port", "22", "--peer", "10.0.0.0/8"),
                        "InvalidGroup.NotFound"),
                       (("sg", "authorize", "quiet", "-p", "tcp", "--port", "22-x", "--peer", "10.0.0.0/8"),
                        "InvalidParameterValue"),
                       (("sg", "authorize", "quiet", "-p", "tcp", "--port", "22", "--peer", "sg:nosuch"),
                        "InvalidGroup.NotFound"),
                       (("sg", "revoke", "quiet", "-p", "tcp", "--port", "22", "--peer", "10.0.0.0/8"),
                        "InvalidPermission.NotFound")]:
        status, body = cli(*args)
        assert status == 2 and code in body["message"], (args, body)
    assert cli("sg", "show", "quiet")[1] == before


def test_nacl_verbs_and_drops_name_the_acl_rule_and_direction(lab):
    assert probe("x", "y")[0]
    code, body = cli("nacl", "associate", "b", "locked")
    assert code == 0 and body["subnets"] == ["b"] and body["ingress"] == ["* deny all"]
    reachable, why = probe("x", "y")
    assert not reachable
    assert [(e["code"], e["acl"], e["direction"], e["rule"]) for e in why] == \
        [("SUBNET_ACL_RESTRICTION", "locked", "ingress", "*")]

    code, body = cli("nacl", "add-entry", "locked", "-n", "100", "-p", "all", "--action", "allow", "--cidr", "0.0.0.0/0")
    assert code == 0
    code, body = cli("nacl", "add-entry", "locked", "-n", "90", "-p", "icmp", "--action", "deny",
                     "--cidr", "10.0.1.0/24", "--egress")
    assert code == 0 and body["egress"][0] == "90 deny icmp 10.0.1.0/24"
    reachable, why = probe("x", "y")          # the echo gets in; its reply is denied by egress rule 90
    assert not reachable
    assert [(e["code"], e["direction"], e["rule"]) for e in why] == [("SUBNET_ACL_RESTRICTION", "egress", "90")]

    code, _ = cli("nacl", "delete-entry", "locked", "-n", "90", "--egress")
    assert code == 0
    code, body = cli("nacl", "add-entry", "locked", "-n", "100", "-p", "all", "--action", "allow",
                     "--cidr", "0.0.0.0/0", "--egress")
    assert code == 0
    assert probe("x", "y") == (True, [])
    code, body = cli("nacl", "add-entry", "locked", "-n", "100", "-p", "all", "--action", "deny", "--cidr", "0.0.0.0/0")
    assert code == 2 and "NetworkAclEntryAlreadyExists" in body["message"]
    assert cli("nacl", "associate", "b", "nosuch")[0] == 2
    assert cli("nacl", "associate", "b", "default")[0] == 0


def test_eni_modify_groups_and_source_dest_check(lab):
    code, body = cli("eni", "modify", "x", "--group", "open")
    assert code == 0 and body["security_groups"] == ["open"]
    assert probe("y", "x")[0]
    code, body = cli("eni", "modify", "x.eth0", "--group", "quiet", "--no-source-dest-check")
    assert code == 0 and body == {**body, "security_groups": ["quiet"], "source_dest_check": False}
    assert not probe("y", "x")[0]
    assert lab.attach(LAB).topology.network_interface("x.eth0").source_dest_check is False
    for args, code in [(("eni", "modify", "x", "--group", "nosuch"), "InvalidGroup.NotFound"),
                       (("eni", "modify", "x"), "MissingParameter"),
                       (("eni", "modify", "nosuch", "--group", "open"), "InvalidNetworkInterfaceID.NotFound")]:
        status, body = cli(*args)
        assert status == 2 and code in body["message"], (args, body)
    assert cli("eni", "modify", "x", "--source-dest-check")[0] == 0
