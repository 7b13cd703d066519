"""What the demo's tasks use of ``myelin_sdk.runtime``, with a standard-library fallback.

Where the SDK is importable (``myelin run`` runs the tasks with the SDK's own Python; an image may install
it) these are ``myelin_sdk.runtime``'s own ``data_path``, ``new_version`` and ``NotConfigured``.  A task
image built from ``requirements-train.txt`` alone gets the fallback below.  (Never add ``myelin-sdk`` from
PyPI to that file: the PyPI project of that name is an unrelated package.)

The fallback writes the layout of ``myelin_sdk.runtime.registry``, so deployers and ``best_version`` read its
versions: the files go to ``<root>/.tmp-<version>/``, then ``metrics.json`` (``{"version", "created",
"metrics"}``) is written and the folder is renamed to ``<root>/<version>/`` in one ``rename`` (``<root>`` is
the task's registry, ``MYELIN_MODEL_ROOT``, else ``MODEL_PATH``); the
version name is the UTC start time plus 6 random hex digits (``20261127T012345.123456Z-3fa9c1``).
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["SDK", "NotConfigured", "data_path", "new_version"]

try:
    from myelin_sdk.runtime import NotConfigured, data_path, new_version

    SDK = True
except ImportError:  # a task image without the SDK
    SDK = False

    class NotConfigured(RuntimeError):  # type: ignore[no-redef]
        """An environment variable of the runtime contract is not set."""

    def _required(variable: str) -> Path:
        value = os.environ.get(variable)
        if not value:
            raise NotConfigured(f"{variable} is not set (Myelin sets it in every task container)")
        return Path(value)

    def data_path() -> Path:  # type: ignore[misc]
        """The axon's shared data folder, ``DATA_PATH``."""
        return _required("DATA_PATH")

    @dataclass
    class _Committed:
        name: str
        path: Path
        metrics: dict[str, float]

    @dataclass
    class _Pending:
        name: str
        path: Path
        metrics: dict[str, float]
        committed: _Committed | None = None

    @contextmanager  # type: ignore[no-redef]
    def new_version(
        metrics: Mapping[str, float] | None = None, *, root: Path | str | None = None
    ) -> Iterator[_Pending]:
        """Write a model version in the ``with`` block; commit it atomically when the block ends."""
        # the task's registry root (MYELIN_MODEL_ROOT), else MODEL_PATH, as myelin_sdk.runtime.registry
        base = Path(root or os.environ.get("MYELIN_MODEL_ROOT") or _required("MODEL_PATH"))
        created = datetime.now(timezone.utc)
        name = f"{created.strftime('%Y%m%dT%H%M%S.%f')}Z-{secrets.token_hex(3)}"
        base.mkdir(parents=True, exist_ok=True)
        temporary = base / f".tmp-{name}"
        temporary.mkdir()
        pending = _Pending(name=name, path=temporary, metrics=dict(metrics or {}))
        try:
            yield pending
            values = {key: float(value) for key, value in pending.metrics.items()}
            if not all(math.isfinite(v) for v in values.values()):
                raise ValueError(f"metric values must be finite: {values}")
            record = {"version": name, "created": created.isoformat(), "metrics": values}
            (temporary / "metrics.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
            final = base / name
            os.rename(temporary, final)
            pending.committed = _Committed(name=name, path=final, metrics=values)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
