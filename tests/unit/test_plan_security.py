"""The router's security ruleset as text, and the live security edits as pure Topology changes (no root)."""
from __future__ import annotations

import re
from ipaddress import IPv4Network

import pytest

from vpcemu import load_text
from vpcemu.errors import UsageError
from vpcemu.model import NetworkAclEntry, SecurityGroupRule
from vpcemu.ops import security
from vpcemu.plan import names
from vpcemu.plan.build import subnet_marks
from vpcemu.plan.router_nft import router_ruleset
from vpcemu.plan.security_group import CT_UNTRACKED_AT_INITIATOR, CT_UNTRACKED_AT_RESPONDER

TOPOLOGY = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    internet_gateway: igw
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a, network_acl: strict}
      b: {cidr: 10.0.2.0/24, az: us-east-1a}
    security_groups:
      web:
        ingress:
          - {protocol: tcp, ports: 80, source: 0.0.0.0/0}
          - {protocol: tcp, ports: 22, source: sg:bastion}
          - {protocol: udp, ports: 1000-2000, source: pl:s3}
          - {protocol: icmp, icmp_type: 8, icmp_code: 0, source: 10.0.0.0/16}
          - {protocol: icmp, icmp_type: 3, source: 10.0.0.0/16}
          - {protocol: 47, source: 10.0.0.0/16}
      bastion:
        egress: []
      wide:
        ingress:
          - {protocol: all, source: 0.0.0.0/0}
          - {protocol: tcp, ports: 80, source: 0.0.0.0/0}
    network_acls:
      strict:
        ingress:
          - {rule: 110, protocol: tcp, ports: 1024-65535, source: 0.0.0.0/0, action: allow}
          - {rule: 90, protocol: icmp, source: 10.0.2.0/24, action: deny}
        egress:
          - {rule: 100, protocol: all, destination: 0.0.0.0/0, action: allow}
      closed: {}
    nat_gateways:
      nat: {subnet: b, eip: 198.51.100.20}
    instances:
      x: {subnet: a, private_ip: 10.0.1.10, security_groups: [web, bastion]}
      fw: {subnet: b, private_ip: 10.0.2.10, source_dest_check: false, forwarding: true, security_groups: [wide]}
      y: {subnet: b, private_ip: 10.0.2.11, secondary_private_ips: [10.0.2.12]}
aws:
  services: [s3]
