"""VPC endpoints: private paths from a VPC to the AWS region, without the IGW or a NAT gateway.

Gateway endpoints (S3, DynamoDB): a link `gwe` from the VPC router to the region namespace; every route
table the endpoint names gets one kernel route per prefix-list CIDR through it (unless a static route
for the same CIDR is there: on an exact tie AWS prefers the static route). The source stays private.
Only TCP and ICMP echo pass, as AWS documents (VPCE_GATEWAY_PROTOCOL_RESTRICTION).

Interface endpoints: a namespace `<lab>-vpce-<name>` holding the endpoint's requester-managed ENIs
(eth0, eth1 … one per subnet) with their security groups at the router; TCP to an ENI address is
forwarded to the service, sourced from that ENI's IP. It does not answer ping, and the service
cannot start connections back (VPCE_INTRA_VPC_TRAFFIC).

The region answers every VPC over its own link even when VPC CIDRs overlap: a new connection's ct mark
records the link it came in by, and the region's replies are routed by that mark.
"""
from __future__ import annotations

from ..codes import ExplanationCode
from ..model import Topology, Vpc, VpcEndpoint
from ..rules import mtu
from . import names
from .builder import PlanBuilder
from .internet import MAIN_TABLE, REGION_HOP, ROUTER_HOP, edge_link, hop
from .nft import drop, prerouting_chain, ruleset, trace_set
from .state import RouteEntry, RuleEntry

GATEWAY_LINK = "gwe"                 # the VPC router's link to the region
SERVICE_LINK = "svc"                 # an interface endpoint's link to the region
REGION_TABLE_BASE = 3000             # region namespace: one table (and ct mark) per inside link
REGION_RULE_BASE = 3000


def gateway_endpoints(vpc: Vpc) -> list[VpcEndpoint]:
    return [e for e in vpc.endpoints.values() if e.vpc_endpoint_type == "Gateway"]


def interface_endpoint_of(vpc: Vpc, network_interface: str) -> tuple[VpcEndpoint, int] | None:
    for ep in vpc.endpoints.values():
        if network_interface in ep.network_interfaces:
            return ep, ep.network_interfaces.index(network_interface)
    return None


def region_links(topology: Topology) -> list[tuple[str, str, str]]:
    """(region-side ifname, far namespace name role, what) for every link from a VPC into the region,
    in a stable order: gateway links by VPC, interface endpoint links by VPC and endpoint."""
    out = []
    for i, vpc in enumerate(topology.vpcs.values()):
        if gateway_endpoints(vpc):
            out.append((f"v{i}", "gateway", vpc.name))
        for j, ep in enumerate(e for e in vpc.endpoints.values() if e.vpc_endpoint_type == "Interface"):
            out.append((f"i{i}x{j}", "interface", ep.name))
    return out


def endpoints(builder: PlanBuilder) -> None:
    """Every link into the region, its reply routing there, and the interface endpoints' namespaces."""
    t, lab = builder.topology, builder.lab
    region = names.region_ns(lab)
    rules_nft: list[str] = []
    for k, (link, kind, owner) in enumerate(region_links(t)):
        mark, table = k + 1, REGION_TABLE_BASE + k + 1
        if kind == "gateway":
            vpc = t.vpcs[owner]
            far_ns, far_link = names.router_ns(lab, owner), GATEWAY_LINK
            what = "vpc-endpoint " + ", ".join(e.name for e in gateway_endpoints(vpc))
        else:
            far_ns, far_link, what = names.vpc_endpoint_ns(lab, owner), SERVICE_LINK, f"vpc-endpoint {owner} (region side)"
        far_mac, region_mac = edge_link(builder, far_ns, far_link, region, link, what, mtu.INTERNET)
        # a gateway link's routes are the route tables' prefix-list routes; an endpoint's go to its service
        service = [] if kind == "gateway" else [f"{a}/32" for a in t.service_addresses[_endpoint(t, owner).service]]
        hop(builder, far_ns, far_link, REGION_HOP, region_mac, MAIN_TABLE, service, "the AWS region")
        hop(builder, region, link, ROUTER_HOP, far_mac, table, ["0.0.0.0/0"], f"replies to {what}")
        builder.rule(RuleEntry(region, REGION_RULE_BASE + mark, table=table, fwmark=mark, fwmask=0xFFFF,
                               comment=f"replies by the link {link} their connection came in by"))
        rules_nft.append(f'    iifname "{link}" ct state new ct mark set {mark}')
    if rules_nft:
        builder.ruleset(region, ruleset(
            ["  chain link_in {", "    type filter hook prerouting priority mangle; policy accept;", *rules_nft, "  }",
             "  chain reply_out {", "    type route hook output priority mangle; policy accept;",
             "    meta mark set ct mark", "  }"]))


def _endpoint(topology: Topology, name: str) -> VpcEndpoint:
    return next(v.endpoints[name] for v in topology.vpcs.values() if name in v.endpoints)


