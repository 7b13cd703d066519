"""Runtime helpers that run inside the cluster; kept free of heavy imports.

:mod:`myelin_sdk.runtime.gate` is the metric gate of ``Metric`` conditions.  It uses
only the standard library, so the compiler can inline its source as a script::

    from myelin_sdk.runtime import gate_script_source

    script = gate_script_source()   # run as: python - --prometheus URL --query PROMQL < script

Task and model code uses the rest (DESIGN §4)::

    from myelin_sdk.runtime import best_version, data_path, new_version, publish_metric

    ratings = data_path() / "ratings.csv"              # DATA_PATH; model_path() is MODEL_PATH
    with new_version(metrics={"rmse": 0.91}) as version:
        model.save(version / "weights.h5")             # committed atomically to MODEL_PATH/<version>/
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
from .paths import NotConfigured, TaskInfo, data_path, model_path, task
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
    "gate_script",
    "gate_script_source",
    "latest_version",
    "metric_name",
    "model_path",
    "new_version",
    "publish_metric",
    "publish_metrics",
    "publish_result",
    "save_version",
    "task",
    "versions",
]

_MAIN_CALL = 'if __name__ == "__main__":\n    sys.exit(main())\n'


def gate_script_source() -> str:
    """Return the source text of :mod:`myelin_sdk.runtime.gate`, runnable as a standalone script."""
    return resources.files(__name__).joinpath("gate.py").read_text(encoding="utf-8")


def gate_script(argv: list[str]) -> str:
    """The gate's source as a script that runs ``main(argv)`` — for an Argo ``script`` template, which passes
    no arguments. ``argv`` is embedded as a Python string-list literal (data, never evaluated as code)."""
    source = gate_script_source()
    if _MAIN_CALL not in source:  # pragma: no cover - guards an edit of gate.py
        raise RuntimeError("gate.py must end with the standard __main__ block")
    if "{{" in source:  # pragma: no cover - Argo would try to substitute it
        raise RuntimeError("gate.py must not contain '{{' (Argo templating)")
    return source.replace(_MAIN_CALL, f"sys.exit(main({[str(a) for a in argv]!r}))\n")
