"""support.prometheus_binaries: Debian's Prometheus fetched without root, or one message on what to get."""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from support import prometheus_binaries
from support.prometheus import _start
from support.prometheus_binaries import FetchError, NotAvailable, find_binaries
from support.servers import free_port, stop_group

TESTS = Path(__file__).resolve().parents[1]
SCRIPT = Path(prometheus_binaries.__file__)


@pytest.fixture
def fetch_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Ignore installed binaries (PATH, /usr/bin, MYELIN_*_BIN); an empty cache under ``tmp_path``."""
    monkeypatch.delenv("MYELIN_PROMETHEUS_BIN", raising=False)
    monkeypatch.delenv("MYELIN_PUSHGATEWAY_BIN", raising=False)
    monkeypatch.setenv("MYELIN_TEST_PROMETHEUS_FROM", "fetch")
    monkeypatch.setenv("MYELIN_PROMETHEUS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("apt-get") is None, reason="the fetch needs apt-get (Debian or Ubuntu)")
def test_parallel_fetches_download_once_and_the_binaries_serve(fetch_only: Path, tmp_path: Path) -> None:
    runs = [
        subprocess.Popen(
            [sys.executable, str(SCRIPT)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    prometheus, pushgateway = outputs[0][0].split()
    assert outputs[1][0].split() == [prometheus, pushgateway]
    assert Path(prometheus).parent == fetch_only / "root/usr/bin"
    assert sorted(p.name for p in fetch_only.iterdir() if p.name != "apt") == [".lock", "root"]

    version = subprocess.run([prometheus, "--version"], capture_output=True, text=True, check=True)
    assert (version.stdout + version.stderr).startswith("prometheus, version 2.")
    gateway = _start(pushgateway, lambda port: [f"--web.listen-address=127.0.0.1:{port}"], tmp_path)
    try:
        (tmp_path / "prometheus.yml").write_text("global:\n  scrape_interval: 1s\n")
        server = _start(
            prometheus,
            lambda port: [
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            tmp_path,
        )
        with urllib.request.urlopen(f"{server.url}/api/v1/query?query=1", timeout=5) as response:
            assert b'"status":"success"' in response.read()
        stop_group(server.process)
    finally:
        stop_group(gateway.process)


def test_without_binaries_or_apt_get_the_message_names_what_to_install(
    fetch_only: Path, tmp_path: Path
) -> None:
    with pytest.raises(NotAvailable) as raised:
        find_binaries(path=str(tmp_path))  # a PATH with no apt-get
    message = str(raised.value)
    for needed in (
        "prometheus 2.x",
        "prometheus-pushgateway 1.x",
        "MYELIN_PROMETHEUS_BIN",
        "MYELIN_PUSHGATEWAY_BIN",
    ):
        assert needed in message
    assert not fetch_only.exists()


def test_environment_variables_name_the_binaries(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "my-prometheus"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("MYELIN_PROMETHEUS_BIN", str(fake))
    monkeypatch.setenv("MYELIN_PUSHGATEWAY_BIN", str(fake))
    monkeypatch.delenv("MYELIN_TEST_PROMETHEUS_FROM", raising=False)
    assert find_binaries(path=str(tmp_path)) == (str(fake), str(fake))
    monkeypatch.setenv("MYELIN_PUSHGATEWAY_BIN", str(tmp_path / "missing"))
    with pytest.raises(FetchError, match=r"MYELIN_PUSHGATEWAY_BIN=.*missing is not an executable file"):
        find_binaries(path=str(tmp_path))


@pytest.mark.slow
def test_a_session_without_prometheus_skips_its_tests_with_one_message(
    fetch_only: Path, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "tests/runtime/test_gate.py"],
        cwd=TESTS.parent,
        env={
            "PATH": str(tmp_path),
            "MYELIN_TEST_PROMETHEUS_FROM": "fetch",
            "MYELIN_PROMETHEUS_CACHE": str(fetch_only),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    skips = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert len(skips) == 1 and "install prometheus 2.x and prometheus-pushgateway 1.x" in skips[0], (
        done.stdout
    )
    assert " error" not in done.stdout.splitlines()[-1]


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="the fetch needs apt-get (Debian or Ubuntu)")
def test_an_offline_fetch_fails_with_apts_reason_and_leaves_no_binaries(
    fetch_only: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "apt.conf"  # every download goes through a proxy port where nothing listens
    config.write_text(f'Acquire::http::Proxy "http://127.0.0.1:{free_port()}";\nAcquire::Retries "0";\n')
    monkeypatch.setenv("APT_CONFIG", str(config))
    with pytest.raises(
        FetchError, match=r"apt-get -q download prometheus prometheus-pushgateway` failed: E: Fail"
    ):
        find_binaries()
    assert not (fetch_only / "root").exists()
