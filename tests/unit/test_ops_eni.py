from __future__ import annotations

import pytest

from vpcemu import load_text
from vpcemu.errors import UsageError
from vpcemu.ops import network_interface as ops

TOPOLOGY = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    subnets:
      app: {cidr: 10.0.1.0/24, az: us-east-1a}
      mgmt: {cidr: 10.0.2.0/24, az: us-east-1a}
      far: {cidr: 10.0.3.0/24, az: us-east-1b}
    instances:
      active: {subnet: app, private_ip: 10.0.1.10, instance_type: t3.micro}
      standby: {subnet: app, private_ip: 10.0.1.11}
      other: {subnet: far, private_ip: 10.0.3.10}
    network_interfaces:
      vip: {subnet: mgmt, private_ips: [10.0.2.50], attachment: {instance: active, device_index: 1}}
      spare: {subnet: mgmt, private_ips: [10.0.2.51]}
"""


@pytest.fixture(scope="module")
def topo():
    return load_text(TOPOLOGY, name="u")


def refused(code, fn, *args):
    with pytest.raises(UsageError) as e:
        fn(*args)
    assert e.value.code == code


def test_move_keeps_mac_ips_and_groups(topo):
    before = topo.network_interface("vip")
    after = ops.moved(topo, "vip", "standby").network_interface("vip")
    assert after.attachment.instance == "standby" and after.attachment.device_index == 1
    assert (after.mac_address, after.private_ip_addresses, after.security_groups, after.eips) == \
        (before.mac_address, before.private_ip_addresses, before.security_groups, before.eips)
    assert topo.network_interface("vip").attachment.instance == "active"   # the input is untouched


def test_detach_attach_delete(topo):
    t = ops.detached(topo, "vip")
    assert t.network_interface("vip").attachment is None
    t = ops.attached(t, topo.network_interface("spare").id, "standby", 2)
    assert t.network_interface("spare").attachment.device_index == 2
    assert "vip" not in ops.deleted(ops.detached(topo, "vip"), "vip").network_interfaces


def test_refusals(topo):
    primary = topo.interfaces_of("active")[0].name
    refused("OperationNotPermitted", ops.detached, topo, primary)
    refused("InvalidParameterCombination", ops.attached, topo, "spare", "other", 1)
    refused("InvalidParameterValue", ops.attached, topo, "spare", "active", 1)
    refused("InvalidParameterValue", ops.attached, topo, "spare", "standby", 0)
    refused("AttachmentLimitExceeded", ops.attached, topo, "spare", "active", 2)
    refused("InvalidNetworkInterface.InUse", ops.deleted, topo, "vip")
    refused("InvalidNetworkInterfaceID.NotFound", ops.detached, topo, "nope")
    refused("InvalidParameterCombination", ops.moved, topo, "vip", "other")
