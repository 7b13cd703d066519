"""``myelin list``, ``get``, ``status`` and ``endpoint``: an axon read back from the cluster (or, for
``status`` and ``endpoint``, from a local run with ``--local``).

    add_parsers(sub)   # registers the four commands on the ``myelin`` subparsers
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .options import add_connection_options, add_local_options, connected
from .output import DATA_FORMATS, EXIT_OK, add_output_option, print_data, show, warn_missing


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "list",
        help="list the axons of a namespace (-A: of every namespace)",
        description="The axons of the namespace (the values of the myelin.io/axon label), with how many "
        "WorkflowTemplates, Sensors, SeldonDeployments and Workflows (runs) each has; '-' when the kind is "
        "not installed in the cluster. -A: the axons of every namespace, with a NAMESPACE column.",
    )
    add_output_option(p)
    add_connection_options(p, all_namespaces=True)
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser(
        "get",
        help="show the objects of an axon",
        description="Every object labelled with the axon: kind, name and age (wide: also status and creation "
        "time); -o yaml|json prints the objects themselves, as a v1 List.",
    )
    p.add_argument("axon", metavar="AXON", help="the axon's name")
    add_output_option(p, table=("table", "wide"))
    add_connection_options(p)
    p.set_defaults(func=_cmd_get)

    p = sub.add_parser(
        "status",
        help="show an axon's sensors, last runs and deployments",
        description="Sensors (Argo Events) and their conditions, the last 10 runs (Workflows, newest first) "
        "and the SeldonDeployments with their state, predictors, traffic and served versions. A product not "
        "installed in the cluster is said, and the rest still shown. -A: the axon in every namespace that "
        'has it (-o json|yaml: {"items": [status, ...]}).',
    )
    p.add_argument("axon", metavar="AXON", nargs="?", help="the axon's name (not with --local)")
    add_output_option(p)
    add_local_options(p)
    add_connection_options(p, all_namespaces=True)
    p.set_defaults(func=_cmd_status)

    p = sub.add_parser(
        "endpoint",
        help="show the prediction and feedback URLs of an axon",
        description="For each SeldonDeployment of the axon: the predict (/api/v1.0/predictions) and "
        "feedback (/api/v1.0/feedback) URLs. With --ingress, through Seldon's ingress path "
        "/seldon/<namespace>/<name>/ "
        "(it splits traffic between predictors); without, the in-cluster service <name>-<predictor> on port "
        "8000 of the predictor with the most traffic. fixedUrl ends with /api/v1.0/: append 'predictions' "
        "or 'feedback'.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  myelin endpoint -n ml ml-rec\n"
        "  URL=$(myelin endpoint -n ml ml-rec --ingress http://localhost:8003 -o json | jq -r .fixedUrl)\n"
        "  curl -H 'Content-Type: application/json' -d '{\"data\": {\"ndarray\": [3, 4]}}' ${URL}predictions",
    )
    p.add_argument("axon", metavar="AXON", nargs="?", help="the axon's name (not with --local)")
    add_output_option(p)
    add_local_options(p)
    p.add_argument(
        "--ingress",
        metavar="URL",
        help="base URL of the Ambassador or Istio ingress Seldon routes through "
        "(default: $MYELIN_INGRESS_URL)",
    )
    add_connection_options(p)
    p.set_defaults(func=_cmd_endpoint)


def _cmd_list(args: argparse.Namespace) -> int:
    from ..cluster.inspect import format_axons, list_axons

    transport, namespace = connected(args)
    axons, missing = list_axons(transport, namespace)
    if args.output in DATA_FORMATS:
        print_data(
            args.output, {"namespace": namespace, "axons": [a.to_dict() for a in axons], "missing": missing}
        )
    else:
        warn_missing(missing)
        sys.stdout.write(format_axons(axons, namespace))
    return EXIT_OK


def _cmd_get(args: argparse.Namespace) -> int:
    from ..cluster.inspect import axon_objects, format_objects, require_some

    transport, namespace = connected(args)
    assert namespace is not None  # get takes no -A
    objects, missing = axon_objects(transport, namespace, args.axon)
    require_some(bool(objects), args.axon, namespace)
    warn_missing(missing)
    listing = {"apiVersion": "v1", "kind": "List", "items": objects}
    return show(args.output, listing, lambda _: format_objects(objects, wide=args.output == "wide"))


def _need_axon(args: argparse.Namespace) -> None:
    if not args.axon:
        from ..errors import MyelinError

        raise MyelinError(f"myelin {args.command}: give the axon's name, or --local for a local run")


def _cmd_status(args: argparse.Namespace) -> int:
    if args.local is not None and args.all_namespaces:
        from ..errors import MyelinError

        raise MyelinError("myelin status: -A/--all-namespaces reads the cluster; it does not go with --local")
    if args.local is not None:
        from pathlib import Path

        from ..local.command import format_local_status, local_status

        return show(args.output, local_status(Path(args.workdir), args.local or None), format_local_status)
    _need_axon(args)
    from ..cluster.inspect import axon_namespaces
    from ..cluster.status import axon_status, format_status

    transport, namespace = connected(args)
    if namespace is not None:
        return show(args.output, axon_status(transport, namespace, args.axon), format_status)
    statuses = [axon_status(transport, ns, args.axon) for ns in axon_namespaces(transport, args.axon)]
    return show(args.output, {"items": statuses}, lambda d: "\n".join(format_status(s) for s in d["items"]))


def _cmd_endpoint(args: argparse.Namespace) -> int:
    import os

    if args.local is not None:
        from pathlib import Path

        from ..local.command import local_endpoints, local_routes

        found = local_endpoints(Path(args.workdir), args.local or None)
        routes = local_routes(Path(args.workdir), args.local or None)
        return show(
            args.output,
            {
                name: {
                    "predict": f"{url}/predict",
                    "feedback": f"{url}/send-feedback",
                    "routes": routes.get(name, {}),  # every route of the deployer: path -> URL
                }
                for name, url in found.items()
            },
            lambda data: "".join(
                f"{n}: {u['predict']}  {u['feedback']}\n"
                + "".join(  # a model graph's routes, one a line (not for the two of one model)
                    f"  {path}  {route}\n"
                    for path, route in u["routes"].items()
                    if set(u["routes"]) - {"/predict", "/send-feedback"}
                )
                for n, u in data.items()
            ),
        )
    _need_axon(args)
    from ..cluster.endpoints import endpoints, format_endpoints

    transport, namespace = connected(args)
    assert namespace is not None  # endpoint takes no -A
    ingress = args.ingress or os.environ.get("MYELIN_INGRESS_URL")
    return show(args.output, endpoints(transport, namespace, args.axon, ingress), format_endpoints)
