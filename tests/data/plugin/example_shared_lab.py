"""The vpc_lab fixture with one lab per module: built for the first test, reset (Lab.reset) before each next
one, torn down after the last. A change one test makes is gone in the next. (Examples of README's "From
Python and pytest"; tests/kernel/test_plugin_xdist_lab.py runs them with pytest-xdist.)"""
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from vpcemu.model import SecurityGroupRule
from vpcemu.ops import security

DEFAULT = Path(__file__).resolve().parents[3] / "topologies" / "default.yaml"
pytestmark = pytest.mark.vpc_topology(DEFAULT, scope="module")

SSH_FROM_THE_VPC = SecurityGroupRule("tcp", 22, 22, cidr=IPv4Network("10.0.0.0/16"))


def test_web_reaches_the_app_tier(vpc_lab):
    assert vpc_lab.probe("web-1", "app-a", protocol="tcp", port=8080).reachable


def test_ssh_opened_here(vpc_lab):
    security.authorize_security_group_ingress(vpc_lab, "web", SSH_FROM_THE_VPC)
    assert vpc_lab.probe("app-a", "web-1", protocol="tcp", port=22).reachable


def test_is_closed_again_in_the_next_test(vpc_lab):
    assert SSH_FROM_THE_VPC not in vpc_lab.topology.vpcs["main"].security_groups["web"].ingress
    assert not vpc_lab.probe("app-a", "web-1", protocol="tcp", port=22).reachable
