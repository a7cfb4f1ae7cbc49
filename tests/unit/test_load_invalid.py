"""Every file in tests/invalid/ breaks exactly one rule; the loader must name the field, the rule and AWS's code.

Each file starts with `# expect: <path> | <substring of message> | <AWS code or -> [| <substring of hint>]`.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from vpcemu.errors import TopologyError
from vpcemu.load import load_text, load_topology

INVALID = Path(__file__).resolve().parents[1] / "invalid"
CASES = sorted(INVALID.glob("*.yaml"))


def expectation(path: Path) -> tuple[str, str, str | None, str | None]:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name}: the first line must be `# expect: path | message | code`"
    fields = [f.strip() for f in first[len("# expect: "):].split(" | ")]
    assert len(fields) in (3, 4), f"{path.name}: expected 3 or 4 fields, got {fields}"
    where, message, code = fields[:3]
    return where, message, None if code == "-" else code, fields[3] if len(fields) == 4 else None


def test_there_are_enough_cases():
    assert len(CASES) >= 45


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_invalid_topology_is_rejected(case: Path):
    where, message, code, hint = expectation(case)
    with pytest.raises(TopologyError) as caught:
        # the file stems are longer than a lab name may be: only the lab-name cases test `name`
        load_text(case.read_text(), source=str(case), default_name="invalid")
    problems = caught.value.problems
    listing = "\n".join(f"  {p}" for p in problems)
    assert len(problems) == 1, f"one broken rule must give one problem, not a cascade; got:\n{listing}"
    at_path = [p for p in problems if p.path == where]
    assert at_path, f"no problem at {where!r}; got:\n{listing}"
    matching = [p for p in at_path if message in p.message]
    assert matching, f"no problem at {where!r} says {message!r}; got:\n{listing}"
    assert any(p.code == code for p in matching), f"expected code {code!r}; got:\n{listing}"
    if hint is not None:
        assert any(p.hint and hint in p.hint for p in matching), f"expected a hint with {hint!r}; got:\n{listing}"


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_error_text_names_the_file_and_the_field(case: Path):
    where, _, _, _ = expectation(case)
    with pytest.raises(TopologyError) as caught:
        load_topology(case)
    text = str(caught.value)
    assert text.startswith(str(case))
    assert f"{where}: " in text
    assert caught.value.exit_code == 2

