"""``myelin delete`` and ``myelin logs``: acting on an axon's objects and pods in the cluster.

add_parsers(sub)   # registers delete and logs on the ``myelin`` subparsers
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .options import add_connection_options, connected
from .output import DATA_FORMATS, EXIT_FAILURE, EXIT_OK, add_output_option, print_data


def add_parsers(sub: Any) -> None:
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
    add_output_option(
        p,
        table=("text",),
        help="text (default): one line per object as it goes; json|yaml: at the end, "
        "{axon, namespace, objects: [{kind, name, outcome}]}",
    )
    add_connection_options(p)
    p.set_defaults(func=_cmd_delete)

    p = sub.add_parser(
        "logs",
        help="print the logs of an axon's pods",
        description="The 'main' container log of every pod of the axon (or of one task), newest pod first. "
        "-f: follow one pod's log (the newest running one, else the newest) as it is written, until the pod "
        "ends or Ctrl-C.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  myelin logs ml-rec -n ml --task Train --tail 20\n"
        "  myelin logs ml-rec -n ml --task Train -f    # stream the running training",
    )
    p.add_argument("axon", metavar="AXON", help="the axon's name")
    p.add_argument("--task", metavar="TASK", help="only the pods of this task")
    p.add_argument("--tail", type=int, metavar="N", help="only the last N lines of each log")
    p.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="stream the log of the newest running pod (of --task, if given; else the newest pod) until it "
        "ends or Ctrl-C",
    )
    add_connection_options(p)
    p.set_defaults(func=_cmd_logs)


def _cmd_delete(args: argparse.Namespace) -> int:
    from ..cluster.ops import deletable, delete_objects
    from ..errors import MyelinError

    transport, namespace = connected(args)
    assert namespace is not None  # delete takes no -A
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
    done = []
    for obj, outcome in delete_objects(transport, namespace, objects):
        done.append({"kind": obj["kind"], "name": obj["metadata"]["name"], "outcome": outcome})
        if args.output not in DATA_FORMATS:
            print(f"{obj['kind']}/{obj['metadata']['name']} {outcome}", flush=True)
    if args.output in DATA_FORMATS:
        print_data(args.output, {"axon": args.axon, "namespace": namespace, "objects": done})
    count = sum(d["outcome"] == "deleted" for d in done)
    print(f"axon {args.axon}: {count} deleted", file=sys.stderr)
    return EXIT_OK


def _header(entry: Any) -> str:
    task = f"task {entry.task}, " if entry.task else ""
    return f"==> pod {entry.pod} ({task}{entry.phase}) <=="


def _cmd_logs(args: argparse.Namespace) -> int:
    from ..cluster.ops import follow_log, pod_logs

    transport, namespace = connected(args)
    assert namespace is not None  # logs takes no -A
    if args.follow:
        pods = list(pod_logs(transport, namespace, args.axon, args.task, args.tail, read=False))
        entry = next((p for p in pods if p.phase == "Running"), pods[0])  # newest running, else newest
        print(_header(entry), flush=True)
        for chunk in follow_log(transport, namespace, entry.pod, args.tail):
            sys.stdout.write(chunk)
            sys.stdout.flush()
        return EXIT_OK
    for entry in pod_logs(transport, namespace, args.axon, args.task, args.tail):
        print(_header(entry), flush=True)
        if entry.text is None:
            print(f"cannot read the log of pod {entry.pod}: {entry.error}", file=sys.stderr)
        else:
            sys.stdout.write(entry.text if not entry.text or entry.text.endswith("\n") else entry.text + "\n")
    return EXIT_OK
