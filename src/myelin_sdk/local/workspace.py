"""The work dir of a local run, and where each task's code, data and command come from.

Layout of ``<workdir>/.myelin/runs/<run id>/``::

    state.db            the run's state (:mod:`myelin_sdk.local.state`) and the embedded metric samples
    store/              the axon's volume (``/axon-store`` on a cluster): data/, models/<task>/
    artifacts/<name>/   each git artifact, cloned with git (``--artifact NAME=PATH`` maps one to a folder)
    logs/               one log per task execution and per model server

A task's code lives in its image build's context: the artifact's folder plus ``buildLocation`` relative to
the artifact's ``path`` (``/src`` + ``/src/recommender_demo`` -> ``artifacts/rec-source/recommender_demo``).
Its command is the task's ``command`` + ``args`` or, without one, the Dockerfile's ``ENTRYPOINT`` + ``CMD``,
run in that folder with the runner's Python for ``python``/``python3``. Nothing is built: tasks run in the
local Python environment (see docs/local.md).
"""

from __future__ import annotations

import json
import os
import posixpath
import re
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


_INSTRUCTION = re.compile(r"^\s*(ENTRYPOINT|CMD)\s+(.*)$", re.IGNORECASE)


def _exec_form(text: str) -> list[str]:
    text = text.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return ["/bin/sh", "-c", text]


def dockerfile_command(dockerfile: Path) -> list[str] | None:
    """``ENTRYPOINT`` + ``CMD`` of a Dockerfile (the last of each, continuation lines joined), or None."""
    text = dockerfile.read_text(encoding="utf-8").replace("\\\n", " ")
    entrypoint: list[str] = []
    cmd: list[str] = []
    for line in text.splitlines():
        match = _INSTRUCTION.match(line)
        if match:
            if match.group(1).upper() == "ENTRYPOINT":
                entrypoint = _exec_form(match.group(2))
            else:
                cmd = _exec_form(match.group(2))
    command = entrypoint + cmd
    return command or None


def task_command(task: Task, context: Path | None, where: str) -> list[str]:
    """The command a task runs locally; a clear error when there is none to find."""
    body = task.body
    command: list[str] | None = None
    if body.command:
        command = list(body.command) + list(body.args or [])
    elif body.image_build is not None and body.image_build.dockerfile is not None and context is not None:
        dockerfile = context / body.image_build.dockerfile.path
        if not dockerfile.is_file():
            raise MyelinError(
                [Diagnostic(f"{where}.imageBuild.dockerfile.path", f"no such file: {dockerfile}")]
            )
        found = dockerfile_command(dockerfile)
        if found is None:
            raise MyelinError(
                [
                    Diagnostic(
                        f"{where}.imageBuild.dockerfile", f"{dockerfile} has no CMD or ENTRYPOINT to run"
                    )
                ]
            )
        command = found + list(body.args or [])
    if not command:
        raise MyelinError(
            [
                Diagnostic(
                    where,
                    f"task {task.name!r} has no command to run locally: give it a `command`, or an "
                    "imageBuild "
                    "with a Dockerfile that has a CMD",
                )
            ]
        )
    if command[0] in PYTHONS:
        command = [sys.executable, *command[1:]]
    return command


def describe(command: list[str]) -> str:
    return shlex.join(command)


def base_env() -> dict[str, str]:
    """The runner's environment for a task, with unbuffered Python output so its log is written as it goes."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env
