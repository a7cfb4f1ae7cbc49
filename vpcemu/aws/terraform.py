"""Terraform state → the describe dict that `vpcemu.aws` imports.

Owns reading a Terraform state (format version 4: `terraform.tfstate`, `terraform state pull`, and
`terraform show -json`) and turning the AWS provider's VPC resources into what EC2's describe-* calls
would answer for the same network: `{"Vpcs": [...], "Subnets": [...], ...}`, each key the top-level key
of a response, each object in the response's shape (`VpcAttributes`: describe-vpc-attribute's answers,
one per VPC and attribute; `ManagedPrefixLists`: describe-managed-prefix-lists' with each list's
get-managed-prefix-list-entries answer as its `Entries`; the layout of vpcemu/aws/describe.py). Output field names are botocore's (EC2 service
model); input attribute names are the provider's (hashicorp/terraform-provider-aws,
internal/service/ec2/*.go and website/docs/r/*.html.markdown, cited per resource below).

Pure: no root, no kernel, nothing written. Every list is sorted by its ids, so the same resources give
the same dict whatever the order and format of the state.

The provider's traps, and what is done about each:
- a route table's `route` set leaves out the local route(s) and gateway-endpoint routes
  (vpc_route_table.go, flattenRoutes): both are put back as describe-route-tables shows them;
- rules come inline (`route`, `ingress`/`egress`) and as separate resources (aws_route,
  aws_security_group_rule, aws_vpc_security_group_*_rule, aws_network_acl_rule), and a refreshed
  state lists a separate one inline too: they are merged and deduplicated; two that disagree are a
  stale state and refused;
- a subnet without association uses the main route table, which describe shows only as the table's
  `Main: true` association; the main table may be the VPC's default one (`default_route_table_id`,
  aws_default_route_table) or another (aws_main_route_table_association), and the VPC's default
  security group and network ACL exist with AWS's default rules unless aws_default_* resources manage
  them;
- an instance's primary ENI is no resource of its own: it is built from the instance's attributes.

Refusals (`UsageError`, exit 2) name the file and the resource address: not JSON, not a state, a
reference to an object the state does not hold, a state that contradicts itself. What the describe
dict cannot carry (IPv6, transit gateways, VPN, and every other kind of resource) is dropped and said
in a warning naming the resource's address and kind.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..codes import ErrorCode
from ..errors import UsageError
from .describe import Notice

STATE_VERSION = 4
REFRESH_HINT = "the state disagrees with itself; run `terraform apply -refresh-only` and export it again"

# describe-instances' InstanceState codes (API_InstanceState)
_INSTANCE_STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48,
                         "stopping": 64, "stopped": 80}

# IpProtocol as describe-security-groups writes it: names for these four, numbers for the rest
_SG_PROTOCOLS = {"-1": "-1", "all": "-1", "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp",
                 "icmp": "icmp", "1": "icmp", "icmpv6": "icmpv6", "58": "icmpv6"}
# describe-network-acls speaks protocol numbers only (vpc_network_acl.go, networkACLProtocolNumber)
_NACL_PROTOCOLS = {"all": "-1", "-1": "-1", "icmp": "1", "tcp": "6", "udp": "17", "ipv6-icmp": "58",
                   "icmpv6": "58"}
_PORTED = ("tcp", "udp")

# route targets that describe-route-tables can show but vpcemu has nothing for
_UNREPRESENTED_TARGETS = {"transit_gateway_id": "transit gateway", "egress_only_gateway_id":
                          "egress-only internet gateway", "local_gateway_id": "local gateway",
                          "carrier_gateway_id": "carrier gateway", "core_network_arn": "Cloud WAN core network"}

# the resource types read here; any other aws_* resource is reported as not represented
_MAPPED = frozenset({
    "aws_vpc", "aws_default_vpc", "aws_vpc_ipv4_cidr_block_association", "aws_subnet", "aws_default_subnet",
    "aws_route_table", "aws_default_route_table", "aws_route", "aws_route_table_association",
    "aws_main_route_table_association", "aws_security_group", "aws_default_security_group",
    "aws_security_group_rule", "aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule",
    "aws_network_acl", "aws_default_network_acl", "aws_network_acl_rule", "aws_network_acl_association",
    "aws_network_interface", "aws_network_interface_attachment", "aws_instance", "aws_eip",
    "aws_eip_association", "aws_internet_gateway", "aws_internet_gateway_attachment", "aws_nat_gateway",
    "aws_vpc_endpoint", "aws_vpc_endpoint_route_table_association", "aws_vpc_endpoint_subnet_association",
    "aws_vpc_peering_connection", "aws_vpc_peering_connection_accepter", "aws_ec2_managed_prefix_list",
    "aws_ec2_managed_prefix_list_entry",
})

# what a reference's id names, for messages and for AWS's NotFound code
_KINDS = {
    "vpc": ("VPC", ErrorCode.INVALID_VPC_ID_NOT_FOUND),
    "subnet": ("subnet", ErrorCode.INVALID_SUBNET_ID_NOT_FOUND),
    "rtb": ("route table", ErrorCode.INVALID_ROUTE_TABLE_ID_NOT_FOUND),
    "sg": ("security group", ErrorCode.INVALID_GROUP_NOT_FOUND),
    "acl": ("network ACL", ErrorCode.INVALID_NETWORK_ACL_ID_NOT_FOUND),
    "igw": ("internet gateway", None),
    "nat": ("NAT gateway", ErrorCode.NAT_GATEWAY_NOT_FOUND),
    "eip": ("Elastic IP", ErrorCode.INVALID_ADDRESS_NOT_FOUND),
    "eni": ("network interface", ErrorCode.INVALID_NETWORK_INTERFACE_ID_NOT_FOUND),
    "instance": ("instance", ErrorCode.INVALID_INSTANCE_ID_NOT_FOUND),
    "vpce": ("VPC endpoint", ErrorCode.INVALID_VPC_ENDPOINT_ID_NOT_FOUND),
    "pcx": ("VPC peering connection", None),
    "pl": ("prefix list", ErrorCode.INVALID_PREFIX_LIST_ID_NOT_FOUND),
}

DESCRIBE_KEYS = ("Vpcs", "VpcAttributes", "Subnets", "RouteTables", "NetworkInterfaces", "SecurityGroups", "NetworkAcls",
                 "InternetGateways", "NatGateways", "VpcEndpoints", "VpcPeeringConnections", "Reservations",
                 "Addresses", "ManagedPrefixLists", "PrefixLists")


# ---------------------------------------------------------------------------------------------------
# reading the state


def read_state(path: str | Path) -> dict:
    """The parsed state file: Terraform state version 4 or `terraform show -json` output."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot read the Terraform state: {e}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"{path}: not JSON ({e.msg} at line {e.lineno} column {e.colno}), so not a Terraform state",
                         hint="give `terraform.tfstate`, `terraform state pull` or `terraform show -json` output") from None
    except RecursionError:
        raise UsageError(f"{path}: nested too deeply to be a Terraform state") from None
    _check_format(data, str(path))
    return data


def _check_format(data: Any, source: str) -> None:
    hint = "give `terraform.tfstate`, `terraform state pull` or `terraform show -json` output"
    if not isinstance(data, dict) or ("version" not in data and "format_version" not in data):
        raise UsageError(f"{source}: not a Terraform state: it has no `version` (terraform.tfstate) "
                         f"or `format_version` (terraform show -json)", hint=hint)
    if "version" in data:
        if data["version"] != STATE_VERSION:
            raise UsageError(f"{source}: Terraform state version {data['version']!r} is not supported, only {STATE_VERSION}",
                             hint="Terraform 0.12 and later write version 4: `terraform state pull` gives it")
        if not isinstance(data.get("resources", []), list):
            raise UsageError(f"{source}: not a Terraform state: `resources` is not a list", hint=hint)
        return
    if "values" not in data and ("planned_values" in data or "resource_changes" in data):
        raise UsageError(f"{source}: this is a plan (`terraform show -json PLAN`), not a state",
                         hint="run `terraform show -json` without a plan file")
    if not isinstance(data.get("values", {}), dict):
        raise UsageError(f"{source}: not a Terraform state: `values` is not an object", hint=hint)


class _Attrs:
    """A resource's attributes (or one nested block of them), read with the type the provider gives them;
    anything else is refused with the file, the address and the attribute."""

    def __init__(self, source: str, address: str, type_: str, values: dict, path: str = ""):
        self.source, self.address, self.type, self.values, self.path = source, address, type_, values, path

    def fail(self, message: str, code: ErrorCode | None = None, hint: str | None = None) -> UsageError:
        return UsageError(f"{self.source}: {self.address}: {message}", code, hint)

    def _get(self, key: str, kinds: tuple, what: str) -> Any:
        v = self.values.get(key)
        if (v is not None and not isinstance(v, kinds)) or (isinstance(v, bool) and bool not in kinds):
            raise self.fail(f"{self.path}{key} must be {what}, not {json.dumps(v)[:60]}")
        return v

    def str(self, key: str) -> str:
        return self._get(key, (str,), "a string") or ""

    def bool(self, key: str, default: bool) -> bool:
        v = self._get(key, (bool,), "true or false")
        return default if v is None else v

    def int(self, key: str) -> int | None:
        return self._get(key, (int,), "a number")

    def strs(self, key: str) -> list[str]:
        v = self._get(key, (list,), "a list") or []
        if not all(isinstance(x, str) for x in v):
            raise self.fail(f"{self.path}{key} must be a list of strings")
        return [x for x in v if x]

    def blocks(self, key: str) -> list[_Attrs]:
        v = self._get(key, (list,), "a list of blocks") or []
        if not all(isinstance(x, dict) for x in v):
            raise self.fail(f"{self.path}{key} must be a list of blocks")
        return [_Attrs(self.source, self.address, self.type, x, f"{self.path}{key}[{i}].") for i, x in enumerate(v)]

    def tags(self) -> list[dict]:
        v = self.values.get("tags_all") or self.values.get("tags") or {}
        if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
            raise self.fail("tags must be a map of strings")
        return [{"Key": k, "Value": v[k]} for k in sorted(v)]

    @property
    def id(self) -> str:
        return self.str("id")


def _index(key: Any) -> str:
    return "" if key is None else f"[{json.dumps(key)}]"


