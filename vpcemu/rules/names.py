"""Names: the syntax of every name a user chooses, the lab-wide names that must each mean one thing, and
AWS's ids, which every call takes in place of a name.

AWS names resources by id; vpcemu lets users write names, and `from`, `to`, `via` and route targets
resolve them across the whole lab. Where a call takes a name it takes the resource's AWS id too
(`Topology.ids` says what each id names); an id of the right kind that names nothing gets AWS's
`…NotFound` code for that kind. So the names of instances, ENIs, gateways, endpoints, internet
hosts and peering connections are unique lab-wide, whether they come from the file or a live call.
Where a name is taken, the message says where, as the path the holder has (or would have) in a
topology file.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..codes import ErrorCode
from ..errors import UsageError
from ..model import Topology
from ..model.ids import ID_RE
from .limits import LAB_NAME_MAX

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
# A lab's name starts every namespace name (`<lab>-<role>`) and names its state directory
# (/run/vpcemu/<lab>), so it can never hold a '/' or be '..', and it is short.
LAB_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def lab_name_problem(name: Any) -> str | None:
    """Why `name` cannot be a lab's name, or None. The one rule for the file's `name:`, `--name`,
    `--lab` and every verb that names a lab."""
    if isinstance(name, str) and LAB_NAME_RE.match(name) and len(name) <= LAB_NAME_MAX:
        return None
    return f"lab name {name!r} must be 1-{LAB_NAME_MAX} characters of a-z, 0-9 and '-', starting with a letter or digit"


def valid_lab_name(name: Any) -> str:
    problem = lab_name_problem(name)
    if problem:
        raise UsageError(problem, ErrorCode.INVALID_PARAMETER_VALUE,
                         hint="labs up are listed by `vpcemu status`; choose a new one with `vpcemu up FILE --name NAME`")
    return name


# AWS's error code when an id of each kind names nothing
NOT_FOUND = {
    "vpc": ErrorCode.INVALID_VPC_ID_NOT_FOUND, "subnet": ErrorCode.INVALID_SUBNET_ID_NOT_FOUND,
    "rtb": ErrorCode.INVALID_ROUTE_TABLE_ID_NOT_FOUND, "sg": ErrorCode.INVALID_GROUP_NOT_FOUND,
    "acl": ErrorCode.INVALID_NETWORK_ACL_ID_NOT_FOUND, "eni": ErrorCode.INVALID_NETWORK_INTERFACE_ID_NOT_FOUND,
    "i": ErrorCode.INVALID_INSTANCE_ID_NOT_FOUND, "igw": ErrorCode.INVALID_INTERNET_GATEWAY_ID_NOT_FOUND,
    "nat": ErrorCode.INVALID_NAT_GATEWAY_ID_NOT_FOUND, "vpce": ErrorCode.INVALID_VPC_ENDPOINT_ID_NOT_FOUND,
    "pcx": ErrorCode.INVALID_VPC_PEERING_CONNECTION_ID_NOT_FOUND, "pl": ErrorCode.INVALID_PREFIX_LIST_ID_NOT_FOUND,
}
KIND_WORDS = {"vpc": "VPC", "subnet": "subnet", "rtb": "route table", "sg": "security group", "acl": "network ACL",
              "eni": "network interface", "i": "instance", "igw": "internet gateway", "nat": "NAT gateway",
              "vpce": "VPC endpoint", "pcx": "VPC peering connection", "pl": "prefix list"}


def id_kind(value: Any) -> str | None:
    """The kind of resource `value` would be the AWS id of (`subnet` for `subnet-0123abcd`), or None."""
    match = ID_RE.match(value) if isinstance(value, str) else None
    return match["prefix"] if match and match["prefix"] in NOT_FOUND else None


def unknown_id(value: Any, kinds: tuple[str, ...]) -> None:
    """Refuse with AWS's NotFound code a `value` that has the shape of an id of one of `kinds`: called once the
    lookups by name and by id have found nothing."""
    kind = id_kind(value)
    if kind in kinds:
        raise UsageError(f"the {KIND_WORDS[kind]} ID {value!r} does not exist", NOT_FOUND[kind])


def valid_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise UsageError(f"{name!r} is not a valid name",
                         hint="use letters, digits, '-', '_' and '.', starting with a letter or digit, at most 63")
    return name


def resource_id(value: Any, prefix: str) -> str:
    """An AWS id of the kind `prefix` (vpc, subnet, rtb, sg, acl, eni, i, igw, nat, vpce, pcx, pl)."""
    match = ID_RE.match(value) if isinstance(value, str) else None
    if match is None or match["prefix"] != prefix:
        raise UsageError(f"{value!r} is not an AWS id of the form {prefix}-0123456789abcdef0",
                         ErrorCode.INVALID_PARAMETER_VALUE,
                         hint=f"`{prefix}-` and 8 or 17 hex digits, as AWS gives it; omit `id:` to let vpcemu derive one")
    return value


def unused_id(value: str, taken: Mapping[str, str]) -> None:
    """`taken`: id → the path of the resource that has it; an id names one resource of the lab."""
    if value in taken:
        raise UsageError(f"{value} is already the id of {taken[value]}", ErrorCode.INVALID_PARAMETER_VALUE,
                         hint="AWS ids are unique; give each resource its own or omit `id:`")


def unused_name(name: str, taken: Mapping[str, tuple[str, str]], where: str | None = None) -> None:
    """`taken`: global name → (kind, where its holder is). The file may claim a name again from the same
    place (`where`); a live call never can."""
    if name in taken and taken[name][1] != where:
        kind, other = taken[name]
        raise UsageError(f"name {name!r} is already used by the {kind} at {other}",
                         hint="names of instances, ENIs, gateways, endpoints, hosts and services must be unique")


def global_names(topology: Topology) -> dict[str, tuple[str, str]]:
    """Every lab-wide name of a built topology → (kind, path), as the loader claims them."""
    out: dict[str, tuple[str, str]] = {}
    for v in topology.vpcs.values():
        base = f"vpcs.{v.name}"
        if v.internet_gateway:
            out[v.internet_gateway] = ("internet gateway", f"{base}.internet_gateway")
        for n in v.instances:
            out[n] = ("instance", f"{base}.instances.{n}")
        for n, eni in v.network_interfaces.items():
            if not eni.requester_managed:
                out[n] = ("network interface", f"{base}.network_interfaces.{n}")
        for inst in v.instances.values():
            out[inst.primary_network_interface] = ("network interface", f"{base}.instances.{inst.name}")
        for n, nat in v.nat_gateways.items():
            out[n] = ("NAT gateway", f"{base}.nat_gateways.{n}")
            out[nat.network_interface] = ("requester-managed network interface", f"{base}.nat_gateways.{n}")
        for n, ep in v.endpoints.items():
            out[n] = ("VPC endpoint", f"{base}.endpoints.{n}")
            for eni in ep.network_interfaces:
                out[eni] = ("requester-managed network interface", f"{base}.endpoints.{n}")
    for n in topology.internet_hosts:
        out[n] = ("internet host", f"internet.hosts.{n}")
    for n in topology.peering:
        out[n] = ("peering connection", f"peering.{n}")
    return out


def new_name(topology: Topology, name: str) -> str:
    """A name a live call gives a new resource: valid, and not yet used anywhere in the lab."""
    valid_name(name)
    unused_name(name, global_names(topology))
    return name
