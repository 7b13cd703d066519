"""Compile benchmark (issue #16 items 4-5): ``axon.compile()`` + ``bundle.to_yaml()`` against hera.

For N = 10, 100, 1000 tasks an Axon is built in Python with sensors (one start sensor, one Lifecycle-triggered
sensor per ten tasks, an Alert-triggered retrain sensor) and a deployer behind a Metric gate
(train -> gate -> deploy). Figures, each beside its baseline measured in the same run:

- ``compile + to_yaml, N`` (what ``myelin compile`` does minus writing files) against hera building and
  serialising ONE ``WorkflowTemplate`` of N containers in ``Steps`` (the reference of issue #16);
- the same against a fairer reference: hera building and serialising what compile itself emits per task,
  N ``WorkflowTemplate`` s of one container each;
- building the Axon object (the DSL) against the hera reference, for scale.

Growth (time(100)/time(10), time(1000)/time(100); linear = 10x) of both sides, the bytes and the document
counts go into each figure's ``extra``.

    .venv/bin/python benchmarks/suite_compile.py [--quick] [--json out.json]
"""

from __future__ import annotations

import functools
import gc
import itertools
import statistics
import sys
from collections.abc import Callable
from typing import Any

from figures import Context, Figure, progress, repeat, suite_main

from myelin_sdk import (
    Alert,
    Axon,
    BackendModel,
    ContainerTask,
    Deployer,
    DeployTask,
    Lifecycle,
    Metric,
    Model,
    Sensor,
    TrainTask,
    VolumeClaimTemplate,
)

SUITE = "compile"
SIZES = (10, 100, 1000)
#: (full, quick) repetitions per N
RUNS = {10: (15, 5), 100: (7, 3), 1000: (3, 2)}


