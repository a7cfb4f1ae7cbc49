"""YAML text for format-1 documents, fast: the layout write.py gives them (block sections, one line per leaf)
written directly, with PyYAML's own rules for when a string goes plain or in quotes.

A lab writes its model as such a document on every change (Lab.commit), and PyYAML's emitter, in Python,
takes 170 ms for a lab of 500 ENIs; this takes a few. It writes the same text as the PyYAML dumper
(tests/unit/test_ids_and_stored_model.py compares them); a document it has no rule for (a float, a
string that needs double quotes, a key of 128 characters or more, a list of lists) raises Unsupported,
and the caller uses PyYAML.
"""
from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.emitter import Emitter

STR_TAG = "tag:yaml.org,2002:str"
# strings whose analysis is known without PyYAML's: no indicator, space or quote anywhere, first a letter or digit
_SIMPLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]*\Z")
# the same, with colons inside (MACs, `sg:NAME`): plain in block context, single-quoted in flow context
_COLONS = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]*(?::[A-Za-z0-9_./-]+)+\Z")
_MAX_SIMPLE_KEY = 128           # PyYAML writes a longer key, or an empty one, as `? key`

_resolver = yaml.resolver.Resolver()
_analyzer = Emitter(None, allow_unicode=True)
_styles: dict[tuple[str, bool, bool], str] = {}     # (string, in flow context, as a key) → its text
_MAX_STYLES = 200_000           # a process that writes many labs starts the memo afresh past this


class Flow(dict):
    """A leaf map whose one-line text, once written, is kept with it: a document that shares the leaf with an
    earlier one (write.py's _Leaves) writes it without analysing it again. Never modified after it is made."""

    __slots__ = ("text",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.text: str | None = None


class Unsupported(Exception):
    """The document holds something this emitter does not write exactly as PyYAML would."""


def is_section(data: dict) -> bool:
    """A map of named maps (vpcs, subnets, …): block style, each entry on its own lines."""
    return bool(data) and all(isinstance(v, dict) for v in data.values())


def is_flow_map(data: dict) -> bool:
    """A leaf: scalars and flat lists or maps, written on one line."""
    return not is_section(data) and all(not isinstance(v, (dict, list)) or _flat(v) for v in data.values())


def is_flow_list(data: list) -> bool:
    return all(not isinstance(v, (dict, list)) for v in data)


def _flat(value: Any) -> bool:
    items = value.values() if isinstance(value, dict) else value
    return all(not isinstance(v, (dict, list)) for v in items)


def document_text(doc: dict) -> str:
    """`doc` (a map of sections) as YAML, each nested level indented by two, sequences under their key."""
    if not isinstance(doc, dict) or is_flow_map(doc):
        raise Unsupported("a document that is not a block map")
    out: list[str] = []
    _block_map(doc, "", out)
    return "".join(out)


def _block_map(data: dict, pad: str, out: list[str]) -> None:
    for k, v in data.items():
        key = _key(k, flow=False)
        if type(v) is Flow and (v.text is not None or is_flow_map(v)):
            if v.text is None:
                v.text = _flow(v)
            out.append(f"{pad}{key}: {v.text}\n")
        elif isinstance(v, dict):
            if is_flow_map(v):
                out.append(f"{pad}{key}: {_flow(v)}\n")
            else:
                out.append(f"{pad}{key}:\n")
                _block_map(v, pad + "  ", out)
        elif isinstance(v, list):
            if is_flow_list(v):
                out.append(f"{pad}{key}: {_flow(v)}\n")
            else:
                out.append(f"{pad}{key}:\n")
                _block_list(v, pad + "  ", out)
        else:
            out.append(f"{pad}{key}: {scalar(v, flow=False)}\n")


def _block_list(data: list, pad: str, out: list[str]) -> None:
    for item in data:
        if isinstance(item, dict):
            if not is_flow_map(item):
                raise Unsupported("a map in a list that is not a leaf")
            out.append(f"{pad}- {_flow(item)}\n")
        elif isinstance(item, list):
            raise Unsupported("a list in a list")
        else:
            out.append(f"{pad}- {scalar(item, flow=False)}\n")


def _flow(data: dict | list) -> str:
    if isinstance(data, dict):
        return "{" + ", ".join(f"{_key(k, flow=True)}: {_flow(v) if isinstance(v, (dict, list)) else scalar(v, True)}"
                               for k, v in data.items()) + "}"
    return "[" + ", ".join(_flow(v) if isinstance(v, (dict, list)) else scalar(v, True) for v in data) + "]"


def _key(value: Any, flow: bool) -> str:
    if isinstance(value, str) and not 0 < len(value) < _MAX_SIMPLE_KEY:
        raise Unsupported("an empty or a long key")
    return scalar(value, flow, key=True)


def scalar(value: Any, flow: bool, key: bool = False) -> str:
    """One scalar as PyYAML's SafeDumper writes it (allow_unicode, no line width) in that context."""
    if isinstance(value, str):
        cached = _styles.get((value, flow, key))
        if cached is None:
            if len(_styles) >= _MAX_STYLES:
                _styles.clear()
            cached = _styles[(value, flow, key)] = _string(value, flow, key)
        return cached
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if type(value) is int:
        return str(value)
    raise Unsupported(f"a {type(value).__name__}")


def _string(value: str, flow: bool, key: bool) -> str:
    if _SIMPLE.match(value):
        plain, single, multiline, empty = True, True, False, False
    elif _COLONS.match(value):
        plain, single, multiline, empty = not flow, True, False, False
    else:
        a = _analyzer.analyze_scalar(value)
        plain = a.allow_flow_plain if flow else a.allow_block_plain
        single, multiline, empty = a.allow_single_quoted, a.multiline, a.empty
    # PyYAML's Emitter.choose_scalar_style: plain when the string reads back as a string
    if plain and not (key and (empty or multiline)) and \
            _resolver.resolve(yaml.ScalarNode, value, (True, False)) == STR_TAG:
        return value
    if single and not multiline:
        return "'" + value.replace("'", "''") + "'"
    raise Unsupported("a string that needs double quotes or several lines")
