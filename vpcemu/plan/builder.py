"""PlanBuilder: collects the kernel objects of one lab, in order, into a Plan.

Every plan module (the VPC router in build.py, internet.py, internet_gateway.py, nat_gateway.py,
peering.py, vpc_endpoint.py) is a function of a builder that adds the objects of its part through
these methods; the order they are added in is the order the kernel layer creates them.
"""
from __future__ import annotations

from ..model import Topology
from .state import Address, Neighbour, Plan, RouteEntry, RuleEntry, Veth


class PlanBuilder:
    def __init__(self, topology: Topology, lab: str):
        self.topology = topology
        self.lab = lab
        self._namespaces: list[str] = []
        self._veths: list[Veth] = []
        self._addresses: list[Address] = []
        self._links_up: list[tuple[str, str]] = []
        self._routes: list[RouteEntry] = []
        self._rules: list[RuleEntry] = []
        self._neighbours: list[Neighbour] = []
        self._sysctls: dict[str, dict[str, str]] = {}
        self._nft: dict[str, str] = {}
        self._tx_checksum_off: list[tuple[str, str]] = []
        self._gro_on: list[tuple[str, str]] = []

    def result(self) -> Plan:
        return Plan(self.lab, tuple(self._namespaces), tuple(self._veths), tuple(self._addresses),
                    tuple(self._links_up), tuple(self._routes), tuple(self._rules), tuple(self._neighbours),
                    self._sysctls, self._nft, tuple(self._tx_checksum_off),
                    tuple(self._gro_on))

    def namespace(self, namespace: str) -> None:
        self._namespaces.append(namespace)

    def sysctl(self, namespace: str, key: str, value: object) -> None:
        self._sysctls.setdefault(namespace, {})[key] = str(value)

    def veth(self, veth: Veth) -> None:
        self._veths.append(veth)

    def link_up(self, namespace: str, ifname: str) -> None:
        self._links_up.append((namespace, ifname))

    def address(self, namespace: str, ifname: str, address: str, prefixlen: int) -> None:
        self._addresses.append(Address(namespace, ifname, address, prefixlen))

    def neighbour(self, namespace: str, ifname: str, address: str, mac: str) -> None:
        """A permanent neighbour: the next hop's MAC is planned, so no ARP is ever needed."""
        self._neighbours.append(Neighbour(namespace, ifname, address, mac))

    def route(self, *routes: RouteEntry) -> None:
        self._routes.extend(routes)

    def rule(self, rule: RuleEntry) -> None:
        self._rules.append(rule)

    def ruleset(self, namespace: str, text: str) -> None:
        """The namespace's whole nftables table (see nft.py)."""
        self._nft[namespace] = text

    def tx_checksum_off(self, namespace: str, ifname: str) -> None:
        """A veth end whose sent packets captures check: full checksums, not offload's partial ones."""
        self._tx_checksum_off.append((namespace, ifname))

    def gro_on(self, namespace: str, ifname: str) -> None:
        """A veth end that merges the packets of one flow it receives (GRO), so the rules and conntrack of its
        namespace judge a batch at a time; captures count the packets a merged frame stands for."""
        self._gro_on.append((namespace, ifname))
