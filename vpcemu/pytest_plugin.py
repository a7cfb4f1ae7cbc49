"""pytest plugin: the `vpc_lab` fixture gives a test a lab and always tears it down.

    @pytest.mark.vpc_topology("topologies/default.yaml")
    def test_app_reaches_db(vpc_lab):
        assert vpc_lab.probe("app-a", "db-a", protocol="tcp", port=5432).reachable

Scope: by default each test gets a lab of its own (built before it, torn down after it). With
`--vpc-lab-scope module|session` (or `vpc_lab_scope` in the ini file, or `scope=` on the marker) tests
share one lab per topology file per module or session, reset (`Lab.reset`: every live change undone and
every tracked flow forgotten) before each test that is not its first; it is torn down at the end of the
module or session, whatever happened.

Names: a lab is named after its topology plus a suffix of this process, so two pytest runs, or
pytest-xdist workers, never collide on a name; `name=` on the marker names it exactly instead.

The first lab of a run starts the warm service process (kernel/warm.py), which starts later labs' services
in milliseconds; the run stops it at its end.

With `--vpc-report DIR`, a test that used vpc_lab and failed leaves `vpcemu report`'s HTML page of its lab
in DIR (before the lab is torn down or reset), so a CI artifact shows what the network did.
"""
from __future__ import annotations

import itertools
import os
import re
from pathlib import Path

import pytest

_FAILED = pytest.StashKey[bool]()
_REPORTS = pytest.StashKey[list]()
SCOPES = ("function", "module", "session")
_numbers = itertools.count()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vpcemu")
    group.addoption(
        "--vpc-report", metavar="DIR", default=None,
        help="write an HTML report (vpcemu report) of the lab of every failed test that used vpc_lab into DIR")
    group.addoption(
        "--vpc-lab-scope", choices=SCOPES, default=None,
        help="function: a lab per test (default); module, session: one lab per topology file per module or "
             "session, reset before each test")
    parser.addini("vpc_lab_scope", "the vpc_lab fixture's default scope: function, module or session",
                  default="function")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "vpc_topology(path, name=None, scope=None): the topology the vpc_lab fixture builds; name "
                   "names its lab exactly; scope (function, module, session) overrides --vpc-lab-scope")
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


class _Shared:
    """The labs kept for a module or the session: one per (topology file, marker name)."""

    def __init__(self) -> None:
        self.labs: dict[tuple[str, str | None], object] = {}

    def close(self) -> None:
        errors = []
        for lab in self.labs.values():
            try:
                lab.down()
            except Exception as exc:        # the others are torn down all the same
                errors.append(exc)
        self.labs.clear()
        if errors:
            raise errors[0]


@pytest.fixture(scope="session")
def _vpc_session_labs():
    from .kernel import warm
    with warm.started_within():         # the warm service process this session's labs started ends with it
        shared = _Shared()
        try:
            yield shared
        finally:
            shared.close()


@pytest.fixture(scope="module")
def _vpc_module_labs():
    shared = _Shared()
    try:
        yield shared
    finally:
        shared.close()


@pytest.fixture
def vpc_lab(request: pytest.FixtureRequest, _vpc_session_labs: _Shared, _vpc_module_labs: _Shared):
    marker = request.node.get_closest_marker("vpc_topology")
    if marker is None:
        raise pytest.UsageError("vpc_lab needs @pytest.mark.vpc_topology('path/to/topology.yaml')")
    scope = marker.kwargs.get("scope") or request.config.getoption("vpc_lab_scope") \
        or request.config.getini("vpc_lab_scope")
    if scope not in SCOPES:
        raise pytest.UsageError(f"vpc_lab scope {scope!r}: choose one of {', '.join(SCOPES)}")
    if os.geteuid() != 0:
        pytest.skip("vpc_lab builds network namespaces: run as root")
    path, name = str(marker.args[0]), marker.kwargs.get("name")
    if scope == "function":
        lab = _build(path, name)
        try:
            yield lab
            lab.require_services()      # a service that died under the test fails it, by name
        finally:
            try:
                _report(request, lab)
            finally:
                lab.down()
        return
    shared = _vpc_session_labs if scope == "session" else _vpc_module_labs
    lab = shared.labs.get((path, name))
    if lab is None:
        lab = shared.labs[(path, name)] = _build(path, name)
    else:
        lab.reset()
    try:
        yield lab
        lab.require_services()
    finally:
        _report(request, lab)


def _build(path: str, name: str | None):
    from .lab import Lab
    from .load import load_topology
    topology = load_topology(path)
    return Lab.up(topology, name=name or unique_lab_name(topology.name), source=path)


def unique_lab_name(base: str) -> str:
    """`base` with a suffix of this process and a count of its labs (base 36), cut to the lab-name limit:
    unique among the labs of every process (pids are), so parallel runs and xdist workers never collide."""
    from .rules.limits import LAB_NAME_MAX
    suffix = _base36(os.getpid()) + _base36(next(_numbers))
    return f"{base[:LAB_NAME_MAX - len(suffix) - 1].rstrip('-')}-{suffix}"


def _base36(n: int) -> str:
    digits = ""
    while True:
        n, d = divmod(n, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[d] + digits
        if not n:
            return digits


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
