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
  myelin run examples/recommender_demo/pipeline.py --artifact rec-source=examples   # on this machine
  myelin status --local                                                             # its sensors and tasks

Exit status: 0 ok; 1 not found, a watched run failed or timed out (myelin run --until: a sensor failed);
3 myelin run --timeout passed; 2 a problem in the input (lint errors,
bad YAML) or with the cluster (unreachable, forbidden, a CRD missing); 130 interrupted.
"""


class _VersionAction(argparse.Action):
    """``--version``: looks the version up only when asked (importlib.metadata costs ~20 ms at start-up)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit", **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        parser.exit(message=f"{parser.prog} {_version()}\n")


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
    parser.add_argument("--version", action=_VersionAction)
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
    _add_compile_options(p)
    _add_inspect_parsers(sub)
    _add_run_parser(sub)

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


def _add_connection_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("cluster options")
    g.add_argument("-n", "--namespace", help="namespace (default: the kubeconfig context's)")
    g.add_argument("--context", help="kubeconfig context (default: the current context)")
    g.add_argument(
        "--kubeconfig", metavar="FILE", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)"
    )


def _add_local_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("local runs (myelin run)")
    g.add_argument(
        "--local",
        nargs="?",
        const="",
        metavar="RUN",
        help="a local run instead of the cluster: the newest under --workdir, or run RUN",
    )
    g.add_argument("--workdir", default=".", metavar="DIR", help="where local runs live (default: .)")


def _add_run_parser(sub: Any) -> None:
    from .local.arguments import add_run_arguments

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


def _add_inspect_parsers(sub: Any) -> None:
    """``list``, ``get``, ``status``, ``endpoint``, ``delete`` and ``logs``: an axon in the cluster."""
    raw = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "list",
        help="list the axons of a namespace",
        description="The axons of the namespace (the values of the myelin.io/axon label), with how many "
        "WorkflowTemplates, Sensors, SeldonDeployments and Workflows (runs) each has; '-' when the kind is "
        "not installed in the cluster.",
    )
    p.add_argument("-o", "--output", choices=["table", "json"], default="table", help="default: table")
    _add_connection_options(p)

    p = sub.add_parser(
        "get",
        help="show the objects of an axon",
        description="Every object labelled with the axon: kind, name and age (wide: also status and creation "
        "time); -o yaml|json prints the objects themselves, as a v1 List.",
    )
    p.add_argument("axon", metavar="AXON", help="the axon's name")
    p.add_argument("-o", "--output", choices=["table", "wide", "yaml", "json"], default="table")
    _add_connection_options(p)

    p = sub.add_parser(
        "status",
        help="show an axon's sensors, last runs and deployments",
        description="Sensors (Argo Events) and their conditions, the last 10 runs (Workflows, newest first) "
        "and the SeldonDeployments with their state, predictors, traffic and served versions. A product not "
        "installed in the cluster is said, and the rest still shown.",
    )
    p.add_argument("axon", metavar="AXON", nargs="?", help="the axon's name (not with --local)")
    p.add_argument("-o", "--output", choices=["table", "json"], default="table")
    _add_local_options(p)
    _add_connection_options(p)

    p = sub.add_parser(
        "endpoint",
        help="show the prediction and feedback URLs of an axon",
        description="For each SeldonDeployment of the axon: the predict (/api/v1.0/predictions) and "
        "feedback (/api/v1.0/feedback) URLs. With --ingress, through Seldon's ingress path "
        "/seldon/<namespace>/<name>/ "
        "(it splits traffic between predictors); without, the in-cluster service <name>-<predictor> on port "
        "8000 of the predictor with the most traffic. fixedUrl ends with /api/v1.0/: append 'predictions' "
        "or 'feedback'.",
        formatter_class=raw,
        epilog="examples:\n  myelin endpoint -n ml ml-rec\n"
        "  URL=$(myelin endpoint -n ml ml-rec --ingress http://localhost:8003 -o json | jq -r .fixedUrl)\n"
        "  curl -H 'Content-Type: application/json' -d '{\"data\": {\"ndarray\": [3, 4]}}' ${URL}predictions",
    )
    p.add_argument("axon", metavar="AXON", nargs="?", help="the axon's name (not with --local)")
    p.add_argument("-o", "--output", choices=["table", "json"], default="table")
    _add_local_options(p)
    p.add_argument(
        "--ingress",
        metavar="URL",
        help="base URL of the Ambassador or Istio ingress Seldon routes through "
        "(default: $MYELIN_INGRESS_URL)",
    )
    _add_connection_options(p)

    p = sub.add_parser(
        "delete",
        help="delete every object of an axon",
        description="Delete every object labelled with the axon, runs (Workflows) included, Sensors first. "
        "The PersistentVolumeClaim holding its data and models goes too, unless --keep-data. Asks for "
        "confirmation on a terminal; elsewhere (CI) --yes is required.",
    )
    p.add_argument("axon", metavar="AXON", help="the axon's name")
    p.add_argument("--keep-data", action="store_true", help="keep the PersistentVolumeClaim")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    _add_connection_options(p)

    p = sub.add_parser(
        "logs",
        help="print the logs of an axon's pods",
        description="The 'main' container log of every pod of the axon (or of one task), newest pod first.",
    )
    p.add_argument("axon", metavar="AXON", help="the axon's name")
    p.add_argument("--task", metavar="TASK", help="only the pods of this task")
    p.add_argument("--tail", type=int, metavar="N", help="only the last N lines of each log")
    _add_connection_options(p)


