"""One handler per EC2 call: the call's input (boto3's names) → vpcemu/ops on the lab → the call's output.

Describe* calls answer from the committed model through aws/ (the same items `vpcemu export` writes), with
EC2's filters and id lists. Every change is the op the CLI calls, so it refuses what the CLI refuses, with
the same ErrorCode, and serialises with every other change through the lab's lock. `aws.ec2_api` timing
(model/topology.py Ec2ApiTiming) delays attach/detach and address moves after their checks, as AWS takes
seconds: a refusal still comes at once.
"""
from __future__ import annotations

import time
from ipaddress import IPv4Address, IPv4Network
from typing import TYPE_CHECKING, Callable

from ..aws import (elastic_ip, instance, internet_gateway, nat_gateway, network_acl, network_interface, peering,
                   prefix_list, route_table, security_group, subnet, vpc, vpc_endpoint)
from ..aws.describe import NAME_TAG, OWNER
from ..aws.network_interface import association_id
from ..codes import ErrorCode
from ..errors import UsageError
from ..model import SecurityGroupRule, Topology, aws_id
from ..ops import elastic_ip as eip_ops
from ..ops import network_interface as eni_ops
from ..ops import route_table as route_ops
from ..ops import security as security_ops
from ..rules.network_interface import free_private_ip
from .filters import matching

if TYPE_CHECKING:
    from ..lab import Lab

Handler = Callable[["Lab", dict], dict]
ACTIONS: dict[str, Handler] = {}


def action(name: str):
    def register(fn: Handler) -> Handler:
        ACTIONS[name] = fn
        return fn
    return register


# -- Describe* ----------------------------------------------------------------------------------
# call → (describe key, items of a Topology, its ids parameter, the id field, AWS's code for an unknown id)
DESCRIBES: dict[str, tuple[str, Callable, str, str, ErrorCode]] = {
    "DescribeNetworkInterfaces": ("NetworkInterfaces", network_interface.to_aws, "NetworkInterfaceIds",
                                  "NetworkInterfaceId", ErrorCode.INVALID_NETWORK_INTERFACE_ID_NOT_FOUND),
    "DescribeSubnets": ("Subnets", subnet.to_aws, "SubnetIds", "SubnetId", ErrorCode.INVALID_SUBNET_ID_NOT_FOUND),
    "DescribeVpcs": ("Vpcs", vpc.to_aws, "VpcIds", "VpcId", ErrorCode.INVALID_VPC_ID_NOT_FOUND),
    "DescribeRouteTables": ("RouteTables", route_table.to_aws, "RouteTableIds", "RouteTableId",
                            ErrorCode.INVALID_ROUTE_TABLE_ID_NOT_FOUND),
    "DescribeSecurityGroups": ("SecurityGroups", security_group.to_aws, "GroupIds", "GroupId",
                               ErrorCode.INVALID_GROUP_NOT_FOUND),
    "DescribeNetworkAcls": ("NetworkAcls", network_acl.to_aws, "NetworkAclIds", "NetworkAclId",
                            ErrorCode.INVALID_NETWORK_ACL_ID_NOT_FOUND),
    "DescribeAddresses": ("Addresses", elastic_ip.to_aws, "PublicIps", "PublicIp",
                          ErrorCode.INVALID_ADDRESS_NOT_FOUND),
    "DescribeNatGateways": ("NatGateways", nat_gateway.to_aws, "NatGatewayIds", "NatGatewayId",
                            ErrorCode.NAT_GATEWAY_NOT_FOUND),
    "DescribeVpcEndpoints": ("VpcEndpoints", vpc_endpoint.to_aws, "VpcEndpointIds", "VpcEndpointId",
                             ErrorCode.INVALID_VPC_ENDPOINT_ID_NOT_FOUND),
    "DescribeInternetGateways": ("InternetGateways", internet_gateway.to_aws, "InternetGatewayIds",
                                 "InternetGatewayId", ErrorCode.INVALID_INTERNET_GATEWAY_ID_NOT_FOUND),
    "DescribeVpcPeeringConnections": ("VpcPeeringConnections", peering.to_aws, "VpcPeeringConnectionIds",
                                      "VpcPeeringConnectionId", ErrorCode.INVALID_VPC_PEERING_CONNECTION_ID_NOT_FOUND),
    "DescribePrefixLists": ("PrefixLists", lambda t, owner: prefix_list.to_aws(t), "PrefixListIds", "PrefixListId",
                            ErrorCode.INVALID_PREFIX_LIST_ID_NOT_FOUND),
}


