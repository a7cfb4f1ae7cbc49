"""The vpc_lab fixture's default: a lab of its own for each test, named after the topology and this
process, so parallel runs and pytest-xdist workers using the same topology never collide."""
from pathlib import Path

import pytest

DEFAULT = Path(__file__).resolve().parents[3] / "topologies" / "default.yaml"


@pytest.mark.vpc_topology(DEFAULT)
def test_app_reaches_s3_through_the_gateway_endpoint(vpc_lab):
    result = vpc_lab.probe("app-a", "s3", protocol="tcp", port=443)
    assert result.reachable and result.agrees


@pytest.mark.vpc_topology(DEFAULT)
def test_the_lab_is_named_for_this_process(vpc_lab):
    assert vpc_lab.name.startswith("defau") and vpc_lab.name != "default"
