"""The lab's services, killed again and again, answer real clients within 1 s each time, and `status`
counts every restart."""
from __future__ import annotations

import pytest

import chaos_supervisor     # tests/reliability/ is on sys.path (pytest prepends a test file's directory)

pytestmark = [pytest.mark.reliability, pytest.mark.kernel]


def test_services_answer_again_within_a_second_of_each_kill():
    figures = chaos_supervisor.run(kills=3, lab_name="t-supkill")
    assert chaos_supervisor.holds(figures), str(figures)
