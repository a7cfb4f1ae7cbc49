"""An AWS account's dump, imported, is a lab that behaves: ONE lab built from the hand-made describe-* dump
(tests/data/aws: two AZs, a NAT gateway per AZ, gateway and interface endpoints, EIPs and a public IPv4 with
their real addresses), with an internet host at a real public address the security groups name. `verify` and
the matrix agree with AWS's rules; the lab's internet stays closed (nothing reaches past it, nor the host);
and the running lab, exported after a live change, imports back to its model."""
from __future__ import annotations

import json
import os
import subprocess
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vpcemu.aws import convert, export_describe, import_describe, read_dump
from vpcemu.cli import app
from vpcemu.lab import Lab
from vpcemu.load import load_text
from vpcemu.model import SecurityGroupRule
from vpcemu.ops import security
from vpcemu.verify import matrix, verify

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.geteuid() != 0, reason="kernel tests need root")]

DUMP = Path(__file__).resolve().parents[1] / "data" / "aws"
LAB = f"aw{os.getpid() % 100000}"
runner = CliRunner()
# what a person adds to the imported file to test against it: a host at an office address (in web-sg's
# customer-managed prefix list), and what AWS would do
TESTS = """
internet:
  hosts:
    office: {ip: 52.94.76.10, listen: [tcp/443]}
expect:
  - {from: office, to: 3.210.10.30, protocol: tcp, port: 22, reachable: true, via: [prod-igw]}
  - {from: web-1, to: office, protocol: tcp, port: 443, reachable: true, via: [prod-igw]}
  - {from: web-2, to: office, protocol: tcp, port: 443, reachable: true, via: [prod-igw]}
  - {from: app-1, to: office, protocol: tcp, port: 443, reachable: true, via: [nat-a, prod-igw]}
  - {from: app-2, to: office, protocol: tcp, port: 443, reachable: true, via: [nat-b, prod-igw], not_via: [nat-a]}
  - {from: app-1, to: s3, protocol: tcp, port: 443, reachable: true, via: [s3], not_via: [nat-a]}
  - {from: web-1, to: app-1, protocol: tcp, port: 8080, reachable: true}
  - {from: app-1, to: web-1, protocol: tcp, port: 8080, reachable: false, reason: ENI_SG_RULES_MISMATCH}
  - {from: app-2, to: 10.99.0.5, protocol: icmp, reachable: false}
"""


@pytest.fixture(scope="module")
def lab():
    describe, origin, region = read_dump(DUMP)
    text, _, _ = convert(describe, region, None, origin, str(DUMP))
    topology = load_text(text + TESTS, default_name=LAB)
    with Lab.up(topology, name=LAB) as lab:
        yield lab


def test_the_imported_lab_does_what_aws_would(lab):
    verdicts = verify(lab)
    assert len(verdicts) == 9
    failing = [v.to_dict() for v in verdicts if not v.holds or v.disagreements]
    assert failing == []


def test_every_cell_of_the_matrix_agrees_with_the_model(lab):
    m = matrix(lab, ports=("icmp", "tcp/443", "tcp/8080"))
    assert m.disagreements == [], [c.__dict__ for c in m.disagreements][:5]
    cells = {(c.source, c.destination, c.protocol, c.port): c.observed for c in m.cells}
    assert cells[("app-2", "office", "tcp", 443)] is True
    assert cells[("web-1", "app-2", "tcp", 8080)] is True


def _host_addresses() -> list[str]:
    links = json.loads(subprocess.run(["ip", "-j", "-4", "addr"], capture_output=True, text=True, check=True).stdout)
    return [a["local"] for link in links for a in link.get("addr_info", []) if a.get("scope") == "global"]


def test_the_labs_internet_is_closed(lab):
    """web-1 has a real public EIP and a route to the internet: its packets to a real public address, or to
    the host's own, leave through the IGW translated to that EIP and end in the lab's internet core, which
    routes only the lab's own public addresses."""
    for destination in ("8.8.8.8", *_host_addresses()[:2]):
        assert IPv4Address(destination) not in {h.ip for h in lab.topology.internet_hosts.values()}
        r = lab.probe("web-1", destination, protocol="tcp", port=443)
        assert not r.reachable and r.agrees, (destination, r.to_dict())
        out = [h for h in r.hops if h.leg == "forward" and h.component.startswith("igw")]
        assert out and out[-1].source == "3.210.10.30", (destination, r.to_dict())


def test_the_running_lab_exported_after_a_live_change_imports_back_to_its_model(lab, tmp_path):
    rule = SecurityGroupRule("tcp", 8080, 8080, cidr=None, group="app-sg")
    security.authorize_security_group_ingress(lab, "web-sg", rule)
    assert lab.probe("app-1", "web-1", protocol="tcp", port=8080).reachable
    now = lab.refresh().topology
    back = load_text(import_describe(export_describe(now))[0], default_name=LAB)
    assert set(back.vpcs["prod"].security_groups["web-sg"].ingress) == set(now.vpcs["prod"].security_groups["web-sg"].ingress)
    r = runner.invoke(app, ["export", LAB, "--format", "aws", "-o", str(tmp_path / "dump")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["import", "aws", str(tmp_path / "dump"), "-o", str(tmp_path / "back.yaml")])
    assert r.exit_code == 0, r.output
    assert "sg:app-sg" in (tmp_path / "back.yaml").read_text()
    r = runner.invoke(app, ["export", LAB, "--format", "yaml", "-o", str(tmp_path / "lab.yaml")])
    assert r.exit_code == 0, r.output
    assert load_text((tmp_path / "lab.yaml").read_text()) == now
