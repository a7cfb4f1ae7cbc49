"""Gateway route tables (ingress routing), asymmetric routing through an appliance and routes whose target is
gone, with real packets, on the shipped topologies/inspection.yaml: internet → IGW (1:1 NAT) → the gateway
route table → the firewall appliance → the web subnet, and back through the appliance.

One lab for the module; a test that changes it puts it back. Every probe is also an agreement test (conftest)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vpcemu.cli import app
from vpcemu.lab import Lab
from vpcemu.ops import elastic_ip, route_table
from vpcemu.ops import network_interface as eni_ops

from kernel_clients import http_server

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.geteuid() != 0, reason="kernel tests need root")]

INSPECTION = Path(__file__).resolve().parents[2] / "topologies" / "inspection.yaml"
LAB = f"ir{os.getpid() % 100000}"
WEB_EIP, FW_EIP, PLAIN_EIP = "198.51.100.10", "198.51.100.9", "198.51.100.11"
FETCH = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).status)"
runner = CliRunner()


@pytest.fixture(scope="module")
def lab():
    with Lab.up(INSPECTION, name=LAB) as lab:
        yield lab


def cli(*args: str) -> tuple[int, object]:
    r = runner.invoke(app, [*args, "--json"])
    return r.exit_code, json.loads(r.stdout)


def router_hops(r, leg: str) -> list[tuple[str, str, str]]:
    """(component, direction, destination) of the probe's packet on the VPC router's links, on one leg."""
    return [(h.component, h.direction, h.destination) for h in r.hops if h.namespace.endswith("-vpc-main")
            and h.leg == leg]


def codes(r) -> set[str]:
    return {e["code"] for e in r.explanations} or {e["code"] for e in r.expected["explanations"]}


def test_the_shipped_inspection_topology_verifies(lab):
    code, verdicts = cli("verify", LAB)
    assert code == 0, verdicts
    assert len(verdicts) == 4 and all(v["holds"] and not v["warnings"] for v in verdicts)
    assert "eni fw.eth0" in verdicts[0]["path"] and "eni fw.eth0" not in verdicts[2]["path"]


def test_inbound_crosses_the_appliance_which_sees_the_private_destination_and_so_does_the_answer(lab):
    r = lab.probe("ext", WEB_EIP, protocol="icmp")         # an echo reply carries the probe's token back
    assert r.reachable and not r.warnings
    forward = router_hops(r, "forward")
    # the IGW translated the EIP before the gateway route table: the appliance gets the private address
    assert forward[0] == ("igw igw", "in", "10.0.1.10")
    assert ("eni fw.eth0", "out", "10.0.1.10") in forward and ("eni fw.eth0", "in", "10.0.1.10") in forward
    assert forward[-1] == ("eni web.eth0", "out", "10.0.1.10")
    back = router_hops(r, "return")
    assert [c for c, d, _ in back] == ["eni web.eth0", "eni fw.eth0", "eni fw.eth0", "igw igw"]
    to_web = next(h for h in r.hops if h.component == "eni web.eth0" and h.leg == "forward")
    assert (to_web.source, to_web.destination) == ("198.18.0.50", "10.0.1.10")      # the client's own address
    with http_server(lab, "web", "10.0.1.10"):          # a real TCP client from the internet, through fw
        out = lab.exec("ext", [sys.executable, "-c", FETCH, f"http://{WEB_EIP}/"], timeout=30)
        assert out.returncode == 0 and out.stdout.strip() == "200", out.stderr[-500:]


def test_disassociating_sends_inbound_direct_and_the_asymmetric_answer_is_flagged(lab):
    code, out = cli("route-table", "disassociate", "ingress", "--gateway", "igw", "--lab", LAB)
    assert code == 0, out
    try:
        assert lab.status()["vpcs"][0]["route_tables"][1]["edge_associations"] == []
        r = lab.probe("ext", WEB_EIP, protocol="icmp")
        # the request goes straight to web; web's own route table still sends the answer through fw
        assert r.reachable
        assert "eni fw.eth0" not in [c for c, _, _ in router_hops(r, "forward")]
        assert "eni fw.eth0" in [c for c, _, _ in router_hops(r, "return")]
        assert len(r.warnings) == 1 and "asymmetric routing" in r.warnings[0] and "web, firewall" in r.warnings[0]
    finally:
        code, out = cli("route-table", "associate", "ingress", "--gateway", "igw", "--lab", LAB)
        assert code == 0, out
    r = lab.probe("ext", WEB_EIP, protocol="tcp", port=80)
    assert r.reachable and not r.warnings and "eni fw.eth0" in [c for c, _, _ in router_hops(r, "forward")]


def test_refused_associations_and_routes_change_nothing(lab):
    before = lab.topology
    for args, error in ((("route-table", "associate", "main", "--gateway", "igw"), "InvalidParameterValue"),
                        (("route-table", "associate", "web", "--gateway", "igw"), "Resource.AlreadyAssociated"),
                        (("route-table", "associate", "web", "--gateway", "igw-x"), "InvalidGatewayID.NotFound"),
                        (("route-table", "disassociate", "web", "--gateway", "igw"), "InvalidAssociationID.NotFound"),
                        (("route", "create", "ingress", "0.0.0.0/0", "fw"), "InvalidParameterValue"),
                        (("route", "create", "ingress", "10.0.2.0/24", "igw"), "InvalidParameterValue")):
        code, out = cli(*args, "--lab", LAB)
        assert code == 2 and error in out["message"], (args, out)
    assert lab.refresh().topology == before


def test_an_appliance_without_a_public_ip_gets_nothing_from_the_igw(lab):
    elastic_ip.disassociate_address(lab, FW_EIP)
    try:
        r = lab.probe("ext", WEB_EIP, protocol="tcp", port=80)
        assert not r.reachable and {e["code"] for e in r.explanations} == {"INGRESS_RTB_NO_PUBLIC_IP"}
        assert lab.probe("ext", PLAIN_EIP, protocol="tcp", port=80).reachable     # not routed through fw
    finally:
        elastic_ip.associate_address(lab, FW_EIP, "fw")
    assert lab.probe("ext", WEB_EIP, protocol="tcp", port=80).reachable


def test_east_west_answer_around_the_appliance_is_dropped_by_state_and_flagged(lab):
    route_table.create_route(lab, "web", "10.0.2.0/24", "fw")       # web → direct subnet through fw, not back
    try:
        r = lab.probe("plain", "web", protocol="tcp", port=80)
        # the answer meets fw's far side as a new flow and the sender's own group refuses it (AWS: unsupported)
        assert not r.reachable and codes(r) == {"ENI_SG_RULES_MISMATCH"}
        assert r.explanations[0]["eni"] == "plain.eth0"
        assert len(r.warnings) == 1 and "the answer fw (route tables: web" in r.warnings[0]
    finally:
        route_table.delete_route(lab, "web", "10.0.2.0/24")
    r = lab.probe("plain", "web", protocol="tcp", port=80)
    assert r.reachable and not r.warnings


def test_a_route_whose_target_is_gone_is_bad_state_route(lab):
    route_table.create_route(lab, "web", "198.18.0.0/15", "blackhole")
    try:
        r = lab.probe("web", "ext", protocol="tcp", port=80)
        assert not r.reachable and codes(r) == {"BAD_STATE_ROUTE"}
    finally:
        route_table.delete_route(lab, "web", "198.18.0.0/15")
    eni_ops.create_network_interface(lab, "spare", "firewall")          # created detached
    try:
        route_table.create_route(lab, "web", "10.0.2.0/24", "spare")
        state = {r["destination"]: r["state"] for rt in lab.status()["vpcs"][0]["route_tables"] if rt["name"] == "web"
                 for r in rt["routes"]}
        assert state["10.0.2.0/24"] == "blackhole"                       # an ENI attached to no instance
        r = lab.probe("web", "plain", protocol="tcp", port=80)
        assert not r.reachable and codes(r) == {"BAD_STATE_ROUTE"}
        assert [c for c, _, _ in router_hops(r, "forward")] == ["eni web.eth0"]
    finally:
        eni_ops.delete_network_interface(lab, "spare")
    try:
        # deleted: the route stays, a blackhole, as AWS keeps it until replaced or deleted
        r = lab.probe("web", "plain", protocol="tcp", port=80)
        assert not r.reachable and codes(r) == {"BAD_STATE_ROUTE"}
        code, verdicts = cli("verify", LAB)
        assert code == 0
    finally:
        route_table.delete_route(lab, "web", "10.0.2.0/24")
    assert lab.probe("web", "plain", protocol="tcp", port=80).reachable
