"""``python pipeline.py``: the command line ``Axon.main()`` gives a file that declares an Axon.

if __name__ == "__main__":
    sys.exit(axon.main())   # --yaml (default), --lint, --axon-yaml, --submit, --run-local
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .build import emit
from .options import add_cluster_options, add_compile_options, compile_options
from .output import EXIT_OK, EXIT_USAGE, print_diagnostics, run_guarded
from .submit import submit_bundle

if TYPE_CHECKING:
    from ..spec import Axon


def pipeline_main(axon: Axon, argv: Sequence[str] | None = None) -> int:
    """``Axon.main()``: the command line of a ``pipeline.py`` that declares ``axon``."""
    import os

    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "pipeline.py"
    parser = argparse.ArgumentParser(
        prog=prog,
        description=f"The Axon {axon.name!r}: compile it, lint it, or print it as Axon YAML.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"examples:\n  python {prog} --yaml > bundle.yaml\n  python {prog} --yaml -o manifests/\n"
        f"  python {prog} --lint\n  python {prog} --axon-yaml > axon.yaml\n"
        f"  python {prog} --submit -n ml [--dry-run=server]",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--yaml", action="store_true", help="compile and print the manifests (the default)")
    mode.add_argument("--lint", action="store_true", help="lint only")
    mode.add_argument("--axon-yaml", action="store_true", help="print the Axon itself as Axon YAML")
    mode.add_argument(
        "--submit", action="store_true", help="compile and apply to the cluster (see `myelin submit --help`)"
    )
    mode.add_argument(
        "--run-local", action="store_true", help="run it on this machine (see `myelin run --help`)"
    )
    parser.add_argument(
        "-o",
        "--output",
        default="-",
        metavar="DIR",
        help="with --yaml: a directory to write; with --submit: 'yaml' prints the manifests applied",
    )
    add_cluster_options(parser)
    add_compile_options(parser)
    from ..local.arguments import add_run_arguments

    add_run_arguments(parser, with_path=False)
    args = parser.parse_args(argv)

    def run(_: argparse.Namespace) -> int:
        if args.axon_yaml:
            sys.stdout.write(axon.to_yaml())
            return EXIT_OK
        if args.lint:
            from ..lint import lint_axon

            diags = lint_axon(axon)
            print_diagnostics(diags, prog)
            return EXIT_USAGE if any(d.severity == "error" for d in diags) else EXIT_OK
        if args.run_local:
            from pathlib import Path

            from ..local.command import run_command

            return run_command(axon, args, Path(sys.argv[0]) if sys.argv and sys.argv[0] else None)
        if args.submit:
            args.output = "yaml" if args.output == "yaml" else "table"
            return submit_bundle(axon.compile(compile_options(args)), args, prog)
        if args.dry_run:
            parser.error("--dry-run goes with --submit")
        emit(axon.compile(compile_options(args)), args.output, prog)
        return EXIT_OK

    return run_guarded(run, args, prog)