def _resources(data: dict, source: str) -> tuple[list[_Attrs], list[_Attrs]]:
    """(managed resources, data sources) of either format, deposed objects left out (they are being replaced)."""
    managed: list[_Attrs] = []
    read: list[_Attrs] = []

    def add(mode: Any, type_: Any, address: str, values: Any) -> None:
        if not isinstance(type_, str) or not isinstance(values, dict):
            raise UsageError(f"{source}: {address}: a resource needs a `type` and an object of attributes")
        (read if mode == "data" else managed).append(_Attrs(source, address, type_, values))

    if "version" in data:
        for i, r in enumerate(data.get("resources") or []):
            if not isinstance(r, dict) or not isinstance(r.get("instances", []), list):
                raise UsageError(f"{source}: resources[{i}] is not a resource with a list of instances")
            prefix = f"{r['module']}." if isinstance(r.get("module"), str) else ""
            base = f"{prefix}{'data.' if r.get('mode') == 'data' else ''}{r.get('type')}.{r.get('name')}"
            for inst in r.get("instances") or []:
                if not isinstance(inst, dict):
                    raise UsageError(f"{source}: {base}: an instance is not an object")
                if inst.get("deposed"):
                    continue
                address = base + _index(inst.get("index_key"))
                if "attributes" not in inst and "attributes_flat" in inst:
                    raise UsageError(f"{source}: {address}: attributes are in the pre-0.12 flat form",
                                     hint="`terraform state pull` with Terraform 0.12 or later rewrites them")
                add(r.get("mode"), r.get("type"), address, inst.get("attributes"))
        return managed, read

    def walk(module: Any, where: str) -> None:
        if not isinstance(module, dict) or not all(isinstance(module.get(k) or [], list)
                                                   for k in ("resources", "child_modules")):
            raise UsageError(f"{source}: {where} is not a module with lists of resources and child modules")
        for i, r in enumerate(module.get("resources") or []):
            if not isinstance(r, dict):
                raise UsageError(f"{source}: {where}.resources[{i}] is not an object")
            if r.get("deposed_key"):
                continue
            add(r.get("mode"), r.get("type"), str(r.get("address", f"{where}.resources[{i}]")), r.get("values"))
        for j, child in enumerate(module.get("child_modules") or []):
            walk(child, f"{where}.child_modules[{j}]")

    values = data.get("values") or {}
    if values.get("root_module") is not None:
        walk(values["root_module"], "values.root_module")
    return managed, read


# ---------------------------------------------------------------------------------------------------
# helpers


def _synthetic_id(prefix: str, *parts: str) -> str:
    """An id for an object AWS has but the state does not name (the primary CIDR's association, a subnet's
    implicit NACL association, ...): stable, so the same state always gives the same dict."""
    return prefix + hashlib.sha256("\0".join(parts).encode()).hexdigest()[:17]


def _is_ipv6(cidr: str) -> bool:
    return ":" in cidr


