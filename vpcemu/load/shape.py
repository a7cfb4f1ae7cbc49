"""Reading YAML values with their paths: types, unknown keys, duplicate keys. Collects problems, never raises."""
from __future__ import annotations

import difflib
import os
import reprlib
import stat
from ipaddress import AddressValueError, IPv4Address, IPv4Network, NetmaskValueError
from pathlib import Path
from typing import Any

import yaml

from ..errors import Problem, UsageError
from ..rules.names import valid_name

MISSING = object()
# What a topology file may be. Far above any real lab (10,000 routes take about 0.5 MB and 60,000
# nodes), and low enough that every file is judged within a few seconds.
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_NODES = 1_000_000           # after aliases are expanded: a "billion laughs" file stops here
MAX_DEPTH = 64                  # the format nests about ten levels deep


# libyaml when present: parsing is most of the load time, and the unit suite loads many files
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_document(path: str | Path) -> tuple[str | None, list[Problem]]:
    """The text of a topology file, or why it cannot be one: not a regular file (a FIFO would block,
    /dev/zero never ends), larger than MAX_FILE_BYTES, or not UTF-8."""
    where = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        return None, [Problem(where, f"cannot read the file: {exc.strerror}")]
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None, [Problem(where, "is not a regular file", hint="give the path of a YAML topology file")]
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        return None, [Problem(where, f"is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB, the most a topology "
                                     "file may be")]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return None, [Problem(f"line {line}", f"byte {data[exc.start]:#04x} at offset {exc.start} is not UTF-8 text",
                              hint="save the file as UTF-8")]


def parse_yaml(text: str) -> tuple[Any, list[Problem]]:
    """YAML text → plain data, or the problems: a syntax error, a document too deep or too large once
    its aliases are expanded, or every duplicate key (PyYAML keeps the last)."""
    if len(text) > MAX_FILE_BYTES:
        return None, [Problem("", f"the document is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB, the most "
                                  "a topology may be")]
    loader = _YamlLoader(text)
    try:
        node = loader.get_single_node()
        too_big = _too_big(node) if node is not None else None
        if too_big:
            return None, [too_big]
        duplicates = _duplicate_keys(node, "", set()) if node is not None else []
        if duplicates:
            return None, duplicates
        return (loader.construct_document(node) if node is not None else None), []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        problem = getattr(exc, "problem", None) or str(exc)
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and context_mark:
            problem += f" ({context} at line {context_mark.line + 1}, column {context_mark.column + 1})"
        lines = text.splitlines()
        line = lines[mark.line] if mark and mark.line < len(lines) else ""
        indent = line[:len(line) - len(line.lstrip())]
        hint = "indent with spaces: YAML does not allow tabs" if "\t" in indent else None
        return None, [Problem(where, f"not valid YAML: {problem}", hint=hint)]
    finally:
        loader.dispose()


def _too_big(root: yaml.Node) -> Problem | None:
    """Refuse a document nested deeper than MAX_DEPTH, or of more than MAX_NODES nodes once every alias
    is expanded (counted per distinct node, so a bomb of 10^9 nodes costs only its few real ones)."""
    expanded: dict[int, int] = {}
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, children_done = stack.pop()
        if depth > MAX_DEPTH:
            mark = node.start_mark
            return Problem(f"line {mark.line + 1}, column {mark.column + 1}",
                           f"the document is nested more than {MAX_DEPTH} levels deep", hint="a topology needs about ten")
        kids = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else \
            node.value if isinstance(node, yaml.SequenceNode) else []
        if children_done:
            expanded[id(node)] = 1 + sum(expanded[id(k)] for k in kids)
            if expanded[id(node)] > MAX_NODES:
                return Problem("", f"the document has more than {MAX_NODES:,} nodes once its aliases are expanded",
                               hint="YAML aliases (*name) may repeat a part, not multiply the file")
        elif id(node) not in expanded:
            stack.append((node, depth, True))
            stack.extend((k, depth + 1, False) for k in kids if id(k) not in expanded)
    return None


