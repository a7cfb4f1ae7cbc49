"""Repair: a lab damaged straight through the kernel (with `ip` and `nft`, not vpcemu) is named
difference by difference, put right by `repair`, and then real packets agree with the analysis again."""
from __future__ import annotations

import json
import os
import subprocess

import pytest
from typer.testing import CliRunner

from kernel_clients import GGRO, SGRO, ethtool
from vpcemu import Lab, load_text
from vpcemu.cli import app as cli
from vpcemu.errors import KernelError
from vpcemu.kernel import apply
from vpcemu.kernel.interface import move_link, remove_addresses, remove_rules
from vpcemu.kernel.netns import netns_inode, open_iproute
from vpcemu.plan import names
from vpcemu.plan.build import route_table_ids
from vpcemu.plan.names import ownership_mark
from vpcemu.plan.state import Plan

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.geteuid() != 0, reason="kernel tests need root")]

TOPOLOGY = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    internet_gateway: igw
    subnets:
      pub: {cidr: 10.0.1.0/24, az: us-east-1a, route_table: public}
      app: {cidr: 10.0.2.0/24, az: us-east-1a}
    route_tables:
      public:
        routes:
          - {destination: 0.0.0.0/0, target: igw}
    security_groups:
      web: {ingress: [{protocol: tcp, ports: 80, source: 0.0.0.0/0}, {protocol: icmp, source: 10.0.0.0/16}]}
      app: {ingress: [{protocol: icmp, source: 10.0.0.0/16}]}
    instances:
      web: {subnet: pub, private_ip: 10.0.1.10, eip: 198.51.100.10, security_groups: [web]}
      app: {subnet: app, private_ip: 10.0.2.10, security_groups: [app]}
      spare: {subnet: app, private_ip: 10.0.2.11, security_groups: [app]}
    network_interfaces:
      vip:
        subnet: app
        private_ips: [10.0.2.100]
        security_groups: [app]
        attachment: {instance: app, device_index: 1}
internet:
  hosts:
    ext: {ip: 198.18.0.50, listen: [tcp/80]}
"""
EXT = "198.18.0.50"


def ip(ns: str, *argv: str) -> None:
    subprocess.run(["ip", "-n", ns, *argv], check=True, capture_output=True, text=True)


def nft(ns: str, command: str) -> None:
    subprocess.run(["ip", "netns", "exec", ns, "nft", command], check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def lab():
    lab = Lab.up(load_text(TOPOLOGY, name="k-repair"))
    try:
        yield lab
    finally:
        lab.down()


@pytest.fixture(autouse=True)
def agreeing(lab):
    """Every test starts and ends on a lab whose kernel holds its model."""
    assert lab.differences() == []
    yield
    lab.repair()
    assert lab.differences() == []


def primary(lab: Lab, instance: str):
    return lab.topology.vpcs["main"].network_interfaces[lab.topology.instances[instance].primary_network_interface]


def probes_agree(lab: Lab) -> None:
    """Real packets, each checked against the analysis by the kernel suite's autouse fixture."""
    assert lab.probe("web", "app").reachable
    assert lab.probe("web", "10.0.2.100").reachable
    assert lab.probe("app", "web").reachable
    assert lab.probe("web", EXT, protocol="tcp", port=80).reachable
    assert lab.probe("ext", "198.51.100.10", protocol="tcp", port=80).reachable
    assert not lab.probe("app", "spare", protocol="tcp", port=22).reachable


def test_a_lab_just_built_agrees_and_repair_finds_nothing(lab):
    assert lab.repair() == []
    probes_agree(lab)


