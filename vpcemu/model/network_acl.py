"""NetworkAcl: stateless, numbered allow/deny entries per direction, checked at the subnet edge."""
from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network


@dataclass(frozen=True)
class NetworkAclEntry:
    rule_number: int
    protocol: str                   # "-1", "tcp", "udp", "icmp" or a number as text
    rule_action: str                # allow | deny
    egress: bool
    cidr_block: IPv4Network
    from_port: int | None = None    # for icmp: type
    to_port: int | None = None      # for icmp: code

    def describe(self) -> str:
        proto = "all" if self.protocol == "-1" else self.protocol
        ports = "" if self.from_port is None else (
            f"/{self.from_port}" if self.from_port == self.to_port else f"/{self.from_port}-{self.to_port}")
        return f"{self.rule_number} {self.rule_action} {proto}{ports} {self.cidr_block}"


@dataclass(frozen=True)
class NetworkAcl:
    name: str
    id: str
    vpc: str
    is_default: bool
    entries: tuple[NetworkAclEntry, ...]

    def ordered(self, egress: bool) -> list[NetworkAclEntry]:
        return sorted((e for e in self.entries if e.egress == egress), key=lambda e: e.rule_number)
