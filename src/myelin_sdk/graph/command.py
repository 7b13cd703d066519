"""``myelin graph PATH -o axon.svg|png|dot``: the picture of an Axon in a file (or its outline printed).

    myelin graph examples/recommender_demo/pipeline.py                 # the text outline on stdout
    myelin graph examples/recommender_demo/recommender-demo.yaml -o axon.svg

The format follows the suffix of ``-o``; ``.svg`` and ``.png`` need Graphviz's ``dot`` (exit 2 without it),
``.dot`` and ``.txt`` do not. Only the standard library is imported until the command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .draw import Format

SUFFIXES: dict[str, Format] = {".svg": "svg", ".png": "png", ".dot": "dot", ".gv": "dot", ".txt": "text"}


def add_parsers(sub: Any) -> None:
    """Register ``graph`` on the ``myelin`` subparsers (a command group of :mod:`myelin_sdk.cli.main`)."""
    p = sub.add_parser(
        "graph",
        help="draw an Axon: tasks, sensors, triggers, gates and deployers (SVG, PNG, DOT or text)",
        description="Draw PATH as a graph: each task with its kind and image source; each sensor as a box "
        "with its Alert, Rest and Calendar triggers (Lifecycle triggers are arrows from their task); the "
        "steps it runs in order, its Metric gates on the edge they guard; each deployer with its models, "
        "backends and traffic split. Graphviz's `dot` lays out SVG and PNG; DOT and the text outline need "
        "nothing installed. The same picture shows when a notebook displays an Axon.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  myelin graph pipeline.py                  # text outline on stdout\n"
        "  myelin graph axon.yaml -o axon.svg        # needs Graphviz (apt-get install graphviz)\n"
        "  myelin graph axon.yaml -o axon.dot        # DOT source, no Graphviz needed\n"
        "  myelin graph axon.yaml -o - | dot -Tpdf > axon.pdf",
    )
    p.add_argument("path", metavar="PATH", help="Axon YAML file or Python file declaring an Axon")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the picture to FILE, its format from the suffix: .svg, .png, .dot (or .gv), .txt; "
        "'-' prints the DOT source; default: print the text outline",
    )
    p.add_argument("--axon", metavar="NAME", help="which Axon, when a Python file declares several")
    p.set_defaults(func=graph_command)


def graph_command(args: argparse.Namespace) -> int:
    """Run ``myelin graph``; user mistakes raise :class:`~myelin_sdk.errors.MyelinError` (exit 2)."""
    from ..errors import MyelinError

    output: str | None = args.output
    suffix = os.path.splitext(output)[1].lower() if output else ""
    fmt: Format | None = "text" if output is None else "dot" if output == "-" else SUFFIXES.get(suffix)
    if fmt is None:
        known = ", ".join(SUFFIXES)
        raise MyelinError(f"-o {output}: expected a file name ending in one of {known} (or '-' for DOT)")

    from ..loader import load_path
    from .draw import render
    from .model import axon_graph

    data = render(axon_graph(load_path(args.path, args.axon)), fmt)
    if output is None or output == "-":
        sys.stdout.write(data.decode())
        return 0
    try:
        with open(output, "wb") as out:  # pathlib stays out of `myelin --help`'s imports
            out.write(data)
    except OSError as exc:
        raise MyelinError(f"-o {output}: cannot write: {exc.strerror}") from None
    print(f"wrote {output} ({fmt}, {len(data)} bytes)", file=sys.stderr)
    return 0
