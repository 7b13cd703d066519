"""The flags of ``myelin run`` and ``python pipeline.py --run-local`` (standard library only: the CLI builds
its parser without importing the engine)."""

from __future__ import annotations

import argparse
import contextlib


def add_run_arguments(p: argparse.ArgumentParser, *, with_path: bool = True) -> None:
    if with_path:
        p.add_argument("path", metavar="PATH", help="Axon YAML file or Python file declaring an Axon")
        p.add_argument("--axon", metavar="NAME", help="which Axon, when a Python file declares several")
    g = p.add_argument_group("local run options")
    g.add_argument(
        "--workdir",
        metavar="DIR",
        default=".",
        help="where runs live: DIR/.myelin/runs/<id>/ (default: the current directory)",
    )
    g.add_argument(
        "--artifact",
        metavar="NAME=PATH",
        action="append",
        default=[],
        help="use the folder PATH (relative to the current directory) as artifact NAME instead of cloning "
        "it (repeatable)",
    )
    g.add_argument(
        "--prometheus",
        metavar="URL",
        help="evaluate conditions on this Prometheus (needs --pushgateway); default: an embedded store",
    )
    g.add_argument("--pushgateway", metavar="URL", help="the Pushgateway tasks push to, with --prometheus")
    g.add_argument(
        "--prometheus-ca",
        metavar="FILE",
        help="CA certificate(s) (PEM) verifying an https --prometheus (default: the system's CAs); "
        "an https --pushgateway is verified with the system's CAs and these",
    )
    g.add_argument(
        "--prometheus-token-file",
        metavar="FILE",
        help="file holding a bearer token sent to --prometheus (read from the file, never a flag value)",
    )
    # `python pipeline.py` has it already, as a compile option: one flag for both
    with contextlib.suppress(argparse.ArgumentError):
        g.add_argument(
            "--prometheus-insecure",
            action="store_true",
            default=None,
            help="do not verify the https certificates of Prometheus and the Pushgateway (labs only)",
        )
    g.add_argument(
        "--until",
        choices=["idle", "deployed"],
        help="stop when nothing runs any more (idle) or after the first deploy (deployed) — or, exit "
        "status 1, as soon as a failure means it can no longer happen; default: run until Ctrl-C or "
        "--timeout",
    )
    g.add_argument(
        "--timeout", type=float, metavar="S", help="stop everything after S seconds (exit status 3)"
    )
    g.add_argument(
        "--port", type=int, default=9000, metavar="P", help="where the model endpoint listens (default: 9000)"
    )
    g.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=False,
        metavar="RUN",
        help="continue a run that was stopped or crashed (default: the newest) without re-running "
        "finished tasks",
    )
    g.add_argument(
        "--alert-interval",
        type=float,
        default=5.0,
        metavar="S",
        help="how often alerts are evaluated (default: 5); a push to the embedded store evaluates them too",
    )
    g.add_argument(
        "--plain", action="store_true", help="log lines only, no live view (the default when piped)"
    )
