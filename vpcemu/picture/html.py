"""The pieces of the HTML report, pure: a page that needs nothing from the network to open (its styles
inline, pictures inline SVG, a Content-Security-Policy that forbids every fetch), tables, and the matrix
as a table whose cells tell their explanation code on hover."""
from __future__ import annotations

from html import escape

from .render import cell_state

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = """
body { font-family: Helvetica, Arial, sans-serif; margin: 1.5em; color: #16191f; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; border-bottom: 2px solid #8C4FFF; padding-bottom: .2em; }
h3 { font-size: 1em; } table { border-collapse: collapse; margin: .5em 0 1em; font-size: 12px; }
th, td { border: 1px solid #d5dbdb; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #f2f3f3; } .figure { overflow-x: auto; max-width: 100%; }
.figure svg { max-width: 100%; height: auto; }
.ok { color: #1d8102; font-weight: bold; } .bad { color: #d13212; font-weight: bold; }
td.reachable { background: #003F6B; color: white; text-align: center; }
td.blocked { background: #EEEEEE; color: #333; text-align: center; }
td.disagrees { background: #D55E00; color: black; text-align: center; font-weight: bold; }
.meta { color: #545b64; font-size: 12px; }
"""
MARKS = {"reachable": "●", "blocked": "×", "disagrees": "▲"}


def page(title: str, body: list[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
            "<link rel=\"icon\" href=\"data:,\">"
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def table(headers: list[str], rows: list[list[object]], raw: bool = False) -> str:
    """A table; cells are escaped unless `raw` (cells made by this module)."""
    def cell(x: object) -> str:
        return str(x) if raw else escape("" if x is None else str(x))
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell(x)}</td>" for x in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def verdict(ok: bool, text: str) -> str:
    return f"<span class=\"{'ok' if ok else 'bad'}\">{escape(text)}</span>"


def matrix_table(matrix: dict, port: str) -> str:
    """One port's matrix as a table: ● reachable, × blocked, ▲ observed and expected disagree; each cell's
    hover text says what was expected, what was seen and AWS's explanation code."""
    cells = {(c["source"], c["destination"], c["protocol"] + (f"/{c['port']}" if c["port"] else "")): c
             for c in matrix["cells"]}
    head = "".join(f"<th>{escape(d)}</th>" for d in matrix["destinations"])
    rows = []
    for s in matrix["sources"]:
        tds = []
        for d in matrix["destinations"]:
            c = cells.get((s, d, port))
            if c is None:
                tds.append("<td></td>")
                continue
            state = cell_state(c)
            hover = (f"{s} → {d} {port}: {state}; expected {'reachable' if c['expected'] else 'blocked'}"
                     + (f" ({c['reason']})" if c.get("reason") else "")
                     + f", observed {'reachable' if c['observed'] else 'blocked'}"
                     + (f" ({c['answer']})" if c.get("answer") else ""))
            tds.append(f"<td class=\"{state}\" title=\"{escape(hover)}\">{MARKS[state]}</td>")
        rows.append(f"<tr><th>{escape(s)}</th>{''.join(tds)}</tr>")
    return f"<table><thead><tr><th>{escape(port)}</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
