"""``myelin compile`` and ``myelin lint``: an Axon file in, manifests or diagnostics out.

add_compile_parser(sub); add_lint_parser(sub)  # on the ``myelin`` subparsers
emit(bundle, "-", "axon.yaml")  # the bundle on stdout, its warnings on stderr
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from .options import add_compile_options, compile_options
from .output import DATA_FORMATS, EXIT_OK, EXIT_USAGE, print_data, print_diagnostics

if TYPE_CHECKING:
    from ..compiler.bundle import Bundle


def add_compile_parser(sub: Any) -> None:
    p = sub.add_parser(
        "compile",
        help="compile an Axon to Kubernetes manifests",
        description="Lint PATH, then compile it: RBAC, the shared volume's claim, Argo WorkflowTemplates for "
        "tasks, sensors and deployers (deploy steps applying Seldon Core SeldonDeployments, with promote and "
        "rollback templates), Argo Events EventSources and Sensors, PrometheusRules and AlertmanagerConfigs. "
        "Refuses an axon with lint errors, with the same messages and exit status 2 as `myelin lint`.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  myelin compile axon.yaml            # one YAML stream on stdout\n"
        "  myelin compile pipeline.py -o out/   # one file per object + kustomization.yaml",
    )
    p.add_argument("path", metavar="PATH", help="Axon YAML file or Python file declaring an Axon")
    p.add_argument(
        "-o",
        "--output",
        default="-",
        metavar="DIR",
        help="'-' (default): print one multi-document YAML stream; else a directory to (re)write "
        "atomically with one file per object and a kustomization.yaml",
    )
    p.add_argument("--axon", metavar="NAME", help="which Axon, when a Python file declares several")
    p.add_argument(
        "--review",
        action="store_true",
        help="print, instead of the bundle, the SeldonDeployment each deploy step would apply first "
        "(version shown as 'latest'); with -o DIR these are always written to DIR/review/",
    )
    add_compile_options(p)
    p.set_defaults(func=_cmd_compile)


def add_lint_parser(sub: Any) -> None:
    p = sub.add_parser(
        "lint",
        help="check an Axon for mistakes",
        description="Check PATH: references between tasks, artifacts and models (with did-you-mean), "
        "duplicate "
        "and invalid names, trainer/deployer kinds, weights summing to 100, conditions, "
        "unsupported parts. Exit status 2 when there is an error; warnings alone exit 0.",
    )
    p.add_argument("path", metavar="PATH", help="Axon YAML file or Python file declaring an Axon")
    p.add_argument(
        "-o",
        "--output",
        "--format",
        dest="output",
        choices=["text", *DATA_FORMATS],
        default="text",
        help="text (default): one line per diagnostic on stderr; json|yaml: the diagnostics as objects "
        "on stdout (--format is the older name of this flag)",
    )
    p.add_argument("--axon", metavar="NAME", help="which Axon, when a Python file declares several")
    p.set_defaults(func=_cmd_lint)


def _cmd_lint(args: argparse.Namespace) -> int:
    from ..errors import MyelinError
    from ..lint import lint_axon
    from ..loader import load_path_located, place

    try:
        axon, document = load_path_located(args.path, args.axon)
        diags = place(lint_axon(axon), document)
        source = args.path
    except MyelinError as exc:
        diags, source = exc.diagnostics, exc.source or args.path
    errors = sum(d.severity == "error" for d in diags)
    warnings = len(diags) - errors
    if args.output in DATA_FORMATS:
        out = {
            "file": source,
            "errors": errors,
            "warnings": warnings,
            "diagnostics": [d.to_dict(source) for d in diags],
        }
        print_data(args.output, out)
    else:
        print_diagnostics(diags, source)
        print(f"{source}: {errors} error(s), {warnings} warning(s)", file=sys.stderr)
    return EXIT_USAGE if errors else EXIT_OK


def emit(bundle: Bundle, output: str, source: str | None = None) -> None:
    """Print the bundle (``-``) or write it to a directory; its warnings go to stderr."""
    for warning in bundle.warnings:
        print(warning.format(source), file=sys.stderr)
    if output == "-":
        sys.stdout.write(bundle.to_yaml())
    else:
        paths = bundle.write(output)
        print(f"wrote {len(paths)} files to {output}", file=sys.stderr)


def _cmd_compile(args: argparse.Namespace) -> int:
    from ..compiler import compile_axon
    from ..errors import MyelinError
    from ..loader import load_path_located, place

    axon, document = load_path_located(args.path, args.axon)
    try:
        bundle = compile_axon(axon, compile_options(args))
    except MyelinError as exc:
        raise MyelinError(place(exc.diagnostics, document), args.path) from None
    bundle.warnings = place(bundle.warnings, document)
    if args.review:
        from ..yamlio import dump_all

        if args.output != "-":
            raise MyelinError("--review prints the review copies; with -o DIR they are in DIR/review/ anyway")
        for warning in bundle.warnings:
            print(warning.format(args.path), file=sys.stderr)
        sys.stdout.write(dump_all(bundle.reviews))
        return EXIT_OK
    emit(bundle, args.output, args.path)
    return EXIT_OK
