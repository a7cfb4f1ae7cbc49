"""AWS ids wherever a name is taken, and the lab's stored state as a format-1 document (pure: no root).

- every pure edit of vpcemu.ops gives the same model whether its arguments name things or give their AWS ids
  (instances, ENIs, subnets, route tables, security groups and `sg:` peers, network ACLs, gateways, NAT
  gateways, endpoints, peering connections, `pl:` prefix lists, VPCs), on the default topology, the
  format's example and an imported account; an id that names nothing gets AWS's NotFound code for its kind;
- each model those edits make is written as the format-1 document a lab stores and loads back to exactly
  that model (Lab.commit's document is the state; kernel/stored_model.py);
- the stored model's pickle is read only when it was made from that very document by this vpcemu;
- load/emit.py writes exactly what PyYAML's dumper writes.
"""
from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable
from dataclasses import dataclass, replace
from ipaddress import IPv4Network
from pathlib import Path

import pytest
import yaml

from vpcemu.analyze import Analyzer
from vpcemu.aws import convert, read_dump
from vpcemu.codes import ErrorCode
from vpcemu.errors import TopologyError, UsageError
from vpcemu.kernel import stored_model
from vpcemu.kernel.journal import MODEL_CACHE_FILE, MODEL_FILE
from vpcemu.load import emit, load_text, load_topology
from vpcemu.load.write import _Dumper, document, topology_text
from vpcemu.model import NetworkAclEntry, SecurityGroupRule, Topology, aws_id
from vpcemu.ops import elastic_ip, nat_gateway, route_table, security, vpc_endpoint
from vpcemu.ops import network_interface as eni
from vpcemu.probe.probe import Hop, ProbeResult
from vpcemu.verify import crossed

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Spec:
    """What the edits act on in one topology (all in VPC `vpc`)."""

    vpc: str
    groups: tuple[str, str, str]        # two groups, and one for interface endpoints
    subnets: tuple[str, str]            # a public subnet, and a private one in the AZ of `host`
    table: str                          # a private route table with a default route to `nats[0]`
    nats: tuple[str, ...]
    igw: str
    gateway: tuple[str, str]            # a gateway endpoint that may be made: service, route table
    endpoints: tuple[str, str, str]     # a gateway and an interface endpoint; an offered interface service
    instance: str                       # a public instance (the one with an auto-assigned public IP)
    host: str                           # an instance of the private subnet's AZ with room for an ENI
    router: str                         # an instance with one ENI, a route target
    acl: str | None = None              # a network ACL to give the public subnet
    peering: str | None = None


def imported() -> Topology:
    describe, origin, region = read_dump(ROOT / "tests" / "data" / "aws")
    return convert(describe, region, None, origin, "account")[2]


TOPOLOGIES = {
    "default": (lambda: load_topology(ROOT / "topologies" / "default.yaml"),
                Spec("main", ("web", "app", "vpce"), ("public-a", "private-a"), "private-a", ("nat-a", "nat-b"),
                     "igw", ("dynamodb", "private-a"), ("s3", "sqs", "sqs"), "web-2", "app-a", "app-b")),
    "format-example": (lambda: load_topology(ROOT / "tests" / "data" / "format-example.yaml"),
                       Spec("main", ("web", "db", "vpce"), ("public-a", "private-a"), "private-a", ("nat-a",),
                            "igw", ("dynamodb", "private-a"), ("s3", "sqs", "sqs"), "web-1", "app-b", "fw-1",
                            "strict", "main-to-shared")),
    "imported": (imported,
                 Spec("prod", ("web-sg", "app-sg", "vpce-sg"), ("public-a", "private-a"), "private-a",
                      ("nat-a", "nat-b"), "prod-igw", ("s3", "public"), ("s3", "sqs", "sqs"), "web-2", "app-1",
                      "app-2")),
}