def _by_ids(items: list[dict], ids: list[str] | None, id_field: str, code: ErrorCode) -> list[dict]:
    """The items named in `ids` (all when none are given); an id that names nothing is refused, as EC2 does."""
    if not ids:
        return items
    missing = [i for i in ids if i not in {item.get(id_field) for item in items}]
    if missing:
        raise UsageError(f"The {id_field} '{missing[0]}' does not exist", code)
    return [item for item in items if item.get(id_field) in ids]


def _filtered(key: str, items: list[dict], params: dict) -> list[dict]:
    return matching(key, items, params.get("Filters") or params.get("Filter"))


def _describe(call: str) -> Handler:
    key, items, ids_param, id_field, code = DESCRIBES[call]

    def handler(lab: Lab, params: dict) -> dict:
        found = _by_ids(items(lab.topology, OWNER), params.get(ids_param), id_field, code)
        if call == "DescribeAddresses":
            found = _by_ids(found, params.get("AllocationIds"), "AllocationId", ErrorCode.INVALID_ALLOCATION_ID_NOT_FOUND)
        return {key: _filtered(key, found, params)}
    return handler


for _call in DESCRIBES:
    action(_call)(_describe(_call))


@action("DescribeInstances")
def describe_instances(lab: Lab, params: dict) -> dict:
    reservations = instance.to_aws(lab.topology, OWNER)
    every = [i for r in reservations for i in r["Instances"]]
    found = _by_ids(every, params.get("InstanceIds"), "InstanceId", ErrorCode.INVALID_INSTANCE_ID_NOT_FOUND)
    wanted = {i["InstanceId"] for i in _filtered("Instances", found, params)}
    return {"Reservations": [r for r in reservations if r["Instances"][0]["InstanceId"] in wanted]}


# -- ENIs ---------------------------------------------------------------------------------------
def required(params: dict, *names: str) -> list:
    missing = [n for n in names if params.get(n) in (None, "", [])]
    if missing:
        raise UsageError(f"The request must contain the parameter {missing[0]}", ErrorCode.MISSING_PARAMETER)
    return [params[n] for n in names]


def _eni_item(topology: Topology, eni_id: str) -> dict:
    return next(i for i in network_interface.to_aws(topology, OWNER) if i["NetworkInterfaceId"] == eni_id)


@action("AttachNetworkInterface")
def attach_network_interface(lab: Lab, params: dict) -> dict:
    eni, inst, index = required(params, "NetworkInterfaceId", "InstanceId", "DeviceIndex")
    t = eni_ops.attach_network_interface(lab, eni, inst, index, lab.topology.ec2_api.attachment_delay_ms)
    e = t.network_interface(eni)
    return {"AttachmentId": aws_id("eni-attach", e.id), "NetworkCardIndex": 0}


@action("DetachNetworkInterface")
def detach_network_interface(lab: Lab, params: dict) -> dict:
    attachment, = required(params, "AttachmentId")
    eni = next((e for e in lab.topology.network_interfaces.values()
                if e.attachment is not None and aws_id("eni-attach", e.id) == attachment), None)
    if eni is None:
        raise UsageError(f"The attachment ID '{attachment}' does not exist", ErrorCode.INVALID_ATTACHMENT_ID_NOT_FOUND)
    eni_ops.detach_network_interface(lab, eni.name, lab.topology.ec2_api.attachment_delay_ms)
    return {}


