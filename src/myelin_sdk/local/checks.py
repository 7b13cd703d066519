"""What a local run checks before it starts anything: the axon can run here, and its endpoint's port is free.

Both raise :class:`~myelin_sdk.errors.MyelinError` with one line per problem, naming the field path::

    check_axon(axon, {"data": Path("./data")})   # lint errors, what a task needs here, S3 artifacts
    check_port(axon, 9000)                       # "--port 9000: cannot listen there (...)" when taken
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path

from ..errors import Diagnostic, MyelinError
from ..spec import Axon, Task
from .deployments import check_deployer
from .hpo_plan import hpo_plan
from .spark import spark_problems
from .tfjob import tf_replicas

__all__ = ["check_axon", "check_port"]


def check_axon(axon: Axon, artifacts: Mapping[str, Path]) -> None:
    """Everything that can be known before running: lint errors, unsupported parts, the ``--artifact`` folders
    given for ``artifacts`` (name -> local folder). Raises MyelinError."""
    from ..lint import errors_only, semantic_diagnostics

    # lint's semantic errors; not what only a cluster refuses (no image, a local artifact, no volume), nor
    # a compile-time "not supported yet" for what this runner runs (spark, tfJobSpec, hpTuning)
    problems = [p for p in errors_only(semantic_diagnostics(axon)) if not _runs_here(p)]
    for k, task in enumerate(axon.tasks):
        problems += _kind_problems(axon, task, f"spec.tasks[{k}]")
    for i, sensor in enumerate(axon.sensors):
        for j, step in enumerate(sensor.tasks):
            where = f"spec.sensors[{i}].tasks[{j}]"
            if step.deployer is not None:
                known = {p.path for p in problems}  # lint said it already (an unknown model, ...)
                problems += [
                    p for p in check_deployer(step.deployer, f"{where}.deployer") if p.path not in known
                ]
            elif step.task is not None:
                task = axon.task(step.task)
                if task.kind == "spark":
                    problems += spark_problems(task, where)
                if task.kind == "deploy":
                    problems.append(
                        Diagnostic(where, f"task {task.name!r} is a deploy task: a deployer serves it")
                    )
    for k, artifact in enumerate(axon.artifacts):
        if artifact.s3 is not None and artifact.name not in artifacts:
            problems.append(
                Diagnostic(
                    f"spec.artifacts[{k}].s3",
                    f"local runs do not download S3 artifacts — pass --artifact {artifact.name}=PATH",
                )
            )
    unknown = set(artifacts) - {a.name for a in axon.artifacts}
    for name in sorted(unknown):
        problems.append(Diagnostic("", f"--artifact {name}=...: the axon has no artifact {name!r}"))
    if problems:
        raise MyelinError(problems)


#: Fields this runner runs, which a compiler without them refuses as "not supported yet".
_RUN_HERE = (".spark", ".hpTuning", ".tfJobSpec")


def _runs_here(problem: Diagnostic) -> bool:
    return problem.message.startswith("not supported yet") and problem.path.endswith(_RUN_HERE)


def _kind_problems(axon: Axon, task: Task, where: str) -> list[Diagnostic]:
    """What this runner needs of an hpTuning or tfJobSpec train task (Optuna installed: :mod:`.tuning`)."""
    train = task.train
    if train is None:
        return []
    problems: list[Diagnostic] = []
    for check, path in (
        (lambda: hpo_plan(train.hp_tuning, f"{where}.train.hpTuning"), train.hp_tuning),
        (lambda: tf_replicas(train.tf_job_spec, f"{where}.train.tfJobSpec"), train.tf_job_spec),
    ):
        if path is not None:
            try:
                check()
            except MyelinError as exc:
                problems += exc.diagnostics
    if train.hp_tuning is not None:
        if not train.loss_metric:
            problems.append(
                Diagnostic(f"{where}.train.lossMetric", "hpTuning needs the lossMetric each trial publishes")
            )
        used = any(s.task == task.name for x in axon.sensors for s in x.tasks)
        if used and not problems:
            from .tuning import require_optuna

            try:
                require_optuna(f"{where}.train.hpTuning")
            except MyelinError as exc:
                problems += exc.diagnostics
    return problems


def check_port(axon: Axon, port: int) -> None:
    """The endpoint's port must be free now, not found taken after the first training (0: a free one is
    picked later; an axon without a deployer has no endpoint)."""
    if not port or not any(s.deployer for x in axon.sensors for s in x.tasks):
        return
    with socket.socket() as probe:
        # as the router's server does (http.server): a port in TIME_WAIT after a stop is free to listen on
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise MyelinError(
                f"--port {port}: cannot listen there ({exc.strerror}) — pass another --port "
                "(0 picks a free one)"
            ) from None
