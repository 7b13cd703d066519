"""``myelin run`` and the local forms of ``myelin status`` / ``myelin endpoint``: the command-line edge of the
local runner (argument parsing lives in :mod:`myelin_sdk.cli`).

Exit statuses of ``myelin run``: 0 done (``--until`` reached without a failure, or stopped cleanly); 1 a
failure — ``--until deployed`` that can no longer happen (the reason and the failed task's log tail are the
last lines printed) or ``--until idle`` reached with failed sensor runs; 3 ``--timeout`` passed; 130 Ctrl-C or
SIGTERM (resume with ``--resume``). Paths (``--workdir``, ``--artifact``) are resolved from the current
directory::

    $ myelin run axon.yaml --until deployed --plain; echo $?
    ...
    failed: no deploy can happen any more: sensor Train (run 1) failed: task Prep failed with exit ...
    1
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import signal
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

from ..errors import MyelinError
from ..spec import Axon
from .engine import Engine, RunOptions
from .executor import leftover
from .outcome import RunFailed
from .state import State
from .view import stored_snapshot
from .workspace import find_run

EXIT_OK, EXIT_FAILED, EXIT_TIMEOUT, EXIT_INTERRUPTED = 0, 1, 3, 130


def _artifacts(items: list[str]) -> dict[str, Path]:
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise MyelinError(f"--artifact {item!r}: expected NAME=PATH")
        out[name] = Path(path).expanduser().resolve()  # from where the user stands
    return out


def options_from(args: argparse.Namespace) -> RunOptions:
    return RunOptions(
        workdir=Path(args.workdir).expanduser().resolve(),
        artifacts=_artifacts(args.artifact),
        prometheus_url=args.prometheus,
        pushgateway_url=args.pushgateway,
        prometheus_ca=args.prometheus_ca,
        prometheus_token_file=args.prometheus_token_file,
        prometheus_insecure=bool(args.prometheus_insecure),
        port=args.port,
        resume=args.resume,
        alert_interval=args.alert_interval,
    )


def run_command(axon: Axon, args: argparse.Namespace, source: Path | None) -> int:
    """Run ``axon`` in the foreground until ``--until``, ``--timeout``, Ctrl-C or SIGTERM (both exit 130), or
    until ``--until deployed`` can no longer happen (exit 1, with the reason and the failed task's log)."""
    from .view import View

    view = View(live=not args.plain and sys.stdout.isatty())
    engine = Engine(axon, options_from(args), source=source, log=view.line)
    interrupted = threading.Event()
    stopping = threading.Event()

    def _terminate(signum: int, frame: Any) -> None:
        # SIGTERM and SIGINT alike: unwind the main thread to the one stop below (engine.stop ends the
        # tasks, model servers, routers and listeners); a signal while stopping does not cut that short
        interrupted.set()
        if not stopping.is_set():
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, _terminate) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        failed: RunFailed | None = None
        reached = False
        try:
            engine.start()
            with view.showing(engine):
                reached = engine.wait(args.until, args.timeout)
        except KeyboardInterrupt:
            interrupted.set()
        except RunFailed as exc:
            failed = exc
        stopping.set()
        if interrupted.is_set():
            engine.stop("stopped")
            view.line("stopped: resume with `myelin run PATH --resume`")
            return EXIT_INTERRUPTED
        if failed is not None:
            engine.stop("failed")
            view.line(f"failed: {failed}")
            return EXIT_FAILED
        engine.stop("finished" if args.until and reached else "stopped")
        if not reached:
            view.line(f"timed out after {args.timeout:g}s")
            return EXIT_TIMEOUT
        if engine.failures and args.until:
            view.line(f"finished with {len(engine.failures)} failed sensor run(s):")
            for failure in engine.failures:
                view.line(f"  {failure.describe()}" + (f" (log: {failure.log})" if failure.log else ""))
            return EXIT_FAILED
        if args.until:
            view.line(f"done: {args.until} reached")
        return EXIT_OK
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# ---------------------------------------------------------------------------------- status and endpoint


def _live_status(run: dict[str, Any]) -> dict[str, Any] | None:
    """The snapshot of a run that is running, from its control endpoint; None when it does not answer."""
    url = run.get("control_url")
    if not url or run.get("status") != "running":
        return None
    try:
        with urllib.request.urlopen(f"{url}/status", timeout=2) as response:
            data: dict[str, Any] = json.loads(response.read())
            return data
    except OSError:
        return None


