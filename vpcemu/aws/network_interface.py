"""Network interfaces ⇄ DescribeNetworkInterfaces: every ENI, whoever owns it.

Import tells each ENI's role from what refers to it, not from its own flags (moto, for one, shows a NAT
gateway's ENI as `RequesterManaged: false`): a live NAT gateway's (nat_gateway.py) or interface endpoint's
(vpc_endpoint.py), an instance's primary ENI (instance.py), or a standalone ENI (this module). ENIs that
other AWS services manage (load balancers, Lambda, RDS, …) cannot be represented and are listed. An
instance's own list of its ENIs (DescribeInstances) fills in any the dump of this call lacks.
"""
from __future__ import annotations

from ipaddress import IPv4Address

from ..model import NetworkInterface, Topology, Vpc, aws_id
from .context import Importer
from .describe import live_state, objects, strings, tag_list

KEY = "NetworkInterfaces"


# -- export ----------------------------------------------------------------------------------------
def to_aws(t: Topology, owner: str) -> list[dict]:
    out = []
    for v in t.vpcs.values():
        for e in v.network_interfaces.values():
            subnet = v.subnets[e.subnet]
            item = {
                "NetworkInterfaceId": e.id, "SubnetId": subnet.id, "VpcId": v.id,
                "AvailabilityZone": subnet.availability_zone, "Description": e.description,
                "Groups": groups(v, e), "InterfaceType": e.interface_type, "MacAddress": e.mac_address, "OwnerId": owner,
                "PrivateIpAddress": str(e.private_ip_address), "PrivateDnsName": private_dns_name(t.region, e.private_ip_address),
                "PrivateIpAddresses": private_ip_addresses(t, e, owner, with_allocation=True),
                "RequesterManaged": e.requester_managed, "SourceDestCheck": e.source_dest_check,
                "Status": "in-use" if e.attachment or e.requester_managed else "available", "Ipv6Addresses": [],
                "TagSet": [] if e.requester_managed else tag_list(e.name)}
            association = private_ip_addresses(t, e, owner, with_allocation=True)[0].get("Association")
            if association:
                item["Association"] = association
            if e.attachment:
                item["Attachment"] = attachment(v, e, owner)
            out.append(item)
    return out


def groups(v: Vpc, e: NetworkInterface) -> list[dict]:
    return [{"GroupId": v.security_groups[g].id, "GroupName": g} for g in e.security_groups]


def private_dns_name(region: str, ip: IPv4Address) -> str:
    """AWS's private hostname of an address (ip-10-0-0-5.ec2.internal in us-east-1)."""
    domain = "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"
    return f"ip-{str(ip).replace('.', '-')}.{domain}"


def private_ip_addresses(t: Topology, e: NetworkInterface, owner: str, with_allocation: bool) -> list[dict]:
    out = []
    for i, ip in enumerate(e.private_ip_addresses):
        item: dict = {"Primary": i == 0, "PrivateIpAddress": str(ip), "PrivateDnsName": private_dns_name(t.region, ip)}
        public = e.public_addresses.get(ip)
        if public is not None:
            item["Association"] = association(t, e, ip, public, owner, with_allocation)
        out.append(item)
    return out


def association(t: Topology, e: NetworkInterface, private: IPv4Address, public: IPv4Address, owner: str,
                with_allocation: bool) -> dict:
    """An Elastic IP is the account's (IpOwnerId, AllocationId); an auto-assigned public IPv4 is `amazon`'s."""
    if private in e.eips:
        out = {"IpOwnerId": owner, "PublicIp": str(public)}
        if with_allocation:
            out |= {"AllocationId": t.allocation_id(public), "AssociationId": association_id(public, e.id)}
        return out
    return {"IpOwnerId": "amazon", "PublicIp": str(public)}


def association_id(public: IPv4Address, eni_id: str) -> str:
    return aws_id("eipassoc", str(public), eni_id)


def attachment(v: Vpc, e: NetworkInterface, owner: str) -> dict:
    return {"AttachmentId": aws_id("eni-attach", e.id), "DeviceIndex": e.attachment.device_index,
            "InstanceId": v.instances[e.attachment.instance].id, "InstanceOwnerId": owner, "Status": "attached",
            "DeleteOnTermination": e.attachment.device_index == 0, "NetworkCardIndex": 0}


# -- import ----------------------------------------------------------------------------------------
def live(ctx: Importer) -> None:
    pool: dict[str, dict] = {}
    for e in ctx.items(KEY):
        ident = e.get("NetworkInterfaceId")
        if not isinstance(ident, str):
            ctx.error(KEY, e, None, "a network interface without a NetworkInterfaceId")
            continue
        ctx.known[ident] = KEY
        pool[ident] = e
    for ident, e in _from_instances(ctx).items():
        pool.setdefault(ident, e)
    owners = _owners(ctx)
    for ident, e in pool.items():
        owner = owners.get(ident)
        if owner is not None:
            key, owner_id, role = owner
            if ctx.is_live(key, owner_id):
                ctx.eni_role[ident] = role
                ctx.of(KEY)[ident] = e
            else:
                ctx.dropped("network interface", ident, f"it belongs to {owner_id}, which is not carried over")
            continue
        _classify(ctx, ident, e)


def _from_instances(ctx: Importer) -> dict[str, dict]:
    """The ENIs DescribeInstances lists with each instance, in DescribeNetworkInterfaces' shape."""
    out = {}
    for r in ctx.items("Reservations"):
        for inst in objects(r, "Instances"):
            for ni in objects(inst, "NetworkInterfaces"):
                ident = ni.get("NetworkInterfaceId")
                if isinstance(ident, str) and not ctx.holds(ident):
                    ctx.known[ident] = KEY
                    ctx.sources[ident] = ctx.where("Reservations", r)
                    out[ident] = {**ni, "VpcId": ni.get("VpcId") or inst.get("VpcId"), "Status": "in-use",
                                  "Attachment": {**attachment_of(ni), "InstanceId": inst.get("InstanceId")}}
    return out


