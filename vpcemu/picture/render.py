"""Rendering, the thin part that needs the `pictures` extra: DOT laid out by Graphviz (the Debian `graphviz`
package through the `graphviz` Python binding), the matrix heatmap and the drill timeline drawn by
matplotlib's SVG backend. Everything here returns the picture; writing it is the caller's.
"""
from __future__ import annotations

import io
import re

from ..errors import UsageError

EXTRA_HINT = "install the pictures extra and Graphviz: `scripts/setup` does both " \
             "(apt-get install graphviz; pip install -e '.[pictures]')"

# Okabe–Ito hues (blue, grey, vermilion: told apart by colour-blind readers), the blue darkened so that the
# three differ in lightness too (dark, light, middle) and read in greyscale; each state has its own
# marker too
REACHABLE, BLOCKED, DISAGREES = "#003F6B", "#EEEEEE", "#D55E00"


def render_graph(dot: str, fmt: str) -> bytes:
    """DOT laid out by Graphviz's `dot` as svg or png."""
    try:
        import graphviz
    except ImportError:
        raise UsageError("drawing svg or png needs the graphviz Python package", hint=EXTRA_HINT) from None
    try:
        return graphviz.Source(dot).pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise UsageError("drawing svg or png needs Graphviz's `dot` program", hint=EXTRA_HINT) from None


def inline_svg(svg: bytes | str) -> str:
    """An SVG document as an element to put in HTML: without its XML prolog and DOCTYPE."""
    text = svg.decode() if isinstance(svg, bytes) else svg
    return text[text.index("<svg"):]


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise UsageError("drawing plots needs matplotlib", hint=EXTRA_HINT) from None
    matplotlib.use("svg", force=True)
    matplotlib.rcParams["svg.hashsalt"] = "vpcemu"         # the same plot gives the same SVG
    matplotlib.rcParams["svg.fonttype"] = "none"          # text stays text: searchable, and smaller
    import matplotlib.pyplot as plt
    return plt


def _svg(fig) -> str:
    out = io.StringIO()
    fig.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
    import matplotlib.pyplot as plt
    plt.close(fig)
    return out.getvalue()


def cell_state(cell: dict) -> str:
    if not cell["agrees"]:
        return "disagrees"
    return "reachable" if cell["observed"] else "blocked"


def matrix_heatmap_svg(matrix: dict) -> str:
    """`Matrix.to_dict()` as a heatmap, one panel per port: each cell reachable (dark blue, ●), blocked
    (light grey, ×) or observed and expected disagreeing (vermilion, ▲)."""
    plt = _pyplot()
    from matplotlib.colors import ListedColormap
    sources, destinations, ports = matrix["sources"], matrix["destinations"], matrix["ports"]
    cells = {(c["source"], c["destination"], c["protocol"] + (f"/{c['port']}" if c["port"] else "")): c
             for c in matrix["cells"]}
    states = ("none", "reachable", "blocked", "disagrees")
    markers = {"reachable": ("o", "white"), "blocked": ("x", "#333333"), "disagrees": ("^", "black")}
    width = max(4.0, 0.38 * len(destinations) + 2.0)
    height = max(2.0, 0.34 * len(sources) + 1.4)
    fig, axes = plt.subplots(len(ports), 1, figsize=(width, height * len(ports)), squeeze=False, layout="constrained")
    cmap = ListedColormap(["white", REACHABLE, BLOCKED, DISAGREES])
    for ax, port in zip(axes[:, 0], ports, strict=True):
        grid = [[0] * len(destinations) for _ in sources]
        points: dict[str, tuple[list[int], list[int]]] = {s: ([], []) for s in markers}
        for i, s in enumerate(sources):
            for j, d in enumerate(destinations):
                c = cells.get((s, d, port))
                if c is not None:
                    state = cell_state(c)
                    grid[i][j] = states.index(state)
                    points[state][0].append(j)
                    points[state][1].append(i)
        # vector cells (imshow would embed a bitmap)
        ax.pcolormesh([x - 0.5 for x in range(len(destinations) + 1)], [y - 0.5 for y in range(len(sources) + 1)],
                      grid, cmap=cmap, vmin=0, vmax=3, edgecolors="white", linewidth=1)
        ax.set_xlim(-0.5, len(destinations) - 0.5)
        ax.set_ylim(len(sources) - 0.5, -0.5)
        for state, (marker, colour) in markers.items():
            xs, ys = points[state]
            if xs:
                ax.scatter(xs, ys, marker=marker, c=colour, s=36, linewidths=1.5, label=state)
        ax.set_xticks(range(len(destinations)), destinations, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(len(sources)), sources, fontsize=8)
        ax.set_title(f"{matrix['lab']}: {port}", fontsize=10, loc="left")
        ax.set_xlabel("to", fontsize=8)
        ax.set_ylabel("from", fontsize=8)
    from matplotlib.lines import Line2D
    legend = [Line2D([], [], marker=m, linestyle="none", markerfacecolor=c if m != "x" else None,
                     markeredgecolor=c if m == "x" else "black", markersize=8, color=c,
                     label=f"{state}", markeredgewidth=1.5)
              for state, (m, c) in (("reachable", ("o", REACHABLE)), ("blocked", ("x", "#333333")),
                                    ("observed ≠ expected", ("^", DISAGREES)))]
    fig.legend(handles=legend, loc="outside upper right", fontsize=8, frameon=False, ncols=3)
    return _svg(fig)


