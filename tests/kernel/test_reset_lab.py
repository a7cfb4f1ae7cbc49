"""Lab.reset on a real lab: every kind of live change undone at once (SG rule, NACL entry, an ENI created and
attached, an EIP taken off, a route added, a NAT gateway and an interface endpoint deleted, a VPC attribute
changed), the kernel back to the built model with nothing left to repair, real probes and DNS answering as
before the changes, and a tracked flow of the previous test forgotten in the routers' conntrack."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from ipaddress import IPv4Network
from pathlib import Path

import pytest
from pyroute2 import Conntrack
from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple

from kernel_clients import resolve
from vpcemu.kernel.journal import CHANGING_FILE
from vpcemu.kernel.netns import run_in_netns
from vpcemu.lab import Lab
from vpcemu.model import NetworkAclEntry, SecurityGroupRule
from vpcemu.ops import elastic_ip, nat_gateway, route_table, security, vpc, vpc_endpoint
from vpcemu.ops import network_interface as eni_ops
from vpcemu.plan import names
from vpcemu.verify import verify

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.geteuid() != 0, reason="kernel tests need root")]

DEFAULT = Path(__file__).resolve().parents[2] / "topologies" / "default.yaml"
SQS = "sqs.us-east-1.amazonaws.com"
HOLD = """
import socket, sys
c = socket.create_connection(("198.18.0.50", 7), timeout=5)
print(c.getsockname()[1], flush=True)
sys.stdin.read()
"""


@pytest.fixture(scope="module")
def lab():
    lab = Lab.up(DEFAULT, name="reset")
    try:
        yield lab
        lab.require_services()
    finally:
        lab.down()


def _flows_from(lab: Lab, port: int) -> int:
    """Conntrack entries in the VPC's router of flows to ext from source port `port`."""
    def count() -> int:
        with Conntrack() as ct:
            return sum(1 for e in ct.dump_entries(tuple_orig=NFCTAttrTuple(daddr="198.18.0.50"))
                       if e.tuple_orig.sport == port)
    return run_in_netns(names.router_ns(lab.name, "main"), count)


def test_reset_undoes_every_kind_of_live_change_and_forgets_the_flows(lab):
    built = lab.topology
    sqs_ips = resolve(lab, "app-a", SQS)
    assert not lab.probe("app-a", "web-1", protocol="tcp", port=22).reachable
    # a flow the "previous test" left open: app-a → ext through nat-a, tracked in the router
    hold = subprocess.Popen(lab.exec_argv("app-a", [sys.executable, "-c", HOLD]), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        port = int(hold.stdout.readline())
        assert _flows_from(lab, port) > 0          # one per conntrack zone it crossed

        security.authorize_security_group_ingress(lab, "web", SecurityGroupRule("tcp", 22, 22, cidr=IPv4Network("10.0.0.0/16")))
        security.create_network_acl_entry(lab, "default", NetworkAclEntry(50, "icmp", "deny", False,
                                                                          IPv4Network("10.0.3.0/24"), -1, -1))
        eni_ops.create_network_interface(lab, "extra", "private-a", ["10.0.1.200"], ["app"])
        eni_ops.attach_network_interface(lab, "extra", "app-a", 1)
        elastic_ip.disassociate_address(lab, "198.51.100.10")
        route_table.create_route(lab, "private-a", "172.16.0.0/12", "nat-a")
        nat_gateway.delete_nat_gateway(lab, "nat-b")
        vpc_endpoint.delete_vpc_endpoint(lab, "sqs")
        vpc.modify_vpc_attribute(lab, "main", enable_dns_hostnames=False)
        assert lab.probe("app-a", "web-1", protocol="tcp", port=22).reachable
        assert resolve(lab, "app-a", SQS) != sqs_ips            # the public name now: no endpoint
        assert "10.0.1.200" in lab.exec("app-a", ["ip", "-4", "-o", "addr"]).stdout

        started = time.perf_counter()
        fixed = lab.reset()
        took = time.perf_counter() - started
        print(f"reset after 9 changes: {took * 1000:.1f} ms, {len(fixed)} kernel steps")
        assert fixed and lab.topology == built and Lab.attach(lab.name).topology == built
        assert _flows_from(lab, port) == 0
    finally:
        hold.kill()
        hold.wait()
    assert lab.differences() == []
    assert "10.0.1.200" not in lab.exec("app-a", ["ip", "-4", "-o", "addr"]).stdout
    assert not lab.probe("app-a", "web-1", protocol="tcp", port=22).reachable
    assert resolve(lab, "app-a", SQS) == sqs_ips
    verdicts = verify(lab)
    assert all(v.holds for v in verdicts), [v for v in verdicts if not v.holds]


def test_a_reset_with_nothing_to_undo_changes_nothing(lab):
    lab.reset()
    model = (lab.journal.dir / "model.yaml").stat()
    started = time.perf_counter()
    assert lab.reset() == []
    print(f"reset with nothing to undo: {(time.perf_counter() - started) * 1000:.1f} ms")
    assert (lab.journal.dir / "model.yaml").stat().st_ino == model.st_ino      # no commit
    assert lab.differences() == []


def test_a_reset_of_an_interrupted_lab_repairs_it_first(lab):
    """A change cut short between its kernel steps (its marker left behind) may have left the kernel anywhere:
    the reset reads the kernel back and reconciles it before it applies its plan diff, so the lab ends as built."""
    security.authorize_security_group_ingress(lab, "web", SecurityGroupRule("tcp", 22, 22, cidr=IPv4Network("10.0.0.0/16")))
    router = names.router_ns(lab.name, "main")
    route = next(r for r in lab.planned().routes if r.namespace == router and r.type == "unicast" and r.gateway)
    subprocess.run(["ip", "-n", router, "route", "del", route.destination, "table", str(route.table)], check=True)
    (lab.journal.dir / CHANGING_FILE).touch()          # as a change killed right after that step leaves it
    lab.reset()
    assert not (lab.journal.dir / CHANGING_FILE).exists()
    assert lab.differences() == []
    assert not lab.probe("app-a", "web-1", protocol="tcp", port=22).reachable

