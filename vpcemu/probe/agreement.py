"""Expected (analyze/, from the model) against observed (a probe's real packets): where they differ is a bug.

They agree when both say the same about reachability; when both say blocked, the rule the kernel's
trace names is the one the analysis names (a drop by routing leaves no trace: then the analysis must
name a routing reason); and the components a packet crosses between VPC edges — NAT gateways, IGWs,
peering connections, VPC endpoints, internet hosts — are the same on the forward leg.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..codes import ExplanationCode

if TYPE_CHECKING:
    from ..analyze import Analysis
    from .probe import ProbeResult

EDGE_KINDS = ("nat-gateway", "igw", "peering", "vpc-endpoint", "internet-host")
EDGE_PREFIXES = ("nat-gateway ", "igw ", "peering ", "vpc-endpoint ", "internet host ")
# the kernel drops these by routing or by nobody answering: no nft rule, so no trace to compare
TRACELESS = frozenset({ExplanationCode.NO_ROUTE_TO_DESTINATION, ExplanationCode.BAD_STATE_ROUTE, ExplanationCode.NO_POSSIBLE_DESTINATION,
                       ExplanationCode.BAD_STATE_ATTACHMENT, ExplanationCode.NO_PATH})


def observed_edges(observed: "ProbeResult") -> list[set[str]]:
    """The edge components the probe's own packet crossed, in order; a link several share is a set."""
    out: list[set[str]] = []
    for h in observed.hops:
        if h.leg != "forward" or not h.component.startswith(EDGE_PREFIXES):
            continue
        kind, _, rest = h.component.removesuffix(" (region side)").partition(" ")
        if kind == "internet":                          # "internet host ext"
            kind, _, rest = "internet host", None, rest.removeprefix("host ")
        names = {f"{kind} {n}" for n in rest.split(", ")}
        if not out or out[-1] != names:
            out.append(names)
    return out


def disagreements(expected: "Analysis", observed: "ProbeResult") -> list[str]:
    out = []
    if expected.reachable != observed.reachable:
        out.append(f"expected {'reachable' if expected.reachable else 'not reachable'}, "
                   f"observed {'reachable' if observed.reachable else 'not reachable'}")
    elif not expected.reachable:
        want = {e["code"] for e in expected.explanations}
        got = {e["code"] for e in observed.explanations}
        if got and not want & got:
            out.append(f"expected drop {', '.join(sorted(want))}, the kernel dropped by {', '.join(sorted(got))}")
        elif not got and not want <= TRACELESS:
            out.append(f"expected drop {', '.join(sorted(want))}, but no rule dropped it (a routing drop?)")
    wanted = [h.component for h in expected.forward if h.kind in EDGE_KINDS]
    stopped_at = {e.get("component") for e in expected.explanations}    # a packet reaches what drops it
    seen = observed_edges(observed)
    missing = [c for c in wanted if not any(c in s for s in seen)]
    extra = [sorted(s)[0] for s in seen if not s & (set(wanted) | stopped_at)]
    if missing:
        out.append(f"expected the packet to cross {', '.join(missing)}; it did not")
    if extra:
        out.append(f"the packet crossed {', '.join(extra)}, which the analysis does not expect")
    return out
