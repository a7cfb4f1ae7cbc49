"""Pictures without a lab: the diagram's DOT and Mermaid text against golden files, a probe's path on it,
the matrix heatmap and the drill timeline drawn from their JSON, `vpcemu graph` on a file."""
from __future__ import annotations

import os
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest
from typer.testing import CliRunner

from vpcemu.analyze import analyze_flow
from vpcemu.cli import app
from vpcemu.load import load_topology
from vpcemu.picture import build_diagram, is_public, probe_overlay, to_dot, to_mermaid
from vpcemu.picture.render import BLOCKED, DISAGREES, REACHABLE, drill_timeline_svg, matrix_heatmap_svg

ROOT = Path(__file__).parents[2]
GOLDEN = ROOT / "tests" / "data" / "pictures"
UPDATE = os.environ.get("VPCEMU_UPDATE_GOLDEN") == "1"     # rewrite the golden files after a deliberate change
runner = CliRunner()


def topology(name: str):
    return load_topology(ROOT / "topologies" / f"{name}.yaml")


@pytest.mark.parametrize("name", ["default", "three-tier"])
@pytest.mark.parametrize("fmt", ["dot", "mmd"])
def test_golden_text(name, fmt):
    text = (to_dot if fmt == "dot" else to_mermaid)(build_diagram(topology(name)))
    golden = GOLDEN / f"{name}.{fmt}"
    if UPDATE:
        golden.write_text(text)
    assert text == golden.read_text(), f"{golden} differs: if the change is meant, VPCEMU_UPDATE_GOLDEN=1 rewrites it"


@pytest.mark.parametrize("name", ["default", "three-tier"])
def test_every_subnet_instance_and_gateway_is_drawn(name):
    t = topology(name)
    d = build_diagram(t)
    titles = {n.title for n in d.all_nodes()}
    for vpc in t.vpcs.values():
        assert set(vpc.subnets) <= titles and set(vpc.instances) <= titles
        assert {f"NAT gateway {n}" for n in vpc.nat_gateways} <= titles
        assert f"internet gateway {vpc.internet_gateway}" in titles
        assert {f"route table {r}" for r in vpc.route_tables} <= titles
    assert set(t.internet_hosts) | set(t.services) <= titles
    dot, mermaid = to_dot(d), to_mermaid(d)
    for word in [*t.instances, *(s for v in t.vpcs.values() for s in v.subnets)]:
        assert word in dot and word in mermaid


def test_public_and_private_subnets_by_their_route_to_the_internet_gateway():
    vpc = topology("default").vpcs["main"]
    assert [s for s in vpc.subnets if is_public(vpc, s)] == ["public-a", "public-b"]
    dot = to_dot(build_diagram(topology("default")))
    public = re.search(r'subgraph "cluster subnet cluster main/public-a" \{\n\s+graph \[([^]]*)\]', dot).group(1)
    private = re.search(r'subgraph "cluster subnet cluster main/private-a" \{\n\s+graph \[([^]]*)\]', dot).group(1)
    assert "#F2F6E8" in public and "#F2F6E8" not in private


def _probe(t, source, destination, protocol, port, seen: int | None = None, reachable=None) -> dict:
    """A probe result as `ProbeResult.to_dict()` gives it, whose packets were seen at the first `seen`
    components AWS's rules expect (all of them if None)."""
    a = analyze_flow(t, source, destination, protocol, port).to_dict()
    components = [h["component"] for h in a["forward"] if h["kind"] not in ("check", "route-table")]
    hops = [{"component": c, "leg": "forward"} for c in components[:seen]]
    return {"source": source, "destination": destination, "protocol": protocol, "port": port,
            "reachable": a["reachable"] if reachable is None else reachable, "hops": hops, "expected": a,
            "explanations": [{k: str(v) for k, v in e.items() if k != "component"} for e in a["explanations"]]}


def test_a_blocked_probe_paints_the_dropping_component_red_with_its_code_and_rule():
    t = topology("default")
    d = build_diagram(t)
    overlay = probe_overlay(d, _probe(t, "app-a", "web-1", "tcp", 22))
    assert overlay.dropped == "instance web-1" and not overlay.reachable
    assert overlay.explanation.startswith("ENI_SG_RULES_MISMATCH") and "sg=web" in overlay.explanation
    dot = to_dot(d, overlay)
    line = next(x for x in dot.splitlines() if x.strip().startswith('"instance web-1" ['))
    assert 'class="vpcemu-dropped"' in line and "#D62728" in line and "ENI_SG_RULES_MISMATCH" in line
    assert '"instance app-a" -> "instance web-1" [color="#D62728" penwidth=3 arrowhead=tee' in dot


def test_hops_no_packet_was_seen_at_are_dashed():
    t = topology("default")
    d = build_diagram(t)
    overlay = probe_overlay(d, _probe(t, "app-a", "ext", "tcp", 443, seen=2, reachable=False))
    assert overlay.observed == ("instance app-a", "nat main/nat-a")
    assert overlay.expected == ("instance app-a", "nat main/nat-a", "igw main", "host ext")
    assert overlay.dropped == "nat main/nat-a"          # no explanation: the last component a packet was seen at
    dot = to_dot(d, overlay)
    assert re.search(r'"instance app-a" -> "nat main/nat-a" \[[^]]*penwidth=3 constraint=false class="vpcemu-observed"',
                     dot)
    assert re.search(r'"nat main/nat-a" -> "igw main" \[[^]]*style=dashed[^]]*class="vpcemu-expected"', dot)
    assert re.search(r'"igw main" -> "host ext" \[[^]]*style=dashed', dot)


