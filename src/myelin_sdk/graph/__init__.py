"""The picture of an Axon: a graph model built from it, rendered as DOT, SVG, PNG or a text outline.

>>> from myelin_sdk.graph import axon_graph, to_dot, to_text
>>> graph = axon_graph(axon)                                  # doctest: +SKIP
>>> [e.label for e in graph.edges if e.kind == "trigger"]     # doctest: +SKIP
['Succeeded (mnistTrainingComplete)']
>>> print(to_text(graph))                                     # doctest: +SKIP

In a notebook an ``Axon`` shows itself with this picture (``Axon._repr_html_``); on the command line,
``myelin graph PATH -o axon.svg``. SVG and PNG need Graphviz's ``dot`` program; DOT and text do not.
Only the standard library is imported here: the CLI's cold start stays small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .draw import dot_available, render, to_dot, to_html, to_svg, to_text
    from .model import AxonGraph, Badge, Edge, Gate, Node, axon_graph

_WHERE = {
    **dict.fromkeys(("AxonGraph", "Badge", "Edge", "Gate", "Node", "axon_graph"), "model"),
    **dict.fromkeys(("dot_available", "render", "to_dot", "to_html", "to_svg", "to_text"), "draw"),
}

__all__ = [
    "AxonGraph",
    "Badge",
    "Edge",
    "Gate",
    "Node",
    "axon_graph",
    "dot_available",
    "render",
    "to_dot",
    "to_html",
    "to_svg",
    "to_text",
]


def __getattr__(name: str) -> Any:
    """Import the model and the renderer on first use (``myelin --help`` imports only ``.command``)."""
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
