"""Describe* filters and id lists over the describe dict's items (aws/describe.py), as EC2 applies them.

A filter names a field of the item by AWS's filter name (`vpc-id`, `attachment.instance-id`,
`addresses.private-ip-address`, `tag:Name` …); an item passes when, for every filter, one of the field's
values matches one of the filter's values (`*` and `?` as wildcards). An unknown filter name is refused,
as EC2 refuses it (InvalidParameterValue), so a typo never answers "everything".
"""
from __future__ import annotations

from fnmatch import fnmatchcase

from ..codes import ErrorCode
from ..errors import UsageError

# describe key → AWS filter name → the item's field(s), dotted; a list on the way is searched through
FILTERS: dict[str, dict[str, tuple[str, ...]]] = {
    "Instances": {
        "instance-id": ("InstanceId",), "vpc-id": ("VpcId",), "subnet-id": ("SubnetId",),
        "instance-type": ("InstanceType",), "instance-state-name": ("State.Name",),
        "instance-state-code": ("State.Code",), "availability-zone": ("Placement.AvailabilityZone",),
        "private-ip-address": ("PrivateIpAddress",), "ip-address": ("PublicIpAddress",),
        "private-dns-name": ("PrivateDnsName",), "source-dest-check": ("SourceDestCheck",),
        "instance.group-id": ("SecurityGroups.GroupId",), "instance.group-name": ("SecurityGroups.GroupName",),
        "network-interface.network-interface-id": ("NetworkInterfaces.NetworkInterfaceId",),
        "network-interface.subnet-id": ("NetworkInterfaces.SubnetId",),
        "network-interface.vpc-id": ("NetworkInterfaces.VpcId",),
        "network-interface.mac-address": ("NetworkInterfaces.MacAddress",),
        "network-interface.addresses.private-ip-address": ("NetworkInterfaces.PrivateIpAddresses.PrivateIpAddress",),
        "network-interface.attachment.device-index": ("NetworkInterfaces.Attachment.DeviceIndex",),
    },
    "NetworkInterfaces": {
        "network-interface-id": ("NetworkInterfaceId",), "vpc-id": ("VpcId",), "subnet-id": ("SubnetId",),
        "availability-zone": ("AvailabilityZone",), "description": ("Description",), "status": ("Status",),
        "mac-address": ("MacAddress",), "private-ip-address": ("PrivateIpAddresses.PrivateIpAddress",),
        "addresses.private-ip-address": ("PrivateIpAddresses.PrivateIpAddress",),
        "addresses.primary": ("PrivateIpAddresses.Primary",),
        "addresses.association.public-ip": ("PrivateIpAddresses.Association.PublicIp",),
        "association.public-ip": ("Association.PublicIp",),
        "association.allocation-id": ("Association.AllocationId",),
        "association.association-id": ("Association.AssociationId",),
        "attachment.instance-id": ("Attachment.InstanceId",), "attachment.device-index": ("Attachment.DeviceIndex",),
        "attachment.attachment-id": ("Attachment.AttachmentId",), "attachment.status": ("Attachment.Status",),
        "group-id": ("Groups.GroupId",), "group-name": ("Groups.GroupName",), "interface-type": ("InterfaceType",),
        "requester-managed": ("RequesterManaged",), "source-dest-check": ("SourceDestCheck",),
        "owner-id": ("OwnerId",),
    },
    "Subnets": {
        "subnet-id": ("SubnetId",), "vpc-id": ("VpcId",), "cidr-block": ("CidrBlock",), "cidr": ("CidrBlock",),
        "availability-zone": ("AvailabilityZone",), "availability-zone-id": ("AvailabilityZoneId",),
        "state": ("State",), "default-for-az": ("DefaultForAz",), "owner-id": ("OwnerId",),
    },
    "Vpcs": {
        "vpc-id": ("VpcId",), "cidr": ("CidrBlock",), "cidr-block-association.cidr-block":
        ("CidrBlockAssociationSet.CidrBlock",), "state": ("State",), "is-default": ("IsDefault",),
        "owner-id": ("OwnerId",),
    },
    "RouteTables": {
        "route-table-id": ("RouteTableId",), "vpc-id": ("VpcId",), "association.subnet-id": ("Associations.SubnetId",),
        "association.main": ("Associations.Main",), "association.route-table-association-id":
        ("Associations.RouteTableAssociationId",), "route.destination-cidr-block": ("Routes.DestinationCidrBlock",),
        "route.gateway-id": ("Routes.GatewayId",), "route.nat-gateway-id": ("Routes.NatGatewayId",),
        "route.instance-id": ("Routes.InstanceId",), "route.state": ("Routes.State",),
        "route.vpc-peering-connection-id": ("Routes.VpcPeeringConnectionId",),
        "route.destination-prefix-list-id": ("Routes.DestinationPrefixListId",), "owner-id": ("OwnerId",),
    },
    "SecurityGroups": {
        "group-id": ("GroupId",), "group-name": ("GroupName",), "vpc-id": ("VpcId",), "description": ("Description",),
        "owner-id": ("OwnerId",), "ip-permission.protocol": ("IpPermissions.IpProtocol",),
        "ip-permission.from-port": ("IpPermissions.FromPort",), "ip-permission.to-port": ("IpPermissions.ToPort",),
        "ip-permission.cidr": ("IpPermissions.IpRanges.CidrIp",),
        "ip-permission.group-id": ("IpPermissions.UserIdGroupPairs.GroupId",),
        "egress.ip-permission.cidr": ("IpPermissionsEgress.IpRanges.CidrIp",),
    },
    "NetworkAcls": {
        "network-acl-id": ("NetworkAclId",), "vpc-id": ("VpcId",), "default": ("IsDefault",),
        "association.subnet-id": ("Associations.SubnetId",),
        "association.network-acl-id": ("Associations.NetworkAclId",), "entry.rule-number": ("Entries.RuleNumber",),
        "entry.cidr": ("Entries.CidrBlock",), "entry.egress": ("Entries.Egress",), "owner-id": ("OwnerId",),
    },
    "Addresses": {
        "public-ip": ("PublicIp",), "allocation-id": ("AllocationId",), "association-id": ("AssociationId",),
        "instance-id": ("InstanceId",), "network-interface-id": ("NetworkInterfaceId",),
        "private-ip-address": ("PrivateIpAddress",), "domain": ("Domain",),
        "network-interface-owner-id": ("NetworkInterfaceOwnerId",), "network-border-group": ("NetworkBorderGroup",),
    },
    "NatGateways": {
        "nat-gateway-id": ("NatGatewayId",), "vpc-id": ("VpcId",), "subnet-id": ("SubnetId",), "state": ("State",),
    },
    "VpcEndpoints": {
        "vpc-endpoint-id": ("VpcEndpointId",), "vpc-id": ("VpcId",), "service-name": ("ServiceName",),
        "vpc-endpoint-type": ("VpcEndpointType",), "vpc-endpoint-state": ("State",),
    },
}
TAGS = {"Instances": "Tags", "NetworkInterfaces": "TagSet"}     # every other kind calls it Tags


