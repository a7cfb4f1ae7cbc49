"""What every nftables ruleset vpcemu plans shares: the table, its preamble, probe tracing, rule comments, drops.

Each namespace vpcemu filters or translates in (VPC routers, IGWs, NAT gateways, interface endpoints,
the region) holds one `ip vpcemu` table, loaded as one transaction that deletes the old table first.
Namespaces a probe may cross have a `trace_src` set: a probe adds its addresses there while it runs,
so only its packets are traced. Every drop rule carries a comment `code=<explanation code> key=value …`
naming the Reachability Analyzer code and the rule's fields; `drop_explanation` reads it back from a
kernel trace, so the data path names its drops as the analysis does.
"""
from __future__ import annotations

from functools import lru_cache

from collections.abc import Iterable

from ..codes import ExplanationCode

TABLE = "vpcemu"
COMMENT_MAX = 128            # nft refuses longer rule comments
TRACE_SET = "trace_src"


def ruleset(*blocks: Iterable[str]) -> str:
    """The whole table from its blocks' lines; loading it replaces the namespace's table atomically."""
    return "\n".join([f"table ip {TABLE}", f"delete table ip {TABLE}", f"table ip {TABLE} {{",
                      *(line for block in blocks for line in block), "}"]) + "\n"


def trace_set(addresses: Iterable[str] = ()) -> list[str]:
    """The set of addresses being traced; a reload passes the running probes' addresses on."""
    traced = ", ".join(sorted(set(addresses)))
    return [f"  set {TRACE_SET} {{",
            "    type ipv4_addr; flags interval;",
            *([f"    elements = {{ {traced} }};"] if traced else []),
            "  }"]


def prerouting_chain(*rules: str) -> list[str]:
    """The prerouting chain (mangle priority): trace a probe's packets first, then `rules`."""
    return ["  chain prerouting {",
            "    type filter hook prerouting priority mangle; policy accept;",
            f"    ip saddr @{TRACE_SET} meta nftrace set 1",
            f"    ip daddr @{TRACE_SET} meta nftrace set 1",
            *(f"    {rule}" for rule in rules),
            "  }"]


def comment(text: str) -> str:
    """An nft rule comment; a text too long for nft keeps its head and marks the cut."""
    if len(text) > COMMENT_MAX:
        text = text[:COMMENT_MAX - 1] + "~"
    return f'comment "{text}"'


def drop(code: ExplanationCode, **fields: object) -> str:
    """A counted drop whose comment names its explanation code and the fields of the rule, in order."""
    return _drop(code, tuple(fields.items()))


@lru_cache(maxsize=1 << 16)
def _drop(code: ExplanationCode, fields: tuple[tuple[str, object], ...]) -> str:
    # a router's ruleset is rendered again on every live change, with the same drop rules for everything else
    text = " ".join([f"code={ExplanationCode(code)}", *(f"{k}={v}" for k, v in fields)])
    return f"counter drop {comment(text)}"


def drop_explanation(comment_text: str) -> dict[str, str] | None:
    """A drop rule's comment as its explanation fields, `code` an ExplanationCode; None for other rules."""
    fields = dict(part.split("=", 1) for part in comment_text.split() if "=" in part)
    if "code" not in fields:
        return None
    return {**fields, "code": ExplanationCode(fields["code"])}
