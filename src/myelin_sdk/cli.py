"""The ``myelin`` command, and ``Axon.main()`` behind ``python pipeline.py``.

Only the standard library is imported at start-up; each command imports what it needs, so ``myelin --help``
answers at once. User mistakes print ``file:line: field.path: message`` and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .compiler.bundle import Bundle
    from .config import CompileOptions
    from .spec import Axon

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

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

Exit status: 0 ok, 2 a problem in the input (lint errors, bad YAML), 1 anything else.
"""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("myelin-sdk")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _add_compile_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("compile options (defaults from MYELIN_<NAME> environment variables)")
    g.add_argument(
        "--registry",
        help="registry images are pushed to, e.g. localhost:5000/ml (default: localhost:5000/myelin)",
    )
    g.add_argument("--tag", help="tag of built images (default: latest)")
    g.add_argument("-n", "--namespace", help="namespace written into every object (default: none)")
    g.add_argument(
        "--registry-secret", help="dockerconfigjson Secret with push credentials for the build steps"
    )
    g.add_argument("--pushgateway-url", help="PUSHGATEWAY_URL given to tasks")
    g.add_argument("--prometheus-url", help="Prometheus the metric gates query")
    g.add_argument(
        "--event-bus", help="Argo Events EventBus of the EventSources and Sensors (default: default)"
    )
    g.add_argument(
        "--gate",
        choices=["script", "analysis-run"],
        help="how Metric conditions are gated: an inline script step (default) or an AnalysisRun",
    )


def _options(args: argparse.Namespace) -> CompileOptions:
    from .config import CompileOptions

    return CompileOptions.from_env(
        registry=args.registry,
        tag=args.tag,
        namespace=args.namespace,
        registry_secret=args.registry_secret,
        pushgateway_url=args.pushgateway_url,
        prometheus_url=args.prometheus_url,
        event_bus=args.event_bus,
        gate=args.gate,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="myelin",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

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
    _add_compile_options(p)

    p = sub.add_parser(
        "submit",
        help="compile an Axon and apply it to a Kubernetes cluster",
        description="Compile PATH (as `myelin compile` does), then create or replace every object in the "
        "cluster, in bundle order; objects of this axon that the bundle no longer holds are pruned (never "
        "Workflows: runs are history; never PersistentVolumeClaims: they hold the data). Re-submitting an "
        "unchanged axon changes nothing. Start Workflows (sensors without triggers) are created only once.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  myelin submit axon.yaml -n ml\n"
        "  myelin submit pipeline.py -n ml --dry-run=server   # the API server checks, nothing changes\n"
        "  myelin submit axon.yaml -n ml --dry-run=client -o yaml   # no cluster needed\n"
        "  myelin submit https://example.com/axon.yaml -n ml --context kind-ml",
    )
    p.add_argument("path", metavar="PATH", help="Axon YAML file, https:// URL of one, or Python file")
    _add_cluster_options(p)
    p.add_argument(
        "-o",
        "--output",
        choices=["table", "yaml"],
        default="table",
        help="table (default): what was done to each object; yaml: print the manifests applied (or, "
        "with --dry-run=client, that would be) and the table on stderr",
    )
    p.add_argument("--axon", metavar="NAME", help="which Axon, when a Python file declares several")
    _add_compile_options(p)

    p = sub.add_parser(
        "lint",
        help="check an Axon for mistakes",
        description="Check PATH: references between tasks, artifacts and models (with did-you-mean), "
        "duplicate "
        "and invalid names, trainer/deployer kinds, weights summing to 100, conditions, "
        "unsupported parts. Exit status 2 when there is an error; warnings alone exit 0.",
    )
    p.add_argument("path", metavar="PATH", help="Axon YAML file or Python file declaring an Axon")
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format (default: text)")
    p.add_argument("--axon", metavar="NAME", help="which Axon, when a Python file declares several")
    return parser


def _print_diagnostics(diags: Sequence[Any], source: str | None) -> None:
    for d in diags:
        print(d.format(source), file=sys.stderr)


def _cmd_lint(args: argparse.Namespace) -> int:
    from .errors import MyelinError
    from .lint import lint_axon
    from .loader import load_path_located, place

    try:
        axon, document = load_path_located(args.path, args.axon)
        diags = place(lint_axon(axon), document)
        source = args.path
    except MyelinError as exc:
        diags, source = exc.diagnostics, exc.source or args.path
    errors = sum(d.severity == "error" for d in diags)
    warnings = len(diags) - errors
    if args.format == "json":
        out = {
            "file": source,
            "errors": errors,
            "warnings": warnings,
            "diagnostics": [d.to_dict(source) for d in diags],
        }
        print(json.dumps(out, indent=2))
    else:
        _print_diagnostics(diags, source)
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
    from .compiler import compile_axon
    from .errors import MyelinError
    from .loader import load_path_located, place

    axon, document = load_path_located(args.path, args.axon)
    try:
        bundle = compile_axon(axon, _options(args))
    except MyelinError as exc:
        raise MyelinError(place(exc.diagnostics, document), args.path) from None
    bundle.warnings = place(bundle.warnings, document)
    if args.review:
        from .yamlio import dump_all

        if args.output != "-":
            raise MyelinError("--review prints the review copies; with -o DIR they are in DIR/review/ anyway")
        for warning in bundle.warnings:
            print(warning.format(args.path), file=sys.stderr)
        sys.stdout.write(dump_all(bundle.reviews))
        return EXIT_OK
    emit(bundle, args.output, args.path)
    return EXIT_OK


def _add_cluster_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("cluster options")
    g.add_argument("--context", help="kubeconfig context (default: the current context)")
    g.add_argument(
        "--kubeconfig", metavar="FILE", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)"
    )
    g.add_argument(
        "--dry-run",
        choices=["client", "server"],
        help="client: print what would be applied, without contacting a cluster; server: send every write "
        "with dryRun=All (the API server validates and admits it, nothing is stored or pruned)",
    )