def _owners(ctx: Importer) -> dict[str, tuple[str, str, str]]:
    """ENI id → (key, id, role) of the NAT gateway or interface endpoint that owns it, live or not."""
    out = {}
    for n in ctx.items("NatGateways"):
        for a in objects(n, "NatGatewayAddresses"):
            if isinstance(a.get("NetworkInterfaceId"), str):
                out[a["NetworkInterfaceId"]] = ("NatGateways", n.get("NatGatewayId"), "nat")
    for ep in ctx.items("VpcEndpoints"):
        for eni in strings(ep, "NetworkInterfaceIds"):
            out[eni] = ("VpcEndpoints", ep.get("VpcEndpointId"), "endpoint")
    return out


def _classify(ctx: Importer, ident: str, e: dict) -> None:
    if not live_state(e.get("Status"), "in-use", "available"):
        ctx.dropped("network interface", ident, f"its status is {e.get('Status')}")
        return
    subnet = e.get("SubnetId")
    if not ctx.reference(KEY, e, ident, "SubnetId", subnet, "Subnets"):
        if ctx.holds(subnet):
            ctx.dropped("network interface", ident, f"its subnet {subnet} is not carried over")
        return
    a = attachment_of(e)
    instance = a.get("InstanceId") if live_state(a.get("Status"), "attached", "attaching") else None
    if instance and a.get("DeviceIndex") == 0:
        if ctx.is_live("Instances", instance):
            ctx.eni_role[ident] = "primary"
            ctx.primary[instance] = ident
            ctx.attached.setdefault(instance, []).insert(0, ident)
            ctx.of(KEY)[ident] = e
        else:
            ctx.dropped("network interface", ident, f"it is the primary ENI of instance {instance}, which is not "
                        "carried over")
        return
    if e.get("RequesterManaged") is True or e.get("InterfaceType") not in (None, "interface"):
        ctx.eni_role[ident] = "service"
        kind = e.get("InterfaceType") if e.get("InterfaceType") not in (None, "interface") else "requester-managed"
        ctx.unrepresentable(f"{kind} network interface", ident,
                            f"{e.get('Description') or 'managed by an AWS service'}: vpcemu does not emulate that "
                            f"service; {e.get('PrivateIpAddress')} stays unused in the lab")
        return
    ctx.eni_role[ident] = "standalone"
    ctx.of(KEY)[ident] = e
    if instance and ctx.is_live("Instances", instance):
        ctx.attached.setdefault(instance, []).append(ident)
    elif instance:
        ctx.changed("network interface", ident, f"it is attached to instance {instance}, which is not carried over; "
                    "in the lab it is detached")


def attachment_of(e: dict) -> dict:
    return e["Attachment"] if isinstance(e.get("Attachment"), dict) else {}


def private_ips(e: dict) -> list[str]:
    """The primary private IP first, then the secondary ones."""
    listed = sorted(objects(e, "PrivateIpAddresses"), key=lambda p: p.get("Primary") is not True)
    ips = [p.get("PrivateIpAddress") for p in listed if isinstance(p.get("PrivateIpAddress"), str)]
    return ips or ([e["PrivateIpAddress"]] if isinstance(e.get("PrivateIpAddress"), str) else [])


def group_names(ctx: Importer, key: str, item: dict, ident: str, entries: list[dict]) -> list[str]:
    out = []
    for g in entries:
        if ctx.reference(key, item, ident, "Groups.GroupId", g.get("GroupId"), "SecurityGroups"):
            out.append(ctx.names[g["GroupId"]])
    return out


def unrepresented_addresses(ctx: Importer, ident: str, e: dict) -> None:
    v6 = [a.get("Ipv6Address") for a in objects(e, "Ipv6Addresses")]
    if v6:
        ctx.unrepresentable("IPv6 address", ident, f"{', '.join(map(str, v6))}: vpcemu emulates IPv4 only")
    prefixes = [p.get("Ipv4Prefix") for p in objects(e, "Ipv4Prefixes")]
    if prefixes:
        ctx.unrepresentable("IPv4 prefix delegation", ident, f"{', '.join(map(str, prefixes))}")


def from_aws(ctx: Importer) -> None:
    for ident, e in ctx.of(KEY).items():
        if ctx.eni_role.get(ident) != "standalone":
            continue
        unrepresented_addresses(ctx, ident, e)
        fragment: dict = {"id": ident, "subnet": ctx.names[e["SubnetId"]], "private_ips": private_ips(e)}
        if ctx.eips.get(ident):
            fragment["eips"] = ctx.eips[ident]
        fragment["security_groups"] = group_names(ctx, KEY, e, ident, objects(e, "Groups"))
        if isinstance(e.get("SourceDestCheck"), bool):
            fragment["source_dest_check"] = e["SourceDestCheck"]
        instance = attachment_of(e).get("InstanceId")
        if ctx.is_live("Instances", instance):
            fragment["attachment"] = {"instance": ctx.names[instance], "device_index": attachment_of(e).get("DeviceIndex")}
        if e.get("MacAddress"):
            fragment["mac"] = e["MacAddress"]
        if e.get("Description"):
            fragment["description"] = str(e["Description"])
        vpc = ctx.of("Subnets")[e["SubnetId"]]["VpcId"]
        ctx.place(vpc, "network_interfaces", ident, fragment, KEY, e)
