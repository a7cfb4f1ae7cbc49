"""Instances ⇄ DescribeInstances (Reservations): each running instance with its primary ENI (eth0).

AWS does not know whether an instance's OS routes packets (the model's `forwarding`); export says it in a
`vpcemu:forwarding` tag, and import reads that tag, or takes an instance whose source/destination check is
off for an appliance that does (a NAT instance, a firewall), and says so. An instance type vpcemu does not
know the limits of is kept out of the document (its limits are not enforced), and said. MetadataOptions carry an
instance's `metadata_options` both ways.
"""
from __future__ import annotations

from dataclasses import asdict

from ..model import MetadataOptions, Topology, aws_id
from ..rules import limits
from .context import Importer
from .describe import FORWARDING_TAG, inner, live_state, objects, tag_list, tags
from .network_interface import (association, attachment, group_names, groups, private_dns_name, private_ip_addresses,
                                private_ips, unrepresented_addresses)

KEY = "Instances"          # flattened from Reservations


# -- export ----------------------------------------------------------------------------------------
def to_aws(t: Topology, owner: str) -> list[dict]:
    """One reservation per instance, as launching them one by one gives."""
    out = []
    for v in t.vpcs.values():
        for i in v.instances.values():
            eth0 = v.network_interfaces[i.primary_network_interface]
            item: dict = {"InstanceId": i.id}
            if i.instance_type:
                item["InstanceType"] = i.instance_type
            item |= {"State": {"Code": 16, "Name": "running"}, "SubnetId": v.subnets[i.subnet].id, "VpcId": v.id,
                     "PrivateIpAddress": str(eth0.private_ip_address),
                     "PrivateDnsName": private_dns_name(t.region, eth0.private_ip_address),
                     "Placement": {"AvailabilityZone": i.availability_zone, "Tenancy": "default"},
                     "SecurityGroups": groups(v, eth0), "SourceDestCheck": eth0.source_dest_check,
                     "MetadataOptions": {"State": "applied", "HttpTokens": i.metadata_options.http_tokens,
                                         "HttpPutResponseHopLimit": i.metadata_options.http_put_response_hop_limit,
                                         "HttpEndpoint": i.metadata_options.http_endpoint,
                                         "HttpProtocolIpv6": "disabled", "InstanceMetadataTags": "disabled"},
                     "NetworkInterfaces": [_interface(t, v, e, owner) for e in t.interfaces_of(i.name)],
                     "Tags": tag_list(i.name, **{FORWARDING_TAG: str(i.forwarding).lower()})}
            public = eth0.public_addresses.get(eth0.private_ip_address)
            if public is not None:
                item["PublicIpAddress"] = str(public)
            out.append({"ReservationId": aws_id("r", i.id), "OwnerId": owner, "Groups": [], "Instances": [item]})
    return out


def _interface(t: Topology, v, e, owner: str) -> dict:
    """An ENI as DescribeInstances shows it (InstanceNetworkInterface: no AvailabilityZone, no AllocationId)."""
    item = {"NetworkInterfaceId": e.id, "SubnetId": v.subnets[e.subnet].id, "VpcId": v.id, "Description": e.description,
            "Groups": groups(v, e), "MacAddress": e.mac_address, "OwnerId": owner,
            "PrivateIpAddress": str(e.private_ip_address),
            "PrivateDnsName": private_dns_name(t.region, e.private_ip_address),
            "PrivateIpAddresses": private_ip_addresses(t, e, owner, with_allocation=False),
            "SourceDestCheck": e.source_dest_check, "Status": "in-use", "InterfaceType": "interface",
            "Attachment": {k: x for k, x in attachment(v, e, owner).items() if k not in ("InstanceId", "InstanceOwnerId")}}
    public = e.public_addresses.get(e.private_ip_address)
    if public is not None:
        item["Association"] = association(t, e, e.private_ip_address, public, owner, with_allocation=False)
    return item


