"""Model environments and model servers: the env cache, atomic builds, and the real seldon-core 1.17.1."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from myelin_sdk.local import serving
from myelin_sdk.local.router import Route, Router
from myelin_sdk.local.serving import (
    ModelServer,
    ServingError,
    ensure_env,
    env_key,
    read_model_name,
    read_s2i_environment,
)

DOUBLER = Path(__file__).parent / "fixtures" / "doubler"


def post(url: str, body: Any) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# --------------------------------------------------------------------------- environments (fast)


@pytest.fixture
def light_requirements(tmp_path: Path) -> Path:
    """Requirements that pip satisfies from the fresh venv itself: no download, a build of a few seconds."""
    path = tmp_path / "code" / "requirements.txt"
    path.parent.mkdir()
    path.write_text("# the venv's own setuptools: nothing to download\nsetuptools\n")
    return path


def test_env_is_built_once_and_then_cached(light_requirements: Path, tmp_path: Path) -> None:
    cache = tmp_path / "envs"
    key = env_key(light_requirements.read_text())
    stale = cache / f".{key}.tmp-killed"  # what a killed build leaves behind
    (stale / "bin").mkdir(parents=True)
    (stale / "bin" / "python").touch()

    lines: list[str] = []
    python = ensure_env(light_requirements, cache, progress=lines.append, seldon=False)
    assert python == cache / key / "bin" / "python"
    assert not stale.exists()
    assert any("pip install" in line for line in lines)
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == [key]
    log = (cache / key / "build.log").read_text()
    assert "pip install" in log and "setuptools<82" not in log  # the requirements pin setuptools already

    started = time.monotonic()
    again: list[str] = []
    assert ensure_env(light_requirements, cache, progress=again.append, seldon=False) == python
    assert again == [] and time.monotonic() - started < 0.5

    # the SDK's source is copied without caches; it imports there without the SDK's heavy dependencies
    site = next((cache / key / "lib").glob("python*/site-packages"))
    assert (site / "myelin_sdk" / "runtime" / "__init__.py").exists()
    assert not list((site / "myelin_sdk").rglob("__pycache__"))
    probe = (
        "import sys, myelin_sdk.runtime; print(sorted(m for m in ('pydantic', 'hera') if m in sys.modules))"
    )
    result = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    # the venv was built elsewhere and renamed: its scripts point at the final place
    pip = cache / key / "bin" / "pip"
    assert pip.read_text().splitlines()[0].startswith(f"#!{cache / key / 'bin' / 'python'}")
    subprocess.run([str(pip), "--version"], capture_output=True, check=True)
    info = json.loads((cache / key / "myelin-env.json").read_text())
    assert info["runtime_stamp"] == serving.runtime_stamp()


def test_concurrent_callers_share_one_build(light_requirements: Path, tmp_path: Path) -> None:
    cache = tmp_path / "envs"
    lines: list[str] = []
    results: list[Path] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                ensure_env(light_requirements, cache, progress=lines.append, seldon=False)
            )
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(results) == 2 and results[0] == results[1]
    assert sum(line.startswith("$ ") and " -m venv " in line for line in lines) == 1
    assert any(line.startswith("waiting for another build") for line in lines)


def test_failed_build_leaves_no_cache_entry(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("./no-such-package-dir\n")
    cache = tmp_path / "envs"
    with pytest.raises(ServingError) as caught:
        ensure_env(requirements, cache, seldon=False)
    message = str(caught.value)
    assert "pip install" in message and "exited with status" in message
    assert "no-such-package-dir" in message  # pip's own complaint, from the log's tail
    left = sorted(p.name for p in cache.iterdir())
    assert [name for name in left if not name.endswith((".lock", ".failed.log"))] == []  # no env, no temp
    [failed] = [name for name in left if name.endswith(".failed.log")]
    assert "no-such-package-dir" in (cache / failed).read_text()


def test_unreadable_requirements(tmp_path: Path) -> None:
    with pytest.raises(ServingError, match="cannot read"):
        ensure_env(tmp_path / "missing.txt", tmp_path / "envs")


def test_setuptools_pin_detection() -> None:
    pins = serving._pins_setuptools
    assert (
        pins("setuptools<82\n") and pins("Setuptools==80.0 ; python_version>'3'\n") and pins("setuptools\n")
    )
    assert not pins("seldon-core==1.17.1\n# setuptools<82\nsetuptools-scm>=8\n-r other.txt\n")


def test_seldon_core_and_setuptools_are_added_unless_named() -> None:
    extra = serving._extra_requirements
    assert extra("numpy<2\n") == ["seldon-core==1.17.1", "setuptools<82"]
    assert extra("Seldon_Core==1.17.1\nsetuptools<81\n") == []
    assert extra("numpy\n", seldon=False) == ["setuptools<82"]


def test_env_key_depends_on_every_part() -> None:
    assert env_key("a\n", stamp="1") == env_key("a\n", stamp="1")
    assert len({env_key("a\n", stamp="1"), env_key("b\n", stamp="1"), env_key("a\n", stamp="2")}) == 3


def test_model_name_from_the_code_folder(tmp_path: Path) -> None:
    assert read_model_name(DOUBLER) == "Doubler"
    assert read_s2i_environment(DOUBLER)["SERVICE_TYPE"] == "MODEL"
    (tmp_path / ".s2i").mkdir()
    (tmp_path / ".s2i" / "environment").write_text("# s2i\nMODEL_NAME='Recommender'\nAPI_TYPE=REST\n")
    assert read_model_name(tmp_path) == "Recommender"
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "MyModel.py").write_text("")
    assert read_model_name(bare) == "MyModel"
    assert read_model_name(bare, default="Other") == "Other"
    (bare / "helpers.py").write_text("")
    with pytest.raises(ServingError, match="MODEL_NAME"):
        read_model_name(bare)


def test_model_server_without_seldon_core(tmp_path: Path) -> None:
    server = ModelServer(tmp_path / "venv" / "bin" / "python", DOUBLER)
    with pytest.raises(ServingError, match="seldon-core"):
        server.start()
    with pytest.raises(ServingError, match="not been started"):
        _ = server.url


# --------------------------------------------------------------------------- the real seldon-core (slow)


@pytest.fixture(scope="session")
def seldon_python(serving_env_cache: Path) -> Path:
    """A real seldon-core 1.17.1 environment, built once per session (cache: tests/local/conftest.py)."""
    return ensure_env(DOUBLER / "requirements.txt", serving_env_cache)


@pytest.fixture
def servers(seldon_python: Path, tmp_path: Path) -> Iterator[list[ModelServer]]:
    made: list[ModelServer] = []
    yield made
    for server in made:
        server.stop()


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.slow
def test_seldon_models_behind_the_router(
    seldon_python: Path, servers: list[ModelServer], tmp_path: Path
) -> None:
    feedback = tmp_path / "feedback.jsonl"
    for version in ("v1", "v2"):
        server = ModelServer(
            seldon_python,
            DOUBLER,
            env={"MODEL_VERSION": version, "FEEDBACK_FILE": str(feedback)},
            log_path=tmp_path / f"{version}.log",
        )
        servers.append(server)
        server.start(timeout=60)
        assert server.ready_seconds is not None and server.ready_seconds < 30
    status, body = post(servers[0].url + "/api/v1.0/predictions", {"data": {"ndarray": [[1, 2]]}})
    assert (status, body) == (200, {"data": {"names": ["t:0", "t:1"], "ndarray": [[2, 4]]}, "meta": {}})

    with Router("Doubler") as router:
        router.set_routes([Route("v1", servers[0].url, 50), Route("v2", servers[1].url, 50)])
        answered = []
        for i in range(6):
            status, body = post(router.url + "/predict", {"data": {"ndarray": [[i, 10]]}})
            assert status == 200
            assert body["data"]["ndarray"] == [[2 * i, 20]]
            version = body["meta"]["requestPath"]["Doubler"]
            answered.append(version)
            message = {"request": {"data": {"ndarray": [[i, 10]]}}, "response": body, "reward": i}
            status, ack = post(router.url + "/send-feedback", message)
            assert (status, ack) == (200, {"data": {"ndarray": []}, "meta": {}})
        status, body = post(router.url + "/predict", {"no": "data"})
        assert status in (400, 500) and body["status"]["status"] in (1, "FAILURE")

    received = [json.loads(line) for line in feedback.read_text().splitlines()]
    assert [(r["version"], r["reward"]) for r in received] == [(v, i) for i, v in enumerate(answered)]

    for server in servers:
        pgid = server.pid
        assert pgid is not None
        server.stop()
        assert _group_gone(pgid)
        with pytest.raises(ProcessLookupError):
            os.killpg(pgid, 0)


@pytest.mark.slow
def test_a_model_that_cannot_load_fails_with_its_log(seldon_python: Path, tmp_path: Path) -> None:
    server = ModelServer(seldon_python, DOUBLER, model_class="NoSuchModel", log_path=tmp_path / "bad.log")
    started = time.monotonic()
    with pytest.raises(ServingError) as caught:
        server.start(timeout=60)
    assert "exited with status" in str(caught.value)
    assert "NoSuchModel" in str(caught.value)  # the import error, from the log's tail
    assert time.monotonic() - started < 30
    assert server.pid is not None and _group_gone(server.pid)


def test_runtime_stamp_covers_only_what_the_runtime_imports() -> None:
    root = Path(serving.__file__).parent.parent
    files = {p.relative_to(root).as_posix() for p in serving.runtime_files()}
    assert {"__init__.py", "contract.py", "runtime/__init__.py", "runtime/metrics.py"} <= files
    assert not any(f.startswith(("local/", "compiler/", "spec/")) for f in files)
    assert serving.runtime_stamp() == serving.runtime_stamp()