@action("CreateNetworkInterface")
def create_network_interface(lab: Lab, params: dict) -> dict:
    subnet_id, = required(params, "SubnetId")
    ips = [p["PrivateIpAddress"] for p in sorted(params.get("PrivateIpAddresses") or [],
                                                 key=lambda p: not p.get("Primary")) if p.get("PrivateIpAddress")]
    if params.get("PrivateIpAddress"):
        ips = [params["PrivateIpAddress"], *[i for i in ips if i != params["PrivateIpAddress"]]]
    name = next((t.get("Value") for spec in params.get("TagSpecifications") or [] for t in spec.get("Tags") or []
                 if t.get("Key") == NAME_TAG), None)
    with lab.change():
        topology = lab.topology
        name = name or _free_name(topology)
        count = params.get("SecondaryPrivateIpAddressCount") or 0
        if count:
            v, subnet_name = security_ops.one_of(topology, "subnet", subnet_id, None)
            s = v.subnets[subnet_name]
            ips = ips or [str(free_private_ip(s, _taken(v)))]
            ips += _free_ips(s, _taken(v) | {IPv4Address(i) for i in ips}, count)
        t = eni_ops.create_network_interface(lab, name, subnet_id, ips or None, params.get("Groups"),
                                             params.get("Description") or "")
    return {"NetworkInterface": _eni_item(t, t.network_interface(name).id)}


def _free_name(topology: Topology) -> str:
    taken = set(topology.network_interfaces)
    return next(f"api-eni-{n}" for n in range(1, len(taken) + 2) if f"api-eni-{n}" not in taken)


def _taken(v) -> set[IPv4Address]:
    return {ip for e in v.network_interfaces.values() for ip in e.private_ip_addresses}


def _free_ips(s, taken: set[IPv4Address], count: int) -> list[str]:
    if count < 1:
        raise UsageError("SecondaryPrivateIpAddressCount must be at least 1", ErrorCode.INVALID_PARAMETER_VALUE)
    out = []
    for _ in range(count):
        ip = free_private_ip(s, taken)
        taken = taken | {ip}
        out.append(str(ip))
    return out


@action("DeleteNetworkInterface")
def delete_network_interface(lab: Lab, params: dict) -> dict:
    eni, = required(params, "NetworkInterfaceId")
    eni_ops.delete_network_interface(lab, eni)
    return {}


@action("AssignPrivateIpAddresses")
def assign_private_ip_addresses(lab: Lab, params: dict) -> dict:
    eni, = required(params, "NetworkInterfaceId")
    ips, count = params.get("PrivateIpAddresses"), params.get("SecondaryPrivateIpAddressCount")
    if bool(ips) == bool(count):
        raise UsageError("give either PrivateIpAddresses or SecondaryPrivateIpAddressCount",
                         ErrorCode.INVALID_PARAMETER_COMBINATION)
    reassign = bool(params.get("AllowReassignment"))
    with lab.change():
        if count:
            e = security_ops.interface(lab.topology, eni)
            v = lab.topology.vpcs[e.vpc]
            ips = _free_ips(v.subnets[e.subnet], _taken(v), count)
        eni_ops.assigned(lab.topology, eni, ips, reassign)              # refused at once, before any delay
        _pause(lab.topology.ec2_api.association_delay_ms)
        t = eni_ops.assign_private_ip_addresses(lab, eni, ips, reassign)
    return {"NetworkInterfaceId": t.network_interface(eni).id,
            "AssignedPrivateIpAddresses": [{"PrivateIpAddress": str(IPv4Address(i))} for i in ips]}


@action("UnassignPrivateIpAddresses")
def unassign_private_ip_addresses(lab: Lab, params: dict) -> dict:
    eni, ips = required(params, "NetworkInterfaceId", "PrivateIpAddresses")
    eni_ops.unassign_private_ip_addresses(lab, eni, ips)
    return {}


def _pause(delay_ms: float) -> None:
    if delay_ms:
        time.sleep(delay_ms / 1000)     # the lab's emulated AWS latency (aws.ec2_api): by request


