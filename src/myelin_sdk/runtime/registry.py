"""A model registry on the shared volume: one folder per model version, committed atomically.

This API is optional: a train task that just writes its files into ``MODEL_PATH`` (its execution's own
version folder) produces a model version too, registered when it succeeds (:mod:`.register`). With the API a
task writes versions itself, with their metrics, into the task's registry root, so that a deployer can serve
the newest or the best one (``lossMetric``, ``lossMetricSelector``)::

    from myelin_sdk.runtime import best_version, new_version

    with new_version(metrics={"rmse": 0.91}) as version:      # version behaves like a path
        model.save(version / "weights.h5")
        version.metrics["mae"] = 0.72                          # metrics may be added until the block ends
    version.committed.name                                     # '20261127T012345.123456Z-3fa9c1'

    best = best_version("rmse")                                # lowest rmse; greater=True for accuracy
    model = load(best.path / "weights.h5")

or, with a function that writes the files::

    save_version({"rmse": 0.91}, lambda folder: model.save(folder / "weights.h5"))

Layout of the registry root (``root``, by default :func:`myelin_sdk.runtime.paths.model_root`:
``MYELIN_MODEL_ROOT`` when set, else ``MODEL_PATH``)::

    20261127T012345.123456Z-3fa9c1/       a committed version: the model's files and
        metrics.json                      {"version": ..., "created": ISO-8601 UTC, "metrics": {...}}
        weights.h5
    .tmp-20261127T020000.000000Z-77ab01/  a version being written, or whose writer died

Atomicity: the files are written into ``root/.tmp-<version>/``; when the ``with`` block ends without an
exception, ``metrics.json`` is written there, every file and folder of the version is fsynced, and the
folder is renamed to ``root/<version>/`` (one ``rename``, atomic on a POSIX file system), then ``root`` is
fsynced.  A reader therefore sees a version completely or not at all.  An exception in the block removes
the temporary folder; a writer that is killed leaves it behind: :func:`versions` ignores every folder whose
name starts with ``.`` and every folder without ``metrics.json``, and :func:`cleanup_incomplete` removes
temporary folders that nothing has written to for a while.

Version names default to the UTC start time in ISO-8601 basic format with microseconds plus 6 random hex
digits (``20261127T012345.123456Z-3fa9c1``), so that sorting names sorts by time and concurrent writers
never collide.  A version's ``created`` is that start time.  Metric values are finite numbers.

This module imports only the standard library (and :mod:`myelin_sdk.runtime.paths`).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .paths import model_root
from .register import fsync_path as _fsync
from .register import version_name

__all__ = [
    "METRICS_FILE",
    "TMP_PREFIX",
    "PendingVersion",
    "Version",
    "best_version",
    "cleanup_incomplete",
    "latest_version",
    "new_version",
    "save_version",
    "versions",
]

#: The file of a committed version that holds its name, creation time and metrics (reserved).
METRICS_FILE = "metrics.json"
#: The name prefix of a version folder being written.
TMP_PREFIX = ".tmp-"

_VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_last_stamp: datetime | None = None


@dataclass(frozen=True)
class Version:
    """A committed model version: its folder ``path`` (``root/<name>``), metrics and UTC creation time."""

    name: str
    path: Path
    metrics: dict[str, float] = field(hash=False)
    created: datetime


@dataclass
class PendingVersion:
    """A version being written (what ``with new_version() as version`` gives).

    It works as a path to the temporary folder: ``version / "model.pkl"``, ``open(os.path.join(version,
    "x"), "w")``, ``str(version)``.  ``metrics`` may be changed until the block ends; after a successful
    commit ``committed`` holds the :class:`Version` (``committed.path`` is the final folder).
    """

    name: str
    path: Path
    metrics: dict[str, float]
    created: datetime
    committed: Version | None = None

    def __truediv__(self, other: str | os.PathLike[str]) -> Path:
        return self.path / other

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)


def _now() -> datetime:
    """The current UTC time, strictly later than the previous call's in this process."""
    global _last_stamp
    now = datetime.now(timezone.utc)
    if _last_stamp is not None and now <= _last_stamp:
        now = _last_stamp + timedelta(microseconds=1)
    _last_stamp = now
    return now


def _default_name(created: datetime) -> str:
    return version_name(created)


def _check_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    checked: dict[str, float] = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"a metric name must be a non-empty string, not {name!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"the value of metric {name!r} must be a number, not {type(value).__name__}")
        if not math.isfinite(value):
            raise ValueError(f"the value of metric {name!r} must be finite, not {value!r}")
        checked[name] = float(value)
    return checked


def _fsync_tree(folder: Path) -> None:
    for dirpath, _dirnames, filenames in os.walk(folder):
        for filename in filenames:
            file = Path(dirpath) / filename
            if file.is_file() and not file.is_symlink():
                _fsync(file)
        _fsync(Path(dirpath))


def _commit(pending: PendingVersion, root: Path, final: Path) -> Version:
    metrics = _check_metrics(pending.metrics)
    record = pending.path / METRICS_FILE
    if record.exists():
        raise ValueError(f"{METRICS_FILE} is reserved for the version's metrics: set metrics instead")
    document = {"version": pending.name, "created": pending.created.isoformat(), "metrics": metrics}
    with record.open("w", encoding="utf-8") as out:
        json.dump(document, out, indent=2, sort_keys=True)
        out.write("\n")
    _fsync_tree(pending.path)
    if final.exists():
        raise FileExistsError(f"model version {final} already exists")
    os.rename(pending.path, final)
    _fsync(root)
    return Version(name=pending.name, path=final, metrics=metrics, created=pending.created)


