"""A describe dict → a format-1 document: pick what is live, name it, write each kind's part, then load the
document with the same loader and rules as a written file, so an import is refused exactly where a written
configuration would be; each refusal names the file and the AWS id the offending part came from."""
from __future__ import annotations

import re
from ipaddress import IPv4Address
from typing import Any

from ..errors import Problem, TopologyError
from ..load import load_text
from ..load.write import yaml_text
from ..model import Topology
from . import (elastic_ip, instance, internet_gateway, nat_gateway, names, network_acl, network_interface, peering,
               prefix_list, route_table, security_group, subnet, vpc, vpc_endpoint)
from .context import Importer
from .describe import UNREPRESENTED, Describe, DumpError, Notice, Origin, check_shape, inner, objects

ZONE_RE = re.compile(r"^([a-z]{2}(?:-gov)?-[a-z]+-\d)[a-z]$")
LIVE = (vpc, subnet, route_table, security_group, network_acl, internet_gateway, peering, instance, nat_gateway,
        vpc_endpoint, prefix_list, network_interface, elastic_ip)
WRITE = (vpc, internet_gateway, subnet, route_table, network_acl, security_group, nat_gateway, vpc_endpoint,
         network_interface, instance, peering)
VPC_KEYS = ("id", "cidr", "secondary_cidrs", "enable_dns_support", "enable_dns_hostnames", "internet_gateway",
            "internet_gateway_id", "subnets", "route_tables", "nat_gateways", "security_groups", "network_acls",
            "endpoints", "network_interfaces", "instances")
SUBNET_KEYS = ("id", "cidr", "az", "route_table", "network_acl")


def import_describe(describe: Describe, region: str | None = None, account: str | None = None,
                    origin: Origin | None = None, source: str | None = None) -> tuple[str, list[Notice]]:
    """The format-1 YAML of the live VPCs in `describe`, and what was not carried over as AWS has it. Raises
    DumpError (nothing is built) when the dump is malformed or the lab it describes breaks an AWS rule."""
    text, notices, _ = convert(describe, region, account, origin, source)
    return text, notices


def convert(describe: Describe, region: str | None = None, account: str | None = None, origin: Origin | None = None,
            source: str | None = None, made_from: str = "aws") -> tuple[str, list[Notice], Topology]:
    """import_describe, and the Topology the document loads to. `made_from`: aws or terraform, what the
    describe dict was read from (the document's header says so)."""
    where: Origin = origin or (lambda key, item: key)
    problems = check_shape(describe, where)
    if problems:
        raise DumpError(problems, source)
    ctx = Importer(describe, where, region or _region(describe, where, source), account)
    for key, (kind, field) in UNREPRESENTED.items():
        for item in ctx.items(key):
            ctx.unrepresentable(kind, item.get(field), "vpcemu does not emulate it")
    for module in LIVE:
        module.live(ctx)
    _stop_on_problems(ctx, source)
    names.name_everything(ctx)
    for module in WRITE:
        module.from_aws(ctx)
    _stop_on_problems(ctx, source)
    doc = _ordered(ctx)
    text = yaml_text(doc, _header(ctx, made_from))
    try:
        topology = load_text(text, source=source or "the imported document", default_name="imported")
    except TopologyError as refused:
        raise DumpError([_traced(p, ctx.provenance) for p in refused.problems], source) from None
    return text, ctx.notices, topology


def _region(describe: Describe, where: Origin, source: str | None) -> str:
    """The one region the dump's Availability Zones and endpoint service names belong to."""
    seen: dict[str, str] = {}
    for s in describe.get("Subnets") or ():
        m = ZONE_RE.match(str(s.get("AvailabilityZone")))
        if m:
            seen.setdefault(m.group(1), f"{where('Subnets', s)}: {s.get('SubnetId')}")
    for r in describe.get("Reservations") or ():
        for i in objects(r, "Instances"):
            m = ZONE_RE.match(str(inner(i, "Placement", "AvailabilityZone")))
            if m:
                seen.setdefault(m.group(1), f"{where('Reservations', r)}: {i.get('InstanceId')}")
    if len(seen) > 1:
        raise DumpError([Problem("", f"the dump holds resources of several Regions ({', '.join(sorted(seen))}, e.g. "
                                     f"{'; '.join(seen.values())})", hint="a lab is one Region: pass --region")], source)
    return next(iter(seen), "us-east-1")


def _stop_on_problems(ctx: Importer, source: str | None) -> None:
    if ctx.problems:
        raise DumpError(ctx.problems, source)


def _ordered(ctx: Importer) -> dict[str, Any]:
    """The document in the format's order: VPC sections as topology-format.md lists them."""
    doc = ctx.doc
    aws: dict[str, Any] = {}
    if ctx.services:
        aws["services"] = sorted(ctx.services)
    if ctx.prefix_list_ids:
        aws["prefix_lists"] = {s: {"id": i} for s, i in sorted(ctx.prefix_list_ids.items())}
    if ctx.allocation_ids:
        aws["elastic_ips"] = {ip: {"id": ctx.allocation_ids[ip]} for ip in sorted(ctx.allocation_ids, key=IPv4Address)}
    vpcs = {}
    for name, v in doc["vpcs"].items():
        v = {k: v[k] for k in VPC_KEYS if k in v}
        if "subnets" in v:
            v["subnets"] = {n: {k: s[k] for k in SUBNET_KEYS if k in s} for n, s in v["subnets"].items()}
        vpcs[name] = v
    out: dict[str, Any] = {"format": 1, "region": doc["region"]}
    if aws:
        out["aws"] = aws
    out["vpcs"] = vpcs
    if "peering" in doc:
        out["peering"] = doc["peering"]
    return out


_MADE_FROM = {"aws": "AWS describe-* output", "terraform": "a Terraform state"}


def _header(ctx: Importer, made_from: str) -> str:
    lines = [f"Imported by `vpcemu import {made_from}` from {_MADE_FROM[made_from]} (Region {ctx.region}"
             + (f", account {ctx.account}" if ctx.account else "") + ").",
             "Ids are AWS's; names are the Name tags (security groups: GroupName) where unique, else the ids.",
             "Edit freely: `vpcemu validate` checks it as any topology file."]
    if ctx.notices:
        lines += ["", "Not carried over as AWS has it:"]
        lines += [f"  {n}" for n in ctx.notices]
    return "\n".join(lines)


def _traced(p: Problem, provenance: dict[str, tuple[str, str]]) -> Problem:
    """A loader problem at a document path → the file and AWS id of the object that path came from."""
    best = max((k for k in provenance if p.path == k or p.path.startswith((k + ".", k + "["))), key=len, default=None)
    if best is None:
        return Problem(f"the imported document: {p.path}", p.message, p.code, p.hint)
    where, ident = provenance[best]
    return Problem(f"{where}: {ident}", f"{p.message} (at {p.path} in the imported document)", p.code, p.hint)
