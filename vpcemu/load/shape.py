"""Reading YAML values with their paths: types, unknown keys, duplicate keys. Collects problems, never raises."""
from __future__ import annotations

import difflib
import re
from ipaddress import AddressValueError, IPv4Address, IPv4Network, NetmaskValueError
from typing import Any

import yaml

from ..errors import Problem

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
MISSING = object()


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (names must be unique)", key_node.start_mark)
        seen[key] = True
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_yaml(text: str) -> tuple[Any, Problem | None]:
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader), None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        problem = getattr(exc, "problem", None) or str(exc)
        return None, Problem(where, f"not valid YAML: {problem}")


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
            if not isinstance(key, str) or not NAME_RE.match(key):
                self.error(f"{path}.{key}", "is not a valid name",
                           hint="use letters, digits, '-', '_' and '.', starting with a letter or digit, at most 63")
                continue
            good[key] = item
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
        if not isinstance(value, str) or not value:
            self.error(path, f"must be a non-empty string, not {kind_name(value)}")
            return None
        return value

    def boolean(self, value: Any, path: str, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.error(path, f"must be true or false, not {value!r}")
            return default
        return value

    def integer(self, value: Any, path: str, low: int, high: int, code: str | None = None) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(path, f"must be a whole number, not {kind_name(value)}", code)
            return None
        if not low <= value <= high:
            self.error(path, f"{value} is out of range {low}..{high}", code)
            return None
        return value

    def cidr(self, value: Any, path: str, code: str = "InvalidParameterValue") -> IPv4Network | None:
        """An IPv4 CIDR; like AWS, host bits are dropped (100.68.0.18/18 → 100.68.0.0/18)."""
        if not isinstance(value, str) or "/" not in value:
            self.error(path, f"{value!r} is not an IPv4 CIDR block such as 10.0.0.0/16", code)
            return None
        try:
            return IPv4Network(value, strict=False)
        except (AddressValueError, NetmaskValueError, ValueError):
            self.error(path, f"{value!r} is not an IPv4 CIDR block such as 10.0.0.0/16", code)
            return None

    def address(self, value: Any, path: str, code: str = "InvalidParameterValue") -> IPv4Address | None:
        if isinstance(value, str):
            try:
                return IPv4Address(value)
            except (AddressValueError, ValueError):
                pass
        self.error(path, f"{value!r} is not an IPv4 address", code)
        return None

    def choice(self, value: Any, path: str, choices: tuple[str, ...], default: Any = MISSING) -> Any:
        if value is None and default is not MISSING:
            return default
        if value not in choices:
            self.error(path, f"{value!r} is not one of: {', '.join(choices)}")
            return None
        return value

    def port_range(self, value: Any, path: str) -> tuple[int, int] | None:
        """`80`, `"1024-65535"`; None when omitted (all ports)."""
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            low = high = value
        elif isinstance(value, str) and re.fullmatch(r"\d+(-\d+)?", value.strip()):
            parts = value.strip().split("-")
            low, high = int(parts[0]), int(parts[-1])
        else:
            self.error(path, f"{value!r} is not a port or a port range such as 1024-65535", "InvalidParameterValue")
            return None
        if not (0 <= low <= 65535 and 0 <= high <= 65535) or low > high:
            self.error(path, f"port range {value} must be within 0-65535 with from <= to", "InvalidParameterValue")
            return None
        return low, high
