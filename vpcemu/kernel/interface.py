"""Hot ENI moves: the instance end of an ENI's veth changes namespace; the router end never moves.

Moving a link to another namespace flushes its addresses, routes and neighbours (kernel-notes §5),
so the caller re-applies the ENI's planned instance-side state in the new namespace afterwards.
"""
from __future__ import annotations

import os

from ..errors import KernelError
from ..plan.state import RuleEntry
from .netns import NETNS_DIR, open_iproute


def move_link(src_ns: str, ifname: str, dst_ns: str, new_ifname: str, transit_ifname: str) -> None:
    """Take `ifname` down, move it to `dst_ns` and name it `new_ifname` there.

    It travels as `transit_ifname` (unique per ENI), so it never clashes with a name in either namespace.
    """
    try:
        with open_iproute(src_ns) as ipr:
            found = ipr.link_lookup(ifname=ifname)
            if not found:
                raise KernelError("link move", src_ns, ifname, None, "no such interface")
            ipr.link("set", index=found[0], state="down")
            if ifname != transit_ifname:
                ipr.link("set", index=found[0], ifname=transit_ifname)
            if src_ns != dst_ns:
                fd = os.open(os.path.join(NETNS_DIR, dst_ns), os.O_RDONLY)
                try:
                    ipr.link("set", index=found[0], net_ns_fd=fd)
                finally:
                    os.close(fd)
        if transit_ifname != new_ifname:
            with open_iproute(dst_ns) as ipr:
                ipr.link("set", index=ipr.link_lookup(ifname=transit_ifname)[0], ifname=new_ifname)
    except OSError as exc:       # NetlinkError is an OSError
        raise KernelError("link move", src_ns, f"{ifname} → {dst_ns}/{new_ifname}", getattr(exc, "code", None),
                          str(exc)) from None


def remove_rules(ns: str, rules: list[RuleEntry]) -> None:
    """Delete `from <ip> lookup <table>` rules an ENI had in an instance."""
    with open_iproute(ns) as ipr:
        for r in rules:
            net, _, length = (r.source or "").partition("/")
            try:
                ipr.rule("del", priority=r.priority, table=r.table, src=net, src_len=int(length or 32))
            except OSError as exc:
                raise KernelError("rule delete", ns, f"pref {r.priority} from {r.source}",
                                  getattr(exc, "code", None), str(exc)) from None


def remove_addresses(ns: str, addresses: list) -> None:
    """Delete planned `Address` entries from their interfaces in `ns`."""
    with open_iproute(ns) as ipr:
        for a in addresses:
            try:
                ipr.addr("del", index=ipr.link_lookup(ifname=a.ifname)[0], address=a.address, prefixlen=a.prefixlen)
            except (OSError, IndexError) as exc:
                raise KernelError("address delete", ns, f"{a.address}/{a.prefixlen} on {a.ifname}",
                                  getattr(exc, "code", None), str(exc)) from None


def point_address(ns: str, table: int, address: str, link: str | None, mac: str | None) -> None:
    """The router's /32 route and permanent neighbour for a private IP: onto `link`, or gone (None)."""
    try:
        with open_iproute(ns) as ipr:
            index = ipr.link_lookup(ifname=link)[0] if link else None
            for n in ipr.get_neighbours(family=2):
                if n.get_attr("NDA_DST") == address and n["ifindex"] != index:
                    ipr.neigh("del", dst=address, ifindex=n["ifindex"])
            if index is None:
                for r in ipr.get_routes(family=2, table=table):
                    if r.get_attr("RTA_DST") == address and r["dst_len"] == 32:
                        ipr.route("del", table=table, dst=address, dst_len=32, oif=r.get_attr("RTA_OIF"),
                                  scope=r["scope"])
                return
            ipr.route("replace", table=table, dst=address, dst_len=32, oif=index, scope="link")
            ipr.neigh("replace", dst=address, lladdr=mac, ifindex=index, state="permanent")
    except (OSError, IndexError) as exc:
        raise KernelError("private IP move", ns, f"{address} → {link}", getattr(exc, "code", None), str(exc)) from None


def set_links(ns: str, ifnames: list[str], up: bool) -> None:
    """Bring links of namespace `ns` up or down (an Availability Zone's ENIs in an outage drill)."""
    try:
        with open_iproute(ns) as ipr:
            for ifname in ifnames:
                ipr.link("set", index=ipr.link_lookup(ifname=ifname)[0], state="up" if up else "down")
    except (OSError, IndexError) as exc:
        raise KernelError("link " + ("up" if up else "down"), ns, ", ".join(ifnames), getattr(exc, "code", None),
                          str(exc)) from None


def delete_link(ns: str, ifname: str) -> None:
    """Delete a veth by its end in `ns` (the other end goes with it)."""
    try:
        with open_iproute(ns) as ipr:
            found = ipr.link_lookup(ifname=ifname)
            if found:
                ipr.link("del", index=found[0])
    except OSError as exc:
        raise KernelError("link delete", ns, ifname, getattr(exc, "code", None), str(exc)) from None
