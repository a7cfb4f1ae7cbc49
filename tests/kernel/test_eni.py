"""Hot ENI operations on real kernel objects: attach, detach, move, with real packets to the ENI's IP.

The client pings the ENI's private IP from another subnet; a reply can only arrive if it leaves by the
ENI's own interface (per-interface source routing), since the router's source/destination check drops
anything else: so every reachable ping here also proves the reply took the right interface.
"""
from __future__ import annotations

import os
from socket import inet_aton

import pytest

from vpcemu.errors import UsageError
from vpcemu.kernel.capture import Capture
from vpcemu.kernel.netns import open_iproute
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
      far: {cidr: 10.0.3.0/24, az: us-east-1b}
    security_groups:
      open: {ingress: [{protocol: all, source: 0.0.0.0/0}]}
    instances:
      active: {subnet: app, private_ip: 10.0.1.10, security_groups: [open]}
      standby: {subnet: app, private_ip: 10.0.1.11, security_groups: [open]}
      other-az: {subnet: far, private_ip: 10.0.3.10, security_groups: [open]}
      client: {subnet: clients, private_ip: 10.0.2.10, security_groups: [open]}
    network_interfaces:
      vip:
        subnet: app
        private_ips: [10.0.1.100, 10.0.1.101]
        security_groups: [open]
        attachment: {instance: active, device_index: 1}
