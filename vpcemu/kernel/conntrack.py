"""Conntrack entries of a namespace, through netlink (pyroute2): forgetting the flows of an address, or all.

A NAT binding lives in its conntrack entry, so a changed 1:1 mapping (an Elastic IP moved) would not
reach a flow already tracked: its packets keep going to the old holder. AWS moves them with the EIP.
A lab reset forgets every flow, so no test inherits the previous one's.
"""
from __future__ import annotations

from ipaddress import IPv4Address
from typing import Iterable

from pyroute2 import Conntrack
from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple, NFCTSocket

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
    """Empty the conntrack table of every namespace in `namespaces` (one netlink flush each, in apply's
    worker threads)."""
    def flush(namespace: str) -> None:
        enter_netns(namespace)
        with NFCTSocket() as ct:
            ct.flush()

    _for_each(namespaces, flush)
