"""The vpc_lab fixture as users run it: its example tests (tests/data/plugin/) under pytest-xdist with two
workers, both building labs of the same topology at once; the shared lab's reset between tests; nothing
left behind (the suite's host guard checks namespaces and state directories after)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.geteuid() != 0, reason="kernel tests need root")]

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "plugin"


def test_the_example_tests_pass_under_xdist_with_two_workers(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    started = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(tmp_path / "pytest.ini"),
                        "--rootdir", str(tmp_path), "--confcutdir", str(EXAMPLES), "-n", "2", "--dist", "loadfile",
                        *sorted(map(str, EXAMPLES.glob("example_*.py")))],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600)
    print(f"5 example tests, 2 workers: {time.monotonic() - started:.1f} s")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "5 passed" in r.stdout, r.stdout
