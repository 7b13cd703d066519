"""Registering a train execution's version folder (DESIGN §4), and the same on the compiled cluster steps.

Everything is real: a real Pushgateway (the Debian binary) for the published metrics, real folders, and the
compiled scripts run by a bare interpreter (``python -I -S``) the way the cluster's ``script`` steps run them,
with Argo's variables substituted as Argo would and ``/axon-store`` mapped to a temporary folder.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from myelin_sdk.compiler import compile_axon
from myelin_sdk.config import CompileOptions
from myelin_sdk.contract import metric_name
from myelin_sdk.loader import load_path
from myelin_sdk.runtime.register import (
    RegisterError,
    fetch_published,
    new_execution_folder,
    parse_time,
    published,
    register,
)
from myelin_sdk.runtime.registry import best_version, versions

from support.prometheus import Server, free_port, push

DEMO = Path(__file__).resolve().parents[2] / "examples" / "recommender_demo" / "recommender-demo.yaml"


def push_grouped(url: str, job: str, group: dict[str, str], metric: str, value: float) -> None:
    path = "".join(f"/{k}/{v}" for k, v in group.items())
    body = f"# TYPE {metric} gauge\n{metric} {value!r}\n".encode()
    request = urllib.request.Request(f"{url}/metrics/job/{job}{path}", data=body, method="PUT")
    with urllib.request.urlopen(request, timeout=5):
        pass


def now() -> datetime:
    return datetime.now(timezone.utc)


# --- the published metrics ---------------------------------------------------------------------------------


def test_only_the_jobs_metrics_pushed_since_the_start_count_unsuffixed(pushgateway: Server) -> None:
    job = "reg-a-train"
    push(pushgateway.url, job, "rmse_reg__a", 0.5)  # an earlier execution's value
    time.sleep(0.05)
    started = now()
    time.sleep(0.05)
    push(pushgateway.url, job, "rmse_reg__a", 0.42, replace=False)
    push(pushgateway.url, job, "acc_reg__a", 0.9, replace=False)
    push(pushgateway.url, job, "other_axon_metric", 1.0, replace=False)  # not `<metric>_<axon>`: ignored
    push(pushgateway.url, "reg-a-other-task", "rmse_reg__a", 0.1)  # another job
    assert fetch_published(pushgateway.url, job, "reg-a", started) == {"acc": 0.9, "rmse": 0.42}
    assert fetch_published(pushgateway.url, job, "reg-a", now() + timedelta(seconds=5)) == {}


def test_with_several_series_of_a_metric_the_latest_push_wins(pushgateway: Server) -> None:
    job = "reg-b-train"
    started = now()
    push_grouped(pushgateway.url, job, {"model_version": "v1"}, "acc_reg__b", 0.7)
    time.sleep(0.05)
    push_grouped(pushgateway.url, job, {"model_version": "v2"}, "acc_reg__b", 0.8)
    assert fetch_published(pushgateway.url, job, "reg-b", started) == {"acc": 0.8}


def test_a_pushgateway_that_does_not_answer_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(RegisterError, match=r"cannot read the published metrics at .*/api/v1/metrics"):
        fetch_published(url, "j", "a", now(), timeout=1, attempts=1)


def test_the_pushgateway_document_is_read_defensively() -> None:
    since = parse_time("2026-12-03T17:37:31Z")
    document = {
        "status": "success",
        "data": [
            {"labels": {"job": "j"}, "m_ax": {"time_stamp": "2026-12-03T17:37:31.5Z", "metrics": [{"value": "NaN"}]}},  # noqa: E501
            {"labels": {"job": "j"}, "n_ax": {"time_stamp": "bad", "metrics": [{"value": "1"}]}},
            {"labels": {"job": "j"}, "o_ax": {"time_stamp": "2026-12-03T18:37:32+01:00", "metrics": [{"value": "2"}]}},  # noqa: E501
            {"labels": {"job": "j"}, "p_ax": {"time_stamp": "2026-12-03T17:37:32Z", "metrics": [{}]}},
            "not a group",
        ],
    }  # fmt: skip
    assert published(document, "j", "ax", since) == {"o": 2.0}
    assert published({"data": "nothing"}, "j", "ax", since) == {}


def test_times_parse_as_argo_and_the_pushgateway_write_them() -> None:
    assert parse_time("2018-08-23T05:42:49Z") == datetime(2018, 8, 23, 5, 42, 49, tzinfo=timezone.utc)
    assert parse_time("2018-08-23T07:42:49+02:00") == datetime(2018, 8, 23, 5, 42, 49, tzinfo=timezone.utc)
    assert parse_time("1535003000").year == 2018
    with pytest.raises(ValueError, match="not an RFC 3339 time"):
        parse_time("yesterday")


# --- registering a folder ----------------------------------------------------------------------------------


def test_a_folder_with_files_becomes_a_version_the_registry_reads(tmp_path: Path) -> None:
    started = now()
    folder = new_execution_folder(tmp_path, started)
    assert folder.parent == tmp_path and not any(folder.iterdir())
    (folder / "lr.pkl").write_bytes(b"model")
    assert register(folder, {"rmse": 0.9, "bad": float("nan")}, created=started) == "registered"
    (version,) = versions(tmp_path)
    assert version.name == folder.name and version.metrics == {"rmse": 0.9}
    assert version.created == started
    assert sorted(p.name for p in folder.iterdir()) == ["lr.pkl", "metrics.json"]  # no temporary file left


def test_an_empty_folder_is_removed_and_a_missing_one_ignored(tmp_path: Path) -> None:
    folder = new_execution_folder(tmp_path)
    assert register(folder, {"rmse": 0.9}) == "removed"
    assert not folder.exists()
    assert register(folder, {}) == "missing"


def test_metrics_the_task_wrote_itself_are_kept_and_published_ones_override(tmp_path: Path) -> None:
    folder = new_execution_folder(tmp_path)
    (folder / "metrics.json").write_text(json.dumps({"metrics": {"rmse": 1.0, "mae": 0.5}}))
    register(folder, {"rmse": 0.8})
    assert versions(tmp_path)[0].metrics == {"mae": 0.5, "rmse": 0.8}


# --- the compiled cluster steps, run on real folders -------------------------------------------------------


def argo(text: str, created: datetime, uid: str) -> str:
    """Substitute the workflow variables the compiled templates use, as Argo does."""
    values = {"workflow.uid": uid, "workflow.creationTimestamp": created.strftime("%Y-%m-%dT%H:%M:%SZ")}
    values.update({f"workflow.creationTimestamp.{c}": created.strftime(f"%{c}") for c in "YmdHMS"})
    return re.sub(r"\{\{([^}]+)\}\}", lambda m: values[m.group(1)], text)


def run_python(source: str, store: Path, mount: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a script step; ``mount``: the shared volume's paths in it are the store's (the deploy script
    finds the store in ``MYELIN_STORE`` and prints /axon-store paths for the model servers)."""
    text = source.replace("/axon-store/", f"{store}/") if mount else source
    return subprocess.run(
        [sys.executable, "-I", "-S", "-"], input=text,
        capture_output=True, text=True, env={"MYELIN_STORE": str(store)}, timeout=60,
    )  # fmt: skip


