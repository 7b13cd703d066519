"""The work dir of a local run, and where each task's code, data and command come from.

Layout of ``<workdir>/.myelin/runs/<run id>/``::

    state.db            the run's state (:mod:`myelin_sdk.local.state`) and the embedded metric samples
    store/              the axon's volume (``/axon-store`` on a cluster): data/, models/<task>/
    artifacts/<name>/   each git artifact, cloned with git (``--artifact NAME=PATH`` maps one to a folder)
    logs/               one log per task execution and per model server

A task's code lives in its image build's context: the artifact's folder plus ``buildLocation`` relative to
the artifact's ``path`` (``/src`` + ``/src/recommender_demo`` -> ``artifacts/rec-source/recommender_demo``).
Its command is the task's ``command`` + ``args`` or, without one, the Dockerfile's ``ENTRYPOINT`` + ``CMD``,
run in the folder the Dockerfile's ``WORKDIR`` holds (:mod:`.dockerfile`) with the runner's Python for
``python``/``python3`` (``bin/`` of the run has shims for shell commands). Nothing is built: tasks run in the
local Python environment (see docs/local.md). Model servers get a clean environment (:func:`serving_env`);
both get the compatible ``myelin`` client on ``PYTHONPATH`` (:func:`compat_path`)::

    command = task_command(task, context, "spec.tasks[0].container")   # [sys.executable, "-m", "pkg.train"]
    cwd = task_workdir(task, context, "spec.tasks[0].container")       # <context>/src for COPY src/ /app/
    env = base_env(run_dir.python_shims())
"""

from __future__ import annotations

import os
import posixpath
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .. import contract
from ..errors import Diagnostic, MyelinError
from ..spec import Artifact, Axon, Task
from .dockerfile import Dockerfile
from .dockerfile import parse as parse_dockerfile

RUNS_DIR = Path(".myelin") / "runs"
#: Python interpreters named in a Dockerfile or command that run with the runner's own Python.
PYTHONS = {"python", "python3", f"python3.{sys.version_info.minor}"}


def new_run_id() -> str:
    """``20261127-031500-ab12cd``: sorts by start time, never collides."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


@dataclass(frozen=True)
class RunDir:
    """The folders of one run."""

    root: Path

    @property
    def state_db(self) -> Path:
        return self.root / "state.db"

    @property
    def store(self) -> Path:
        return self.root / "store"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def create(self) -> RunDir:
        for folder in (self.store, self.artifacts, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        return self

    def python_shims(self) -> Path:
        """``bin/`` of the run with ``python`` and ``python3`` scripts that run the runner's Python: first on
        a task's ``PATH``, so a shell-form command or a script that calls ``python`` gets the runner's."""
        folder = self.root / "bin"
        folder.mkdir(parents=True, exist_ok=True)
        script = f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n'
        for name in ("python", "python3"):
            shim = folder / name
            if not shim.is_file() or shim.read_text(encoding="utf-8") != script:
                shim.write_text(script, encoding="utf-8")
                shim.chmod(0o755)
        return folder

    def task_paths(self, task: str) -> dict[str, str]:
        """``DATA_PATH`` and ``MODEL_PATH`` of ``task`` in this run's store."""
        paths = contract.task_paths(str(self.store), task)
        for path in paths.values():
            Path(path).mkdir(parents=True, exist_ok=True)
        return paths


def runs_root(workdir: Path) -> Path:
    return workdir / RUNS_DIR


def latest_run(workdir: Path) -> Path | None:
    """The newest run folder under ``workdir``, or None."""
    root = runs_root(workdir)
    runs = sorted(p for p in root.iterdir() if (p / "state.db").exists()) if root.is_dir() else []
    return runs[-1] if runs else None


def find_run(workdir: Path, run: str | None) -> Path:
    """The folder of run ``run`` (an id, or None for the newest) under ``workdir``; a clear error if none."""
    if run is None:
        found = latest_run(workdir)
        if found is None:
            raise MyelinError(f"no local run under {runs_root(workdir)} — start one with `myelin run PATH`")
        return found
    path = runs_root(workdir) / run
    if not (path / "state.db").exists():
        known = [p.name for p in runs_root(workdir).glob("*") if (p / "state.db").exists()]
        raise MyelinError(
            f"no local run {run!r} under {runs_root(workdir)} (runs: {', '.join(known) or 'none'})"
        )
    return path


# ---------------------------------------------------------------------------------------------- artifacts