def _connected(args: argparse.Namespace) -> tuple[Any, str]:
    """The transport and the namespace of an inspect command."""
    from .cluster import connect

    cluster = connect(args.context, args.kubeconfig)
    return cluster.transport, args.namespace or cluster.default_namespace


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))


def _show(output: str, data: Any, table: Any) -> int:
    """``-o json``: ``data`` as JSON; otherwise the text of ``table(data)``."""
    if output == "json":
        _print_json(data)
    else:
        sys.stdout.write(table(data))
    return EXIT_OK


def _warn_missing(missing: Sequence[str]) -> None:
    for message in missing:
        print(f"note: {message}", file=sys.stderr)


def _cmd_list(args: argparse.Namespace) -> int:
    from .cluster.inspect import format_axons, list_axons

    transport, namespace = _connected(args)
    axons, missing = list_axons(transport, namespace)
    if args.output == "json":
        _print_json({"namespace": namespace, "axons": [a.to_dict() for a in axons], "missing": missing})
    else:
        _warn_missing(missing)
        sys.stdout.write(format_axons(axons, namespace))
    return EXIT_OK


def _cmd_get(args: argparse.Namespace) -> int:
    from .cluster.inspect import axon_objects, format_objects, require_some

    transport, namespace = _connected(args)
    objects, missing = axon_objects(transport, namespace, args.axon)
    require_some(bool(objects), args.axon, namespace)
    _warn_missing(missing)
    listing = {"apiVersion": "v1", "kind": "List", "items": objects}
    if args.output == "json":
        _print_json(listing)
    elif args.output == "yaml":
        from .yamlio import dump

        sys.stdout.write(dump(listing))
    else:
        sys.stdout.write(format_objects(objects, wide=args.output == "wide"))
    return EXIT_OK


def _need_axon(args: argparse.Namespace) -> None:
    if not args.axon:
        from .errors import MyelinError

        raise MyelinError(f"myelin {args.command}: give the axon's name, or --local for a local run")


def _cmd_status(args: argparse.Namespace) -> int:
    if args.local is not None:
        from pathlib import Path

        from .local.command import format_local_status, local_status

        return _show(args.output, local_status(Path(args.workdir), args.local or None), format_local_status)
    _need_axon(args)
    from .cluster.inspect import axon_status, format_status

    transport, namespace = _connected(args)
    return _show(args.output, axon_status(transport, namespace, args.axon), format_status)


def _cmd_endpoint(args: argparse.Namespace) -> int:
    import os

    if args.local is not None:
        from pathlib import Path

        from .local.command import local_endpoints

        found = local_endpoints(Path(args.workdir), args.local or None)
        return _show(
            args.output,
            {
                name: {"predict": f"{url}/predict", "feedback": f"{url}/send-feedback"}
                for name, url in found.items()
            },
            lambda data: "".join(f"{n}: {u['predict']}  {u['feedback']}\n" for n, u in data.items()),
        )
    _need_axon(args)
    from .cluster.inspect import endpoints, format_endpoints

    transport, namespace = _connected(args)
    ingress = args.ingress or os.environ.get("MYELIN_INGRESS_URL")
    return _show(args.output, endpoints(transport, namespace, args.axon, ingress), format_endpoints)


