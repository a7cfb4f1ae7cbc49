"""The core lab with real packets: subnets, route tables, middlebox routes, blackholes, lifecycle."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kernel_namespaces import Namespaces
from vpcemu import Lab, load_text
from vpcemu.errors import KernelError, UsageError
from vpcemu.kernel import apply, netns
from vpcemu.kernel.journal import Journal
from vpcemu.lifecycle import clean_crashed
from vpcemu.plan import names

ROUTING = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a, route_table: via-fw}
      b: {cidr: 10.0.2.0/24, az: us-east-1a}
      c: {cidr: 10.0.3.0/24, az: us-east-1b, route_table: dark}
      f: {cidr: 10.0.9.0/28, az: us-east-1a}
    route_tables:
      via-fw:
        routes:
          - {destination: 10.0.3.0/24, target: fw}
      dark:
        routes:
          - {destination: 192.168.0.0/16, target: blackhole}
    instances:
      a1: {subnet: a, private_ip: 10.0.1.10}
      a2: {subnet: a, private_ip: 10.0.1.11}
      b1: {subnet: b, private_ip: 10.0.2.10}
      c1: {subnet: c, private_ip: 10.0.3.10}
      fw: {subnet: f, private_ip: 10.0.9.4, source_dest_check: false, forwarding: true}
"""


@pytest.fixture(scope="module")
def lab():
    lab = Lab.up(load_text(ROUTING, name="k-routing"))
    try:
        yield lab
    finally:
        lab.down()


def router_hops(result):
    return [(h.component, h.direction) for h in result.hops if h.leg == "forward" and "-vpc-" in h.namespace]


def test_same_subnet_traffic_crosses_the_router_without_ttl_decrement(lab):
    r = lab.probe("a1", "a2")
    assert r.reachable and r.answer == "echo-reply"
    assert router_hops(r) == [("eni a1.eth0", "in"), ("eni a2.eth0", "out")]
    assert r.header_at_destination["ttl"] == 64          # the VPC router is invisible
    # proxy ARP: the neighbour in the same subnet resolves to the router's MAC, as at AWS's hypervisor
    neigh = lab.exec("a1", ["ip", "neigh", "show", "10.0.1.11"]).stdout
    eni = lab.topology.network_interfaces["a1.eth0"]
    from vpcemu.plan.build import router_mac
    assert router_mac(eni) in neigh


def test_cross_subnet_and_gateway(lab):
    assert lab.probe("a1", "b1").reachable
    assert lab.probe("b1", "10.0.2.1").reachable          # the subnet's +1 answers
    tcp = lab.probe("b1", "a1", protocol="tcp", port=22)
    assert tcp.reachable and tcp.answer == "rst"          # delivered; nothing listens
    udp = lab.probe("b1", "a1", protocol="udp", port=53)
    assert udp.reachable and udp.answer == "port-unreachable"


def test_route_tables_differ_per_subnet_and_middlebox_route_steers_through_the_appliance(lab):
    via_fw = lab.probe("a1", "c1")                         # subnet a's table: 10.0.3.0/24 → fw
    assert via_fw.reachable
    assert ("eni fw.eth0", "out") in router_hops(via_fw)
    assert [h.ttl for h in via_fw.hops if h.namespace.endswith("-i-c1") and h.leg == "forward"] == [63]
    direct = lab.probe("b1", "c1")                         # subnet b uses the main table: local
    assert direct.reachable
    assert ("eni fw.eth0", "out") not in router_hops(direct)


def test_blackhole_route_drops(lab):
    r = lab.probe("c1", "192.168.1.1")
    assert not r.reachable
    assert router_hops(r) == [("eni c1.eth0", "in")]


def test_unknown_vpc_address_is_dropped_never_leaked(lab):
    r = lab.probe("b1", "10.0.2.99")
    assert not r.reachable
    assert [h for h in r.hops if h.direction == "out"] == []
    r = lab.probe("a1", "10.0.77.7")
    assert not r.reachable and [h for h in r.hops if h.direction == "out"] == []


