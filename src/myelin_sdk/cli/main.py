"""The ``myelin`` parser and entry point (the console script ``myelin_sdk.cli:main``).

    main(["status", "ml-rec", "-n", "ml", "-o", "json"])  # -> exit status

Each command group registers its sub-commands with ``add_parsers(sub)`` and binds its handler with
``set_defaults(func=...)``; a new command group is a module whose ``add_parsers`` :func:`build_parser` calls.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from ..graph import command as graph
from . import build, inspect, meta, ops, run, submit
from .output import EXIT_USAGE, run_guarded

_DESCRIPTION = """\
Declare ML pipelines (Axons) in Python or YAML and compile them to Argo Workflows manifests.

PATH is an Axon YAML file (apiVersion myelin.io/v1alpha1 or myelinproj.io/v1alpha1, kind Axon)
or a Python file that declares an Axon (e.g. examples/recommender_demo/pipeline.py).
"""

_EPILOG = """\
examples:
  myelin lint examples/recommender_demo/recommender-demo.yaml
  myelin compile examples/recommender_demo/pipeline.py > bundle.yaml
  myelin compile recommender-demo.yaml -o manifests/ && kubectl apply -k manifests/
  myelin run examples/recommender_demo/pipeline.py --artifact rec-source=examples   # on this machine
  myelin status --local                                                             # its sensors and tasks
  eval "$(myelin completion bash)"                                # tab completion (also zsh, fish)

Exit status: 0 ok; 1 not found, a watched run failed or timed out (myelin run --until: a sensor failed),
myelin diff found changes; 3 myelin run --timeout passed; 2 a problem in the input (lint errors,
bad YAML) or with the cluster (unreachable, forbidden, a CRD missing, an apply conflict); 130 interrupted.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="myelin",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=meta.VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    build.add_compile_parser(sub)
    submit.add_parsers(sub)
    inspect.add_parsers(sub)
    ops.add_parsers(sub)
    run.add_parsers(sub)
    build.add_lint_parser(sub)
    graph.add_parsers(sub)
    meta.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``myelin`` console script."""
    parser = build_parser()
    if "_ARGCOMPLETE" in os.environ:  # the shell asks for completions (see `myelin completion`)
        meta.autocomplete(parser)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    return run_guarded(args.func, args, getattr(args, "path", None))
