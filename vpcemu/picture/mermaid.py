"""A Diagram as Mermaid flowchart text, for Markdown in pull requests and READMEs: the same boxes and
edges as the DOT form (relationships solid, traffic dotted), public subnets green, private blue."""
from __future__ import annotations

import re

from .diagram import RELATIONSHIP, Cluster, Diagram, Node

_CLUSTER_STYLE = {
    "vpc": "fill:#FFFFFF,stroke:#8C4FFF,stroke-width:2px",
    "availability-zone": "fill:#FFFFFF,stroke:#147EBA,stroke-dasharray:5 5",
    "subnet-public": "fill:#F2F6E8,stroke:#7AA116",
    "subnet-private": "fill:#E6F2F8,stroke:#147EBA",
    "internet": "fill:#FFFFFF,stroke:#7D8998,stroke-dasharray:5 5",
    "region": "fill:#FFFFFF,stroke:#00A4A6,stroke-dasharray:5 5",
}
_CLASSES = {
    "compute": ("instance", "network-interface"),
    "networking": ("nat-gateway", "interface-endpoint", "gateway-endpoint", "internet-gateway", "peering"),
    "table": ("route-table",),
    "outside": ("internet", "internet-host", "aws-service"),
    "label": ("vpc", "subnet"),
}
_CLASS_STYLE = {
    "compute": "fill:#FFFFFF,stroke:#ED7100,stroke-width:2px",
    "networking": "fill:#FFFFFF,stroke:#8C4FFF,stroke-width:2px",
    "table": "fill:#FFFFFF,stroke:#7D8998",
    "outside": "fill:#FFFFFF,stroke:#7D8998",
    "label": "fill:none,stroke:none",
}


def _text(s: str) -> str:
    return s.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


class _Ids:
    """Mermaid ids are letters, digits and _: each diagram id gets one, the same every time."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}

    def __call__(self, name: str) -> str:
        if name not in self.ids:
            base = re.sub(r"[^A-Za-z0-9_]", "_", name)
            candidate, n = base, 1
            while candidate in self.ids.values():
                n += 1
                candidate = f"{base}_{n}"
            self.ids[name] = candidate
        return self.ids[name]


def to_mermaid(diagram: Diagram) -> str:
    ids = _Ids()
    out = ["---", f"title: {_text(diagram.title)}", "---", "flowchart LR"]
    styles: list[str] = []

    def node(n: Node, indent: str) -> None:
        label = "<br/>".join([f"<b>{_text(n.title)}</b>", *(_text(x) for x in n.lines if x)])
        out.append(f'{indent}{ids(n.id)}["{label}"]')

    def cluster(c: Cluster, indent: str) -> None:
        cid = ids("cluster " + c.id)
        out.append(f'{indent}subgraph {cid}["{_text(c.label)}"]')
        for n in c.nodes:
            node(n, indent + "  ")
        for sub in c.clusters:
            cluster(sub, indent + "  ")
        out.append(f"{indent}end")
        styles.append(f"  style {cid} {_CLUSTER_STYLE[c.kind]}")

    for c in diagram.clusters:
        cluster(c, "  ")
    for n in diagram.nodes:
        node(n, "  ")
    known = {n.id for n in diagram.all_nodes()}
    for e in diagram.edges:
        if e.tail not in known or e.head not in known:
            continue
        arrow = ("-->" if e.label else "---") if e.kind == RELATIONSHIP else "-.->"
        label = f'|"{_text(e.label)}"|' if e.label else ""
        out.append(f"  {ids(e.tail)} {arrow}{label} {ids(e.head)}")
    out.extend(styles)
    nodes = diagram.all_nodes()
    for name, kinds in _CLASSES.items():
        members = [ids(n.id) for n in nodes if n.kind in kinds]
        if members:
            out.append(f"  classDef {name} {_CLASS_STYLE[name]}")
            out.append(f"  class {','.join(members)} {name}")
    return "\n".join(out) + "\n"
