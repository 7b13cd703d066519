"""Flags shared by several commands: compile options, cluster connection, local runs.

g = add_connection_options(parser, all_namespaces=True)  # -n, -A, --context, --kubeconfig
options = compile_options(args)                          # CompileOptions from the compile flags
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import CompileOptions


def add_compile_options(p: argparse.ArgumentParser) -> None:
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
    g.add_argument("--prometheus-url", help="Prometheus the metric gates query (https is verified)")
    g.add_argument(
        "--prometheus-secret",
        metavar="NAME",
        help="Secret mounted into the metric gates: key 'token' (a bearer token sent to Prometheus), "
        "optionally 'ca.crt' (the CA of its https certificate); the bundle names it, never holds it",
    )
    g.add_argument(
        "--prometheus-insecure",
        action="store_true",
        default=None,
        help="do not verify the https certificate of the gates' Prometheus (labs only)",
    )
    g.add_argument(
        "--event-bus", help="Argo Events EventBus of the EventSources and Sensors (default: default)"
    )
    g.add_argument(
        "--gate",
        choices=["script", "analysis-run"],
        help="how Metric conditions are gated: an inline script step (default) or an AnalysisRun",
    )


def compile_options(args: argparse.Namespace) -> CompileOptions:
    from ..config import CompileOptions

    return CompileOptions.from_env(
        registry=args.registry,
        tag=args.tag,
        namespace=args.namespace,
        registry_secret=args.registry_secret,
        pushgateway_url=args.pushgateway_url,
        prometheus_url=args.prometheus_url,
        prometheus_secret=args.prometheus_secret,
        prometheus_insecure=args.prometheus_insecure,
        event_bus=args.event_bus,
        gate=args.gate,
    )


def add_cluster_options(p: argparse.ArgumentParser, dry_run: bool = True) -> None:
    """``--context``, ``--kubeconfig``, ``--force-conflicts`` and ``--dry-run`` of ``submit`` (``-n`` is a
    compile option); ``myelin diff`` has no ``--dry-run`` (it is one)."""
    g = p.add_argument_group("cluster options")
    g.add_argument("--context", help="kubeconfig context (default: the current context)")
    g.add_argument(
        "--kubeconfig", metavar="FILE", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)"
    )
    g.add_argument(
        "--force-conflicts",
        action="store_true",
        help="take over the fields that another field manager (kubectl edit, an operator) set to another "
        "value; without it such a field is a conflict, reported, and left as it is",
    )
    if dry_run:
        g.add_argument(
            "--dry-run",
            choices=["client", "server"],
            help="client: print what would be applied, without contacting a cluster; server: send every "
            "apply with dryRun=All (the API server merges, validates and admits it; nothing is stored or "
            "pruned)",
        )


def add_connection_options(p: argparse.ArgumentParser, all_namespaces: bool = False) -> None:
    g = p.add_argument_group("cluster options")
    g.add_argument("-n", "--namespace", help="namespace (default: the kubeconfig context's)")
    if all_namespaces:
        g.add_argument(
            "-A",
            "--all-namespaces",
            action="store_true",
            help="every namespace (not with -n)",
        )
    g.add_argument("--context", help="kubeconfig context (default: the current context)")
    g.add_argument(
        "--kubeconfig", metavar="FILE", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)"
    )


def add_local_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("local runs (myelin run)")
    g.add_argument(
        "--local",
        nargs="?",
        const="",
        metavar="RUN",
        help="a local run instead of the cluster: the newest under --workdir, or run RUN",
    )
    g.add_argument("--workdir", default=".", metavar="DIR", help="where local runs live (default: .)")


def connected(args: argparse.Namespace) -> tuple[Any, str | None]:
    """The transport and the namespace of a cluster command: ``None`` with ``-A`` (every namespace)."""
    from ..cluster import connect

    if getattr(args, "all_namespaces", False) and args.namespace:
        from ..errors import MyelinError

        raise MyelinError(f"myelin {args.command}: give -n/--namespace or -A/--all-namespaces, not both")
    cluster = connect(args.context, args.kubeconfig)
    if getattr(args, "all_namespaces", False):
        return cluster.transport, None
    return cluster.transport, args.namespace or cluster.default_namespace
