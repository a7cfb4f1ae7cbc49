"""SecurityGroup: allow-only, stateful rules on ENIs; peers are CIDRs, other groups or prefix lists."""
from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network


@dataclass(frozen=True)
class SecurityGroupRule:
    """`protocol` is "-1" (all), "tcp", "udp", "icmp" or a number as text. For icmp, ports are type and code."""

    protocol: str
    from_port: int | None = None
    to_port: int | None = None
    cidr: IPv4Network | None = None
    group: str | None = None               # a group name in this VPC (or `vpc/name` across a peering)
    prefix_list: str | None = None         # pl:s3 → "s3"
    description: str = ""

    def peer_text(self) -> str:
        if self.cidr is not None:
            return str(self.cidr)
        if self.group is not None:
            return f"sg:{self.group}"
        return f"pl:{self.prefix_list}"

    def describe(self) -> str:
        proto = "all" if self.protocol == "-1" else self.protocol
        if self.from_port is None:
            ports = ""
        elif self.from_port == self.to_port:
            ports = f"/{self.from_port}"
        else:
            ports = f"/{self.from_port}-{self.to_port}"
        return f"{proto}{ports} {self.peer_text()}"


@dataclass(frozen=True)
class SecurityGroup:
    name: str
    id: str
    vpc: str
    ingress: tuple[SecurityGroupRule, ...]
    egress: tuple[SecurityGroupRule, ...]
    description: str = ""
