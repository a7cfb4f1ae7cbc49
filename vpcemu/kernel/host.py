"""The host's own IPv4 networks, read (never changed) from the namespace vpcemu runs in: `up` keeps a lab's
public addresses clear of them, so no address in a lab stands for one the host itself is on."""
from __future__ import annotations

from ipaddress import IPv4Interface, IPv4Network
from socket import AF_INET

from pyroute2 import IPRoute

RT_SCOPE_UNIVERSE = 0        # linux/rtnetlink.h: a global address


def uplink_networks() -> dict[IPv4Network, str]:
    """network → interface name, for each global IPv4 address of this namespace (its uplinks)."""
    with IPRoute() as ipr:
        names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
        out: dict[IPv4Network, str] = {}
        for a in ipr.get_addr(family=AF_INET):
            if a["scope"] != RT_SCOPE_UNIVERSE:
                continue
            local = a.get_attr("IFA_LOCAL") or a.get_attr("IFA_ADDRESS")
            out.setdefault(IPv4Interface(f"{local}/{a['prefixlen']}").network, names.get(a["index"], "?"))
        return out
