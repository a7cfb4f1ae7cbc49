"""The desired kernel state of a lab as plain values: what `vpcemu plan` prints and `kernel` applies."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Veth:
    """A veth pair created in `namespace` with its peer made directly in `peer_namespace` (no move); both
    ends carry one MTU (rules/mtu.py: what AWS carries over the hop the pair stands for)."""

    namespace: str
    ifname: str
    mac: str
    peer_namespace: str
    peer_ifname: str
    peer_mac: str
    owner: str                      # what it stands for: an ENI id, a transit link
    mtu: int


@dataclass(frozen=True)
class Address:
    namespace: str
    ifname: str
    address: str
    prefixlen: int


@dataclass(frozen=True)
class RouteEntry:
    namespace: str
    table: int
    destination: str                # CIDR
    type: str = "unicast"           # unicast | blackhole | throw
    gateway: str | None = None
    ifname: str | None = None
    scope: str = "universe"         # universe | link
    onlink: bool = False
    comment: str = ""


@dataclass(frozen=True)
class RuleEntry:
    namespace: str
    priority: int
    action: str = "lookup"          # lookup | blackhole
    table: int | None = None
    fwmark: int | None = None
    fwmask: int | None = None
    destination: str | None = None  # CIDR
    source: str | None = None       # CIDR
    comment: str = ""


@dataclass(frozen=True)
class Neighbour:
    """A permanent neighbour entry (fastest ENI moves, no ARP spoofing)."""

    namespace: str
    ifname: str
    address: str
    mac: str


@dataclass(frozen=True)
class Plan:
    lab: str
    namespaces: tuple[str, ...]
    veths: tuple[Veth, ...] = ()
    addresses: tuple[Address, ...] = ()
    links_up: tuple[tuple[str, str], ...] = ()                  # (namespace, ifname)
    routes: tuple[RouteEntry, ...] = ()
    rules: tuple[RuleEntry, ...] = ()
    neighbours: tuple[Neighbour, ...] = ()
    sysctls: dict[str, dict[str, str]] = field(default_factory=dict)     # namespace → {path: value}
    nft: dict[str, str] = field(default_factory=dict)                    # namespace → ruleset text
    tx_checksum_off: tuple[tuple[str, str], ...] = ()           # (namespace, ifname)
    gro_on: tuple[tuple[str, str], ...] = ()                    # (namespace, ifname)
    files: dict[str, str] = field(default_factory=dict)                  # path → content
    symlinks: dict[str, str] = field(default_factory=dict)               # path → what it points to

    def to_dict(self) -> dict:
        return asdict(self)

    def in_namespace(self, namespace: str, items):
        return [i for i in items if i.namespace == namespace]
