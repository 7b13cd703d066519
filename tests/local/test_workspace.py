"""Where a task's code and command come from: real git clones, ``--artifact`` folders, Dockerfiles."""

from __future__ import annotations

import doctest
import subprocess
import sys
from pathlib import Path

import pytest

from myelin_sdk import Artifact, Axon, ContainerTask, Dockerfile, Git, ImageBuild, MyelinError
from myelin_sdk.local import dockerfile as dockerfile_module
from myelin_sdk.local.dockerfile import parse
from myelin_sdk.local.workspace import (
    RunDir,
    base_env,
    build_context,
    dockerfile_command,
    fetch_artifact,
    serving_env,
    task_command,
    task_workdir,
)


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
        ("CMD python train.py --epochs 3", ["python", "train.py", "--epochs", "3"]),
        ("CMD python3 -m pkg.train 'a b'", ["python3", "-m", "pkg.train", "a b"]),
        ("CMD cd src && python train.py", ["/bin/sh", "-c", "cd src && python train.py"]),
        ("CMD EPOCHS=3 python train.py", ["/bin/sh", "-c", "EPOCHS=3 python train.py"]),
        ("CMD python train.py $EPOCHS", ["/bin/sh", "-c", "python train.py $EPOCHS"]),
        ('ENTRYPOINT python serve.py\nCMD ["--ignored"]', ["python", "serve.py"]),  # Docker ignores CMD
        ("FROM a AS build\nCMD python build.py\nFROM b\nCMD python run.py", ["python", "run.py"]),
        ("# comment\nCMD python \\\n  # inside\n  train.py", ["python", "train.py"]),
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


# ------------------------------------------------------------------ the original conventions (issue 11)


def _dockerfile_task(tmp_path: Path, dockerfile: str, files: dict[str, str]) -> tuple[ContainerTask, Path]:
    context = tmp_path / "context"
    for name, text in {"Dockerfile": dockerfile, **files}.items():
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_text(text)
    with Axon("layout"):
        src = Artifact("code", path="/src", git=Git(repo="r"))
        task = ContainerTask(
            "Train",
            image_build=ImageBuild(
                repository_name="t", artifact=src, build_location="/src", dockerfile=Dockerfile()
            ),
        )
    return task, context


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_copy_and_workdir_give_a_module_command_its_folder(tmp_path: Path) -> None:
    task, context = _dockerfile_task(
        tmp_path,
        "FROM python:3.11-slim\nCOPY requirements.txt /app/\nCOPY src/ /app/\nWORKDIR /app\n"
        "CMD python -m pkg.train\n",
        {
            "requirements.txt": "",
            "src/pkg/__init__.py": "",
            "src/pkg/train.py": "import os, sys\nprint(os.getcwd(), sys.executable)\n",
        },
    )
    command = task_command(task, context, "spec.tasks[0].container")
    assert command == [sys.executable, "-m", "pkg.train"]
    workdir = task_workdir(task, context, "spec.tasks[0].container")
    assert workdir == (context / "src").resolve()
    cwd, python = _run(command, workdir, base_env()).split()
    assert Path(cwd) == workdir and python == sys.executable


def test_absolute_image_paths_become_local_ones(tmp_path: Path) -> None:
    task, context = _dockerfile_task(
        tmp_path,
        'FROM python:3.11\nWORKDIR /opt/code\nCOPY . .\nCMD ["/usr/local/bin/python", "/opt/code/run.py"]\n',
        {"run.py": "print('ran')\n"},
    )
    assert task_command(task, context, "w") == [sys.executable, str((context / "run.py").resolve())]
    assert task_workdir(task, context, "w") == context.resolve()


def test_a_file_copied_under_the_workdir_is_found_by_its_image_path(tmp_path: Path) -> None:
    """The layout of the original examples (hugging-face/bert-glue/Dockerfile.train)."""
    task, context = _dockerfile_task(
        tmp_path,
        "FROM tensorflow/tensorflow:2.1.0-gpu\nRUN pip3 install --upgrade pip\n"
        "COPY requirements-train.txt requirements.txt\nRUN pip install -r requirements.txt\n"
        "WORKDIR /work\nRUN mkdir /work/bert/\nCOPY train_model.py /work/bert/train_model.py\n"
        "CMD python bert/train_model.py",
        {"requirements-train.txt": "", "train_model.py": "print('trained')\n"},
    )
    command = task_command(task, context, "w")
    assert command == [sys.executable, str((context / "train_model.py").resolve())]
    workdir = task_workdir(task, context, "w")
    assert workdir == context
    assert _run(command, workdir, base_env()) == "trained\n"


def test_a_workdir_that_nothing_was_copied_to_keeps_the_context(tmp_path: Path) -> None:
    task, context = _dockerfile_task(tmp_path, "FROM x\nWORKDIR /srv\nCMD python train.py\n", {})
    assert task_workdir(task, context, "w") == context
    parsed = parse(context / "Dockerfile", context)
    assert parsed.workdir is None and parsed.command == ["python", "train.py"]


def test_a_shell_form_command_runs_the_runners_python_through_the_shims(tmp_path: Path) -> None:
    run_dir = RunDir(tmp_path / "run").create()
    env = base_env(run_dir.python_shims())
    env["PATH"] = env["PATH"] + ":/usr/bin"
    for python in ("python", "python3"):
        out = _run(
            ["/bin/sh", "-c", f"cd {tmp_path} && {python} -c 'import sys; print(sys.prefix)'"], tmp_path, env
        )
        assert out.strip() == sys.prefix  # the runner's (virtual) environment, not the system's


def test_an_image_only_task_says_how_to_give_it_a_local_command(tmp_path: Path) -> None:
    with Axon("images"):
        task = ContainerTask("Prep", image="gcr.io/team/prep:1")
    with pytest.raises(MyelinError) as err:
        task_command(task, None, "spec.tasks[0].container")
    message = str(err.value)
    assert message.count("\n") == 0
    assert message.startswith(
        "spec.tasks[0].container: task 'Prep' only names the image 'gcr.io/team/prep:1'"
    )
    assert "`command: [python, train.py]`" in message and "--artifact NAME=PATH" in message


def test_a_model_server_gets_a_clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIRTUAL_ENV", "/runner/venv")
    monkeypatch.setenv("PYTHONPATH", "/runner/src")
    monkeypatch.setenv("PYTHONHOME", "/runner")
    monkeypatch.setenv("RUNNER_SECRET_SETTING", "x")
    monkeypatch.setenv("PATH", "/runner/venv/bin:/usr/local/bin:/usr/bin")
    monkeypatch.setenv("LANG", "C.UTF-8")
    env = serving_env()
    assert not {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "RUNNER_SECRET_SETTING"} & set(env)
    assert env["PATH"] == "/usr/local/bin:/usr/bin" and env["LANG"] == "C.UTF-8"
    if sys.prefix != sys.base_prefix:  # the runner's own virtual environment is left out too
        monkeypatch.setenv("PATH", f"{sys.prefix}/bin:/usr/bin")
        assert serving_env()["PATH"] == "/usr/bin"


def test_the_dockerfile_docstring_examples() -> None:
    result = doctest.testmod(dockerfile_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
