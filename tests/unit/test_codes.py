"""ExplanationCode is exactly the set of Reachability Analyzer codes vpcemu reports.

Every code the planner writes into a drop rule, the analysis gives a blocked flow, and the data path
reads back from a kernel trace is a member; every member is reported by something (so an `expect:
reason:` that validates can also hold); and no module spells a code as a string of its own.
"""
from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

from vpcemu.analyze import Analyzer
from vpcemu.codes import ExplanationCode
from vpcemu.errors import TopologyError, UsageError
from vpcemu.load import load_text, load_topology
from vpcemu.model import Topology
from vpcemu.plan import plan_lab
from vpcemu.plan.nft import drop, drop_explanation

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted([*(ROOT / "topologies").glob("*.yaml"), *(ROOT / "tests" / "data").glob("*.yaml")])
CODE_IN_COMMENT = re.compile(r'comment "code=([^ "~]+)')

# Flows through forwarding instances whose route tables send each other the packet: NO_PATH.
ROUTING_LOOP = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    subnets:
      web: {cidr: 10.0.0.0/24, az: us-east-1a, route_table: to-fw}
      db:  {cidr: 10.0.1.0/24, az: us-east-1a}
      fw:  {cidr: 10.0.2.0/24, az: us-east-1a, route_table: to-fw2}
      fw2: {cidr: 10.0.3.0/24, az: us-east-1a, route_table: to-fw}
    route_tables:
      main: {main: true}
      to-fw: {routes: [{destination: 10.0.1.0/24, target: fw}]}
      to-fw2: {routes: [{destination: 10.0.1.0/24, target: fw2}]}
    security_groups:
      open: {ingress: [{protocol: all, source: 10.0.0.0/16}]}
    instances:
      web: {subnet: web, private_ip: 10.0.0.10, security_groups: [open]}
      db:  {subnet: db, private_ip: 10.0.1.10, security_groups: [open]}
      fw:  {subnet: fw, private_ip: 10.0.2.10, source_dest_check: false, forwarding: true, security_groups: [open]}
      fw2: {subnet: fw2, private_ip: 10.0.3.10, source_dest_check: false, forwarding: true, security_groups: [open]}
"""
# Ingress routing to an appliance without a public IP: INGRESS_RTB_NO_PUBLIC_IP.
NO_PUBLIC_IP = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    internet_gateway: igw
    subnets:
      web: {cidr: 10.0.0.0/24, az: us-east-1a}
      fw:  {cidr: 10.0.1.0/24, az: us-east-1a}
    route_tables:
      main: {main: true}
      ingress: {edge_associations: [igw], routes: [{destination: 10.0.0.0/24, target: fw}]}
    instances:
      web: {subnet: web, public_ip: true}
      fw:  {subnet: fw, source_dest_check: false, forwarding: true}
internet:
  hosts:
    ext: {ip: 198.18.0.50}
"""
PORTS = (("icmp", None), ("tcp", 22), ("tcp", 443), ("udp", 53))
# addresses no topology owns: private (RFC1918; 192.168.1.1 meets blackhole routes), shared (RFC6598), public
STRANGERS = ("10.9.9.9", "192.168.1.1", "100.64.0.1", "8.8.8.8")


@cache
def topologies() -> tuple[Topology, ...]:
    return (*(load_topology(p) for p in SHIPPED), load_text(ROUTING_LOOP, name="loop"),
            load_text(NO_PUBLIC_IP, name="nopub"))


def planned_codes() -> set[str]:
    """The code of every drop rule in every planned ruleset, as the text the kernel holds."""
    return {code for t in topologies() for text in plan_lab(t).nft.values()
            for code in CODE_IN_COMMENT.findall(text)}


@cache
def analysed_codes() -> tuple[object, ...]:
    """The code of every explanation of many flows between every end of each topology and beyond."""
    out = []
    for t in topologies():
        analyzer = Analyzer(t)
        ends = [*t.instances, *t.network_interfaces, *t.internet_hosts]
        public = [str(p) for e in t.network_interfaces.values() for p in e.public_addresses.values()]
        for source in ends:
            for destination in (*ends, *t.services, *public, *STRANGERS):
                for protocol, port in PORTS:
                    if source == destination:
                        continue
                    try:
                        analysis = analyzer.flow(source, destination, protocol, port)
                    except UsageError:
                        continue        # e.g. an ENI of a NAT gateway cannot be a source
                    out += [e["code"] for e in analysis.explanations]
    return tuple(out)


def test_every_planned_drop_rule_names_an_explanation_code():
    codes = planned_codes()
    assert codes, "the shipped topologies plan drop rules"
    assert codes <= set(ExplanationCode), codes - set(ExplanationCode)


def test_every_analysed_explanation_code_is_a_member():
    codes = analysed_codes()
    assert codes
    assert all(isinstance(c, ExplanationCode) for c in codes), {c for c in codes if not isinstance(c, ExplanationCode)}


