"""A Diagram as Graphviz DOT text, in AWS's architecture-icon colours: the VPC purple, AZs dashed blue,
public subnets green, private subnets teal-blue, compute orange, networking purple. A path overlay adds
the flow's edges (observed solid, expected-only dashed) and paints the dropping component red.

Graphviz copies `class` attributes into its SVG, so a page (and a test) can find the overlay's parts.
"""
from __future__ import annotations

from html import escape

from .diagram import RELATIONSHIP, Cluster, Diagram, Node
from .overlay import Overlay

PURPLE, ORANGE, GREEN, TEAL, BLUE, GREY, RED = "#8C4FFF", "#ED7100", "#7AA116", "#00A4A6", "#147EBA", "#7D8998", \
    "#D62728"
PATH = "#0B5394"
SERVICE_COLOURS = {"s3": GREEN, "dynamodb": "#C925D1", "sqs": "#E7157B"}

_CLUSTER_STYLE = {
    "vpc": f'color="{PURPLE}" penwidth=2 fontcolor="{PURPLE}"',
    "availability-zone": f'style=dashed color="{BLUE}" fontcolor="{BLUE}"',
    "subnet-public": f'style=filled fillcolor="#F2F6E8" color="{GREEN}" fontcolor="#3F5A0B"',
    "subnet-private": f'style=filled fillcolor="#E6F2F8" color="{BLUE}" fontcolor="#0E4E75"',
    "internet": f'style=dashed color="{GREY}" fontcolor="{GREY}"',
    "region": f'style=dashed color="{TEAL}" fontcolor="{TEAL}"',
}
_NODE_STYLE = {
    "vpc": f'shape=plaintext fontcolor="{PURPLE}"',
    "subnet": "shape=plaintext",
    "instance": f'shape=box style="rounded,filled" fillcolor=white color="{ORANGE}" penwidth=1.5',
    "network-interface": f'shape=box style="rounded,dashed,filled" fillcolor=white color="{ORANGE}"',
    "nat-gateway": f'shape=box style="rounded,filled" fillcolor=white color="{PURPLE}" penwidth=1.5',
    "interface-endpoint": f'shape=box style="rounded,filled" fillcolor=white color="{PURPLE}"',
    "gateway-endpoint": f'shape=box style="rounded,filled" fillcolor=white color="{PURPLE}"',
    "internet-gateway": f'shape=box style="rounded,filled" fillcolor="#F4EDFF" color="{PURPLE}" penwidth=1.5',
    "peering": f'shape=box style="rounded,filled" fillcolor="#F4EDFF" color="{PURPLE}"',
    "route-table": f'shape=note style=filled fillcolor=white color="{GREY}"',
    "internet": f'shape=ellipse style=filled fillcolor="#F3F3F3" color="{GREY}"',
    "internet-host": f'shape=box style="rounded,filled" fillcolor=white color="{GREY}"',
}


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label(node: Node, extra: tuple[str, ...] = ()) -> str:
    rows = [f"<B>{escape(node.title)}</B>"] + [f'<FONT POINT-SIZE="9">{escape(x)}</FONT>' for x in node.lines if x]
    rows += [f'<FONT POINT-SIZE="10"><B>{escape(x)}</B></FONT>' for x in extra if x]
    return "<" + "<BR/>".join(rows) + ">"


def to_dot(diagram: Diagram, overlay: Overlay | None = None) -> str:
    out = ["digraph vpcemu {",
           f"  graph [label={quote(diagram.title)} labelloc=t fontname=Helvetica fontsize=16 rankdir=LR "
           "compound=true newrank=true nodesep=0.3 ranksep=0.6]",
           "  node [fontname=Helvetica fontsize=11]",
           f'  edge [fontname=Helvetica fontsize=9 color="{GREY}" fontcolor="{GREY}" arrowsize=0.6]']
    dropped = overlay.dropped if overlay else None
    on_path = set(overlay.observed) if overlay else set()

    def node_line(node: Node, indent: str) -> str:
        style = _NODE_STYLE.get(node.kind) or \
            f'shape=box style="rounded,filled" fillcolor=white color="{SERVICE_COLOURS.get(node.title, RED)}"'
        extra = ""
        if node.id == dropped:
            label = _label(node, ("✖ " + overlay.explanation,))
            extra = f' style="rounded,filled" fillcolor="{RED}" fontcolor=white color="{RED}" penwidth=3 ' \
                    'class="vpcemu-dropped"'
        else:
            label = _label(node)
            if node.id in on_path:
                extra = f' color="{PATH}" penwidth=3 class="vpcemu-on-path"'
        return f"{indent}{quote(node.id)} [label={label} {style}{extra}]"

    def cluster(c: Cluster, indent: str) -> None:
        out.append(f"{indent}subgraph {quote('cluster ' + c.id)} {{")
        out.append(f"{indent}  graph [label={quote(c.label)} labeljust=l fontname=Helvetica {_CLUSTER_STYLE[c.kind]}]")
        out.extend(node_line(n, indent + "  ") for n in c.nodes)
        for sub in c.clusters:
            cluster(sub, indent + "  ")
        out.append(f"{indent}}}")

    for c in diagram.clusters:
        cluster(c, "  ")
    out.extend(node_line(n, "  ") for n in diagram.nodes)
    known = {n.id for n in diagram.all_nodes()}
    for e in diagram.edges:
        if e.tail not in known or e.head not in known:
            continue
        style = "" if e.kind == RELATIONSHIP else " style=dotted"
        label = f" label={quote(e.label)}" if e.label else ""
        arrow = " dir=none" if e.kind == RELATIONSHIP and not e.label else ""
        out.append(f"  {quote(e.tail)} -> {quote(e.head)} [{(label + style + arrow).strip()}]")
    if overlay is not None:
        seen, expected_only = overlay.edges()
        for tail, head in seen:
            out.append(f"  {quote(tail)} -> {quote(head)} [color=\"{PATH}\" penwidth=3 constraint=false "
                       'class="vpcemu-observed"]')
        for tail, head in expected_only:
            out.append(f"  {quote(tail)} -> {quote(head)} [color=\"{PATH}\" penwidth=2 style=dashed constraint=false "
                       'class="vpcemu-expected"]')
        last = (overlay.observed or overlay.expected or (None,))[-1]
        if overlay.dropped and last and last != overlay.dropped:
            # where the packet was going when it was stopped: a bar at the component that stopped it
            out.append(f"  {quote(last)} -> {quote(overlay.dropped)} [color=\"{RED}\" penwidth=3 arrowhead=tee "
                       'constraint=false class="vpcemu-stopped"]')
        out.append(f"  label={quote(diagram.title + ': ' + overlay.title + (' reachable' if overlay.reachable else ' not reachable'))}")
    out.append("}")
    return "\n".join(out) + "\n"
