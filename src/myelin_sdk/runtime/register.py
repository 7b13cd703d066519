"""Register a train task execution: its ``MODEL_PATH`` folder becomes a model version with the metrics it
published (DESIGN §4).

Every execution of a train task gets a fresh folder ``<store>/models/<task>/<version>/`` as ``MODEL_PATH``.
When the task succeeds, the workflow's ``register`` step (on a cluster) calls, and the local runner does the
same with the metrics of its own store (:mod:`myelin_sdk.local.executions`)::

    from myelin_sdk.runtime.register import fetch_published, register

    metrics = fetch_published("http://pushgateway:9091", job="ml-rec-train", axon="ml-rec", since=started)
    register(Path("/axon-store/models/train/20261127T012345Z-3fa9c1"), metrics, created=started)
    # -> "registered": metrics.json = {"version", "created", "metrics": {"recommender_train_rmse": 0.91}}

or, as the cluster's inline script (this module's source with ``main(argv)``)::

    python register.py --folder DIR --pushgateway URL --job TASK_ID --axon AXON --since 2026-11-27T01:23:45Z

Rules:

* a folder with files becomes a version: ``metrics.json`` (the format of :mod:`myelin_sdk.runtime.registry`)
  is written atomically (a temporary file, fsynced, renamed), so a reader sees the version completely or not
  at all; a ``metrics.json`` the task wrote itself keeps its metrics, the published values override them;
* an empty folder (the task wrote nothing, or saved its model with the registry API in a sibling folder) is
  removed, not registered;
* the metrics are those pushed under job ``TASK_ID`` after the execution started (``since``), named as the
  Axon's ``lossMetric`` spells them: the published name ``<metric>_<axon>`` (``-`` -> ``__``) loses its
  ``_<axon>`` suffix; series of other names (``push_time_seconds``, ...) are ignored; when a metric has
  several series (grouping keys), the latest push wins; values that are not finite numbers are left out.

A failed execution is never registered: its folder stays without ``metrics.json``, which every reader ignores.

This module imports only the standard library, so the compiler can inline it as a script.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import secrets
import shutil
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

__all__ = [
    "METRICS_FILE",
    "RegisterError",
    "fetch_published",
    "fsync_path",
    "main",
    "new_execution_folder",
    "parse_time",
    "published",
    "register",
    "remove_if_empty",
    "version_name",
]

#: The file of a version folder that holds its name, creation time and metrics.
METRICS_FILE = "metrics.json"
#: Exit status of a register step that cannot read the published metrics.
EXIT_REGISTER_ERROR = 3

_TIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?", re.IGNORECASE
)


class RegisterError(Exception):
    """The published metrics cannot be read (the Pushgateway is down or answers something else)."""


def version_name(created: datetime) -> str:
    """A version folder name: UTC basic time with microseconds + 6 random hex digits; sorts by time.

    >>> version_name(datetime(2026, 11, 27, 1, 23, 45, 123456, tzinfo=timezone.utc))[:-6]
    '20261127T012345.123456Z-'
    """
    return f"{created.astimezone(timezone.utc).strftime('%Y%m%dT%H%M%S.%f')}Z-{secrets.token_hex(3)}"


def new_execution_folder(root: Path, created: datetime | None = None) -> Path:
    """Create and return a fresh, empty version folder ``root/<version_name>`` for one execution."""
    while True:
        folder = Path(root) / version_name(created or datetime.now(timezone.utc))
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            folder.mkdir()
        except FileExistsError:  # pragma: no cover - 2**24 names per microsecond
            continue
        return folder


def parse_time(text: str) -> datetime:
    """An RFC 3339 time (``2026-11-27T01:23:45Z``, any fraction, as Argo and the Pushgateway write it) or a
    Unix time in seconds, as an aware UTC datetime. Raises :class:`ValueError`.

    >>> parse_time("2026-12-03T17:37:31.543520311Z").isoformat()
    '2026-12-03T17:37:31.543520+00:00'
    """
    text = text.strip()
    try:
        return datetime.fromtimestamp(float(text), timezone.utc)
    except ValueError:
        pass
    match = _TIME_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    micro = int((match.group(7) or "0")[:6].ljust(6, "0"))
    zone = (match.group(8) or "Z").upper()
    stamp = datetime(year, month, day, hour, minute, second, micro, tzinfo=timezone.utc)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        stamp -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return stamp


def fsync_path(path: Path) -> None:
    """fsync a file or folder (a folder: so that a rename in it is durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _own_metrics(record: Path) -> dict[str, float]:
    """The metrics of a ``metrics.json`` the task wrote itself (``{}`` when missing or malformed)."""
    try:
        document = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    metrics = document.get("metrics") if isinstance(document, dict) else None
    return _finite(metrics) if isinstance(metrics, dict) else {}


def _finite(values: Mapping[Any, Any]) -> dict[str, float]:
    out = {}
    for name, value in values.items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if isinstance(name, str) and name and number and math.isfinite(value):
            out[name] = float(value)
    return out


def register(folder: Path, metrics: Mapping[str, float], *, created: datetime | None = None) -> str:
    """Make the execution folder ``folder`` a model version with ``metrics``.

    Returns ``"registered"`` (``metrics.json`` written), ``"removed"`` (the folder was empty) or
    ``"missing"`` (no such folder: nothing to do). ``created`` (default: now) is the version's creation time.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return "missing"
    if not any(folder.iterdir()):
        folder.rmdir()
        return "removed"
    record = folder / METRICS_FILE
    values = {**_own_metrics(record), **_finite(metrics)}
    stamp = (created or datetime.now(timezone.utc)).astimezone(timezone.utc)
    document = {"version": folder.name, "created": stamp.isoformat(), "metrics": values}
    tmp = folder / f".{METRICS_FILE}.{os.getpid()}.tmp"
    with tmp.open("w", encoding="utf-8") as out:
        json.dump(document, out, indent=2, sort_keys=True)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, record)
    fsync_path(folder)
    return "registered"


def remove_if_empty(folder: Path) -> bool:
    """Remove ``folder`` when it exists and is empty (a failed execution that wrote nothing)."""
    folder = Path(folder)
    if folder.is_dir() and not any(folder.iterdir()):
        shutil.rmtree(folder, ignore_errors=True)
        return True
    return False


def published(document: Any, job: str, axon: str, since: datetime) -> dict[str, float]:
    """The metrics of ``job`` in the Pushgateway's ``GET /api/v1/metrics`` answer ``document`` that were
    pushed at or after ``since``, with the ``_<axon>`` suffix of the published names removed (see the
    module)."""
    suffix = "_" + axon.replace("-", "__")
    latest: dict[str, tuple[datetime, float]] = {}
    groups = document.get("data") if isinstance(document, dict) else None
    for group in groups if isinstance(groups, list) else []:
        if not isinstance(group, dict) or (group.get("labels") or {}).get("job") != job:
            continue
        for name, family in group.items():
            if not name.endswith(suffix) or len(name) == len(suffix) or not isinstance(family, dict):
                continue
            try:
                pushed = parse_time(str(family.get("time_stamp", "")))
            except ValueError:
                continue
            if pushed < since:
                continue
            for sample in family.get("metrics") or []:
                try:
                    value = float(sample["value"])
                except (KeyError, TypeError, ValueError):
                    continue
                metric = name[: -len(suffix)]
                if math.isfinite(value) and (metric not in latest or latest[metric][0] <= pushed):
                    latest[metric] = (pushed, value)
    return {metric: value for metric, (_, value) in sorted(latest.items())}


def fetch_published(
    url: str,
    job: str,
    axon: str,
    since: datetime,
    *,
    timeout: float = 10.0,
    attempts: int = 3,
    context: ssl.SSLContext | None = None,
) -> dict[str, float]:
    """:func:`published` of the Pushgateway at ``url``; :class:`RegisterError` when it cannot be read.
    ``context`` verifies an https Pushgateway (default: the system's CA store)."""
    endpoint = url.rstrip("/") + "/api/v1/metrics"
    problem = ""
    for attempt in range(attempts):
        if attempt:
            time.sleep(min(2.0**attempt, 10.0))
        try:
            with urllib.request.urlopen(endpoint, timeout=timeout, context=context) as response:
                document = json.loads(response.read().decode("utf-8"))
        except (OSError, ValueError) as exc:  # URLError and HTTPError are OSErrors
            problem = str(exc)
            continue
        if not isinstance(document, dict) or document.get("status") != "success":
            raise RegisterError(
                f"{endpoint} did not answer a Pushgateway metrics list: {str(document)[:200]}"
            )
        return published(document, job, axon, since)
    raise RegisterError(f"cannot read the published metrics at {endpoint}: {problem}")


def main(argv: Sequence[str] | None = None) -> int:
    """Register ``--folder`` with the metrics ``--job`` pushed to ``--pushgateway`` since ``--since``."""
    parser = argparse.ArgumentParser(prog="register.py", description=__doc__.splitlines()[0])
    parser.add_argument("--folder", required=True, help="the execution's MODEL_PATH folder")
    parser.add_argument("--pushgateway", required=True, help="the Pushgateway URL (PUSHGATEWAY_URL)")
    parser.add_argument("--job", required=True, help="the task's Pushgateway job (TASK_ID)")
    parser.add_argument("--axon", required=True, help="the axon's name (AXON_NAME)")
    parser.add_argument("--since", required=True, help="when the execution started (RFC 3339 or Unix time)")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    try:
        since = parse_time(args.since)
    except ValueError as exc:
        print(f"register error: --since: {exc}", file=sys.stderr, flush=True)
        return 2
    if not folder.is_dir() or not any(folder.iterdir()):
        outcome = register(folder, {})
        print(f"{folder}: {'no such folder' if outcome == 'missing' else 'empty, removed'}: no model version")
        return 0
    try:
        metrics = fetch_published(args.pushgateway, args.job, args.axon, since)
    except RegisterError as exc:
        print(f"register error: {exc}; {folder} stays unregistered", file=sys.stderr, flush=True)
        return EXIT_REGISTER_ERROR
    register(folder, metrics, created=since)
    print(f"registered model version {folder.name} with metrics {json.dumps(metrics, sort_keys=True)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
