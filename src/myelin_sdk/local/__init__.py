"""The local runner: a whole Axon on one machine, the embedded default of ``myelin run``.

Tasks run as subprocesses in a per-run work dir, sensors as an event loop, metrics in Prometheus or an
embedded store that speaks the Pushgateway protocol, and every deployed model version in the real
``seldon-core`` microservice behind a weighted canary router::

    from myelin_sdk.local import RunOptions, run_local

    run = run_local(axon, RunOptions(port=9000))     # returns at once; the run goes on in the background
    run.wait("deployed", timeout=300)                 # raises RunFailed when no deploy can happen any more
    run.predict([3, 4])                               # {"data": {"ndarray": [...]}, "meta": {...}}
    run.stop()

The engine reads the model (:mod:`myelin_sdk.spec`), never the compiled manifests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import Engine, RunOptions
    from .handle import LocalRun, PredictionError, run_local
    from .outcome import RunFailed

__all__ = ["Engine", "LocalRun", "PredictionError", "RunFailed", "RunOptions", "run_local"]

_WHERE = {
    "Engine": ".engine",
    "RunOptions": ".engine",
    "LocalRun": ".handle",
    "PredictionError": ".handle",
    "RunFailed": ".outcome",
    "run_local": ".handle",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
