"""Kernel tests: every probe any test sends is also checked against AWS's expected answer (analyze/),
so each probe in the suite is an agreement test. A test that breaks the kernel on purpose says so with
`@pytest.mark.disagreement_expected`."""
import pytest

from vpcemu.lab import Lab

pytestmark = pytest.mark.kernel


def pytest_configure(config):
    config.addinivalue_line("markers", "disagreement_expected: a test that makes the kernel disagree on purpose")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "/tests/kernel/" in str(item.fspath):
            item.add_marker(pytest.mark.kernel)


@pytest.fixture(autouse=True)
def probes_agree_with_the_model(request, monkeypatch):
    if request.node.get_closest_marker("disagreement_expected"):
        yield
        return
    original = Lab.probe

    def probe(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        assert result.agrees, (f"probe {result.source} → {result.destination} {result.protocol}/{result.port}: "
                               f"{result.disagreements}")
        return result

    monkeypatch.setattr(Lab, "probe", probe)
    yield