# -- import ----------------------------------------------------------------------------------------
def live(ctx: Importer) -> None:
    for r in ctx.items("Reservations"):
        for inst in objects(r, "Instances"):
            ident = inst.get("InstanceId")
            if not isinstance(ident, str):
                ctx.error("Reservations", r, r.get("ReservationId"), "an instance without an InstanceId")
                continue
            ctx.known[ident] = KEY
            ctx.sources[ident] = ctx.where("Reservations", r)
            state = inner(inst, "State", "Name")
            if not live_state(state, "running"):
                ctx.dropped("instance", ident, f"its state is {state}, not running")
            elif ctx.account and r.get("OwnerId") not in (None, ctx.account):
                ctx.dropped("instance", ident, f"it belongs to account {r.get('OwnerId')}, not {ctx.account}")
            elif ctx.reference(KEY, inst, ident, "SubnetId", inst.get("SubnetId"), "Subnets"):
                ctx.of(KEY)[ident] = inst
            elif ctx.holds(inst.get("SubnetId")):
                ctx.dropped("instance", ident, f"its subnet {inst.get('SubnetId')} is not carried over")


def from_aws(ctx: Importer) -> None:
    for ident, inst in ctx.of(KEY).items():
        eni_id = ctx.primary.get(ident)
        eth0 = ctx.of("NetworkInterfaces")[eni_id] if eni_id else None
        source = eth0 or inst      # without its ENIs in the dump, the instance's own fields say the same of eth0
        if eth0 is not None:
            unrepresented_addresses(ctx, eni_id, eth0)
        ips = private_ips(source)
        fragment: dict = {"id": ident, "subnet": ctx.names[source.get("SubnetId") or inst["SubnetId"]]}
        if ips:
            fragment["private_ip"] = ips[0]
        if len(ips) > 1:
            fragment["secondary_private_ips"] = ips[1:]
        eips = ctx.eips.get(eni_id or "", {})
        public = ctx.public_ips.get(eni_id or "") or (None if eni_id else inst.get("PublicIpAddress"))
        if public and (not ips or ips[0] not in eips):
            fragment["public_ip"] = public
        if eips and ips and set(eips) == {ips[0]}:
            fragment["eip"] = eips[ips[0]]
        elif eips:
            fragment["eips"] = eips
        fragment["security_groups"] = group_names(ctx, KEY, inst, ident, objects(source, "Groups")
                                                  or objects(inst, "SecurityGroups"))
        itype = inst.get("InstanceType")
        if isinstance(itype, str) and itype in limits.INSTANCE_TYPES:
            fragment["instance_type"] = itype
        elif itype:
            ctx.changed("instance", ident, f"vpcemu does not know the limits of instance type {itype}; they are not "
                        "enforced")
        fragment["source_dest_check"] = _source_dest_check(ctx, ident, inst, eth0)
        forwarding = tags(inst).get(FORWARDING_TAG)
        if forwarding is None and fragment["source_dest_check"] is False:
            ctx.changed("instance", ident, "its source/destination check is off, so it is taken for an appliance whose "
                        "OS routes packets (forwarding: true)")
            forwarding = "true"
        if forwarding == "true":
            fragment["forwarding"] = True
        metadata = {key: value for key, value in (
            ("http_tokens", inner(inst, "MetadataOptions", "HttpTokens")),
            ("http_put_response_hop_limit", inner(inst, "MetadataOptions", "HttpPutResponseHopLimit")),
            ("http_endpoint", inner(inst, "MetadataOptions", "HttpEndpoint"))) if value is not None}
        if metadata and metadata != asdict(MetadataOptions()):
            fragment["metadata_options"] = metadata
        if eth0 is not None and eth0.get("MacAddress"):
            fragment["mac"] = eth0["MacAddress"]
        if eni_id:
            fragment["network_interface_id"] = eni_id
        ctx.place(ctx.of("Subnets")[inst["SubnetId"]]["VpcId"], "instances", ident, fragment, KEY, inst)


def _source_dest_check(ctx: Importer, ident: str, inst: dict, eth0: dict | None) -> bool:
    """The instance's attribute is its primary ENI's; where a dump shows them apart (moto does, after
    ModifyInstanceAttribute), the instance's, which is what was set, wins."""
    mine = inst.get("SourceDestCheck")
    eni = eth0.get("SourceDestCheck") if eth0 is not None else None
    if isinstance(mine, bool) and isinstance(eni, bool) and mine != eni:
        ctx.changed("instance", ident, f"DescribeInstances shows its source/destination check {str(mine).lower()}, "
                    f"DescribeNetworkInterfaces {str(eni).lower()} for its primary ENI; the instance's is kept")
    for value in (mine, eni):
        if isinstance(value, bool):
            return value
    return True