def _submit_bundle(bundle: Bundle, args: argparse.Namespace, source: str | None) -> int:
    """Apply (or plan) ``bundle`` as the submit options say, and print what was done."""
    from .cluster import connect, plan

    for warning in bundle.warnings:
        print(warning.format(source), file=sys.stderr)
    if args.dry_run == "client":
        report = plan(bundle)
    else:
        cluster = connect(args.context, args.kubeconfig)
        report = cluster.apply(bundle, namespace=args.namespace, dry_run=args.dry_run)
    if args.output == "yaml":
        sys.stdout.write(bundle.to_yaml())
        sys.stderr.write(report.format())
    else:
        sys.stdout.write(report.format())
    return EXIT_OK


def _cmd_submit(args: argparse.Namespace) -> int:
    from .cluster import is_url
    from .compiler import compile_axon
    from .errors import MyelinError
    from .loader import load_path_located, place

    if not is_url(args.path):
        axon, document = load_path_located(args.path, args.axon)
    else:  # an Axon YAML at an https:// URL
        from .axon_yaml import load_axon_document
        from .cluster import fetch_text

        axon, document = load_axon_document(fetch_text(args.path), source=args.path)
    try:
        bundle = compile_axon(axon, _options(args))
    except MyelinError as exc:
        raise MyelinError(place(exc.diagnostics, document), args.path) from None
    bundle.warnings = place(bundle.warnings, document)
    return _submit_bundle(bundle, args, args.path)


def _run(func: Any, args: argparse.Namespace, source: str | None) -> int:
    from .errors import MyelinError

    try:
        code: int = func(args)
        return code
    except MyelinError as exc:
        if exc.source is None and source:
            exc = exc.with_source(source)
        _print_diagnostics(exc.diagnostics, exc.source)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``myelin`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    commands = {"compile": _cmd_compile, "lint": _cmd_lint, "submit": _cmd_submit}
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    return _run(commands[args.command], args, getattr(args, "path", None))


# --- python pipeline.py -----------------------------------------------------------------------------------


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
    parser.add_argument(
        "-o",
        "--output",
        default="-",
        metavar="DIR",
        help="with --yaml: a directory to write; with --submit: 'yaml' prints the manifests applied",
    )
    _add_cluster_options(parser)
    _add_compile_options(parser)
    args = parser.parse_args(argv)

    def run(_: argparse.Namespace) -> int:
        if args.axon_yaml:
            sys.stdout.write(axon.to_yaml())
            return EXIT_OK
        if args.lint:
            from .lint import lint_axon

            diags = lint_axon(axon)
            _print_diagnostics(diags, prog)
            return EXIT_USAGE if any(d.severity == "error" for d in diags) else EXIT_OK
        if args.submit:
            args.output = "yaml" if args.output == "yaml" else "table"
            return _submit_bundle(axon.compile(_options(args)), args, prog)
        if args.dry_run:
            parser.error("--dry-run goes with --submit")
        emit(axon.compile(_options(args)), args.output, prog)
        return EXIT_OK

    return _run(run, args, prog)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