def test_the_enum_is_exactly_what_something_reports():
    reported = planned_codes() | set(analysed_codes())
    assert set(ExplanationCode) - reported == set(), "members nothing reports: prune them or report them"


def test_a_drop_comment_reads_back_as_its_explanation():
    rule = drop(ExplanationCode.SUBNET_ACL_RESTRICTION, direction="egress", acl="strict", subnet="a", rule="*")
    assert rule == 'counter drop comment "code=SUBNET_ACL_RESTRICTION direction=egress acl=strict subnet=a rule=*"'
    text = rule.split('"')[1]
    explanation = drop_explanation(text)
    assert explanation == {"code": "SUBNET_ACL_RESTRICTION", "direction": "egress", "acl": "strict", "subnet": "a",
                           "rule": "*"}
    assert explanation["code"] is ExplanationCode.SUBNET_ACL_RESTRICTION
    assert drop_explanation("acl=strict rule=100") is None          # an accept rule's comment
    with pytest.raises(ValueError, match="'SG_BLOCKED' is not a valid ExplanationCode"):
        drop_explanation("code=SG_BLOCKED eni=x")
    with pytest.raises(ValueError, match="'SG_BLOCKED' is not a valid ExplanationCode"):
        drop("SG_BLOCKED", eni="x")


# The leading words of AWS's explanation code families (aws-vpc-reference §11), for spotting a code
# spelled as a string that is not (or not yet) a member.
CODE_FAMILIES = ("BAD_STATE", "CANNOT_", "ELB_", "ELBV2_", "ENI_", "FIREWALL_", "GATEWAY_", "GWLB_", "HIGHER_",
                 "IGW_", "INGRESS_RTB_", "MORE_SPECIFIC_", "NGW_", "NO_", "PCX_", "PROTOCOL_", "REGIONAL_NGW_",
                 "REMAP_", "SG_", "SUBNET_", "TARGET_", "TGW_", "UNKNOWN_", "VGW_", "VPC_", "VPCE_")
DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
ALL_CAPS = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")


def _code_like_literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, DOCUMENTED) and ast.get_docstring(node, clean=False) is not None:
            skip.add(id(node.body[0].value))                  # docstrings explain codes in prose
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            skip.update(id(n) for n in ast.walk(node.value))  # names, not codes
    return [(node.lineno, word) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
            for word in ALL_CAPS.findall(node.value)
            if word in set(ExplanationCode) or word.startswith(CODE_FAMILIES)]


CODES_MODULE = ROOT / "vpcemu" / "codes.py"


def _spelled(paths: list[Path]) -> list[str]:
    return [f"{path.relative_to(ROOT)}:{line}: {word}" for path in paths for line, word in _code_like_literals(path)]


def test_no_module_spells_an_explanation_code_as_a_string():
    found = _spelled([p for p in sorted((ROOT / "vpcemu").rglob("*.py")) if p != CODES_MODULE])
    assert found == [], "use ExplanationCode members:\n" + "\n".join(found)


def test_the_scan_sees_codes_in_strings_and_f_strings(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('"""Docstrings may name NO_PATH."""\n__all__ = ["NO_SUCH_NAME"]\n'
                      'a = "NO_PATH"\nb = f"code=SG_NEW_CODE {a}"\nc = "VPCEMU_STATE_DIR"\n')
    assert _code_like_literals(sample) == [(3, "NO_PATH"), (4, "SG_NEW_CODE")]


EXPECT_DROP = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    subnets:
      a: {{cidr: 10.0.0.0/24, az: us-east-1a}}
    instances:
      web: {{subnet: a}}
expect:
  - {{from: web, to: 10.0.0.99, protocol: tcp, port: 80, reachable: false, reason: {reason}}}
"""


@pytest.mark.parametrize("code", list(ExplanationCode))
def test_expect_reason_accepts_every_member(code: ExplanationCode):
    assert load_text(EXPECT_DROP.format(reason=code)).expect[0].reason == code


# Codes AWS has that nothing in vpcemu reports: an expectation naming one could never hold.
NEVER_REPORTED = ("CANNOT_ROUTE", "ENI_ADDRESS_RESTRICTION", "GATEWAY_REJECTS_SPOOFED_TRAFFIC",
                  "HIGHER_PRIORITY_ROUTE", "MORE_SPECIFIC_ROUTE", "PROTOCOL_RESTRICTION", "SG_REFERENCES_NOT_PRESERVED")


def test_codes_nothing_reports_are_not_members():
    assert set(NEVER_REPORTED) & set(ExplanationCode) == set()


@pytest.mark.parametrize("code", NEVER_REPORTED)
def test_expect_reason_refuses_a_code_nothing_reports(code: str):
    with pytest.raises(TopologyError, match=f"'{code}' is not a Reachability Analyzer explanation code"):
        load_text(EXPECT_DROP.format(reason=code))