def _git(args: list[str], where: str) -> None:
    result = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise MyelinError([Diagnostic(where, f"git {args[0]} failed: {' '.join(tail)}")])


def fetch_artifact(artifact: Artifact, index: int, run_dir: RunDir, base: Path, mapped: Path | None) -> Path:
    """The local folder of ``artifact``: ``mapped`` (``--artifact NAME=PATH``), a ``local`` path (relative
    to ``base``, the axon file's folder), or a fresh clone of a git repository (kept across a resume)."""
    where = f"spec.artifacts[{index}]"
    if mapped is not None:
        if not mapped.is_dir():
            raise MyelinError([Diagnostic(where, f"--artifact {artifact.name}={mapped}: no such folder")])
        return mapped.resolve()
    if artifact.local is not None:
        folder = (base / artifact.local.path).resolve()
        if not folder.is_dir():
            raise MyelinError([Diagnostic(f"{where}.local.path", f"no such folder: {folder}")])
        return folder
    if artifact.git is not None:
        target = run_dir.artifacts / artifact.name
        if (target / ".git").is_dir():
            return target  # cloned before this run was resumed
        tmp = run_dir.artifacts / f".{artifact.name}.partial"
        shutil.rmtree(tmp, ignore_errors=True)  # left by a clone that was killed
        git = artifact.git
        clone = ["clone", "--quiet"]
        if git.depth and not git.revision:
            clone += ["--depth", str(git.depth)]
        try:
            _git([*clone, git.repo, str(tmp)], f"{where}.git.repo")
        except MyelinError as exc:
            raise MyelinError(
                [
                    Diagnostic(
                        f"{where}.git.repo",
                        f"{exc.diagnostics[0].message} — to use a local copy instead, pass "
                        f"--artifact {artifact.name}=PATH",
                    )
                ]
            ) from None
        if git.revision:
            _git(["-C", str(tmp), "checkout", "--quiet", git.revision], f"{where}.git.revision")
        tmp.rename(target)
        return target
    raise MyelinError(
        [
            Diagnostic(
                f"{where}.s3",
                f"local runs do not download S3 artifacts — pass --artifact {artifact.name}=PATH with a "
                "local copy",
            )
        ]
    )


# ---------------------------------------------------------------------------------------------- commands


def build_context(axon: Axon, task: Task, artifacts: Mapping[str, Path], where: str) -> Path | None:
    """The folder holding a task's code (its image build's context), or None without an image build."""
    build = task.body.image_build
    if build is None or build.artifact is None:
        return None
    artifact = axon.artifact(build.artifact)
    root = artifacts[artifact.name]
    location = build.build_location or artifact.path
    base = posixpath.normpath(artifact.path)
    rel = posixpath.relpath(posixpath.normpath(location), base) if location.startswith("/") else location
    if rel.startswith(".."):
        raise MyelinError(
            [
                Diagnostic(
                    f"{where}.imageBuild.buildLocation",
                    f"{location!r} is not inside the artifact's path {artifact.path!r}",
                )
            ]
        )
    folder = (root / rel).resolve()
    if build.s2i is not None:
        folder = (folder / build.s2i.context_dir).resolve()
    if not folder.is_dir():
        raise MyelinError([Diagnostic(f"{where}.imageBuild.buildLocation", f"no such folder: {folder}")])
    return folder


def dockerfile_command(dockerfile: Path) -> list[str] | None:
    """``ENTRYPOINT`` + ``CMD`` of a Dockerfile (see :mod:`.dockerfile`), or None."""
    return parse_dockerfile(dockerfile, dockerfile.parent).command


def _dockerfile(task: Task, context: Path | None, where: str, *, required: bool = True) -> Dockerfile | None:
    """The parsed Dockerfile of a task's image build, or None without one (or, not ``required``, when the
    file is missing)."""
    build = task.body.image_build
    if build is None or build.dockerfile is None or context is None:
        return None
    path = context / build.dockerfile.path
    if not path.is_file():
        if not required:
            return None
        raise MyelinError([Diagnostic(f"{where}.imageBuild.dockerfile.path", f"no such file: {path}")])
    return parse_dockerfile(path, context)


def _image_only(task: Task, where: str) -> MyelinError:
    return MyelinError(
        [
            Diagnostic(
                where,
                f"task {task.name!r} only names the image {task.body.image!r}, which a local run cannot use "
                "(it builds and pulls no images): give the task a local command — `command: [python, "
                "train.py]` in the task runs in the axon file's folder — or build it from an artifact with "
                "`imageBuild` (a local copy of the artifact: --artifact NAME=PATH)",
            )
        ]
    )