@action("ModifyNetworkInterfaceAttribute")
def modify_network_interface_attribute(lab: Lab, params: dict) -> dict:
    eni, = required(params, "NetworkInterfaceId")
    return _modify(lab, eni, params)


@action("ModifyInstanceAttribute")
def modify_instance_attribute(lab: Lab, params: dict) -> dict:
    inst, = required(params, "InstanceId")
    return _modify(lab, inst, params)


def _modify(lab: Lab, target: str, params: dict) -> dict:
    check = (params.get("SourceDestCheck") or {}).get("Value")
    description = (params.get("Description") or {}).get("Value")
    groups = params.get("Groups")
    if check is None and description is None and not groups:
        raise UsageError("give one attribute: SourceDestCheck, Groups or Description", ErrorCode.MISSING_PARAMETER)
    security_ops.modify_network_interface_attribute(lab, target, groups, check, description)
    return {}


# -- Elastic IPs --------------------------------------------------------------------------------
def _public_ip(topology: Topology, params: dict) -> str:
    if params.get("PublicIp"):
        return params["PublicIp"]
    allocation, = required(params, "AllocationId")
    found = topology.named(allocation, "eipalloc")       # an EIP of the lab, kept through disassociations
    if found is not None:
        return found.name
    raise UsageError(f"The allocation ID '{allocation}' does not exist", ErrorCode.INVALID_ALLOCATION_ID_NOT_FOUND)


@action("AssociateAddress")
def associate_address(lab: Lab, params: dict) -> dict:
    target = params.get("NetworkInterfaceId") or params.get("InstanceId")
    if not target:
        required(params, "InstanceId")
    private, again = params.get("PrivateIpAddress"), bool(params.get("AllowReassociation"))
    with lab.change():
        public = _public_ip(lab.topology, params)
        eip_ops.associated(lab.topology, public, target, private, again)     # refused at once, before any delay
        _pause(lab.topology.ec2_api.association_delay_ms)
        t = eip_ops.associate_address(lab, public, target, private, again)
    holder = next(e for e in t.network_interfaces.values() if IPv4Address(public) in e.eips.values())
    return {"AssociationId": association_id(IPv4Address(public), holder.id)}


@action("DisassociateAddress")
def disassociate_address(lab: Lab, params: dict) -> dict:
    with lab.change():
        public = params.get("PublicIp")
        if not public:
            association, = required(params, "AssociationId")
            public = next((str(p) for e in lab.topology.network_interfaces.values() for p in e.eips.values()
                           if association_id(p, e.id) == association), None)
            if public is None:
                raise UsageError(f"The association ID '{association}' does not exist",
                                 ErrorCode.INVALID_ASSOCIATION_ID_NOT_FOUND)
        eip_ops.disassociated(lab.topology, public)
        _pause(lab.topology.ec2_api.association_delay_ms)
        eip_ops.disassociate_address(lab, public)
    return {}


# -- routes -------------------------------------------------------------------------------------
TARGETS = ("GatewayId", "NatGatewayId", "InstanceId", "NetworkInterfaceId", "VpcPeeringConnectionId")
NOT_EMULATED = ("TransitGatewayId", "LocalGatewayId", "CarrierGatewayId", "EgressOnlyInternetGatewayId",
                "CoreNetworkArn", "VpcEndpointId", "DestinationIpv6CidrBlock", "DestinationPrefixListId")


def _route_target(params: dict) -> str:
    given = [k for k in TARGETS if params.get(k)]
    other = [k for k in NOT_EMULATED if params.get(k)]
    if other:
        raise UsageError(f"{other[0]} is not emulated by vpcemu", ErrorCode.INVALID_PARAMETER_VALUE,
                         hint="targets: " + ", ".join(TARGETS))
    if not given:
        raise UsageError("The request must contain a route target", ErrorCode.MISSING_PARAMETER,
                         hint="one of " + ", ".join(TARGETS))
    if len(given) > 1:
        raise UsageError(f"give one route target, not {' and '.join(given)}", ErrorCode.INVALID_PARAMETER_COMBINATION)
    return params[given[0]]


