"""TLS and auth of the compiled metric gate: a Secret mounted into the gate step, named by reference (its
token never in a manifest), ``--insecure`` only when asked; the flags of ``myelin compile``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from myelin_sdk import Axon, Metric, Rest, Sensor, TrainTask
from myelin_sdk.compiler import compile_axon
from myelin_sdk.compiler.sensors import PROMETHEUS_AUTH_DIR
from myelin_sdk.config import CompileOptions
from myelin_sdk.errors import MyelinError

from support.fake_apiserver import run_cli
from support.schemas import SchemaValidator, assert_valid

TOKEN = "sekret-token-value-1234"


def gated() -> Axon:
    with Axon("ml-rec") as axon:
        t = TrainTask("Train", image="busybox")
        Sensor("Gated", triggers=[Rest()], conditions=[Metric("{{rmse}} < 0.95")], tasks=[t])
    return axon


def gate_of(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    (template,) = [
        m
        for m in manifests
        if m["kind"] == "WorkflowTemplate" and m["metadata"]["name"] == "ml-rec-sensor-gated"
    ]
    gate: dict[str, Any] = next(t for t in template["spec"]["templates"] if t["name"] == "gate-0")
    return gate


def argv_of(gate: dict[str, Any]) -> str:
    return str(gate["script"]["source"].rstrip().splitlines()[-1])


def test_by_default_the_gate_verifies_and_mounts_nothing() -> None:
    gate = gate_of(compile_axon(gated()).manifests)
    assert "volumes" not in gate
    assert all(v["name"] != "prometheus-auth" for v in gate["script"].get("volumeMounts", []))
    assert "--insecure" not in argv_of(gate) and "--token-file" not in argv_of(gate)


def test_the_secret_is_mounted_and_the_gate_reads_its_files(schema_validator: SchemaValidator) -> None:
    options = CompileOptions(prometheus_url="https://prom.example:9090", prometheus_secret="prom-auth")
    bundle = compile_axon(gated(), options)
    assert_valid(bundle.manifests, schema_validator)
    gate = gate_of(bundle.manifests)
    # readable by the pod's fsGroup only (the gate runs as non-root in that group)
    secret = {"secretName": "prom-auth", "defaultMode": 0o440}
    assert gate["volumes"] == [{"name": "prometheus-auth", "secret": secret}]
    mount = {"name": "prometheus-auth", "mountPath": PROMETHEUS_AUTH_DIR, "readOnly": True}
    assert mount in gate["script"]["volumeMounts"]
    assert argv_of(gate).endswith(
        f"'--token-file', '{PROMETHEUS_AUTH_DIR}/token', '--ca-file', '{PROMETHEUS_AUTH_DIR}/ca.crt', "
        "'--ca-optional']))"
    )
    assert "--insecure" not in argv_of(gate)


def test_insecure_is_explicit() -> None:
    gate = gate_of(compile_axon(gated(), CompileOptions(prometheus_insecure=True)).manifests)
    assert "'--insecure'" in argv_of(gate)
    assert CompileOptions.from_env({"MYELIN_PROMETHEUS_INSECURE": "true"}).prometheus_insecure is True
    assert CompileOptions.from_env({"MYELIN_PROMETHEUS_INSECURE": "0"}).prometheus_insecure is False


def test_the_analysis_run_gate_refuses_settings_it_cannot_carry() -> None:
    options = CompileOptions(gate="analysis-run", prometheus_secret="prom-auth")
    with pytest.raises(MyelinError, match="apply to the script gate"):
        compile_axon(gated(), options)


def test_myelin_compile_prometheus_secret_names_the_secret_never_the_token(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, schema_validator: SchemaValidator
) -> None:
    path = tmp_path / "axon.yaml"
    path.write_text(gated().to_yaml())
    token_file = tmp_path / "token"  # what a user has locally: it must not reach the bundle
    token_file.write_text(TOKEN)
    out = tmp_path / "out"
    code, _, err = run_cli(
        capsys,
        "compile", str(path), "-o", str(out),
        "--prometheus-url", "https://prom.example:9090", "--prometheus-secret", "prom-auth",
    )  # fmt: skip
    assert code == 0, err
    manifests = [doc for f in sorted(out.glob("*.yaml")) if f.name != "kustomization.yaml" for doc in
                 yaml.safe_load_all(f.read_text()) if doc]  # fmt: skip
    assert_valid(manifests, schema_validator)
    gate = gate_of(manifests)
    assert gate["volumes"][0]["secret"]["secretName"] == "prom-auth"
    assert "'--token-file', '/var/run/secrets/myelin/prometheus/token'" in argv_of(gate)
    assert all(TOKEN not in f.read_text() for f in out.rglob("*") if f.is_file())
    code, stdout, _ = run_cli(capsys, "compile", str(path), "--prometheus-insecure")
    assert code == 0 and "'--insecure'" in stdout