def test_the_cli_checks_the_kernel_against_the_model_and_repairs_it(lab):
    runner = CliRunner()
    web = names.instance_ns(lab.name, "web")
    assert runner.invoke(cli, ["status", lab.name, "--check"]).exit_code == 0
    ip(web, "address", "add", "10.0.1.99/24", "dev", "eth0")
    checked = runner.invoke(cli, ["status", lab.name, "--check"])
    assert checked.exit_code == 1
    assert f"{web}: address 10.0.1.99/24 on eth0 is not planned" in checked.stdout
    checked = runner.invoke(cli, ["status", "--check", "--json"])              # every lab
    assert checked.exit_code == 1
    assert {"lab": lab.name, "differences": [f"{web}: address 10.0.1.99/24 on eth0 is not planned"]} \
        in json.loads(checked.stdout)
    repaired = runner.invoke(cli, ["repair", lab.name, "--json"])
    assert repaired.exit_code == 0
    assert json.loads(repaired.stdout) == {"lab": lab.name, "fixed": [f"{web}: address 10.0.1.99/24 on eth0 is not planned"]}
    again = runner.invoke(cli, ["repair", lab.name])
    assert again.exit_code == 0 and "needed nothing" in again.stdout
    assert runner.invoke(cli, ["status", lab.name, "--check"]).exit_code == 0


def test_each_kind_of_damage_is_named_then_repaired_and_packets_agree_again(lab):
    rtr, web, app = (names.router_ns(lab.name, "main"), names.instance_ns(lab.name, "web"),
                     names.instance_ns(lab.name, "app"))
    igw, park = names.internet_gateway_ns(lab.name, "main"), names.parking_ns(lab.name)
    vip = lab.topology.network_interface("vip")
    spare_eni = primary(lab, "spare")
    spare_link = names.router_link(spare_eni)
    ip(rtr, "route", "del", "10.0.2.10/32", "table", "100")                 # app's /32 in the ENI table
    public = str(route_table_ids(lab.topology.vpcs["main"])["public"])
    ip(rtr, "route", "del", "0.0.0.0/0", "table", public)                   # public → igw
    ip(rtr, "route", "add", "10.9.0.0/16", "dev", "igw", "table", "100")    # a stray route
    ip(web, "address", "add", "10.0.1.99/24", "dev", "eth0")                # a stray address
    ip(app, "link", "set", "eth1", "down")
    ip(app, "link", "set", "eth1", "netns", park)                          # the ENI's end parked
    ip(rtr, "rule", "del", "pref", "2001")                                  # app subnet → its route table
    ip(rtr, "rule", "add", "pref", "500", "lookup", "main")                 # a stray rule
    app_link = names.router_link(primary(lab, "app"))
    ip(rtr, "neighbour", "replace", "10.0.2.200", "lladdr", "02:00:00:00:00:01", "dev", app_link,
       "nud", "permanent")
    ip(rtr, "link", "set", spare_link, "down")
    nft(rtr, "flush chain ip vpcemu prerouting")
    nft(igw, "flush ruleset")
    subprocess.run(["ip", "netns", "exec", rtr, "sysctl", "-qw", "net.ipv4.ip_forward=0"], check=True)
    ip(web, "link", "set", "eth0", "mtu", "1500")                           # jumbo frames lost
    ip(igw, "link", "set", "inet", "mtu", "9001")                           # the internet side jumbo

    found = lab.differences()
    assert sorted(found) == sorted([
        f"{web}: link eth0 ({primary(lab, 'web').id}) has MTU 1500, planned 9001",
        f"{igw}: link inet (igw igw) has MTU 9001, planned 1500",
        f"link {park}/eth1 ({vip.mac_address}, {vip.id}) belongs in {app} as eth1",
        f"{web}: address 10.0.1.99/24 on eth0 is not planned",
        f"{rtr}: link {spare_link} is down",
        f"{rtr}: sysctl net/ipv4/ip_forward is 0, planned 1",
        f"{rtr}: route unicast 10.9.0.0/16 dev igw table 100 is not planned",
        f"{rtr}: route unicast 10.0.2.10/32 dev {app_link} table 100 is missing",
        # the link going down took its /32 and its permanent neighbour with it
        f"{rtr}: route unicast 10.0.2.11/32 dev {spare_link} table 100 is missing",
        f"{rtr}: permanent neighbour 10.0.2.11 lladdr {spare_eni.mac_address} "
        f"on {spare_link} is missing",
        f"{rtr}: route unicast 0.0.0.0/0 via 169.254.255.2 dev igw table {public} is missing",
        f"{rtr}: rule pref 500 lookup 254 is not planned",
        f"{rtr}: rule pref 2001 fwmark 0x101/0xffff lookup 1001 is missing",
        f"{rtr}: permanent neighbour 10.0.2.200 lladdr 02:00:00:00:00:01 on {app_link} is not planned",
        f"{rtr}: nft table vpcemu: chain prerouting differs",
        f"{igw}: nft table vpcemu is missing",
    ])

    fixed = lab.repair()
    # each difference fixed, and what the moved link lost on its way (addresses, routes…) put back
    assert set(found) <= set(fixed)
    assert f"{app}: address 10.0.2.100/24 on eth1 is missing" in fixed
    assert lab.differences() == []
    probes_agree(lab)


