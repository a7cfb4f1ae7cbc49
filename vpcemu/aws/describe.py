"""The describe dict: AWS's describe-* responses, one list per call, as import reads them and export writes them.

Each key is the top-level key of one EC2 call's response (boto3's, minus ResponseMetadata), holding that
call's list exactly as AWS returns it; one key per call:

| key                     | call                                  | what import reads of each item |
|-------------------------|---------------------------------------|--------------------------------|
| Vpcs                    | DescribeVpcs                          | VpcId, State, CidrBlock, CidrBlockAssociationSet, Ipv6CidrBlockAssociationSet, IsDefault, OwnerId, Tags |
| VpcAttributes           | DescribeVpcAttribute (one per VPC and attribute) | VpcId, EnableDnsSupport.Value, EnableDnsHostnames.Value |
| Subnets                 | DescribeSubnets                       | SubnetId, VpcId, State, CidrBlock, AvailabilityZone, Ipv6CidrBlockAssociationSet, Tags |
| RouteTables             | DescribeRouteTables                   | RouteTableId, VpcId, Associations (Main, SubnetId, GatewayId), Routes (every destination and target field, Origin, State), Tags |
| NetworkInterfaces       | DescribeNetworkInterfaces             | NetworkInterfaceId, SubnetId, VpcId, Status, InterfaceType, RequesterManaged, Description, Groups, MacAddress, PrivateIpAddresses (+ Association), Ipv6Addresses, SourceDestCheck, Attachment, TagSet |
| SecurityGroups          | DescribeSecurityGroups                | GroupId, GroupName, Description, VpcId, IpPermissions, IpPermissionsEgress (IpProtocol, FromPort, ToPort, IpRanges, Ipv6Ranges, PrefixListIds, UserIdGroupPairs) |
| NetworkAcls             | DescribeNetworkAcls                   | NetworkAclId, VpcId, IsDefault, Entries, Associations, Tags |
| InternetGateways        | DescribeInternetGateways              | InternetGatewayId, Attachments (VpcId, State), Tags |
| NatGateways             | DescribeNatGateways                   | NatGatewayId, VpcId, SubnetId, State, ConnectivityType, NatGatewayAddresses, Tags |
| VpcEndpoints            | DescribeVpcEndpoints                  | VpcEndpointId, VpcEndpointType, VpcId, ServiceName, State, RouteTableIds, SubnetIds, Groups, PrivateDnsEnabled, NetworkInterfaceIds, Tags |
| VpcPeeringConnections   | DescribeVpcPeeringConnections         | VpcPeeringConnectionId, RequesterVpcInfo.VpcId, AccepterVpcInfo.VpcId, Status.Code, Tags |
| Reservations            | DescribeInstances                     | Instances: InstanceId, InstanceType, State.Name, VpcId, SubnetId, NetworkInterfaces, SourceDestCheck, Tags |
| Addresses               | DescribeAddresses                     | PublicIp, AllocationId, NetworkInterfaceId, PrivateIpAddress |
| PrefixLists             | DescribePrefixLists                   | PrefixListId, PrefixListName, Cidrs |
| ManagedPrefixLists      | DescribeManagedPrefixLists (its key is PrefixLists too) | PrefixListId, PrefixListName, OwnerId, AddressFamily, State, and `Entries` (GetManagedPrefixListEntries' list, added to each item) |

Other keys AWS's EC2 and ELB calls return (TransitGateways, VpnConnections, LoadBalancers, …) are read only
to list their resources as ones vpcemu cannot represent (UNREPRESENTED); any other key is an error.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import Problem, TopologyError, VpcemuError

OWNER = "123456789012"          # the account export writes when none is given (AWS's documentation account)
NAME_TAG = "Name"
FORWARDING_TAG = "vpcemu:forwarding"   # an instance whose OS routes packets (model Instance.forwarding)

# key → (the call, the kind of resource, its id field)
DESCRIBE_KEYS: dict[str, tuple[str, str, str]] = {
    "Vpcs": ("DescribeVpcs", "VPC", "VpcId"),
    "VpcAttributes": ("DescribeVpcAttribute", "VPC attribute", "VpcId"),
    "Subnets": ("DescribeSubnets", "subnet", "SubnetId"),
    "RouteTables": ("DescribeRouteTables", "route table", "RouteTableId"),
    "NetworkInterfaces": ("DescribeNetworkInterfaces", "network interface", "NetworkInterfaceId"),
    "SecurityGroups": ("DescribeSecurityGroups", "security group", "GroupId"),
    "NetworkAcls": ("DescribeNetworkAcls", "network ACL", "NetworkAclId"),
    "InternetGateways": ("DescribeInternetGateways", "internet gateway", "InternetGatewayId"),
    "NatGateways": ("DescribeNatGateways", "NAT gateway", "NatGatewayId"),
    "VpcEndpoints": ("DescribeVpcEndpoints", "VPC endpoint", "VpcEndpointId"),
    "VpcPeeringConnections": ("DescribeVpcPeeringConnections", "VPC peering connection", "VpcPeeringConnectionId"),
    "Reservations": ("DescribeInstances", "reservation", "ReservationId"),
    "Addresses": ("DescribeAddresses", "Elastic IP", "PublicIp"),
    "PrefixLists": ("DescribePrefixLists", "prefix list", "PrefixListId"),
    "ManagedPrefixLists": ("DescribeManagedPrefixLists", "managed prefix list", "PrefixListId"),
}

# keys of other calls whose resources vpcemu cannot represent: key → (kind, id field)
UNREPRESENTED: dict[str, tuple[str, str]] = {
    "TransitGateways": ("transit gateway", "TransitGatewayId"),
    "TransitGatewayAttachments": ("transit gateway attachment", "TransitGatewayAttachmentId"),
    "TransitGatewayVpcAttachments": ("transit gateway VPC attachment", "TransitGatewayAttachmentId"),
    "TransitGatewayRouteTables": ("transit gateway route table", "TransitGatewayRouteTableId"),
    "TransitGatewayPeeringAttachments": ("transit gateway peering attachment", "TransitGatewayAttachmentId"),
    "VpnGateways": ("virtual private gateway", "VpnGatewayId"),
    "VpnConnections": ("VPN connection", "VpnConnectionId"),
    "CustomerGateways": ("customer gateway", "CustomerGatewayId"),
    "EgressOnlyInternetGateways": ("egress-only internet gateway (IPv6)", "EgressOnlyInternetGatewayId"),
    "CarrierGateways": ("carrier gateway", "CarrierGatewayId"),
    "LocalGatewayRouteTables": ("local gateway route table", "LocalGatewayRouteTableId"),
    "ClientVpnEndpoints": ("Client VPN endpoint", "ClientVpnEndpointId"),
    "DhcpOptions": ("DHCP options set (the lab's VPC DNS is AmazonProvidedDNS)", "DhcpOptionsId"),
    "FlowLogs": ("flow log (see `vpcemu flowlogs`)", "FlowLogId"),
    "LoadBalancers": ("load balancer", "LoadBalancerArn"),
    "LoadBalancerDescriptions": ("Classic Load Balancer", "LoadBalancerName"),
    "TargetGroups": ("load balancer target group", "TargetGroupArn"),
    "Firewalls": ("Network Firewall", "FirewallName"),
}
# response keys that carry no resources
IGNORED = ("ResponseMetadata", "NextToken")


@dataclass(frozen=True)
class Notice:
    """Something the import did not carry over as AWS has it: `dropped` (not live), `unrepresentable` (vpcemu
    cannot represent it; `--strict` refuses the dump), or `changed` (carried over another way, said how)."""

    category: str
    kind: str
    id: str
    detail: str

    def __str__(self) -> str:
        return f"{self.category}: {self.kind} {self.id}: {self.detail}"


class DumpError(TopologyError):
    """The AWS dump cannot become a lab: each problem names the file (or key) and the object's id."""

    def __init__(self, problems: list[Problem], source: str | None = None):
        self.problems = list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        lines = [f"{head}{len(self.problems)} problem(s) in the AWS dump; nothing was built:"]
        lines += [f"  - {p}" for p in self.problems]
        VpcemuError.__init__(self, "\n".join(lines))


