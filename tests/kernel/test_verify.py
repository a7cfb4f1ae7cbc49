"""verify, matrix and diff on the three-tier topology (20 instances, an edge, endpoints), and a kernel
broken behind vpcemu's back, which must show as a disagreement rather than be hidden."""
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
from vpcemu.plan import names, plan_lab

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.geteuid() != 0, reason="kernel tests need root")]

THREE_TIER = Path(__file__).resolve().parents[2] / "topologies" / "three-tier.yaml"
LAB = f"tt{os.getpid() % 100000}"
runner = CliRunner()


@pytest.fixture(scope="module")
def lab():
    with Lab.up(THREE_TIER, name=LAB) as lab:
        yield lab


def cli(*args: str) -> tuple[int, object]:
    r = runner.invoke(app, [*args, "--json"])
    return r.exit_code, json.loads(r.stdout)


def test_verify_runs_every_expectation_with_real_packets(lab):
    code, verdicts = cli("verify", LAB)
    assert code == 0, verdicts
    assert len(verdicts) == len(lab.topology.expect) == 8
    assert all(v["holds"] and not v["disagreements"] for v in verdicts)
    by_flow = {(v["source"], v["destination"]): v for v in verdicts}
    assert "eni fw-1.eth0" in by_flow[("web-1", "db-1")]["path"]
    assert by_flow[("web-1", "db-2")]["dropped_by"] == ["ENI_SG_RULES_MISMATCH"]
    assert "vpc-endpoint s3" in by_flow[("app-1", "s3")]["path"]


def test_matrix_every_cell_agrees_and_diff_shows_what_a_change_broke(lab, tmp_path):
    before = tmp_path / "before.json"
    code, m = cli("matrix", LAB, "--save", str(before))
    assert code == 0, [c for c in m["cells"] if not c["agrees"]][:5]
    assert len(m["sources"]) >= 20 and len(m["destinations"]) >= 25
    assert len(m["cells"]) == len(m["sources"]) * (len(m["destinations"]) - 1) * 3
    assert m["disagreements"] == 0
    cells = {(c["source"], c["destination"], c["protocol"], c["port"]): c for c in m["cells"]}
    assert cells[("web-1", "db-1", "icmp", None)]["observed"] is True
    assert cells[("db-1", "ext", "tcp", 443)]["observed"] is False           # no route out of the db tier
    assert cells[("pub-1", "ext", "tcp", 443)]["observed"] is True
    # a cell ends at its answer, or as soon as an nft trace shows its probe dropped; only a routing drop, which no
    # rule makes and so no trace shows, waits out the timeout
    blocked = [c for c in m["cells"] if not c["observed"]]
    assert {c["decided_by"] for c in m["cells"] if c["observed"]} == {"answer"}
    assert {c["decided_by"] for c in blocked if c["reason"] != "NO_ROUTE_TO_DESTINATION"} == {"drop"}
    assert {c["decided_by"] for c in blocked if c["reason"] == "NO_ROUTE_TO_DESTINATION"} == {"timeout"}
    assert cells[("db-1", "web-1", "tcp", 443)]["decided_by"] == "drop"          # the web group admits no db
    # a change: the web group stops admitting 443 from anywhere
    code, _ = cli("sg", "revoke", "web", "-p", "tcp", "--port", "443", "--peer", "0.0.0.0/0", "--lab", LAB)
    try:
        assert code == 0
        code, d = cli("diff", str(before), "--lab", LAB)
        assert code == 1
        broke = {(c["source"], c["destination"], c["protocol"], c["port"]) for c in d["broke"]}
        web = {i for i in lab.topology.instances if "web" in lab.topology.interfaces_of(i)[0].security_groups}
        assert ("app-1", "pub-1", "tcp", 443) in broke
        assert all((proto, port) == ("tcp", 443) and d in web for _, d, proto, port in broke) and len(broke) > 20
        assert not d["became_reachable"]
    finally:
        cli("sg", "authorize", "web", "-p", "tcp", "--port", "443", "--peer", "0.0.0.0/0", "--lab", LAB)
    code, d = cli("diff", str(before), "--lab", LAB)
    assert code == 0 and not d["broke"] and not d["became_reachable"]


@pytest.mark.disagreement_expected
def test_a_kernel_broken_behind_vpcemus_back_is_reported_not_hidden(lab):
    """Delete the rules that admit tcp/5432 at db-1's ENI with nft itself: the model still says
    reachable, the packets say not, and the probe says it is a bug (exit 3)."""
    rtr = names.router_ns(LAB, "shop")
    chain = f"sg_ingress_{names.router_link(lab.topology.network_interface('db-1.eth0'))}"
    listing = json.loads(subprocess.run(["ip", "netns", "exec", rtr, "nft", "-j", "-a", "list", "chain", "ip",
                                         "vpcemu", chain], capture_output=True, text=True, check=True).stdout)
    handles = [x["rule"]["handle"] for x in listing["nftables"]
               if "rule" in x and "tcp/5432 sg:" in x["rule"].get("comment", "")]
    assert len(handles) == 2                                # from sg:web and from sg:default
    for handle in handles:
        subprocess.run(["ip", "netns", "exec", rtr, "nft", "delete", "rule", "ip", "vpcemu", chain, "handle",
                        str(handle)], check=True)
    try:
        r = lab.probe("web-1", "db-1", protocol="tcp", port=5432)
        assert not r.reachable and r.expected["reachable"]
        assert r.disagreements == ["expected reachable, observed not reachable"]
        code, body = cli("probe", "web-1", "db-1", "-p", "tcp", "--port", "5432", "--lab", LAB)
        assert code == 3 and body["disagreements"]
    finally:
        nft_run(rtr, plan_lab(lab.topology, LAB).nft[rtr])         # the whole table again, atomically
    assert lab.probe("web-1", "db-1", protocol="tcp", port=5432).reachable