def local_status(workdir: Path, run: str | None) -> dict[str, Any]:
    """The status of a local run: live from its control endpoint when it runs, else from its state."""
    folder = find_run(workdir, run)
    state = State.open(folder / "state.db")
    try:
        info = state.run() or {}
        live = _live_status(info)
        status = info.get("status")
        if status == "running" and not state.runner_alive():
            status = "dead"  # its runner is gone without saying so (killed): resume it with --resume
        stored = stored_snapshot(state, folder.name, str(info.get("axon")))
        processes = [
            {"kind": p.kind, "name": p.name, "pid": p.pid, "processes": len(leftover(p.pid, p.created))}
            for p in state.live_processes()
        ]
        return {
            "run": folder.name,
            "folder": str(folder),
            "axon": info.get("axon"),
            "status": status,
            "endpoint": info.get("router_url"),
            "sensorRuns": [
                {"id": r.id, "sensor": r.sensor, "status": r.status, "message": r.message}
                for r in state.sensor_runs()
            ],
            "taskRuns": [
                {"id": t.id, "task": t.task, "status": t.status, "exitCode": t.exit_code, "log": t.log}
                for t in state.task_runs()
            ],
            "deployments": {name: d.served for name, d in state.current_deployments().items()},
            # what the live view shows: the running runner's snapshot, else the same from the state
            **{k: (live or stored)[k] for k in ("sensors", "tasks", "builds", "traffic")},
            "processes": [p for p in processes if p["processes"]],  # process groups alive now
            "endpoints": (live or {}).get("endpoints", {}),
            "routes": (live or {}).get("routes", {}),
            "metrics": (live or {}).get("metrics", {}),
            # a running run's own verdict: why no deploy can happen any more (None while one still can)
            "deployBlocked": (live or {}).get("deployBlocked"),
        }
    finally:
        state.close()


def format_local_status(status: dict[str, Any], width: int | None = None) -> str:
    """The table of the live view (:func:`.view.render`: sensors, task runs, metrics, endpoints with their
    versions' traffic), under a line naming the run, then what only this command shows: failed sensor
    runs, why no deploy can happen, process groups left alive."""
    from rich.console import Console

    from .view import render

    if width is None:
        width = shutil.get_terminal_size((120, 24)).columns if sys.stdout.isatty() else 120
    console = Console(width=width, color_system=None, record=True, file=io.StringIO(), force_jupyter=False)
    console.print(render(status, tasks=15))
    lines = [f"run {status['run']} of axon {status['axon']}: {status['status']}  ({status['folder']})", ""]
    lines += console.export_text().rstrip("\n").splitlines()
    failed = [r for r in status["sensorRuns"] if r["status"] == "failed"][-5:]
    if failed:
        lines += ["", "FAILED SENSOR RUNS"]
        lines += [f"  {r['id']:>4}  {r['sensor']:<32} {r['message']}" for r in failed]
    if status.get("deployBlocked"):
        lines += ["", f"no deploy can happen any more: {status['deployBlocked']}"]
    if status.get("processes"):
        lines += ["", "PROCESS GROUPS" + (" LEFT BY ITS DEAD RUNNER" if status["status"] == "dead" else "")]
        lines += [
            f"  {p['pid']:>7}  {p['kind']:<7} {p['name']:<32} {p['processes']} process(es)"
            for p in status["processes"]
        ]
    return "\n".join(lines) + "\n"


def local_endpoints(workdir: Path, run: str | None) -> dict[str, str]:
    status = local_status(workdir, run)
    if status["status"] != "running" or not status["endpoints"]:
        raise MyelinError(
            f"local run {status['run']} serves no model"
            + (
                " (it is not running: resume it with `myelin run PATH --resume`)"
                if status["status"] != "running"
                else ""
            )
        )
    endpoints: dict[str, str] = status["endpoints"]
    return endpoints


def local_routes(workdir: Path, run: str | None) -> dict[str, dict[str, str]]:
    """Each serving deployer's routes: ``{deployer: {"/predict1": "http://127.0.0.1:9000/predict1", ...}}``
    (``/predict`` and ``/send-feedback`` for a runner that does not report its routes)."""
    endpoints = local_endpoints(workdir, run)
    routes = local_status(workdir, run).get("routes") or {}
    return {
        name: {path: url + path for path in routes.get(name) or ["/predict", "/send-feedback"]}
        for name, url in endpoints.items()
    }
