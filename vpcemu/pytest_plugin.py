"""pytest plugin: the `vpc_lab` fixture builds a lab for a test and always tears it down.

    @pytest.mark.vpc_topology("topologies/default.yaml")
    def test_app_reaches_db(vpc_lab):
        assert vpc_lab.probe("app-a", "db-a", protocol="tcp", port=5432).reachable

With `--vpc-report DIR`, a test that used vpc_lab and failed leaves `vpcemu report`'s HTML page of its lab
in DIR (before the lab is torn down), so a CI artifact shows what the network did.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

_FAILED = pytest.StashKey[bool]()
_REPORTS = pytest.StashKey[list]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("vpcemu").addoption(
        "--vpc-report", metavar="DIR", default=None,
        help="write an HTML report (vpcemu report) of the lab of every failed test that used vpc_lab into DIR")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "vpc_topology(path, name=None): the topology the vpc_lab fixture builds")
    config.stash[_REPORTS] = []


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    for line in config.stash.get(_REPORTS, []):
        terminalreporter.write_line(line)


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
        try:
            _report(request, lab)
        finally:
            lab.down()


def _report(request: pytest.FixtureRequest, lab) -> None:
    where = request.config.getoption("vpc_report")
    if not where or not request.node.stash.get(_FAILED, False):
        return
    from .report import lab_report
    directory = Path(where)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid).strip("_") + ".html")
    path.write_text(lab_report(lab), encoding="utf-8")
    request.config.stash[_REPORTS].append(f"vpcemu report of lab {lab.name} for {request.node.nodeid}: {path}")
