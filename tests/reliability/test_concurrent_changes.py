"""Many hands on one lab: concurrent `vpcemu` writers all land (model, kernel and probes agree), and a
change that cannot get the lab's lock in time says so (exit 2, LabBusy) and changes nothing."""
from __future__ import annotations

import os
import subprocess

import pytest

from vpcemu.kernel.journal import MODEL_FILE
from vpcemu.lab import Lab
from vpcemu.load import load_text

import chaos_writers      # tests/reliability/ is on sys.path (pytest prepends a test file's directory)

pytestmark = [pytest.mark.reliability, pytest.mark.kernel]


def test_ten_concurrent_writers_lose_nothing():
    figures = chaos_writers.run(writers=10, rounds=2, lab_name="t-writers")
    assert chaos_writers.holds(figures), str(figures)
    assert figures["changes"] == 20 and figures["rules_in_model"] == 8


def test_a_change_that_cannot_get_the_lock_changes_nothing():
    with Lab.up(chaos_writers.TOPOLOGY, name="t-busy") as lab:
        model = (lab.journal.dir / MODEL_FILE).read_bytes()
        held = lab.journal.lock(0)
        try:
            out = subprocess.run([*chaos_writers.VPCEMU, "--lock-timeout", "0.2", "sg", "authorize", "target",
                                  "-p", "tcp", "--port", "9", "--peer", "10.0.0.0/16", "--lab", "t-busy"],
                                 capture_output=True, text=True, timeout=60)
        finally:
            os.close(held)
        assert out.returncode == 2, out
        assert "LabBusy" in out.stderr and "--lock-timeout" in out.stderr and "Traceback" not in out.stderr
        assert (lab.journal.dir / MODEL_FILE).read_bytes() == model
        rules = load_text(model.decode(), committed=True).vpcs["main"].security_groups["target"].ingress
        assert lab.refresh().topology.vpcs["main"].security_groups["target"].ingress == rules
        assert not lab.probe("client", "server", "tcp", 9, timeout=0.3).reachable
