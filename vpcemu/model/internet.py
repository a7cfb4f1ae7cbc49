"""InternetHost: a public test host in the emulated internet, with the listeners it runs."""
from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address


@dataclass(frozen=True)
class Listener:
    protocol: str      # tcp | udp
    port: int


@dataclass(frozen=True)
class InternetHost:
    name: str
    ip: IPv4Address
    listen: tuple[Listener, ...] = ()
