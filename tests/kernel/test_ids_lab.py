"""AWS ids on a running lab, through the real `vpcemu` CLI: each change and each probe names every resource by its
id (`i-…`, `eni-…`, `subnet-…`, `rtb-…`, `sg-…`, `acl-…`, `nat-…`), real packets judge the result, and what the
CLI says uses names. The lab's stored model is the format-1 document `vpcemu export --format yaml` prints."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vpcemu.cli import app
from vpcemu.kernel.journal import MODEL_CACHE_FILE, MODEL_FILE
from vpcemu.lab import Lab
from vpcemu.load import load_text

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.geteuid() != 0, reason="kernel tests need root")]

LAB = "k-ids"
VPCEMU = str(Path(sys.executable).with_name("vpcemu"))       # the CLI of the venv running the tests
TOPOLOGY = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    internet_gateway: igw
    subnets:
      public: {cidr: 10.0.0.0/24, az: us-east-1a, route_table: public}
      private: {cidr: 10.0.1.0/24, az: us-east-1a, route_table: private}
    route_tables:
      main: {main: true}
      public: {routes: [{destination: 0.0.0.0/0, target: igw}]}
      private: {}
    nat_gateways:
      nat: {subnet: public, eip: 198.51.100.20}
    security_groups:
      open: {ingress: [{protocol: all, source: 0.0.0.0/0}]}
      quiet: {ingress: []}
    network_acls:
      locked: {}
    network_interfaces:
      spare: {subnet: private, private_ips: [10.0.1.50], security_groups: [open]}
    instances:
      a: {subnet: public, private_ip: 10.0.0.10, security_groups: [open]}
      b: {subnet: private, private_ip: 10.0.1.10, security_groups: [quiet]}
      c: {subnet: private, private_ip: 10.0.1.20, security_groups: [open]}
internet:
  hosts:
    ext: {ip: 198.18.0.50, listen: [tcp/80]}
"""
runner = CliRunner()


@pytest.fixture(scope="module")
def lab():
    with Lab.up(load_text(TOPOLOGY, name=LAB)) as lab:
        yield lab


def cli(*args: str) -> tuple[int, dict]:
    r = runner.invoke(app, [*args, "--lab", LAB, "--json"])
    return r.exit_code, json.loads(r.stdout)


def probe(source: str, destination: str, *extra: str) -> dict:
    code, body = cli("probe", source, destination, *extra)
    assert code == (0 if body["reachable"] else 1), body
    return body


def test_cli_verbs_and_probes_take_aws_ids_and_answer_with_names(lab):
    t = lab.topology
    v = t.vpcs["main"]
    a, b, c = (t.instances[n].id for n in "abc")
    spare, private, nat = v.network_interfaces["spare"].id, v.route_tables["private"].id, v.nat_gateways["nat"].id

    body = probe(a, b)
    assert (body["source"], body["destination"]) == ("a", "b") and not body["reachable"]
    assert [(e["code"], e["sg"]) for e in body["explanations"]] == [("ENI_SG_RULES_MISMATCH", "quiet")]
    code, body = cli("sg", "authorize", v.security_groups["quiet"].id, "-p", "icmp",
                     "--peer", f"sg:{v.security_groups['open'].id}")
    assert code == 0 and body["security_group"] == "quiet" and body["ingress"] == ["icmp sg:open"]
    assert probe(a, b)["reachable"]

    # the private subnet behind the locked NACL, then back on the default one, each named by its id
    code, body = cli("nacl", "associate", v.subnets["private"].id, v.network_acls["locked"].id)
    assert code == 0 and body["network_acl"] == "locked" and body["subnets"] == ["private"]
    body = probe(a, b)
    assert not body["reachable"] and [e["code"] for e in body["explanations"]] == ["SUBNET_ACL_RESTRICTION"]
    assert cli("nacl", "associate", v.subnets["private"].id, v.network_acls["default"].id)[0] == 0
    assert probe(a, b)["reachable"]

    # `vpcemu route create private-a 0.0.0.0/0 nat-0abc…`, as AWS's CreateRoute takes it
    assert not probe(b, "ext", "-p", "tcp", "--port", "80")["reachable"]
    code, body = cli("route", "create", private, "0.0.0.0/0", nat)
    assert code == 0 and (body["route_table"], body["target"]) == ("private", "nat")
    body = probe(b, "ext", "-p", "tcp", "--port", "80")
    assert body["reachable"] and any(h["component"] == "nat-gateway nat" for h in body["hops"])
    code, body = cli("route", "create", private, "10.9.0.0/16", "nat-0123456789abcdef0")
    assert code == 2 and "InvalidNatGatewayID.NotFound" in body["message"]

    # an ENI attached by its id to an instance given by its id, then probed by its id
    code, body = cli("eni", "attach", spare, "--instance", c, "--device-index", "1")
    assert code == 0 and (body["network_interface"], body["instance"]) == ("spare", "c")
    body = probe(a, spare)
    assert body["reachable"] and body["destination"] == "spare" and body["destination_address"] == "10.0.1.50"
    # `vpcemu exec` becomes the program (execvp): run it as a process of its own
    r = subprocess.run([VPCEMU, "exec", "--lab", LAB, c, "--", "ip", "-4", "-o", "addr", "show", "eth1"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "10.0.1.50/24" in r.stdout, r.stderr


def test_the_stored_model_is_the_exported_document(lab):
    stored = (lab.journal.dir / MODEL_FILE).read_text()
    r = runner.invoke(app, ["export", LAB, "--format", "yaml"])
    assert r.exit_code == 0 and r.stdout == stored
    assert load_text(stored, committed=True) == lab.refresh().topology
    assert (lab.journal.dir / MODEL_CACHE_FILE).exists()
    # without its cache the lab reads the document, and the cache is made again
    (lab.journal.dir / MODEL_CACHE_FILE).unlink()
    assert Lab.attach(LAB).topology == lab.topology
    assert (lab.journal.dir / MODEL_CACHE_FILE).exists()
