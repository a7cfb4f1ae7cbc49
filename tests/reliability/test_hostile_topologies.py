"""Any topology file gets a clear answer: a Topology, or TopologyError (exit 2) with its problems —
never a traceback, never a hang. Hostile files by hand (bytes that are not UTF-8, alias bombs, deep
nesting, huge files, things that are not files) and property-based mutations of the shipped topologies."""
from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from vpcemu.cli import app
from vpcemu.errors import TopologyError
from vpcemu.load import load_text, load_topology
from vpcemu.load.shape import MAX_FILE_BYTES
from vpcemu.model import Topology

pytestmark = pytest.mark.reliability

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted([*REPO.glob("topologies/*.yaml"), *REPO.glob("tests/data/*.yaml")])
SECONDS = 3.0
# The suite runs a fixed, repeatable sample (CI must not turn red on a draw); `scripts/chaos` sets
# VPCEMU_FUZZ_EXAMPLES and VPCEMU_FUZZ_RANDOM=1 to search wide and at random.
EXAMPLES = int(os.environ.get("VPCEMU_FUZZ_EXAMPLES", "0"))
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow],
                derandomize=os.environ.get("VPCEMU_FUZZ_RANDOM") != "1", database=None)
runner = CliRunner()


def judged(text: str) -> Topology | TopologyError:
    started = time.monotonic()
    try:
        out = load_text(text)
    except TopologyError as exc:
        out = exc
    assert time.monotonic() - started < SECONDS, "a topology must be judged within 3 s"
    return out


def refused(result) -> str:
    problems = result.problems if isinstance(result, TopologyError) else None
    assert problems, f"expected a refusal, got {result!r}"
    return "\n".join(str(p) for p in problems)


# -- by hand ------------------------------------------------------------------------------------------
BOMB = "\n".join(
    [f"a0: &a0 [{', '.join(['x'] * 9)}]"] +
    [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)] +
    ["format: 1", "name: *a8", "vpcs: {main: {cidr: *a8}}"])


def test_an_alias_bomb_is_refused_at_once():
    assert "aliases are expanded" in refused(judged(BOMB))


@pytest.mark.parametrize("depth", [70, 999, 5000])
def test_deep_nesting_is_refused(depth):
    text = "format: 1\nvpcs: " + "[" * depth + "]" * depth + "\n"
    assert "nest" in refused(judged(text))


def test_block_nesting_is_refused():
    text = "format: 1\nvpcs:\n" + "".join("  " * i + "- \n" for i in range(1, 200))
    assert "nested more than" in refused(judged(text))


def test_huge_values_are_quoted_short():
    message = refused(judged("format: 1\nvpcs:\n  main:\n    cidr: '" + "9" * 500_000 + "'\n"))
    assert len(message) < 1000


def test_ten_thousand_routes_are_judged_within_two_seconds():
    routes = "".join(f"          - {{destination: 172.{16 + i // 65536 % 16}.{i // 256 % 256}.{i % 256}/32, target: igw}}\n"
                     for i in range(10_000))
    text = ("format: 1\nvpcs:\n  main:\n    cidr: 10.0.0.0/16\n    internet_gateway: igw\n"
            "    subnets: {a: {cidr: 10.0.1.0/24, az: us-east-1a}}\n"
            "    route_tables:\n      main:\n        main: true\n        routes:\n" + routes)
    started = time.monotonic()
    result = judged(text)
    assert time.monotonic() - started < 2.0
    assert "RouteLimitExceeded" in refused(result)       # AWS's quota is 500 routes per table


def _file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "lab.yaml"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("data, said", [
    (b"format: 1\nvpcs: {}\nname: caf\xe9\n", "is not UTF-8"),
    (b"\xff\xfe\x00\x00garbage", "is not UTF-8"),
    (b"format: 1\n# " + b"x" * (MAX_FILE_BYTES + 10) + b"\n", "larger than"),
    (os.urandom(4096), ""),
    (b"", "required"),
])
def test_hostile_files_are_refused_with_exit_2(tmp_path, data, said):
    path = _file(tmp_path, data)
    with pytest.raises(TopologyError) as refusal:
        load_topology(path)
    assert said in str(refusal.value)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and result.exception is None or isinstance(result.exception, SystemExit), result.output


@pytest.mark.parametrize("make", ["fifo", "directory", "device", "missing"])
def test_what_is_not_a_file_is_refused_without_waiting(tmp_path, make):
    path = tmp_path / "lab.yaml"
    if make == "fifo":
        os.mkfifo(path)             # opening it for reading would block until a writer came
    elif make == "directory":
        path.mkdir()
    elif make == "device":
        path = Path("/dev/zero")    # never ends
    started = time.monotonic()
    result = runner.invoke(app, ["validate", str(path)])
    assert time.monotonic() - started < SECONDS
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


# -- mutations of the shipped topologies ----------------------------------------------------------------
ODD = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70), st.floats(allow_nan=True),
    st.text(max_size=40), st.sampled_from(["", "0.0.0.0/0", "10.0.0.0/8", "300.1.1.1/33", "sg:x", "pl:s3", "a;rm -rf /",
                                           "../../etc", "x" * 300, "default", "main", "us-east-1a", "tcp", "-1"]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=8), st.integers(), max_size=3))


def _paths(data, prefix=()):
    yield prefix
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _paths(v, (*prefix, i))


def _mutate(data, rng: random.Random, value):
    paths = [p for p in _paths(data) if p]
    if not paths:
        return value
    path = rng.choice(paths)
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    action = rng.randrange(4)
    if action == 0:
        parent[path[-1]] = value                            # a wrong value
    elif action == 1 and isinstance(parent, dict):
        del parent[path[-1]]                                # a missing key
    elif action == 2 and isinstance(parent, dict):
        parent[str(value)[:20] or "k"] = parent[path[-1]]   # an unknown or duplicated key
    else:
        parent[path[-1]] = [parent[path[-1]]] * 3          # a list where one thing was
    return data


@settings(FUZZ, max_examples=EXAMPLES or 400)
@given(source=st.sampled_from(SHIPPED), seed=st.integers(0, 2**32), values=st.lists(ODD, min_size=1, max_size=4))
def test_mutated_topologies_are_valid_or_refused(source, seed, values):
    data = yaml.safe_load(source.read_text())
    rng = random.Random(seed)
    for value in values:
        data = _mutate(data, rng, value)
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    result = judged(text)
    assert isinstance(result, (Topology, TopologyError))


@settings(FUZZ, max_examples=EXAMPLES or 150)
@given(source=st.sampled_from(SHIPPED), seed=st.integers(0, 2**32), cut=st.floats(0, 1))
def test_damaged_text_is_valid_or_refused(source, seed, cut):
    text = source.read_text()
    rng = random.Random(seed)
    chars = list(text[: int(len(text) * cut) or 1])
    for _ in range(rng.randrange(1, 6)):
        i = rng.randrange(len(chars))
        chars[i] = rng.choice(["\t", ":", "-", "&a", "*a", "[", "{", "'", "\x00", "\ufeff", "!!python/object", "<<: "])
    assert isinstance(judged("".join(chars)), (Topology, TopologyError))