def ids_of(t: Topology, spec: Spec) -> Callable[[str, str], str]:
    """g(kind, name) → the resource's AWS id (`sg@shared`: a group of the VPC peered with `spec.vpc`)."""
    v = t.vpcs[spec.vpc]
    sections = {"subnet": v.subnets, "rtb": v.route_tables, "sg": v.security_groups, "acl": v.network_acls,
                "nat": v.nat_gateways, "vpce": v.endpoints, "eni": v.network_interfaces, "i": v.instances,
                "pcx": t.peering, "pl": t.prefix_lists, "vpc": t.vpcs}

    def g(kind: str, name: str) -> str:
        if kind == "igw":
            return v.internet_gateway_id
        if kind == "sg@shared":
            return t.vpcs["shared"].security_groups[name].id
        if kind == "eni" and name not in v.network_interfaces:      # made by the edit: its id is derived
            return aws_id("eni", spec.vpc, name)
        return sections[kind][name].id
    return g


def names_of(kind: str, name: str) -> str:
    return f"shared/{name}" if kind == "sg@shared" else name


def eth0(t: Topology, instance: str) -> str:
    return t.instances[instance].primary_network_interface


def _edits(s: Spec) -> dict[str, Callable]:
    """name → edit(t, g): one pure edit of each kind, its arguments written as g(kind, name) gives them."""
    rule = SecurityGroupRule("tcp", 22, 22, group=s.groups[1])

    def extra(t: Topology) -> Topology:
        return eni.created(t, "extra", s.subnets[1], vpc=s.vpc)

    def free(t: Topology) -> str:
        used = {ip for e in t.network_interfaces.values() for ip in e.private_ip_addresses}
        return str(next(ip for ip in reversed(list(t.vpcs[s.vpc].subnets[s.subnets[1]].assignable()))
                        if ip not in used))

    edits: dict[str, Callable] = {
        "authorize sg: and pl: peers": lambda t, g: security.authorized(
            t, g("sg", s.groups[0]), [SecurityGroupRule("tcp", 22, 22, group=g("sg", s.groups[1])),
                                      SecurityGroupRule("tcp", 443, 443, prefix_list=g("pl", "s3"))],
            egress=False, vpc=g("vpc", s.vpc)),
        "revoke an sg: peer": lambda t, g: security.revoked(
            security.authorized(t, s.groups[0], [rule, replace(rule, from_port=23, to_port=23)], egress=True),
            g("sg", s.groups[0]), [replace(rule, group=g("sg", s.groups[1]))], egress=True),
        "instance attribute": lambda t, g: security.with_interface_attribute(
            t, g("i", s.instance), [g("sg", s.groups[0]), g("sg", s.groups[1])], False),
        "ENI attribute": lambda t, g: security.with_interface_attribute(
            t, g("eni", eth0(t, s.router)), [g("sg", s.groups[1]), g("sg", s.groups[0])]),
        "NACL entry": lambda t, g: security.with_network_acl_entry(
            t, g("acl", "default"), NetworkAclEntry(50, "tcp", "deny", False, IPv4Network("192.0.2.0/24"), 22, 22),
            g("vpc", s.vpc)),
        "NACL entry deleted": lambda t, g: security.without_network_acl_entry(t, g("acl", "default"), 100, True,
                                                                              g("vpc", s.vpc)),
        "route to a NAT gateway": lambda t, g: route_table.route_created(
            t, g("rtb", s.table), "198.18.0.0/16", g("nat", s.nats[-1])),
        "route to the IGW": lambda t, g: route_table.route_created(t, g("rtb", s.table), "203.0.113.0/24",
                                                                   g("igw", s.igw)),
        "route to an instance": lambda t, g: route_table.route_created(t, g("rtb", s.table), "198.19.0.0/16",
                                                                       g("i", s.router)),
        "route to an ENI": lambda t, g: route_table.route_created(t, g("rtb", s.table), "198.19.0.0/16",
                                                                  g("eni", eth0(t, s.router))),
        "route replaced": lambda t, g: route_table.route_replaced(t, g("rtb", s.table), "0.0.0.0/0",
                                                                  g("i", s.router)),
        "route deleted": lambda t, g: route_table.route_deleted(t, g("rtb", s.table), "0.0.0.0/0", g("vpc", s.vpc)),
        "NAT gateway deleted": lambda t, g: nat_gateway.nat_gateway_deleted(t, g("nat", s.nats[0])),
        "gateway endpoint": lambda t, g: vpc_endpoint.vpc_endpoint_created(
            t, "gw-ep", s.gateway[0], "Gateway", route_tables=[g("rtb", s.gateway[1])], vpc=g("vpc", s.vpc)),
        "interface endpoint": lambda t, g: vpc_endpoint.vpc_endpoint_created(
            t, "if-ep", s.endpoints[2], "Interface", subnets=[g("subnet", s.subnets[1])],
            security_groups=[g("sg", s.groups[2])], private_dns_enabled=False),
        "gateway endpoint deleted": lambda t, g: vpc_endpoint.vpc_endpoint_deleted(t, g("vpce", s.endpoints[0])),
        "interface endpoint deleted": lambda t, g: vpc_endpoint.vpc_endpoint_deleted(t, g("vpce", s.endpoints[1])),
        "EIP to an instance": lambda t, g: elastic_ip.associated(t, "198.51.100.90", g("i", s.instance)),
        "EIP to an ENI": lambda t, g: elastic_ip.associated(t, "198.51.100.91", g("eni", eth0(t, s.router))),
        "ENI created": lambda t, g: eni.created(t, "extra", g("subnet", s.subnets[1]),
                                                security_groups=[g("sg", s.groups[1])], vpc=g("vpc", s.vpc)),
        "ENI attached": lambda t, g: eni.attached(extra(t), g("eni", "extra"), g("i", s.host), 2),
        "ENI moved": lambda t, g: eni.moved(eni.attached(extra(t), "extra", s.host, 2), g("eni", "extra"),
                                            g("i", s.instance if s.instance != "web-2" else "web-1")),
        "ENI detached": lambda t, g: eni.detached(eni.attached(extra(t), "extra", s.host, 2), g("eni", "extra")),
        "ENI deleted": lambda t, g: eni.deleted(eni.created(extra(t), "other", s.subnets[1], vpc=s.vpc),
                                                g("eni", "extra")),
        "IP assigned": lambda t, g: eni.assigned(extra(t), g("eni", "extra"), [free(t)]),
        "IP unassigned": lambda t, g: eni.unassigned(eni.assigned(extra(t), "extra", [free(t)]), g("eni", "extra"),
                                                     [free(t)]),
    }
    if s.acl:
        edits["NACL association"] = lambda t, g: security.with_network_acl_association(
            t, g("subnet", s.subnets[0]), g("acl", s.acl), g("vpc", s.vpc))
    if s.peering:
        edits["route to a peering connection"] = lambda t, g: route_table.route_created(
            t, g("rtb", s.table), "172.16.0.0/16", g("pcx", s.peering))
        edits["authorize a peered VPC's group"] = lambda t, g: security.authorized(
            t, g("sg", s.groups[0]), [SecurityGroupRule("tcp", 22, 22, group=g("sg@shared", "default"))], egress=False)
    return edits


