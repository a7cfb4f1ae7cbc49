"""The host's own IPv4 networks, read (never changed) from the namespace vpcemu runs in: `up` keeps a lab's
public addresses clear of them, so no address in a lab stands for one the host itself is on."""
from __future__ import annotations

from ipaddress import IPv4Interface, IPv4Network

from .rtnl import Rtnl

RT_SCOPE_UNIVERSE = 0        # linux/rtnetlink.h: a global address
IFADDRMSG_SCOPE = 3          # ifaddrmsg: family, prefixlen, flags, scope, index


def uplink_networks() -> dict[IPv4Network, str]:
    """network → interface name, for each global IPv4 address of this namespace (its uplinks)."""
    with Rtnl("(the host's)") as rt:
        names = {link.index: link.ifname for link in rt.links()}
        out: dict[IPv4Network, str] = {}
        for a in rt.addresses():
            if a.raw[IFADDRMSG_SCOPE] != RT_SCOPE_UNIVERSE:
                continue
            out.setdefault(IPv4Interface(f"{a.address}/{a.prefixlen}").network, names.get(a.index, "?"))
        return out
