"""The topology file (format 1) → a validated Topology, or every problem with its path and AWS error code.

This module reads the document's top level (format, name, region, address pools, services) and builds
the rest in the order a console user would meet AWS's rules: each VPC (load/vpc.py), the peering
connections, the internet, the public addresses, the expectations. AWS's rules themselves live in
vpcemu/rules/; the loader names the YAML path of each refusal and goes on. Nothing here touches the
system: a rejected file creates nothing.
"""
from __future__ import annotations

import re
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

from ..codes import ErrorCode
from ..errors import TopologyError
from ..model import KNOWN_SERVICES, Addressing, Ec2ApiTiming, Topology, Vpc
from ..rules import elastic_ip
from ..rules.names import lab_name_problem
from ..rules.vpc import LINK_LOCAL, PRIVATE_RANGES, SHARED_RANGE
from . import expect, internet, peering
from .context import Document
from .shape import Reader, kind_name, parse_yaml, read_document
from .vpc import build_vpc

TOP_KEYS = ("format", "name", "region", "vpcs", "peering", "internet", "aws", "expect", "addressing")
REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
# never public: RFC 1918, shared, "this network", loopback, link-local, multicast and reserved
NOT_PUBLIC = (*PRIVATE_RANGES, SHARED_RANGE, LINK_LOCAL, IPv4Network("0.0.0.0/8"), IPv4Network("127.0.0.0/8"),
              IPv4Network("224.0.0.0/3"))


def load_topology(path: str | Path, name: str | None = None) -> Topology:
    """Read and validate a topology file; raise TopologyError listing every problem."""
    path = Path(path)
    text, problems = read_document(path)
    if problems:
        raise TopologyError(problems)
    return load_text(text, source=str(path), default_name=path.stem, name=name)


def load_text(text: str, source: str = "<topology>", default_name: str = "lab", name: str | None = None,
              committed: bool = False) -> Topology:
    """`committed`: the text is a lab's committed model (Lab.commit), whose `expect:` may name what live changes
    have deleted since (verify then says the expectation no longer holds); otherwise such a name is a mistake."""
    raw, problems = parse_yaml(text)
    if problems:
        raise TopologyError(problems, source)
    r = Reader()
    topology = _document(r, raw, default_name, name, committed)
    if r.problems:
        raise TopologyError(r.problems, source)
    return topology


def _document(r: Reader, raw: Any, default_name: str, name_override: str | None, committed: bool) -> Topology:
    if raw is not None and not isinstance(raw, dict):
        r.error("", f"a topology file must be a map with `format: 1` and `vpcs:`, not {kind_name(raw)}")
        return Topology(name="lab", region="us-east-1", vpcs={})
    top = r.mapping(raw, "", TOP_KEYS, required=("format", "vpcs"))
    if "format" in top and top["format"] != 1:
        r.error("format", f"{top['format']!r} is not a supported format", hint="this vpcemu reads `format: 1`")
    lab_name = name_override or r.string(top.get("name"), "name", default=default_name)
    if lab_name and lab_name_problem(lab_name):
        r.error("name", lab_name_problem(lab_name), hint="set `name:` in the file or pass --name")
    region = r.string(top.get("region"), "region", default="us-east-1")
    if region and not REGION_RE.match(region):
        r.error("region", f"{region!r} is not an AWS Region name such as us-east-1")
    addressing = _addressing(r, top.get("addressing"))
    services = _services(r, top.get("aws"))
    raw_vpcs = r.named_map(top.get("vpcs"), "vpcs")
    if "vpcs" in top and not raw_vpcs:
        r.error("vpcs", "at least one VPC is required")
    raw_peering = r.named_map(top.get("peering"), "peering")
    doc = Document(r, region or "us-east-1", addressing, services, raw_vpcs,
                   {p: peering.peer_pair(r, p, v) for p, v in raw_peering.items()})
    _prefix_list_ids(doc, top.get("aws"))
    elastic_ip_ids = _elastic_ip_ids(doc, top.get("aws"))
    ec2_api = _ec2_api(r, top.get("aws"), services)
    vpcs = {}
    for vname, vraw in raw_vpcs.items():
        vpc = build_vpc(doc, vname, vraw)
        if vpc is not None:
            vpcs[vname] = vpc
    connections = peering.connections(doc, vpcs, raw_peering)
    hosts = internet.hosts(doc, top.get("internet"))
    vpcs = _assign_public_ips(doc, vpcs)
    topology = Topology(name=lab_name or "lab", region=doc.region, vpcs=vpcs, peering=connections,
                        internet_hosts=hosts, services=services, prefix_lists=doc.prefix_lists, addressing=addressing,
                        elastic_ip_ids=elastic_ip_ids, ec2_api=ec2_api)
    return replace(topology, expect=expect.expectations(doc, top.get("expect"), committed))


def _addressing(r: Reader, raw: Any) -> Addressing:
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


