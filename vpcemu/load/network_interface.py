"""`instances:` and `network_interfaces:` → Instances (each with its primary ENI, eth0) and standalone
ENIs: private IPs claimed in their subnets (explicit ones before any chosen automatically), security
groups, MACs, Elastic IPs, attachments, and the instance types' limits."""
from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address
from typing import Any

from ..model import Attachment, Instance, MetadataOptions, NetworkInterface, Subnet, aws_id, mac_address
from ..rules import elastic_ip, instance
from ..rules import network_interface as rules
from .context import VpcContext

INSTANCE_KEYS = ("id", "subnet", "private_ip", "secondary_private_ips", "public_ip", "eip", "eips", "security_groups",
                 "instance_type", "source_dest_check", "forwarding", "mac", "network_interface_id", "metadata_options")
METADATA_KEYS = ("http_tokens", "http_put_response_hop_limit", "http_endpoint")
ENI_KEYS = ("id", "subnet", "private_ips", "eips", "security_groups", "source_dest_check", "attachment", "mac",
            "description")


# -- private IPs -----------------------------------------------------------------------------------
def claim_ip(ctx: VpcContext, ip: IPv4Address, subnet: Subnet, path: str) -> bool:
    if not ctx.doc.passes(path, rules.private_ip, subnet, ip, ctx.taken.get(ip)):
        return False
    ctx.taken[ip] = path
    return True


def next_free(ctx: VpcContext, subnet: Subnet, path: str) -> IPv4Address | None:
    ip = ctx.doc.check(path, rules.free_private_ip, subnet, ctx.taken)
    if ip is not None:
        ctx.taken[ip] = path
    return ip


def explicit_ip(ctx: VpcContext, value: Any, subnet: Subnet, path: str) -> IPv4Address | None:
    if value is None:
        return None
    ip = ctx.r.address(value, path)
    if ip is not None and claim_ip(ctx, ip, subnet, path):
        return ip
    return None


def finish_ips(ctx: VpcContext, wanted: list, subnet: Subnet, path: str) -> list[IPv4Address]:
    """None → auto-assign the first free address; False → a rejected explicit address (dropped)."""
    out = []
    for ip in wanted:
        if ip is None:
            ip = next_free(ctx, subnet, path)
        if ip:
            out.append(ip)
    return out


# -- security groups, Elastic IPs, MACs ------------------------------------------------------------
def group_refs(ctx: VpcContext, value: Any, path: str) -> tuple[str, ...]:
    if value is None:
        return ("default",)
    groups = tuple(str(g) for g in ctx.r.sequence(value, path))
    names = set(ctx.raw_groups) | {"default"}
    for i, g in enumerate(groups):
        ctx.doc.passes(f"{path}[{i}]", rules.interface_group, ctx.vpc.name, g, names)
    ctx.doc.passes(path, rules.interface_groups, groups)
    return groups


def public_address(ctx: VpcContext, value: Any, path: str) -> IPv4Address | None:
    """An Elastic IP or a public IPv4: from the lab's public pools or any public unicast address, used once."""
    doc = ctx.doc
    ip = ctx.r.address(value, path, "InvalidAddress.NotFound")
    if ip is None or not doc.passes(path, elastic_ip.public_address, ip, doc.addressing.public, doc.addressing.services) \
            or not doc.passes(path, elastic_ip.not_associated, ip, doc.public_taken.get(ip)):
        return None
    doc.public_taken[ip] = path
    return ip


def _public_ip(ctx: VpcContext, value: Any, path: str) -> tuple[bool, IPv4Address | None]:
    """`public_ip: true` (vpcemu picks one from the public pools, load/document.py) or the address itself (an
    import keeps the one AWS assigned)."""
    if isinstance(value, str):
        address = public_address(ctx, value, path)
        return address is not None, address
    return ctx.r.boolean(value, path, False), None


def mac(ctx: VpcContext, value: Any, path: str, default: str) -> str:
    if value is None:
        return default
    return ctx.doc.check(path, rules.mac_address, value) or default