def _duplicate_keys(node: yaml.Node, path: str, seen_nodes: set[int]) -> list[Problem]:
    """Walk the composed document; report each repeated map key at its dotted path."""
    if id(node) in seen_nodes:          # an alias: already walked
        return []
    seen_nodes.add(id(node))
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        first_line: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = (key_node.tag, key_node.value)
            child = f"{path}.{key_node.value}" if path else key_node.value
            line = key_node.start_mark.line + 1
            if key in first_line and key_node.value != "<<":
                problems.append(Problem(child, f"duplicate key {key_node.value!r} (line {line}; first at line "
                                               f"{first_line[key]}): names must be unique",
                                        hint="YAML would silently keep only the last one; rename or merge them"))
            first_line.setdefault(key, line)
            problems += _duplicate_keys(value_node, child, seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            problems += _duplicate_keys(item, f"{path}[{i}]", seen_nodes)
    return problems


_short = reprlib.Repr()
_short.maxstring, _short.maxother, _short.maxlist, _short.maxdict, _short.maxlevel = 60, 60, 4, 4, 2


def shown(value: Any) -> str:
    """A value as a message quotes it: its repr, cut short (a file may hold a megabyte in one field)."""
    return _short.repr(value)


def kind_name(value: Any) -> str:
    if value is None:
        return "nothing"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "a map"}.get(type(value), type(value).__name__)


class Reader:
    """Typed access to YAML values; each failure is recorded as a Problem at its path."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def error(self, path: str, message: str, code: str | None = None, hint: str | None = None) -> None:
        self.problems.append(Problem(path, message, code, hint))

    def mapping(self, value: Any, path: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.error(path, f"must be a map, not {kind_name(value)}")
            return {}
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f"did you mean `{close[0]}`?" if close else f"allowed keys: {', '.join(allowed)}"
                self.error(f"{path}.{key}" if path else str(key), "unknown key", hint=hint)
        for key in required:
            if key not in value:
                self.error(f"{path}.{key}" if path else key, "is required")
        return value

    def named_map(self, value: Any, path: str) -> dict[str, Any]:
        """A map whose keys are user-chosen names."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(path, f"must be a map of names, not {kind_name(value)}")
            return {}
        good = {}
        for key, item in value.items():
            try:
                good[valid_name(key)] = item
            except UsageError as refused:
                self.error(f"{path}.{key}", refused.message, refused.code, refused.hint)
        return good

    def sequence(self, value: Any, path: str) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(path, f"must be a list, not {kind_name(value)}")
            return []
        return value

    def string(self, value: Any, path: str, default: Any = MISSING) -> Any:
        if value is None and default is not MISSING:
            return default
        if value == "":
            self.error(path, "must not be empty")
            return None
        if not isinstance(value, str):
            self.error(path, f"must be a non-empty string, not {kind_name(value)}")
            return None
        return value

    def boolean(self, value: Any, path: str, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.error(path, f"must be true or false, not {shown(value)}")
            return default
        return value

    def integer(self, value: Any, path: str, low: int | None = None, high: int | None = None,
                code: str | None = None) -> int | None:
        """A whole number; within low..high when those are given (else the range is a rule's to judge)."""
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(path, f"must be a whole number, not {kind_name(value)}", code)
            return None
        if low is not None and high is not None and not low <= value <= high:
            self.error(path, f"{value} is out of range {low}..{high}", code)
            return None
        return value

    def cidr(self, value: Any, path: str, code: str = "InvalidParameterValue") -> IPv4Network | None:
        """An IPv4 CIDR; like AWS, host bits are dropped (100.68.0.18/18 → 100.68.0.0/18)."""
        if not isinstance(value, str) or "/" not in value:
            self.error(path, f"{shown(value)} is not an IPv4 CIDR block such as 10.0.0.0/16", code)
            return None
        try:
            return IPv4Network(value, strict=False)
        except (AddressValueError, NetmaskValueError, ValueError):
            self.error(path, f"{shown(value)} is not an IPv4 CIDR block such as 10.0.0.0/16", code)
            return None

    def address(self, value: Any, path: str, code: str = "InvalidParameterValue") -> IPv4Address | None:
        if isinstance(value, str):
            try:
                return IPv4Address(value)
            except (AddressValueError, ValueError):
                pass
        self.error(path, f"{shown(value)} is not an IPv4 address", code)
        return None

    def choice(self, value: Any, path: str, choices: tuple[str, ...], default: Any = MISSING) -> Any:
        if value is None and default is not MISSING:
            return default
        if value not in choices:
            self.error(path, f"{shown(value)} is not one of: {', '.join(choices)}")
            return None
        return value
