"""``myelin submit`` (and ``python pipeline.py --submit``): compile, apply, optionally watch; ``myelin diff``:
what a submit would change.

add_parsers(sub)                              # registers submit and diff on the ``myelin`` subparsers
submit_bundle(axon.compile(options), args, "pipeline.py")
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from .options import add_cluster_options, add_compile_options, compile_options
from .output import EXIT_FAILURE, EXIT_OK

if TYPE_CHECKING:
    from ..compiler.bundle import Bundle


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "submit",
        help="compile an Axon and apply it to a Kubernetes cluster",
        description="Compile PATH (as `myelin compile` does), then server-side apply every object to the "
        "cluster, in bundle order, as field manager 'myelin': fields other managers set (an autoscaler, "
        "kubectl edit) are kept; a field another manager set to another value is a conflict (exit 2) unless "
        "--force-conflicts. Objects of this axon that the bundle no longer holds are pruned (never "
        "Workflows: runs are history; never PersistentVolumeClaims: they hold the data). Re-submitting an "
        "unchanged axon changes nothing. Start Workflows (sensors without triggers) are created only once.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  myelin submit axon.yaml -n ml\n"
        "  myelin diff axon.yaml -n ml                         # what the submit would change\n"
        "  myelin submit pipeline.py -n ml --dry-run=server   # the API server checks, nothing changes\n"
        "  myelin submit axon.yaml -n ml --force-conflicts     # take back fields changed by hand\n"
        "  myelin submit axon.yaml -n ml --dry-run=client -o yaml   # no cluster needed\n"
        "  myelin submit https://example.com/axon.yaml -n ml --context kind-ml",
    )
    p.add_argument("path", metavar="PATH", help="Axon YAML file, https:// URL of one, or Python file")
    add_cluster_options(p)
    p.add_argument(
        "-o",
        "--output",
        choices=["table", "yaml", "json"],
        default="table",
        help="table (default): what was done to each object; yaml or json: print the manifests applied "
        "(or, with --dry-run=client, that would be) — json as a v1 List, as kubectl does — and the table "
        "on stderr",
    )
    p.add_argument("--axon", metavar="NAME", help="which Axon, when a Python file declares several")
    p.add_argument(
        "--watch",
        action="store_true",
        help="after applying, follow the axon's Workflows and SeldonDeployments (printing phase changes) "
        "until its first SeldonDeployment is Available (exit 0) or one of its Workflows fails (exit 1)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="with --watch: give up (exit 1) after this long (default: 600)",
    )
    add_compile_options(p)
    p.set_defaults(func=_cmd_submit)

    p = sub.add_parser(
        "diff",
        help="show what `myelin submit` would change in the cluster",
        description="Compile PATH, apply each object in a server dry run (dryRun=All: the API server "
        "merges, defaults and validates, and stores nothing) and print, per object, a unified diff of the "
        "live object and the result, as YAML without managedFields (as kubectl diff does); objects the "
        "submit would prune are shown removed. Exit status: 0 no change, 1 changes, 2 an error (a "
        "conflict too, unless --force-conflicts).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  myelin diff axon.yaml -n ml\n"
        "  myelin diff https://example.com/axon.yaml -n ml --tag v2 && echo 'nothing to submit'",
    )
    p.add_argument("path", metavar="PATH", help="Axon YAML file, https:// URL of one, or Python file")
    add_cluster_options(p, dry_run=False)
    p.add_argument("--axon", metavar="NAME", help="which Axon, when a Python file declares several")
    add_compile_options(p)
    p.set_defaults(func=_cmd_diff)


def submit_bundle(bundle: Bundle, args: argparse.Namespace, source: str | None) -> int:
    """Apply (or plan) ``bundle`` as the submit options say, and print what was done."""
    from ..cluster import connect, plan

    for warning in bundle.warnings:
        print(warning.format(source), file=sys.stderr)
    watching = bool(getattr(args, "watch", False))
    if watching and args.dry_run:
        from ..errors import MyelinError

        raise MyelinError("--watch follows what a submit started: it does not go with --dry-run")
    if args.dry_run == "client":
        report = plan(bundle)
    else:
        cluster = connect(args.context, args.kubeconfig)
        before: dict[str, str] = {}
        if watching:
            from ..cluster.ops import workflow_phases

            before = workflow_phases(cluster.transport, _watch_namespace(bundle, args, cluster), bundle.axon)
        report = _apply(cluster, bundle, args)
    if args.output in ("yaml", "json"):
        if args.output == "yaml":
            sys.stdout.write(bundle.to_yaml())
        else:
            import json

            items = list(bundle)
            print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {}}, indent=2))
        sys.stderr.write(report.format())
    else:
        sys.stdout.write(report.format())
    if watching:
        from ..cluster.ops import watch

        sys.stdout.flush()
        result = watch(
            cluster.transport,
            _watch_namespace(bundle, args, cluster),
            bundle.axon,
            args.timeout,
            lambda line: print(line, flush=True),
            before=before,
        )
        print(result.message, file=sys.stdout if result.ok else sys.stderr)
        return EXIT_OK if result.ok else EXIT_FAILURE
    return EXIT_OK


def _apply(cluster: Any, bundle: Bundle, args: argparse.Namespace) -> Any:
    """``cluster.apply``; on conflicts, the table of what was applied (stdout) before the error lines."""
    from ..cluster import ApplyConflictError

    try:
        return cluster.apply(
            bundle,
            namespace=args.namespace,
            dry_run=args.dry_run,
            force_conflicts=bool(getattr(args, "force_conflicts", False)),
        )
    except ApplyConflictError as exc:
        if exc.report is not None and len(exc.report):
            print(exc.report.format(), end="", file=sys.stderr if args.output != "table" else sys.stdout)
        raise


def _watch_namespace(bundle: Bundle, args: argparse.Namespace, cluster: Any) -> str:
    """Where the submit put the axon: -n, else the manifests' namespace, else the context's."""
    for manifest in bundle:
        if manifest.get("metadata", {}).get("namespace"):
            return args.namespace or str(manifest["metadata"]["namespace"])
    return str(args.namespace or cluster.default_namespace)


def _cmd_submit(args: argparse.Namespace) -> int:
    return submit_bundle(_compile(args), args, args.path)


def _cmd_diff(args: argparse.Namespace) -> int:
    from ..cluster import connect

    bundle = _compile(args)
    for warning in bundle.warnings:
        print(warning.format(args.path), file=sys.stderr)
    cluster = connect(args.context, args.kubeconfig)
    diff = cluster.diff(bundle, namespace=args.namespace, force_conflicts=args.force_conflicts)
    sys.stdout.write(diff.format())
    return EXIT_FAILURE if diff.changed else EXIT_OK


def _compile(args: argparse.Namespace) -> Bundle:
    """PATH (a file or an https:// URL) compiled with the compile options; diagnostics placed in it."""
    from ..cluster import is_url
    from ..compiler import compile_axon
    from ..errors import MyelinError
    from ..loader import load_path_located, place

    if not is_url(args.path):
        axon, document = load_path_located(args.path, args.axon)
    else:  # an Axon YAML at an https:// URL
        from ..axon_yaml import load_axon_document
        from ..cluster import fetch_text

        axon, document = load_axon_document(fetch_text(args.path), source=args.path)
    try:
        bundle = compile_axon(axon, compile_options(args))
    except MyelinError as exc:
        raise MyelinError(place(exc.diagnostics, document), args.path) from None
    bundle.warnings = place(bundle.warnings, document)
    return bundle
