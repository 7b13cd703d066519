"""Draw an :class:`~.model.AxonGraph`: DOT source (the ``graphviz`` package), SVG and PNG (Graphviz's
``dot`` program lays it out), a text outline, and the HTML a notebook shows.

>>> svg = render(axon_graph(axon), "svg")       # doctest: +SKIP   (bytes; needs `dot` on PATH)
>>> print(to_text(axon_graph(axon)))            # doctest: +SKIP   (always works)

Without ``dot``, :func:`to_html` shows the text outline with a one-line note and :func:`render` raises
:class:`GraphvizMissing` for SVG and PNG; DOT and text need no program.
"""

from __future__ import annotations

import functools
import html
import shutil
from typing import TYPE_CHECKING, Literal

from ..errors import MyelinError
from .model import AxonGraph, Edge, Node

if TYPE_CHECKING:
    import graphviz

Format = Literal["dot", "svg", "png", "text"]
FORMATS: tuple[Format, ...] = ("dot", "svg", "png", "text")

INSTALL_NOTE = "install Graphviz (`apt-get install graphviz`, `brew install graphviz`) for the picture"

_TASK_FILL = {"data prep": "#dbeafe", "train": "#fde68a", "deploy": "#bbf7d0", "spark": "#e9d5ff"}
_BADGE_FILL = {
    "Alert": "#fee2e2",
    "Rest": "#e0f2fe",
    "Calendar": "#ede9fe",
    "Start": "#f1f5f9",
    "Metric": "#ffedd5",
}
_EDGE_STYLE: dict[str, dict[str, str]] = {
    "trigger": {"color": "#dc2626", "fontcolor": "#b91c1c", "penwidth": "1.6"},
    "step": {"color": "#334155", "fontcolor": "#334155"},
    "serves": {"color": "#16a34a", "fontcolor": "#15803d", "style": "dashed"},
    "model": {"color": "#ca8a04", "fontcolor": "#a16207", "style": "dashed"},
}
_GATE_COLOR = "#c2410c"


class GraphvizMissing(MyelinError):
    """SVG or PNG was asked for and Graphviz's ``dot`` program is not on PATH."""


def dot_available() -> bool:
    """Whether Graphviz's ``dot`` program is on PATH (SVG and PNG need it)."""
    return shutil.which("dot") is not None


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _small(text: str, color: str = "#1e293b", size: int = 9) -> str:
    return f'<FONT POINT-SIZE="{size}" COLOR="{color}">{_e(text)}</FONT>'


def _node_label(node: Node) -> str:
    """An HTML-like Graphviz label: a table with the name, the subtitle, the detail lines and the badges."""
    rows = [f"<TR><TD><B>{_e(node.name)}</B></TD></TR>"]
    if node.kind == "sensor":
        rows = [f'<TR><TD BGCOLOR="#334155"><FONT COLOR="white"><B>{_e(node.name)}</B></FONT></TD></TR>']
    elif node.kind == "deployer":
        rows = [f'<TR><TD BGCOLOR="#166534"><FONT COLOR="white"><B>{_e(node.name)}</B></FONT></TD></TR>']
    if node.subtitle and node.kind != "sensor":
        rows.append(f"<TR><TD>{_small(node.subtitle, '#475569', 10)}</TD></TR>")
    rows += [f'<TR><TD ALIGN="LEFT">{_small(line)}</TD></TR>' for line in node.lines]
    for badge in node.badges:
        head = f"{badge.type} {badge.name}".strip()
        rows.append(
            f'<TR><TD ALIGN="LEFT" BGCOLOR="{_BADGE_FILL.get(badge.type, "#f1f5f9")}">'
            f"<B>{_small(head)}</B><BR/>{_small(badge.text)}</TD></TR>"
        )
    return '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="3">' + "".join(rows) + "</TABLE>>"


def _node_attrs(node: Node) -> dict[str, str]:
    if node.kind == "task":
        fill = _TASK_FILL.get(node.subtitle, "#f1f5f9")
        return {"shape": "box", "style": "rounded,filled", "fillcolor": fill, "color": "#64748b"}
    if node.kind == "missing":
        return {"shape": "box", "style": "rounded,dashed,filled", "fillcolor": "#fecaca", "color": "#b91c1c"}
    if node.kind == "deployer":
        return {"shape": "box", "style": "filled", "fillcolor": "#f0fdf4", "color": "#166534", "margin": "0"}
    return {"shape": "box", "style": "filled", "fillcolor": "white", "color": "#334155", "margin": "0"}