CASES = [(name, edit) for name, (_, s) in TOPOLOGIES.items() for edit in _edits(s)]


@pytest.fixture(scope="module")
def models() -> dict[str, Topology]:
    return {name: load() for name, (load, _) in TOPOLOGIES.items()}


@pytest.mark.parametrize("topology,edit", CASES, ids=[f"{n}: {e}" for n, e in CASES])
def test_every_pure_edit_is_the_same_by_name_and_by_id_and_its_model_is_stored_exactly(models, topology, edit):
    t, spec = models[topology], TOPOLOGIES[topology][1]
    fn = _edits(spec)[edit]
    edited = fn(t, names_of)
    assert edited != t
    assert fn(t, ids_of(t, spec)) == edited
    assert load_text(topology_text(edited), committed=True) == edited


@pytest.mark.parametrize("topology", list(TOPOLOGIES))
def test_a_chain_of_live_edits_is_stored_exactly(models, topology):
    """Routes made after an endpoint, a NAT gateway deleted under its routes, NACL entries of both directions
    added, an EIP over an auto-assigned public IP: every state a lab reaches loads back from its document."""
    t, s = models[topology], TOPOLOGIES[topology][1]
    t = vpc_endpoint.vpc_endpoint_created(t, "gw-ep", s.gateway[0], "Gateway", route_tables=[s.gateway[1]])
    t = route_table.route_created(t, s.gateway[1], "198.19.0.0/16", s.router)
    t = nat_gateway.nat_gateway_deleted(t, s.nats[0])
    t = security.with_network_acl_entry(t, "default", NetworkAclEntry(60, "udp", "deny", True,
                                                                        IPv4Network("192.0.2.0/24"), 53, 53), s.vpc)
    t = security.with_network_acl_entry(t, "default", NetworkAclEntry(70, "udp", "deny", False,
                                                                        IPv4Network("192.0.2.0/24"), 53, 53), s.vpc)
    t = elastic_ip.associated(t, "198.51.100.92", s.instance)
    assert t.network_interface(eth0(t, s.instance)).public_ip_address is not None
    text = topology_text(t)
    assert "state: blackhole" in text and "{endpoint: gw-ep}" in text
    assert load_text(text, committed=True) == t
    route = next(r for r in t.vpcs[s.vpc].route_tables[s.table].routes if r.target == s.nats[0])
    assert (route.state, route.network_interface) == ("blackhole", None)


