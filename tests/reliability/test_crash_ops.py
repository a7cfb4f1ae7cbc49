"""kill -9 of each live change at a random instant, then the same command again (or `vpcemu repair`
when the killed one had committed): model, kernel and probes agree after every one."""
from __future__ import annotations

import os

import pytest

import chaos_ops          # tests/reliability/ is on sys.path (pytest prepends a test file's directory)

pytestmark = [pytest.mark.reliability, pytest.mark.kernel]


def test_every_live_change_killed_twice_converges_after_a_retry_or_repair():
    figures = chaos_ops.run(kills_per_op=2, seed=int(os.environ.get("VPCEMU_CHAOS_SEED", 14)))
    assert chaos_ops.holds(figures), str(figures)
    assert all(f["kills"] + f["finished_before_kill"] == 2 for f in figures["ops"].values())
    # the kills hit changes half-way: the kernel was left differing from the model, and put right
    assert sum(f["left_kernel_differing"] for f in figures["ops"].values()) > 0
