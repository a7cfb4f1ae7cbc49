"""VPC endpoint: the service it reaches, and what each type takes. A gateway endpoint (S3, DynamoDB)
takes route tables, each getting one prefix-list route per service; an interface endpoint takes one
subnet per Availability Zone, security groups, and private DNS, which needs the VPC's DNS attributes
and may be on for one endpoint per service and VPC."""
from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from ..codes import ErrorCode
from ..errors import UsageError
from ..model import GATEWAY_SERVICES, KNOWN_SERVICES, Subnet, Vpc, VpcEndpoint

ENDPOINT_TYPES = ("gateway", "interface")


def service(name: object, region: str, offered: Collection[str]) -> str:
    known_service(name)
    return offered_service(name, region, offered)


def known_service(name: object) -> str:
    if name not in KNOWN_SERVICES:
        raise UsageError(f"{name!r} is not a service the emulated region offers", ErrorCode.INVALID_SERVICE_NAME,
                         hint=f"known: {', '.join(KNOWN_SERVICES)}")
    return name


def offered_service(name: str, region: str, offered: Collection[str]) -> str:
    if name not in offered:
        raise UsageError(f"com.amazonaws.{region}.{name} is not offered by this lab: {name} is not in `aws.services`",
                         ErrorCode.INVALID_SERVICE_NAME, hint=f"add {name} to aws.services")
    return name


# -- gateway endpoints -----------------------------------------------------------------------------
def gateway_service(name: str, region: str) -> str:
    if name not in GATEWAY_SERVICES:
        raise UsageError(f"com.amazonaws.{region}.{name} has no gateway endpoint (only s3 and dynamodb do)",
                         ErrorCode.INVALID_SERVICE_NAME, hint="use `type: interface` (an Interface endpoint)")
    return name


def gateway_without(field: str) -> None:
    raise UsageError(f"a gateway endpoint has no {field}", ErrorCode.INVALID_PARAMETER,
                     hint="a gateway endpoint takes route tables")


def gateway_route_table(table: str, service: str, listed: Collection[str], endpoints: Iterable[VpcEndpoint]) -> str:
    """A table named once per endpoint, and without another endpoint's route to the same service's prefix list."""
    if table in listed:
        raise UsageError(f"route table {table} is listed twice", ErrorCode.INVALID_PARAMETER_VALUE)
    clash = next((e for e in endpoints if e.vpc_endpoint_type == "Gateway" and e.service == service
                  and table in e.route_tables), None)
    if clash is not None:
        raise UsageError(f"route table {table} already has a route to the {service} prefix list via endpoint "
                         f"{clash.name}", ErrorCode.ROUTE_ALREADY_EXISTS)
    return table


# -- interface endpoints ---------------------------------------------------------------------------
def interface_without_route_tables() -> None:
    raise UsageError("an interface endpoint is reached through DNS, not route tables", ErrorCode.INVALID_PARAMETER)


def interface_subnets(count: int) -> None:
    if count == 0:
        raise UsageError("an interface endpoint needs at least one subnet", ErrorCode.MISSING_PARAMETER)


def interface_subnet(subnet: Subnet, zones: Mapping[str, str]) -> Subnet:
    """`zones`: Availability Zone → the subnet the endpoint has there already."""
    az = subnet.availability_zone
    if az in zones:
        raise UsageError(f"Found another VPC endpoint subnet in the availability zone of {subnet.name} "
                         f"({zones[az]}, {az}); choose one subnet per Availability Zone",
                         ErrorCode.DUPLICATE_SUBNETS_IN_SAME_ZONE)
    return subnet


def listed(endpoint: str, what: str, value: str, present: Collection[str]) -> str:
    """ModifyVpcEndpoint's Remove…: only what the endpoint has."""
    if value not in present:
        raise UsageError(f"endpoint {endpoint} has no {what} {value!r}", ErrorCode.INVALID_PARAMETER,
                         hint=f"its {what}s: {', '.join(present) or 'none'}")
    return value


def interface_groups_left(count: int) -> None:
    if count == 0:
        raise UsageError("an interface endpoint keeps at least one security group", ErrorCode.MISSING_PARAMETER,
                         hint="add another group in the same call")


def private_dns(vpc: Vpc, service: str, region: str, endpoints: Iterable[VpcEndpoint]) -> None:
    """Private DNS for `service`, among the VPC's other endpoints."""
    if not (vpc.enable_dns_support and vpc.enable_dns_hostnames):
        off = [a for a, on in (("enable_dns_support", vpc.enable_dns_support),
                               ("enable_dns_hostnames", vpc.enable_dns_hostnames)) if not on]
        raise UsageError(f"private DNS needs both enable_dns_support and enable_dns_hostnames on VPC {vpc.name}",
                         ErrorCode.INVALID_PARAMETER,
                         hint=f"set {' and '.join(f'{a}: true' for a in off)} on the VPC, or turn private DNS off")
    clash = next((e for e in endpoints if e.service == service and e.private_dns_enabled), None)
    if clash is not None:
        raise UsageError(f"private-dns-enabled cannot be set because there is already a conflicting DNS domain for "
                         f"{service}.{region}.amazonaws.com in the VPC (endpoint {clash.name})",
                         ErrorCode.INVALID_PARAMETER)