def _luminance(colour: str) -> float:
    r, g, b = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_heatmap_states_differ_in_greyscale_and_in_shape():
    grey = sorted(_luminance(c) for c in (REACHABLE, BLOCKED, DISAGREES))
    assert grey[1] - grey[0] > 0.15 and grey[2] - grey[1] > 0.15
    cells = [{"source": s, "destination": d, "protocol": "tcp", "port": 22, "expected": e, "observed": o,
              "answer": None, "reason": r, "agrees": e == o}
             for s, d, e, o, r in (("a", "b", True, True, None), ("a", "c", False, False, "ENI_SG_RULES_MISMATCH"),
                                   ("b", "c", True, False, None))]
    svg = matrix_heatmap_svg({"lab": "lab1", "ports": ["tcp/22"], "sources": ["a", "b"], "destinations": ["b", "c"],
                              "cells": cells})
    ElementTree.fromstring(svg)
    assert "lab1: tcp/22" in svg and "observed ≠ expected" in svg
    # one marker shape per state: matplotlib defines each marker path once
    markers = re.findall(r'<path id="(m[0-9a-f]+)" d="([^"]+)"', svg)
    assert len({d for _, d in markers}) >= 3


def test_drill_timeline_shows_fault_outage_tcp_and_api_calls():
    report = {"drill": "eni-move", "client": "app-a", "target": "10.0.1.50", "interval_ms": 1.0, "outage_ms": 12.5,
              "probes_sent": 200, "probes_lost": 12, "recovered": True, "tcp_survived": True,
              "timeline": [{"t_ms": 0.0, "event": "probe stream answered"}, {"t_ms": 100.0, "event": "eni-move starts"},
                           {"t_ms": 101.0, "event": "first lost probe (seq 101)"},
                           {"t_ms": 110.0, "event": "eni-move done (10.0 ms)"},
                           {"t_ms": 113.5, "event": "first answered probe after it (seq 113)"}],
              "answers": [{"from_ms": 0.0, "to_ms": 100.0, "answered": True, "probes": 101},
                          {"from_ms": 101.0, "to_ms": 112.5, "answered": False, "probes": 12},
                          {"from_ms": 113.5, "to_ms": 200.0, "answered": True, "probes": 87}],
              "api_calls": [{"t_ms": 100.5, "action": "AttachNetworkInterface"}]}
    svg = drill_timeline_svg(report)
    ElementTree.fromstring(svg)
    for text in ("outage 12.5 ms", "first lost", "first answered", "TCP connection survived",
                 "AttachNetworkInterface", "EC2 API calls", "eni-move (the fault)"):
        assert text in svg, text


def test_graph_cli_on_a_file(tmp_path):
    r = runner.invoke(app, ["graph", str(ROOT / "topologies" / "default.yaml"), "--format", "mermaid"])
    assert r.exit_code == 0 and r.stdout == (GOLDEN / "default.mmd").read_text()
    out = tmp_path / "d.svg"
    r = runner.invoke(app, ["graph", str(ROOT / "topologies" / "default.yaml"), "-f", "svg", "-o", str(out)])
    assert r.exit_code == 0
    texts = {t.text for t in ElementTree.parse(out).iter("{http://www.w3.org/2000/svg}text")}
    assert {"web-1", "app-b", "public-a", "private-b"} <= texts


def test_graph_cli_refusals(tmp_path):
    assert runner.invoke(app, ["graph", str(ROOT / "topologies" / "default.yaml"), "-f", "png"]).exit_code == 2
    assert runner.invoke(app, ["graph", str(tmp_path / "none.yaml")]).exit_code == 2
    assert runner.invoke(app, ["graph", str(ROOT / "topologies" / "default.yaml"), "-o", str(tmp_path)]).exit_code == 2


def test_a_route_tables_drop_is_drawn_at_the_route_table():
    t = topology("default")
    d = build_diagram(t)
    overlay = probe_overlay(d, _probe(t, "app-b", "192.168.1.1", "icmp", None))
    assert overlay.dropped == "rtb main/private-b" and overlay.explanation.startswith("BAD_STATE_ROUTE")


def test_history_keeps_results_in_order_and_skips_a_damaged_line(tmp_path):
    from vpcemu import history
    assert history.read(tmp_path) == []
    history.record(tmp_path, "probe", {"n": 1})
    with open(tmp_path / history.HISTORY_FILE, "a") as f:
        f.write('{"kind": "probe", "da\n')
    history.record(tmp_path, "drill", {"n": 2})
    assert [(r["kind"], r["data"]) for r in history.read(tmp_path)] == [("probe", {"n": 1}), ("drill", {"n": 2})]


def test_the_readme_picture_is_what_graph_draws_now(tmp_path):
    """docs/default.svg (shown in README) names what `vpcemu graph` names today: remake it if this fails."""
    out = tmp_path / "d.svg"
    assert runner.invoke(app, ["graph", str(ROOT / "topologies" / "default.yaml"), "-o", str(out)]).exit_code == 0

    def texts(path):
        return sorted(t.text for t in ElementTree.parse(path).iter("{http://www.w3.org/2000/svg}text"))
    assert texts(ROOT / "docs" / "default.svg") == texts(out)
    assert "![topologies/default.yaml drawn by vpcemu graph](docs/default.svg)" in (ROOT / "README.md").read_text()