"""
VIP = "10.0.1.100"


def ping(lab: Lab, source: str, address: str) -> bool:
    return lab.exec(source, ["ping", "-c1", "-W1", address]).returncode == 0


def links(ns: str) -> dict[str, tuple[str, bool, list[str]]]:
    """ifname → (MAC, up, IPv4 addresses) in namespace `ns`."""
    with open_iproute(ns) as ipr:
        out = {}
        for link in ipr.get_links():
            name = link.get_attr("IFLA_IFNAME")
            if name == "lo":
                continue
            addrs = [a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=link["index"], family=2)]
            out[name] = (link.get_attr("IFLA_ADDRESS"), bool(link["flags"] & 1), sorted(addrs))
        return out


def test_move_detach_attach_keep_the_eni_and_its_ips_reachable():
    with Lab.up(load_text(TOPOLOGY, name="k-eni")) as lab:
        eni = lab.topology.network_interface("vip")
        active, standby, park = (names.instance_ns(lab.name, "active"), names.instance_ns(lab.name, "standby"),
                                 names.parking_ns(lab.name))
        assert links(active)["eth1"] == (eni.mac_address, True, ["10.0.1.100", "10.0.1.101"])
        assert ping(lab, "client", VIP) and ping(lab, "client", "10.0.1.101")

        eni_ops.move_network_interface(lab, "vip", "standby")
        assert "eth1" not in links(active)
        assert links(standby)["eth1"] == (eni.mac_address, True, ["10.0.1.100", "10.0.1.101"])
        assert ping(lab, "client", VIP) and ping(lab, "client", "10.0.1.101")
        assert ping(lab, "client", "10.0.1.10")          # the old owner keeps its own address

        eni_ops.detach_network_interface(lab, eni.id)
        assert not ping(lab, "client", VIP)
        assert "eth1" not in links(standby)
        assert links(park)[names.parked_link(eni)] == (eni.mac_address, False, ["10.0.1.100", "10.0.1.101"])

        eni_ops.attach_network_interface(lab, "vip", "active", 2)
        assert links(active)["eth2"] == (eni.mac_address, True, ["10.0.1.100", "10.0.1.101"])
        assert ping(lab, "client", VIP)
        assert Lab.attach(lab.name).topology.network_interface("vip").attachment.device_index == 2


def test_refusals_change_nothing():
    with Lab.up(load_text(TOPOLOGY, name="k-eni-no")) as lab:
        before = lab.topology
        state = {ns: links(ns) for ns in (names.instance_ns(lab.name, i) for i in lab.topology.instances)}
        for call, code in [(lambda: eni_ops.detach_network_interface(lab, "active.eth0"), "OperationNotPermitted"),
                           (lambda: eni_ops.move_network_interface(lab, "vip", "other-az"), "InvalidParameterCombination"),
                           (lambda: eni_ops.attach_network_interface(lab, "vip", "standby", 1), "InvalidNetworkInterface.InUse"),
                           (lambda: eni_ops.move_network_interface(lab, "vip", "standby", 0), "InvalidParameterValue")]:
            with pytest.raises(UsageError) as exc:
                call()
            assert exc.value.code == code
        assert lab.topology == before
        assert {ns: links(ns) for ns in state} == state
        assert ping(lab, "client", VIP)


def cli_of(lab_name: str):
    """`vpcemu ARGS --lab LAB --json` in-process: (exit status, parsed output)."""
    import json

    from typer.testing import CliRunner

    from vpcemu.cli import app
    runner = CliRunner()

    def cli(*args: str) -> tuple[int, dict]:
        r = runner.invoke(app, [*args, "--lab", lab_name, "--json"])
        return r.exit_code, json.loads(r.stdout)
    return cli


def test_cli_verbs():
    cli = cli_of("k-eni-cli")
    with Lab.up(load_text(TOPOLOGY, name="k-eni-cli")) as lab:
        code, body = cli("eni", "move", "vip", "--to", "standby")
        assert code == 0 and (body["instance"], body["device_index"]) == ("standby", 1)
        assert ping(lab, "client", VIP)
        code, body = cli("eni", "detach", "vip")
        assert code == 0 and body["instance"] is None
        code, body = cli("eni", "attach", "vip", "--instance", "active", "--device-index", "3")
        assert code == 0 and body["device_index"] == 3 and ping(lab, "client", VIP)
        code, body = cli("eni", "detach", "active.eth0")
        assert code == 2 and "OperationNotPermitted" in body["message"]
        code, body = cli("eni", "create", "spare", "--subnet", "app", "-a", "10.0.1.210", "-g", "open")
        assert code == 0 and body["private_ips"] == ["10.0.1.210"] and body["instance"] is None
        code, body = cli("eni", "delete", "spare")
        assert code == 0 and body["operation"] == "deleted"
        assert cli("eni", "delete", "spare")[0] == 2


def test_eni_move_drill_measures_the_outage_with_real_probes():
    from vpcemu import drill
    with Lab.up(load_text(TOPOLOGY, name="k-drill")) as lab:
        report = drill.eni_move(lab, "vip", "standby", "client")
        assert report.recovered and report.target == VIP
        assert 0 < report.probes_sent and 0 <= report.probes_lost <= report.probes_sent
        assert 0 <= report.outage_ms < 1000
        assert (report.outage_ms > 0) == (report.probes_lost > 0)
        assert [e["event"].split()[0] for e in report.timeline][:2] == ["probe", "eni-move"]
        assert lab.topology.network_interface("vip").attachment.instance == "standby"
        print(f"eni-move drill: outage {report.outage_ms} ms, {report.probes_lost}/{report.probes_sent} lost")
        # AWS-like attachment time: the ENI waits detached that long, and the drill sees it
        slow = drill.eni_move(lab, "vip", "active", "client", delay_ms=300)
        assert slow.recovered and 300 <= slow.outage_ms < 1300
        assert lab.topology.network_interface("vip").attachment.instance == "active"


MULTI_HOMED = """
format: 1
vpcs:
  main:
    cidr: 10.0.0.0/16
    subnets:
      app: {cidr: 10.0.1.0/24, az: us-east-1a}
      clients: {cidr: 10.0.2.0/24, az: us-east-1a}
      mgmt: {cidr: 10.0.9.0/24, az: us-east-1a}
    security_groups:
      app-sg: {ingress: [{protocol: tcp, ports: 8080, source: 10.0.2.0/24}]}
      mgmt-sg: {ingress: [{protocol: tcp, ports: 22, source: 10.0.9.0/24}]}
      open: {ingress: [{protocol: all, source: 0.0.0.0/0}]}
    instances:
      server: {subnet: app, private_ip: 10.0.1.10, security_groups: [app-sg]}
      admin: {subnet: mgmt, private_ip: 10.0.9.20, security_groups: [open]}
      client: {subnet: clients, private_ip: 10.0.2.10, security_groups: [open]}
    network_interfaces:
      server-mgmt:
        subnet: mgmt
        private_ips: [10.0.9.10]
        security_groups: [mgmt-sg]
        attachment: {instance: server, device_index: 1}