def interface_endpoint(builder: PlanBuilder, vpc: Vpc, ep: VpcEndpoint) -> None:
    """The endpoint's namespace and ruleset; its ENIs are planned with the VPC's other ENIs."""
    ns = names.vpc_endpoint_ns(builder.lab, ep.name)
    builder.namespace(ns)
    builder.sysctl(ns, "net/ipv4/ip_forward", 1)
    builder.ruleset(ns, interface_endpoint_ruleset(builder.topology, vpc, ep))


def interface_endpoint_ruleset(topology: Topology, vpc: Vpc, ep: VpcEndpoint) -> str:
    service = topology.service_addresses[ep.service][0]
    enis = [vpc.network_interfaces[n] for n in ep.network_interfaces]
    own = ", ".join(str(e.private_ip_address) for e in enis)

    def refused(code: ExplanationCode, detail: str) -> str:
        return drop(code, vpc_endpoint=ep.name, detail=detail)

    snat = [f'    iifname "eth{k}" oifname "{SERVICE_LINK}" snat to {e.private_ip_address}' for k, e in enumerate(enis)]
    return ruleset(
        trace_set(),
        prerouting_chain(),
        ["  chain to_service {",
         "    type nat hook prerouting priority dstnat; policy accept;",
         *([f'    iifname != "{SERVICE_LINK}" ip daddr {{ {own} }} meta l4proto tcp dnat to {service}'] if own else []),
         "  }",
         "  chain to_itself {",
         "    type filter hook input priority filter; policy accept;",
         "    ct state established,related accept",
         "    icmp type echo-request "
         f"{refused(ExplanationCode.NO_POSSIBLE_DESTINATION, 'an-interface-endpoint-does-not-answer-ping')}",
         "    "
         f"{refused(ExplanationCode.NO_POSSIBLE_DESTINATION, 'an-interface-endpoint-forwards-only-TCP-to-its-service')}",
         "  }",
         "  chain forwarded {",
         "    type filter hook forward priority filter; policy accept;",
         "    ct state established,related accept",
         f'    iifname "{SERVICE_LINK}" '
         f'{refused(ExplanationCode.VPCE_INTRA_VPC_TRAFFIC, "the-service-cannot-start-connections")}',
         "  }",
         "  chain from_endpoint {",
         "    type nat hook postrouting priority srcnat; policy accept;",
         *snat,
         "  }"])


def prefix_list_routes(topology: Topology, rtr: str, table: int, rt, route) -> list[RouteEntry]:
    """A gateway endpoint's prefix-list route as one kernel route per CIDR; a static route for the very
    same CIDR wins the tie (aws-vpc-reference §2), longest prefix decides everything else."""
    static = {str(r.destination) for r in rt.routes if r.destination is not None}
    pl = next(p for p in topology.prefix_lists.values() if p.id == route.destination_prefix_list_id)
    return [RouteEntry(rtr, table, str(c), gateway=REGION_HOP, ifname=GATEWAY_LINK, onlink=True,
                       comment=f"{rt.name}: {pl.id} → {route.target}")
            for c in pl.cidrs if str(c) not in static]


def gateway_endpoint_chain(topology: Topology, vpc: Vpc) -> list[str]:
    """Router nft: only TCP and ICMP echo through a gateway endpoint; it emits only from its prefix lists."""
    eps = gateway_endpoints(vpc)
    if not eps:
        return []
    cidrs = ", ".join(sorted({str(c) for ep in eps for c in topology.prefix_lists[ep.service].cidrs}))
    names_ = ",".join(e.name for e in eps)

    def refused(code: ExplanationCode, direction: str) -> str:
        return drop(code, direction=direction, vpc_endpoint=names_)

    return ["  chain gateway_endpoint {",
            "    type filter hook forward priority filter - 35; policy accept;",
            f'    oifname "{GATEWAY_LINK}" meta l4proto tcp accept',
            f'    oifname "{GATEWAY_LINK}" icmp type echo-request accept',
            f'    oifname "{GATEWAY_LINK}" {refused(ExplanationCode.VPCE_GATEWAY_PROTOCOL_RESTRICTION, "egress")}',
            f'    iifname "{GATEWAY_LINK}" ip saddr != {{ {cidrs} }} '
            f'{refused(ExplanationCode.VPCE_GATEWAY_EGRESS_SOURCE_ADDRESS_RESTRICTION, "ingress")}',
            f'    iifname "{GATEWAY_LINK}" ct state new {refused(ExplanationCode.VPCE_INTRA_VPC_TRAFFIC, "ingress")}',
            f'    iifname "{GATEWAY_LINK}" meta l4proto tcp accept',
            f'    iifname "{GATEWAY_LINK}" icmp type echo-reply accept',
            f'    iifname "{GATEWAY_LINK}" {refused(ExplanationCode.VPCE_GATEWAY_PROTOCOL_RESTRICTION, "ingress")}',
            "  }"]