def test_tcp_probe_sees_syn_ack_from_a_listener(lab):
    server = subprocess.Popen(lab.exec_argv("b1", [sys.executable, "-c", (
        "import socket,sys\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
        "s.bind(('0.0.0.0',8080));s.listen();print('ready',flush=True);s.accept()")]),
        stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        r = lab.probe("a1", "b1", protocol="tcp", port=8080)
        assert r.reachable and r.answer == "syn-ack"
    finally:
        server.kill()
        server.wait()


def test_exec_sees_the_eni(lab):
    out = lab.exec("a1", ["ip", "-o", "-4", "addr", "show", "dev", "eth0"]).stdout
    assert "10.0.1.10/24" in out
    link = lab.exec("a1", ["ip", "-o", "link", "show", "dev", "eth0"]).stdout
    assert lab.topology.network_interfaces["a1.eth0"].mac_address in link


DEFAULT = os.path.join(os.path.dirname(__file__), "..", "..", "topologies", "default.yaml")


def test_two_labs_with_the_same_cidrs_run_side_by_side():
    with Lab.up(DEFAULT, name="k-side-a") as a, Lab.up(DEFAULT, name="k-side-b") as b:
        assert a.probe("web-1", "app-a").reachable
        assert b.probe("web-1", "app-a").reachable
        assert names.router_ns("k-side-a", "main") != names.router_ns("k-side-b", "main")


def test_down_leaves_nothing_and_kills_what_ran_inside():
    lab = Lab.up(DEFAULT, name="k-down")
    namespaces = [e["name"] for e in lab.journal.entries("netns")]
    sleeper = subprocess.Popen(lab.exec_argv("app-a", [sys.executable, "-c",
                                                        "import time; print('ready', flush=True); time.sleep(600)"]),
                               stdout=subprocess.PIPE, text=True)
    assert sleeper.stdout.readline().strip() == "ready"      # it runs inside the namespace now
    lab.down()
    assert sleeper.wait(timeout=5) == -9
    assert apply.namespaces_present(namespaces) == []
    assert not lab.journal.dir.exists()
    assert not os.path.exists(f"/etc/netns/{names.instance_ns('k-down', 'app-a')}")


def test_a_failed_build_leaves_nothing(monkeypatch):
    topo = load_text(ROUTING, name="k-fail")

    def broken(ns, text):
        raise KernelError("nft", ns, None, None, "injected failure")
    monkeypatch.setattr(apply, "nft_run", broken)
    with pytest.raises(KernelError, match="injected failure"):
        Lab.up(topo)
    assert not Journal("k-fail").dir.exists()
    assert apply.namespaces_present([names.router_ns("k-fail", "main"), names.instance_ns("k-fail", "a1"),
                                     names.parking_ns("k-fail")]) == []


def test_a_second_lab_with_the_same_name_is_refused_and_changes_nothing():
    with Lab.up(DEFAULT, name="k-twice") as lab:
        with pytest.raises(UsageError, match="already up"):
            Lab.up(DEFAULT, name="k-twice")
        assert lab.probe("web-1", "web-2").reachable


def test_clean_removes_a_crashed_lab_and_orphans_but_nothing_else():
    lab = Lab.up(DEFAULT, name="k-crash")
    namespaces = [e["name"] for e in lab.journal.entries("netns")]
    dead = subprocess.Popen(["true"])
    dead.wait()
    lab.journal.write_state(status="building", pid=dead.pid)     # as if the builder died mid-way
    orphan, stranger = "k-orphan-ns", "k-stranger-ns"
    gone = Namespaces("k-gone", "0" * 32)       # a lab whose state directory is gone: it has no state file
    gone.create(orphan)
    subprocess.run(["ip", "netns", "add", stranger], check=True)      # no mark: not ours
    try:
        report = clean_crashed()
        assert "k-crash" in report["removed_labs"]
        assert orphan in report["orphan_namespaces"]
        assert apply.namespaces_present(namespaces + [orphan]) == []
        assert netns.netns_inode(stranger) is not None
    finally:
        netns.delete_netns(stranger)
        gone.remove()


def test_python_api_as_documented():
    with Lab.up(os.path.join(os.path.dirname(DEFAULT), "three-tier.yaml"), name="k-api") as lab:
        out = lab.exec("web-1", ["ip", "-4", "addr"])
        assert "10.10.0.4/24" in out.stdout
        result = lab.probe("web-1", "db-1", protocol="tcp", port=5432)
        assert result.reachable
        assert any(h.component == "eni fw-1.eth0" for h in result.hops)
        # a secondary ENI answers from its own interface (ec2-net-utils style source routing)
        assert lab.probe("web-1", "10.10.10.50").reachable
        assert not lab.probe("web-1", "app-vip").reachable     # detached: parked, down
