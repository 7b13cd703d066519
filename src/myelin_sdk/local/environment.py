"""The environment of a local task or model server: the runtime contract (DESIGN §4) and what the original
``myelin`` client reads, on top of the runner's environment (a task) or a clean one (a model server)::

    env = task_environment(
        axon, "Train", run_dir, namespace="local", pushgateway_url=metrics.pushgateway_url, control_url=url
    )
    TaskProcess.start(command, cwd=folder, env=env, log=log_file)

The same names as a compiled template sets (:mod:`myelin_sdk.compiler.workflows`), from
:mod:`~myelin_sdk.contract`.
"""

from __future__ import annotations

from .. import contract
from ..spec import Axon
from .workspace import RunDir, base_env, compat_path, serving_env, with_pythonpath

__all__ = ["task_environment"]


def task_environment(
    axon: Axon,
    name: str,
    run_dir: RunDir,
    *,
    namespace: str,
    pushgateway_url: str,
    control_url: str | None = None,
) -> dict[str, str]:
    """The environment of task ``name``: the runner's (or a clean one), then the contract, then its ``env``.

    A task gets the runner's environment with the runner's ``python`` first on ``PATH``; a model server
    (a deploy task) a clean one (:func:`~.workspace.serving_env`). Both get the runtime contract with the
    variables the original ``myelin`` client reads (DESIGN §4), ``MYELIN_CONTROL_URL`` (``control_url``, which
    ``myelin.admin.model_backend()`` asks what is served), and the compatible ``myelin.metric`` /
    ``myelin.admin`` first on ``PYTHONPATH`` (:func:`~.workspace.compat_path`).
    """
    task = axon.task(name)
    env = serving_env() if task.kind == "deploy" else base_env(run_dir.python_shims())
    env.update(
        {
            contract.AXON_NAME: axon.name,
            contract.TASK_NAME: name,
            contract.TASK_ID: contract.task_id(axon.name, name),
            contract.NAMESPACE: namespace,
            contract.PUSHGATEWAY_URL: pushgateway_url,
            # read by the original client at import (its Pushgateway's and installation's namespace)
            contract.MYELIN_NAMESPACE: namespace,
            contract.PUSHGATEWAY_NAMESPACE: namespace,
            **run_dir.task_paths(name),
        }
    )
    if task.train is not None and task.train.loss_metric:
        env[contract.LOSS_METRIC] = task.train.loss_metric  # the original's myelin.metric.get_loss_metric()
    if control_url:
        env["MYELIN_CONTROL_URL"] = control_url
    parameters = {p.name: p.value for p in axon.parameters}
    for var in task.body.env:
        if var.value is not None:
            value = var.value
            for key, val in parameters.items():
                value = value.replace("{{workflow.parameters." + key + "}}", val)
            env[var.name] = value
    env["PYTHONPATH"] = with_pythonpath(compat_path(), env.get("PYTHONPATH"))  # a task's own goes after
    return env