def test_gro_turned_off_on_an_eni_link_is_named_and_turned_on_again(lab):
    rtr = names.router_ns(lab.name, "main")
    link = names.router_link(primary(lab, "app"))
    assert ethtool(rtr, link, GGRO) == 1
    ethtool(rtr, link, SGRO, 0)
    assert ethtool(rtr, link, GGRO) == 0
    assert lab.differences() == [f"{rtr}: GRO is off for {link}"]
    assert lab.repair() == [f"{rtr}: GRO is off for {link}"]
    assert ethtool(rtr, link, GGRO) == 1
    probes_agree(lab)


def test_namespaces_and_veths_gone_or_left_over_are_put_right(lab):
    spare, rtr = names.instance_ns(lab.name, "spare"), names.router_ns(lab.name, "main")
    web_link = names.router_link(primary(lab, "web"))
    ghost = f"{lab.name}-vpce-ghost"          # as a killed endpoint creation leaves one: journalled, marked
    apply.create_namespaces(Plan(lab.name, (ghost,)), lab.journal,
                            ownership_mark(lab.name, lab.journal.state()["uuid"]))
    subprocess.run(["ip", "netns", "delete", spare], check=True)             # its veth goes with it
    ip(rtr, "link", "del", web_link)                                          # web's ENI veth, both ends

    found = lab.differences()
    assert f"namespace {spare} is missing" in found
    assert f"namespace {ghost} is no longer planned" in found
    spare_eni, web_eni = primary(lab, "spare"), primary(lab, "web")
    assert (f"veth {rtr}/{names.router_link(spare_eni)} ⇄ {spare}/eth0 ({spare_eni.id}) is missing") in found
    assert f"veth {rtr}/{web_link} ⇄ {names.instance_ns(lab.name, 'web')}/eth0 ({web_eni.id}) is missing" in found

    assert set(found) <= set(lab.repair())
    assert lab.differences() == []
    assert netns_inode(ghost) is None and netns_inode(spare) is not None
    probes_agree(lab)
    assert lab.probe("web", "spare").reachable


def test_a_move_cut_short_a_changed_mac_and_a_file_gone_are_put_right(lab):
    app, park, web = (names.instance_ns(lab.name, "app"), names.parking_ns(lab.name),
                      names.instance_ns(lab.name, "web"))
    vip = lab.topology.network_interface("vip")
    # the ENI move's steps, cut after the link left for the parking namespace under its transit name
    ip(app, "link", "set", "eth1", "down")
    ip(app, "link", "set", "eth1", "name", names.parked_link(vip))
    ip(app, "link", "set", names.parked_link(vip), "netns", park)
    ip(web, "link", "set", "eth0", "address", "02:00:00:00:00:99")
    resolv = next(path for path in lab.planned().files)
    os.unlink(resolv)

    found = lab.differences()
    assert f"link {park}/{names.parked_link(vip)} ({vip.mac_address}, {vip.id}) belongs in {app} as eth1" in found
    assert f"link {web}/eth0 ({primary(lab, 'web').id}) has MAC 02:00:00:00:00:99, planned " \
           f"{primary(lab, 'web').mac_address}" in found
    assert f"file {resolv} is missing" in found

    assert set(found) <= set(lab.repair())
    assert lab.differences() == []
    probes_agree(lab)


