"""Hot ENI moves: the instance end of an ENI's veth changes namespace; the router end never moves.

Moving a link to another namespace flushes its addresses, routes and neighbours (kernel-notes §5),
so the caller re-applies the ENI's planned instance-side state in the new namespace afterwards.
"""
from __future__ import annotations

import errno
import os

from pyroute2.netlink.exceptions import NetlinkError

from ..errors import KernelError
from ..plan.state import RuleEntry
from .netns import NETNS_DIR, open_iproute

# what a pyroute2 call fails with: the kernel's answer (NetlinkError, which is no OSError) or the socket's
_FAILED = (NetlinkError, OSError)


def move_link(src_ns: str, ifname: str, dst_ns: str, new_ifname: str, transit_ifname: str,
              mac: str | None = None) -> None:
    """Take `ifname` down, move it to `dst_ns` and name it `new_ifname` there.

    Into another namespace it goes in one request (the kernel takes it down, moves it and names it there);
    within one namespace it is renamed through `transit_ifname` (unique per ENI), so it never clashes with a
    name in use. With the link's `mac`, running it again after a crash finishes the move from wherever it
    stopped: the link of that MAC is looked for under its old name or the transit one in `src_ns`, else
    under the transit or the new name in `dst_ns`.
    """
    try:
        # both sockets opened before the link goes down: the move itself is all the outage holds
        with open_iproute(src_ns) as ipr, open_iproute(dst_ns) as dst:
            index = _find(ipr, ifname, mac) or (_find(ipr, transit_ifname, mac) if mac else None)
            if index is not None and src_ns != dst_ns:
                fd = os.open(os.path.join(NETNS_DIR, dst_ns), os.O_RDONLY)
                try:
                    ipr.link("set", index=index, net_ns_fd=fd, ifname=new_ifname)
                finally:
                    os.close(fd)
                return
            if index is not None:
                ipr.link("set", index=index, state="down")
                ipr.link("set", index=index, ifname=transit_ifname)
            elif mac is None:
                raise KernelError("link move", src_ns, ifname, None, "no such interface")
            index = _find(dst, transit_ifname, mac) or (_find(dst, new_ifname, mac) if mac else None)
            if index is None:
                raise KernelError("link move", src_ns, f"{ifname} ({mac or 'any MAC'})", None,
                                  f"no such interface here, nor in {dst_ns}")
            if transit_ifname != new_ifname:
                dst.link("set", index=index, ifname=new_ifname)
    except _FAILED as exc:
        raise KernelError("link move", src_ns, f"{ifname} → {dst_ns}/{new_ifname}", getattr(exc, "code", None),
                          str(exc)) from None


def move_links(moves) -> None:
    """Move link ends, each given as (namespace, ifname, to namespace, to ifname, MAC): every one first
    travels under its MAC's transit name, so no name is taken by a link still on its way out."""
    for ns, ifname, to_ns, _, mac in moves:
        move_link(ns, ifname, to_ns, _transit(mac), _transit(mac), mac=mac)
    for _, _, to_ns, new_ifname, mac in moves:
        move_link(to_ns, _transit(mac), to_ns, new_ifname, _transit(mac), mac=mac)


def _transit(mac: str) -> str:
    """A name unique to the link of `mac`, for its way between namespaces (≤ 15 characters)."""
    return "t" + mac.replace(":", "")[2:]


def _find(ipr, ifname: str, mac: str | None) -> int | None:
    """The index of link `ifname`, if it has MAC `mac` (when one is given)."""
    found = ipr.link_lookup(ifname=ifname)
    if not found:
        return None
    if mac is not None and ipr.get_links(found[0])[0].get_attr("IFLA_ADDRESS") != mac:
        return None
    return found[0]


def remove_rules(ns: str, rules: list[RuleEntry]) -> None:
    """Delete `from <ip> lookup <table>` rules an ENI had in an instance; one already gone is no error."""
    with open_iproute(ns) as ipr:
        for r in rules:
            net, _, length = (r.source or "").partition("/")
            try:
                ipr.rule("del", priority=r.priority, table=r.table, src=net, src_len=int(length or 32))
            except _FAILED as exc:
                if getattr(exc, "code", None) == errno.ENOENT:
                    continue
                raise KernelError("rule delete", ns, f"pref {r.priority} from {r.source}",
                                  getattr(exc, "code", None), str(exc)) from None


def remove_addresses(ns: str, addresses: list) -> None:
    """Delete planned `Address` entries from their interfaces in `ns`. One already gone is no error,
    nor one whose interface is no longer here (a link leaving a namespace loses its addresses)."""
    with open_iproute(ns) as ipr:
        for a in addresses:
            found = ipr.link_lookup(ifname=a.ifname)
            if not found:
                continue
            try:
                ipr.addr("del", index=found[0], address=a.address, prefixlen=a.prefixlen)
            except _FAILED as exc:
                if getattr(exc, "code", None) == errno.EADDRNOTAVAIL:
                    continue
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
    except (*_FAILED, IndexError) as exc:
        raise KernelError("private IP move", ns, f"{address} → {link}", getattr(exc, "code", None), str(exc)) from None


def set_links(ns: str, ifnames: list[str], up: bool) -> None:
    """Bring links of namespace `ns` up or down (an Availability Zone's ENIs in an outage drill)."""
    try:
        with open_iproute(ns) as ipr:
            for ifname in ifnames:
                ipr.link("set", index=ipr.link_lookup(ifname=ifname)[0], state="up" if up else "down")
    except (*_FAILED, IndexError) as exc:
        raise KernelError("link " + ("up" if up else "down"), ns, ", ".join(ifnames), getattr(exc, "code", None),
                          str(exc)) from None


def delete_link(ns: str, ifname: str) -> None:
    """Delete a veth by its end in `ns` (the other end goes with it)."""
    try:
        with open_iproute(ns) as ipr:
            found = ipr.link_lookup(ifname=ifname)
            if found:
                ipr.link("del", index=found[0])
    except _FAILED as exc:
        raise KernelError("link delete", ns, ifname, getattr(exc, "code", None), str(exc)) from None


def set_mac(ns: str, ifname: str, mac: str) -> None:
    """Give link `ifname` of `ns` the MAC `mac`."""
    try:
        with open_iproute(ns) as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname=ifname)[0], address=mac)
    except (*_FAILED, IndexError) as exc:
        raise KernelError("link set address", ns, f"{ifname} → {mac}", getattr(exc, "code", None),
                          str(exc)) from None
