"""Where a task's code and command come from: real git clones, ``--artifact`` folders, Dockerfiles."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from myelin_sdk import Artifact, Axon, ContainerTask, Dockerfile, Git, ImageBuild, MyelinError
from myelin_sdk.local.workspace import RunDir, build_context, dockerfile_command, fetch_artifact, task_command


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "Dockerfile").write_text(
        'FROM python:3.11-slim\nWORKDIR /app\nENTRYPOINT ["python", \\\n  "main.py"]\nCMD ["--fast"]\n'
    )
    (repo / "app" / "main.py").write_text("print('hi')\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "--quiet"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "--quiet", "-m", "one"], check=True)
    return repo


@pytest.mark.parametrize(
    ("dockerfile", "command"),
    [
        ('CMD ["python", "train.py"]', ["python", "train.py"]),
        ("CMD python train.py --epochs 3", ["/bin/sh", "-c", "python train.py --epochs 3"]),
        ('ENTRYPOINT ["python"]\nCMD ["a.py"]\nCMD ["b.py"]', ["python", "b.py"]),
        ("FROM scratch\nRUN echo\n", None),
    ],
)
def test_dockerfile_command(tmp_path: Path, dockerfile: str, command: list[str] | None) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(dockerfile)
    assert dockerfile_command(path) == command


def test_a_git_artifact_is_cloned_and_the_dockerfile_gives_the_command(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    with Axon("gitted") as axon:
        src = Artifact("code", path="/src", git=Git(repo=str(repo)))
        task = ContainerTask(
            "Main",
            image_build=ImageBuild(
                repository_name="main", artifact=src, build_location="/src/app", dockerfile=Dockerfile()
            ),
        )
    run_dir = RunDir(tmp_path / "run").create()
    folder = fetch_artifact(axon.artifacts[0], 0, run_dir, tmp_path, None)
    assert (folder / ".git").is_dir() and folder.parent == run_dir.artifacts
    context = build_context(axon, task, {"code": folder}, "spec.tasks[0].container")
    assert context == folder / "app"
    assert task_command(task, context, "spec.tasks[0].container") == [sys.executable, "main.py", "--fast"]
    # resumed: the clone is reused, not made again
    assert fetch_artifact(axon.artifacts[0], 0, run_dir, tmp_path, None) == folder


def test_a_mapped_artifact_is_used_in_place(tmp_path: Path) -> None:
    with Axon("mapped") as axon:
        Artifact("code", git=Git(repo="https://example.invalid/nothing.git"))
    run_dir = RunDir(tmp_path / "run").create()
    assert fetch_artifact(axon.artifacts[0], 0, run_dir, tmp_path, tmp_path) == tmp_path.resolve()
    with pytest.raises(MyelinError, match=r"--artifact code=.*: no such folder"):
        fetch_artifact(axon.artifacts[0], 0, run_dir, tmp_path, tmp_path / "missing")


def test_a_failed_clone_says_how_to_use_a_local_copy(tmp_path: Path) -> None:
    with Axon("offline") as axon:
        Artifact("code", git=Git(repo=str(tmp_path / "no-such-repo")))
    run_dir = RunDir(tmp_path / "run").create()
    with pytest.raises(MyelinError) as err:
        fetch_artifact(axon.artifacts[0], 0, run_dir, tmp_path, None)
    message = str(err.value)
    assert message.startswith("spec.artifacts[0].git.repo: git clone failed")
    assert "pass --artifact code=PATH" in message
    assert not list(run_dir.artifacts.iterdir())  # no half clone left behind


def test_a_build_location_outside_the_artifact_is_an_error(tmp_path: Path) -> None:
    with Axon("outside") as axon:
        src = Artifact("code", path="/src", git=Git(repo="r"))
        task = ContainerTask(
            "T",
            image_build=ImageBuild(
                repository_name="t", artifact=src, build_location="/other", dockerfile=Dockerfile()
            ),
        )
    with pytest.raises(
        MyelinError, match=r"spec.tasks\[0\].container.imageBuild.buildLocation: '/other' is not inside"
    ):
        build_context(axon, task, {"code": tmp_path}, "spec.tasks[0].container")
