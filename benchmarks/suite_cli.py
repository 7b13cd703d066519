"""Cold start of every ``myelin`` command, beside bare Python and ``import hera.workflows``.

    python benchmarks/suite_cli.py [--quick] [--json FILE]

Each command runs as a new process, as a user types it: ``myelin <command> --help`` for every command (what
the CLI costs before it does anything), and a real invocation of each command that works without a cluster
or a run (``lint``, ``compile``, ``graph``, ``version``, ``completion``) or against the test suite's stand-in
Kubernetes API server on loopback with the demo submitted (``status``, ``list``, ``get``, ``endpoint``,
``logs``, ``delete``, ``diff``, ``submit --dry-run``; tests/support/fake_apiserver.py — no real API server
can run here, and the requests themselves cost about nothing, so these rows are the client's own cost).
``myelin run`` is measured by its own suites (sensor, router): a real run starts servers.

The rounds are interleaved (round 1 runs every command once, then round 2 …) so that a change of load on the
machine falls on every row alike. Each figure's baseline is ``python -c "import hera.workflows"`` in the
same rounds; the bare interpreter (``python -c pass``) is in ``extra`` and a row of its own.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from figures import ROOT, Context, Figure, progress

DEMO_YAML = ROOT / "examples" / "recommender_demo" / "recommender-demo.yaml"
DEMO_PY = ROOT / "examples" / "recommender_demo" / "pipeline.py"
HERA = "import hera.workflows"
BARE = "python -c pass"
COMMANDS = (
    "compile",
    "submit",
    "diff",
    "list",
    "get",
    "status",
    "endpoint",
    "delete",
    "logs",
    "run",
    "lint",
    "graph",
    "version",
    "completion",
)


def myelin_script() -> str:
    """The ``myelin`` entry point beside this interpreter (a virtual environment's ``bin``), else on PATH."""
    candidate = Path(sys.executable).parent / "myelin"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("myelin")
    if found is None:
        raise SystemExit(
            "suite_cli: the myelin script is not installed next to this Python (pip install -e .)"
        )
    return found


def invocations(myelin: str, scratch: Path) -> dict[str, list[str]]:
    """What is timed: label -> argv. The two references first."""
    python = sys.executable
    table = {BARE: [python, "-c", "pass"], HERA: [python, "-c", "import hera.workflows"]}
    table["myelin --help"] = [myelin, "--help"]
    for command in COMMANDS:
        table[f"myelin {command} --help"] = [myelin, command, "--help"]
    demo = str(DEMO_YAML)
    table |= {
        "myelin version": [myelin, "version"],
        "myelin completion bash": [myelin, "completion", "bash"],
        "myelin lint <demo.yaml>": [myelin, "lint", demo],
        "myelin lint <pipeline.py>": [myelin, "lint", str(DEMO_PY)],
        "myelin compile <demo.yaml>": [myelin, "compile", demo, "-n", "ml"],
        "myelin graph <demo.yaml> -o dot": [myelin, "graph", demo, "-o", str(scratch / "demo.dot")],
        "myelin list -n ml": [myelin, "list", "-n", "ml"],
        "myelin get ml-rec -n ml": [myelin, "get", "ml-rec", "-n", "ml"],
        "myelin status ml-rec -n ml": [myelin, "status", "ml-rec", "-n", "ml"],
        "myelin endpoint ml-rec -n ml": [myelin, "endpoint", "ml-rec", "-n", "ml"],
        "myelin logs ml-rec -n ml": [myelin, "logs", "ml-rec", "-n", "ml"],
        "myelin delete <absent> -n ml --yes": [myelin, "delete", "no-such-axon", "-n", "ml", "--yes"],
        "myelin diff <demo.yaml> -n ml": [myelin, "diff", demo, "-n", "ml"],
        "myelin submit <demo.yaml> -n ml --dry-run=server": [
            myelin,
            "submit",
            demo,
            "-n",
            "ml",
            "--dry-run=server",
        ],
    }
    return table


def stand_in_cluster(scratch: Path) -> tuple[object, dict[str, str]]:
    """The test suite's stand-in API server with the demo submitted, and the environment pointing at it."""
    sys.path.insert(0, str(ROOT / "tests"))
    from myelin_sdk.cluster import connect
    from myelin_sdk.compiler import CompileOptions, compile_axon
    from myelin_sdk.loader import load_path

    from support.fake_apiserver import FakeAPIServer

    server = FakeAPIServer().start()
    os.environ["KUBECONFIG"] = str(server.kubeconfig(scratch, namespace="ml"))  # for connect() here too
    os.environ.pop("KUBERNETES_SERVICE_HOST", None)
    connect().apply(compile_axon(load_path(DEMO_YAML), CompileOptions(namespace="ml")), namespace="ml")
    return server, dict(os.environ)


def run(ctx: Context) -> list[Figure]:
    rounds = ctx.runs(11, 3)
    server, env = stand_in_cluster(ctx.scratch)
    try:
        table = invocations(myelin_script(), ctx.scratch)
        samples: dict[str, list[float]] = {label: [] for label in table}
        statuses: dict[str, int] = {}
        for label, argv in table.items():  # one unmeasured run each: page cache, .pyc files
            statuses[label] = subprocess.run(argv, capture_output=True, env=env, timeout=120).returncode
        failed = {label: code for label, code in statuses.items() if code not in (0, 1)}
        if failed:
            raise SystemExit(f"suite_cli: commands failed: {failed}")
        for number in range(rounds):
            progress(f"cli: round {number + 1}/{rounds} of {len(table)} commands")
            for label, argv in table.items():
                began = time.perf_counter()
                subprocess.run(argv, capture_output=True, env=env, timeout=120)
                samples[label].append(time.perf_counter() - began)
    finally:
        server.stop()  # type: ignore[attr-defined]
    bare = statistics.median(samples[BARE])
    figures = [
        Figure.timed("cli", "python -c pass (bare interpreter)", samples[BARE]),
        Figure.timed(
            "cli", 'python -c "import hera.workflows"', samples[HERA], note="what compile must import"
        ),
    ]
    for label, runs in samples.items():
        if label in (BARE, HERA):
            continue
        over = statistics.median(runs) - bare
        figures.append(
            Figure.timed(
                "cli",
                label,
                runs,
                'python -c "import hera.workflows"',
                samples[HERA],
                note=f"{over * 1000:.0f} ms over bare Python; exit {statuses[label]}",
                bare_python=bare,
                exit_status=statuses[label],
            )
        )
    return figures


if __name__ == "__main__":
    from figures import suite_main

    sys.exit(suite_main(run))