def task_command(task: Task, context: Path | None, where: str) -> list[str]:
    """The command a task runs locally; a clear error when there is none to find.

    ``python``/``python3`` (also as an absolute path, ``/usr/local/bin/python``) become the runner's Python;
    paths into the image (``/app/train.py``, or ``bert/train.py`` under its ``WORKDIR``) become the local
    files the Dockerfile copied there.
    """
    body = task.body
    parsed = _dockerfile(task, context, where, required=not body.command)
    command: list[str] | None = None
    if body.command:
        command = list(body.command) + list(body.args or [])
    elif parsed is not None:
        if parsed.command is None:
            assert body.image_build is not None and body.image_build.dockerfile is not None and context
            path = context / body.image_build.dockerfile.path
            raise MyelinError(
                [Diagnostic(f"{where}.imageBuild.dockerfile", f"{path} has no CMD or ENTRYPOINT to run")]
            )
        command = parsed.command + list(body.args or [])
    if not command:
        if body.image is not None and body.image_build is None:
            raise _image_only(task, where)
        raise MyelinError(
            [
                Diagnostic(
                    where,
                    f"task {task.name!r} has no command to run locally: give it a `command`, or an "
                    "imageBuild with a Dockerfile that has a CMD",
                )
            ]
        )
    if parsed is not None:
        assert context is not None
        command = parsed.localise(command, parsed.workdir or context)
    if posixpath.basename(command[0]) in PYTHONS:
        command = [sys.executable, *command[1:]]
    return command


def task_workdir(task: Task, context: Path | None, where: str) -> Path | None:
    """Where a task's command runs: the local folder its Dockerfile's final ``WORKDIR`` holds (``COPY src/
    /app/`` + ``WORKDIR /app`` -> ``<context>/src``), else its build context (None without one). A task
    with its own ``command`` needs no Dockerfile."""
    parsed = _dockerfile(task, context, where, required=not task.body.command)
    if parsed is not None and parsed.workdir is not None:
        return parsed.workdir
    return context


def describe(command: list[str]) -> str:
    return shlex.join(command)


def compat_path() -> Path:
    """The folder that holds the original client's import paths (``myelin.metric``, ``myelin.admin``): put
    on ``PYTHONPATH`` of everything a local run starts, never on the SDK's own."""
    return Path(__file__).resolve().parent.parent / "compat"


def with_pythonpath(first: Path, existing: str | None) -> str:
    """``PYTHONPATH`` with ``first`` in front of ``existing`` (empty entries dropped)."""
    return os.pathsep.join([str(first), *(p for p in (existing or "").split(os.pathsep) if p)])


def base_env(shims: Path | None = None) -> dict[str, str]:
    """The runner's environment for a task, with unbuffered Python output so its log is written as it goes,
    and ``shims`` (:meth:`RunDir.python_shims`) first on ``PATH`` so a shell's ``python`` is the runner's."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    if shims is not None:
        env["PATH"] = os.pathsep.join([str(shims), *(p for p in env.get("PATH", "").split(os.pathsep) if p)])
    return env


#: Variables of the runner's environment a model server keeps (the rest is the runner's own business).
SERVING_KEEP = (
    *("HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM", "SHELL"),
    *("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"),
    *("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"),
)


def _runner_bins() -> set[str]:
    """The ``bin`` folders of the runner's own virtual environment (none when it runs without one)."""
    bins = set()
    if sys.prefix != sys.base_prefix:
        bins.add(os.path.join(sys.prefix, "bin"))
    if os.environ.get("VIRTUAL_ENV"):
        bins.add(os.path.join(os.environ["VIRTUAL_ENV"], "bin"))
    return {os.path.realpath(b) for b in bins}


def serving_env() -> dict[str, str]:
    """A clean environment for a model server: the locale, home and user of the runner, its ``PATH``
    without the runner's virtual environment, and no ``PYTHONPATH``/``PYTHONHOME``/``VIRTUAL_ENV``; the
    model server's own environment (its venv first on ``PATH``) and the runtime contract go on top."""
    env = {k: v for k, v in os.environ.items() if k in SERVING_KEEP or k.startswith("LC_")}
    runner = _runner_bins()
    path = [p for p in os.environ.get("PATH", os.defpath).split(os.pathsep) if p]
    env["PATH"] = os.pathsep.join(p for p in path if os.path.realpath(p) not in runner)
    env["PYTHONUNBUFFERED"] = "1"
    return env