def test_a_files_expectations_name_only_what_it_has_a_labs_may_name_what_was_deleted(models):
    t = nat_gateway.nat_gateway_deleted(models["default"], "nat-a")
    with pytest.raises(TopologyError) as refused:
        load_text(topology_text(t))
    assert {p.path for p in refused.value.problems} == {"expect[3].via[0]", "expect[4].not_via[0]"}
    assert load_text(topology_text(t), committed=True).expect == t.expect


@pytest.mark.parametrize("route,path", [
    ("{destination: 10.9.0.0/16, target: nat-b, state: blackhole}", "routes[2].state"),    # nat-b exists
    ("{destination: 10.9.0.0/16, target: nat-x, state: deleted}", "routes[2].state"),
    ("{endpoint: nosuch}", "routes[2].endpoint"),
    ("{endpoint: s3}", "routes[3].endpoint"),                                          # placed twice
])
def test_what_only_a_lab_writes_is_checked_too(route, path):
    text = (ROOT / "topologies" / "default.yaml").read_text().replace(
        "          - {destination: 192.168.0.0/16, target: blackhole}\n      private-b:",
        "          - {destination: 192.168.0.0/16, target: blackhole}\n          - {endpoint: s3}\n"
        f"          - {route}\n      private-b:") if route == "{endpoint: s3}" else \
        (ROOT / "topologies" / "default.yaml").read_text().replace(
        "          - {destination: 192.168.0.0/16, target: blackhole}\n      private-b:",
        f"          - {{destination: 192.168.0.0/16, target: blackhole}}\n          - {route}\n      private-b:")
    with pytest.raises(TopologyError) as refused:
        load_text(text, committed=True)
    assert f"vpcs.main.route_tables.private-a.{path}" in [p.path for p in refused.value.problems]