def _cidr(res: _Attrs, key: str, value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise res.fail(f"{res.path}{key} = {value!r} is not a CIDR block", ErrorCode.INVALID_PARAMETER_VALUE) from None


def _sorted(items: list[dict], *keys: str) -> list[dict]:
    return sorted(items, key=lambda d: tuple(str(d.get(k, "")) for k in keys))


@dataclass
class _Eni:
    """An ENI as it is being gathered from the resources that shape it."""

    id: str
    address: str                       # the resource it comes from (the instance for a primary ENI)
    subnet: str
    private_ips: list[str]             # primary first
    groups: list[str]
    source_dest_check: bool = True
    description: str = ""
    interface_type: str = "interface"
    requester_managed: bool = False
    owner: str = ""
    mac: str = ""
    tags: list[dict] = field(default_factory=list)
    instance: str = ""
    device_index: int = 0
    attachment_id: str = ""
    delete_on_termination: bool = False
    attached_by: str = ""              # the address that attached it, for conflicts
    public: dict[str, dict] = field(default_factory=dict)   # private IP → describe's Association


@dataclass
class _Rule:
    """One security group rule reduced to one source or destination, the unit AWS merges on."""

    egress: bool
    protocol: str
    from_port: int | None
    to_port: int | None
    kind: str                          # cidr | pl | sg
    value: str
    user_id: str = ""

    def key(self) -> tuple:
        return (self.egress, self.protocol, self.from_port, self.to_port, self.kind, self.value)


# ---------------------------------------------------------------------------------------------------
# the conversion


def describe_from_state(data: dict, source: str) -> tuple[dict, list[str]]:
    """The describe dict for the VPC resources of a Terraform state, and a warning for each thing it leaves out.
    `source` names the file in messages."""
    describe, notices, _ = convert_state(data, source)
    return describe, [f"{n.id} ({n.kind}): {n.detail}" for n in notices]


def convert_state(data: dict, source: str) -> tuple[dict, list[Notice], dict[str, str]]:
    """describe_from_state, its warnings as the importer's notices (`unrepresentable`: the kind is the resource
    type, the id its address), and the address of the resource each id in the dict comes from (an Elastic IP's
    by its public address too, an instance's reservation by its instance's), so that a refusal of the imported
    lab can name the resource to change."""
    _check_format(data, source)
    managed, read = _resources(data, source)
    return _Builder(source, managed, read).build()


class _Builder:
    def __init__(self, source: str, managed: list[_Attrs], read: list[_Attrs]):
        self.source = source
        self.warnings: list[Notice] = []
        self.by_type: dict[str, list[_Attrs]] = defaultdict(list)
        self.ids: dict[str, dict[str, _Attrs]] = defaultdict(dict)      # kind → id → resource naming it
        self.elsewhere: dict[str, str] = {}     # id → "address (type)": in the state, not represented
        self.data_ids: dict[str, str] = {}      # id → data source address: read by the state, not managed
        self.default_sg: dict[str, str] = {}    # VPC → its default security group
        for res in managed:
            if res.type in _MAPPED:
                self.by_type[res.type].append(res)
            elif res.type.startswith(("aws_", "awscc_")):
                self.warn(res, "not represented in a lab; left out")
                if res.id:
                    self.elsewhere[res.id] = f"{res.address} ({res.type})"
        self.read = read
        for res in read:
            if res.id:
                self.data_ids[res.id] = res.address

    def warn(self, res: _Attrs, message: str) -> None:
        self.warnings.append(Notice("unrepresentable", res.type, res.address, message))

    def of(self, *types: str) -> list[_Attrs]:
        return [r for t in types for r in self.by_type.get(t, [])]

    def register(self, kind: str, id_: str, res: _Attrs) -> None:
        if not id_:
            raise res.fail("has no id", ErrorCode.MISSING_PARAMETER)
        self.ids[kind].setdefault(id_, res)

    def ref(self, res: _Attrs, attr: str, value: str, kind: str) -> str | None:
        """`value` if the state holds that object; None, with a warning, if it is a resource left out; else
        the dangling reference is refused."""
        if value in self.ids[kind]:
            return value
        noun, code = _KINDS[kind]
        if value in self.elsewhere:
            self.warn(res, f"{res.path}{attr} = {value} is {self.elsewhere[value]}, which is not represented; "
                           f"the reference is left out")
            return None
        hint = (f"the state reads it ({self.data_ids[value]}) but does not manage it; import it into the state"
                if value in self.data_ids else "add it to the state (`terraform import`) or remove the reference")
        raise res.fail(f"{res.path}{attr} = {value}: no {noun} {value} in the state", code, hint)

    # -- pass 1: every id the state names, so references resolve whatever the order -------------------

    def collect(self) -> None:
        for res in self.of("aws_vpc", "aws_default_vpc"):
            self.register("vpc", res.id, res)
            for key in ("main_route_table_id", "default_route_table_id"):
                if res.str(key):
                    self.register("rtb", res.str(key), res)
            if res.str("default_security_group_id"):
                self.register("sg", res.str("default_security_group_id"), res)
            if res.str("default_network_acl_id"):
                self.register("acl", res.str("default_network_acl_id"), res)
        for t, kind in (("aws_subnet", "subnet"), ("aws_default_subnet", "subnet"), ("aws_route_table", "rtb"),
                        ("aws_default_route_table", "rtb"), ("aws_security_group", "sg"),
                        ("aws_default_security_group", "sg"), ("aws_network_acl", "acl"),
                        ("aws_default_network_acl", "acl"), ("aws_internet_gateway", "igw"), ("aws_nat_gateway", "nat"),
                        ("aws_eip", "eip"), ("aws_network_interface", "eni"), ("aws_instance", "instance"),
                        ("aws_vpc_endpoint", "vpce"), ("aws_vpc_peering_connection", "pcx"),
                        ("aws_ec2_managed_prefix_list", "pl")):
            for res in self.of(t):
                self.register(kind, res.id, res)
        for res in self.of("aws_vpc_peering_connection_accepter"):    # its id is the connection's
            self.register("pcx", res.str("vpc_peering_connection_id") or res.id, res)
        for res in self.of("aws_main_route_table_association"):
            if res.str("original_route_table_id"):
                self.register("rtb", res.str("original_route_table_id"), res)
        for res in self.of("aws_instance"):
            if res.str("primary_network_interface_id"):
                self.register("eni", res.str("primary_network_interface_id"), res)
        for res in self.of("aws_nat_gateway"):
            if res.str("network_interface_id"):
                self.register("eni", res.str("network_interface_id"), res)
        for res in self.of("aws_vpc_endpoint"):     # AWS's own prefix list of a gateway endpoint's service
            if res.str("prefix_list_id"):
                self.register("pl", res.str("prefix_list_id"), res)
        for res in self.read:
            if res.type in ("aws_prefix_list", "aws_ec2_managed_prefix_list") and res.id:
                self.register("pl", res.id, res)

    # -- the whole conversion ---------------------------------------------------------------------------

    def build(self) -> tuple[dict, list[Notice], dict[str, str]]:
        self.collect()
        self.vpcs()
        self.subnets()
        self.prefix_lists()
        self.security_groups()
        self.internet_gateways()
        self.network_interfaces()
        self.elastic_ips()
        self.nat_gateways()
        self.public_ips()
        self.peering_connections()
        self.endpoints()
        self.route_tables()
        self.network_acls()
        out = {
            "Vpcs": _sorted(list(self.vpc_out.values()), "VpcId"),
            "VpcAttributes": self.vpc_attributes(),
            "Subnets": _sorted(list(self.subnet_out.values()), "SubnetId"),
            "RouteTables": _sorted(self.rtb_out, "RouteTableId"),
            "NetworkInterfaces": _sorted([self.describe_eni(e) for e in self.enis.values()], "NetworkInterfaceId"),
            "SecurityGroups": _sorted(self.sg_out, "GroupId"),
            "NetworkAcls": _sorted(self.acl_out, "NetworkAclId"),
            "InternetGateways": _sorted(self.igw_out, "InternetGatewayId"),
            "NatGateways": _sorted(self.nat_out, "NatGatewayId"),
            "VpcEndpoints": _sorted(self.vpce_out, "VpcEndpointId"),
            "VpcPeeringConnections": _sorted(self.pcx_out, "VpcPeeringConnectionId"),
            "Reservations": self.reservations(),
            "Addresses": _sorted(self.addresses(), "AllocationId"),
            "ManagedPrefixLists": _sorted(self.mpl_out, "PrefixListId"),
            "PrefixLists": _sorted(list(self.aws_pl_out.values()), "PrefixListId"),
        }
        addresses = {i: res.address for ids in self.ids.values() for i, res in ids.items()}
        for reservation in out["Reservations"]:
            addresses[reservation["ReservationId"]] = addresses[reservation["Instances"][0]["InstanceId"]]
        for address in out["Addresses"]:
            addresses[address["PublicIp"]] = addresses[address["AllocationId"]]
        return out, self.warnings, addresses

    # -- VPCs and subnets -------------------------------------------------------------------------------

    def vpcs(self) -> None:
        # aws_vpc: vpc_.go, website/docs/r/vpc.html.markdown; aws_default_vpc shares its schema
        # (vpc_default_vpc.go); aws_vpc_ipv4_cidr_block_association: website/docs/r/vpc_ipv4_cidr_block_association.html.markdown
        self.vpc_out: dict[str, dict] = {}
        self.vpc_cidrs: dict[str, list[str]] = {}
        self.vpc_res: dict[str, _Attrs] = {}
        for res in self.of("aws_vpc", "aws_default_vpc"):
            cidr = res.str("cidr_block")
            if not cidr:
                raise res.fail("has no cidr_block", ErrorCode.MISSING_PARAMETER)
            cidr = _cidr(res, "cidr_block", cidr)
            if res.str("ipv6_cidr_block"):
                self.warn(res, f"IPv6 CIDR {res.str('ipv6_cidr_block')} left out (IPv6 is not represented)")
            vpc = {"VpcId": res.id, "CidrBlock": cidr, "State": "available",
                   "CidrBlockAssociationSet": [{"AssociationId": _synthetic_id("vpc-cidr-assoc-", res.id, cidr),
                                                "CidrBlock": cidr, "CidrBlockState": {"State": "associated"}}],
                   "InstanceTenancy": res.str("instance_tenancy") or "default",
                   "IsDefault": res.type == "aws_default_vpc"}
            for key, out in (("dhcp_options_id", "DhcpOptionsId"), ("owner_id", "OwnerId")):
                if res.str(key):
                    vpc[out] = res.str(key)
            if res.tags():
                vpc["Tags"] = res.tags()
            self.vpc_out[res.id] = vpc
            self.vpc_cidrs[res.id] = [cidr]
            self.vpc_res[res.id] = res
        for res in self.of("aws_vpc_ipv4_cidr_block_association"):
            vpc_id = self.ref(res, "vpc_id", res.str("vpc_id"), "vpc")
            cidr = _cidr(res, "cidr_block", res.str("cidr_block"))
            if vpc_id and cidr not in self.vpc_cidrs[vpc_id]:
                self.vpc_cidrs[vpc_id].append(cidr)
                self.vpc_out[vpc_id]["CidrBlockAssociationSet"].append(
                    {"AssociationId": res.id or _synthetic_id("vpc-cidr-assoc-", vpc_id, cidr), "CidrBlock": cidr,
                     "CidrBlockState": {"State": "associated"}})

    def vpc_attributes(self) -> list[dict]:
        """describe-vpcs has no DNS settings: one describe-vpc-attribute answer per VPC and attribute carries them,
        as `aws ec2 describe-vpc-attribute` prints it (the provider's defaults: support on, hostnames off)."""
        out = []
        for vpc_id in sorted(self.vpc_res):
            res = self.vpc_res[vpc_id]
            default = res.type == "aws_default_vpc"
            out.append({"VpcId": vpc_id, "EnableDnsSupport": {"Value": res.bool("enable_dns_support", True)}})
            out.append({"VpcId": vpc_id, "EnableDnsHostnames": {"Value": res.bool("enable_dns_hostnames", default)}})
        return out

    def subnets(self) -> None:
        # aws_subnet: vpc_subnet.go, website/docs/r/subnet.html.markdown; aws_default_subnet shares its schema
        self.subnet_out: dict[str, dict] = {}
        for res in self.of("aws_subnet", "aws_default_subnet"):
            vpc_id = self.ref(res, "vpc_id", res.str("vpc_id"), "vpc")
            cidr = res.str("cidr_block")
            if not cidr:
                raise res.fail("has no cidr_block (an IPv6-only subnet is not represented)", ErrorCode.MISSING_PARAMETER)
            if res.str("ipv6_cidr_block"):
                self.warn(res, f"IPv6 CIDR {res.str('ipv6_cidr_block')} left out (IPv6 is not represented)")
            subnet = {"SubnetId": res.id, "VpcId": vpc_id, "CidrBlock": _cidr(res, "cidr_block", cidr),
                      "State": "available", "MapPublicIpOnLaunch": res.bool("map_public_ip_on_launch", False),
                      "DefaultForAz": res.type == "aws_default_subnet"}
            for key, out in (("availability_zone", "AvailabilityZone"), ("availability_zone_id", "AvailabilityZoneId"),
                             ("owner_id", "OwnerId"), ("arn", "SubnetArn")):
                if res.str(key):
                    subnet[out] = res.str(key)
            if res.tags():
                subnet["Tags"] = res.tags()
            self.subnet_out[res.id] = subnet

    def subnet_vpc(self, subnet_id: str) -> str:
        return self.subnet_out[subnet_id]["VpcId"]

    # -- prefix lists -----------------------------------------------------------------------------------

    def prefix_lists(self) -> None:
        # aws_ec2_managed_prefix_list: vpc_managed_prefix_list.go, website/docs/r/ec2_managed_prefix_list.html.markdown;
        # aws_ec2_managed_prefix_list_entry: vpc_managed_prefix_list_entry.go
        self.mpl_out: list[dict] = []
        self.dropped_pl: set[str] = set()
        entries: dict[str, dict[str, dict]] = defaultdict(dict)
        for res in self.of("aws_ec2_managed_prefix_list_entry"):
            pl = self.ref(res, "prefix_list_id", res.str("prefix_list_id"), "pl")
            if pl:
                cidr = res.str("cidr")
                entries[pl][cidr] = {"Cidr": cidr, **({"Description": res.str("description")}
                                                        if res.str("description") else {})}
        for res in self.of("aws_ec2_managed_prefix_list"):
            if res.str("address_family") == "IPv6":
                self.warn(res, "an IPv6 prefix list; left out (IPv6 is not represented)")
                self.dropped_pl.add(res.id)
                continue
            mine = {}
            for e in res.blocks("entry"):
                cidr = _cidr(e, "cidr", e.str("cidr"))
                mine[cidr] = {"Cidr": cidr, **({"Description": e.str("description")} if e.str("description") else {})}
            mine.update(entries.get(res.id, {}))
            pl = {"PrefixListId": res.id, "AddressFamily": res.str("address_family") or "IPv4",
                  "State": "create-complete", "PrefixListName": res.str("name"),
                  "Entries": [mine[c] for c in sorted(mine)]}
            if res.int("max_entries") is not None:
                pl["MaxEntries"] = res.int("max_entries")
            if res.int("version") is not None:
                pl["Version"] = res.int("version")
            for key, out in (("owner_id", "OwnerId"), ("arn", "PrefixListArn")):
                if res.str(key):
                    pl[out] = res.str(key)
            if res.tags():
                pl["Tags"] = res.tags()
            self.mpl_out.append(pl)
        # AWS's own lists (describe-prefix-lists): a gateway endpoint's service (vpc_endpoint.go sets
        # prefix_list_id and cidr_blocks from it) and data.aws_prefix_list (website/docs/d/prefix_list.html.markdown)
        self.aws_pl_out: dict[str, dict] = {}
        for res in self.of("aws_vpc_endpoint"):
            if res.str("prefix_list_id"):
                self.aws_pl_out[res.str("prefix_list_id")] = {
                    "PrefixListId": res.str("prefix_list_id"), "PrefixListName": res.str("service_name"),
                    "Cidrs": sorted(res.strs("cidr_blocks"))}
        for res in self.read:
            if res.type == "aws_prefix_list" and res.id not in self.aws_pl_out:
                self.aws_pl_out[res.id] = {"PrefixListId": res.id, "PrefixListName": res.str("name"),
                                           "Cidrs": sorted(res.strs("cidr_blocks"))}
            elif res.type == "aws_ec2_managed_prefix_list" and res.id not in self.aws_pl_out:
                cidrs = [e.str("cidr") for e in res.blocks("entries")]
                self.aws_pl_out[res.id] = {"PrefixListId": res.id, "PrefixListName": res.str("name"),
                                           "Cidrs": sorted(c for c in cidrs if c and not _is_ipv6(c))}

    def pl_ref(self, res: _Attrs, attr: str, value: str) -> str | None:
        if value in self.dropped_pl:
            self.warn(res, f"{res.path}{attr} = {value} is an IPv6 prefix list; the reference is left out")
            return None
        return self.ref(res, attr, value, "pl")

    # -- security groups --------------------------------------------------------------------------------

    def security_groups(self) -> None:
        # aws_security_group: vpc_security_group.go, website/docs/r/security_group.html.markdown;
        # aws_default_security_group: vpc_default_security_group.go (same rule blocks, and it replaces AWS's
        # default rules with its own); aws_security_group_rule: vpc_security_group_rule.go;
        # aws_vpc_security_group_ingress_rule / _egress_rule: vpc_security_group_ingress_rule.go
        self.sg_meta: dict[str, dict] = {}
        rules: dict[str, dict[tuple, tuple[_Rule, str]]] = defaultdict(dict)
        managed_defaults = set()
        for res in self.of("aws_security_group", "aws_default_security_group"):
            vpc_id = self.ref(res, "vpc_id", res.str("vpc_id"), "vpc") if res.str("vpc_id") else None
            if not vpc_id:
                raise res.fail("has no vpc_id (an EC2-Classic group is not represented)", ErrorCode.MISSING_PARAMETER)
            default = res.type == "aws_default_security_group"
            if default:
                managed_defaults.add(res.id)
            self.sg_meta[res.id] = {"GroupId": res.id, "GroupName": res.str("name") or ("default" if default else res.id),
                                    "Description": res.str("description") or
                                    ("default VPC security group" if default else "Managed by Terraform"),
                                    "VpcId": vpc_id, "OwnerId": res.str("owner_id"), "Tags": res.tags()}
        for vpc_id, vpc in self.vpc_res.items():       # every VPC has its default group
            sg = vpc.str("default_security_group_id") or _synthetic_id("sg-", vpc_id)
            self.default_sg[vpc_id] = sg
            self.ids["sg"].setdefault(sg, vpc)
            if sg not in self.sg_meta:
                self.sg_meta[sg] = {"GroupId": sg, "GroupName": "default", "Description": "default VPC security group",
                                    "VpcId": vpc_id, "OwnerId": vpc.str("owner_id"), "Tags": []}
            if sg not in managed_defaults:      # AWS's default rules (aws-vpc-reference §4, default security group)
                for r in (_Rule(False, "-1", None, None, "sg", sg), _Rule(True, "-1", None, None, "cidr", "0.0.0.0/0")):
                    rules[sg][r.key()] = (r, "")

        def add(res: _Attrs, group: str, rule: _Rule, description: str, attr: str) -> None:
            if rule.kind == "sg":
                if rule.user_id and rule.value not in self.ids["sg"]:
                    self.warn(res, f"{attr} {rule.user_id}/{rule.value} is a group of another account; the rule "
                                   f"is left out")
                    return
                if not self.ref(res, attr, rule.value, "sg"):
                    return
            if rule.kind == "pl" and not self.pl_ref(res, attr, rule.value):
                return
            have = rules[group].get(rule.key())
            if have is None or (not have[1] and description):
                rules[group][rule.key()] = (rule, description)

        def inline(res: _Attrs, group: str, block: _Attrs, egress: bool, sg_key: str = "security_groups") -> None:
            protocol, lo, hi = self.sg_protocol(block, block.str("protocol"), block.int("from_port"), block.int("to_port"))
            description = block.str("description")
            for c in block.strs("cidr_blocks"):
                add(res, group, _Rule(egress, protocol, lo, hi, "cidr", _cidr(block, "cidr_blocks", c)), description,
                    f"{block.path}cidr_blocks")
            for c in block.strs("ipv6_cidr_blocks"):
                self.warn(res, f"{block.path}ipv6_cidr_blocks {c} left out (IPv6 is not represented)")
            for p in block.strs("prefix_list_ids"):
                add(res, group, _Rule(egress, protocol, lo, hi, "pl", p), description, f"{block.path}prefix_list_ids")
            for g in block.strs(sg_key):
                user, _, gid = g.rpartition("/")
                add(res, group, _Rule(egress, protocol, lo, hi, "sg", gid, user), description, f"{block.path}{sg_key}")
            if block.bool("self", False):
                add(res, group, _Rule(egress, protocol, lo, hi, "sg", group), description, f"{block.path}self")

        for res in self.of("aws_security_group", "aws_default_security_group"):
            for direction in ("ingress", "egress"):
                for block in res.blocks(direction):
                    inline(res, res.id, block, direction == "egress")
        for res in self.of("aws_security_group_rule"):
            group = self.ref(res, "security_group_id", res.str("security_group_id"), "sg")
            if res.str("type") not in ("ingress", "egress"):
                raise res.fail(f"type must be ingress or egress, not {res.str('type')!r}", ErrorCode.INVALID_PARAMETER_VALUE)
            if not group:
                continue
            source = res.str("source_security_group_id")
            values = dict(res.values, source_security_group_id=[source] if source else [])
            inline(res, group, _Attrs(res.source, res.address, res.type, values), res.str("type") == "egress",
                   "source_security_group_id")
        for res in self.of("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule"):
            group = self.ref(res, "security_group_id", res.str("security_group_id"), "sg")
            if not group:
                continue
            egress = res.type.endswith("egress_rule")
            protocol, lo, hi = self.sg_protocol(res, res.str("ip_protocol"), res.int("from_port"), res.int("to_port"))
            description = res.str("description")
            if res.str("cidr_ipv4"):
                add(res, group, _Rule(egress, protocol, lo, hi, "cidr", _cidr(res, "cidr_ipv4", res.str("cidr_ipv4"))),
                    description, "cidr_ipv4")
            elif res.str("cidr_ipv6"):
                self.warn(res, f"cidr_ipv6 {res.str('cidr_ipv6')} left out (IPv6 is not represented)")
            elif res.str("prefix_list_id"):
                add(res, group, _Rule(egress, protocol, lo, hi, "pl", res.str("prefix_list_id")), description,
                    "prefix_list_id")
            elif res.str("referenced_security_group_id"):
                user, _, gid = res.str("referenced_security_group_id").rpartition("/")
                add(res, group, _Rule(egress, protocol, lo, hi, "sg", gid, user), description,
                    "referenced_security_group_id")
            else:
                raise res.fail("names no cidr_ipv4, cidr_ipv6, prefix_list_id or referenced_security_group_id",
                               ErrorCode.MISSING_PARAMETER)
        self.sg_out = [self.describe_sg(meta, rules[sg].values()) for sg, meta in self.sg_meta.items()]

    def sg_protocol(self, res: _Attrs, protocol: str, lo: int | None, hi: int | None) -> tuple[str, int | None, int | None]:
        p = _SG_PROTOCOLS.get(protocol.lower())
        if p is None:
            if not protocol.isdigit():
                raise res.fail(f"{res.path}protocol {protocol!r} is not a protocol name or number",
                               ErrorCode.INVALID_PARAMETER_VALUE)
            return protocol, None, None
        if p == "-1":
            return p, None, None
        if p in ("icmp", "icmpv6"):         # FromPort is the ICMP type, ToPort the code; -1 is all
            return p, -1 if lo is None else lo, -1 if hi is None else hi
        if lo is None or hi is None:
            raise res.fail(f"{res.path}a {p} rule needs from_port and to_port", ErrorCode.MISSING_PARAMETER)
        return p, lo, hi

    def describe_sg(self, meta: dict, rules: Any) -> dict:
        perms: dict[tuple, dict[bool, dict]] = defaultdict(dict)
        out = {k: v for k, v in meta.items() if v or k == "Description"}
        for rule, description in rules:
            perm = perms[(rule.protocol, rule.from_port, rule.to_port)].setdefault(rule.egress, {
                "IpProtocol": rule.protocol,
                **({} if rule.from_port is None else {"FromPort": rule.from_port, "ToPort": rule.to_port}),
                "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []})
            desc = {"Description": description} if description else {}
            if rule.kind == "cidr":
                perm["IpRanges"].append({"CidrIp": rule.value, **desc})
            elif rule.kind == "pl":
                perm["PrefixListIds"].append({"PrefixListId": rule.value, **desc})
            else:
                other = self.sg_meta.get(rule.value, {})
                pair = {"GroupId": rule.value, **desc}
                if rule.user_id or other.get("OwnerId"):
                    pair["UserId"] = rule.user_id or other["OwnerId"]
                if other.get("VpcId") and other["VpcId"] != meta["VpcId"]:
                    pair["VpcId"] = other["VpcId"]
                perm["UserIdGroupPairs"].append(pair)
        for egress, key in ((False, "IpPermissions"), (True, "IpPermissionsEgress")):
            listed = [by_dir[egress] for _, by_dir in sorted(perms.items(), key=lambda kv: str(kv[0])) if egress in by_dir]
            for perm in listed:
                perm["IpRanges"] = _sorted(perm["IpRanges"], "CidrIp")
                perm["PrefixListIds"] = _sorted(perm["PrefixListIds"], "PrefixListId")
                perm["UserIdGroupPairs"] = _sorted(perm["UserIdGroupPairs"], "GroupId")
            out[key] = listed
        return out

    def group_ids(self, res: _Attrs, attr: str, ids: list[str]) -> list[str]:
        return sorted({g for g in (self.ref(res, attr, i, "sg") for i in ids) if g})

    def groups(self, ids: list[str]) -> list[dict]:
        return [{"GroupId": g, "GroupName": self.sg_meta[g]["GroupName"]} for g in ids]

    # -- internet gateways ------------------------------------------------------------------------------

    def internet_gateways(self) -> None:
        # aws_internet_gateway: vpc_internet_gateway.go, website/docs/r/internet_gateway.html.markdown;
        # aws_internet_gateway_attachment: vpc_internet_gateway_attachment.go
        attached: dict[str, tuple[str, _Attrs]] = {}
        for res in self.of("aws_internet_gateway_attachment"):
            igw = self.ref(res, "internet_gateway_id", res.str("internet_gateway_id"), "igw")
            vpc = self.ref(res, "vpc_id", res.str("vpc_id"), "vpc")
            if igw and vpc:
                attached[igw] = (vpc, res)
        self.igw_out = []
        for res in self.of("aws_internet_gateway"):
            vpc = self.ref(res, "vpc_id", res.str("vpc_id"), "vpc") if res.str("vpc_id") else None
            other = attached.get(res.id)
            if vpc and other and other[0] != vpc:
                raise res.fail(f"is attached to {vpc} here and to {other[0]} by {other[1].address}",
                               ErrorCode.RESOURCE_ALREADY_ASSOCIATED, REFRESH_HINT)
            vpc = vpc or (other[0] if other else None)
            igw = {"InternetGatewayId": res.id,
                   "Attachments": [{"State": "available", "VpcId": vpc}] if vpc else []}
            if res.str("owner_id"):
                igw["OwnerId"] = res.str("owner_id")
            if res.tags():
                igw["Tags"] = res.tags()
            self.igw_out.append(igw)

    # -- ENIs and instances -----------------------------------------------------------------------------

    def network_interfaces(self) -> None:
        # aws_network_interface: vpc_network_interface.go, website/docs/r/network_interface.html.markdown;
        # aws_network_interface_attachment: vpc_network_interface_attachment.go;
        # aws_instance: ec2_instance.go, website/docs/r/instance.html.markdown (primary_network_interface_id,
        # private_ip, secondary_private_ips, vpc_security_group_ids, associate_public_ip_address, public_ip,
        # network_interface blocks)
        self.enis: dict[str, _Eni] = {}
        self.instances: dict[str, _Attrs] = {}
        self.instance_eni: dict[str, str] = {}
        for res in self.of("aws_network_interface"):
            subnet = self.ref(res, "subnet_id", res.str("subnet_id"), "subnet")
            if not subnet:
                continue
            ips = res.strs("private_ip_list") if res.bool("private_ip_list_enabled", False) else []
            if not ips:
                primary = res.str("private_ip") or (res.strs("private_ip_list") or [""])[0]
                ips = [primary] + sorted(set(res.strs("private_ips")) - {primary}) if primary else []
            if not ips:
                raise res.fail("has no private_ip", ErrorCode.MISSING_PARAMETER)
            if res.strs("ipv6_addresses") or res.strs("ipv6_address_list"):
                self.warn(res, "IPv6 addresses left out (IPv6 is not represented)")
            groups = self.group_ids(res, "security_groups", res.strs("security_groups")) or \
                [self.default_sg[self.subnet_vpc(subnet)]]
            eni = _Eni(res.id, res.address, subnet, ips, groups, res.bool("source_dest_check", True),
                       res.str("description"), res.str("interface_type") or "interface", owner=res.str("owner_id"),
                       mac=res.str("mac_address"), tags=res.tags())
            self.enis[res.id] = eni
            for block in res.blocks("attachment"):
                self.attach(block, eni, block.str("instance"), block.int("device_index") or 0,
                            block.str("attachment_id"), False)
        for res in self.of("aws_instance"):
            self.instance(res)
        for res in self.of("aws_network_interface_attachment"):
            eni = self.ref(res, "network_interface_id", res.str("network_interface_id"), "eni")
            if eni:
                self.attach(res, self.enis[eni], res.str("instance_id"), res.int("device_index") or 0,
                            res.str("attachment_id") or res.id, False)
        # aws_nat_gateway: vpc_nat_gateway.go. Its ENI is requester-managed, described as AWS does
        # (aws-vpc-reference §3, requester-managed ENIs); made here so that an aws_eip naming it resolves.
        for res in self.of("aws_nat_gateway"):
            subnet = self.ref(res, "subnet_id", res.str("subnet_id"), "subnet")
            eni_id, private_ip = res.str("network_interface_id"), res.str("private_ip")
            if not eni_id or not private_ip:
                raise res.fail("has no network_interface_id or private_ip", ErrorCode.MISSING_PARAMETER)
            if subnet:
                self.enis[eni_id] = _Eni(eni_id, res.address, subnet, [private_ip], [], False,
                                         f"Interface for NAT Gateway {res.id}", "natGateway", requester_managed=True)

    def instance(self, res: _Attrs) -> None:
        self.instances[res.id] = res
        primary = res.str("primary_network_interface_id")
        if not primary:
            raise res.fail("has no primary_network_interface_id", ErrorCode.MISSING_PARAMETER)
        for block in res.blocks("network_interface"):
            eni = self.ref(block, "network_interface_id", block.str("network_interface_id"), "eni")
            if eni and eni in self.enis:
                self.attach(block, self.enis[eni], res.id, block.int("device_index") or 0, "",
                            block.bool("delete_on_termination", False))
        self.instance_eni[res.id] = primary
        if res.strs("ipv6_addresses"):
            self.warn(res, "IPv6 addresses left out (IPv6 is not represented)")
        if primary in self.enis:        # launched with an aws_network_interface as eth0
            if self.enis[primary].instance != res.id:
                raise res.fail(f"primary_network_interface_id {primary} is attached to "
                               f"{self.enis[primary].instance or 'nothing'}", ErrorCode.INVALID_PARAMETER_COMBINATION,
                               REFRESH_HINT)
            return
        subnet = self.ref(res, "subnet_id", res.str("subnet_id"), "subnet")
        if not subnet:
            return
        if not res.str("private_ip"):
            raise res.fail("has no private_ip", ErrorCode.MISSING_PARAMETER)
        ids = res.strs("vpc_security_group_ids")
        if not ids and res.strs("security_groups"):     # names, or ids, of its VPC's groups
            vpc = self.subnet_vpc(subnet)
            names = {m["GroupName"]: g for g, m in self.sg_meta.items() if m["VpcId"] == vpc}
            ids = [names.get(n, n) for n in res.strs("security_groups")]
        groups = self.group_ids(res, "vpc_security_group_ids", ids) or [self.default_sg[self.subnet_vpc(subnet)]]
        secondary = sorted(set(res.strs("secondary_private_ips")) - {res.str("private_ip")})
        eni = _Eni(primary, res.address, subnet, [res.str("private_ip"), *secondary], groups,
                   res.bool("source_dest_check", True), "", "interface", owner=res.str("owner_id"))
        self.enis[primary] = eni
        self.attach(res, eni, res.id, 0, _synthetic_id("eni-attach-", res.id, primary), True)

    def attach(self, res: _Attrs, eni: _Eni, instance: str, device_index: int, attachment_id: str,
               delete_on_termination: bool) -> None:
        instance = self.ref(res, "instance", instance, "instance") or ""
        if not instance:
            return
        if eni.instance and (eni.instance, eni.device_index) != (instance, device_index):
            raise res.fail(f"attaches {eni.id} to {instance} at device index {device_index}, but {eni.attached_by} "
                           f"attaches it to {eni.instance} at {eni.device_index}", ErrorCode.INVALID_NETWORK_INTERFACE_IN_USE,
                           REFRESH_HINT)
        eni.instance, eni.device_index, eni.attached_by = instance, device_index, res.address
        eni.attachment_id = attachment_id or eni.attachment_id or _synthetic_id("eni-attach-", instance, eni.id)
        eni.delete_on_termination = eni.delete_on_termination or delete_on_termination

    def eni_owner(self, eni_id: str) -> str:
        return self.enis[eni_id].owner if eni_id in self.enis else ""

    def describe_eni(self, eni: _Eni) -> dict:
        subnet = self.subnet_out[eni.subnet]
        out: dict[str, Any] = {
            "NetworkInterfaceId": eni.id, "SubnetId": eni.subnet, "VpcId": subnet["VpcId"],
            "PrivateIpAddress": eni.private_ips[0],
            "PrivateIpAddresses": [{"Primary": i == 0, "PrivateIpAddress": ip,
                                    **({"Association": eni.public[ip]} if ip in eni.public else {})}
                                   for i, ip in enumerate(eni.private_ips)],
            "Groups": self.groups(eni.groups), "SourceDestCheck": eni.source_dest_check,
            "InterfaceType": eni.interface_type, "RequesterManaged": eni.requester_managed,
            "Description": eni.description, "Status": "in-use" if eni.instance or eni.requester_managed else "available",
            "TagSet": eni.tags}
        if "AvailabilityZone" in subnet:
            out["AvailabilityZone"] = subnet["AvailabilityZone"]
        if eni.private_ips[0] in eni.public:
            out["Association"] = eni.public[eni.private_ips[0]]
        if eni.owner:
            out["OwnerId"] = eni.owner
        if eni.mac:
            out["MacAddress"] = eni.mac
        if eni.instance:
            out["Attachment"] = {"AttachmentId": eni.attachment_id, "DeviceIndex": eni.device_index,
                                 "InstanceId": eni.instance, "Status": "attached",
                                 "DeleteOnTermination": eni.delete_on_termination}
            if self.instances[eni.instance].str("owner_id"):
                out["Attachment"]["InstanceOwnerId"] = self.instances[eni.instance].str("owner_id")
        return out

    # -- Elastic IPs, NAT gateways, public IPs ----------------------------------------------------------

    def elastic_ips(self) -> None:
        # aws_eip: ec2_eip.go, website/docs/r/eip.html.markdown; aws_eip_association: ec2_eip_association.go
        self.eip_assoc: dict[str, dict] = {}     # allocation id → Association fields and where it came from
        self.eips: dict[str, _Attrs] = {}
        for res in self.of("aws_eip"):
            if not res.str("public_ip"):
                raise res.fail("has no public_ip", ErrorCode.MISSING_PARAMETER)
            self.eips[res.id] = res
            if res.str("network_interface") or res.str("instance"):
                self.associate(res, res.id, res.str("network_interface"), res.str("instance"),
                               res.str("private_ip") or res.str("associate_with_private_ip"), res.str("association_id"))
        for res in self.of("aws_eip_association"):
            alloc = res.str("allocation_id")
            if not alloc and res.str("public_ip"):
                alloc = next((a for a, e in self.eips.items() if e.str("public_ip") == res.str("public_ip")), "")
            alloc = self.ref(res, "allocation_id", alloc or res.str("public_ip"), "eip")
            if alloc:
                self.associate(res, alloc, res.str("network_interface_id"), res.str("instance_id"),
                               res.str("private_ip_address"), res.id)

    def associate(self, res: _Attrs, alloc: str, eni_id: str, instance: str, private_ip: str, association_id: str) -> None:
        if eni_id:
            eni_id = self.ref(res, "network_interface_id", eni_id, "eni") or ""
        elif instance:
            instance = self.ref(res, "instance_id", instance, "instance") or ""
            eni_id = self.instance_eni.get(instance, "")
        if eni_id not in self.enis:
            return
        eni = self.enis[eni_id]
        private_ip = private_ip or eni.private_ips[0]
        if private_ip not in eni.private_ips:
            raise res.fail(f"associates {alloc} with {private_ip}, which {eni_id} does not have",
                           ErrorCode.INVALID_PARAMETER_VALUE, REFRESH_HINT)
        have = self.eip_assoc.get(alloc)
        if have and (have["eni"], have["ip"]) != (eni_id, private_ip):
            raise res.fail(f"associates {alloc} with {eni_id} {private_ip}, but {have['by']} associates it with "
                           f"{have['eni']} {have['ip']}", ErrorCode.RESOURCE_ALREADY_ASSOCIATED, REFRESH_HINT)
        taken = next((a for a, h in self.eip_assoc.items() if (h["eni"], h["ip"]) == (eni_id, private_ip) and a != alloc), None)
        if taken:
            raise res.fail(f"associates {alloc} with {eni_id} {private_ip}, which already has {taken} "
                           f"({self.eip_assoc[taken]['by']})", ErrorCode.RESOURCE_ALREADY_ASSOCIATED, REFRESH_HINT)
        self.eip_assoc[alloc] = {"eni": eni_id, "ip": private_ip, "by": res.address,
                                 "id": association_id or (have or {}).get("id") or _synthetic_id("eipassoc-", alloc, eni_id)}

    def nat_gateways(self) -> None:
        # aws_nat_gateway: vpc_nat_gateway.go, website/docs/r/nat_gateway.html.markdown (allocation_id,
        # connectivity_type, network_interface_id, private_ip, public_ip, subnet_id, secondary_*)
        self.nat_out = []
        for res in self.of("aws_nat_gateway"):
            eni_id, private_ip = res.str("network_interface_id"), res.str("private_ip")
            if eni_id not in self.enis:
                continue
            subnet = self.enis[eni_id].subnet
            public = (res.str("connectivity_type") or "public") == "public"
            if res.strs("secondary_allocation_ids") or res.strs("secondary_private_ip_addresses"):
                self.warn(res, "secondary addresses left out (a lab's NAT gateway has one address)")
            address = {"NetworkInterfaceId": eni_id, "PrivateIp": private_ip, "IsPrimary": True, "Status": "succeeded"}
            if public:
                alloc = self.ref(res, "allocation_id", res.str("allocation_id"), "eip") if res.str("allocation_id") else None
                if not alloc:
                    raise res.fail("is a public NAT gateway without an allocation_id", ErrorCode.MISSING_PARAMETER)
                self.associate(res, alloc, eni_id, "", private_ip, res.str("association_id"))
                address.update(AllocationId=alloc, PublicIp=self.eips[alloc].str("public_ip"),
                               AssociationId=self.eip_assoc[alloc]["id"])
            nat = {"NatGatewayId": res.id, "SubnetId": subnet, "VpcId": self.subnet_vpc(subnet), "State": "available",
                   "ConnectivityType": "public" if public else "private", "NatGatewayAddresses": [address]}
            if res.tags():
                nat["Tags"] = res.tags()
            self.nat_out.append(nat)

    def public_ips(self) -> None:
        """Each EIP association onto its private IP, then each instance's auto-assigned public IP onto its
        primary ENI's primary IP (ENI Association with IpOwnerId `amazon`, as describe-network-interfaces shows it)."""
        for alloc, a in self.eip_assoc.items():
            eip = self.eips[alloc]
            assoc = {"PublicIp": eip.str("public_ip"), "AllocationId": alloc, "AssociationId": a["id"]}
            owner = eip.str("owner_id") or self.eni_owner(a["eni"])
            if owner:
                assoc["IpOwnerId"] = owner
            self.enis[a["eni"]].public[a["ip"]] = assoc
        eip_ips = {e.str("public_ip") for e in self.eips.values()}
        for instance_id, res in self.instances.items():
            eni = self.enis.get(self.instance_eni[instance_id])
            public_ip = res.str("public_ip")
            if not eni or eni.private_ips[0] in eni.public:
                continue
            if not public_ip:
                if res.bool("associate_public_ip_address", False):
                    self.warn(res, "associate_public_ip_address is true but the state has no public_ip (a stopped "
                                   "instance gives its public IPv4 back); the lab gives it none")
                continue
            if public_ip in eip_ips:
                self.warn(res, f"public_ip {public_ip} is an Elastic IP of the state that no association gives it; "
                               f"left out")
                continue
            eni.public[eni.private_ips[0]] = {"PublicIp": public_ip, "IpOwnerId": "amazon"}

    def addresses(self) -> list[dict]:
        out = []
        for alloc, res in self.eips.items():
            addr = {"AllocationId": alloc, "PublicIp": res.str("public_ip"), "Domain": "vpc"}
            a = self.eip_assoc.get(alloc)
            if a:
                eni = self.enis[a["eni"]]
                addr.update(AssociationId=a["id"], NetworkInterfaceId=eni.id, PrivateIpAddress=a["ip"])
                if eni.instance:
                    addr["InstanceId"] = eni.instance
                if eni.owner:
                    addr["NetworkInterfaceOwnerId"] = eni.owner
            for key, field_ in (("public_ipv4_pool", "PublicIpv4Pool"), ("network_border_group", "NetworkBorderGroup")):
                if res.str(key):
                    addr[field_] = res.str(key)
            if res.tags():
                addr["Tags"] = res.tags()
            out.append(addr)
        return out

    def reservations(self) -> list[dict]:
        out = []
        for instance_id in sorted(self.instances):
            res = self.instances[instance_id]
            enis = sorted((e for e in self.enis.values() if e.instance == instance_id), key=lambda e: e.device_index)
            primary = self.enis.get(self.instance_eni[instance_id])
            if primary is None:
                continue
            subnet = self.subnet_out[primary.subnet]
            state = res.str("instance_state") or "running"
            inst: dict[str, Any] = {
                "InstanceId": instance_id, "State": {"Code": _INSTANCE_STATE_CODES.get(state, 16), "Name": state},
                "SubnetId": primary.subnet, "VpcId": subnet["VpcId"], "PrivateIpAddress": primary.private_ips[0],
                "SecurityGroups": self.groups(primary.groups), "SourceDestCheck": primary.source_dest_check,
                "NetworkInterfaces": [self.describe_instance_eni(e) for e in enis],
                "Placement": {"AvailabilityZone": res.str("availability_zone") or subnet.get("AvailabilityZone", ""),
                              "Tenancy": res.str("tenancy") or "default"}}
            if primary.private_ips[0] in primary.public:
                inst["PublicIpAddress"] = primary.public[primary.private_ips[0]]["PublicIp"]
            for key, out_key in (("instance_type", "InstanceType"), ("ami", "ImageId"), ("key_name", "KeyName")):
                if res.str(key):
                    inst[out_key] = res.str(key)
            if res.tags():
                inst["Tags"] = res.tags()
            reservation = {"ReservationId": _synthetic_id("r-", instance_id), "Groups": [], "Instances": [inst]}
            if res.str("owner_id"):
                reservation["OwnerId"] = res.str("owner_id")
            out.append(reservation)
        return out

    def describe_instance_eni(self, eni: _Eni) -> dict:
        full = self.describe_eni(eni)
        out = {k: full[k] for k in ("NetworkInterfaceId", "SubnetId", "VpcId", "PrivateIpAddress", "Groups",
                                    "SourceDestCheck", "InterfaceType", "Description", "Status")}
        out["PrivateIpAddresses"] = [{k: v for k, v in p.items()} for p in full["PrivateIpAddresses"]]
        for p in out["PrivateIpAddresses"]:
            if "Association" in p:
                p["Association"] = {k: p["Association"][k] for k in ("PublicIp", "IpOwnerId") if k in p["Association"]}
        if "Association" in full:
            out["Association"] = {k: full["Association"][k] for k in ("PublicIp", "IpOwnerId") if k in full["Association"]}
        out["Attachment"] = {k: full["Attachment"][k] for k in ("AttachmentId", "DeviceIndex", "Status",
                                                                 "DeleteOnTermination")}
        for key in ("OwnerId", "MacAddress"):
            if key in full:
                out[key] = full[key]
        return out

    # -- peering and endpoints --------------------------------------------------------------------------

    def peering_connections(self) -> None:
        # aws_vpc_peering_connection: vpc_peering_connection.go, website/docs/r/vpc_peering_connection.html.markdown;
        # aws_vpc_peering_connection_accepter: vpc_peering_connection_accepter.go,
        # website/docs/r/vpc_peering_connection_accepter.html.markdown
        self.pcx_out = []
        self.peerings: dict[frozenset, str] = {}
        by_id: dict[str, dict] = {}

        def info(vpc_id: str, owner: str, region: str, options: list[_Attrs]) -> dict:
            out: dict[str, Any] = {"VpcId": vpc_id}
            cidrs = self.vpc_cidrs.get(vpc_id, [])
            if cidrs:
                out.update(CidrBlock=cidrs[0], CidrBlockSet=[{"CidrBlock": c} for c in cidrs])
            if owner:
                out["OwnerId"] = owner
            if region:
                out["Region"] = region
            if options:
                out["PeeringOptions"] = {"AllowDnsResolutionFromRemoteVpc":
                                         options[0].bool("allow_remote_vpc_dns_resolution", False)}
            return out

        def owner(vpc_id: str, given: str) -> str:
            return given or (self.vpc_res[vpc_id].str("owner_id") if vpc_id in self.vpc_res else "")

        def add(res: _Attrs, pcx_id: str, requester: str, accepter: str, pcx: dict) -> None:
            if res.tags():
                pcx["Tags"] = res.tags()
            self.pcx_out.append(pcx)
            by_id[pcx_id] = pcx
            self.peerings[frozenset((requester, accepter))] = pcx_id

        for res in self.of("aws_vpc_peering_connection"):
            requester = self.ref(res, "vpc_id", res.str("vpc_id"), "vpc")
            peer = res.str("peer_vpc_id")
            if not requester or not peer:
                raise res.fail("has no vpc_id or peer_vpc_id", ErrorCode.MISSING_PARAMETER)
            if peer not in self.vpc_out:
                self.warn(res, f"peer VPC {peer} is not in the state (another account or state); its CIDR is unknown")
            add(res, res.id, requester, peer, {
                "VpcPeeringConnectionId": res.id, "Status": {"Code": res.str("accept_status") or "active"},
                "RequesterVpcInfo": info(requester, owner(requester, ""), "", res.blocks("requester")),
                "AccepterVpcInfo": info(peer, owner(peer, res.str("peer_owner_id")), res.str("peer_region"),
                                        res.blocks("accepter"))})

        # The accepter side: in the same state as the request (the connection's accept_status was read at the
        # request, before the accepter accepted it: the accepter's is the one that holds), or alone (the
        # accepter's account), where vpc_id is the accepter's VPC and peer_vpc_id the requester's.
        for res in self.of("aws_vpc_peering_connection_accepter"):
            pcx_id = res.str("vpc_peering_connection_id") or res.id
            status = res.str("accept_status") or "active"
            if pcx_id in by_id:
                pcx = by_id[pcx_id]
                pcx["Status"] = {"Code": status}
                if res.blocks("accepter"):
                    pcx["AccepterVpcInfo"]["PeeringOptions"] = info("", "", "", res.blocks("accepter"))["PeeringOptions"]
                continue
            accepter = self.ref(res, "vpc_id", res.str("vpc_id"), "vpc")
            requester = res.str("peer_vpc_id")
            if not accepter or not requester:
                raise res.fail("has no vpc_id or peer_vpc_id", ErrorCode.MISSING_PARAMETER)
            if requester not in self.vpc_out:
                self.warn(res, f"requester VPC {requester} is not in the state (another account or state); "
                               f"its CIDR is unknown")
            add(res, pcx_id, requester, accepter, {
                "VpcPeeringConnectionId": pcx_id, "Status": {"Code": status},
                "RequesterVpcInfo": info(requester, owner(requester, res.str("peer_owner_id")),
                                         res.str("peer_region"), res.blocks("requester")),
                "AccepterVpcInfo": info(accepter, owner(accepter, ""), "", res.blocks("accepter"))})

    def endpoints(self) -> None:
        # aws_vpc_endpoint: vpc_endpoint.go, website/docs/r/vpc_endpoint.html.markdown;
        # aws_vpc_endpoint_route_table_association: vpc_endpoint_route_table_association.go;
        # aws_vpc_endpoint_subnet_association: website/docs/r/vpc_endpoint_subnet_association.html.markdown
        extra_rtbs: dict[str, set[str]] = defaultdict(set)
        extra_subnets: dict[str, set[str]] = defaultdict(set)
        for res in self.of("aws_vpc_endpoint_route_table_association"):
            vpce = self.ref(res, "vpc_endpoint_id", res.str("vpc_endpoint_id"), "vpce")
            rtb = self.ref(res, "route_table_id", res.str("route_table_id"), "rtb")
            if vpce and rtb:
                extra_rtbs[vpce].add(rtb)
        for res in self.of("aws_vpc_endpoint_subnet_association"):
            vpce = self.ref(res, "vpc_endpoint_id", res.str("vpc_endpoint_id"), "vpce")
            subnet = self.ref(res, "subnet_id", res.str("subnet_id"), "subnet")
            if vpce and subnet:
                extra_subnets[vpce].add(subnet)
        self.vpce_out = []
        self.endpoint_routes: dict[str, list[tuple]] = defaultdict(list)    # route table → (route, VPC, endpoint)
        for res in self.of("aws_vpc_endpoint"):
            vpc = self.ref(res, "vpc_id", res.str("vpc_id"), "vpc")
            if not vpc:
                continue
            kind = res.str("vpc_endpoint_type") or "Gateway"
            rtbs = sorted({r for r in (self.ref(res, "route_table_ids", r, "rtb") for r in res.strs("route_table_ids"))
                           if r} | extra_rtbs[res.id])
            subnets = sorted({s for s in (self.ref(res, "subnet_ids", s, "subnet") for s in res.strs("subnet_ids"))
                              if s} | extra_subnets[res.id])
            vpce = {"VpcEndpointId": res.id, "VpcEndpointType": kind, "VpcId": vpc,
                    "ServiceName": res.str("service_name"), "State": res.str("state") or "available",
                    "RouteTableIds": rtbs, "SubnetIds": subnets,
                    "Groups": self.groups(self.group_ids(res, "security_group_ids", res.strs("security_group_ids"))),
                    "PrivateDnsEnabled": res.bool("private_dns_enabled", False),
                    "RequesterManaged": res.bool("requester_managed", False),
                    "DnsEntries": [{"DnsName": d.str("dns_name"), "HostedZoneId": d.str("hosted_zone_id")}
                                   for d in res.blocks("dns_entry")]}
            for key, out in (("policy", "PolicyDocument"), ("owner_id", "OwnerId"), ("ip_address_type", "IpAddressType")):
                if res.str(key):
                    vpce[out] = res.str(key)
            if res.tags():
                vpce["Tags"] = res.tags()
            self.vpce_out.append(vpce)
            if kind == "Gateway":
                if rtbs and not res.str("prefix_list_id"):
                    raise res.fail("is a gateway endpoint without prefix_list_id", ErrorCode.MISSING_PARAMETER)
                for rtb in rtbs:      # added by AWS, left out of the table's `route` set (flattenRoutes)
                    self.endpoint_routes[rtb].append(({"DestinationPrefixListId": res.str("prefix_list_id"),
                                                       "GatewayId": res.id, "Origin": "CreateRoute", "State": "active"},
                                                      vpc, res))

    # -- route tables -----------------------------------------------------------------------------------

    def route_tables(self) -> None:
        # aws_route_table: vpc_route_table.go, website/docs/r/route_table.html.markdown; aws_default_route_table:
        # vpc_default_route_table.go; aws_route: vpc_route.go; aws_route_table_association:
        # vpc_route_table_association.go; aws_main_route_table_association: vpc_main_route_table_association.go
        tables: dict[str, dict] = {}            # id → {"vpc", "res", "routes": {destination: (route, address)}}
        for res in self.of("aws_route_table", "aws_default_route_table"):
            vpc = self.ref(res, "vpc_id", res.str("vpc_id"), "vpc")
            if vpc:
                tables[res.id] = {"vpc": vpc, "res": res, "routes": {}}
        # tables AWS has that the state names only by id: the VPC's main (default) table, and the original
        # main table an aws_main_route_table_association took over from
        for vpc_id, vpc in self.vpc_res.items():
            for rtb in (vpc.str("main_route_table_id"), vpc.str("default_route_table_id")):
                if rtb:
                    tables.setdefault(rtb, {"vpc": vpc_id, "res": None, "routes": {}})
        main: dict[str, tuple[str, str]] = {}   # VPC → (its main table, the main association's id)
        for res in self.of("aws_main_route_table_association"):
            vpc = self.ref(res, "vpc_id", res.str("vpc_id"), "vpc")
            rtb = self.ref(res, "route_table_id", res.str("route_table_id"), "rtb")
            if not vpc:
                continue
            if res.str("original_route_table_id"):
                tables.setdefault(res.str("original_route_table_id"), {"vpc": vpc, "res": None, "routes": {}})
            if rtb:
                if tables[rtb]["vpc"] != vpc:
                    raise res.fail(f"makes {rtb} of {tables[rtb]['vpc']} the main route table of {vpc}",
                                   ErrorCode.INVALID_PARAMETER_VALUE)
                main[vpc] = (rtb, res.id)
        for vpc_id, vpc in self.vpc_res.items():
            if vpc_id not in main:
                rtb = vpc.str("main_route_table_id") or vpc.str("default_route_table_id") or next(
                    (t for t, v in tables.items() if v["vpc"] == vpc_id and v["res"] is not None
                     and v["res"].type == "aws_default_route_table"), "") or _synthetic_id("rtb-", vpc_id)
                tables.setdefault(rtb, {"vpc": vpc_id, "res": None, "routes": {}})
                main[vpc_id] = (rtb, _synthetic_id("rtbassoc-", rtb, vpc_id))
        # the routes the provider leaves out of `route`: local, one per VPC CIDR (aws-vpc-reference §2), and
        # each associated gateway endpoint's prefix-list route (flattenRoutes skips GatewayId vpce- with a pl-)
        for rtb, t in tables.items():
            for cidr in self.vpc_cidrs[t["vpc"]]:
                t["routes"][cidr] = ({"DestinationCidrBlock": cidr, "GatewayId": "local", "Origin": "CreateRouteTable",
                                      "State": "active"}, "")
            for route, vpc, res in self.endpoint_routes.get(rtb, []):
                if vpc != t["vpc"]:
                    raise res.fail(f"route table {rtb} is in {t['vpc']}, not in the endpoint's {vpc}",
                                   ErrorCode.INVALID_PARAMETER_VALUE)
                t["routes"][route["DestinationPrefixListId"]] = (route, "")
        for t in tables.values():
            if t["res"] is not None:
                for block in t["res"].blocks("route"):
                    self.add_route(t, t["res"], block, inline=True)
                if t["res"].strs("propagating_vgws"):
                    self.warn(t["res"], "route propagation from virtual private gateways left out (VPN is not represented)")
        for res in self.of("aws_route"):
            rtb = self.ref(res, "route_table_id", res.str("route_table_id"), "rtb")
            if rtb:
                self.add_route(tables[rtb], res, res, inline=False)
        associations: dict[str, list[dict]] = defaultdict(list)
        by_subnet: dict[str, _Attrs] = {}
        for res in self.of("aws_route_table_association"):
            rtb = self.ref(res, "route_table_id", res.str("route_table_id"), "rtb")
            if not rtb:
                continue
            assoc = {"Main": False, "RouteTableAssociationId": res.id, "RouteTableId": rtb,
                     "AssociationState": {"State": "associated"}}
            if res.str("subnet_id"):
                subnet = self.ref(res, "subnet_id", res.str("subnet_id"), "subnet")
                if not subnet:
                    continue
                if subnet in by_subnet:
                    raise res.fail(f"associates {subnet} with {rtb}, but {by_subnet[subnet].address} associates it too",
                                   ErrorCode.RESOURCE_ALREADY_ASSOCIATED, REFRESH_HINT)
                if self.subnet_vpc(subnet) != tables[rtb]["vpc"]:
                    raise res.fail(f"associates {subnet} of {self.subnet_vpc(subnet)} with {rtb} of {tables[rtb]['vpc']}",
                                   ErrorCode.INVALID_PARAMETER_VALUE)
                by_subnet[subnet] = res
                assoc["SubnetId"] = subnet
            elif res.str("gateway_id"):         # an edge association (ingress routing)
                gateway = res.str("gateway_id")
                if not self.ref(res, "gateway_id", gateway, "vpce" if gateway.startswith("vpce-") else "igw"):
                    continue
                assoc["GatewayId"] = gateway
            else:
                raise res.fail("names neither subnet_id nor gateway_id", ErrorCode.MISSING_PARAMETER)
            associations[rtb].append(assoc)
        # a subnet without an association uses the main table; describe shows that only as the main association
        for rtb, assoc_id in main.values():
            associations[rtb].append({"Main": True, "RouteTableAssociationId": assoc_id, "RouteTableId": rtb,
                                      "AssociationState": {"State": "associated"}})
        self.rtb_out = []
        for rtb, t in tables.items():
            res = t["res"]
            out = {"RouteTableId": rtb, "VpcId": t["vpc"], "PropagatingVgws": [],
                   "Routes": sorted((r for r, _ in t["routes"].values()), key=_route_order),
                   "Associations": _sorted(associations[rtb], "RouteTableAssociationId")}
            if res is not None and res.str("owner_id"):
                out["OwnerId"] = res.str("owner_id")
            if res is not None and res.tags():
                out["Tags"] = res.tags()
            self.rtb_out.append(out)

    def add_route(self, table: dict, res: _Attrs, a: _Attrs, inline: bool) -> None:
        # inline `route` blocks say cidr_block; aws_route says destination_cidr_block
        cidr_key, v6_key = ("cidr_block", "ipv6_cidr_block") if inline else ("destination_cidr_block",
                                                                            "destination_ipv6_cidr_block")
        cidr, v6, pl = a.str(cidr_key), a.str(v6_key), a.str("destination_prefix_list_id")
        where = a.path.rstrip(".") if inline else "route"
        if v6:
            self.warn(res, f"{where} to {v6} left out (IPv6 is not represented)")
            return
        for key, what in _UNREPRESENTED_TARGETS.items():
            if a.str(key):
                self.warn(res, f"{where} to {cidr or pl} via {what} {a.str(key)} left out ({what}s are not represented)")
                return
        route: dict[str, Any] = {}
        if cidr:
            cidr = _cidr(a, cidr_key, cidr)
            route["DestinationCidrBlock"] = cidr
            destination = cidr
        elif pl:
            if not self.pl_ref(a, "destination_prefix_list_id", pl):
                return
            route["DestinationPrefixListId"] = destination = pl
        else:
            raise a.fail(f"{where} has no destination", ErrorCode.MISSING_PARAMETER)
        local_cidr = destination in self.vpc_cidrs[table["vpc"]]
        gateway, nat = a.str("gateway_id"), a.str("nat_gateway_id")
        if gateway.startswith("nat-"):      # AWS takes a NAT gateway as gateway_id and answers NatGatewayId
            gateway, nat = "", gateway
        if gateway == "local":
            if not local_cidr:
                raise a.fail(f"{where} to {destination} targets local, which only a VPC CIDR may",
                             ErrorCode.INVALID_PARAMETER_VALUE)
            route["GatewayId"] = "local"
        elif gateway.startswith("vgw-"):
            self.warn(res, f"{where} to {destination} via virtual private gateway {gateway} left out (VPN is not represented)")
            return
        elif gateway:
            kind = "vpce" if gateway.startswith("vpce-") else "igw"
            if not self.ref(a, "gateway_id", gateway, kind):
                return
            route["GatewayId"] = gateway
        elif nat:
            if not self.ref(a, "nat_gateway_id", nat, "nat"):
                return
            route["NatGatewayId"] = nat
        elif a.str("vpc_endpoint_id"):      # a Gateway Load Balancer endpoint: describe names it GatewayId
            if not self.ref(a, "vpc_endpoint_id", a.str("vpc_endpoint_id"), "vpce"):
                return
            route["GatewayId"] = a.str("vpc_endpoint_id")
        elif a.str("vpc_peering_connection_id"):
            if not self.ref(a, "vpc_peering_connection_id", a.str("vpc_peering_connection_id"), "pcx"):
                return
            route["VpcPeeringConnectionId"] = a.str("vpc_peering_connection_id")
        elif a.str("network_interface_id") or a.str("instance_id"):
            if a.str("network_interface_id"):
                eni = self.ref(a, "network_interface_id", a.str("network_interface_id"), "eni")
            else:
                instance = self.ref(a, "instance_id", a.str("instance_id"), "instance")
                eni = self.instance_eni.get(instance or "")
            if not eni:
                return
            route["NetworkInterfaceId"] = eni
            if eni in self.enis and self.enis[eni].instance:     # describe adds the instance an ENI target is on
                instance = self.enis[eni].instance
                route["InstanceId"] = instance
                if self.instances[instance].str("owner_id"):
                    route["InstanceOwnerId"] = self.instances[instance].str("owner_id")
        else:
            raise a.fail(f"{where} to {destination} has no target", ErrorCode.MISSING_PARAMETER)
        route["Origin"] = "CreateRouteTable" if local_cidr else (a.str("origin") or "CreateRoute")
        route["State"] = a.str("state") or "active"
        have, by = table["routes"].get(destination, (None, ""))
        replaces_local = have is not None and not by and have.get("GatewayId") == "local"
        if have is not None and not replaces_local:
            if _target(have) != _target(route):
                raise res.fail(f"{where} sends {destination} to {_target(route)}, but "
                               f"{by or 'the route AWS adds'} sends it to {_target(have)}",
                               ErrorCode.ROUTE_ALREADY_EXISTS, REFRESH_HINT)
            if inline or not by:    # the same route inline and separate is one route; aws_route's says more
                return
        table["routes"][destination] = (route, res.address)

    # -- network ACLs -----------------------------------------------------------------------------------

    def network_acls(self) -> None:
        # aws_network_acl: vpc_network_acl.go, website/docs/r/network_acl.html.markdown; aws_default_network_acl:
        # vpc_default_network_acl.go (replaces AWS's default rules with its own); aws_network_acl_rule:
        # vpc_network_acl_rule.go; aws_network_acl_association: vpc_network_acl_association.go
        acls: dict[str, dict] = {}
        for res in self.of("aws_network_acl", "aws_default_network_acl"):
            vpc = self.ref(res, "vpc_id", res.str("vpc_id"), "vpc")
            if vpc:
                acls[res.id] = {"vpc": vpc, "res": res, "default": res.type == "aws_default_network_acl",
                                "entries": {}, "subnets": {}}
        for vpc_id, vpc in self.vpc_res.items():
            acl = vpc.str("default_network_acl_id") or next(
                (a for a, v in acls.items() if v["default"] and v["vpc"] == vpc_id), "") or _synthetic_id("acl-", vpc_id)
            if acl not in acls:         # AWS's default NACL: allow everything both ways (aws-vpc-reference §5)
                acls[acl] = {"vpc": vpc_id, "res": None, "default": True, "subnets": {}, "entries": {
                    (egress, 100): ({"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": egress,
                                     "CidrBlock": "0.0.0.0/0"}, "") for egress in (False, True)}}
            acls[acl]["default"] = True
        for acl_id, acl in acls.items():
            res = acl["res"]
            if res is None:
                continue
            for direction in ("ingress", "egress"):
                for block in res.blocks(direction):
                    self.add_entry(acl, res, block, direction == "egress", block.int("rule_no"), block.str("action"))
            for s in res.strs("subnet_ids"):
                subnet = self.ref(res, "subnet_ids", s, "subnet")
                if subnet:
                    self.assign_subnet(acls, acl_id, subnet, res, _synthetic_id("aclassoc-", acl_id, subnet))
        for res in self.of("aws_network_acl_rule"):
            acl_id = self.ref(res, "network_acl_id", res.str("network_acl_id"), "acl")
            if acl_id:
                self.add_entry(acls[acl_id], res, res, res.bool("egress", False), res.int("rule_number"),
                               res.str("rule_action"))
        for res in self.of("aws_network_acl_association"):
            acl_id = self.ref(res, "network_acl_id", res.str("network_acl_id"), "acl")
            subnet = self.ref(res, "subnet_id", res.str("subnet_id"), "subnet")
            if acl_id and subnet:
                self.assign_subnet(acls, acl_id, subnet, res, res.id)
        assigned = {s for acl in acls.values() for s in acl["subnets"]}
        for subnet_id, subnet in self.subnet_out.items():   # the rest stay with their VPC's default NACL
            if subnet_id not in assigned:
                acl_id = next(a for a, v in acls.items() if v["default"] and v["vpc"] == subnet["VpcId"])
                acls[acl_id]["subnets"][subnet_id] = (_synthetic_id("aclassoc-", acl_id, subnet_id), "")
        self.acl_out = []
        for acl_id, acl in acls.items():
            for egress in (False, True):    # the final deny AWS puts in every NACL (and the provider hides)
                acl["entries"][(egress, 32767)] = ({"RuleNumber": 32767, "Protocol": "-1", "RuleAction": "deny",
                                                    "Egress": egress, "CidrBlock": "0.0.0.0/0"}, "")
            out = {"NetworkAclId": acl_id, "VpcId": acl["vpc"], "IsDefault": acl["default"],
                   "Entries": [e for _, (e, _) in sorted(acl["entries"].items())],
                   "Associations": [{"NetworkAclAssociationId": assoc, "NetworkAclId": acl_id, "SubnetId": s}
                                    for s, (assoc, _) in sorted(acl["subnets"].items())]}
            if acl["res"] is not None and acl["res"].str("owner_id"):
                out["OwnerId"] = acl["res"].str("owner_id")
            if acl["res"] is not None and acl["res"].tags():
                out["Tags"] = acl["res"].tags()
            self.acl_out.append(out)

    def assign_subnet(self, acls: dict, acl_id: str, subnet: str, res: _Attrs, assoc_id: str) -> None:
        for other_id, other in acls.items():
            if subnet in other["subnets"] and other_id != acl_id:
                raise res.fail(f"associates {subnet} with {acl_id}, but {other['subnets'][subnet][1]} associates it "
                               f"with {other_id}", ErrorCode.RESOURCE_ALREADY_ASSOCIATED, REFRESH_HINT)
        if self.subnet_vpc(subnet) != acls[acl_id]["vpc"]:
            raise res.fail(f"associates {subnet} of {self.subnet_vpc(subnet)} with {acl_id} of {acls[acl_id]['vpc']}",
                           ErrorCode.INVALID_PARAMETER_VALUE)
        have = acls[acl_id]["subnets"].get(subnet)
        # the association resource's id is AWS's; the one made up for an inline subnet_ids entry gives way to it
        if have is None or res.type == "aws_network_acl_association":
            acls[acl_id]["subnets"][subnet] = (assoc_id, res.address)

    def add_entry(self, acl: dict, res: _Attrs, a: _Attrs, egress: bool, number: int | None, action: str) -> None:
        where = f"{a.path}rule {number}" if a is not res else f"rule {number}"
        if number is None or not 1 <= number <= 32766:
            raise a.fail(f"{where}: a rule number is 1 to 32766", ErrorCode.INVALID_PARAMETER_VALUE)
        if action.lower() not in ("allow", "deny"):
            raise a.fail(f"{where}: action must be allow or deny, not {action!r}", ErrorCode.INVALID_PARAMETER_VALUE)
        if a.str("ipv6_cidr_block"):
            self.warn(res, f"{where} for {a.str('ipv6_cidr_block')} left out (IPv6 is not represented)")
            return
        protocol = a.str("protocol")
        number_ = _NACL_PROTOCOLS.get(protocol.lower(), protocol)
        if not (number_ == "-1" or number_.isdigit() and int(number_) <= 255):
            raise a.fail(f"{where}: protocol {protocol!r} is not a protocol name or number", ErrorCode.INVALID_PARAMETER_VALUE)
        entry: dict[str, Any] = {"RuleNumber": number, "Protocol": number_, "RuleAction": action.lower(), "Egress": egress,
                                 "CidrBlock": _cidr(a, "cidr_block", a.str("cidr_block") or "")}
        if number_ in ("6", "17"):
            entry["PortRange"] = {"From": a.int("from_port") or 0, "To": a.int("to_port") or 0}
        elif number_ == "1":
            entry["IcmpTypeCode"] = {"Code": a.int("icmp_code") or 0, "Type": a.int("icmp_type") or 0}
        have, by = acl["entries"].get((egress, number), (None, ""))
        if have is not None and by:
            if have != entry:
                raise a.fail(f"{where} ({'egress' if egress else 'ingress'}) differs from the same rule in {by}",
                             ErrorCode.NETWORK_ACL_ENTRY_ALREADY_EXISTS, REFRESH_HINT)
            return
        acl["entries"][(egress, number)] = (entry, res.address)


def _target(route: dict) -> str:
    for key in ("GatewayId", "NatGatewayId", "NetworkInterfaceId", "VpcPeeringConnectionId"):
        if key in route:
            return route[key]
    return "?"


def _route_order(route: dict) -> tuple:
    if "DestinationCidrBlock" in route:
        net = ipaddress.ip_network(route["DestinationCidrBlock"])
        return (0, int(net.network_address), net.prefixlen)
    return (1, route.get("DestinationPrefixListId", ""), 0)
