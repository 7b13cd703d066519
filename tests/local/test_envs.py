"""Serving environments: built with uv (pip without it), one status per step, the installer's output in a log
file, cached by requirements and Python version, atomic builds, and `myelin` left out of the requirements."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest

from myelin_sdk.local import envs
from myelin_sdk.local.deployments import Deployments, ServingContext
from myelin_sdk.local.envs import (
    MYELIN_NOTE,
    EnvStatus,
    ServingError,
    ensure_env,
    env_key,
    installer,
    without_myelin,
)


@pytest.fixture
def light_requirements(tmp_path: Path) -> Path:
    """Requirements of a build of a few seconds: setuptools only (uv's cache or the venv's own for pip)."""
    path = tmp_path / "code" / "requirements.txt"
    path.parent.mkdir()
    path.write_text("# nothing heavy\nsetuptools\n")
    return path


def _python_sees(python: Path, code: str) -> str:
    return subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_env_is_built_with_uv_once_and_then_cached(light_requirements: Path, tmp_path: Path) -> None:
    assert installer()[0] == "uv"  # a dependency of the SDK
    cache = tmp_path / "envs"
    key = env_key(light_requirements.read_text())
    stale = cache / f".{key}.tmp-killed"  # what a killed build leaves behind
    (stale / "bin").mkdir(parents=True)
    (stale / "bin" / "python").touch()

    statuses: list[EnvStatus] = []
    python = ensure_env(light_requirements, cache, progress=statuses.append, seldon=False)
    assert python == cache / key / "bin" / "python"
    assert not stale.exists()
    log = cache / f"{key}.log"
    assert [s.state for s in statuses] == ["building", "built"]
    assert all(s.installer == "uv" and s.log == log for s in statuses)
    assert str(statuses[0]) == f"building with uv … (log {log})"
    assert str(statuses[1]).startswith("built with uv in ") and statuses[1].seconds > 0
    assert sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock")) == [key, f"{key}.log"]
    text = log.read_text()
    assert " venv " in text and " pip install " in text and "setuptools<82" not in text  # pinned already

    started = time.monotonic()
    again: list[EnvStatus] = []
    assert ensure_env(light_requirements, cache, progress=again.append, seldon=False) == python
    assert [s.state for s in again] == ["cached"] and time.monotonic() - started < 0.5

    # the SDK's source is copied without caches; it imports there without the SDK's heavy dependencies
    site = next((cache / key / "lib").glob("python*/site-packages"))
    assert (site / "myelin_sdk" / "runtime" / "__init__.py").exists()
    assert not list((site / "myelin_sdk").rglob("__pycache__"))
    probe = (
        "import sys, myelin_sdk.runtime; print(sorted(m for m in ('pydantic', 'hera') if m in sys.modules))"
    )
    assert _python_sees(python, probe) == "[]"
    # built elsewhere and renamed: its scripts point at the final place, not the temporary one
    activate = (cache / key / "bin" / "activate").read_text()
    assert str(cache / key) in activate and ".tmp-" not in activate
    info = json.loads((cache / key / "myelin-env.json").read_text())
    assert (info["runtime_stamp"], info["installer"]) == (envs.runtime_stamp(), "uv")


def test_pip_builds_the_same_key_without_uv(
    light_requirements: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MYELIN_INSTALLER", "pip")
    assert installer() == ("pip", None)
    cache = tmp_path / "envs"
    statuses: list[EnvStatus] = []
    python = ensure_env(light_requirements, cache, progress=statuses.append, seldon=False)
    assert python.parent.parent.name == env_key(light_requirements.read_text())  # the installer is no key
    assert [(s.state, s.installer) for s in statuses] == [("building", "pip"), ("built", "pip")]
    assert "-m pip install --no-compile" in statuses[-1].log.read_text()
    pip = python.parent / "pip"
    assert pip.read_text().splitlines()[0].startswith(f"#!{python}")  # relocated shebang
    subprocess.run([str(pip), "--version"], capture_output=True, check=True)


def test_concurrent_callers_share_one_build(light_requirements: Path, tmp_path: Path) -> None:
    cache = tmp_path / "envs"
    statuses: list[EnvStatus] = []
    results: list[Path] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                ensure_env(light_requirements, cache, progress=statuses.append, seldon=False)
            )
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(results) == 2 and results[0] == results[1]
    states = sorted(s.state for s in statuses)
    assert states == ["building", "built", "cached", "waiting"]
    assert "waiting for another build" in str(next(s for s in statuses if s.state == "waiting"))


def test_failed_build_leaves_no_cache_entry_and_keeps_its_log(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("./no-such-package-dir\n")
    cache = tmp_path / "envs"
    statuses: list[EnvStatus] = []
    with pytest.raises(ServingError) as caught:
        ensure_env(requirements, cache, seldon=False, progress=statuses.append)
    message = str(caught.value)
    assert "uv pip install" in message and "exited with status" in message
    assert "no-such-package-dir" in message  # the installer's own complaint, from the log's tail
    assert [s.state for s in statuses] == ["building", "failed"]
    left = sorted(p.name for p in cache.iterdir())
    assert [name for name in left if not name.endswith((".lock", ".log"))] == []  # no env, no temp
    assert "no-such-package-dir" in statuses[-1].log.read_text()


def test_unreadable_requirements(tmp_path: Path) -> None:
    with pytest.raises(ServingError, match="cannot read"):
        ensure_env(tmp_path / "missing.txt", tmp_path / "envs")


def test_a_requirements_file_naming_myelin_builds_without_it(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "base.txt").write_text("setuptools\n")
    requirements = code / "requirements.txt"
    requirements.write_text("myelin==0.1.3  # the original client\n-r base.txt\n")
    statuses: list[EnvStatus] = []
    python = ensure_env(requirements, tmp_path / "envs", progress=statuses.append, seldon=False)
    assert [s.state for s in statuses] == ["note", "building", "built"]
    assert (
        str(statuses[0])
        == MYELIN_NOTE
        == ("requirements.txt names `myelin`: using the SDK's compatible module instead")
    )
    log = statuses[-1].log.read_text()
    assert MYELIN_NOTE in log and "left out: myelin==0.1.3" in log
    installed = (
        "import importlib.metadata as m; print(sorted(d.metadata['Name'].lower() for d in m.distributions()))"
    )
    names = _python_sees(python, installed)
    assert "'setuptools'" in names and "'myelin'" not in names  # -r base.txt still read, from its folder
    again: list[EnvStatus] = []
    ensure_env(requirements, tmp_path / "envs", progress=again.append, seldon=False)
    assert [s.state for s in again] == ["note", "cached"]  # said again each time the env is used


def test_without_myelin_drops_every_form_of_the_original_client_only() -> None:
    text = (
        "Myelin[metrics] >= 0.1 ; python_version > '3'\n"
        "myelin @ git+https://github.com/myelinio/myelin.git\n"
        "git+https://github.com/myelinio/myelin.git#egg=myelin\n"
        "myelin\n"
        "myelin-sdk>=0.1\n"
        "myelin_sdk\n"
        "numpy<2  # myelin\n"
        "-c constraints.txt\n"
    )
    kept, dropped = without_myelin(text, Path("/code"))
    assert len(dropped) == 4
    assert kept == "myelin-sdk>=0.1\nmyelin_sdk\nnumpy<2  # myelin\n-c /code/constraints.txt\n"
    assert without_myelin("numpy\n", Path("/code")) == ("numpy\n", [])


def test_setuptools_pin_detection() -> None:
    pins = envs._pins_setuptools
    assert (
        pins("setuptools<82\n") and pins("Setuptools==80.0 ; python_version>'3'\n") and pins("setuptools\n")
    )
    assert not pins("seldon-core==1.17.1\n# setuptools<82\nsetuptools-scm>=8\n-r other.txt\n")


def test_seldon_core_and_setuptools_are_added_unless_named() -> None:
    extra = envs._extra_requirements
    assert extra("numpy<2\n") == ["seldon-core==1.17.1", "setuptools<82"]
    assert extra("Seldon_Core==1.17.1\nsetuptools<81\n") == []
    assert extra("numpy\n", seldon=False) == ["setuptools<82"]


def test_env_key_depends_on_every_part(monkeypatch: pytest.MonkeyPatch) -> None:
    assert env_key("a\n", stamp="1") == env_key("a\n", stamp="1")
    assert len({env_key("a\n", stamp="1"), env_key("b\n", stamp="1"), env_key("a\n", stamp="2")}) == 3
    before = env_key("a\n", stamp="1")
    monkeypatch.setattr(envs.sys, "version", "3.99.0 (another Python)")
    assert env_key("a\n", stamp="1") != before  # another Python, another environment


def test_runtime_stamp_covers_only_what_the_runtime_imports() -> None:
    root = Path(envs.__file__).parent.parent
    files = {p.relative_to(root).as_posix() for p in envs.runtime_files()}
    assert {"__init__.py", "contract.py", "runtime/__init__.py", "runtime/metrics.py"} <= files
    assert not any(f.startswith(("local/", "compiler/", "spec/")) for f in files)
    assert envs.runtime_stamp() == envs.runtime_stamp()


def test_a_run_logs_one_line_per_env_and_step_and_shows_the_build_while_it_runs(
    light_requirements: Path, tmp_path: Path
) -> None:
    lines: list[str] = []
    context = ServingContext(
        axon=None,  # type: ignore[arg-type]  # only the log is used by the progress lines
        run_dir=None,  # type: ignore[arg-type]
        state=None,  # type: ignore[arg-type]
        code_dirs={},
        pushgateway_url="",
        env_cache=tmp_path / "envs",
        port=0,
        task_env=dict,  # type: ignore[arg-type]
        log=lines.append,
        stop=threading.Event(),
    )
    deployments = Deployments(context)
    show = deployments._progress("ServeTask")
    seen_while_building: list[dict[str, object]] = []

    def progress(status: EnvStatus) -> None:
        show(status)
        if status.state == "building":
            time.sleep(0.3)
            seen_while_building.extend(deployments.builds())

    for _ in range(3):  # every model server start of the run asks for its env
        ensure_env(light_requirements, tmp_path / "envs", progress=progress, seldon=False)
    assert [line.split(": ", 1)[1].split(" ", 2)[:2] for line in lines] == [
        ["building", "with"],
        ["built", "with"],
    ]
    assert lines[0].startswith("serving env for ServeTask: building with uv … (log ")
    [building] = seen_while_building
    assert building["state"] == "building" and float(building["seconds"]) >= 0.3  # type: ignore[arg-type]
    [built] = deployments.builds()
    assert built["state"] == "built" and built["installer"] == "uv" and built["seconds"] > 0
    assert built["log"] == str(tmp_path / "envs" / f"{env_key(light_requirements.read_text())}.log")

    fresh = Deployments(context)  # the next run finds it cached: one line
    lines.clear()
    for _ in range(2):
        ensure_env(light_requirements, tmp_path / "envs", progress=fresh._progress("ServeTask"), seldon=False)
    key = env_key(light_requirements.read_text())
    assert lines == [f"serving env for ServeTask: cached ({tmp_path / 'envs' / key})"]
    assert fresh.builds()[0]["state"] == "cached"
