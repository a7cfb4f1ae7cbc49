"""The internet gateway: a namespace between a VPC router and the internet core doing AWS's 1:1 NAT.

    router `igw` ── `vpc` <lab>-igw-<vpc> `inet` ── g<i> core

- outbound, the private source of a mapped ENI IP (public IPv4 or EIP) becomes its public address;
  inbound, a mapped public destination becomes the private IP: the instance only sees private addresses;
- AWS's drop rules (aws-vpc-reference §6), each with its Reachability Analyzer code: egress from a private
  IP with no public mapping, egress to RFC1918 / RFC6598 destinations, ingress from RFC1918 / RFC6598
  sources, ingress to an address that is no ENI's public IP. A private NAT gateway's traffic has no
  mapping, so the IGW drops it, as AWS does.
Mappings live in two maps and two sets: associating an EIP changes elements, never rules.
Its VPC side carries the VPC's jumbo frames, its internet side 1500 bytes (rules/mtu.py), so the IGW
fragments a bigger packet for the internet or, DF set, drops it and answers ICMP "fragmentation needed".
"""
from __future__ import annotations

from functools import partial
from ipaddress import IPv4Address

from ..codes import ExplanationCode
from ..model import Vpc
from ..rules import mtu
from . import names
from .builder import PlanBuilder
from .internet import CORE_HOP, IGW_HOP, MAIN_TABLE, ROUTER_HOP, core_link_to_igw, edge_link, hop
from .nft import drop, prerouting_chain, ruleset, trace_set
from .state import RouteEntry

ROUTER_LINK = "igw"          # the router's end
VPC_LINK = "vpc"             # the IGW's ends
INET_LINK = "inet"
RFC1918 = "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16"
RFC6598 = "100.64.0.0/10"


def public_mappings(vpc: Vpc) -> dict[IPv4Address, IPv4Address]:
    """private → public for every mapped private IP of the VPC's ENIs (EIPs, public IPv4s)."""
    out: dict[IPv4Address, IPv4Address] = {}
    for eni in vpc.network_interfaces.values():
        out.update(eni.public_addresses)
    return dict(sorted(out.items()))


def internet_gateway(builder: PlanBuilder, vpc: Vpc, index: int) -> None:
    lab = builder.lab
    rtr, ns, core = names.router_ns(lab, vpc.name), names.internet_gateway_ns(lab, vpc.name), names.internet_ns(lab)
    builder.namespace(ns)
    builder.sysctl(ns, "net/ipv4/ip_forward", 1)
    builder.address(ns, "lo", IGW_HOP, 32)
    router_mac, igw_vpc_mac = edge_link(builder, rtr, ROUTER_LINK, ns, VPC_LINK, f"igw {vpc.internet_gateway}",
                                         mtu.JUMBO)
    hop(builder, ns, VPC_LINK, ROUTER_HOP, router_mac, MAIN_TABLE, [str(c) for c in vpc.cidr_blocks], f"VPC {vpc.name}")
    builder.neighbour(rtr, ROUTER_LINK, IGW_HOP, igw_vpc_mac)
    core_link = core_link_to_igw(index)
    core_mac, igw_inet_mac = edge_link(builder, core, core_link, ns, INET_LINK, f"igw {vpc.internet_gateway}",
                                        mtu.INTERNET)
    hop(builder, ns, INET_LINK, CORE_HOP, core_mac, MAIN_TABLE, ["0.0.0.0/0"], "the internet")
    hop(builder, core, core_link, IGW_HOP, igw_inet_mac, MAIN_TABLE,
        [f"{p}/32" for p in public_mappings(vpc).values()], f"{vpc.internet_gateway} of {vpc.name}")
    builder.ruleset(ns, igw_ruleset(vpc))


def route_to_igw(rtr: str, table: int, destination: str, comment_text: str) -> RouteEntry:
    return RouteEntry(rtr, table, destination, gateway=IGW_HOP, ifname=ROUTER_LINK, onlink=True, comment=comment_text)


def igw_ruleset(vpc: Vpc) -> str:
    maps = public_mappings(vpc)
    igw = vpc.internet_gateway
    egress, ingress = partial(drop, direction="egress", igw=igw), partial(drop, direction="ingress", igw=igw)

    def elements(items: list[str]) -> list[str]:
        return [f"    elements = {{ {', '.join(items)} }}"] if items else []

    return ruleset(
        trace_set(),
        ["  map public_to_private {", "    type ipv4_addr : ipv4_addr;",
         *elements([f"{pub} : {priv}" for priv, pub in maps.items()]), "  }",
         "  map private_to_public {", "    type ipv4_addr : ipv4_addr;",
         *elements([f"{priv} : {pub}" for priv, pub in maps.items()]), "  }",
         "  set public {", "    type ipv4_addr;", *elements([str(p) for p in maps.values()]), "  }",
         "  set mapped {", "    type ipv4_addr;", *elements([str(p) for p in maps]), "  }"],
        prerouting_chain(
            f'iifname "{VPC_LINK}" ip daddr {{ {RFC1918} }} '
            f'{egress(ExplanationCode.IGW_DESTINATION_ADDRESS_NOT_IN_RFC1918_EGRESS)}',
            f'iifname "{VPC_LINK}" ip daddr {RFC6598} '
            f'{egress(ExplanationCode.IGW_DESTINATION_ADDRESS_NOT_IN_RFC6598_EGRESS)}',
            f'iifname "{VPC_LINK}" ip saddr != @mapped {egress(ExplanationCode.IGW_PUBLIC_IP_ASSOCIATION_FOR_EGRESS)}',
            f'iifname "{INET_LINK}" ip saddr {{ {RFC1918} }} '
            f'{ingress(ExplanationCode.IGW_SOURCE_ADDRESS_NOT_IN_RFC1918_INGRESS)}',
            f'iifname "{INET_LINK}" ip saddr {RFC6598} '
            f'{ingress(ExplanationCode.IGW_SOURCE_ADDRESS_NOT_IN_RFC6598_INGRESS)}',
            f'iifname "{INET_LINK}" ip daddr != @public '
            f'{ingress(ExplanationCode.IGW_PRIVATE_IP_ASSOCIATION_FOR_INGRESS)}'),
        ["  chain public_to_private_nat {",
         "    type nat hook prerouting priority dstnat; policy accept;",
         f'    iifname "{INET_LINK}" dnat to ip daddr map @public_to_private',
         "  }",
         "  chain private_to_public_nat {",
         "    type nat hook postrouting priority srcnat; policy accept;",
         f'    oifname "{INET_LINK}" snat to ip saddr map @private_to_public',
         "  }"])
