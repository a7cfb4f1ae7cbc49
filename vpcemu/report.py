"""`vpcemu report`: one self-contained HTML page of a running lab: its diagram, `verify` and the matrix run
now, the probes (each drawn on the diagram) and drills (each as a timeline) run in the lab since it was
built (its history), and the lab's status tables. The pytest plugin writes it for a failed test."""
from __future__ import annotations

import time
from html import escape
from typing import TYPE_CHECKING

from . import history
from .picture import build_diagram, probe_overlay, to_dot
from .picture.html import matrix_table, page, table, verdict
from .picture.render import drill_timeline_svg, inline_svg, matrix_heatmap_svg, render_graph
from .verify import matrix, verify

if TYPE_CHECKING:
    from .lab import Lab

MAX_PATHS = 12            # probes drawn on the diagram: the newest of each flow, newest first


def lab_report(lab: "Lab") -> str:
    t = lab.refresh().topology
    past = history.read(lab.journal.dir)        # read first: what was run before this report, not by it
    status = lab.status()
    verdicts = verify(lab)
    found = matrix(lab)
    diagram = build_diagram(t)
    body = [f"<h1>vpcemu lab {escape(lab.name)}</h1>",
            f"<p class=\"meta\">status {escape(status['status'])}, region {escape(t.region)}, built from "
            f"{escape(str(status.get('source')))} in {status.get('build_seconds')} s; report made "
            f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}</p>",
            "<h2 id=\"diagram\">Diagram</h2>",
            f"<div class=\"figure\" id=\"topology\">{inline_svg(render_graph(to_dot(diagram), 'svg'))}</div>",
            "<h2 id=\"verify\">verify: the topology's expect block, with real packets</h2>",
            _verify(verdicts),
            "<h2 id=\"matrix\">Matrix: observed against AWS's rules</h2>",
            _matrix(found.to_dict()),
            "<h2 id=\"probes\">Probes run in this lab</h2>",
            *_probes(diagram, [r["data"] for r in past if r["kind"] == "probe"]),
            "<h2 id=\"drills\">Drills run in this lab</h2>",
            *_drills([r["data"] for r in past if r["kind"] == "drill"]),
            "<h2 id=\"status\">Status</h2>",
            *_status(status)]
    return page(f"vpcemu lab {lab.name}", body)


def _verify(verdicts) -> str:
    if not verdicts:
        return "<p>the topology has no expect block</p>"
    rows = []
    for v in verdicts:
        want = "reachable" if v.expected["reachable"] else f"blocked {v.expected['reason'] or ''}".strip()
        got = "reachable" if v.reachable else f"blocked {', '.join(v.dropped_by)}".strip()
        rows.append([v.index, escape(f"{v.source} → {v.destination} {v.protocol}" + (f"/{v.port}" if v.port else "")),
                     escape(want), escape(got), escape(" → ".join(v.path)),
                     verdict(v.holds, "holds" if v.holds else "; ".join(v.failures + v.disagreements))])
    held = sum(v.holds for v in verdicts)
    return table(["#", "flow", "expected", "observed", "path", "result"], rows, raw=True) + \
        f"<p>{verdict(held == len(verdicts), f'{held}/{len(verdicts)} expectations hold')}</p>"


def _matrix(m: dict) -> str:
    svg = inline_svg(matrix_heatmap_svg(m))
    tables = "".join(matrix_table(m, port) for port in m["ports"])
    return (f"<p>{len(m['cells'])} cells in {m['seconds']} s; {m['disagreements']} disagree with AWS's rules. "
            "Hover a cell of a table for its explanation code.</p>"
            f"<div class=\"figure\">{svg}</div>{tables}")


def _flow(p: dict) -> str:
    return f"{p['source']} → {p['destination']} {p['protocol']}" + (f"/{p['port']}" if p.get("port") else "")


def _probes(diagram, probes: list[dict]) -> list[str]:
    if not probes:
        return ["<p>none yet</p>"]
    rows = [[_flow(p), "reachable" if p["reachable"] else "not reachable", p.get("answer") or p.get("icmp_error"),
             "; ".join(e["code"] for e in p.get("explanations", [])), "; ".join(p.get("disagreements", []))]
            for p in probes]
    out = [table(["flow", "result", "answer", "dropped by", "disagreements"], rows)]
    newest: dict[str, dict] = {}
    for p in reversed(probes):
        newest.setdefault(_flow(p), p)
    for p in list(newest.values())[:MAX_PATHS]:
        overlay = probe_overlay(diagram, p)
        text = "reachable" if p["reachable"] else f"not reachable: {overlay.explanation}"
        out.append(f"<h3>{escape(_flow(p))}: {verdict(p['reachable'], text)}</h3>")
        out.append(f"<div class=\"figure probe-path\">{inline_svg(render_graph(to_dot(diagram, overlay), 'svg'))}</div>")
    return out


def _drills(drills: list[dict]) -> list[str]:
    if not drills:
        return ["<p>none yet</p>"]
    out = []
    for d in drills:
        out.append(f"<h3>{escape(d['drill'])}: {escape(d['client'])} → {escape(d['target'])}, outage "
                   f"{d['outage_ms']:.1f} ms</h3>")
        out.append(f"<div class=\"figure\">{inline_svg(drill_timeline_svg(d))}</div>")
        out.append(table(["t (ms)", "event"], [[f"{e['t_ms']:.1f}", e["event"]] for e in d["timeline"]]))
    return out


def _status(s: dict) -> list[str]:
    out = []
    for v in s["vpcs"]:
        out.append(f"<h3>VPC {escape(v['name'])} {escape(v['id'])} {escape(', '.join(v['cidr_blocks']))}</h3>")
        out.append(table(["subnet", "id", "cidr", "az", "route table", "network acl"],
                         [[x["name"], x["id"], x["cidr"], x["az"], x["route_table"], x["network_acl"]]
                          for x in v["subnets"]]))
        out.append(table(["route table", "destination", "target", "state", "origin"],
                         [[rt["name"] + (" (main)" if rt["main"] else ""), r["destination"], r["target"], r["state"],
                           r["origin"]] for rt in v["route_tables"] for r in rt["routes"]]))
        out.append(table(["network interface", "id", "subnet", "private IPs", "public IPs", "security groups",
                          "attached to", "device index", "status"],
                         [[e["name"], e["id"], e["subnet"], ", ".join(e["private_ips"]),
                           ", ".join(f"{k} → {p}" for k, p in e["public_ips"].items()), ", ".join(e["security_groups"]),
                           e["attached_to"], e["device_index"], e["status"]] for e in v["network_interfaces"]]))
        if v["nat_gateways"]:
            out.append(table(["NAT gateway", "id", "subnet", "type", "private IP", "EIP"],
                             [[n["name"], n["id"], n["subnet"], n["connectivity_type"], n["private_ip"], n["eip"]]
                              for n in v["nat_gateways"]]))
        if v["endpoints"]:
            out.append(table(["endpoint", "id", "type", "service", "route tables", "network interfaces"],
                             [[e["name"], e["id"], e["type"], e["service"], ", ".join(e["route_tables"]),
                               ", ".join(e["network_interfaces"])] for e in v["endpoints"]]))
    if s["internet_hosts"]:
        out.append(table(["internet host", "ip", "listens"],
                         [[h["name"], h["ip"], " ".join(h["listen"])] for h in s["internet_hosts"]]))
    if s["services"]:
        out.append(table(["AWS service", "addresses"], [[k, ", ".join(a)] for k, a in s["services"].items()]))
    return out