def values_at(item, path: str) -> list:
    """Every value at dotted `path` in `item`, through lists on the way."""
    found = [item]
    for step in path.split("."):
        nxt = []
        for x in found:
            x = x.get(step) if isinstance(x, dict) else None
            if isinstance(x, list):
                nxt.extend(x)
            elif x is not None:
                nxt.append(x)
        found = nxt
    return found


def _text(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _field_values(key: str, item: dict, name: str) -> list[str]:
    tags = item.get(TAGS.get(key, "Tags")) or []
    if name.startswith("tag:"):
        return [_text(t.get("Value", "")) for t in tags if t.get("Key") == name[4:]]
    if name == "tag-key":
        return [t.get("Key", "") for t in tags]
    if name == "tag-value":
        return [_text(t.get("Value", "")) for t in tags]
    known = FILTERS[key]
    if name not in known:
        raise UsageError(f"The filter '{name}' is invalid", ErrorCode.INVALID_PARAMETER_VALUE,
                         hint=f"filters: {', '.join(sorted(known))}, tag:KEY, tag-key, tag-value")
    return [_text(v) for path in known[name] for v in values_at(item, path)]


def matching(key: str, items: list[dict], filters: list[dict] | None) -> list[dict]:
    """The items that pass every filter."""
    for f in filters or []:
        if not f.get("Name"):
            raise UsageError("a filter needs a Name", ErrorCode.MISSING_PARAMETER)
    return [item for item in items
            if all(any(fnmatchcase(v, pattern) for v in _field_values(key, item, f["Name"])
                       for pattern in f.get("Values") or [])
                   for f in filters or [])]
