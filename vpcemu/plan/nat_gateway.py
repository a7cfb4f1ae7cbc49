"""The NAT gateway: a namespace whose only interface is its requester-managed ENI (eth0, in its subnet).

Packets routed to it arrive on eth0 and leave by eth0 again (a hairpin through the VPC router), their
source rewritten to the NAT gateway's private IP with source ports in 1024–65535; for a public NAT
gateway the IGW then maps that private IP to its EIP. It only forwards: no answer to ping, no
unsolicited inbound connection, and only connections that start inside its VPC (aws-vpc-reference §7).
"""
from __future__ import annotations

from ..codes import ExplanationCode
from ..model import NatGateway, Vpc
from . import names
from .builder import PlanBuilder
from .nft import drop, prerouting_chain, ruleset, trace_set

LINK = "eth0"
PORTS = "1024-65535"


def nat_gateway(builder: PlanBuilder, vpc: Vpc, nat: NatGateway) -> None:
    """The namespace and its ruleset; its ENI (eth0) is planned with the VPC's other ENIs."""
    ns = names.nat_gateway_ns(builder.lab, nat.name)
    builder.namespace(ns)
    builder.sysctl(ns, "net/ipv4/ip_forward", 1)
    # packets leave by the interface they came in on: never tell the sender to go direct
    builder.sysctl(ns, "net/ipv4/conf/all/send_redirects", 0)
    builder.sysctl(ns, f"net/ipv4/conf/{LINK}/send_redirects", 0)
    builder.ruleset(ns, nat_gateway_ruleset(vpc, nat))


def nat_gateway_of(vpc: Vpc, network_interface: str) -> NatGateway | None:
    return next((n for n in vpc.nat_gateways.values() if n.network_interface == network_interface), None)


def nat_gateway_ruleset(vpc: Vpc, nat: NatGateway) -> str:
    ip = vpc.network_interfaces[nat.network_interface].private_ip_address
    cidrs = ", ".join(str(c) for c in vpc.cidr_blocks)

    def refused(code: ExplanationCode, detail: str) -> str:
        return drop(code, nat_gateway=nat.name, detail=detail)

    return ruleset(
        trace_set(),
        prerouting_chain(),
        ["  chain to_itself {",
         "    type filter hook input priority filter; policy accept;",
         "    ct state established,related accept",
         "    icmp type echo-request "
         f"{refused(ExplanationCode.NO_POSSIBLE_DESTINATION, 'a-NAT-gateway-does-not-answer-ping')}",
         f"    {refused(ExplanationCode.NO_POSSIBLE_DESTINATION, 'no-unsolicited-inbound-connections')}",
         "  }",
         "  chain forwarded {",
         "    type filter hook forward priority filter; policy accept;",
         "    ct state established,related accept",
         # an answer to a connection it never saw (a private instance's EIP asked from the internet)
         "    ct state invalid "
         f"{refused(ExplanationCode.NGW_SOURCE_ADDRESS_REASSIGN, 'a-reply-to-a-connection-it-never-saw')}",
         f"    ip saddr != {{ {cidrs} }} "
         f"{refused(ExplanationCode.NGW_REQUIRES_SOURCE_IN_VPC, 'connections-must-start-in-its-VPC')}",
         "  }",
         "  chain source_nat {",
         "    type nat hook postrouting priority srcnat; policy accept;",
         f'    oifname "{LINK}" ip saddr != {ip} meta l4proto {{ tcp, udp }} snat to {ip}:{PORTS}',
         f'    oifname "{LINK}" ip saddr != {ip} snat to {ip}',
         "  }"])
