"""A Terraform state, imported, is a lab that behaves: the whole-VPC state (tests/data/terraform/whole_vpc.tfstate:
public and private subnets in two AZs, a NAT gateway per AZ, an S3 gateway endpoint, an SQS interface endpoint)
through `vpcemu import terraform`, built, with an internet host and what AWS would do added as a person would;
`verify` and the matrix agree with the analysis, with real packets."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vpcemu.cli import app
from vpcemu.lab import Lab
from vpcemu.load import load_text
from vpcemu.verify import matrix, verify

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.geteuid() != 0, reason="kernel tests need root")]

STATE = Path(__file__).resolve().parents[1] / "data" / "terraform" / "whole_vpc.tfstate"
LAB = f"tf{os.getpid() % 100000}"
TESTS = """
internet:
  hosts:
    ext: {ip: 198.18.0.50, listen: [tcp/80, tcp/443]}
expect:
  - {from: ext, to: 203.0.113.20, protocol: tcp, port: 443, reachable: true, via: [shop]}
  - {from: web, to: ext, protocol: tcp, port: 443, reachable: true, via: [shop]}
  - {from: app-a, to: ext, protocol: tcp, port: 443, reachable: true, via: [shop-a, shop]}
  - {from: app-b, to: ext, protocol: tcp, port: 443, reachable: true, via: [shop-b, shop], not_via: [shop-a]}
  - {from: app-a, to: s3, protocol: tcp, port: 443, reachable: true, via: [shop-s3], not_via: [shop-a]}
  - {from: web, to: app-b, protocol: tcp, port: 8080, reachable: true}
  - {from: app-a, to: web, protocol: tcp, port: 8080, reachable: false, reason: ENI_SG_RULES_MISMATCH}
  - {from: ext, to: 203.0.113.20, protocol: tcp, port: 8080, reachable: false}
"""


def test_the_imported_whole_vpc_builds_and_verify_and_the_matrix_agree(tmp_path):
    out = tmp_path / "shop.yaml"
    r = CliRunner().invoke(app, ["import", "terraform", str(STATE), "-o", str(out)])
    assert r.exit_code == 0, r.output
    topology = load_text(out.read_text() + TESTS, default_name=LAB)
    with Lab.up(topology, name=LAB) as lab:
        verdicts = verify(lab)
        assert len(verdicts) == 8
        assert [v.to_dict() for v in verdicts if not v.holds or v.disagreements] == []
        m = matrix(lab, ports=("icmp", "tcp/443", "tcp/8080"))
        assert m.disagreements == [], [c.__dict__ for c in m.disagreements][:5]
        cells = {(c.source, c.destination, c.protocol, c.port): c.observed for c in m.cells}
        assert cells[("web", "app-a", "tcp", 8080)] is True
        assert cells[("app-a", "web", "tcp", 8080)] is False