Describe = dict[str, list[dict[str, Any]]]
Origin = Callable[[str, dict], str]      # (key, item) → where it came from: a file, or the key itself


def tags(item: dict, field: str = "Tags") -> dict[str, str]:
    """An item's tags as a map (ENIs call the field TagSet)."""
    return {t["Key"]: str(t.get("Value", "")) for t in objects(item, field) if isinstance(t.get("Key"), str)}


def tag_list(name: str | None, **extra: str) -> list[dict[str, str]]:
    pairs = ([(NAME_TAG, name)] if name else []) + list(extra.items())
    return [{"Key": k, "Value": v} for k, v in pairs]


def check_shape(describe: Any, origin: Origin) -> list[Problem]:
    """The dict's keys are known and each holds a list of objects (the problems, else none)."""
    if not isinstance(describe, dict):
        return [Problem("", f"the describe dict must be a map of describe-* keys, not {type(describe).__name__}")]
    problems = []
    for key, items in describe.items():
        if key in IGNORED:
            continue
        if key not in DESCRIBE_KEYS and key not in UNREPRESENTED:
            problems.append(unknown_key(key, origin(key, {})))
        elif not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            problems.append(Problem(origin(key, {}), f"{key} must be a list of objects, as AWS returns it"))
    return problems


def unknown_key(key: str, where: str) -> Problem:
    return Problem(where, f"top-level key {key!r} is not the output of a describe-* call vpcemu reads",
                   hint=f"vpcemu reads {', '.join(DESCRIBE_KEYS)}; other files do not belong in the dump")


def items(describe: Describe, key: str) -> Iterable[dict]:
    return describe.get(key) or ()


def objects(item: dict, field: str) -> list[dict]:
    """The objects of a list field (malformed entries are not objects and are left out)."""
    value = item.get(field)
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def strings(item: dict, field: str) -> list[str]:
    value = item.get(field)
    return [x for x in value if isinstance(x, str)] if isinstance(value, list) else []


def live_state(value: Any, *live: str) -> bool:
    """A State AWS would treat as live (absent: a dump made from Terraform state carries none)."""
    return value is None or (isinstance(value, str) and value.lower() in live)


def arn(region: str, owner: str, kind: str, ident: str) -> str:
    return f"arn:aws:ec2:{region}:{owner}:{kind}/{ident}"


def inner(item: dict, *fields: str) -> Any:
    """A nested field (`inner(route, "AssociationState", "State")`), None where a step is missing or not an object."""
    value: Any = item
    for f in fields:
        value = value.get(f) if isinstance(value, dict) else None
    return value