"""


@pytest.fixture(scope="module")
def topo():
    return load_text(TOPOLOGY, name="u")


def ruleset(topology, trace_src=()) -> str:
    vpc = topology.vpcs["main"]
    return router_ruleset(vpc, subnet_marks(vpc), topology, trace_src)


def chain(text: str, name: str) -> list[str]:
    """The rule lines of one chain."""
    m = re.search(rf"^  chain {re.escape(name)} {{\n(.*?)^  }}", text, re.S | re.M)
    assert m, f"no chain {name}"
    return [line.strip() for line in m.group(1).splitlines() if line.strip()]


def link(topology, eni: str) -> str:
    return names.router_link(topology.network_interfaces[eni])


def test_one_table_replaced_atomically_with_filters_on_the_forward_hook_only(topo):
    text = ruleset(topo)
    assert text.startswith("table ip vpcemu\ndelete table ip vpcemu\ntable ip vpcemu {\n")
    hooks = re.findall(r"type filter hook (\w+) priority ([^;]+);", text)
    # input and output never appear: the gateway and the resolver are the router's own addresses
    assert hooks == [("prerouting", "mangle"),
                     ("forward", "filter - 30"), ("forward", "filter + 20"),     # source / destination check
                     ("forward", "filter - 20"), ("forward", "filter + 10"),     # SG egress / ingress
                     ("forward", "filter - 10"), ("forward", "filter")]          # NACL egress / ingress
    assert "map eni_subnet_mark" in text and "chain ttl_254 { ip ttl set 255; }" in text


def test_every_drop_names_its_explanation_code(topo):
    drops = [line.strip() for line in ruleset(topo).splitlines() if re.search(r"\bdrop\b", line)]
    assert drops and all(re.search(r'drop comment "code=(ENI_SG_RULES_MISMATCH|SUBNET_ACL_RESTRICTION|'
                                   r'ENI_SOURCE_DEST_CHECK_RESTRICTION) direction=(egress|ingress) ', d) for d in drops)
    assert all(len(re.search(r'comment "([^"]*)"', d).group(1)) <= 128 for d in drops)


def test_trace_set_and_prerouting_marks_only_traced_packets(topo):
    text = ruleset(topo, ["10.0.1.10", "10.0.9.0/24"])
    assert "set trace_src {\n    type ipv4_addr; flags interval;\n    elements = { 10.0.1.10, 10.0.9.0/24 };" in text
    assert chain(text, "prerouting")[1:3] == ["ip saddr @trace_src meta nftrace set 1",
                                              "ip daddr @trace_src meta nftrace set 1"]
    assert "nftrace" not in text.split("chain prerouting")[1].split("chain ttl")[0].replace(
        "ip saddr @trace_src meta nftrace set 1", "").replace("ip daddr @trace_src meta nftrace set 1", "")


def test_source_dest_check_keys_on_link_and_address_and_exempts_appliances_and_managed_enis(topo):
    text = ruleset(topo)
    x, y, fw = link(topo, "x.eth0"), link(topo, "y.eth0"), link(topo, "fw.eth0")
    nat = link(topo, topo.vpcs["main"].nat_gateways["nat"].network_interface)
    own = re.search(r"set eni_addresses \{\n    type ifname \. ipv4_addr;\n    elements = \{ (.*) \};", text).group(1)
    assert set(own.split(", ")) == {f'"{x}" . 10.0.1.10', f'"{y}" . 10.0.2.11', f'"{y}" . 10.0.2.12'}
    egress = chain(text, "source_dest_check_egress")[1]
    assert egress.startswith("iifname . ip saddr != @eni_addresses iifname vmap {")
    assert fw not in egress and nat not in egress and x in egress
    assert chain(text, "source_dest_check_ingress")[1].startswith("oifname . ip daddr != @eni_addresses oifname vmap")
    assert chain(text, f"source_dest_check_ingress_{y}") == [
        'counter drop comment "code=ENI_SOURCE_DEST_CHECK_RESTRICTION direction=ingress eni=y.eth0"']


def test_security_group_chains_union_the_groups_and_end_in_an_attributed_drop(topo):
    text = ruleset(topo)
    x = link(topo, "x.eth0")
    base = chain(text, "sg_ingress")
    assert base[1].startswith("ct state established,related ct direction original")
    assert f'"{x}" : jump sg_ingress_{x}' in base[-1] and base[-1].startswith("oifname vmap")
    assert chain(text, "sg_egress")[-1].startswith("iifname vmap")
    rules = chain(text, f"sg_ingress_{x}")
    assert [r.split(" comment")[0] for r in rules] == [
        "tcp dport 80 goto sg_ingress_untracked",    # 0.0.0.0/0 in, and web answers all to 0.0.0.0/0
        "tcp dport 22 ip saddr @sg_bastion accept",
        "udp dport 1000-2000 ip saddr @pl_s3 accept",
        "icmp type 8 icmp code 0 ip saddr 10.0.0.0/16 accept",
        "icmp type 3 ip saddr 10.0.0.0/16 accept",
        "meta l4proto 47 ip saddr 10.0.0.0/16 accept",
        "counter drop"]
    assert rules[-1].endswith('comment "code=ENI_SG_RULES_MISMATCH direction=ingress eni=x.eth0 sg=web,bastion"')
    assert rules[0].endswith('comment "sg=web ingress tcp/80 0.0.0.0/0"')
    # web allows all egress, bastion none: the union allows all
    assert [r.split(" comment")[0] for r in chain(text, f"sg_egress_{x}")] == ["accept", "counter drop"]


def test_group_and_prefix_list_peers_are_named_sets(topo):
    text = ruleset(topo)
    assert "set sg_bastion {\n    type ipv4_addr;\n    elements = { 10.0.1.10 };\n  }" in text
    assert "set pl_s3 {\n    type ipv4_addr;\n    flags interval;\n    elements = { " in text
    assert "set sg_web" not in text                        # nothing refers to it


def test_membership_change_only_changes_set_elements(topo):
    moved = security.with_interface_attribute(topo, "y", groups=["default", "bastion"])
    before, after = ruleset(topo), ruleset(moved)
    x = link(topo, "x.eth0")
    # x's rules name the set, not its members: they stay as they are
    assert chain(before, f"sg_ingress_{x}") == chain(after, f"sg_ingress_{x}")
    assert "set sg_bastion {\n    type ipv4_addr;\n    elements = { 10.0.1.10, 10.0.2.11, 10.0.2.12 };" in after


def test_untracked_flows_skip_state_and_mark_their_first_packet(topo):
    text = ruleset(topo)
    fw = link(topo, "fw.eth0")
    rules = chain(text, f"sg_ingress_{fw}")
    # 0.0.0.0/0 inbound, and fw's egress answers all ports to 0.0.0.0/0: untracked for TCP/UDP only
    assert [r.split(" comment")[0] for r in rules] == [
        "meta l4proto { tcp, udp } goto sg_ingress_untracked",
        "tcp dport 80 goto sg_ingress_untracked",
        "accept",                                           # everything else (ICMP …) stays tracked
        "counter drop"]
    assert chain(text, "sg_ingress_untracked") == [
        f"ct direction original ct mark set ct mark or {CT_UNTRACKED_AT_RESPONDER:#x}", "accept"]
    # the sender's egress: flows to the NAT gateway are always tracked
    nat = link(topo, topo.vpcs["main"].nat_gateways["nat"].network_interface)
    assert chain(text, "sg_egress_untracked") == [
        f'oifname {{ "{nat}" }} accept',
        f"ct direction original ct mark set ct mark or {CT_UNTRACKED_AT_INITIATOR:#x}", "accept"]
    base = chain(text, "sg_ingress")
    assert base[1:3] == [
        f"ct state established,related ct direction original ct mark and {CT_UNTRACKED_AT_RESPONDER:#x} == 0 accept",
        f"ct state established,related ct direction reply ct mark and {CT_UNTRACKED_AT_INITIATOR:#x} == 0 accept"]
    # without an all-ports egress to 0.0.0.0/0 the same ingress rule is tracked
    quiet = security.revoked(topo, "wide", [SecurityGroupRule("-1", cidr=IPv4Network("0.0.0.0/0"))], egress=True)
    assert [r.split(" comment")[0] for r in chain(ruleset(quiet), f"sg_ingress_{fw}")] == [
        "accept", "tcp dport 80 accept", "counter drop"]


def test_managed_enis_without_groups_are_not_filtered(topo):
    nat = link(topo, topo.vpcs["main"].nat_gateways["nat"].network_interface)
    text = ruleset(topo)
    assert f"sg_ingress_{nat}" not in text
    assert f'"{nat}" : jump nacl_ingress_b' in chain(text, "nacl_ingress")[-1]   # its subnet's NACL still applies


def test_network_acl_is_ordered_first_match_with_a_final_deny_and_skips_its_own_subnet(topo):
    text = ruleset(topo)
    assert chain(text, "nacl_ingress_a") == [
        "ip saddr 10.0.1.0/24 accept",
        'meta l4proto icmp ip saddr 10.0.2.0/24 counter drop comment '
        '"code=SUBNET_ACL_RESTRICTION direction=ingress acl=strict subnet=a rule=90"',
        'tcp dport 1024-65535 accept comment "acl=strict rule=110"',
        'counter drop comment "code=SUBNET_ACL_RESTRICTION direction=ingress acl=strict subnet=a rule=*"']
    assert chain(text, "nacl_egress_a")[0] == "ip daddr 10.0.1.0/24 accept"
    assert chain(text, "nacl_egress_b")[1] == 'accept comment "acl=default rule=100"'
    assert chain(text, "nacl_egress")[1].startswith("iifname vmap {")
    assert chain(text, "nacl_ingress")[1].startswith("oifname vmap {")


def test_long_names_keep_comments_within_nft_limits():
    t = load_text(TOPOLOGY.replace("bastion", "g" * 63), name="u")
    t = security.with_interface_attribute(t, "x", groups=["web", "g" * 63, "wide"])
    drop = next(line for line in ruleset(t).splitlines() if "SG_RULES_MISMATCH direction=ingress eni=x.eth0" in line)
    comment = re.search(r'comment "([^"]*)"', drop).group(1)
    assert len(comment) == 128 and comment.endswith("~")


# -- live edits: AWS's validation, nothing changed on refusal -------------------------------------
def tcp(port: int, cidr: str = "0.0.0.0/0", **kw) -> SecurityGroupRule:
    return SecurityGroupRule("tcp", port, port, cidr=IPv4Network(cidr), **kw)


def refused(code: str, edit, *args, **kwargs) -> None:
    with pytest.raises(UsageError) as err:
        edit(*args, **kwargs)
    assert err.value.code == code, str(err.value)


def test_authorize_and_revoke_rules(topo):
    t = security.authorized(topo, "bastion", [tcp(443, description="https")], egress=False)
    assert t.vpcs["main"].security_groups["bastion"].ingress == (tcp(443, description="https"),)
    assert topo.vpcs["main"].security_groups["bastion"].ingress == ()        # the old value is untouched
    refused("InvalidPermission.Duplicate", security.authorized, t, "bastion", [tcp(443)], egress=False)
    t = security.revoked(t, "bastion", [tcp(443)], egress=False)               # description does not count
    assert t.vpcs["main"].security_groups["bastion"].ingress == ()
    refused("InvalidPermission.NotFound", security.revoked, t, "bastion", [tcp(443)], egress=False)
    refused("InvalidGroup.NotFound", security.authorized, t, "nope", [tcp(1)], egress=False)
    refused("InvalidGroup.NotFound", security.authorized, t, "web", [SecurityGroupRule("-1", group="nope")],
            egress=True)
    refused("InvalidPrefixListId.NotFound", security.authorized, t, "web",
            [SecurityGroupRule("-1", prefix_list="nope")], egress=True)
    refused("InvalidParameterValue", security.authorized, t, "web",
            [SecurityGroupRule("tcp", 9, 2, cidr=IPv4Network("0.0.0.0/0"))], egress=False)
    refused("InvalidParameterValue", security.authorized, t, "web", [SecurityGroupRule("-1")], egress=False)
    # all or nothing: the second permission is a duplicate, so the first is not added either
    refused("InvalidPermission.Duplicate", security.authorized, t, "web", [tcp(8443), tcp(80)], egress=False)


def test_rules_are_compared_in_aws_normal_form(topo):
    t = security.authorized(topo, "bastion", [SecurityGroupRule("6", None, None, cidr=IPv4Network("10.0.0.0/8"))],
                            egress=False)
    assert t.vpcs["main"].security_groups["bastion"].ingress == (
        SecurityGroupRule("tcp", 0, 65535, cidr=IPv4Network("10.0.0.0/8")),)
    refused("InvalidPermission.Duplicate", security.authorized, t, "bastion",
            [SecurityGroupRule("tcp", 0, 65535, cidr=IPv4Network("10.0.0.0/8"))], egress=False)


def test_modify_interface_groups_and_source_dest_check(topo):
    t = security.with_interface_attribute(topo, "x", groups=["bastion"], source_dest_check=False)
    eni = t.network_interfaces["x.eth0"]
    assert (eni.security_groups, eni.source_dest_check) == (("bastion",), False)
    refused("InvalidGroup.NotFound", security.with_interface_attribute, topo, "x", groups=["nope"])
    many = TOPOLOGY.replace("    security_groups:\n", "    security_groups:\n" + "".join(
        f"      g{i}: {{}}\n" for i in range(5)), 1)
    refused("SecurityGroupsPerInterfaceLimitExceeded", security.with_interface_attribute,
            load_text(many, name="u"), "x", groups=[f"g{i}" for i in range(5)] + ["web"])
    nat = topo.vpcs["main"].nat_gateways["nat"].network_interface
    refused("OperationNotPermitted", security.with_interface_attribute, topo, nat, source_dest_check=True)
    refused("OperationNotPermitted", security.with_interface_attribute, topo, nat, groups=["web"])
    refused("InvalidNetworkInterfaceID.NotFound", security.with_interface_attribute, topo, "nobody", groups=["web"])


def test_network_acl_edits(topo):
    allow = NetworkAclEntry(120, "udp", "allow", False, IPv4Network("0.0.0.0/0"), 53, 53)
    t = security.with_network_acl_entry(topo, "strict", allow)
    assert [e.rule_number for e in t.vpcs["main"].network_acls["strict"].ordered(False)] == [90, 110, 120]
    refused("NetworkAclEntryAlreadyExists", security.with_network_acl_entry, t, "strict", allow)
    assert security.with_network_acl_entry(t, "strict", NetworkAclEntry(
        120, "-1", "deny", True, IPv4Network("0.0.0.0/0")))            # egress numbers are separate
    refused("InvalidParameterValue", security.with_network_acl_entry, t, "strict",
            NetworkAclEntry(32767, "-1", "deny", True, IPv4Network("0.0.0.0/0")))
    t = security.without_network_acl_entry(t, "strict", 120, egress=False)
    assert t.vpcs["main"].network_acls == topo.vpcs["main"].network_acls
    refused("InvalidNetworkAclEntry.NotFound", security.without_network_acl_entry, t, "strict", 120, egress=False)
    refused("InvalidNetworkAclID.NotFound", security.with_network_acl_entry, t, "nope", allow)
    t = security.with_network_acl_association(topo, "b", "closed")
    assert t.vpcs["main"].subnets["b"].network_acl == "closed"
    assert chain(ruleset(t), "nacl_ingress_b") == [
        "ip saddr 10.0.2.0/24 accept",
        'counter drop comment "code=SUBNET_ACL_RESTRICTION direction=ingress acl=closed subnet=b rule=*"']
    refused("InvalidNetworkAclID.NotFound", security.with_network_acl_association, topo, "b", "nope")
    refused("InvalidSubnetID.NotFound", security.with_network_acl_association, topo, "nope", "closed")


def test_ruleset_diff_touches_only_what_changed():
    from vpcemu.plan.router_nft import ruleset_diff
    old = "table ip vpcemu\ndelete table ip vpcemu\ntable ip vpcemu {\n  set s {\n    type ipv4_addr;\n" \
          "    elements = { 10.0.0.1 };\n  }\n  chain base {\n    type filter hook forward priority 0; policy accept;\n" \
          "    jump a\n  }\n  chain a {\n    accept\n  }\n  chain gone {\n    drop\n  }\n}\n"
    new = old.replace("10.0.0.1 }", "10.0.0.2 }").replace("    accept\n", "    ip saddr @s accept\n") \
        .replace("  chain gone {\n    drop\n  }\n", "  chain ttl_1 { ip ttl set 2; }\n")
    diff = ruleset_diff(old, new)
    assert diff.splitlines() == [
        "add chain ip vpcemu ttl_1", "flush set ip vpcemu s", "flush chain ip vpcemu a",
        "add element ip vpcemu s { 10.0.0.2 }", "table ip vpcemu {", "  chain a {", "    ip saddr @s accept", "  }",
        "  chain ttl_1 {", "    ip ttl set 2;", "  }", "}", "delete chain ip vpcemu gone"]
    assert ruleset_diff(old, old.replace("priority 0", "priority 10")) is None      # a hook change: reload
    # one rule more in a chain (an SG rule authorized): that rule alone, at its place by index
    two = old.replace("  chain a {\n    accept\n", "  chain a {\n    ip saddr 10.0.0.9 drop\n    accept\n")
    assert ruleset_diff(two, two.replace("drop\n    accept\n", "drop\n    tcp dport 22 accept\n    accept\n")) == \
        "add rule ip vpcemu a index 0 tcp dport 22 accept\n"
    assert ruleset_diff(two, two.replace("    ip saddr 10.0.0.9 drop\n", "    udp dport 53 accept\n"
                                                                         "    ip saddr 10.0.0.9 drop\n")) == \
        "insert rule ip vpcemu a index 0 udp dport 53 accept\n"
    assert ruleset_diff(two, two.replace("    accept\n  }\n  chain gone", "  }\n  chain gone")).splitlines()[0] == \
        "flush chain ip vpcemu a"                                                   # one fewer: refilled