def drill_timeline_svg(report: dict) -> str:
    """`DrillReport.to_dict()` over time: the probe answers (answered runs solid, lost runs hatched), the
    failover (its start and end), the first lost and first answered probe, the outage, TCP survival, and
    the EC2 API calls received during the drill when the report carries them (`api_calls`: {t_ms, action})."""
    plt = _pyplot()
    calls = report.get("api_calls") or []
    rows = ["probe answers"] + (["EC2 API calls"] if calls else [])
    fig, ax = plt.subplots(figsize=(9, 1.6 + 0.5 * len(rows)))
    runs = report.get("answers") or []
    answered = [(r["from_ms"], max(r["to_ms"] - r["from_ms"], report["interval_ms"])) for r in runs if r["answered"]]
    lost = [(r["from_ms"], max(r["to_ms"] - r["from_ms"], report["interval_ms"])) for r in runs if not r["answered"]]
    ax.broken_barh(answered, (0.6, 0.8), facecolors=REACHABLE, label="answered")
    ax.broken_barh(lost, (0.6, 0.8), facecolors="white", edgecolors=DISAGREES, hatch="////", label="lost")
    events = {_event_kind(e["event"]): e for e in report.get("timeline", [])}
    if "start" in events and "done" in events:
        ax.axvspan(events["start"]["t_ms"], events["done"]["t_ms"], color="#888888", alpha=0.25,
                   label=f"{report['drill']} (the fault)")
    # the two labels lean away from each other: a short outage puts their marks close together
    for kind, marker, text, side in (("first-lost", "v", "first lost", "right"),
                                     ("first-answered", "^", "first answered", "left")):
        if kind in events:
            t = events[kind]["t_ms"]
            ax.plot([t], [1.55], marker=marker, color="black", linestyle="none", markersize=8)
            ax.annotate(f"{text}\n{t:.1f} ms", (t, 1.6), xytext=(0, 6), textcoords="offset points", ha=side,
                        fontsize=7)
    if "first-lost" in events:
        t0 = events["first-lost"]["t_ms"]
        ax.annotate("", xy=(t0 + report["outage_ms"], 0.4), xytext=(t0, 0.4),
                    arrowprops={"arrowstyle": "<->", "color": DISAGREES})
        ax.text(t0 + report["outage_ms"] / 2, 0.25, f"outage {report['outage_ms']:.1f} ms", ha="center", fontsize=8,
                color=DISAGREES)
    for call in calls:
        t = call["t_ms"]
        ax.plot([t], [2], marker="D", color="#8C4FFF", linestyle="none")
        ax.annotate(str(call.get("action", "")), (t, 2), xytext=(4, 4), textcoords="offset points", fontsize=7,
                    rotation=20)
    tcp = report.get("tcp_survived")
    tcp_text = "" if tcp is None else f"; TCP connection {'survived' if tcp else 'broken'}"
    ax.set_title(f"{report['drill']}: {report['client']} → {report['target']}, one probe every "
                 f"{report['interval_ms']} ms: {report['probes_lost']}/{report['probes_sent']} lost, "
                 f"{'recovered' if report['recovered'] else 'NOT recovered'}{tcp_text}", fontsize=9, loc="left")
    ax.set_yticks(range(1, len(rows) + 1), rows, fontsize=8)
    ax.set_ylim(0, len(rows) + 0.9)
    ax.set_xlabel("ms since the probe stream was answered", fontsize=8)
    # below the axis: above the bars it would cover the first lost / first answered marks
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), fontsize=7, frameon=False, ncols=3)
    return _svg(fig)


_EVENTS = (("first lost probe", "first-lost"), ("first answered probe", "first-answered"), (" starts", "start"),
           (" done", "done"))


def _event_kind(text: str) -> str:
    for needle, kind in _EVENTS:
        if needle in text:
            return kind
    return re.sub(r"\W+", "-", text)
