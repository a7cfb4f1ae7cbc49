"""A drill with an unknown name or an argument AWS would refuse exits 2 with a message naming it, and
the lab (its saved model and every namespace's links, addresses, routes, rules, permanent neighbours
and nft ruleset) is exactly as before: the drill refused before its first probe, not halfway."""
from __future__ import annotations

import json
import os
import subprocess

from pathlib import Path

import pytest
from typer.testing import CliRunner

from vpcemu.cli import app
from vpcemu.kernel.nft import nft_run
from vpcemu.lab import Lab
from vpcemu.load import load_text
from vpcemu.plan import plan_lab

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.geteuid() != 0, reason="kernel tests need root")]

TOPOLOGY = (Path(__file__).resolve().parents[1] / "data" / "drill.yaml").read_text()

ENI_MOVE = ["eni-move", "--eni", "vip", "--to", "standby", "--client", "client"]
IP_MOVE = ["ip-move", "--address", "10.0.1.101", "--to", "standby.eth0", "--client", "client"]
NAT = ["nat-gateway-failure", "--nat-gateway", "nat-a", "--route-table", "private-a", "--to", "nat-b",
       "--client", "client", "--target", "ext"]
AZ = ["az-outage", "--az", "us-east-1a", "--client", "client", "--target", "ext"]


def but(args: list[str], option: str, value: str) -> list[str]:
    """`args` with `option`'s value replaced (or the option added)."""
    if option not in args:
        return [*args, option, value]
    i = args.index(option)
    return [*args[:i + 1], value, *args[i + 2:]]


REFUSED = {
    # test id: (the drill's arguments, what the message must name)
    "eni-move-eni": (but(ENI_MOVE, "--eni", "nope"), "'nope'"),
    "eni-move-to": (but(ENI_MOVE, "--to", "nope"), "'nope'"),
    "eni-move-client": (but(ENI_MOVE, "--client", "nope"), "'nope'"),
    "eni-move-target": (but(ENI_MOVE, "--target", "nope"), "'nope'"),
    "ip-move-to": (but(IP_MOVE, "--to", "nope"), "'nope'"),
    "ip-move-client": (but(IP_MOVE, "--client", "nope"), "'nope'"),
    "nat-gateway-failure-nat-gateway": (but(NAT, "--nat-gateway", "nope"), "'nope'"),
    "nat-gateway-failure-route-table": (but(NAT, "--route-table", "nope"), "'nope'"),
    "nat-gateway-failure-to": (but(NAT, "--to", "nope"), "'nope'"),
    "nat-gateway-failure-client": (but(NAT, "--client", "nope"), "'nope'"),
    "nat-gateway-failure-target": (but(NAT, "--target", "nope"), "'nope'"),
    "az-outage-az": (but(AZ, "--az", "us-east-1z"), "us-east-1z"),
    "az-outage-client": (but(AZ, "--client", "nope"), "'nope'"),
    "az-outage-target": (but(AZ, "--target", "nope"), "'nope'"),
    "az-outage-standby": (but(but(AZ, "--standby", "nope"), "--command", "true"), "'nope'"),
    "az-outage-command-without-standby": (but(AZ, "--command", "true"), "standby"),
}


def ip(ns: str, *argv: str) -> list[dict]:
    return json.loads(subprocess.run(["ip", "-n", ns, "-4", "-j", *argv], capture_output=True, text=True,
                                     check=True).stdout or "[]")


def kernel_state(namespaces: tuple[str, ...]) -> dict:
    """What a drill could change in each namespace; carrier and operstate are left out, as the kernel
    settles them on its own after a build."""
    return {ns: {
        "links": sorted((k["ifname"], k.get("address"), "UP" in k["flags"], k["mtu"], k.get("ifalias"))
                        for k in ip(ns, "link", "show")),
        "addresses": sorted((a["ifname"], i["local"], i["prefixlen"]) for a in ip(ns, "addr", "show")
                            for i in a["addr_info"]),
        "routes": sorted(json.dumps({k: v for k, v in r.items() if k != "flags"}, sort_keys=True)
                         for r in ip(ns, "route", "show", "table", "all")),
        "rules": ip(ns, "rule", "show"),
        "neighbours": ip(ns, "neigh", "show", "nud", "permanent"),
        "nft": nft_run(ns, "list ruleset"),
    } for ns in namespaces}


@pytest.fixture(scope="module")
def lab():
    with Lab.up(load_text(TOPOLOGY, name="k-drill-no")) as lab:
        namespaces = plan_lab(lab.topology, lab.name).namespaces
        yield lab, namespaces, kernel_state(namespaces)


@pytest.mark.parametrize("args, named", REFUSED.values(), ids=REFUSED.keys())
def test_a_refused_drill_exits_2_and_changes_nothing(lab, args, named):
    the_lab, namespaces, before = lab
    r = CliRunner().invoke(app, ["drill", *args, "--lab", the_lab.name, "--json"])
    assert r.exit_code == 2, r.output
    body = json.loads(r.stdout)
    assert body["error"] == "UsageError" and named in body["message"]
    assert Lab.attach(the_lab.name).topology == the_lab.topology
    assert kernel_state(namespaces) == before
