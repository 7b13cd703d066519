"""The read-only cluster commands start light: neither hera nor the compiler is imported.

``myelin status``, ``list``, ``get``, ``endpoint``, ``logs`` and ``delete`` never compile, so importing the
compiler (and hera behind it, most of the start-up time) would only slow them down. Each check runs in a fresh
``python`` process, where ``sys.modules`` tells what was imported; the commands really run, against the
stand-in API server with the demo submitted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.fake_apiserver import serve_demo

HEAVY = ("hera", "myelin_sdk.compiler")

PROBE = """
import contextlib, io, json, sys
from myelin_sdk.cli import main
codes = []
for argv in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            codes.append(main(argv))
        except SystemExit as exc:  # --help
            codes.append(exc.code)
heavy = sorted(m for m in sys.modules if m.split(".")[0] == "hera" or m.startswith("myelin_sdk.compiler"))
print(json.dumps({"codes": codes, "heavy": heavy, "kubernetes": "kubernetes" in sys.modules}))
"""


def probe(*commands: list[str], env: dict[str, str] | None = None) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(commands))],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=True,
    )
    return dict(json.loads(done.stdout))


def test_the_labels_the_cluster_commands_read_are_the_compilers() -> None:
    from myelin_sdk.cluster import labels
    from myelin_sdk.compiler import meta, sensors

    assert (labels.PART_OF, labels.AXON_LABEL, labels.TASK_LABEL, labels.SENSOR_LABEL) == (
        meta.PART_OF,
        meta.AXON_LABEL,
        meta.TASK_LABEL,
        meta.SENSOR_LABEL,
    )
    assert labels.CREATE_ONCE == sensors.CREATE_ONCE


def test_help_of_read_only_commands_imports_neither_hera_nor_the_compiler() -> None:
    result = probe(["status", "--help"], ["list", "--help"], ["--help"])
    assert result == {"codes": [0, 0, 0], "heavy": [], "kubernetes": False}


def test_read_only_commands_import_neither_hera_nor_the_compiler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    server = serve_demo("ml", tmp_path, monkeypatch)
    try:
        result = probe(
            ["status", "ml-rec", "-n", "ml"],
            ["list", "-n", "ml"],
            ["get", "ml-rec", "-n", "ml", "-o", "json"],
            ["endpoint", "ml-rec", "-n", "ml"],
            ["logs", "ml-rec", "-n", "ml"],
            ["delete", "no-such-axon", "-n", "ml", "--yes"],
            env={"KUBECONFIG": os.environ["KUBECONFIG"]},
        )
    finally:
        server.stop()
    # they ran against the server (0: shown; 1: nothing found - no SeldonDeployment, pod or axon there)
    assert result["codes"] == [0, 0, 0, 1, 1, 1]
    assert result["kubernetes"] is True
    assert result["heavy"] == []
    # the server saw them: the probe is not vacuous
    assert {r.path for r in server.requests} >= {
        "/apis/argoproj.io/v1alpha1/namespaces/ml/sensors",
        "/api/v1/namespaces/ml/pods",
    }


def test_the_probe_sees_the_compiler_when_a_command_compiles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same probe on ``myelin compile`` finds hera and the compiler: a check that can fail."""
    demo = Path(__file__).resolve().parents[2] / "examples" / "recommender_demo" / "recommender-demo.yaml"
    result = probe(["compile", str(demo)])
    assert result["codes"] == [0]
    assert "myelin_sdk.compiler" in result["heavy"] and "hera" in result["heavy"]