def _cmd_delete(args: argparse.Namespace) -> int:
    from .cluster.ops import deletable, delete_objects
    from .errors import MyelinError

    transport, namespace = _connected(args)
    objects = deletable(transport, namespace, args.axon, args.keep_data)
    what = f"{len(objects)} object(s) of axon {args.axon} in namespace {namespace}"
    if not args.yes:
        if not sys.stdin.isatty():
            raise MyelinError(
                f"refusing to delete {what} without confirmation: pass --yes (stdin is not a terminal)"
            )
        for obj in objects:
            print(f"  {obj['kind']}/{obj['metadata']['name']}", file=sys.stderr)
        keep = " (keeping the PersistentVolumeClaim)" if args.keep_data else ""
        answer = input(f"delete {what}{keep}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted", file=sys.stderr)
            return EXIT_FAILURE
    count = 0
    for obj, outcome in delete_objects(transport, namespace, objects):
        print(f"{obj['kind']}/{obj['metadata']['name']} {outcome}")
        count += outcome == "deleted"
    print(f"axon {args.axon}: {count} deleted", file=sys.stderr)
    return EXIT_OK


def _cmd_logs(args: argparse.Namespace) -> int:
    from .cluster.ops import pod_logs

    transport, namespace = _connected(args)
    for entry in pod_logs(transport, namespace, args.axon, args.task, args.tail):
        task = f" task {entry.task}," if entry.task else ""
        print(f"==> pod {entry.pod} ({task.strip()} {entry.phase}) <==".replace("( ", "("), flush=True)
        if entry.text is None:
            print(f"cannot read the log of pod {entry.pod}: {entry.error}", file=sys.stderr)
        else:
            sys.stdout.write(entry.text if not entry.text or entry.text.endswith("\n") else entry.text + "\n")
    return EXIT_OK


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
    watching = bool(getattr(args, "watch", False))
    if watching and args.dry_run:
        from .errors import MyelinError

        raise MyelinError("--watch follows what a submit started: it does not go with --dry-run")
    if args.dry_run == "client":
        report = plan(bundle)
    else:
        cluster = connect(args.context, args.kubeconfig)
        before: dict[str, str] = {}
        if watching:
            from .cluster.ops import workflow_phases

            before = workflow_phases(cluster.transport, _watch_namespace(bundle, args, cluster), bundle.axon)
        report = cluster.apply(bundle, namespace=args.namespace, dry_run=args.dry_run)
    if args.output == "yaml":
        sys.stdout.write(bundle.to_yaml())
        sys.stderr.write(report.format())
    else:
        sys.stdout.write(report.format())
    if watching:
        from .cluster.ops import watch

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


def _watch_namespace(bundle: Bundle, args: argparse.Namespace, cluster: Any) -> str:
    """Where the submit put the axon: -n, else the manifests' namespace, else the context's."""
    for manifest in bundle:
        if manifest.get("metadata", {}).get("namespace"):
            return args.namespace or str(manifest["metadata"]["namespace"])
    return str(args.namespace or cluster.default_namespace)


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


def _cmd_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .loader import load_path
    from .local.command import run_command

    return run_command(load_path(args.path, args.axon), args, Path(args.path))


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
    commands = {
        "compile": _cmd_compile,
        "lint": _cmd_lint,
        "submit": _cmd_submit,
        "list": _cmd_list,
        "get": _cmd_get,
        "status": _cmd_status,
        "endpoint": _cmd_endpoint,
        "delete": _cmd_delete,
        "logs": _cmd_logs,
        "run": _cmd_run,
    }
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
    _add_cluster_options(parser)
    _add_compile_options(parser)
    from .local.arguments import add_run_arguments

    add_run_arguments(parser, with_path=False)
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
        if args.run_local:
            from pathlib import Path

            from .local.command import run_command

            return run_command(axon, args, Path(sys.argv[0]) if sys.argv and sys.argv[0] else None)
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
