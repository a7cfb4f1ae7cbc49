"""The topology file (format 1) → a validated Topology, or every problem with its path and AWS error code.

AWS's creation-time rules are enforced here, in the order a console user would meet them. Nothing in
this module touches the system: a rejected file creates nothing.
"""
from __future__ import annotations

import re
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

from ..errors import TopologyError
from ..model import (
    GATEWAY_SERVICES, KNOWN_SERVICES, Addressing, Attachment, Expectation, Instance, InternetHost,
    Listener, NatGateway, NetworkAcl, NetworkAclEntry, NetworkInterface, Route, RouteTable,
    SecurityGroup, SecurityGroupRule, Subnet, TargetKind, Topology, Vpc, VpcEndpoint,
    VpcPeeringConnection, aws_id, mac_address,
)
from ..model.prefix_list import managed_prefix_list
from ..rules import limits
from .shape import Reader, kind_name, parse_yaml

TOP_KEYS = ("format", "name", "region", "vpcs", "peering", "internet", "aws", "expect", "addressing")
VPC_KEYS = ("cidr", "secondary_cidrs", "enable_dns_support", "enable_dns_hostnames", "internet_gateway",
            "subnets", "route_tables", "nat_gateways", "security_groups", "network_acls", "endpoints",
            "network_interfaces", "instances")
PROTOCOLS = ("tcp", "udp", "icmp", "all")
LAB_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
PRIVATE_RANGES = (IPv4Network("10.0.0.0/8"), IPv4Network("172.16.0.0/12"), IPv4Network("192.168.0.0/16"))
SHARED_RANGE = IPv4Network("100.64.0.0/10")
LINK_LOCAL = IPv4Network("169.254.0.0/16")
BENCHMARK_RANGE = IPv4Network("198.19.0.0/16")        # restricted as a secondary CIDR (vpc-cidr-blocks)
# never public: RFC 1918, shared, "this network", loopback, link-local, multicast and reserved
NOT_PUBLIC = (*PRIVATE_RANGES, SHARED_RANGE, LINK_LOCAL, IPv4Network("0.0.0.0/8"), IPv4Network("127.0.0.0/8"),
              IPv4Network("224.0.0.0/3"))
EXPLANATION_CODES = (     # the codes vpcemu's data path and analysis report (aws-vpc-reference §11)
    "BAD_STATE_ATTACHMENT", "BAD_STATE_ROUTE", "CANNOT_ROUTE", "ENI_ADDRESS_RESTRICTION", "ENI_SG_RULES_MISMATCH",
    "ENI_SOURCE_DEST_CHECK_RESTRICTION", "GATEWAY_REJECTS_SPOOFED_TRAFFIC", "HIGHER_PRIORITY_ROUTE",
    "IGW_DESTINATION_ADDRESS_NOT_IN_RFC1918_EGRESS", "IGW_DESTINATION_ADDRESS_NOT_IN_RFC6598_EGRESS",
    "IGW_PRIVATE_IP_ASSOCIATION_FOR_INGRESS", "IGW_PUBLIC_IP_ASSOCIATION_FOR_EGRESS",
    "IGW_SOURCE_ADDRESS_NOT_IN_RFC1918_INGRESS", "IGW_SOURCE_ADDRESS_NOT_IN_RFC6598_INGRESS",
    "MORE_SPECIFIC_ROUTE", "NGW_REQUIRES_SOURCE_IN_VPC", "NGW_SOURCE_ADDRESS_REASSIGN", "NO_PATH",
    "NO_POSSIBLE_DESTINATION", "NO_ROUTE_TO_DESTINATION", "PCX_REQUIRES_ADDRESS_IN_VPC_CIDR", "PROTOCOL_RESTRICTION",
    "SG_REFERENCES_NOT_PRESERVED", "SUBNET_ACL_RESTRICTION", "VPCE_GATEWAY_EGRESS_SOURCE_ADDRESS_RESTRICTION",
    "VPCE_GATEWAY_PROTOCOL_RESTRICTION", "VPCE_INTRA_VPC_TRAFFIC",
)


