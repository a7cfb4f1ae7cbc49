"""What an analysis reports: the packet header hop by hop, both legs of a flow, and why it stopped.

The shape follows Reachability Analyzer's NetworkInsightsAnalysis (aws-vpc-reference §11):
`reachable` (NetworkPathFound), `forward` and `return_path` (Forward/ReturnPathComponents, each with
the header after the component), `explanations` (ExplanationCode plus the fields of the rule that
stopped the packet, named as the data path names them in its nft drop comments), `warnings`
(WarningMessage: a path AWS does not support, such as asymmetric routing through an appliance).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from ipaddress import IPv4Address

# The kinds of the components a packet really crosses (what captures see); other hops are "route-table"
# (the route a router used) and "check" (a security group or network ACL rule that let it pass).
PATH_KINDS = ("eni", "nat-gateway", "igw", "peering", "vpc-endpoint", "internet-host", "aws-service",
              "resolver", "vpc-router")
ECHO_REQUEST, ECHO_REPLY = 8, 0


@dataclass(frozen=True)
class Packet:
    """An IPv4 header as far as AWS's rules look at it; for icmp the ports are None and `icmp_type` is set."""

    src: IPv4Address
    dst: IPv4Address
    protocol: str                       # icmp | tcp | udp
    sport: int | None = None
    dport: int | None = None
    icmp_type: int | None = None
    sport_range: str | None = None      # a NAT gateway picks the source port from this range
    dport_range: str | None = None      # … which the answer carries as its destination port

    def reply(self) -> "Packet":
        icmp = ECHO_REPLY if self.icmp_type == ECHO_REQUEST else self.icmp_type
        return Packet(self.dst, self.src, self.protocol, self.dport, self.sport, icmp, self.dport_range,
                      self.sport_range)

    def with_(self, **changes) -> "Packet":
        return replace(self, **changes)


@dataclass
class Hop:
    """One component on a leg, and the header as it leaves that component."""

    component: str                      # `eni web.eth0`, `igw igw`, `route-table private-a`, …
    kind: str
    src: str
    dst: str
    protocol: str
    sport: int | None = None
    dport: int | None = None
    icmp_type: int | None = None
    sport_range: str | None = None
    dport_range: str | None = None
    route: dict | None = None           # route-table hops: {"destination": CIDR or pl- id, "target": …}
    direction: str | None = None        # check hops: ingress | egress
    rule: str | None = None             # check hops: the rule that admitted the packet

    @classmethod
    def of(cls, component: str, kind: str, pkt: Packet, **extra) -> "Hop":
        return cls(component, kind, str(pkt.src), str(pkt.dst), pkt.protocol, pkt.sport, pkt.dport, pkt.icmp_type,
                   pkt.sport_range, pkt.dport_range, **extra)


@dataclass
class Analysis:
    source: str
    destination: str
    protocol: str
    port: int | None
    source_address: str | None
    destination_address: str
    reachable: bool
    forward: list[Hop] = field(default_factory=list)
    return_path: list[Hop] = field(default_factory=list)
    explanations: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)     # what AWS does not support, though it may work here

    def components(self, leg: str = "forward") -> list[str]:
        """The components a packet crosses on one leg, without route tables and rule checks."""
        hops = self.forward if leg == "forward" else self.return_path
        return [h.component for h in hops if h.kind in PATH_KINDS]

    def to_dict(self) -> dict:
        return asdict(self)


class Blocked(Exception):
    """A packet stops here; `explanation` says which component and rule stopped it."""

    def __init__(self, explanation: dict[str, str]):
        super().__init__(explanation["code"])
        self.explanation = explanation
