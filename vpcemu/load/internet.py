"""`internet:` → the emulated internet's hosts: addresses from the internet pools, used once, and
their listeners."""
from __future__ import annotations

import re
from ipaddress import IPv4Address
from typing import Any

from ..model import InternetHost, Listener
from ..rules.elastic_ip import is_public_unicast
from .context import Document


def hosts(doc: Document, raw: Any) -> dict[str, InternetHost]:
    r, addressing = doc.r, doc.addressing
    data = r.mapping(raw, "internet", ("hosts",))
    out = {}
    seen: dict[IPv4Address, str] = {}
    for hname, hraw in r.named_map(data.get("hosts"), "internet.hosts").items():
        path = f"internet.hosts.{hname}"
        doc.claim(hname, "internet host", path)
        h = r.mapping(hraw, path, ("ip", "listen"), required=("ip",))
        ip = r.address(h.get("ip"), f"{path}.ip") if "ip" in h else None
        if ip is None:
            continue
        if not any(ip in pool for pool in (*addressing.internet, *addressing.public)) and not is_public_unicast(ip):
            r.error(f"{path}.ip", f"{ip} is outside the lab's internet pools ({', '.join(map(str, addressing.internet))})"
                                  " and not a public unicast address",
                    hint="internet hosts take addresses from 198.18.0.0/15 unless `addressing.internet` says otherwise, "
                         "or real public addresses (the lab's internet never reaches the real one)")
        if any(ip in pool for pool in addressing.services):
            r.error(f"{path}.ip", f"{ip} is in the AWS services pool")
        if ip in seen:
            r.error(f"{path}.ip", f"{ip} is already the address of internet host {seen[ip]}")
        elif ip in doc.public_taken:
            r.error(f"{path}.ip", f"{ip} is already the Elastic IP at {doc.public_taken[ip]}",
                    hint="give the internet host another address, from 198.18.0.0/16 by default")
        seen[ip] = hname
        listeners = []
        for i, item in enumerate(r.sequence(h.get("listen"), f"{path}.listen")):
            m = re.fullmatch(r"(tcp|udp)/(\d+)", str(item))
            if not m or not 1 <= int(m.group(2)) <= 65535:
                r.error(f"{path}.listen[{i}]", f"{item!r} is not a listener such as tcp/80 or udp/53")
                continue
            listeners.append(Listener(m.group(1), int(m.group(2))))
        out[hname] = InternetHost(hname, ip, tuple(listeners))
        doc.public_taken[ip] = f"{path}.ip"
    return out
