"""Conntrack entries of a namespace, through netlink (pyroute2): forgetting the flows of an address.

A NAT binding lives in its conntrack entry, so a changed 1:1 mapping (an Elastic IP moved) would not
reach a flow already tracked: its packets keep going to the old holder. AWS moves them with the EIP.
"""
from __future__ import annotations

from ipaddress import IPv4Address
from typing import Iterable

from pyroute2 import Conntrack
from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple

from .netns import run_in_netns


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