# -- instances and ENIs ----------------------------------------------------------------------------
def interfaces_and_instances(ctx: VpcContext) -> tuple[dict[str, NetworkInterface], dict[str, Instance]]:
    r, doc, vpc = ctx.r, ctx.doc, ctx.vpc
    raw_instances = r.named_map(ctx.data.get("instances"), f"{ctx.path}.instances")
    raw_enis = r.named_map(ctx.data.get("network_interfaces"), f"{ctx.path}.network_interfaces")
    inst_data = {n: r.mapping(v, f"{ctx.path}.instances.{n}", INSTANCE_KEYS, required=("subnet",))
                 for n, v in raw_instances.items()}
    eni_data = {n: r.mapping(v, f"{ctx.path}.network_interfaces.{n}", ENI_KEYS, required=("subnet",))
                for n, v in raw_enis.items()}
    # explicit addresses first, so automatic ones never take an address someone asked for
    explicit: dict[str, list[IPv4Address | None]] = {}
    subnet_of: dict[str, Subnet | None] = {}
    for n, d in inst_data.items():
        path = f"{ctx.path}.instances.{n}"
        if doc.claim(n, "instance", path):
            doc.claim(f"{n}.eth0", "network interface", path)
        subnet = subnet_of[f"i:{n}"] = ctx.subnet_ref(d.get("subnet"), f"{path}.subnet")
        ips: list[IPv4Address | None] = []
        if subnet is not None:
            ips.append(explicit_ip(ctx, d.get("private_ip"), subnet, f"{path}.private_ip"))
            for i, v in enumerate(r.sequence(d.get("secondary_private_ips"), f"{path}.secondary_private_ips")):
                ips.append(explicit_ip(ctx, v, subnet, f"{path}.secondary_private_ips[{i}]") or False)
        explicit[f"i:{n}"] = ips
    for n, d in eni_data.items():
        path = f"{ctx.path}.network_interfaces.{n}"
        doc.claim(n, "network interface", path)
        subnet = subnet_of[f"e:{n}"] = ctx.subnet_ref(d.get("subnet"), f"{path}.subnet")
        ips = []
        if subnet is not None:
            items = r.sequence(d.get("private_ips"), f"{path}.private_ips")
            ips = [explicit_ip(ctx, v, subnet, f"{path}.private_ips[{i}]") or False for i, v in enumerate(items)]
            if not items:
                ips = [None]
        explicit[f"e:{n}"] = ips

    enis: dict[str, NetworkInterface] = {}
    instances: dict[str, Instance] = {}
    launched_with = {n: 1 for n in inst_data}
    for d in eni_data.values():
        a = d.get("attachment")
        if isinstance(a, dict) and isinstance(a.get("instance"), str) and a["instance"] in launched_with:
            launched_with[a["instance"]] += 1
    for n, d in inst_data.items():
        path = f"{ctx.path}.instances.{n}"
        subnet = subnet_of[f"i:{n}"]
        if subnet is None:
            continue
        ips = finish_ips(ctx, explicit[f"i:{n}"], subnet, path)
        eni_name = f"{n}.eth0"
        eips = {}
        public_ip, public_ip_address = _public_ip(ctx, d.get("public_ip"), f"{path}.public_ip")
        if public_ip and public_ip_address is None:
            # a launch rule; an address given is one AWS assigned already, which a second ENI attached since keeps
            doc.passes(f"{path}.public_ip", instance.auto_public_ip, launched_with[n])
        if d.get("eip") is not None and d.get("eips") is not None:
            r.error(f"{path}.eips", "give either `eip:` (the primary private IP's) or `eips:`, not both")
        elif d.get("eip") is not None:
            # an address AWS (or the lab) assigned stays under an Elastic IP associated since, as the model keeps it
            if public_ip and public_ip_address is None:
                r.error(f"{path}.eip", "give either `public_ip: true` or `eip:`, not both", "InvalidParameterCombination")
            eip = public_address(ctx, d.get("eip"), f"{path}.eip")
            if eip is not None and ips:
                eips[ips[0]] = eip
        elif d.get("eips") is not None:
            eips = _eips(ctx, d.get("eips"), ips, eni_name, path)
            if public_ip and public_ip_address is None and ips and ips[0] in eips:
                r.error(f"{path}.eips", "the primary private IP has `public_ip:` already; an Elastic IP replaces it",
                        "InvalidParameterCombination")
        forwarding = r.boolean(d.get("forwarding"), f"{path}.forwarding", False)
        itype = r.string(d.get("instance_type"), f"{path}.instance_type", default=None)
        if itype is not None:
            itype = doc.check(f"{path}.instance_type", instance.instance_type, itype)
        metadata = r.mapping(d.get("metadata_options"), f"{path}.metadata_options", METADATA_KEYS)
        metadata = doc.check(f"{path}.metadata_options", instance.metadata_options,
                             *(metadata.get(k) for k in METADATA_KEYS)) or MetadataOptions()
        if not ips:
            continue
        eni_id = doc.resource_id(d.get("network_interface_id"), "eni", f"{path}.network_interface_id",
                                 aws_id("eni", vpc.name, eni_name))
        enis[eni_name] = NetworkInterface(
            eni_name, eni_id, vpc.name, subnet.name, tuple(ips),
            mac(ctx, d.get("mac"), f"{path}.mac", mac_address(vpc.name, eni_name)),
            group_refs(ctx, d.get("security_groups"), f"{path}.security_groups"),
            source_dest_check=r.boolean(d.get("source_dest_check"), f"{path}.source_dest_check", True),
            eips=eips, public_ip=public_ip, public_ip_address=public_ip_address, attachment=Attachment(n, 0),
            description=f"Primary network interface of {n}")
        instances[n] = Instance(n, doc.resource_id(d.get("id"), "i", f"{path}.id", aws_id("i", vpc.name, n)),
                                vpc.name, subnet.name, eni_name, subnet.availability_zone, itype, forwarding,
                                metadata)
    device_indexes: dict[str, dict[int, str]] = {n: {0: e} for n, e in
                                                 ((i.name, i.primary_network_interface) for i in instances.values())}
    for n, d in eni_data.items():
        path = f"{ctx.path}.network_interfaces.{n}"
        subnet = subnet_of[f"e:{n}"]
        if subnet is None:
            continue
        ips = finish_ips(ctx, explicit[f"e:{n}"], subnet, path)
        if not ips:
            continue
        eni = NetworkInterface(
            n, doc.resource_id(d.get("id"), "eni", f"{path}.id", aws_id("eni", vpc.name, n)), vpc.name, subnet.name,
            tuple(ips),
            mac(ctx, d.get("mac"), f"{path}.mac", mac_address(vpc.name, n)),
            group_refs(ctx, d.get("security_groups"), f"{path}.security_groups"),
            source_dest_check=r.boolean(d.get("source_dest_check"), f"{path}.source_dest_check", True),
            eips=_eips(ctx, d.get("eips"), ips, n, path),
            description=ctx.doc.check(f"{path}.description", rules.description, d.get("description") or "") or "")
        attachment = _attachment(ctx, d.get("attachment"), f"{path}.attachment", eni, subnet, instances,
                                 raw_instances, device_indexes)
        enis[n] = replace(eni, attachment=attachment)
    _check_macs(ctx, enis)
    return enis, instances