def test_a_set_element_gone_is_named_and_a_reload_keeps_the_running_probes_traced_addresses(lab):
    rtr = names.router_ns(lab.name, "main")
    nft(rtr, "add element ip vpcemu trace_src { 10.0.2.10 }")                # as a running probe does
    app_link = names.router_link(primary(lab, "app"))
    nft(rtr, f'delete element ip vpcemu eni_addresses {{ "{app_link}" . 10.0.2.10 }}')
    nft(rtr, "flush chain ip vpcemu sg_ingress")

    found = lab.differences()
    assert found == [f"{rtr}: nft table vpcemu: chain sg_ingress differs, set eni_addresses differs"]
    assert lab.repair() == found
    assert lab.differences() == []
    listing = subprocess.run(["ip", "netns", "exec", rtr, "nft", "list", "set", "ip", "vpcemu", "trace_src"],
                             capture_output=True, text=True, check=True).stdout
    assert "10.0.2.10" in listing
    nft(rtr, "delete element ip vpcemu trace_src { 10.0.2.10 }")
    probes_agree(lab)


def test_a_namespace_another_owner_marked_is_reported_and_left_alone(lab):
    spare = names.instance_ns(lab.name, "spare")
    ip(spare, "link", "set", "lo", "alias", "vpcemu:someone-else:0")
    ip(spare, "address", "add", "10.0.2.77/24", "dev", "eth0")
    try:
        found = lab.differences()
        assert found == [f"namespace {spare} carries another owner's mark (vpcemu:someone-else:0); left alone"]
        with pytest.raises(KernelError, match="still differs after repair"):
            lab.repair()
        with open_iproute(spare) as ipr:
            assert "10.0.2.77" in [a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(family=2)]
    finally:
        ip(spare, "link", "set", "lo", "alias", ownership_mark(lab.name, lab.journal.state()["uuid"]))


# -- each kernel step of a live change, run again after it was cut short, is no error ------------------
def test_kernel_steps_run_again_change_nothing_and_fail_nothing(lab):
    plan = lab.planned()
    apply.apply_config(plan)                              # addresses, routes, rules, neighbours: all there
    apply.apply_links(plan)                               # every veth there already
    apply.create_namespaces(plan, lab.journal, ownership_mark(lab.name, lab.journal.state()["uuid"]))
    app = names.instance_ns(lab.name, "app")
    share = [r for r in plan.rules if r.namespace == app]
    addresses = [a for a in plan.addresses if a.namespace == app and a.ifname == "eth1"]
    assert share and addresses
    assert lab.differences() == []
    remove_rules(app, share)
    remove_rules(app, share)                              # gone already
    remove_addresses(app, addresses)
    remove_addresses(app, addresses)
    apply.apply_config(plan)        # the addresses and rules back (and the routes that went with them)
    assert lab.differences() == []


@pytest.mark.parametrize("cut", ["renamed", "moved", "done"])
def test_a_link_move_run_again_finishes_from_where_it_was_cut(lab, cut):
    app, park = names.instance_ns(lab.name, "app"), names.parking_ns(lab.name)
    vip = lab.topology.network_interface("vip")
    transit = names.parked_link(vip)
    ip(app, "link", "set", "eth1", "down")
    ip(app, "link", "set", "eth1", "name", transit)
    if cut != "renamed":
        ip(app, "link", "set", transit, "netns", park)
    if cut == "done":
        ip(park, "link", "set", transit, "name", "eth9")
    move_link(app, "eth1", park, "eth9", transit, mac=vip.mac_address)
    with open_iproute(park) as ipr:
        (link,) = ipr.get_links(*ipr.link_lookup(ifname="eth9"))
        assert link.get_attr("IFLA_ADDRESS") == vip.mac_address
    # and back where the model has it
    move_link(park, "eth9", app, "eth1", transit, mac=vip.mac_address)
    apply.apply_config(lab.planned())
    assert lab.differences() == []
    probes_agree(lab)

