"""Conntrack entries of a namespace, through netlink (pyroute2): forgetting the flows of an address, or all.

A NAT binding lives in its conntrack entry, so a changed 1:1 mapping (an Elastic IP moved) would not
reach a flow already tracked: its packets keep going to the old holder. AWS moves them with the EIP.
A lab reset forgets every flow, so no test inherits the previous one's.
"""
from __future__ import annotations

import errno
import os
import socket
import struct
from ipaddress import IPv4Address
from typing import Iterable

from pyroute2.conntrack import Conntrack
from pyroute2.netlink import NLM_F_ACK, NLM_F_REQUEST, NLMSG_ERROR
from pyroute2.netlink.nfnetlink import NFNL_SUBSYS_CTNETLINK
from pyroute2.netlink.nfnetlink.nfctsocket import IPCTNL_MSG_CT_DELETE, NFCTAttrTuple

from ..errors import KernelError
from .apply import _for_each
from .netns import enter_netns, run_in_netns


def forget_flows(namespace: str, addresses: Iterable[IPv4Address]) -> int:
    """Delete every entry in `namespace` whose original destination or reply destination is one of
    `addresses` (flows to it, and flows NATed to it); how many were deleted."""
    wanted = [str(a) for a in addresses]

    def body() -> int:
        deleted = 0
        with Conntrack() as ct:
            for address in wanted:
                for side in ({"tuple_orig": NFCTAttrTuple(daddr=address)},
                             {"tuple_reply": NFCTAttrTuple(daddr=address)}):
                    for entry in list(ct.dump_entries(**side)):
                        ct.delete(entry)
                        deleted += 1
        return deleted

    return run_in_netns(namespace, body) if wanted else 0


def forget_all_flows(namespaces: Iterable[str]) -> None:
    """Empty the conntrack table of every namespace in `namespaces`, in apply's worker threads: one ctnetlink
    delete with no tuple (a flush) each, its 20 bytes packed here as rtnl.py packs rtnetlink (pyroute2's
    NFCTSocket costs a millisecond to open per namespace; this, a socket and a send)."""
    def flush(namespace: str) -> None:
        enter_netns(namespace)
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, _NETLINK_NETFILTER) as sock:
            sock.send(_FLUSH)
            reply = sock.recv(4096)
        kind, = struct.unpack_from("=H", reply, 4)
        code, = struct.unpack_from("=i", reply, 16) if kind == NLMSG_ERROR else (0,)
        if code and -code != errno.ENOENT:          # ENOENT: nothing was tracked
            raise KernelError("conntrack flush", namespace, None, -code, os.strerror(-code))

    _for_each(namespaces, flush)


_NETLINK_NETFILTER = 12
_FLUSH = struct.pack("=LHHLLBBH", 20, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE,
                     NLM_F_REQUEST | NLM_F_ACK, 1, 0, socket.AF_INET, 0, 0)
