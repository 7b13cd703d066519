"""What a local run checks before it starts anything: the axon can run here, and its endpoint's port is free.

Both raise :class:`~myelin_sdk.errors.MyelinError` with one line per problem, naming the field path::

    check_axon(axon, {"data": Path("./data")})   # lint errors, spark or deploy tasks as steps, S3 artifacts
    check_port(axon, 9000)                       # "--port 9000: cannot listen there (...)" when taken
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path

from ..errors import Diagnostic, MyelinError
from ..spec import Axon
from .deployments import check_deployer

__all__ = ["check_axon", "check_port"]


def check_axon(axon: Axon, artifacts: Mapping[str, Path]) -> None:
    """Everything that can be known before running: lint errors, unsupported parts, the ``--artifact`` folders
    given for ``artifacts`` (name -> local folder). Raises MyelinError."""
    from ..lint import errors_only, semantic_diagnostics

    # lint's semantic errors; not what only a cluster refuses (no image, a local artifact, no volume)
    problems = errors_only(semantic_diagnostics(axon))
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
                    problems.append(Diagnostic(where, f"task {task.name!r}: spark tasks cannot run locally"))
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
