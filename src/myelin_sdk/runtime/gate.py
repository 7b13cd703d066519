"""Metric gate: decide whether a sensor's ``Metric`` condition holds, by asking Prometheus.

The compiler renders a ``Metric`` condition to a PromQL *filter* expression
(the condition on ``recommender_train_rmse`` below 0.95 in Axon ``ml-rec`` becomes
``recommender_train_rmse_ml__rec < 0.95``).  An instant query of such an
expression returns the series while the condition holds and nothing when it does
not, so one measurement is one instant query: **non-empty result = success,
empty result = failure**.

Measurements follow Argo Rollouts analysis semantics: ``count`` measurements are
taken ``interval`` apart; the gate fails as soon as more than ``failure_limit``
measurements have failed and passes once all ``count`` are done without that.
An unreachable Prometheus is an *error*, not a failed gate: each measurement is
tried ``1 + retries`` times, then :class:`PrometheusUnavailable` is raised.

This module imports only the Python standard library and nothing else of
``myelin_sdk``: its source is inlined into the cluster as a script (see
``myelin_sdk.runtime.gate_script_source()``) and run with a bare ``python``.

Library use::

    from myelin_sdk.runtime.gate import run_gate

    verdict = run_gate("http://prometheus:9090", "recommender_train_rmse_ml__rec < 0.95",
                       interval_s=10.0, count=3, failure_limit=1)
    verdict.passed, verdict.reason

Command line (the last stdout line is exactly ``passed`` or ``failed``, preceded by
a one-line JSON verdict; exit 0 passed, 1 failed, 2 usage error, 3 Prometheus
unavailable or the query rejected, with the message on stderr)::

    python gate.py --prometheus http://prometheus:9090 \\
        --query 'recommender_train_rmse_ml__rec < 0.95' --interval 10s --count 3 --failure-limit 1

TLS and auth: an ``https`` URL is verified against the system's CAs, or ``--ca-file FILE`` (``--ca-optional``:
the system's CAs when FILE does not exist, as when a mounted Secret has no ``ca.crt``); ``--insecure`` skips
verification (labs only).  ``--token-file FILE`` sends ``Authorization: Bearer <the file's content>``; the
token is read from the file, never given on the command line.  A certificate that does not verify, or an
HTTP 401/403, is a :class:`PrometheusConfigError`: reported at once, not retried.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "EXIT_FAILED",
    "EXIT_PASSED",
    "EXIT_UNAVAILABLE",
    "Measurement",
    "PrometheusConfigError",
    "PrometheusQueryError",
    "PrometheusUnavailable",
    "Verdict",
    "decide",
    "main",
    "parse_duration",
    "query",
    "read_token",
    "run_gate",
    "tls_context",
]

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_UNAVAILABLE = 3


class PrometheusUnavailable(Exception):
    """Prometheus could not be queried (connection error, HTTP error, malformed answer)."""


class PrometheusQueryError(PrometheusUnavailable):
    """Prometheus answered but rejected the query (e.g. invalid PromQL); retrying cannot help."""


class PrometheusConfigError(PrometheusUnavailable):
    """TLS or auth is wrong (certificate not verified, HTTP 401/403, unreadable CA or token file): retrying
    cannot help."""


def tls_context(ca_file: str | None = None, *, insecure: bool = False) -> ssl.SSLContext:
    """The TLS context of https requests: verified against ``ca_file`` (or the system's CAs), or, with
    ``insecure``, not verified at all. :class:`PrometheusConfigError` when ``ca_file`` cannot be loaded."""
    if insecure:
        if ca_file:
            raise PrometheusConfigError("give a CA file or skip verification (insecure), not both")
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise PrometheusConfigError(f"cannot load the CA file {ca_file}: {exc}") from exc


def read_token(path: str) -> str:
    """The bearer token in ``path`` (surrounding whitespace removed); :class:`PrometheusConfigError` when it
    cannot be read or is empty. Read on each use, so that a rotated token is picked up."""
    try:
        with open(path, encoding="utf-8") as handle:
            token = handle.read().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise PrometheusConfigError(f"cannot read the bearer token file {path}: {exc}") from exc
    if not token or any(c in token for c in "\r\n"):
        raise PrometheusConfigError(f"the bearer token file {path} is empty or has several lines")
    return token


def _tls_reason(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    return reason if isinstance(reason, ssl.SSLCertVerificationError) else None


@dataclass
class Measurement:
    """One instant query: ``ok`` when it returned at least one series.

    ``value`` is the sample value of the first returned series (``None`` when empty),
    ``error`` describes transient errors that were retried before the query
    succeeded (``None`` when there were none), ``at`` is the clock time of the query.
    """

    ok: bool
    value: str | None
    error: str | None
    at: float


@dataclass
class Verdict:
    """Outcome of :func:`run_gate`."""

    passed: bool
    measurements: list[Measurement] = field(default_factory=list)
    reason: str = ""

    def to_json(self) -> str:
        """One-line JSON: ``{"passed": ..., "reason": ..., "measurements": [...]}``."""
        return json.dumps(asdict(self), separators=(",", ":"))


# ------------------------------------------------------------------------ durations

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Convert ``"500ms"``, ``"10s"``, ``"1.5m"`` or ``"1h"`` to seconds.

    >>> parse_duration("10s"), parse_duration("500ms"), parse_duration("1m"), parse_duration("1h")
    (10.0, 0.5, 60.0, 3600.0)
    """
    match = _DURATION_RE.match(text)
    if match is None:
        raise ValueError(f"invalid duration {text!r}: expected a number followed by ms, s, m or h (e.g. 10s)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


# ---------------------------------------------------------------------------- query


def _error_message(body: bytes) -> str | None:
    """The ``error`` of a Prometheus JSON error answer, or ``None`` if ``body`` is not one."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except ValueError:
        return None
    if isinstance(payload, dict) and payload.get("status") == "error":
        return f"{payload.get('errorType', 'error')}: {payload.get('error', '')}"
    return None


def query(
    prometheus_url: str,
    promql: str,
    timeout: float = 5.0,
    *,
    context: ssl.SSLContext | None = None,
    token: str | None = None,
) -> list[dict[str, Any]]:
    """Run an instant query (``GET /api/v1/query``) and return ``data.result``.

    ``context`` verifies https (default: the system's CAs, see :func:`tls_context`); ``token`` is sent as
    ``Authorization: Bearer``. Raises :class:`PrometheusQueryError` when Prometheus rejects the query,
    :class:`PrometheusConfigError` when TLS or auth fails and :class:`PrometheusUnavailable` on any other
    problem; the messages name the URL.
    """
    base = prometheus_url.rstrip("/")
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        detail = _error_message(exc.read() or b"")
        if exc.code in (401, 403):
            hint = "check the bearer token" if token else "it needs a bearer token"
            message = f"Prometheus at {base} answered HTTP {exc.code} {exc.reason}: {hint}"
            raise PrometheusConfigError(message) from None
        if exc.code in (400, 422) and detail is not None:
            raise PrometheusQueryError(f"Prometheus at {base} rejected query {promql!r}: {detail}") from exc
        raise PrometheusUnavailable(
            f"Prometheus at {base} answered HTTP {exc.code} {exc.reason}" + (f" ({detail})" if detail else "")
        ) from exc
    except (OSError, http.client.HTTPException) as exc:
        if (failed := _tls_reason(exc)) is not None:
            raise PrometheusConfigError(
                f"TLS verification of Prometheus at {base} failed: {failed.verify_message or failed}; give "
                "the CA that signed its certificate (or, in a lab, skip verification)"
            ) from None
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise PrometheusUnavailable(f"cannot reach Prometheus at {base}: {reason}") from exc
    try:
        payload = json.loads(body.decode("utf-8"))
    except ValueError as exc:
        raise PrometheusUnavailable(f"Prometheus at {base} did not answer JSON: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("status") != "success":
        status = payload.get("status") if isinstance(payload, dict) else type(payload).__name__
        raise PrometheusUnavailable(f"Prometheus at {base} answered status {status!r}, expected 'success'")
    data = payload.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("result"), list):
        raise PrometheusUnavailable(f"Prometheus at {base} answered without data.result")
    if data.get("resultType") != "vector":
        raise PrometheusQueryError(
            f"query {promql!r} to Prometheus at {base} returned a {data.get('resultType')}, "
            "expected an instant vector"
        )
    result: list[dict[str, Any]] = data["result"]
    return result


# ----------------------------------------------------------------------------- gate


def _measure(
    prometheus_url: str,
    promql: str,
    *,
    retries: int,
    retry_wait_s: float,
    timeout: float,
    sleep: Callable[[float], object],
    clock: Callable[[], float],
    context: ssl.SSLContext | None,
    token_file: str | None,
) -> Measurement:
    attempts = 1 + retries
    errors: list[str] = []
    for attempt in range(1, attempts + 1):
        at = clock()
        try:
            token = read_token(token_file) if token_file else None
            result = query(prometheus_url, promql, timeout=timeout, context=context, token=token)
        except (PrometheusQueryError, PrometheusConfigError):
            raise
        except PrometheusUnavailable as exc:
            errors.append(str(exc))
            if attempt < attempts:
                sleep(retry_wait_s)
            continue
        value = None
        if result:
            sample = result[0].get("value")
            if isinstance(sample, list) and len(sample) == 2:
                value = str(sample[1])
        error = f"{len(errors)} failed attempt(s) before success; last: {errors[-1]}" if errors else None
        return Measurement(ok=bool(result), value=value, error=error, at=at)
    plural = "s" if attempts != 1 else ""
    raise PrometheusUnavailable(
        f"Prometheus at {prometheus_url.rstrip('/')} unavailable after {attempts} attempt{plural} "
        f"(1 + {retries} retries, {retry_wait_s:g}s apart); last error: {errors[-1]}"
    )


def run_gate(
    prometheus_url: str,
    promql: str,
    *,
    interval_s: float = 10.0,
    count: int = 1,
    failure_limit: int = 0,
    retries: int = 3,
    retry_wait_s: float = 1.0,
    timeout: float = 5.0,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.time,
    context: ssl.SSLContext | None = None,
    token_file: str | None = None,
) -> Verdict:
    """Take up to ``count`` measurements ``interval_s`` apart and decide the gate.

    Fails as soon as failed measurements exceed ``failure_limit``; passes when all
    ``count`` measurements are taken without that.  Raises :class:`PrometheusUnavailable`
    when a measurement cannot be taken in ``1 + retries`` attempts, and
    :class:`PrometheusQueryError` (not retried) when Prometheus rejects ``promql``, and
    :class:`PrometheusConfigError` (not retried) when TLS or auth fails. ``context`` verifies https
    (see :func:`tls_context`); ``token_file`` holds a bearer token, read for each query.
    ``sleep`` and ``clock`` can be replaced (e.g. by fakes in tests).
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if failure_limit < 0:
        raise ValueError(f"failure_limit must not be negative, got {failure_limit}")
    if retries < 0:
        raise ValueError(f"retries must not be negative, got {retries}")
    if interval_s < 0 or retry_wait_s < 0:
        raise ValueError("interval_s and retry_wait_s must not be negative")
    return decide(
        lambda: _measure(
            prometheus_url,
            promql,
            retries=retries,
            retry_wait_s=retry_wait_s,
            timeout=timeout,
            sleep=sleep,
            clock=clock,
            context=context,
            token_file=token_file,
        ),
        what=repr(promql),
        interval_s=interval_s,
        count=count,
        failure_limit=failure_limit,
        sleep=sleep,
        clock=clock,
    )


def decide(
    measure: Callable[[], Measurement],
    *,
    what: str,
    interval_s: float,
    count: int,
    failure_limit: int,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> Verdict:
    """The gate's rule, whatever takes the measurements: up to ``count`` of them ``interval_s`` apart; fail
    as soon as failures exceed ``failure_limit``, pass when all ``count`` are taken without that. ``what``
    names the measured thing in the verdict's reason. The local runner calls it with its own metric store."""
    measurements: list[Measurement] = []
    failures = 0
    started = 0.0
    for index in range(count):
        if index:
            elapsed = clock() - started
            sleep(max(0.0, interval_s - elapsed))
        started = clock()
        measurement = measure()
        measurements.append(measurement)
        if not measurement.ok:
            failures += 1
            if failures > failure_limit:
                return Verdict(
                    passed=False,
                    measurements=measurements,
                    reason=(
                        f"{failures} failed measurement(s) exceed the failure limit {failure_limit} "
                        f"after {len(measurements)} of {count} measurement(s) of {what}"
                    ),
                )
    return Verdict(
        passed=True,
        measurements=measurements,
        reason=(
            f"{count - failures} of {count} measurement(s) of {what} succeeded "
            f"({failures} failed, limit {failure_limit})"
        ),
    )


# ------------------------------------------------------------------------------ CLI


def _duration_arg(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gate.py",
        description="Metric gate: measure a PromQL filter expression like an Argo Rollouts analysis.",
    )
    parser.add_argument(
        "--prometheus", required=True, help="Prometheus base URL, e.g. http://prometheus:9090"
    )
    parser.add_argument("--ca-file", help="CA certificate(s) verifying an https Prometheus (PEM)")
    parser.add_argument(
        "--ca-optional", action="store_true", help="the system's CAs when --ca-file does not exist"
    )
    parser.add_argument("--insecure", action="store_true", help="do not verify https (labs only)")
    parser.add_argument("--token-file", help="file holding a bearer token sent to Prometheus")
    parser.add_argument("--query", required=True, help="PromQL filter; a non-empty result succeeds")
    parser.add_argument("--interval", type=_duration_arg, default=10.0, help="between measurements (10s)")
    parser.add_argument("--count", type=_positive_int, default=1, help="number of measurements (1)")
    parser.add_argument("--failure-limit", type=_non_negative_int, default=0, help="failures tolerated (0)")
    parser.add_argument("--retries", type=_non_negative_int, default=3, help="retries per measurement (3)")
    parser.add_argument("--retry-wait", type=_duration_arg, default=1.0, help="between retries (1s)")
    parser.add_argument("--timeout", type=_duration_arg, default=5.0, help="HTTP timeout per query (5s)")
    parser.add_argument(
        "--step-output",
        action="store_true",
        help="as an Argo step: stdout is only 'passed' or 'failed' (the JSON goes to stderr) and a failed "
        "gate exits 0, so the step's result decides whether the next steps run",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the gate from the command line; see the module docstring for the contract."""
    args = _parser().parse_args(argv)
    try:
        ca_file = args.ca_file
        if ca_file and args.ca_optional and not os.path.exists(ca_file):
            ca_file = None
        context = tls_context(ca_file, insecure=args.insecure)
        verdict = run_gate(
            args.prometheus,
            args.query,
            interval_s=args.interval,
            count=args.count,
            failure_limit=args.failure_limit,
            retries=args.retries,
            retry_wait_s=args.retry_wait,
            timeout=args.timeout,
            context=context,
            token_file=args.token_file,
        )
    except PrometheusUnavailable as exc:
        print(f"gate error: {exc}", file=sys.stderr, flush=True)
        return EXIT_UNAVAILABLE
    print(verdict.to_json(), file=sys.stderr if args.step_output else sys.stdout)
    print("passed" if verdict.passed else "failed", flush=True)
    if args.step_output:
        return EXIT_PASSED
    return EXIT_PASSED if verdict.passed else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
