"""The ``myelin`` command and ``python pipeline.py``: in process through ``cli.main`` (with capsys), and a few
times as a real subprocess (start-up imports, console script, the demo's pipeline.py)."""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from myelin_sdk import Axon
from myelin_sdk.cli import main
from myelin_sdk.compiler import compile_axon
from myelin_sdk.loader import load_path

from support.schemas import SchemaValidator, assert_valid

PROJECT = Path(__file__).resolve().parents[1]
DEMO_DIR = PROJECT / "examples" / "recommender_demo"
DEMO_YAML = DEMO_DIR / "recommender-demo.yaml"
DEMO_PY = DEMO_DIR / "pipeline.py"

BAD_AXON = """\
apiVersion: myelin.io/v1alpha1
kind: Axon
metadata:
  name: bad
spec:
  tasks:
    - name: Train
      train:
        image: python:3.11-slim
        command: [python, train.py]
  sensors:
    - name: RetrainWhenDone
      triggers:
        - name: trained
          type: Lifecycle
          condition: Succeeded
          task: Trian
      tasks:
        - trainer:
            task: Train
"""
BAD_LINE = BAD_AXON.splitlines().index("          task: Trian") + 1
BAD_PATH = "spec.sensors[0].triggers[0].task"


@pytest.fixture
def bad_axon(tmp_path: Path) -> Path:
    path = tmp_path / "bad-axon.yaml"
    path.write_text(BAD_AXON)
    return path