class Cluster:
    """The demo's compiled train template and deploy step, run the way Argo runs them."""

    def __init__(self, bundle: Any, store: Path, pushgateway: str) -> None:
        self.store, self.pushgateway = store, pushgateway
        (train,) = bundle.find("WorkflowTemplate", "ml-rec-train-myelin-recommender")
        self.train = {t["name"]: t for t in train["spec"]["templates"]}
        (sensor,) = bundle.find("WorkflowTemplate", "ml-rec-sensor-deployment-decision-maker")
        self.select = next(t for t in sensor["spec"]["templates"] if t["name"].endswith("-select"))

    def train_run(self, uid: str, rmse: float | None, *, writes: bool = True, succeeds: bool = True) -> str:
        """One workflow run of the train template: init container, the task, then (if it succeeded) the
        register step. Returns the run's MODEL_PATH (as the pod sees it)."""
        created = now().replace(microsecond=0)
        run = self.train["run"]
        env = {e["name"]: argo(e.get("value", ""), created, uid) for e in run["container"]["env"]}
        (init,) = run["initContainers"]
        command = argo(init["args"][0], created, uid).replace("/axon-store/", f"{self.store}/")
        subprocess.run(["sh", "-c", command], check=True, timeout=30)
        model_path = env["MODEL_PATH"].replace("/axon-store/", f"{self.store}/")
        if writes:  # what original Myelin code does
            with open(model_path + "lr.pkl", "wb") as out:
                out.write(b"model " + uid.encode())
        if rmse is not None:
            name = metric_name("recommender_train_rmse", env["AXON_NAME"])  # as the original client names it
            push(self.pushgateway, env["TASK_ID"], name, rmse)
        if succeeds:
            result = run_python(argo(self.train["register"]["script"]["source"], created, uid), self.store)
            assert result.returncode == 0, result.stderr
        time.sleep(1.05)  # the next run is created in a later second, as a new workflow would be
        return env["MODEL_PATH"]

    def served(self) -> str:
        result = run_python(self.select["script"]["source"], self.store, mount=False)
        assert result.returncode == 0, result.stderr
        (predictor,) = json.loads(result.stdout)["spec"]["predictors"]
        (container,) = predictor["componentSpecs"][0]["spec"]["containers"]
        return str(next(e["value"] for e in container["env"] if e["name"] == "MODEL_PATH"))


