"""The vpc_lab fixture's pure parts, without root: unique lab names, and a bad scope refused (pytester runs a
test file in a fresh pytest, where the fixture stops before building anything)."""
from __future__ import annotations

import os


from vpcemu.pytest_plugin import _base36, unique_lab_name
from vpcemu.rules.limits import LAB_NAME_MAX
from vpcemu.rules.names import lab_name_problem

pytest_plugins = ["pytester"]


def test_unique_lab_names_are_valid_distinct_and_carry_the_process():
    names = [unique_lab_name("default") for _ in range(50)] + [unique_lab_name("a-very-long-topology-name")]
    assert len(set(names)) == len(names)
    pid = _base36(os.getpid())
    for name in names:
        assert lab_name_problem(name) is None and len(name) <= LAB_NAME_MAX, name
        assert name.split("-")[-1].startswith(pid), name
    assert names[0].startswith("defau") and not names[-1].startswith("a-very-long")


def test_base36():
    assert [_base36(n) for n in (0, 35, 36)] == ["0", "z", "10"]
    assert all(int(_base36(n), 36) == n for n in (4194304, 99991, 1296))     # 4194304: Linux's highest pid


def test_an_unknown_scope_is_a_usage_error(pytester):
    pytester.makepyfile("""
        import pytest
        @pytest.mark.vpc_topology("unused.yaml", scope="class")
        def test_x(vpc_lab):
            pass
        """)
    r = pytester.runpytest("-p", "no:cacheprovider")
    r.stdout.fnmatch_lines(["*vpc_lab scope 'class': choose one of function, module, session*"])
    assert r.ret != 0