def test_ids_that_name_nothing_get_aws_not_found_codes(models):
    t = models["format-example"]
    gone = {k: f"{k}-0123456789abcdef0" for k in ("vpc", "subnet", "rtb", "sg", "acl", "eni", "i", "igw", "nat",
                                                  "vpce", "pcx", "pl")}
    cases = [
        (ErrorCode.INVALID_ROUTE_TABLE_ID_NOT_FOUND, route_table.route_created, t, gone["rtb"], "10.9.0.0/16", "igw"),
        (ErrorCode.INVALID_NAT_GATEWAY_ID_NOT_FOUND, route_table.route_created, t, "private-a", "10.9.0.0/16",
         gone["nat"]),
        (ErrorCode.INVALID_INTERNET_GATEWAY_ID_NOT_FOUND, route_table.route_created, t, "public", "10.9.0.0/16",
         gone["igw"]),
        (ErrorCode.INVALID_INSTANCE_ID_NOT_FOUND, route_table.route_created, t, "public", "10.9.0.0/16", gone["i"]),
        (ErrorCode.INVALID_NETWORK_INTERFACE_ID_NOT_FOUND, route_table.route_created, t, "public", "10.9.0.0/16",
         gone["eni"]),
        (ErrorCode.INVALID_VPC_PEERING_CONNECTION_ID_NOT_FOUND, route_table.route_created, t, "public",
         "10.9.0.0/16", gone["pcx"]),
        (ErrorCode.INVALID_VPC_ENDPOINT_ID_NOT_FOUND, route_table.route_created, t, "public", "10.9.0.0/16",
         gone["vpce"]),
        (ErrorCode.INVALID_SUBNET_ID_NOT_FOUND, eni.created, t, "x", gone["subnet"]),
        (ErrorCode.INVALID_GROUP_NOT_FOUND, eni.created, t, "x", "private-a", None, [gone["sg"]]),
        (ErrorCode.INVALID_GROUP_NOT_FOUND, security.authorized, t, gone["sg"], [], False),
        (ErrorCode.INVALID_GROUP_NOT_FOUND, security.authorized, t, "web",
         [SecurityGroupRule("tcp", 1, 1, group=gone["sg"])], False),
        (ErrorCode.INVALID_PREFIX_LIST_ID_NOT_FOUND, security.authorized, t, "web",
         [SecurityGroupRule("tcp", 1, 1, prefix_list=gone["pl"])], False),
        (ErrorCode.INVALID_NETWORK_ACL_ID_NOT_FOUND, security.with_network_acl_association, t, "public-a", gone["acl"]),
        (ErrorCode.INVALID_NETWORK_ACL_ID_NOT_FOUND, security.without_network_acl_entry, t, gone["acl"], 100, False),
        (ErrorCode.INVALID_NETWORK_INTERFACE_ID_NOT_FOUND, eni.detached, t, gone["eni"]),
        (ErrorCode.INVALID_INSTANCE_ID_NOT_FOUND, eni.moved, t, "svc", gone["i"]),
        (ErrorCode.NAT_GATEWAY_NOT_FOUND, nat_gateway.nat_gateway_deleted, t, gone["nat"]),     # DeleteNatGateway's
        (ErrorCode.INVALID_VPC_ENDPOINT_ID_NOT_FOUND, vpc_endpoint.vpc_endpoint_deleted, t, gone["vpce"]),
        (ErrorCode.INVALID_VPC_ID_NOT_FOUND, route_table.route_deleted, t, "public", "0.0.0.0/0", gone["vpc"]),
    ]
    for code, fn, *args in cases:
        with pytest.raises(UsageError) as refused:
            fn(*args)
        assert refused.value.code == code, (fn.__name__, args[1:])
    # an id of another VPC's resource is not this VPC's
    with pytest.raises(UsageError) as refused:
        route_table.route_created(t, "public", "10.9.0.0/16", t.instances["tools"].id)
    assert refused.value.code == ErrorCode.INVALID_ROUTE_NOT_FOUND and "of VPC shared" in refused.value.message


def test_flows_and_via_take_ids_and_report_names(models):
    t = models["default"]
    a = Analyzer(t)
    by_name = a.flow("web-1", "app-a", "tcp", 8080)
    by_id = a.flow(t.instances["web-1"].id, t.network_interface("app-a.eth0").id, "tcp", 8080)
    assert by_id.reachable and (by_id.source, by_id.destination) == ("web-1", "app-a.eth0")
    assert by_id.forward[-1] == by_name.forward[-1]


def test_the_id_index_is_made_once_and_a_name_means_what_it_names():
    t = load_text("""
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    subnets:
      a: {id: subnet-0000000000000000a, cidr: 10.0.1.0/24, az: us-east-1a}
      subnet-0000000000000000a: {id: subnet-0000000000000000b, cidr: 10.0.2.0/24, az: us-east-1a}
    instances:
      x: {id: i-0000000000000000a, subnet: a}
""", name="shadow")
    assert t.ids is t.ids
    assert t.named("i-0000000000000000a", "i").name == "x" and t.named("i-0000000000000000a", "eni") is None
    # `subnet-…a` is the name of one subnet and the id of another: the name wins
    assert t.name_of("subnet-0000000000000000a", "subnet") == "subnet-0000000000000000a"
    assert t.name_of("subnet-0000000000000000b", "subnet") == "subnet-0000000000000000a"
    assert "ids" not in pickle.loads(pickle.dumps(t)).__dict__          # the index is not stored