def load_topology(path: str | Path, name: str | None = None) -> Topology:
    """Read and validate a topology file; raise TopologyError listing every problem."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        from ..errors import Problem
        raise TopologyError([Problem(str(path), f"cannot read the file: {exc.strerror}")]) from None
    return load_text(text, source=str(path), default_name=path.stem, name=name)


def load_text(text: str, source: str = "<topology>", default_name: str = "lab", name: str | None = None) -> Topology:
    raw, problems = parse_yaml(text)
    if problems:
        raise TopologyError(problems, source)
    loader = _Loader(raw, default_name, name)
    topology = loader.run()
    if loader.r.problems:
        raise TopologyError(loader.r.problems, source)
    return topology


def _covers(outer: IPv4Network, inner: IPv4Network) -> bool:
    return inner.subnet_of(outer)


class _Loader:
    def __init__(self, raw: Any, default_name: str, name_override: str | None):
        self.r = Reader()
        self.raw = raw
        self.default_name = default_name
        self.name_override = name_override
        self.region = "us-east-1"
        self.names: dict[str, tuple[str, str]] = {}          # global name → (kind, path)
        self.public_taken: dict[IPv4Address, str] = {}     # public address → path of its holder

    # -- helpers -------------------------------------------------------------------------------
    def claim(self, name: str, kind: str, path: str) -> bool:
        """Names in `from`, `to`, `via` and `target` are global: each may mean only one thing."""
        if name in self.names and self.names[name][1] != path:
            other_kind, other_path = self.names[name]
            self.r.error(path, f"name {name!r} is already used by the {other_kind} at {other_path}",
                         hint="names of instances, ENIs, gateways, endpoints, hosts and services must be unique")
            return False
        self.names[name] = (kind, path)
        return True

    # -- top level -----------------------------------------------------------------------------
    def run(self) -> Topology:
        r = self.r
        if self.raw is not None and not isinstance(self.raw, dict):
            r.error("", f"a topology file must be a map with `format: 1` and `vpcs:`, not {kind_name(self.raw)}")
            return Topology(name="lab", region=self.region, vpcs={})
        top = r.mapping(self.raw, "", TOP_KEYS, required=("format", "vpcs"))
        if "format" in top and top["format"] != 1:
            r.error("format", f"{top['format']!r} is not a supported format", hint="this vpcemu reads `format: 1`")
        lab_name = self.name_override or r.string(top.get("name"), "name", default=self.default_name)
        if lab_name and (not LAB_NAME_RE.match(lab_name) or len(lab_name) > limits.LAB_NAME_MAX):
            r.error("name", f"lab name {lab_name!r} must be 1-{limits.LAB_NAME_MAX} characters of a-z, 0-9 and '-'",
                    hint="set `name:` in the file or pass --name")
        region = r.string(top.get("region"), "region", default="us-east-1")
        if region and not REGION_RE.match(region):
            r.error("region", f"{region!r} is not an AWS Region name such as us-east-1")
        self.region = region or "us-east-1"
        addressing = self.addressing = self.addressing(top.get("addressing"))
        services = self.services(top.get("aws"))
        prefix_lists = {
            s: managed_prefix_list(s, self.region, addressing.service_cidrs(s))
            for s in GATEWAY_SERVICES
        }
        self.prefix_lists = prefix_lists
        self.services_offered = services

        raw_vpcs = r.named_map(top.get("vpcs"), "vpcs")
        if "vpcs" in top and not raw_vpcs:
            r.error("vpcs", "at least one VPC is required")
        peering_raw = r.named_map(top.get("peering"), "peering")
        self.peer_names = {p: self.peer_pair(p, v) for p, v in peering_raw.items()}
        # first pass: CIDRs of every VPC, so peering and SG references can be checked
        vpcs = {}
        for vname, vraw in raw_vpcs.items():
            vpc = self.vpc(vname, vraw, raw_vpcs)
            if vpc is not None:
                vpcs[vname] = vpc
        peering = self.peering(peering_raw, vpcs)
        hosts = self.internet(top.get("internet"), addressing, vpcs)
        vpcs = self.assign_public_ips(vpcs)
        topology = Topology(
            name=lab_name or "lab", region=self.region, vpcs=vpcs, peering=peering, internet_hosts=hosts,
            services=services, prefix_lists=prefix_lists, addressing=addressing,
        )
        expect = self.expectations(top.get("expect"))
        return replace(topology, expect=expect)

    def assign_public_ips(self, vpcs: dict[str, Vpc]) -> dict[str, Vpc]:
        """`public_ip: true` takes the next free address of the public pools, in file order."""
        free = (IPv4Address(n) for pool in self.addressing.public
                for n in range(int(pool.network_address) + 10, int(pool.broadcast_address))
                if IPv4Address(n) not in self.public_taken)
        out = {}
        for name, vpc in vpcs.items():
            enis = dict(vpc.network_interfaces)
            for eni_name, eni in enis.items():
                if eni.public_ip and eni.private_ip_address not in eni.eips:
                    address = next(free, None)
                    if address is None:
                        self.r.error(f"vpcs.{name}.instances.{eni.attachment.instance}.public_ip",
                                     "the public address pools are exhausted", "AddressLimitExceeded")
                        continue
                    self.public_taken[address] = f"vpcs.{name}.instances.{eni.attachment.instance}.public_ip"
                    enis[eni_name] = replace(eni, public_ip_address=address)
            out[name] = replace(vpc, network_interfaces=enis)
        return out

    def addressing(self, raw: Any) -> Addressing:
        r = self.r
        data = r.mapping(raw, "addressing", ("public", "internet", "services"))
        default = Addressing()
        pools = {}
        for key in ("public", "internet", "services"):
            if key not in data:
                pools[key] = getattr(default, key)
                continue
            cidrs = tuple(c for i, v in enumerate(r.sequence(data[key], f"addressing.{key}"))
                          if (c := r.cidr(v, f"addressing.{key}[{i}]")) is not None)
            for i, c in enumerate(cidrs):
                if any(c.overlaps(n) for n in NOT_PUBLIC):
                    r.error(f"addressing.{key}[{i}]", f"{c} is not a public range",
                            hint="use the documentation ranges 198.51.100.0/24, 203.0.113.0/24 or 198.18.0.0/15")
            pools[key] = cidrs or getattr(default, key)
        return Addressing(**pools)

    def services(self, raw: Any) -> tuple[str, ...]:
        r = self.r
        data = r.mapping(raw, "aws", ("services",))
        out = []
        for i, s in enumerate(r.sequence(data.get("services"), "aws.services")):
            if s not in KNOWN_SERVICES:
                r.error(f"aws.services[{i}]", f"{s!r} is not a service the emulated region offers",
                        hint=f"known: {', '.join(KNOWN_SERVICES)}")
            elif s in out:
                r.error(f"aws.services[{i}]", f"{s!r} is listed twice")
            else:
                out.append(s)
        return tuple(out)

    def peer_pair(self, pname: str, raw: Any) -> tuple[str, str] | None:
        data = self.r.mapping(raw, f"peering.{pname}", ("requester", "accepter"), required=("requester", "accepter"))
        req, acc = data.get("requester"), data.get("accepter")
        if isinstance(req, str) and isinstance(acc, str):
            return req, acc
        return None

    # -- one VPC -------------------------------------------------------------------------------
    def vpc(self, vname: str, raw: Any, raw_vpcs: dict) -> Vpc | None:
        r = self.r
        path = f"vpcs.{vname}"
        data = r.mapping(raw, path, VPC_KEYS, required=("cidr",))
        cidr = r.cidr(data.get("cidr"), f"{path}.cidr", "InvalidVpc.Range")
        if cidr is None:
            return None
        if not 16 <= cidr.prefixlen <= 28:
            r.error(f"{path}.cidr", f"{cidr} has a /{cidr.prefixlen} mask; a VPC CIDR block must be between /16 and /28",
                    "InvalidVpc.Range")
        secondary = self.secondary_cidrs(cidr, data.get("secondary_cidrs"), path)
        dns_support = r.boolean(data.get("enable_dns_support"), f"{path}.enable_dns_support", True)
        dns_hostnames = r.boolean(data.get("enable_dns_hostnames"), f"{path}.enable_dns_hostnames", False)
        igw = None
        if data.get("internet_gateway") is not None:
            igw = r.string(data.get("internet_gateway"), f"{path}.internet_gateway")
            if igw:
                self.claim(igw, "internet gateway", f"{path}.internet_gateway")
        vpc = Vpc(name=vname, id=aws_id("vpc", vname), cidr_block=cidr, secondary_cidr_blocks=secondary,
                  enable_dns_support=dns_support, enable_dns_hostnames=dns_hostnames, internet_gateway=igw)
        ctx = _VpcContext(self, vpc, data, raw_vpcs)
        return ctx.build()

    def secondary_cidrs(self, primary: IPv4Network, raw: Any, path: str) -> tuple[IPv4Network, ...]:
        r = self.r
        out: list[IPv4Network] = []
        items = r.sequence(raw, f"{path}.secondary_cidrs")
        if len(items) + 1 > limits.MAX_VPC_CIDR_BLOCKS:
            r.error(f"{path}.secondary_cidrs", f"a VPC has at most {limits.MAX_VPC_CIDR_BLOCKS} IPv4 CIDR blocks",
                    "CidrLimitExceeded")
        for i, v in enumerate(items):
            p = f"{path}.secondary_cidrs[{i}]"
            c = r.cidr(v, p, "InvalidVpc.Range")
            if c is None:
                continue
            if not 16 <= c.prefixlen <= 28:
                r.error(p, f"{c}: a VPC CIDR block must be between /16 and /28", "InvalidVpc.Range")
            elif clash := next((o for o in (primary, *out) if c.overlaps(o)), None):
                r.error(p, f"{c} overlaps the VPC's CIDR block {clash}", "InvalidVpc.Range")
            elif restricted := self.restricted_range(primary, c):
                r.error(p, f"{c} is restricted: {restricted}", "InvalidVpc.Range",
                        hint="use a CIDR from the primary CIDR's own private range, 100.64.0.0/10 or a public range")
            else:
                out.append(c)
        return tuple(out)

    @staticmethod
    def restricted_range(primary: IPv4Network, cidr: IPv4Network) -> str | None:
        """AWS's table of IPv4 CIDR block association restrictions, keyed by the primary CIDR's range."""
        if cidr.overlaps(LINK_LOCAL):
            return f"{LINK_LOCAL} can never be used in a VPC"
        home = next((x for x in (*PRIVATE_RANGES, BENCHMARK_RANGE) if primary.subnet_of(x)), None)
        home_text = f"in {home}" if home else "public or in 100.64.0.0/10"
        others = [x for x in PRIVATE_RANGES if x != home]
        if home != BENCHMARK_RANGE:
            others.append(BENCHMARK_RANGE)
        if home == IPv4Network("172.16.0.0/12"):
            others.append(IPv4Network("172.31.0.0/16"))
        clash = next((x for x in others if cidr.overlaps(x)), None)
        if clash is None:
            return None
        return f"a VPC whose primary CIDR ({primary}) is {home_text} cannot add a CIDR block from {clash}"

    # -- peering, internet, expect ---------------------------------------------------------------
    def peering(self, raw: dict, vpcs: dict[str, Vpc]) -> dict[str, VpcPeeringConnection]:
        r = self.r
        out = {}
        pairs = set()
        for pname, pair in self.peer_names.items():
            path = f"peering.{pname}"
            if pair is None:
                continue
            self.claim(pname, "peering connection", path)
            req, acc = pair
            ok = True
            for role, v in (("requester", req), ("accepter", acc)):
                if v not in vpcs:
                    r.error(f"{path}.{role}", f"no VPC named {v!r}", "InvalidVpcID.NotFound")
                    ok = False
            if not ok:
                continue
            if req == acc:
                r.error(path, "a VPC cannot peer with itself", "InvalidParameterValue")
                continue
            if frozenset(pair) in pairs:
                r.error(path, f"{req} and {acc} are already peered; one peering connection per VPC pair",
                        "VpcPeeringConnectionAlreadyExists")
                continue
            overlap = [(a, b) for a in vpcs[req].cidr_blocks for b in vpcs[acc].cidr_blocks if a.overlaps(b)]
            if overlap:
                a, b = overlap[0]
                r.error(path, f"the VPCs have overlapping CIDR blocks ({a} and {b}); AWS refuses the peering",
                        "InvalidParameterValue")
                continue
            pairs.add(frozenset(pair))
            out[pname] = VpcPeeringConnection(pname, aws_id("pcx", pname), req, acc)
        return out

    def internet(self, raw: Any, addressing: Addressing, vpcs: dict[str, Vpc]) -> dict[str, InternetHost]:
        r = self.r
        data = r.mapping(raw, "internet", ("hosts",))
        hosts = {}
        seen: dict[IPv4Address, str] = {}
        for hname, hraw in r.named_map(data.get("hosts"), "internet.hosts").items():
            path = f"internet.hosts.{hname}"
            self.claim(hname, "internet host", path)
            h = r.mapping(hraw, path, ("ip", "listen"), required=("ip",))
            ip = r.address(h.get("ip"), f"{path}.ip") if "ip" in h else None
            if ip is None:
                continue
            if not any(ip in pool for pool in (*addressing.internet, *addressing.public)):
                r.error(f"{path}.ip", f"{ip} is outside the lab's internet pools "
                                      f"({', '.join(map(str, addressing.internet))})",
                        hint="internet hosts take addresses from 198.18.0.0/15 unless `addressing.internet` says otherwise")
            if any(ip in pool for pool in addressing.services):
                r.error(f"{path}.ip", f"{ip} is in the AWS services pool")
            if ip in seen:
                r.error(f"{path}.ip", f"{ip} is already the address of internet host {seen[ip]}")
            elif ip in self.public_taken:
                r.error(f"{path}.ip", f"{ip} is already the Elastic IP at {self.public_taken[ip]}",
                        hint="give the internet host another address, from 198.18.0.0/16 by default")
            seen[ip] = hname
            listeners = []
            for i, item in enumerate(r.sequence(h.get("listen"), f"{path}.listen")):
                m = re.fullmatch(r"(tcp|udp)/(\d+)", str(item))
                if not m or not 1 <= int(m.group(2)) <= 65535:
                    r.error(f"{path}.listen[{i}]", f"{item!r} is not a listener such as tcp/80 or udp/53")
                    continue
                listeners.append(Listener(m.group(1), int(m.group(2))))
            hosts[hname] = InternetHost(hname, ip, tuple(listeners))
            self.public_taken[ip] = f"{path}.ip"
        return hosts

    def expectations(self, raw: Any) -> tuple[Expectation, ...]:
        r = self.r
        out = []
        for i, item in enumerate(r.sequence(raw, "expect")):
            path = f"expect[{i}]"
            e = r.mapping(item, path, ("from", "to", "protocol", "port", "reachable", "via", "not_via", "reason"),
                          required=("from", "to", "reachable"))
            src, dst = e.get("from"), e.get("to")
            if src is not None and self.names.get(str(src), ("",))[0] not in ("instance", "network interface", "internet host"):
                r.error(f"{path}.from", f"{src!r} is not an instance, ENI or internet host of this topology")
            if dst is not None and str(dst) not in self.names and dst not in self.services_offered:
                try:
                    IPv4Address(str(dst))
                except ValueError:
                    r.error(f"{path}.to", f"{dst!r} is neither a name in this topology nor an IPv4 address")
            proto = r.choice(e.get("protocol"), f"{path}.protocol", ("tcp", "udp", "icmp"), default="icmp")
            port = None
            if proto in ("tcp", "udp"):
                if e.get("port") is None:
                    r.error(f"{path}.port", f"a {proto} expectation needs a port")
                else:
                    port = r.integer(e.get("port"), f"{path}.port", 1, 65535)
            elif e.get("port") is not None:
                r.error(f"{path}.port", "icmp has no ports")
            reachable = r.boolean(e.get("reachable"), f"{path}.reachable", True)
            hops = {}
            for key in ("via", "not_via"):
                names = [str(n) for n in r.sequence(e.get(key), f"{path}.{key}")]
                for j, n in enumerate(names):
                    if n not in self.names and n not in self.services_offered:
                        r.error(f"{path}.{key}[{j}]", f"{n!r} is not a name in this topology")
                hops[key] = tuple(names)
            reason = e.get("reason")
            if reason is not None and reason not in EXPLANATION_CODES:
                r.error(f"{path}.reason", f"{reason!r} is not a Reachability Analyzer explanation code vpcemu reports",
                        hint=f"one of: {', '.join(EXPLANATION_CODES)}")
            if reason is not None and reachable:
                r.error(f"{path}.reason", "a reason is given only for `reachable: false`")
            out.append(Expectation(i, str(src), str(dst), proto or "icmp", port, reachable,
                                   hops.get("via", ()), hops.get("not_via", ()), reason))
        return tuple(out)


class _VpcContext:
    """Builds one VPC: subnets, SGs, NACLs, ENIs and instances, gateways, endpoints, then routes."""

    def __init__(self, loader: _Loader, vpc: Vpc, data: dict, raw_vpcs: dict):
        self.L = loader
        self.r = loader.r
        self.vpc = vpc
        self.data = data
        self.raw_vpcs = raw_vpcs
        self.path = f"vpcs.{vpc.name}"
        self.taken: dict[IPv4Address, str] = {}        # private IP → path of its owner

    def build(self) -> Vpc:
        d, p = self.data, self.path
        self.raw_route_tables = self.r.named_map(d.get("route_tables"), f"{p}.route_tables")
        self.raw_acls = self.r.named_map(d.get("network_acls"), f"{p}.network_acls")
        self.main_rt = self.main_route_table_name()
        subnets = self.subnets()
        security_groups = self.security_groups()
        network_acls = self.network_acls()
        self.vpc = replace(self.vpc, subnets=subnets, security_groups=security_groups, network_acls=network_acls)
        nat_requests = self.nat_gateway_requests()
        enis, instances = self.interfaces_and_instances()
        nat_gateways = self.nat_gateways(nat_requests, enis)
        endpoints = self.endpoints(enis)
        self.vpc = replace(self.vpc, network_interfaces=enis, instances=instances, nat_gateways=nat_gateways,
                           endpoints=endpoints)
        self.vpc = replace(self.vpc, route_tables=self.route_tables())
        self.check_instance_limits()
        return self.vpc

    # -- subnets ---------------------------------------------------------------------------------
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

    def subnets(self) -> dict[str, Subnet]:
        r, vpc = self.r, self.vpc
        raw = self.raw_subnets = r.named_map(self.data.get("subnets"), f"{self.path}.subnets")
        if len(raw) > limits.MAX_SUBNETS_PER_VPC:
            r.error(f"{self.path}.subnets", f"at most {limits.MAX_SUBNETS_PER_VPC} subnets per VPC", "SubnetLimitExceeded")
        out: dict[str, Subnet] = {}
        for sname, sraw in raw.items():
            path = f"{self.path}.subnets.{sname}"
            s = r.mapping(sraw, path, ("cidr", "az", "route_table", "network_acl"), required=("cidr", "az"))
            cidr = r.cidr(s.get("cidr"), f"{path}.cidr", "InvalidSubnet.Range") if "cidr" in s else None
            az = r.string(s.get("az"), f"{path}.az") if "az" in s else None
            if az and not re.fullmatch(re.escape(self.L.region) + r"[a-z]", az):
                r.error(f"{path}.az", f"{az!r} is not an Availability Zone of {self.L.region} (such as {self.L.region}a)",
                        "InvalidParameterValue")
            rt = r.string(s.get("route_table"), f"{path}.route_table", default=self.main_rt)
            if rt is not None and rt not in self.raw_route_tables and rt != self.main_rt:
                r.error(f"{path}.route_table", f"no route table named {rt!r} in VPC {vpc.name}", "InvalidRouteTableID.NotFound")
            acl = r.string(s.get("network_acl"), f"{path}.network_acl", default="default")
            if acl is not None and acl != "default" and acl not in self.raw_acls:
                r.error(f"{path}.network_acl", f"no network ACL named {acl!r} in VPC {vpc.name}", "InvalidNetworkAclID.NotFound")
            if cidr is None or az is None or rt is None or acl is None:
                continue
            if not 16 <= cidr.prefixlen <= 28:
                r.error(f"{path}.cidr", f"{cidr} has a /{cidr.prefixlen} mask; a subnet CIDR block must be between /16 and /28",
                        "InvalidSubnet.Range")
                continue
            if not any(cidr.subnet_of(c) for c in vpc.cidr_blocks):
                r.error(f"{path}.cidr", f"{cidr} is not inside the VPC CIDR {', '.join(map(str, vpc.cidr_blocks))}",
                        "InvalidSubnet.Range")
                continue
            clash = next((o for o in out.values() if o.cidr_block.overlaps(cidr)), None)
            if clash:
                r.error(f"{path}.cidr", f"{cidr} overlaps subnet {clash.name} ({clash.cidr_block})", "InvalidSubnet.Conflict")
                continue
            out[sname] = Subnet(sname, aws_id("subnet", vpc.name, sname), vpc.name, cidr, az, rt, acl)
        return out

    # -- security groups -------------------------------------------------------------------------
    def security_groups(self) -> dict[str, SecurityGroup]:
        r, vpc = self.r, self.vpc
        raw = r.named_map(self.data.get("security_groups"), f"{self.path}.security_groups")
        names = self.sg_names = set(raw) | {"default"}
        out = {}
        if "default" not in raw:
            out["default"] = SecurityGroup(
                "default", aws_id("sg", vpc.name, "default"), vpc.name,
                ingress=(SecurityGroupRule("-1", group="default"),),
                egress=(SecurityGroupRule("-1", cidr=IPv4Network("0.0.0.0/0")),),
                description="default VPC security group")
        for gname, graw in raw.items():
            path = f"{self.path}.security_groups.{gname}"
            if gname.lower().startswith("sg-"):
                r.error(path, "security group names cannot start with `sg-`", "InvalidParameterValue")
            g = r.mapping(graw, path, ("description", "ingress", "egress"))
            ingress = self.sg_rules(g.get("ingress"), f"{path}.ingress", "source", names)
            if "egress" in g:
                egress = self.sg_rules(g.get("egress"), f"{path}.egress", "destination", names)
            else:   # AWS: a new group allows all outbound traffic
                egress = (SecurityGroupRule("-1", cidr=IPv4Network("0.0.0.0/0")),)
            out[gname] = SecurityGroup(gname, aws_id("sg", vpc.name, gname), vpc.name, ingress, egress,
                                       str(g.get("description") or ""))
        return out

    def sg_rules(self, raw: Any, path: str, peer_key: str, names: set[str]) -> tuple[SecurityGroupRule, ...]:
        r = self.r
        items = r.sequence(raw, path)
        if len(items) > limits.MAX_SG_RULES_PER_DIRECTION:
            r.error(path, f"at most {limits.MAX_SG_RULES_PER_DIRECTION} rules per direction", "RulesPerSecurityGroupLimitExceeded")
        rules = []
        for i, item in enumerate(items):
            p = f"{path}[{i}]"
            d = r.mapping(item, p, ("protocol", "ports", peer_key, "icmp_type", "icmp_code", "description"),
                          required=("protocol", peer_key))
            proto, low, high = self.protocol_ports(d, p)
            peer = d.get(peer_key)
            if proto is None or peer is None:
                continue
            peer_path = f"{p}.{peer_key}"
            cidr = group = plist = None
            if isinstance(peer, str) and peer.startswith("sg:"):
                group = peer[3:]
                if "/" in group:
                    other_vpc, other = group.split("/", 1)
                    if not self.peered_with(other_vpc):
                        r.error(peer_path, f"{peer}: VPC {other_vpc!r} is not peered with {self.vpc.name}",
                                "InvalidGroup.NotFound", hint="security groups can be referenced only in this VPC or a peered VPC")
                    elif other not in self.raw_sg_names(other_vpc):
                        r.error(peer_path, f"{peer}: no security group {other!r} in VPC {other_vpc}", "InvalidGroup.NotFound")
                elif group not in names:
                    r.error(peer_path, f"{peer}: no security group {group!r} in VPC {self.vpc.name}", "InvalidGroup.NotFound")
            elif isinstance(peer, str) and peer.startswith("pl:"):
                plist = peer[3:]
                if plist not in self.L.prefix_lists:
                    r.error(peer_path, f"{peer}: no prefix list {plist!r}", "InvalidPrefixListId.NotFound",
                            hint=f"known: {', '.join('pl:' + k for k in self.L.prefix_lists)}")
            else:
                cidr = r.cidr(peer, peer_path, "InvalidParameterValue")
                if cidr is None:
                    continue
            rules.append(SecurityGroupRule(proto, low, high, cidr, group, plist, str(d.get("description") or "")))
        return tuple(rules)

    def protocol_ports(self, d: dict, p: str) -> tuple[str | None, int | None, int | None]:
        """protocol + ports (or icmp_type/icmp_code) → AWS's (IpProtocol, FromPort, ToPort)."""
        r = self.r
        proto_raw = d.get("protocol")
        if isinstance(proto_raw, int) and not isinstance(proto_raw, bool) and 0 <= proto_raw <= 255:
            proto = {6: "tcp", 17: "udp", 1: "icmp"}.get(proto_raw, str(proto_raw))
        elif proto_raw in PROTOCOLS:
            proto = "-1" if proto_raw == "all" else proto_raw
        else:
            r.error(f"{p}.protocol", f"{proto_raw!r} is not a protocol", "InvalidParameterValue",
                    hint="tcp, udp, icmp, all, or an IP protocol number 0-255")
            return None, None, None
        ports = r.port_range(d.get("ports"), f"{p}.ports")
        if proto == "icmp":
            if ports is not None:
                r.error(f"{p}.ports", "icmp has no ports; use icmp_type and icmp_code", "InvalidParameterValue")
            t, c = d.get("icmp_type"), d.get("icmp_code")
            if t is None:
                if c is not None:
                    r.error(f"{p}.icmp_code", "icmp_code needs icmp_type", "InvalidParameterValue")
                return proto, None, None
            t = r.integer(t, f"{p}.icmp_type", 0, 255, "InvalidParameterValue")
            c = -1 if c is None else r.integer(c, f"{p}.icmp_code", 0, 255, "InvalidParameterValue")
            return proto, t, c
        for key in ("icmp_type", "icmp_code"):
            if d.get(key) is not None:
                r.error(f"{p}.{key}", f"{key} applies only to protocol icmp", "InvalidParameterValue")
        if proto in ("tcp", "udp"):
            low, high = ports if ports else (0, 65535)
            return proto, low, high
        if ports is not None:
            r.error(f"{p}.ports", f"ports apply only to tcp and udp, not protocol {d.get('protocol')}", "InvalidParameterValue")
        return proto, None, None

    def peered_with(self, other_vpc: str) -> bool:
        return any(pair and set(pair) == {self.vpc.name, other_vpc} for pair in self.L.peer_names.values())

    def raw_sg_names(self, vpc_name: str) -> set[str]:
        raw = self.raw_vpcs.get(vpc_name)
        groups = raw.get("security_groups") if isinstance(raw, dict) else None
        return (set(groups) if isinstance(groups, dict) else set()) | {"default"}

    # -- network ACLs ----------------------------------------------------------------------------
    def network_acls(self) -> dict[str, NetworkAcl]:
        r, vpc = self.r, self.vpc
        out = {}
        if "default" not in self.raw_acls:
            everything = IPv4Network("0.0.0.0/0")
            out["default"] = NetworkAcl("default", aws_id("acl", vpc.name, "default"), vpc.name, True, (
                NetworkAclEntry(100, "-1", "allow", False, everything),
                NetworkAclEntry(100, "-1", "allow", True, everything)))
        for aname, araw in self.raw_acls.items():
            path = f"{self.path}.network_acls.{aname}"
            a = r.mapping(araw, path, ("ingress", "egress"))
            entries = []
            for direction, egress, peer_key in (("ingress", False, "source"), ("egress", True, "destination")):
                items = r.sequence(a.get(direction), f"{path}.{direction}")
                if len(items) > limits.MAX_NACL_RULES_PER_DIRECTION:
                    r.error(f"{path}.{direction}", f"at most {limits.MAX_NACL_RULES_PER_DIRECTION} rules per direction",
                            "NetworkAclEntryLimitExceeded")
                numbers: set[int] = set()
                for i, item in enumerate(items):
                    p = f"{path}.{direction}[{i}]"
                    d = r.mapping(item, p, ("rule", "protocol", "ports", peer_key, "action", "icmp_type", "icmp_code"),
                                  required=("rule", "protocol", peer_key, "action"))
                    number = r.integer(d.get("rule"), f"{p}.rule", 1, 32766, "InvalidParameterValue") if "rule" in d else None
                    if number is not None and number in numbers:
                        r.error(f"{p}.rule", f"rule number {number} is already used in {direction}", "NetworkAclEntryAlreadyExists")
                    numbers.add(number)
                    action = r.choice(d.get("action"), f"{p}.action", ("allow", "deny")) if "action" in d else None
                    proto, low, high = self.protocol_ports(d, p) if "protocol" in d else (None, None, None)
                    peer = d.get(peer_key)
                    if isinstance(peer, str) and peer.startswith(("pl:", "sg:")):
                        r.error(f"{p}.{peer_key}", f"{peer}: network ACL rules take CIDR blocks only "
                                                   "(no prefix lists or security groups)", "InvalidParameterValue")
                        continue
                    cidr = r.cidr(peer, f"{p}.{peer_key}") if peer is not None else None
                    if None in (number, action, proto, cidr):
                        continue
                    entries.append(NetworkAclEntry(number, proto, action, egress, cidr, low, high))
            out[aname] = NetworkAcl(aname, aws_id("acl", vpc.name, aname), vpc.name, aname == "default", tuple(entries))
        return out

    # -- ENIs and instances ----------------------------------------------------------------------
    def claim_ip(self, ip: IPv4Address, subnet: Subnet, path: str) -> bool:
        r = self.r
        if ip not in subnet.cidr_block:
            r.error(path, f"{ip} is not in subnet {subnet.name} ({subnet.cidr_block})", "InvalidParameterValue",
                    hint="an ENI's private IPs come from its own subnet")
            return False
        if subnet.is_reserved(ip):
            r.error(path, f"{ip} is reserved by AWS in {subnet.cidr_block} (the first four and the last address)",
                    "InvalidParameterValue")
            return False
        if ip in self.taken:
            r.error(path, f"{ip} is already assigned at {self.taken[ip]}", "InvalidIPAddress.InUse")
            return False
        self.taken[ip] = path
        return True

    def next_free(self, subnet: Subnet, path: str) -> IPv4Address | None:
        for ip in subnet.assignable():
            if ip not in self.taken:
                self.taken[ip] = path
                return ip
        self.r.error(path, f"subnet {subnet.name} ({subnet.cidr_block}) has no free address left",
                     "InsufficientFreeAddressesInSubnet",
                     hint=f"its {subnet.cidr_block.num_addresses - 5} usable addresses are taken (AWS reserves 5); "
                          "use a larger subnet")
        return None

    def subnet_ref(self, value: Any, path: str) -> Subnet | None:
        subnets = self.vpc.subnets
        if value is None:
            self.r.error(path, "is required")
            return None
        if not isinstance(value, str):
            self.r.error(path, f"must be a subnet name, not {kind_name(value)}")
            return None
        if value not in subnets:
            if value not in self.raw_subnets:   # a subnet with its own error is not reported twice
                self.r.error(path, f"no subnet named {value!r} in VPC {self.vpc.name}", "InvalidSubnetID.NotFound")
            return None
        return subnets[value]

    def group_refs(self, value: Any, path: str) -> tuple[str, ...]:
        r = self.r
        if value is None:
            return ("default",)
        groups = tuple(str(g) for g in r.sequence(value, path))
        for i, g in enumerate(groups):
            if g not in self.sg_names:
                r.error(f"{path}[{i}]", f"no security group {g!r} in VPC {self.vpc.name}", "InvalidGroup.NotFound")
        if len(groups) > limits.MAX_SECURITY_GROUPS_PER_ENI:
            r.error(path, f"{len(groups)} security groups; an ENI may have at most {limits.MAX_SECURITY_GROUPS_PER_ENI}",
                    "SecurityGroupsPerInterfaceLimitExceeded")
        if len(set(groups)) != len(groups):
            r.error(path, "a security group is listed twice", "InvalidParameterValue")
        return groups

    def public_address(self, value: Any, path: str) -> IPv4Address | None:
        """An Elastic IP: from the lab's public pools, used once."""
        r = self.r
        ip = r.address(value, path, "InvalidAddress.NotFound")
        if ip is None:
            return None
        pools = self.L.addressing.public
        if not any(ip in pool for pool in pools):
            r.error(path, f"{ip} is not in the lab's public address pools ({', '.join(map(str, pools))})",
                    "InvalidAddress.NotFound", hint="Elastic IPs come from 198.51.100.0/24 and 203.0.113.0/24 unless "
                                                    "`addressing.public` says otherwise")
            return None
        if ip in self.L.public_taken:
            r.error(path, f"Elastic IP {ip} is already associated at {self.L.public_taken[ip]}",
                    "Resource.AlreadyAssociated", hint="an Elastic IP maps to one private IP at a time")
            return None
        self.L.public_taken[ip] = path
        return ip

    def mac(self, value: Any, path: str, default: str) -> str:
        if value is None:
            return default
        text = str(value).lower()
        if not MAC_RE.match(text) or int(text[:2], 16) & 1 or text == "00:00:00:00:00:00":
            self.r.error(path, f"{value!r} is not a unicast MAC address such as 0e:12:34:56:78:9a", "InvalidParameterValue")
            return default
        return text

    def interfaces_and_instances(self) -> tuple[dict[str, NetworkInterface], dict[str, Instance]]:
        r, vpc = self.r, self.vpc
        raw_instances = r.named_map(self.data.get("instances"), f"{self.path}.instances")
        raw_enis = r.named_map(self.data.get("network_interfaces"), f"{self.path}.network_interfaces")
        inst_keys = ("subnet", "private_ip", "secondary_private_ips", "public_ip", "eip", "security_groups",
                     "instance_type", "source_dest_check", "forwarding", "mac")
        eni_keys = ("subnet", "private_ips", "eips", "security_groups", "source_dest_check", "attachment", "mac",
                    "description")
        inst_data = {n: r.mapping(v, f"{self.path}.instances.{n}", inst_keys, required=("subnet",))
                     for n, v in raw_instances.items()}
        eni_data = {n: r.mapping(v, f"{self.path}.network_interfaces.{n}", eni_keys, required=("subnet",))
                    for n, v in raw_enis.items()}
        # explicit addresses first, so automatic ones never take an address someone asked for
        explicit: dict[str, list[IPv4Address | None]] = {}
        subnet_of: dict[str, Subnet | None] = {}
        for n, d in inst_data.items():
            path = f"{self.path}.instances.{n}"
            if self.L.claim(n, "instance", path):
                self.L.claim(f"{n}.eth0", "network interface", path)
            subnet = subnet_of[f"i:{n}"] = self.subnet_ref(d.get("subnet"), f"{path}.subnet")
            ips: list[IPv4Address | None] = []
            if subnet is not None:
                ips.append(self.explicit_ip(d.get("private_ip"), subnet, f"{path}.private_ip"))
                for i, v in enumerate(r.sequence(d.get("secondary_private_ips"), f"{path}.secondary_private_ips")):
                    ips.append(self.explicit_ip(v, subnet, f"{path}.secondary_private_ips[{i}]") or False)
            explicit[f"i:{n}"] = ips
        for n, d in eni_data.items():
            path = f"{self.path}.network_interfaces.{n}"
            self.L.claim(n, "network interface", path)
            subnet = subnet_of[f"e:{n}"] = self.subnet_ref(d.get("subnet"), f"{path}.subnet")
            ips = []
            if subnet is not None:
                items = r.sequence(d.get("private_ips"), f"{path}.private_ips")
                ips = [self.explicit_ip(v, subnet, f"{path}.private_ips[{i}]") or False for i, v in enumerate(items)]
                if not items:
                    ips = [None]
            explicit[f"e:{n}"] = ips

        enis: dict[str, NetworkInterface] = {}
        instances: dict[str, Instance] = {}
        for n, d in inst_data.items():
            path = f"{self.path}.instances.{n}"
            subnet = subnet_of[f"i:{n}"]
            if subnet is None:
                continue
            ips = self.finish_ips(explicit[f"i:{n}"], subnet, path)
            eni_name = f"{n}.eth0"
            eips = {}
            public_ip = r.boolean(d.get("public_ip"), f"{path}.public_ip", False)
            if public_ip and any(isinstance(a, dict) and a.get("instance") == n
                                 for a in (e.get("attachment") for e in eni_data.values())):
                r.error(f"{path}.public_ip", "AWS cannot auto-assign a public IPv4 to an instance launched with more "
                        "than one network interface", "InvalidParameterCombination", hint="use `eip:` instead")
            if d.get("eip") is not None:
                if public_ip:
                    r.error(f"{path}.eip", "give either `public_ip: true` or `eip:`, not both", "InvalidParameterCombination")
                eip = self.public_address(d.get("eip"), f"{path}.eip")
                if eip is not None and ips:
                    eips[ips[0]] = eip
            forwarding = r.boolean(d.get("forwarding"), f"{path}.forwarding", False)
            itype = r.string(d.get("instance_type"), f"{path}.instance_type", default=None)
            if itype is not None and itype not in limits.INSTANCE_TYPES:
                r.error(f"{path}.instance_type", f"{itype!r} is not an instance type vpcemu knows the limits of",
                        "InvalidInstanceType", hint=f"known: {', '.join(limits.INSTANCE_TYPES)}")
                itype = None
            if not ips:
                continue
            eni_id = aws_id("eni", vpc.name, eni_name)
            enis[eni_name] = NetworkInterface(
                eni_name, eni_id, vpc.name, subnet.name, tuple(ips),
                self.mac(d.get("mac"), f"{path}.mac", mac_address(vpc.name, eni_name)),
                self.group_refs(d.get("security_groups"), f"{path}.security_groups"),
                source_dest_check=r.boolean(d.get("source_dest_check"), f"{path}.source_dest_check", True),
                eips=eips, public_ip=public_ip, attachment=Attachment(n, 0),
                description=f"Primary network interface of {n}")
            instances[n] = Instance(n, aws_id("i", vpc.name, n), vpc.name, subnet.name, eni_name,
                                    subnet.availability_zone, itype, forwarding)
        for n, d in eni_data.items():
            path = f"{self.path}.network_interfaces.{n}"
            subnet = subnet_of[f"e:{n}"]
            if subnet is None:
                continue
            ips = self.finish_ips(explicit[f"e:{n}"], subnet, path)
            if not ips:
                continue
            eips = {}
            eips_raw = d.get("eips")
            allowed = tuple(eips_raw) if isinstance(eips_raw, dict) else ()
            for key, value in r.mapping(eips_raw, f"{path}.eips", allowed).items():
                kp = f"{path}.eips.{key}"
                priv = r.address(key, kp)
                if priv is None:
                    continue
                if priv not in ips:
                    r.error(kp, f"{priv} is not a private IP of this ENI", "InvalidParameterValue",
                            hint="an Elastic IP is associated with one of the ENI's own private IPs")
                    continue
                pub = self.public_address(value, kp)
                if pub is not None:
                    eips[priv] = pub
            attachment = self.attachment(d.get("attachment"), f"{path}.attachment", subnet, instances, raw_instances)
            enis[n] = NetworkInterface(
                n, aws_id("eni", vpc.name, n), vpc.name, subnet.name, tuple(ips),
                self.mac(d.get("mac"), f"{path}.mac", mac_address(vpc.name, n)),
                self.group_refs(d.get("security_groups"), f"{path}.security_groups"),
                source_dest_check=r.boolean(d.get("source_dest_check"), f"{path}.source_dest_check", True),
                eips=eips, attachment=attachment, description=str(d.get("description") or ""))
        self.check_device_indexes(enis)
        self.check_macs(enis)
        return enis, instances

    def explicit_ip(self, value: Any, subnet: Subnet, path: str) -> IPv4Address | None:
        if value is None:
            return None
        ip = self.r.address(value, path)
        if ip is not None and self.claim_ip(ip, subnet, path):
            return ip
        return None

    def finish_ips(self, wanted: list, subnet: Subnet, path: str) -> list[IPv4Address]:
        """None → auto-assign the first free address; False → a rejected explicit address (dropped)."""
        out = []
        for ip in wanted:
            if ip is None:
                ip = self.next_free(subnet, path)
            if ip:
                out.append(ip)
        return out

    def attachment(self, raw: Any, path: str, subnet: Subnet, instances: dict[str, Instance],
                   declared: dict[str, Any]) -> Attachment | None:
        r = self.r
        if raw is None:
            return None
        d = r.mapping(raw, path, ("instance", "device_index"), required=("instance", "device_index"))
        inst = r.string(d.get("instance"), f"{path}.instance") if "instance" in d else None
        index = r.integer(d.get("device_index"), f"{path}.device_index", 0, 31, "InvalidParameterValue") \
            if "device_index" in d else None
        if inst is None or index is None:
            return None
        if inst not in instances:
            if inst not in declared:   # an instance with its own error is not reported twice
                r.error(f"{path}.instance", f"no instance named {inst!r} in VPC {self.vpc.name}", "InvalidInstanceID.NotFound")
            return None
        if index == 0:
            r.error(f"{path}.device_index", f"device index 0 is the primary network interface of {inst}",
                    "InvalidParameterValue", hint="attach secondary ENIs at device index 1 or higher")
            return None
        target = instances[inst]
        if target.availability_zone != subnet.availability_zone:
            r.error(path, f"the ENI is in {subnet.availability_zone} but instance {inst} is in "
                          f"{target.availability_zone}; an ENI attaches only to an instance in its own Availability Zone",
                    "InvalidParameterCombination")
            return None
        return Attachment(inst, index)

    def check_device_indexes(self, enis: dict[str, NetworkInterface]) -> None:
        seen: dict[tuple[str, int], str] = {}
        for eni in enis.values():
            if eni.attachment is None:
                continue
            key = (eni.attachment.instance, eni.attachment.device_index)
            if key in seen:
                self.r.error(f"{self.path}.network_interfaces.{eni.name}.attachment.device_index",
                             f"instance {key[0]} already has {seen[key]} at device index {key[1]}",
                             "InvalidParameterValue")
            else:
                seen[key] = eni.name

    def check_macs(self, enis: dict[str, NetworkInterface]) -> None:
        seen: dict[str, str] = {}
        for eni in enis.values():
            if eni.mac_address in seen:
                where = (f"{self.path}.instances.{eni.attachment.instance}.mac"
                         if eni.attachment and eni.attachment.device_index == 0
                         else f"{self.path}.network_interfaces.{eni.name}.mac")
                self.r.error(where, f"MAC {eni.mac_address} is already used by {seen[eni.mac_address]}",
                             "InvalidParameterValue", hint="every network interface needs its own MAC address")
            seen[eni.mac_address] = eni.name

    def check_instance_limits(self) -> None:
        for inst in self.vpc.instances.values():
            if inst.instance_type is None:
                continue
            max_enis, max_ips = limits.INSTANCE_TYPES[inst.instance_type]
            attached = [e for e in self.vpc.network_interfaces.values()
                        if e.attachment and e.attachment.instance == inst.name]
            if len(attached) > max_enis:
                self.r.error(f"{self.path}.instances.{inst.name}", f"{len(attached)} network interfaces attached; "
                             f"{inst.instance_type} supports at most {max_enis}", "AttachmentLimitExceeded")
            for eni in attached:
                if len(eni.private_ip_addresses) > max_ips:
                    where = (f"{self.path}.instances.{inst.name}" if eni.attachment.device_index == 0
                             else f"{self.path}.network_interfaces.{eni.name}")
                    self.r.error(where, f"{len(eni.private_ip_addresses)} private IPv4 addresses on {eni.name}; "
                                 f"{inst.instance_type} supports at most {max_ips} per interface",
                                 "PrivateIpAddressLimitExceeded")

    # -- gateways and endpoints --------------------------------------------------------------------
    def nat_gateway_requests(self) -> dict[str, tuple[dict, Subnet | None, IPv4Address | None | bool]]:
        """Each NAT gateway's fields, subnet and asked-for private IP (False: rejected), claimed before any
        address is chosen automatically."""
        r = self.r
        out = {}
        for n, raw in r.named_map(self.data.get("nat_gateways"), f"{self.path}.nat_gateways").items():
            path = f"{self.path}.nat_gateways.{n}"
            self.L.claim(n, "NAT gateway", path)
            d = r.mapping(raw, path, ("subnet", "eip", "connectivity", "private_ip"), required=("subnet",))
            subnet = self.subnet_ref(d.get("subnet"), f"{path}.subnet")
            ip = None
            if subnet is not None and d.get("private_ip") is not None:
                ip = self.explicit_ip(d.get("private_ip"), subnet, f"{path}.private_ip") or False
            out[n] = (d, subnet, ip)
        return out

    def nat_gateways(self, requests: dict, enis: dict[str, NetworkInterface]) -> dict[str, NatGateway]:
        r, vpc = self.r, self.vpc
        out = {}
        per_az: dict[str, int] = {}
        for n, (d, subnet, ip) in requests.items():
            path = f"{self.path}.nat_gateways.{n}"
            connectivity = r.choice(d.get("connectivity"), f"{path}.connectivity", ("public", "private"), default="public")
            eip = None
            if connectivity == "public":
                if d.get("eip") is None:
                    r.error(f"{path}.eip", "a public NAT gateway needs an Elastic IP", "MissingParameter",
                            hint="add `eip: 198.51.100.20`, or set `connectivity: private`")
                else:
                    eip = self.public_address(d.get("eip"), f"{path}.eip")
            elif d.get("eip") is not None:
                r.error(f"{path}.eip", "a private NAT gateway cannot have an Elastic IP", "InvalidParameterCombination")
            if subnet is None or ip is False:
                continue
            per_az[subnet.availability_zone] = per_az.get(subnet.availability_zone, 0) + 1
            if per_az[subnet.availability_zone] > limits.MAX_NAT_GATEWAYS_PER_AZ:
                r.error(path, f"more than {limits.MAX_NAT_GATEWAYS_PER_AZ} NAT gateways in "
                              f"{subnet.availability_zone}", "NatGatewayLimitExceeded")
            ip = ip or self.next_free(subnet, path)
            if ip is None:
                continue
            eni_name = f"{n}.eni"
            self.L.claim(eni_name, "requester-managed network interface", path)
            enis[eni_name] = NetworkInterface(
                eni_name, aws_id("eni", vpc.name, eni_name), vpc.name, subnet.name, (ip,),
                mac_address(vpc.name, eni_name), (), source_dest_check=False, eips={ip: eip} if eip else {},
                requester_managed=True, interface_type="nat_gateway",
                description=f"Interface for NAT Gateway {aws_id('nat', vpc.name, n)}")
            out[n] = NatGateway(n, aws_id("nat", vpc.name, n), vpc.name, subnet.name, connectivity, eni_name, eip)
        return out

    def endpoints(self, enis: dict[str, NetworkInterface]) -> dict[str, VpcEndpoint]:
        r, vpc = self.r, self.vpc
        out: dict[str, VpcEndpoint] = {}
        private_dns_services: dict[str, str] = {}
        for n, raw in r.named_map(self.data.get("endpoints"), f"{self.path}.endpoints").items():
            path = f"{self.path}.endpoints.{n}"
            self.L.claim(n, "VPC endpoint", path)
            d = r.mapping(raw, path, ("type", "service", "route_tables", "subnets", "security_groups", "private_dns"),
                          required=("type", "service"))
            etype = r.choice(d.get("type"), f"{path}.type", ("gateway", "interface"))
            service = d.get("service")
            if service not in KNOWN_SERVICES:
                r.error(f"{path}.service", f"{service!r} is not a service the emulated region offers",
                        "InvalidServiceName", hint=f"known: {', '.join(KNOWN_SERVICES)}")
                continue
            if service not in self.L.services_offered:
                r.error(f"{path}.service", f"{service} is not in `aws.services`", "InvalidServiceName",
                        hint=f"add {service} to aws.services")
            if etype == "gateway":
                for key in ("subnets", "security_groups", "private_dns"):
                    if key in d:
                        r.error(f"{path}.{key}", f"a gateway endpoint has no {key}", "InvalidParameter")
                if service not in GATEWAY_SERVICES:
                    r.error(f"{path}.service", f"com.amazonaws.{self.L.region}.{service} has no gateway endpoint "
                                               "(only s3 and dynamodb do)", "InvalidServiceName",
                            hint="use `type: interface`")
                    continue
                tables = tuple(str(t) for t in r.sequence(d.get("route_tables"), f"{path}.route_tables"))
                for i, t in enumerate(tables):
                    if t not in self.raw_route_tables and t != self.main_rt:
                        r.error(f"{path}.route_tables[{i}]", f"no route table named {t!r} in VPC {vpc.name}",
                                "InvalidRouteTableID.NotFound")
                    if t in tables[:i]:
                        r.error(f"{path}.route_tables[{i}]", f"route table {t} is listed twice",
                                "InvalidParameterValue")
                    clash = next((e for e in out.values() if e.service == service and t in e.route_tables), None)
                    if clash:
                        r.error(f"{path}.route_tables[{i}]", f"route table {t} already has a route to the {service} "
                                f"prefix list via endpoint {clash.name}", "RouteAlreadyExists")
                out[n] = VpcEndpoint(n, aws_id("vpce", vpc.name, n), vpc.name, "Gateway", service, route_tables=tables)
                continue
            if etype != "interface":
                continue
            if "route_tables" in d:
                r.error(f"{path}.route_tables", "an interface endpoint is reached through DNS, not route tables",
                        "InvalidParameter")
            subnets = []
            azs: dict[str, str] = {}
            for i, s in enumerate(r.sequence(d.get("subnets"), f"{path}.subnets")):
                subnet = self.subnet_ref(s, f"{path}.subnets[{i}]")
                if subnet is None:
                    continue
                if subnet.availability_zone in azs:
                    r.error(f"{path}.subnets[{i}]", f"Found another VPC endpoint subnet in the availability zone of "
                            f"{subnet.name} ({azs[subnet.availability_zone]}, {subnet.availability_zone}); "
                            "choose one subnet per Availability Zone", "DuplicateSubnetsInSameZone")
                    continue
                azs[subnet.availability_zone] = subnet.name
                subnets.append(subnet)
            if not subnets and "subnets" in d:
                pass
            elif not subnets:
                r.error(f"{path}.subnets", "an interface endpoint needs at least one subnet", "MissingParameter")
            groups = self.group_refs(d.get("security_groups"), f"{path}.security_groups")
            private_dns = r.boolean(d.get("private_dns"), f"{path}.private_dns", True)
            if private_dns and not (vpc.enable_dns_support and vpc.enable_dns_hostnames):
                off = [a for a, on in (("enable_dns_support", vpc.enable_dns_support),
                                       ("enable_dns_hostnames", vpc.enable_dns_hostnames)) if not on]
                r.error(f"{path}.private_dns", "private DNS needs both enable_dns_support and enable_dns_hostnames "
                        f"on VPC {vpc.name}", "InvalidParameter",
                        hint=f"set {' and '.join(f'{a}: true' for a in off)} on the VPC, or private_dns: false")
            if private_dns and service in private_dns_services:
                r.error(f"{path}.private_dns", f"private-dns-enabled cannot be set because there is already a "
                        f"conflicting DNS domain for {service}.{self.L.region}.amazonaws.com in the VPC "
                        f"(endpoint {private_dns_services[service]})", "InvalidParameter")
            elif private_dns:
                private_dns_services[service] = n
            eni_names = []
            vpce_id = aws_id("vpce", vpc.name, n)
            for subnet in subnets:
                ip = self.next_free(subnet, path)
                if ip is None:
                    continue
                eni_name = f"{n}.{subnet.name}"
                self.L.claim(eni_name, "requester-managed network interface", path)
                enis[eni_name] = NetworkInterface(
                    eni_name, aws_id("eni", vpc.name, eni_name), vpc.name, subnet.name, (ip,),
                    mac_address(vpc.name, eni_name), groups, requester_managed=True, interface_type="vpc_endpoint",
                    description=f"VPC Endpoint Interface {vpce_id}")
                eni_names.append(eni_name)
            out[n] = VpcEndpoint(n, vpce_id, vpc.name, "Interface", service,
                                 subnets=tuple(s.name for s in subnets), security_groups=groups,
                                 private_dns_enabled=private_dns, network_interfaces=tuple(eni_names))
        return out

    # -- route tables ------------------------------------------------------------------------------
    def route_tables(self) -> dict[str, RouteTable]:
        r, vpc = self.r, self.vpc
        local = tuple(Route(c, TargetKind.LOCAL, "local", origin="CreateRouteTable") for c in vpc.cidr_blocks)
        raws = dict(self.raw_route_tables)
        if self.main_rt not in raws:
            raws[self.main_rt] = {"main": True}
        out = {}
        for tname, traw in raws.items():
            path = f"{self.path}.route_tables.{tname}"
            t = r.mapping(traw, path, ("main", "routes"))
            main = tname == self.main_rt
            r.boolean(t.get("main"), f"{path}.main", False)
            routes = list(local)
            items = r.sequence(t.get("routes"), f"{path}.routes")
            if len(items) > limits.MAX_ROUTES_PER_TABLE:
                r.error(f"{path}.routes", f"at most {limits.MAX_ROUTES_PER_TABLE} routes per table", "RouteLimitExceeded")
            for i, item in enumerate(items):
                route = self.route(item, f"{path}.routes[{i}]", routes)
                if route is not None:
                    routes.append(route)
            for ep in vpc.endpoints.values():
                if ep.vpc_endpoint_type == "Gateway" and tname in ep.route_tables:
                    pl = self.L.prefix_lists[ep.service]
                    routes.append(Route(None, TargetKind.GATEWAY_ENDPOINT, ep.name, destination_prefix_list_id=pl.id,
                                        origin="CreateRoute"))
            out[tname] = RouteTable(tname, aws_id("rtb", vpc.name, tname), vpc.name, main, tuple(routes))
        return out

    def route(self, item: Any, path: str, existing: list[Route]) -> Route | None:
        r, vpc = self.r, self.vpc
        d = r.mapping(item, path, ("destination", "target"), required=("destination", "target"))
        if "destination" not in d or "target" not in d:
            return None
        dest_raw = d["destination"]
        if isinstance(dest_raw, str) and dest_raw.startswith("pl:"):
            r.error(f"{path}.destination", f"{dest_raw}: prefix-list routes to a gateway endpoint are added by the "
                    "endpoint itself", "InvalidParameterValue", hint="list the route table under the endpoint's route_tables")
            return None
        dest = r.cidr(dest_raw, f"{path}.destination")
        target = d["target"]
        if dest is None:
            return None
        if dest.subnet_of(IPv4Network(limits.RESERVED_ROUTE_RANGE)):
            r.error(f"{path}.destination", f"{dest} is inside {limits.RESERVED_ROUTE_RANGE}, which AWS reserves "
                    "(instance metadata, Amazon DNS, time sync)", "InvalidParameterValue")
            return None
        same = next((x for x in existing if x.destination == dest), None)
        if same is not None:
            if same.target_kind == TargetKind.LOCAL:
                r.error(f"{path}.destination", f"the route table already has a route for {dest}: the local route of "
                        "the VPC's CIDR block", "RouteAlreadyExists",
                        hint="replacing the local route's target is not supported yet")
            else:
                r.error(f"{path}.destination", f"the route table already has a route for {dest} (to {same.target})",
                        "RouteAlreadyExists")
            return None
        kind, net_if = self.route_target(target, f"{path}.target")
        if kind is None:
            return None
        inside = [c for c in vpc.cidr_blocks if dest.subnet_of(c)]
        if inside:
            whole_subnet = any(s.cidr_block == dest for s in vpc.subnets.values())
            if not whole_subnet:
                r.error(f"{path}.destination", f"{dest} is more specific than the local route {inside[0]}; such a "
                        "route must match the entire CIDR of one subnet", "InvalidParameterValue")
                return None
            if kind not in (TargetKind.NETWORK_INTERFACE, TargetKind.NAT_GATEWAY):
                r.error(f"{path}.target", f"a route more specific than the local route can target only a network "
                        f"interface, an instance or a NAT gateway, not {target!r}", "InvalidParameterValue")
                return None
        state = "blackhole" if kind == TargetKind.BLACKHOLE else "active"
        return Route(dest, kind, str(target), network_interface=net_if, state=state)

    def declared_in(self, name: str) -> tuple[str, str] | None:
        """(kind, VPC) of a target the file declares; routes may name things of VPCs built later."""
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

    def route_target(self, target: Any, path: str) -> tuple[TargetKind | None, str | None]:
        r, vpc = self.r, self.vpc
        if target == "blackhole":
            return TargetKind.BLACKHOLE, None
        if target == "local":
            r.error(path, "the local route exists already in every route table", "InvalidParameterValue")
            return None, None
        if not isinstance(target, str):
            r.error(path, f"{target!r} is not a target name")
            return None, None
        if target == vpc.internet_gateway:
            return TargetKind.INTERNET_GATEWAY, None
        if target in vpc.nat_gateways:
            return TargetKind.NAT_GATEWAY, vpc.nat_gateways[target].network_interface
        if target in vpc.instances:
            attached = [e for e in vpc.network_interfaces.values() if e.attachment and e.attachment.instance == target]
            if len(attached) > 1:
                r.error(path, f"there are multiple interfaces attached to instance {target}; "
                        "please specify an interface (ENI name) instead", "InvalidInstanceID",
                        hint=f"use one of: {', '.join(e.name for e in attached)}")
                return None, None
            return TargetKind.NETWORK_INTERFACE, vpc.instances[target].primary_network_interface
        if target in vpc.network_interfaces:
            return TargetKind.NETWORK_INTERFACE, target
        if target in vpc.endpoints:
            r.error(path, f"{target} is a VPC endpoint: gateway endpoint routes are added by the endpoint",
                    "InvalidParameterValue", hint="list the route table under the endpoint's route_tables")
            return None, None
        for pname, pair in self.L.peer_names.items():
            if pname == target and pair and vpc.name in pair:
                return TargetKind.VPC_PEERING, None
        declared = self.declared_in(target)
        if declared and declared[1] == vpc.name:    # declared here but rejected: its own problem is reported already
            return None, None
        if declared:
            where = f" ({target} is {declared[0]} of VPC {declared[1]})"
        elif target in self.L.peer_names:
            if self.L.peer_names[target] is None:    # a malformed peering: reported at its own path
                return None, None
            where = f" (peering connection {target} does not connect VPC {vpc.name})"
        else:
            where = ""
        r.error(path, f"no route target named {target!r} in VPC {vpc.name}{where}", "InvalidRoute.NotFound",
                hint="a target is blackhole, this VPC's internet gateway, a NAT gateway, an instance, an ENI or a "
                     "peering connection of this VPC")
        return None, None