def write_py(tmp_path: Path, source: str, name: str = "pipeline.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def run_cli(*args: str, interpreter_args: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """``python -m myelin_sdk.cli ARGS`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, *interpreter_args, "-m", "myelin_sdk.cli", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=PROJECT,
    )


def assert_no_traceback(text: str) -> None:
    assert "Traceback" not in text, text


# --- compile -----------------------------------------------------------------------------------------------


def test_compile_prints_the_bundle(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compile", str(DEMO_YAML)]) == 0
    out = capsys.readouterr().out
    assert out == compile_axon(load_path(DEMO_YAML)).to_yaml()
    kinds = [d["kind"] for d in yaml.safe_load_all(out)]
    assert kinds == [m["kind"] for m in compile_axon(load_path(DEMO_YAML))]
    assert kinds[:4] == ["ServiceAccount", "Role", "RoleBinding", "PersistentVolumeClaim"]
    assert kinds.count("WorkflowTemplate") == 8


def test_compile_options_reach_the_manifests(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["compile", str(DEMO_YAML), "--registry", "registry.example.com/ml", "--tag", "v3", "-n", "ml"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "--destination=registry.example.com/ml/train-myelin-recommender:v3" in out
    assert {d["metadata"]["namespace"] for d in yaml.safe_load_all(out)} == {"ml"}


def test_compile_to_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "manifests"
    assert main(["compile", str(DEMO_YAML), "-o", str(out_dir)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    count = len(compile_axon(load_path(DEMO_YAML)))
    assert f"wrote {count + 1} files" in captured.err
    kustomization = yaml.safe_load((out_dir / "kustomization.yaml").read_text())
    assert len(kustomization["resources"]) == count
    assert all((out_dir / name).is_file() for name in kustomization["resources"])


def test_compile_a_python_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compile", str(DEMO_PY)]) == 0
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(capsys.readouterr().out)]
    assert "ml-rec-train-myelin-recommender" in names


# --- lint --------------------------------------------------------------------------------------------------


def test_lint_ok_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(DEMO_YAML)]) == 0
    assert "0 error(s)" in capsys.readouterr().err


def test_lint_bad_axon_exits_2_with_the_field_and_a_suggestion(
    bad_axon: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lint", str(bad_axon)]) == 2
    err = capsys.readouterr().err
    assert str(bad_axon) in err
    assert BAD_PATH in err
    assert "did you mean 'Train'" in err
    assert_no_traceback(err)


@pytest.mark.parametrize("command", ["lint", "compile"])
def test_bad_axon_diagnostic_names_the_line(
    command: str, bad_axon: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, str(bad_axon)]) == 2
    assert f"{bad_axon}:{BAD_LINE}: {BAD_PATH}: " in capsys.readouterr().err


def test_compile_bad_axon_exits_2_and_writes_nothing(
    bad_axon: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "manifests"
    assert main(["compile", str(bad_axon), "-o", str(out_dir)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert str(bad_axon) in captured.err
    assert BAD_PATH in captured.err
    assert "did you mean 'Train'" in captured.err
    assert_no_traceback(captured.err)
    assert not out_dir.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [bad_axon.name]


def test_lint_json(bad_axon: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--format", "json", str(bad_axon)]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["file"] == str(bad_axon)
    assert report["errors"] == 1
    (diagnostic,) = report["diagnostics"]
    assert diagnostic["severity"] == "error"
    assert diagnostic["path"] == BAD_PATH
    assert "did you mean 'Train'" in diagnostic["message"]


@pytest.mark.parametrize("flag", ["-o", "--output", "--format"])
def test_lint_yaml_is_the_json_report(flag: str, bad_axon: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "-o", "json", str(bad_axon)]) == 2
    as_json = json.loads(capsys.readouterr().out)
    assert main(["lint", flag, "yaml", str(bad_axon)]) == 2
    captured = capsys.readouterr()
    assert yaml.safe_load(captured.out) == as_json
    assert as_json["diagnostics"][0]["path"] == BAD_PATH
    assert captured.err == ""  # the diagnostics are the output, not repeated on stderr


def test_lint_json_of_a_good_axon(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--format", "json", str(DEMO_YAML)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["errors"] == 0
    assert report["diagnostics"] == []


def test_unsupported_feature_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Sensor ``parameters`` (the original reference docs define them) load but do not compile yet."""
    path = tmp_path / "params.yaml"
    path.write_text(
        BAD_AXON.replace("task: Trian", "task: Train").replace(
            "    - name: RetrainWhenDone\n",
            "    - name: RetrainWhenDone\n      parameters: [{name: lr, value: '0.1'}]\n",
        )
    )
    assert main(["compile", str(path)]) == 2
    err = capsys.readouterr().err
    assert "spec.sensors[0].parameters" in err
    assert "not supported" in err
    assert not (tmp_path / "build").exists()


# --- user mistakes in files --------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["lint", "compile"])
def test_nonexistent_path(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.yaml"
    assert main([command, str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err
    assert "no such file" in err


def test_python_file_raising_inside_the_with_block(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_py(
        tmp_path,
        """\
        from myelin_sdk import Axon, ContainerTask

        with Axon("boom") as axon:
            ContainerTask("Prep", image="busybox")
            raise RuntimeError("kaboom")
        """,
    )
    assert main(["compile", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:5: " in err
    assert "RuntimeError: kaboom" in err
    assert_no_traceback(err)


def test_python_file_with_an_invalid_object(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_py(
        tmp_path,
        """\
        from myelin_sdk import Axon, ContainerTask

        with Axon("bad") as axon:
            ContainerTask("Prep", image="busybox", imagee="typo")
        """,
    )
    assert main(["lint", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:4: " in err
    assert "imagee" in err
    assert_no_traceback(err)


def test_python_file_without_an_axon(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_py(tmp_path, "x = 1\n")
    assert main(["compile", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err
    assert "declares no Axon" in err


def test_not_an_axon_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "configmap.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
    assert main(["lint", str(path)]) == 2
    assert "not an Axon" in capsys.readouterr().err


# --- help --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [["--help"], ["compile", "--help"], ["lint", "--help"]])
def test_help_exits_0(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    assert "usage: myelin" in capsys.readouterr().out


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "compile" in capsys.readouterr().out


# --- real subprocesses -------------------------------------------------------------------------------------


def test_console_script_compiles_like_the_library() -> None:
    script = Path(sys.executable).with_name("myelin")
    assert script.is_file(), f"{script}: is the package installed (pip install -e .)?"
    result = subprocess.run(
        [str(script), "compile", str(DEMO_YAML)], capture_output=True, text=True, encoding="utf-8", check=True
    )
    assert result.stdout == compile_axon(load_path(DEMO_YAML)).to_yaml()


def test_subprocess_bad_axon_exits_2_without_traceback(bad_axon: Path) -> None:
    result = run_cli("lint", str(bad_axon))
    assert result.returncode == 2
    assert BAD_PATH in result.stderr
    assert "did you mean 'Train'" in result.stderr
    assert_no_traceback(result.stderr)


def _imported_modules(importtime_stderr: str) -> set[str]:
    """Module names from ``python -X importtime`` output (``import time: self | cumulative | name``)."""
    modules = set()
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            modules.add(line.rsplit("|", 1)[1].strip())
    return modules


#: What ``myelin --help``, ``version`` and ``completion`` never import (completion only when completing).
HEAVY = ("hera", "pydantic", "pydantic_core", "yaml", "kubernetes", "urllib3", "argcomplete")


def test_help_imports_neither_hera_nor_pydantic() -> None:
    """DESIGN §7: hera costs ~0.8 s cold; ``myelin --help`` pays for neither it nor the model (pydantic)."""
    result = run_cli("--help", interpreter_args=("-X", "importtime"))
    assert result.returncode == 0, result.stderr
    modules = _imported_modules(result.stderr)
    assert "argparse" in modules  # the parse worked
    heavy = {m for m in modules if m.split(".")[0] in HEAVY}
    assert not heavy, sorted(heavy)


@pytest.fixture(scope="module")
def pipeline_yaml() -> str:
    """What ``python pipeline.py --yaml`` prints, run once for the comparisons below."""
    return subprocess.run(
        [sys.executable, str(DEMO_PY), "--yaml"], capture_output=True, text=True, encoding="utf-8", check=True
    ).stdout


@pytest.mark.parametrize("source", [DEMO_PY, DEMO_YAML], ids=["pipeline.py", "recommender-demo.yaml"])
def test_pipeline_yaml_prints_the_same_bytes_as_myelin_compile(pipeline_yaml: str, source: Path) -> None:
    compiled = run_cli("compile", str(source))
    assert compiled.returncode == 0, compiled.stderr
    assert pipeline_yaml == compiled.stdout


def test_pipeline_axon_yaml_loads_back_to_an_equal_axon() -> None:
    result = subprocess.run(
        [sys.executable, str(DEMO_PY), "--axon-yaml"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
    )
    assert Axon.from_yaml(result.stdout) == load_path(DEMO_PY)
    assert Axon.from_yaml(result.stdout) == load_path(DEMO_YAML)


def test_pipeline_lint() -> None:
    result = subprocess.run(
        [sys.executable, str(DEMO_PY), "--lint"], capture_output=True, text=True, encoding="utf-8"
    )
    assert result.returncode == 0, result.stderr


def test_pipeline_main_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from myelin_sdk.cli import pipeline_main

    axon = load_path(DEMO_PY)
    assert pipeline_main(axon, ["--yaml", "-o", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "kustomization.yaml").is_file()
    assert pipeline_main(axon, ["--axon-yaml"]) == 0
    assert Axon.from_yaml(capsys.readouterr().out) == axon


def test_pipeline_with_a_lint_error_exits_2_without_traceback(tmp_path: Path) -> None:
    path = write_py(
        tmp_path,
        """\
        from myelin_sdk import Axon, Lifecycle, Sensor, TrainTask

        with Axon("bad") as axon:
            train = TrainTask("Train", image="busybox")
            Sensor("Retrain", triggers=[Lifecycle("Trian", "Succeeded")], tasks=[train])

        if __name__ == "__main__":
            axon.main()
        """,
    )
    result = subprocess.run(
        [sys.executable, str(path), "--yaml"],
        capture_output=True,
        text=True,
        encoding="utf-8",
    )
    assert result.returncode == 2
    assert BAD_PATH in result.stderr
    assert "did you mean 'Train'" in result.stderr
    assert_no_traceback(result.stderr)


def test_review_prints_the_first_deploy_seldon_deployment(
    capsys: pytest.CaptureFixture[str], schema_validator: SchemaValidator
) -> None:
    """The review copy is checked against the Seldon CRD (no Seldon operator runs here)."""
    assert main(["compile", str(DEMO_YAML), "-n", "ml", "--review"]) == 0
    (review,) = list(yaml.safe_load_all(capsys.readouterr().out))
    assert review["kind"] == "SeldonDeployment"
    assert [p["traffic"] for p in review["spec"]["predictors"]] == [100]
    assert_valid([review], schema_validator)


def test_review_copies_are_written_beside_the_bundle_not_into_it(tmp_path: Path) -> None:
    out_dir = tmp_path / "manifests"
    assert main(["compile", str(DEMO_YAML), "-o", str(out_dir)]) == 0
    assert [p.name for p in (out_dir / "review").iterdir()] == [
        "seldondeployment-ml-rec-recommenderdeployer.yaml"
    ]
    kustomization = yaml.safe_load((out_dir / "kustomization.yaml").read_text())
    assert not any("seldondeployment" in name for name in kustomization["resources"])


# --- version ---------------------------------------------------------------------------------------------


def test_version_names_the_sdk_python_hera_and_kubernetes(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    assert main(["version"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"myelin-sdk: {version('myelin-sdk')}"
    assert lines[1].startswith(f"python: {platform.python_version()} ({platform.python_implementation()}, ")
    assert lines[2:] == [f"hera: {version('hera')}", f"kubernetes: {version('kubernetes')}"]
    assert main(["version", "-o", "json"]) == 0
    as_json = json.loads(capsys.readouterr().out)
    assert list(as_json) == ["myelin-sdk", "python", "hera", "kubernetes"]
    assert as_json["kubernetes"] == version("kubernetes")
    assert main(["version", "-o", "yaml"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == as_json


def test_version_of_a_package_not_installed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from myelin_sdk.cli import meta

    monkeypatch.setattr(meta, "REPORTED", ("hera", "no-such-distribution-xyz"))
    assert main(["version"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "no-such-distribution-xyz: not installed"
    assert main(["version", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["no-such-distribution-xyz"] is None


def test_dash_dash_version_stays(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"myelin {version('myelin-sdk')}\n"


@pytest.mark.parametrize("argv", [["version"], ["completion", "bash"]])
def test_version_and_completion_import_nothing_heavy(argv: list[str]) -> None:
    result = run_cli(*argv, interpreter_args=("-X", "importtime"))
    assert result.returncode == 0, result.stderr
    allowed = ("argcomplete",) if argv[0] == "completion" else ()  # it writes the script
    modules = _imported_modules(result.stderr)
    heavy = {m for m in modules if m.split(".")[0] in HEAVY and m.split(".")[0] not in allowed}
    assert not heavy, sorted(heavy)


# --- completion (argcomplete: the shell runs `myelin` with _ARGCOMPLETE set for each TAB) ------------------


def shell_env() -> dict[str, str]:
    """The environment of a shell that finds the ``myelin`` console script on PATH."""
    import os

    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


BASH_COMPLETE = """\
source <(myelin completion bash)
COMP_LINE="$1"; COMP_POINT=${#1}
read -ra COMP_WORDS <<< "$1"; [[ "$1" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_python_argcomplete myelin
printf '%s\\n' "${COMPREPLY[@]}"
"""


def bash_complete(line: str) -> list[str]:
    """What bash offers for TAB at the end of ``line``, through the script ``myelin completion bash``."""
    result = subprocess.run(
        ["bash", "-c", BASH_COMPLETE, "bash", line],
        capture_output=True,
        text=True,
        env=shell_env(),
        cwd=PROJECT,
        check=True,
    )
    return [w.strip() for w in result.stdout.splitlines() if w.strip()]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("myelin sta", ["status"]),
        ("myelin list -o ", ["table", "json", "yaml"]),
        ("myelin lint --format ", ["text", "json", "yaml"]),
        ("myelin completion ", ["bash", "zsh", "fish"]),
        ("myelin compile examples/recommender_demo/pipe", ["examples/recommender_demo/pipeline.py"]),
    ],
)
def test_bash_completion(line: str, expected: list[str]) -> None:
    assert [w for w in bash_complete(line) if not w.startswith("-")] == expected


def test_bash_completion_of_flags() -> None:
    assert {"-A", "--all-namespaces", "-n", "--namespace", "-o"} <= set(bash_complete("myelin status -"))
    assert {"-f", "--follow", "--tail"} <= set(bash_complete("myelin logs ml-rec -"))


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completion() -> None:
    script = 'myelin completion fish | source; complete -C "myelin sta"; complete -C "myelin get x -o "'
    result = subprocess.run(
        ["fish", "--no-config", "-c", script], capture_output=True, text=True, env=shell_env(), check=True
    )
    offered = [line.split("\t")[0] for line in result.stdout.splitlines()]
    assert offered == ["status", "json", "table", "wide", "yaml"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completion_registers_and_answers() -> None:
    script = (
        'autoload -U compinit && compinit -u; eval "$(myelin completion zsh)"; print -- ${_comps[myelin]}'
    )
    result = subprocess.run(
        ["zsh", "-f", "-c", script], capture_output=True, text=True, env=shell_env(), check=True, cwd=PROJECT
    )
    assert result.stdout.strip() == "_python_argcomplete"
    # what _python_argcomplete asks `myelin` under zsh: "word:description" entries separated by \v
    request = {
        "COMP_LINE": "myelin sta",
        "COMP_POINT": "10",
        "_ARGCOMPLETE": "1",
        "_ARGCOMPLETE_SHELL": "zsh",
        "_ARGCOMPLETE_SUPPRESS_SPACE": "1",
    }
    answer = subprocess.run(
        ["zsh", "-f", "-c", "myelin 8>&1 9>/dev/null 1>/dev/null 2>/dev/null"],
        capture_output=True,
        text=True,
        env={**shell_env(), **request},
        check=True,
    )
    assert answer.stdout.split("\v") == ["status:show an axon's sensors, last runs and deployments"]


def test_completion_of_an_unknown_shell_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["completion", "tcsh"])
    assert info.value.code == 2
    assert "invalid choice: 'tcsh'" in capsys.readouterr().err
