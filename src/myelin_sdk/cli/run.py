"""``myelin run``: the whole Axon on this machine (the runner is :mod:`myelin_sdk.local`).

add_parsers(sub)   # registers run on the ``myelin`` subparsers
"""

from __future__ import annotations

import argparse
from typing import Any


def add_parsers(sub: Any) -> None:
    from ..local.arguments import add_run_arguments

    p = sub.add_parser(
        "run",
        help="run an Axon on this machine: tasks, sensors, metrics and model serving",
        description="Run the whole Axon locally: tasks as subprocesses in .myelin/runs/<id>/, sensors as an\n"
        "event loop, metrics in an embedded store (or --prometheus), every deployed model version in the\n"
        "seldon-core microservice (its own virtual environment, cached) behind a weighted router on --port.\n"
        "Runs until Ctrl-C, --until or --timeout; `myelin run PATH --resume` continues a stopped or crashed\n"
        "run without re-running finished tasks. See docs/local.md.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  myelin run examples/recommender_demo/pipeline.py --artifact rec-source=examples\n"
        "  myelin run axon.yaml --until deployed --timeout 900\n"
        "  curl -d '{\"data\": {\"ndarray\": [3, 4]}}' -H 'Content-Type: application/json' "
        "http://127.0.0.1:9000/predict\n"
        "  curl -X POST http://127.0.0.1:<control port>/trigger/<sensor>     # a Rest trigger\n\n"
        "exit status: 0 ok; 1 a failure (--until deployed can no longer happen, or --until idle\n"
        "with a failed sensor: the reason and the failed task's log are printed last);\n"
        "2 a problem in the input; "
        "3 --timeout passed; 130 interrupted",
    )
    add_run_arguments(p)
    p.set_defaults(func=_cmd_run)


def _cmd_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..loader import load_path
    from ..local.command import run_command

    return run_command(load_path(args.path, args.axon), args, Path(args.path))
