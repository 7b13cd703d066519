"""Find the ``prometheus`` and Pushgateway binaries for the tests, fetching Debian's without root.

Order: ``MYELIN_PROMETHEUS_BIN`` / ``MYELIN_PUSHGATEWAY_BIN``; the ``PATH`` (and /usr/bin); the project
cache (``.cache/prometheus/``, or ``MYELIN_PROMETHEUS_CACHE``); else, where ``apt-get`` exists, the
Debian packages are fetched into that cache as any user (``apt-get download`` + ``dpkg -x``), once,
under a file lock.  ``MYELIN_TEST_PROMETHEUS_FROM=fetch`` skips the environment and ``PATH`` steps::

    $ python tests/support/prometheus_binaries.py      # what `make prometheus` runs
    /work/main/.cache/prometheus/root/usr/bin/prometheus
    /work/main/.cache/prometheus/root/usr/bin/prometheus-pushgateway

    >>> prometheus, pushgateway = find_binaries()      # raises NotAvailable or FetchError
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["FetchError", "NotAvailable", "cache_dir", "fetch", "find_binaries"]

PACKAGES = ("prometheus", "prometheus-pushgateway")
PUSHGATEWAY_NAMES = ("prometheus-pushgateway", "pushgateway")  # Debian's name, upstream's name
HOW_TO_INSTALL = (
    "Prometheus and the Pushgateway were not found and cannot be fetched here (no apt-get): "
    "install prometheus 2.x and prometheus-pushgateway 1.x (https://prometheus.io/download/, "
    "or e.g. `brew install prometheus pushgateway`) and put them on PATH, "
    "or set MYELIN_PROMETHEUS_BIN and MYELIN_PUSHGATEWAY_BIN to the two binaries"
)


class NotAvailable(RuntimeError):
    """The binaries are not installed and this machine has no ``apt-get`` to fetch them."""


class FetchError(RuntimeError):
    """``apt-get download`` or ``dpkg -x`` failed (offline, ...), or a ``MYELIN_*_BIN`` is no program."""


def cache_dir() -> Path:
    """Where fetched packages are unpacked: ``$MYELIN_PROMETHEUS_CACHE`` or ``<repo>/.cache/prometheus``."""
    configured = os.environ.get("MYELIN_PROMETHEUS_CACHE")
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / ".cache" / "prometheus"


def _unpacked(root: Path) -> tuple[str, str] | None:
    prometheus, pushgateway = root / "usr/bin/prometheus", root / "usr/bin/prometheus-pushgateway"
    return (str(prometheus), str(pushgateway)) if prometheus.is_file() and pushgateway.is_file() else None


def _installed(path: str | None) -> tuple[str, str] | None:
    for variable in ("MYELIN_PROMETHEUS_BIN", "MYELIN_PUSHGATEWAY_BIN"):
        value = os.environ.get(variable)
        if value and not (os.path.isfile(value) and os.access(value, os.X_OK)):
            raise FetchError(f"{variable}={value} is not an executable file")
    prometheus = os.environ.get("MYELIN_PROMETHEUS_BIN") or shutil.which("prometheus", path=path)
    pushgateway = os.environ.get("MYELIN_PUSHGATEWAY_BIN") or next(
        filter(None, (shutil.which(name, path=path) for name in PUSHGATEWAY_NAMES)), None
    )
    return (prometheus, pushgateway) if prometheus and pushgateway else None


def _run(command: list[str], cwd: Path) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        output = (done.stderr + done.stdout).strip()
        errors = [line for line in output.splitlines() if line.startswith("E:")] or [output[-1500:]]
        raise FetchError(f"`{' '.join(command)}` failed: {' '.join(errors)}")


def fetch(cache: Path, apt_get: str, dpkg_deb: str = "dpkg-deb") -> tuple[str, str]:
    """Download and unpack the Debian packages into ``cache/root`` (no root needed); return the binaries.

    With no package lists on the machine (a fresh container), apt's lists are first fetched into
    ``cache/apt`` with ``apt-get update`` under that directory, which needs no root either.
    """
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a parallel run waits here, then finds the binaries
        found = _unpacked(cache / "root")
        if found:
            return found
        print(f"fetching Debian's {' and '.join(PACKAGES)} into {cache} (no root needed)", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="fetch-", dir=cache) as scratch:
            work = Path(scratch)
            try:
                _run([apt_get, "-q", "download", *PACKAGES], work)
            except FetchError as first:  # no (or stale) package lists: fetch our own, then retry
                private = [f"-oDir::State::Lists={cache}/apt/lists", f"-oDir::Cache={cache}/apt/cache"]
                for sub in ("apt/lists/partial", "apt/cache/archives/partial"):
                    (cache / sub).mkdir(parents=True, exist_ok=True)
                try:
                    _run([apt_get, "-q", *private, "-oDebug::NoLocking=1", "update"], work)
                    _run([apt_get, "-q", *private, "download", *PACKAGES], work)
                except FetchError as second:
                    raise FetchError(f"{first}\n(with fresh package lists: {second})") from None
            for deb in sorted(work.glob("*.deb")):
                _run([dpkg_deb, "-x", str(deb), str(work / "root")], work)
            if _unpacked(work / "root") is None:
                raise FetchError(f"the packages {', '.join(PACKAGES)} hold no usr/bin/prometheus*")
            (work / "root").rename(cache / "root")
        found = _unpacked(cache / "root")
        assert found is not None
        return found


def find_binaries(path: str | None = None) -> tuple[str, str]:
    """``(prometheus, pushgateway)`` paths; ``path`` replaces ``$PATH`` for the look-ups (tests use it)."""
    if os.environ.get("MYELIN_TEST_PROMETHEUS_FROM") != "fetch":
        found = _installed(path) or _unpacked(Path("/"))
        if found:
            return found
    found = _unpacked(cache_dir() / "root")
    if found:
        return found
    apt_get, dpkg_deb = shutil.which("apt-get", path=path), shutil.which("dpkg-deb", path=path)
    if apt_get is None or dpkg_deb is None:
        raise NotAvailable(HOW_TO_INSTALL)
    return fetch(cache_dir(), apt_get, dpkg_deb)


if __name__ == "__main__":
    try:
        print("\n".join(find_binaries()))
    except NotAvailable as exc:  # the tests that need them are skipped with this message (CI: failed)
        if os.environ.get("MYELIN_REQUIRE_PROMETHEUS") == "1":
            sys.exit(str(exc))
        print(f"note: {exc}", file=sys.stderr)
    except FetchError as exc:
        sys.exit(f"could not fetch Prometheus for the tests: {exc}")