@action("CreateRoute")
def create_route(lab: Lab, params: dict) -> dict:
    rtb, dest = required(params, "RouteTableId", "DestinationCidrBlock")
    route_ops.create_route(lab, rtb, dest, _route_target(params))
    return {"Return": True}


@action("ReplaceRoute")
def replace_route(lab: Lab, params: dict) -> dict:
    rtb, dest = required(params, "RouteTableId", "DestinationCidrBlock")
    route_ops.replace_route(lab, rtb, dest, _route_target(params))
    return {}


@action("DeleteRoute")
def delete_route(lab: Lab, params: dict) -> dict:
    rtb, dest = required(params, "RouteTableId", "DestinationCidrBlock")
    route_ops.delete_route(lab, rtb, dest)
    return {}


# -- security group rules -----------------------------------------------------------------------
def permissions(params: dict) -> list[SecurityGroupRule]:
    """IpPermissions (or the older flat CidrIp/IpProtocol/FromPort/ToPort form) as the model's rules."""
    perms = params.get("IpPermissions")
    if not perms:
        if params.get("SourceSecurityGroupName"):
            peer = {"UserIdGroupPairs": [{"GroupName": params["SourceSecurityGroupName"]}]}
        else:
            peer = {"IpRanges": [{"CidrIp": required(params, "CidrIp")[0]}]}
        perms = [{"IpProtocol": required(params, "IpProtocol")[0], "FromPort": params.get("FromPort"),
                  "ToPort": params.get("ToPort"), **peer}]
    rules = []
    for p in perms:
        protocol, = required(p, "IpProtocol")
        protocol = "-1" if protocol in ("all", "-1") else protocol
        low, high = p.get("FromPort"), p.get("ToPort")
        if protocol in ("tcp", "udp", "6", "17") and (low, high) == (-1, -1):
            low = high = None
        ports = {"protocol": protocol, "from_port": low, "to_port": high}
        if p.get("Ipv6Ranges"):
            raise UsageError("IPv6 rules are not emulated by vpcemu", ErrorCode.INVALID_PARAMETER_VALUE)
        for r in p.get("IpRanges") or []:
            try:
                cidr = IPv4Network(required(r, "CidrIp")[0], strict=False)
            except ValueError as exc:
                raise UsageError(f"CidrIp: {exc}", ErrorCode.INVALID_PARAMETER_VALUE) from None
            rules.append(SecurityGroupRule(**ports, cidr=cidr, description=r.get("Description") or ""))
        for g in p.get("UserIdGroupPairs") or []:
            group = g.get("GroupId") or g.get("GroupName")
            if not group:
                required(g, "GroupId")
            rules.append(SecurityGroupRule(**ports, group=group, description=g.get("Description") or ""))
        for pl in p.get("PrefixListIds") or []:
            rules.append(SecurityGroupRule(**ports, prefix_list=required(pl, "PrefixListId")[0],
                                           description=pl.get("Description") or ""))
    if not rules:
        raise UsageError("a permission needs IpRanges, UserIdGroupPairs or PrefixListIds", ErrorCode.MISSING_PARAMETER)
    return rules


def _group(params: dict) -> str:
    group = params.get("GroupId") or params.get("GroupName")
    if not group:
        required(params, "GroupId")
    return group


def _security_group_change(op: Callable) -> Handler:
    def handler(lab: Lab, params: dict) -> dict:
        op(lab, _group(params), *permissions(params))
        return {"Return": True}
    return handler


action("AuthorizeSecurityGroupIngress")(_security_group_change(security_ops.authorize_security_group_ingress))
action("AuthorizeSecurityGroupEgress")(_security_group_change(security_ops.authorize_security_group_egress))
action("RevokeSecurityGroupIngress")(_security_group_change(security_ops.revoke_security_group_ingress))
action("RevokeSecurityGroupEgress")(_security_group_change(security_ops.revoke_security_group_egress))
