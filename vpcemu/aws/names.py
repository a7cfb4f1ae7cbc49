"""Names for imported resources: the AWS `Name` tag where it is present and unique in its scope, else the id.

A Name tag becomes a valid vpcemu name (characters other than letters, digits, `-`, `_` and `.` become `-`).
Scopes are the format's: VPCs; per VPC its subnets, route tables, security groups and network ACLs; and the
lab-wide names (instances, ENIs, gateways, endpoints, peering connections), counting the names vpcemu derives
from them (`web.eth0`, `nat-a.eni`, `sqs.private-a`). A name two resources want goes to neither: both keep
their ids, so no name silently means something else.

Security groups are named by GroupName, which AWS requires and keeps unique per VPC; the main route table is
`main` and the default network ACL `default` unless tagged otherwise, as the format expects.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable

from ..rules.names import NAME_RE
from .context import Importer
from .describe import objects, strings, tags

# names the format gives a meaning of its own
RESERVED_TARGETS = ("blackhole", "local")


def valid(raw: object) -> str | None:
    if not isinstance(raw, str):
        return None
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", raw.strip()).lstrip("-_.")[:63].rstrip("-_.")
    return name if NAME_RE.match(name) else None


def name_tag(item: dict, field: str = "Tags") -> str | None:
    return valid(tags(item, field).get("Name"))


def assign(ctx: Importer, wanted: Iterable[tuple[str, str | None]], reserved: Iterable[str] = (),
           derived: Callable[[str, str], list[str]] = lambda ident, name: [],
           fallback: Callable[[str], str] = lambda ident: ident) -> None:
    """Give each (id, wanted name) of one scope its name in ctx.names."""
    wanted = list(wanted)
    claims: Counter[str] = Counter()
    for ident, name in wanted:
        if name is not None:
            claims.update({name, *derived(ident, name)})
    taken = set(reserved)
    for ident, name in wanted:
        mine = [name, *derived(ident, name)] if name is not None else []
        ok = name is not None and not any(claims[n] > 1 or n in taken for n in mine)
        ctx.names[ident] = name if ok else fallback(ident)


def name_everything(ctx: Importer) -> None:
    vpcs = ctx.of("Vpcs")
    assign(ctx, ((i, name_tag(v)) for i, v in vpcs.items()))
    for vpc_id in vpcs:
        def in_vpc(key: str, vpc_id: str = vpc_id) -> dict[str, dict]:
            return {i: x for i, x in ctx.of(key).items() if x.get("VpcId") == vpc_id}

        assign(ctx, ((i, name_tag(s)) for i, s in in_vpc("Subnets").items()))
        tables = in_vpc("RouteTables")
        assign(ctx, ((i, name_tag(t) or ("main" if _is_main(t) else None)) for i, t in tables.items()))
        for i, t in tables.items():        # `main` is the main table's, whatever the tags say
            if ctx.names[i] == "main" and not _is_main(t):
                ctx.names[i] = i
        acls = in_vpc("NetworkAcls")
        assign(ctx, ((i, "default" if a.get("IsDefault") else name_tag(a)) for i, a in acls.items()))
        for i, a in acls.items():
            if ctx.names[i] == "default" and not a.get("IsDefault"):
                ctx.names[i] = i
        groups = in_vpc("SecurityGroups")
        assign(ctx, ((i, _group_name(g)) for i, g in groups.items()), fallback=lambda i: f"group-{i[3:]}")
    _global_names(ctx)


def _global_names(ctx: Importer) -> None:
    wanted: list[tuple[str, str | None]] = []
    suffixes: dict[str, list[str]] = {}
    for i, x in ctx.of("Instances").items():
        wanted.append((i, name_tag(x)))
        suffixes[i] = [".eth0"]
    for i, x in ctx.of("NetworkInterfaces").items():
        if ctx.eni_role.get(i) == "standalone":
            wanted.append((i, name_tag(x, "TagSet")))
    for i, x in ctx.of("InternetGateways").items():
        wanted.append((i, name_tag(x)))
    for i, x in ctx.of("NatGateways").items():
        wanted.append((i, name_tag(x)))
        suffixes[i] = [".eni"]
    for i, x in ctx.of("VpcEndpoints").items():
        wanted.append((i, name_tag(x)))
        suffixes[i] = [f".{ctx.names[s]}" for s in strings(x, "SubnetIds") if s in ctx.names]
    for i, x in ctx.of("VpcPeeringConnections").items():
        wanted.append((i, name_tag(x)))
    assign(ctx, wanted, reserved=RESERVED_TARGETS, derived=lambda i, n: [n + s for s in suffixes.get(i, ())])


def _is_main(table: dict) -> bool:
    return any(a.get("Main") is True for a in objects(table, "Associations"))


def _group_name(group: dict) -> str | None:
    name = valid(group.get("GroupName"))
    return None if name is None or name.lower().startswith("sg-") else name
