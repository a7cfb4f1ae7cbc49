"""`expect:` → the flows the file says AWS would (or would not) carry, checked against the names the
file declares; a `reason:` is one of the Reachability Analyzer codes vpcemu reports (codes.py)."""
from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

from ..codes import ExplanationCode
from ..model import Expectation
from .context import Document

KEYS = ("from", "to", "protocol", "port", "reachable", "via", "not_via", "reason")


def expectations(doc: Document, raw: Any, committed: bool = False) -> tuple[Expectation, ...]:
    """`committed`: a lab's own model, whose expectations may name what a live change deleted."""
    r = doc.r
    out = []
    for i, item in enumerate(r.sequence(raw, "expect")):
        path = f"expect[{i}]"
        e = r.mapping(item, path, KEYS, required=("from", "to", "reachable"))
        src, dst = e.get("from"), e.get("to")
        if src is not None and not committed and \
                doc.names.get(str(src), ("",))[0] not in ("instance", "network interface", "internet host"):
            r.error(f"{path}.from", f"{src!r} is not an instance, ENI or internet host of this topology")
        if dst is not None and not committed and str(dst) not in doc.names and dst not in doc.services:
            try:
                IPv4Address(str(dst))
            except ValueError:
                r.error(f"{path}.to", f"{dst!r} is neither a name in this topology nor an IPv4 address")
        proto = r.choice(e.get("protocol"), f"{path}.protocol", ("tcp", "udp", "icmp"), default="icmp")
        port = None
        if proto in ("tcp", "udp"):
            if e.get("port") is None:
                r.error(f"{path}.port", f"a {proto} expectation needs a port")
            else:
                port = r.integer(e.get("port"), f"{path}.port", 1, 65535)
        elif e.get("port") is not None:
            r.error(f"{path}.port", "icmp has no ports")
        reachable = r.boolean(e.get("reachable"), f"{path}.reachable", True)
        hops = {}
        for key in ("via", "not_via"):
            names = [str(n) for n in r.sequence(e.get(key), f"{path}.{key}")]
            for j, n in enumerate(names):
                if not committed and n not in doc.names and n not in doc.services:
                    r.error(f"{path}.{key}[{j}]", f"{n!r} is not a name in this topology")
            hops[key] = tuple(names)
        reason = e.get("reason")
        # testing membership in the enum itself raises TypeError for a non-member on Python 3.11
        if reason is not None and (not isinstance(reason, str) or reason not in ExplanationCode._value2member_map_):
            r.error(f"{path}.reason", f"{reason!r} is not a Reachability Analyzer explanation code vpcemu reports",
                    hint=f"one of: {', '.join(ExplanationCode)}")
        if reason is not None and reachable:
            r.error(f"{path}.reason", "a reason is given only for `reachable: false`")
        out.append(Expectation(i, str(src), str(dst), proto or "icmp", port, reachable,
                               hops.get("via", ()), hops.get("not_via", ()), reason))
    return tuple(out)
