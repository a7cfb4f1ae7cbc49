"""Secondary IP reassignment as failover automation does it, with real packets: the old owner's OS dropped the
address before the call; the new owner's OS holds it already (keepalived adds the VIP, then calls the API). Both
succeed as on AWS and the network moves. And the invisible router keeps every TTL, 255 included."""
from __future__ import annotations

import os
from socket import inet_aton

import pytest

from vpcemu.kernel.capture import Capture
from vpcemu.lab import Lab
from vpcemu.load import load_text
from vpcemu.ops import network_interface as eni_ops
from vpcemu.plan import names

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.geteuid() != 0, reason="kernel tests need root")]

TOPOLOGY = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    subnets:
      app: {cidr: 10.0.1.0/24, az: us-east-1a}
      clients: {cidr: 10.0.2.0/24, az: us-east-1a}
    security_groups:
      open: {ingress: [{protocol: all, source: 0.0.0.0/0}]}
    instances:
      one: {subnet: app, private_ip: 10.0.1.10, secondary_private_ips: [10.0.1.100], security_groups: [open]}
      two: {subnet: app, private_ip: 10.0.1.11, security_groups: [open]}
      three: {subnet: app, private_ip: 10.0.1.12, security_groups: [open]}
      client: {subnet: clients, private_ip: 10.0.2.10, security_groups: [open]}
"""
VIP = "10.0.1.100"


@pytest.fixture(scope="module")
def lab():
    with Lab.up(load_text(TOPOLOGY, name="ra"), name=f"ra{os.getpid() % 100000}") as lab:
        yield lab


def answered_by(lab: Lab, instance: str, address: str = VIP) -> bool:
    """Whether the client's ping of `address` is answered, by `instance` (its echo reply seen leaving eth0)."""
    with Capture(names.instance_ns(lab.name, instance)) as capture:
        ok = lab.exec("client", ["ping", "-c1", "-W1", address]).returncode == 0
    replies = [f for f in capture.frames() if f.direction == "out" and f.ifname == "eth0"
               and f.data[12:14] == b"\x08\x00" and f.data[26:30] == inet_aton(address) and f.data[34] == 0]
    return ok and bool(replies)


def holds(lab: Lab, instance: str, address: str = VIP) -> bool:
    return f" {address}/" in lab.exec(instance, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]).stdout


def test_reassigning_an_address_its_old_owner_already_dropped(lab):
    assert answered_by(lab, "one")
    assert lab.exec("one", ["ip", "addr", "del", f"{VIP}/24", "dev", "eth0"]).returncode == 0   # its OS let go
    assert not answered_by(lab, "one")
    eni_ops.assign_private_ip_addresses(lab, "two.eth0", [VIP], allow_reassignment=True)
    assert answered_by(lab, "two") and holds(lab, "two") and not holds(lab, "one")
    t = lab.topology
    assert VIP not in map(str, t.network_interface("one.eth0").private_ip_addresses)
    assert VIP in map(str, t.network_interface("two.eth0").private_ip_addresses)


def test_reassigning_to_an_instance_whose_os_holds_the_address_already(lab):
    assert answered_by(lab, "two")
    # keepalived on the new master adds the VIP (as /32), then calls the API
    assert lab.exec("three", ["ip", "addr", "add", f"{VIP}/32", "dev", "eth0"]).returncode == 0
    eni_ops.assign_private_ip_addresses(lab, "three.eth0", [VIP], allow_reassignment=True)
    assert answered_by(lab, "three") and not holds(lab, "two")
    assert VIP in map(str, lab.topology.network_interface("three.eth0").private_ip_addresses)


@pytest.mark.parametrize("ttl", [1, 64, 254, 255])
def test_the_router_keeps_every_ttl(lab, ttl):
    with Capture(names.instance_ns(lab.name, "two")) as capture:
        assert lab.exec("client", ["ping", "-c1", "-W1", "-t", str(ttl), "10.0.1.11"]).returncode == 0
    requests = [f.data[22] for f in capture.frames() if f.direction == "in" and f.data[12:14] == b"\x08\x00"
                and f.data[26:30] == inet_aton("10.0.2.10") and f.data[34] == 8]
    assert requests == [ttl]