def test_compiled_train_runs_get_their_own_folders_and_the_deploy_serves_the_best(
    pushgateway: Server, tmp_path: Path
) -> None:
    bundle = compile_axon(load_path(DEMO), CompileOptions(pushgateway_url=pushgateway.url))
    cluster = Cluster(bundle, tmp_path, pushgateway.url)
    root = tmp_path / "models" / "train-myelin-recommender"

    first = cluster.train_run("uid-1", 0.95)
    better = cluster.train_run("uid-2", 0.91)
    no_metric = cluster.train_run("uid-3", None)  # newest, but published nothing since it started
    failed = cluster.train_run("uid-4", 0.5, succeeds=False)  # the register step never ran
    empty = cluster.train_run("uid-5", 0.4, writes=False)  # left MODEL_PATH empty

    assert len({first, better, no_metric, failed, empty}) == 5
    assert all(p.startswith("/axon-store/models/train-myelin-recommender/") and p.endswith("/") for p in
               (first, better, no_metric, failed, empty))  # fmt: skip
    found = {v.path.name: v.metrics for v in versions(root)}
    name = lambda path: path.rstrip("/").rsplit("/", 1)[1]  # noqa: E731
    assert found == {
        name(first): {"recommender_train_rmse": 0.95},
        name(better): {"recommender_train_rmse": 0.91},
        name(no_metric): {},
    }
    assert (root / name(failed) / "lr.pkl").is_file()  # a failed run's files stay, unregistered
    assert not (root / name(empty)).exists()
    assert sorted(found) == [name(first), name(better), name(no_metric)]  # names sort by time

    assert cluster.served() == better  # modelSelectionStrategy best: the lowest lossMetric
    best = best_version("recommender_train_rmse", root=root)
    assert best is not None and best.name == name(better)


def test_the_register_step_fails_clearly_when_the_pushgateway_is_down(tmp_path: Path) -> None:
    bundle = compile_axon(load_path(DEMO), CompileOptions(pushgateway_url=f"http://127.0.0.1:{free_port()}"))
    (train,) = bundle.find("WorkflowTemplate", "ml-rec-train-myelin-recommender")
    source = next(t for t in train["spec"]["templates"] if t["name"] == "register")["script"]["source"]
    created = now().replace(microsecond=0)
    folder = tmp_path / "models" / "train-myelin-recommender" / f"{created:%Y%m%dT%H%M%S}Z-u"
    folder.mkdir(parents=True)
    (folder / "lr.pkl").write_bytes(b"m")
    result = run_python(argo(source, created, "u"), tmp_path)
    assert result.returncode == 3
    assert "register error: cannot read the published metrics" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (folder / "metrics.json").exists()


def test_both_local_metrics_backends_give_what_an_execution_published(
    pushgateway: Server, tmp_path: Path
) -> None:
    """What ``myelin run`` registers: the embedded store (its push times in SQLite) and a real Pushgateway
    (``--prometheus``, read through its ``/api/v1/metrics``) answer alike."""
    from myelin_sdk.local.metrics_embedded import EmbeddedMetrics
    from myelin_sdk.local.metrics_prometheus import PrometheusMetrics

    job = "reg-c-train"
    with EmbeddedMetrics("reg-c", tmp_path / "state.db") as embedded:
        real = PrometheusMetrics("reg-c", "http://127.0.0.1:9", pushgateway.url)  # Prometheus is not asked
        for url in (embedded.pushgateway_url, pushgateway.url):
            push(url, job, "loss_reg__c", 0.9)  # before the execution
        time.sleep(0.05)
        started = time.time()
        for url in (embedded.pushgateway_url, pushgateway.url):
            push(url, job, "loss_reg__c", 0.3, replace=False)
            push(url, job, "acc_reg__c", 0.8, replace=False)
            push(url, "reg-c-other", "loss_reg__c", 0.1)
        assert embedded.published(job, started) == real.published(job, started) == {"acc": 0.8, "loss": 0.3}
        assert embedded.published(job, time.time() + 5) == {}