def _edge_label(edge: Edge) -> str:
    color = _EDGE_STYLE[edge.kind]["fontcolor"]
    parts = [_small(edge.text, color)] if edge.text and not edge.gates else []
    step = f"{edge.label}. " if edge.label else ""
    parts += [
        _small(f"{step if i == 0 else ''}if {g.name}: {g.condition}", _GATE_COLOR)
        for i, g in enumerate(edge.gates)
    ]
    return "<" + "<BR/>".join(parts) + ">" if parts else ""


def _dot_id(node_id: str) -> str:
    """The node's DOT id: its graph id, with ``:`` (DOT's port separator in edges) written ``%3A``."""
    return node_id.replace(":", "%3A")


def to_digraph(graph: AxonGraph) -> graphviz.Digraph:
    """The ``graphviz.Digraph`` of the picture (left to right: triggers, sensors, tasks, deployers)."""
    import graphviz

    dot = graphviz.Digraph(graph.name, comment=f"Axon {graph.name} (myelin graph)")
    dot.attr(rankdir="TB", fontname="Helvetica", nodesep="0.35", ranksep="0.6", label=f"Axon {graph.name}")
    dot.attr("node", fontname="Helvetica")
    dot.attr("edge", fontname="Helvetica", arrowsize="0.8")
    for node in graph.nodes:
        dot.node(_dot_id(node.id), _node_label(node), **_node_attrs(node))
    for edge in graph.edges:
        attrs = dict(_EDGE_STYLE[edge.kind])
        if edge.gates:
            attrs.update(color=_GATE_COLOR, penwidth="2")
        if edge.kind == "model":
            attrs["constraint"] = "false"
        dot.edge(_dot_id(edge.source), _dot_id(edge.target), _edge_label(edge) or None, **attrs)
    return dot


def to_dot(graph: AxonGraph) -> str:
    """The DOT source of the picture (needs no Graphviz program)."""
    source: str = to_digraph(graph).source
    return source


@functools.lru_cache(maxsize=16)
def _layout(source: str, fmt: str) -> bytes:
    import graphviz

    data: bytes = graphviz.Source(source).pipe(format=fmt, engine="dot")
    return data


def render(graph: AxonGraph, fmt: Format) -> bytes:
    """The picture as ``dot``, ``svg``, ``png`` or ``text`` bytes; SVG and PNG raise
    :class:`GraphvizMissing` when ``dot`` is not on PATH."""
    if fmt == "text":
        return to_text(graph).encode()
    source = to_dot(graph)
    if fmt == "dot":
        return source.encode()
    if not dot_available():
        raise GraphvizMissing(
            f"a .{fmt} picture needs Graphviz's `dot` program: {INSTALL_NOTE}; .dot works without"
        )
    return _layout(source, fmt)


def to_svg(graph: AxonGraph) -> str | None:
    """The SVG document, or ``None`` without ``dot`` (so a notebook falls back to the HTML outline)."""
    return render(graph, "svg").decode() if dot_available() else None


def to_html(graph: AxonGraph) -> str:
    """The picture inline (SVG), or without ``dot`` the text outline and a note saying how to get it."""
    svg = to_svg(graph)
    if svg is not None:
        return f'<div style="overflow:auto">{svg[svg.find("<svg") :]}</div>'
    return f'<pre style="line-height:1.3">{_e(to_text(graph))}</pre><p><i>{_e(INSTALL_NOTE)}</i></p>'


def _node_text(graph: AxonGraph, node: Node, indent: str) -> list[str]:
    return [f"{indent}{line}" for line in node.lines]


def to_text(graph: AxonGraph) -> str:
    """A readable outline: tasks with kind and image, sensors with triggers, gates and steps in order."""
    out = [f"Axon {graph.name}", "tasks:"]
    for node in graph.nodes:
        if node.kind in ("task", "missing"):
            out.append(f"  {node.name} [{node.subtitle}]")
            out += _node_text(graph, node, "    ")
    out.append("sensors:")
    for node in graph.nodes:
        if node.kind != "sensor":
            continue
        out.append(f"  {node.name}")
        for edge in graph.edges_to(node.id):
            if edge.kind == "trigger":
                out.append(f"    trigger Lifecycle: {graph.node(edge.source).name} {edge.label}")
        for badge in node.badges:
            out.append(f"    trigger {badge.type}{' ' + badge.name if badge.name else ''}: {badge.text}")
        for edge in graph.edges_from(node.id):
            out += [f"    if {g.name}: {g.condition}" for g in edge.gates]
            target = graph.node(edge.target)
            what = "deployer " if target.kind == "deployer" else ""
            out.append(f"    {edge.label}. {what}{target.name}")
            if target.kind == "deployer":
                out += _node_text(graph, target, "         ")
    return "\n".join(out) + "\n"
