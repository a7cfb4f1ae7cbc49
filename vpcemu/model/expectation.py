"""Expectation: one `expect:` entry, a flow and what AWS would do with it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Expectation:
    index: int
    source: str
    destination: str
    protocol: str          # tcp | udp | icmp
    port: int | None
    reachable: bool
    via: tuple[str, ...] = ()
    not_via: tuple[str, ...] = ()
    reason: str | None = None
