"""pytest plugin: the `vpc_lab` fixture builds a lab for a test and always tears it down.

    @pytest.mark.vpc_topology("topologies/default.yaml")
    def test_app_reaches_db(vpc_lab):
        assert vpc_lab.probe("app-a", "db-a", protocol="tcp", port=5432).reachable
"""
from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "vpc_topology(path, name=None): the topology the vpc_lab fixture builds")


@pytest.fixture
def vpc_lab(request: pytest.FixtureRequest):
    from .lab import Lab
    marker = request.node.get_closest_marker("vpc_topology")
    if marker is None:
        raise pytest.UsageError("vpc_lab needs @pytest.mark.vpc_topology('path/to/topology.yaml')")
    if os.geteuid() != 0:
        pytest.skip("vpc_lab builds network namespaces: run as root")
    lab = Lab.up(marker.args[0], name=marker.kwargs.get("name"))
    try:
        yield lab
        lab.require_services()      # a service that died under the test fails it, by name
    finally:
        lab.down()