def _services(r: Reader, raw: Any) -> tuple[str, ...]:
    data = r.mapping(raw, "aws", ("services", "prefix_lists", "elastic_ips", "ec2_api"))
    out: list[str] = []
    for i, s in enumerate(r.sequence(data.get("services"), "aws.services")):
        if s not in KNOWN_SERVICES:
            r.error(f"aws.services[{i}]", f"{s!r} is not a service the emulated region offers",
                    hint=f"known: {', '.join(KNOWN_SERVICES)}")
        elif s in out:
            r.error(f"aws.services[{i}]", f"{s!r} is listed twice")
        else:
            out.append(s)
    return tuple(out)


MAX_EC2_API_DELAY_MS = 60_000      # AWS takes seconds, not minutes (the CLI's --delay-ms has the same bound)


def _ec2_api(r: Reader, raw: Any, services: tuple[str, ...]) -> Ec2ApiTiming:
    """`aws.ec2_api`: the lab EC2 API's emulated change times, in ms."""
    data = raw.get("ec2_api") if isinstance(raw, dict) else None
    if data is None:
        return Ec2ApiTiming()
    fields = ("attachment_delay_ms", "association_delay_ms")
    d = r.mapping(data, "aws.ec2_api", fields)
    if d and "ec2" not in services:
        r.error("aws.ec2_api", "the lab has no EC2 API to time: ec2 is not in aws.services", hint="add ec2 to aws.services")
    values = {k: r.integer(d[k], f"aws.ec2_api.{k}", 0, MAX_EC2_API_DELAY_MS) for k in fields if k in d}
    return Ec2ApiTiming(**{k: v for k, v in values.items() if v is not None})


def _prefix_list_ids(doc: Document, raw: Any) -> None:
    """`aws.prefix_lists.<service>.id`: the id of an AWS-managed prefix list as the account sees it (an import
    keeps AWS's, pl-63a5400a for S3 in us-east-1); else vpcemu derives one from the region."""
    r = doc.r
    data = raw.get("prefix_lists") if isinstance(raw, dict) else None
    for service, item in r.named_map(data, "aws.prefix_lists").items():
        path = f"aws.prefix_lists.{service}"
        d = r.mapping(item, path, ("id",), required=("id",))
        if service not in doc.prefix_lists:
            r.error(path, f"{service!r} has no AWS-managed prefix list", hint=f"known: {', '.join(doc.prefix_lists)}")
        elif "id" in d:
            pl = doc.prefix_lists[service]
            doc.prefix_lists[service] = replace(pl, id=doc.resource_id(d["id"], "pl", f"{path}.id", pl.id))


def _elastic_ip_ids(doc: Document, raw: Any) -> dict[IPv4Address, str]:
    """`aws.elastic_ips.<address>.id`: an Elastic IP's AllocationId as the account has it (an import keeps AWS's,
    so an export gives it back); else vpcemu derives one from the address. An allocation outlives its
    associations, so the address need not be associated now."""
    r = doc.r
    data = raw.get("elastic_ips") if isinstance(raw, dict) else None
    if data is None:
        return {}
    if not isinstance(data, dict):
        r.error("aws.elastic_ips", f"must be a map of Elastic IPs, not {kind_name(data)}")
        return {}
    out: dict[IPv4Address, str] = {}
    for key, item in data.items():
        path = f"aws.elastic_ips.{key}"
        ip = r.address(key, path, ErrorCode.INVALID_ADDRESS_NOT_FOUND)
        d = r.mapping(item, path, ("id",), required=("id",))
        if ip is None or "id" not in d \
                or not doc.passes(path, elastic_ip.public_address, ip, doc.addressing.public, doc.addressing.services):
            continue
        given = doc.resource_id(d["id"], "eipalloc", f"{path}.id", "")
        if given:
            out[ip] = given
    return out


def _assign_public_ips(doc: Document, vpcs: dict[str, Vpc]) -> dict[str, Vpc]:
    """`public_ip: true` takes the next free address of the public pools, in file order."""
    free = (IPv4Address(n) for pool in doc.addressing.public
            for n in range(int(pool.network_address) + 10, int(pool.broadcast_address))
            if IPv4Address(n) not in doc.public_taken)
    out = {}
    for name, vpc in vpcs.items():
        enis = dict(vpc.network_interfaces)
        for eni_name, eni in enis.items():
            if eni.public_ip and eni.public_ip_address is None and eni.private_ip_address not in eni.eips:
                path = f"vpcs.{name}.instances.{eni.attachment.instance}.public_ip"
                address = next(free, None)
                if address is None:
                    doc.r.error(path, "the public address pools are exhausted", "AddressLimitExceeded")
                    continue
                doc.public_taken[address] = path
                enis[eni_name] = replace(eni, public_ip_address=address)
        out[name] = replace(vpc, network_interfaces=enis)
    return out