def _eips(ctx: VpcContext, raw: Any, ips: list[IPv4Address], eni: str, path: str) -> dict[IPv4Address, IPv4Address]:
    r, doc = ctx.r, ctx.doc
    eips = {}
    allowed = tuple(raw) if isinstance(raw, dict) else ()
    for key, value in r.mapping(raw, f"{path}.eips", allowed).items():
        kp = f"{path}.eips.{key}"
        priv = r.address(key, kp)
        if priv is None or not doc.passes(kp, elastic_ip.own_private_ip, eni, ips, priv):
            continue
        pub = public_address(ctx, value, kp)
        if pub is not None:
            eips[priv] = pub
    return eips


def _attachment(ctx: VpcContext, raw: Any, path: str, eni: NetworkInterface, subnet: Subnet,
                instances: dict[str, Instance], declared: dict[str, Any],
                device_indexes: dict[str, dict[int, str]]) -> Attachment | None:
    r, doc = ctx.r, ctx.doc
    if raw is None:
        return None
    d = r.mapping(raw, path, ("instance", "device_index"), required=("instance", "device_index"))
    inst = r.string(d.get("instance"), f"{path}.instance") if "instance" in d else None
    index = r.integer(d.get("device_index"), f"{path}.device_index", code="InvalidParameterValue") \
        if "device_index" in d else None
    if inst is None or index is None:
        return None
    if inst not in instances:
        elsewhere = doc.declared_in(inst)
        if elsewhere is not None and elsewhere[0] == "an instance" and elsewhere[1] != ctx.vpc.name:
            doc.passes(f"{path}.instance", rules.same_vpc, eni.name, ctx.vpc.name, inst, elsewhere[1])
        elif inst not in declared:   # an instance with its own error is not reported twice
            r.error(f"{path}.instance", f"no instance named {inst!r} in VPC {ctx.vpc.name}", "InvalidInstanceID.NotFound")
        return None
    if not doc.passes(f"{path}.device_index", rules.device_index, inst, index) \
            or not doc.passes(path, rules.attachable, eni, subnet, instances[inst]):
        return None
    used = device_indexes[inst]
    if doc.passes(f"{path}.device_index", rules.device_index_free, inst, index, used):
        used[index] = eni.name
    return Attachment(inst, index)


def _check_macs(ctx: VpcContext, enis: dict[str, NetworkInterface]) -> None:
    used: dict[str, str] = {}
    for eni in enis.values():
        where = (f"{ctx.path}.instances.{eni.attachment.instance}.mac"
                 if eni.attachment and eni.attachment.device_index == 0
                 else f"{ctx.path}.network_interfaces.{eni.name}.mac")
        ctx.doc.passes(where, rules.mac_free, eni.mac_address, used)
        used.setdefault(eni.mac_address, eni.name)


def check_instance_limits(ctx: VpcContext) -> None:
    attached: dict[str, list[NetworkInterface]] = {}
    for eni in ctx.vpc.network_interfaces.values():
        if eni.attachment:
            attached.setdefault(eni.attachment.instance, []).append(eni)
    for inst in ctx.vpc.instances.values():
        enis = attached.get(inst.name, [])
        ctx.doc.passes(f"{ctx.path}.instances.{inst.name}", instance.interface_count, inst, len(enis))
        for eni in enis:
            where = (f"{ctx.path}.instances.{inst.name}" if eni.attachment.device_index == 0
                     else f"{ctx.path}.network_interfaces.{eni.name}")
            ctx.doc.passes(where, instance.private_ip_count, inst, eni.name, len(eni.private_ip_addresses))