def build_axon(n: int) -> Axon:
    """An Axon of ``n`` tasks in all: n-2 container tasks, a train task and a deploy task, with sensors."""
    with Axon("bench", api_version="myelinproj.io/v1alpha1") as axon:
        VolumeClaimTemplate("axon-store", storage="1Gi")
        tasks = [
            ContainerTask(f"Task{i}", image="python:3.11", command=["python", "-c", "pass"])
            for i in range(n - 2)
        ]
        train = TrainTask(
            "Train",
            image="python:3.11",
            command=["python", "train.py"],
            loss_metric="rmse",
            loss_metric_selector="less",
        )
        serve = DeployTask("Serve", image="python:3.11")
        Sensor("OnStart", tasks=tasks[: max(1, len(tasks) // 2)])
        for i in range(0, len(tasks), 10):
            Sensor(f"After{i}", triggers=[Lifecycle(tasks[i], "Succeeded")], tasks=tasks[i : i + 10])
        Sensor("Retrain", triggers=[Alert("{{accuracy}} < 0.9")], tasks=[train])
        Sensor(
            "Deploy",
            triggers=[Lifecycle(train, "Succeeded")],
            conditions=[Metric("{{rmse}} < 0.95")],
            tasks=[
                Deployer(
                    "d",
                    models=[Model("M", backend_models=[BackendModel("B", trainer=train, deployer=serve)])],
                )
            ],
        )
    return axon


def largest_documents(axon: Axon, count: int = 5) -> dict[str, int]:
    """The ``count`` largest documents of the bundle, ``Kind/name`` -> bytes: what the fixed cost is made of
    (the gate and the deploy, promote and rollback steps inline their stdlib scripts)."""
    from myelin_sdk.yamlio import dump

    sizes = {f"{m['kind']}/{m['metadata']['name']}": len(dump(m).encode()) for m in axon.compile().manifests}
    return dict(sorted(sizes.items(), key=lambda kv: -kv[1])[:count])


def compile_yaml(axon: Axon) -> tuple[int, int]:
    """``myelin compile`` minus the files: the bundle as one YAML stream; (bytes, documents)."""
    bundle = axon.compile()
    text = bundle.to_yaml()
    return len(text.encode()), len(bundle.manifests)


def hera_one_template(n: int) -> int:
    """The issue's reference: hera builds and serialises ONE WorkflowTemplate of ``n`` containers."""
    from hera.workflows import Container, Steps, WorkflowTemplate

    with WorkflowTemplate(name="bench", entrypoint="main") as wt:
        containers = [
            Container(name=f"task{i}", image="python:3.11", command=["python", "-c", "pass"])
            for i in range(n)
        ]
        with Steps(name="main"):
            for container in containers:
                container()
    return len(wt.to_yaml().encode())


def hera_template_per_task(n: int) -> int:
    """The fairer reference: what compile emits per task, ``n`` WorkflowTemplates of one container each."""
    from hera.workflows import Container, Steps, WorkflowTemplate

    size = 0
    for i in range(n):
        with WorkflowTemplate(name=f"bench-task{i}", entrypoint="main") as wt:
            container = Container(name="run", image="python:3.11", command=["python", "-c", "pass"])
            with Steps(name="main"):
                container()
        size += len(wt.to_yaml().encode())
    return size


def _growth(medians: dict[int, float]) -> dict[str, float]:
    return {
        f"growth_{a}_to_{b}": round(medians[b] / medians[a], 2)
        for a, b in itertools.pairwise(SIZES)
        if a in medians and b in medians and medians[a] > 0
    }


def run(ctx: Context) -> list[Figure]:
    # warm up: imports, pydantic and hera caches, the first compile
    compile_yaml(build_axon(10))
    hera_one_template(10)
    hera_template_per_task(10)
    samples: dict[str, dict[int, list[float]]] = {
        k: {} for k in ("build", "compile", "hera", "hera_per_task")
    }
    sizes: dict[int, dict[str, int]] = {}
    largest: dict[int, dict[str, int]] = {}
    for n in SIZES:
        runs = ctx.runs(*RUNS[n])
        progress(f"compile: N={n}, {runs} runs each")
        axon = build_axon(n)
        out_bytes, documents = compile_yaml(axon)
        hera_bytes = hera_one_template(n)
        per_task_bytes = hera_template_per_task(n)
        largest[n] = largest_documents(axon)
        sizes[n] = {
            "bytes": out_bytes,
            "documents": documents,
            "hera_bytes": hera_bytes,
            "hera_per_task_bytes": per_task_bytes,
        }
        for key in samples:
            samples[key][n] = []
        actions: dict[str, Callable[[], object]] = {
            "build": functools.partial(build_axon, n),
            "compile": functools.partial(compile_yaml, axon),
            "hera": functools.partial(hera_one_template, n),
            "hera_per_task": functools.partial(hera_template_per_task, n),
        }
        # interleaved, so a noisy neighbour slows both sides alike; garbage of the previous sample collected
        # first, so its collection is not charged to the next one (the collector stays on while timing)
        for _ in range(runs):
            for key, action in actions.items():
                gc.collect()
                samples[key][n] += repeat(action, 1, warmup=0)
    medians = {k: {n: statistics.median(v) for n, v in per_n.items()} for k, per_n in samples.items()}
    growth: dict[str, Any] = {k: _growth(m) for k, m in medians.items()}
    figures: list[Figure] = []
    for previous, n in zip((None, *SIZES), SIZES, strict=False):  # (None, 10), (10, 100), (100, 1000)

        def grew(key: str, baseline: str, previous: int | None = previous, n: int = n) -> str:
            """``; growth from N=100: 9.6x, hera 14.6x (linear: 10x)`` (nothing for the smallest N)."""
            if previous is None:
                return ""
            name = f"growth_{previous}_to_{n}"
            return (
                f"; x{n // previous} tasks: {growth[key][name]}x the time, "
                f"baseline {growth[baseline][name]}x (linear: {n // previous}x)"
            )

        figures.append(
            Figure.timed(
                SUITE,
                f"compile + to_yaml, N={n}",
                samples["compile"][n],
                f"hera: 1 WorkflowTemplate of {n} containers",
                samples["hera"][n],
                note=(
                    f"{sizes[n]['documents']} documents, {sizes[n]['bytes']} bytes "
                    f"vs {sizes[n]['hera_bytes']}" + grew("compile", "hera")
                ),
                growth=growth["compile"],
                baseline_growth=growth["hera"],
                largest_documents=largest[n],
                **sizes[n],
            )
        )
        figures.append(
            Figure.timed(
                SUITE,
                f"compile + to_yaml, N={n} (per-task reference)",
                samples["compile"][n],
                f"hera: {n} WorkflowTemplates of 1 container",
                samples["hera_per_task"][n],
                note=f"{sizes[n]['bytes']} bytes vs {sizes[n]['hera_per_task_bytes']}"
                + grew("compile", "hera_per_task"),
                growth=growth["compile"],
                baseline_growth=growth["hera_per_task"],
                **sizes[n],
            )
        )
        figures.append(
            Figure.timed(
                SUITE,
                f"build the Axon (Python DSL), N={n}",
                samples["build"][n],
                f"hera: 1 WorkflowTemplate of {n} containers",
                samples["hera"][n],
                note="declaring the tasks, sensors and deployer" + grew("build", "hera"),
                growth=growth["build"],
            )
        )
    progress("compile: growth " + ", ".join(f"{k} {v}" for k, v in growth.items()) + " (linear = 10x)")
    return figures


if __name__ == "__main__":
    sys.exit(suite_main(run))
