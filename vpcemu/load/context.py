"""The loader's state: what the whole file shares while it loads (Document) and what one VPC does (VpcContext).

Both are made whole in __init__ from what is read before them; afterwards only the accumulators grow
(names claimed, addresses taken) and `VpcContext.vpc` is replaced as its resources are built.
"""
from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address
from typing import Any, TypeVar

from ..errors import UsageError
from ..model import GATEWAY_SERVICES, Addressing, Vpc
from ..model.prefix_list import managed_prefix_list
from ..rules import names
from .shape import Reader, kind_name

T = TypeVar("T")


class Document:
    """One topology file: its problems, the lab-wide names and public addresses claimed so far, and the
    parts every VPC reads (region, address pools, services, peering pairs, the raw VPCs)."""

    def __init__(self, r: Reader, region: str, addressing: Addressing, services: tuple[str, ...],
                 raw_vpcs: dict[str, Any], peer_names: dict[str, tuple[str, str] | None]):
        self.r = r
        self.region = region
        self.addressing = addressing
        self.services = services
        self.prefix_lists = {s: managed_prefix_list(s, region, addressing.service_cidrs(s)) for s in GATEWAY_SERVICES}
        self.raw_vpcs = raw_vpcs
        self.peer_names = peer_names                        # peering name → (requester, accepter); None: malformed
        self.group_names = {v: _raw_names(raw, "security_groups") | {"default"} for v, raw in raw_vpcs.items()}
        self.names: dict[str, tuple[str, str]] = {}        # global name → (kind, path)
        self.public_taken: dict[IPv4Address, str] = {}     # public address → path of its holder
        self.ids: dict[str, str] = {}                      # AWS id → path of its holder

    def check(self, path: str, rule: Callable[..., T], *args: Any) -> T | None:
        """The rule's value, or None with its refusal filed under `path`."""
        try:
            return rule(*args)
        except UsageError as refused:
            self.r.error(path, refused.message, refused.code, refused.hint)
            return None

    def passes(self, path: str, rule: Callable[..., Any], *args: Any) -> bool:
        try:
            rule(*args)
            return True
        except UsageError as refused:
            self.r.error(path, refused.message, refused.code, refused.hint)
            return False

    def claim(self, name: str, kind: str, path: str) -> bool:
        """Names in `from`, `to`, `via` and `target` are global: each may mean only one thing."""
        if not self.passes(path, names.unused_name, name, self.names, path):
            return False
        self.names[name] = (kind, path)
        return True

    def resource_id(self, value: Any, prefix: str, path: str, derived: str) -> str:
        """The AWS id a resource's `id:` field gives (`path`; an import keeps AWS's), else the one derived from
        its name (unique as names are). Given ids are unique lab-wide; an ENI's kernel link is named after the
        first 10 hex digits of its id (plan/names.py), so two given ENI ids must differ there too."""
        given = None if value is None else self.check(path, names.resource_id, value, prefix)
        if given is None or not self.passes(path, names.unused_id, given, self.ids):
            return derived
        self.ids[given] = path
        if prefix == "eni":
            link = f"link {given[4:14]}"
            if link in self.ids:
                self.r.error(path, f"{given} shares its first 10 hex digits with the ENI id at {self.ids[link]}",
                             hint="vpcemu names each ENI's kernel link after them; change one id")
            self.ids[link] = path
        return given

    def declared_in(self, name: str) -> tuple[str, str] | None:
        """(kind, VPC) of a route target the file declares; routes may name things of VPCs built later."""
        for vname, raw in self.raw_vpcs.items():
            if not isinstance(raw, dict):
                continue
            if raw.get("internet_gateway") == name:
                return "the internet gateway", vname
            for key, kind in (("instances", "an instance"), ("network_interfaces", "a network interface"),
                              ("nat_gateways", "a NAT gateway")):
                section = raw.get(key)
                if isinstance(section, dict) and name in section:
                    return kind, vname
        return None


class VpcContext:
    """One VPC while it is built: its fields, its raw sections, and the private addresses claimed in it."""

    def __init__(self, doc: Document, vpc: Vpc, data: dict):
        r = doc.r
        self.doc = doc
        self.r = r
        self.vpc = vpc
        self.data = data
        self.path = f"vpcs.{vpc.name}"
        self.raw_route_tables = r.named_map(data.get("route_tables"), f"{self.path}.route_tables")
        self.raw_acls = r.named_map(data.get("network_acls"), f"{self.path}.network_acls")
        self.raw_subnets = r.named_map(data.get("subnets"), f"{self.path}.subnets")
        self.raw_groups = r.named_map(data.get("security_groups"), f"{self.path}.security_groups")
        self.main_rt = self.main_route_table_name()
        self.taken: dict[IPv4Address, str] = {}        # private IP → path of its owner

    def main_route_table_name(self) -> str:
        mains = [n for n, v in self.raw_route_tables.items() if isinstance(v, dict) and v.get("main") is True]
        if len(mains) > 1:
            self.r.error(f"{self.path}.route_tables", f"only one route table can be the main one ({', '.join(mains)})",
                         "InvalidParameterValue")
        if mains:
            return mains[0]
        if "main" in self.raw_route_tables:
            self.r.error(f"{self.path}.route_tables.main", "a table named `main` must set `main: true`",
                         hint="or give the main table another name and mark it `main: true`")
        return "main"

    def subnet_ref(self, value: Any, path: str):
        """The built subnet a field names; a subnet with its own error is not reported twice."""
        subnets = self.vpc.subnets
        if value is None:
            self.r.error(path, "is required")
            return None
        if not isinstance(value, str):
            self.r.error(path, f"must be a subnet name, not {kind_name(value)}")
            return None
        if value not in subnets:
            if value not in self.raw_subnets:
                self.r.error(path, f"no subnet named {value!r} in VPC {self.vpc.name}", "InvalidSubnetID.NotFound")
            return None
        return subnets[value]


def _raw_names(raw: Any, section: str) -> set[str]:
    items = raw.get(section) if isinstance(raw, dict) else None
    return set(items) if isinstance(items, dict) else set()