@contextmanager
def new_version(
    metrics: Mapping[str, float] | None = None,
    *,
    root: Path | str | None = None,
    version: str | None = None,
) -> Iterator[PendingVersion]:
    """Write a new model version in the ``with`` block; commit it atomically when the block ends.

    ``root`` defaults to :func:`~myelin_sdk.runtime.paths.model_root` (created if missing); ``version`` to a
    time-ordered name (see the module).  An exception in the block removes everything written and
    propagates; so does an invalid metric at commit time.  Raises :class:`FileExistsError` when
    ``version`` exists already.
    """
    base = Path(root) if root is not None else model_root()
    created = _now()
    name = version if version is not None else _default_name(created)
    if not _VERSION_RE.fullmatch(name):
        raise ValueError(
            f"invalid model version name {name!r}: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit"
        )
    initial = _check_metrics(metrics or {})
    final = base / name
    if final.exists():
        raise FileExistsError(f"model version {final} already exists")
    base.mkdir(parents=True, exist_ok=True)
    temporary = base / f"{TMP_PREFIX}{name}"
    temporary.mkdir()
    pending = PendingVersion(name=name, path=temporary, metrics=initial, created=created)
    try:
        yield pending
        pending.committed = _commit(pending, base, final)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def save_version(
    metrics: Mapping[str, float] | None,
    write: Callable[[Path], object],
    *,
    root: Path | str | None = None,
    version: str | None = None,
) -> Version:
    """Commit a new version whose files ``write(folder)`` writes into ``folder``; return it.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as root:
    ...     v = save_version({"rmse": 0.9}, lambda d: (d / "model.txt").write_text("w"), root=root)
    ...     sorted(p.name for p in v.path.iterdir()), v.metrics
    (['metrics.json', 'model.txt'], {'rmse': 0.9})
    """
    with new_version(metrics, root=root, version=version) as pending:
        write(pending.path)
    assert pending.committed is not None
    return pending.committed


def _load(folder: Path) -> Version | None:
    record = folder / METRICS_FILE
    if not record.is_file():
        return None
    try:
        document = json.loads(record.read_text(encoding="utf-8"))
        created = datetime.fromisoformat(document["created"])
        if created.tzinfo is None:
            created = created.replace(tzinfo=timezone.utc)
        metrics = _check_metrics(document.get("metrics") or {})
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        warnings.warn(f"ignoring model version {folder}: unreadable {METRICS_FILE} ({exc})", stacklevel=3)
        return None
    return Version(name=folder.name, path=folder, metrics=metrics, created=created)


def versions(root: Path | str | None = None) -> list[Version]:
    """The committed versions under ``root`` (default: ``model_root()``), newest first.

    Ignored: folders whose name starts with ``.`` (versions being written or abandoned), folders without
    ``metrics.json`` and plain files.  A missing ``root`` has no versions.  Order: ``created``, then name.
    """
    base = Path(root) if root is not None else model_root()
    try:
        entries = list(os.scandir(base))
    except FileNotFoundError:
        return []
    found = []
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        loaded = _load(Path(entry.path))
        if loaded is not None:
            found.append(loaded)
    found.sort(key=lambda v: (v.created, v.name), reverse=True)
    return found


def latest_version(root: Path | str | None = None) -> Version | None:
    """The newest committed version, or ``None`` when there is none."""
    found = versions(root)
    return found[0] if found else None


def best_version(
    metric: str | None,
    *,
    greater: bool = False,
    root: Path | str | None = None,
) -> Version | None:
    """The version with the lowest ``metric`` (the highest with ``greater=True``), or ``None``.

    ``metric=None`` gives the newest version.  Versions that lack ``metric`` are skipped; among equal
    values the newest wins.  ``greater`` matches the Axon's ``lossMetricSelector: greater``.
    """
    found = versions(root)
    if metric is None:
        return found[0] if found else None
    best: Version | None = None
    for candidate in found:  # newest first: a later candidate must be strictly better to win
        if metric not in candidate.metrics:
            continue
        if best is None:
            best = candidate
            continue
        value, incumbent = candidate.metrics[metric], best.metrics[metric]
        if (value > incumbent) if greater else (value < incumbent):
            best = candidate
    return best


def _last_write(folder: Path) -> float:
    latest = folder.lstat().st_mtime
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in (*dirnames, *filenames):
            with suppress(FileNotFoundError):
                latest = max(latest, (Path(dirpath) / name).lstat().st_mtime)
    return latest


def cleanup_incomplete(
    older_than: timedelta | float = timedelta(hours=1),
    *,
    root: Path | str | None = None,
) -> list[Path]:
    """Remove the temporary folders of versions whose writer died; return the folders removed.

    A ``.tmp-*`` folder is removed when nothing in it was modified for ``older_than`` (a
    :class:`~datetime.timedelta` or seconds), so that a writer still at work is left alone.
    """
    base = Path(root) if root is not None else model_root()
    age = older_than.total_seconds() if isinstance(older_than, timedelta) else float(older_than)
    try:
        entries = list(os.scandir(base))
    except FileNotFoundError:
        return []
    removed = []
    now = time.time()
    for entry in entries:
        if not entry.name.startswith(TMP_PREFIX) or not entry.is_dir(follow_symlinks=False):
            continue
        folder = Path(entry.path)
        try:
            if now - _last_write(folder) < age:
                continue
        except FileNotFoundError:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return sorted(removed)