"""


@pytest.mark.parametrize("hot", [False, True], ids=["built", "hot-attached"])
def test_multi_homed_instance_answers_each_network_on_its_own_interface(hot):
    with Lab.up(load_text(MULTI_HOMED, name="k-mhome")) as lab:
        if hot:
            eni_ops.detach_network_interface(lab, "server-mgmt")
            eni_ops.attach_network_interface(lab, "server-mgmt", "server", 1)
        server_ns = names.instance_ns(lab.name, "server")

        def reach(source: str, address: str, port: int) -> bool:
            with Capture(server_ns) as capture:
                result = lab.probe(source, address, protocol="tcp", port=port, timeout=0.3)
            if result.reachable:       # the answer left the server by the interface that owns its source
                out = {f.ifname for f in capture.frames()
                       if f.direction == "out" and f.data[12:14] == b"\x08\x00" and f.data[26:30] == inet_aton(address)}
                assert out == {"eth1" if address == "10.0.9.10" else "eth0"}, (address, out)
            else:
                assert result.explanations and result.explanations[0]["code"] == "ENI_SG_RULES_MISMATCH"
            return result.reachable

        assert reach("admin", "10.0.9.10", 22)
        assert not reach("admin", "10.0.9.10", 8080)      # the management SG allows only 22
        assert not reach("admin", "10.0.1.10", 22)        # the app address is not the management network's
        assert reach("client", "10.0.1.10", 8080)
        assert not reach("client", "10.0.9.10", 22)       # app clients cannot use the management address


def test_secondary_ip_reassignment_and_the_ip_move_drill():
    from vpcemu import drill
    with Lab.up(load_text(TOPOLOGY, name="k-ipmove")) as lab:
        standby = names.instance_ns(lab.name, "standby")
        for call, code in [(lambda: eni_ops.assign_private_ip_addresses(lab, "standby.eth0", ["10.0.1.101"]),
                            "InvalidIPAddress.InUse"),
                           (lambda: eni_ops.assign_private_ip_addresses(lab, "standby.eth0", ["10.0.1.100"], True),
                            "InvalidParameterValue"),                       # a primary IP never moves
                           (lambda: eni_ops.assign_private_ip_addresses(lab, "standby.eth0", ["10.0.2.50"]),
                            "InvalidParameterValue"),                       # not in the ENI's subnet
                           (lambda: eni_ops.unassign_private_ip_addresses(lab, "vip", ["10.0.1.100"]),
                            "InvalidParameterValue")]:
            with pytest.raises(UsageError) as exc:
                call()
            assert exc.value.code == code
        report = drill.ip_move(lab, "10.0.1.101", "standby.eth0", "client")
        assert report.recovered
        assert links(standby)["eth0"][2] == ["10.0.1.101", "10.0.1.11"]
        assert links(names.instance_ns(lab.name, "active"))["eth1"][2] == ["10.0.1.100"]
        assert ping(lab, "client", "10.0.1.101") and ping(lab, "client", VIP)
        eni_ops.unassign_private_ip_addresses(lab, "standby.eth0", ["10.0.1.101"])
        assert not ping(lab, "client", "10.0.1.101") and ping(lab, "client", "10.0.1.11")
        eni_ops.assign_private_ip_addresses(lab, "vip", ["10.0.1.101"])
        assert ping(lab, "client", "10.0.1.101")
        print(f"ip-move drill: outage {report.outage_ms} ms")


def test_cli_ip_verbs_and_drill():
    cli = cli_of("k-ip-cli")
    with Lab.up(load_text(TOPOLOGY, name="k-ip-cli")) as lab:
        code, body = cli("drill", "ip-move", "--address", "10.0.1.101", "--to", "standby.eth0", "--client", "client")
        assert code == 0 and body["recovered"] and body["drill"] == "ip-move" and body["probes_sent"] > 0
        code, body = cli("eni", "unassign-private-ip", "standby.eth0", "-a", "10.0.1.101")
        assert code == 0 and body["private_ips"] == ["10.0.1.11"]
        code, body = cli("eni", "assign-private-ip", "vip", "-a", "10.0.1.101", "-a", "10.0.1.102")
        assert code == 0 and body["private_ips"] == ["10.0.1.100", "10.0.1.101", "10.0.1.102"]
        assert ping(lab, "client", "10.0.1.102")
        code, body = cli("eni", "assign-private-ip", "standby.eth0", "-a", "10.0.1.102")
        assert code == 2 and "InvalidIPAddress.InUse" in body["message"]
        code, body = cli("drill", "eni-move", "--eni", "vip", "--to", "standby", "--client", "client")
        assert code == 0 and body["recovered"] and {"outage_ms", "probes_sent", "probes_lost"} <= set(body)


def test_az_outage_drill_cuts_only_that_zone():
    from vpcemu import drill
    with Lab.up(load_text(TOPOLOGY, name="k-az")) as lab:
        report = drill.az_outage(lab, "us-east-1b", "client", "10.0.3.10", hold_ms=200)
        assert report.recovered and report.probes_lost > 0
        assert 200 <= report.outage_ms < 1000
        unaffected = drill.az_outage(lab, "us-east-1b", "client", "10.0.1.10", hold_ms=100)
        assert unaffected.recovered and unaffected.probes_lost == 0 and unaffected.outage_ms == 0
        with pytest.raises(UsageError) as exc:
            drill.az_outage(lab, "us-east-1z", "client", "10.0.1.10")
        assert exc.value.code == "InvalidParameterValue"
        assert ping(lab, "client", "10.0.3.10")


def test_create_attach_detach_delete_a_standalone_eni():
    with Lab.up(load_text(TOPOLOGY, name="k-eni-new")) as lab:
        park = names.parking_ns(lab.name)
        eni_ops.create_network_interface(lab, "spare", "app", ["10.0.1.200"], ["open"])
        spare = lab.topology.network_interface("spare")
        assert spare.attachment is None and spare.security_groups == ("open",)
        assert links(park)[names.parked_link(spare)] == (spare.mac_address, False, ["10.0.1.200"])
        eni_ops.attach_network_interface(lab, "spare", "standby", 2)
        assert ping(lab, "client", "10.0.1.200")
        for call, code in [(lambda: eni_ops.delete_network_interface(lab, "spare"), "InvalidNetworkInterface.InUse"),
                           (lambda: eni_ops.create_network_interface(lab, "other", "app", ["10.0.1.200"]),
                            "InvalidIPAddress.InUse"),
                           (lambda: eni_ops.create_network_interface(lab, "other", "nosuch"), "InvalidSubnetID.NotFound")]:
            with pytest.raises(UsageError) as exc:
                call()
            assert exc.value.code == code
        eni_ops.detach_network_interface(lab, "spare")
        eni_ops.delete_network_interface(lab, spare.id)
        assert "spare" not in lab.topology.network_interfaces and names.parked_link(spare) not in links(park)
        assert not ping(lab, "client", "10.0.1.200")
        auto = eni_ops.create_network_interface(lab, "auto", "app").network_interface("auto")
        assert auto.private_ip_address.exploded == "10.0.1.4" and auto.security_groups == ("default",)
        assert Lab.attach(lab.name).topology.network_interface("auto").id == auto.id