def test_verify_reads_via_and_not_via_by_id_too(models):
    t = models["default"]
    hop = Hop("ns", "eth1", "nat-gateway nat-a", "in", "forward", "10.0.1.10", "198.18.0.50", 63, 0.1)
    result = ProbeResult("app-a", "ext", "icmp", None, "10.0.1.10", "198.18.0.50", True, "echo-reply", 0.2, [hop])
    assert crossed(t, result, t.vpcs["main"].nat_gateways["nat-a"].id) and crossed(t, result, "nat-a")
    assert not crossed(t, result, t.vpcs["main"].nat_gateways["nat-b"].id)


# -- the stored model ------------------------------------------------------------------------------------------
def test_the_stored_document_is_the_model_and_its_pickle_is_used_only_for_that_document(models, tmp_path):
    t = models["default"]
    stored_model.write_model(tmp_path, t)
    assert (tmp_path / MODEL_FILE).read_text() == topology_text(t)
    assert stored_model.read_model(tmp_path) == t
    # a cache with the right header is what is read: made from another model, it shows
    other = nat_gateway.nat_gateway_deleted(t, "nat-a")
    payload = pickle.dumps(other)
    digest = hashlib.sha256((tmp_path / MODEL_FILE).read_bytes()).hexdigest()
    (tmp_path / MODEL_CACHE_FILE).write_bytes(stored_model._header(stored_model._version(), digest)
                                              + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    assert stored_model.read_model(tmp_path) == other
    # stale (the document changed), torn, of another vpcemu, or missing: the document is loaded
    for damage in ("stale", "torn", "version", "missing"):
        stored_model.write_model(tmp_path, t)
        cache = (tmp_path / MODEL_CACHE_FILE).read_bytes()
        if damage == "stale":
            (tmp_path / MODEL_FILE).write_text(topology_text(other))
        elif damage == "torn":
            (tmp_path / MODEL_CACHE_FILE).write_bytes(cache[:-100])
        elif damage == "version":
            (tmp_path / MODEL_CACHE_FILE).write_bytes(cache.replace(stored_model._version().encode(), b"0" * 64))
        else:
            (tmp_path / MODEL_CACHE_FILE).unlink()
        expected = other if damage == "stale" else t
        assert stored_model.read_model(tmp_path) == expected, damage
        # the reader made the cache anew, for this document
        assert stored_model._cached(tmp_path / MODEL_CACHE_FILE, hashlib.sha256(
            (tmp_path / MODEL_FILE).read_bytes()).hexdigest()) == expected


def test_a_model_that_cannot_be_written_leaves_the_stored_one_whole(models, tmp_path):
    t = models["default"]
    stored_model.write_model(tmp_path, t)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(yaml.YAMLError):
        stored_model.write_model(tmp_path, replace(t, name=object()))
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_emit_writes_what_pyyaml_writes(models):
    docs = [document(m) for m in models.values()]
    docs += [document(load_topology(p)) for p in sorted((ROOT / "topologies").glob("*.yaml"))]
    odd = ["a b", "it's", "x: y", "a #b", "é", "-1", "1:20", "true", "null", "~", "", "2001-01-01", "0x1F", "1e3",
           "[x]", "{y}", "a,b", "@x", "%x", "`x", "*x", "&x", "!x", "|x", ">x", "'q'", '"q"', "?x", ":x", "-x",
           "- x", "x-", "x.", "a/b", "3.14", ".5", "+1", "Yes", "ON", "off", "NO", "y", "n", "=", "<<", "a:b:c",
           "0e:11:22:33:44:01", "sg:web", "t3.micro", "10.0.0.0/16", " lead", "trail ", "a\tb"]
    docs.append({"format": 1, "vpcs": {"m": {"x": [{"description": s, "n": i, "on": i % 2 == 0} for i, s in
                                                enumerate(odd)], "y": {s: 1 for s in odd if s}}}})
    for doc in docs:
        try:
            mine = emit.document_text(doc)
        except emit.Unsupported:
            continue
        assert mine == yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100_000)
    for unsupported in ({"format": 1, "vpcs": {"m": {"": 1}}}, {"format": 1, "vpcs": {"m": {"x": 1.5}}},
                        {"format": 1, "vpcs": {"m": {"x": "two\nlines"}}}):
        with pytest.raises(emit.Unsupported):
            emit.document_text(unsupported)
