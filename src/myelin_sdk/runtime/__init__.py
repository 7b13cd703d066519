"""Runtime helpers that run inside the cluster; kept free of heavy imports.

:mod:`myelin_sdk.runtime.gate` is the metric gate of ``Metric`` conditions.  It uses
only the standard library, so the compiler can inline its source as a script::

    from myelin_sdk.runtime import gate_script_source

    script = gate_script_source()   # run as: python - --prometheus URL --query PROMQL < script

Task and model code uses the rest (DESIGN §4)::

    from myelin_sdk.runtime import best_version, data_path, new_version, publish_metric

    ratings = data_path() / "ratings.csv"              # DATA_PATH; model_path() is MODEL_PATH
    model.save(model_path() / "weights.h5")            # MODEL_PATH: this execution's version folder
    with new_version(metrics={"rmse": 0.91}) as version:  # or, optionally, the registry API:
        model.save(version / "weights.h5")             # committed atomically to MYELIN_MODEL_ROOT/<version>/
    publish_metric("recommender_train_rmse", 0.91)     # recommender_train_rmse_<axon> under job TASK_ID
    best = best_version("rmse")                        # in a model server: the lowest rmse

:mod:`~myelin_sdk.runtime.paths` (``data_path``, ``model_path``, ``task``),
:mod:`~myelin_sdk.runtime.metrics` (``publish_metric``, the original client's ``MetricClient`` and
``publish_result``) and :mod:`~myelin_sdk.runtime.registry` (model versions) import only the standard
library; ``prometheus_client`` is imported on the first push.
"""

from __future__ import annotations

from importlib import resources

from .metrics import (
    MetricClient,
    MetricsNotConfigured,
    MetricsPushError,
    metric_name,
    publish_metric,
    publish_metrics,
    publish_result,
)
from .paths import NotConfigured, TaskInfo, data_path, model_path, model_root, task
from .registry import (
    PendingVersion,
    Version,
    best_version,
    cleanup_incomplete,
    latest_version,
    new_version,
    save_version,
    versions,
)

__all__ = [
    "MetricClient",
    "MetricsNotConfigured",
    "MetricsPushError",
    "NotConfigured",
    "PendingVersion",
    "TaskInfo",
    "Version",
    "best_version",
    "cleanup_incomplete",
    "data_path",
    "deploy_script",
    "gate_script",
    "gate_script_source",
    "inline_script",
    "latest_version",
    "metric_name",
    "model_path",
    "model_root",
    "new_version",
    "publish_metric",
    "publish_metrics",
    "publish_result",
    "register_script",
    "save_version",
    "task",
    "versions",
]

_MAIN_CALL = 'if __name__ == "__main__":\n    sys.exit(main())\n'


def gate_script_source() -> str:
    """Return the source text of :mod:`myelin_sdk.runtime.gate`, runnable as a standalone script."""
    return resources.files(__name__).joinpath("gate.py").read_text(encoding="utf-8")


def inline_script(module: str, argv: list[str]) -> str:
    """The source of the stdlib-only module ``runtime/<module>.py`` as a script that runs ``main(argv)`` — for
    an Argo ``script`` template, which passes no arguments. ``argv`` is embedded as a Python string-list
    literal (data, never evaluated as code)."""
    source = resources.files(__name__).joinpath(f"{module}.py").read_text(encoding="utf-8")
    if _MAIN_CALL not in source:  # pragma: no cover - guards an edit of the module
        raise RuntimeError(f"{module}.py must end with the standard __main__ block")
    if "{{" in source:  # pragma: no cover - Argo would try to substitute it
        raise RuntimeError(f"{module}.py must not contain '{{{{' (Argo templating)")
    # argv may carry Argo variables on purpose (a deploy task's env `{{workflow.parameters.x}}`): Argo
    # substitutes them in the script before it runs
    return source.replace(_MAIN_CALL, f"sys.exit(main({[str(a) for a in argv]!r}))\n")


def gate_script(argv: list[str]) -> str:
    """The metric gate as an inline script running ``main(argv)`` (see :func:`inline_script`)."""
    return inline_script("gate", argv)


def deploy_script(argv: list[str]) -> str:
    """The deploy step's script (:mod:`myelin_sdk.runtime.deploy`) running ``main(argv)``."""
    return inline_script("deploy", argv)


def register_script(argv: list[str]) -> str:
    """The register step's script (:mod:`myelin_sdk.runtime.register`) running ``main(argv)``."""
    return inline_script("register", argv)
