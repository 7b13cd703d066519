"""Issue #17 reproducers at the YAML edge: every bad input is the SDK's own error, with a path, exit 2.

Constructor errors (``!!bool maybe``), non-string keys, huge integers, deep nesting, huge or endless files,
and the dumper that no other library's representer changes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from myelin_sdk import MyelinError
from myelin_sdk.axon_yaml import load_axon, load_axon_file
from myelin_sdk.cli import main
from myelin_sdk.yamlio import MAX_BYTES, MAX_DEPTH, load_documents, read_bounded

HEAD = "apiVersion: myelin.io/v1alpha1\nkind: Axon\nmetadata: {name: a}\n"


def refusal(text: str) -> MyelinError:
    with pytest.raises(MyelinError) as info:
        load_axon(text, source="bad.yaml")
    return info.value


@pytest.mark.parametrize(
    ("body", "path", "words"),
    [
        ("spec: {tasks: !!int xyz}\n", "spec.tasks", "expected an integer"),
        ("spec: {tasks: !!bool maybe}\n", "spec.tasks", "expected true or false"),
        ("spec: {tasks: !!timestamp 2001-13-45}\n", "spec.tasks", "expected a date"),
        ("spec: {tasks: !!float abc}\n", "spec.tasks", "expected a number"),
        ("spec: {tasks: !!binary aGVsbG8=}\n", "spec.tasks", "binary data (!!binary) has no JSON type"),
        ("spec: {tasks: !!set {a, b}}\n", "spec.tasks", "a set (!!set) has no JSON type"),
        ("spec: {tasks: !!omap [a: 1]}\n", "spec.tasks", "has no JSON type"),
        ("spec: {tasks: " + "9" * 5000 + "}\n", "spec.tasks", "at most 64 bits"),
        ("spec: {tasks: " + "1" * 25 + "}\n", "spec.tasks", "at most 64 bits"),
        ("spec: {tasks: 0x" + "f" * 40 + "}\n", "spec.tasks", "at most 64 bits"),
    ],
)
def test_scalars_pyyaml_cannot_build_are_refused_with_the_path(body: str, path: str, words: str) -> None:
    err = refusal(HEAD + body)
    [d] = err.diagnostics
    assert d.path == path
    assert words in d.message
    assert d.line == 4
    assert len(d.message) < 300  # the 5,000 digits are not echoed


@pytest.mark.parametrize(
    ("text", "path", "got"),
    [
        (HEAD + "spec: {1: 2}\n", "spec", "'1' (int)"),
        (HEAD + "spec: {}\n~: 1\n", "", "'~' (null) at the top level"),
        (HEAD + "spec: {tasks: [{name: T, container: {nodeSelector: {true: x}}}]}\n", "", "(bool)"),
        (HEAD + "spec: {? [a, b] : 1}\n", "spec", "a sequence"),
    ],
)
def test_non_string_mapping_keys_are_refused_with_the_path(text: str, path: str, got: str) -> None:
    err = refusal(text)
    [d] = err.diagnostics
    assert d.path == (path if "(bool)" not in got else "spec.tasks[0].container.nodeSelector")
    assert "mapping keys must be strings" in d.message and got in d.message


def test_timestamps_stay_text_as_kubernetes_reads_them() -> None:
    docs = load_documents("a: 2019-07-01\nb: 2001-12-14 21:59:43.10\n")
    assert docs[0].data == {"a": "2019-07-01", "b": "2001-12-14 21:59:43.10"}


def test_quoted_keys_and_merge_keys_still_load() -> None:
    docs = load_documents("base: &b {x: 1}\nother: {<<: *b, '1': one, 'true': yes}\n")
    assert docs[0].data["other"] == {"x": 1, "1": "one", "true": True}


def test_nesting_deeper_than_the_bound_is_refused_with_the_path() -> None:
    deep = "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)
    err = refusal(HEAD + "spec:\n  volume: {name: v, flexVolume: {driver: x, options: " + deep + "}}\n")
    [d] = err.diagnostics
    assert d.path.startswith("spec.volume.flexVolume.options[0][0]")
    assert f"nested more than {MAX_DEPTH} levels deep" in d.message


def test_deep_nesting_within_the_bound_loads_lints_and_dumps() -> None:
    deep = "[" * 40 + "]" * 40
    axon = load_axon(
        HEAD + "spec:\n  volume: {name: v, flexVolume: {driver: x, options: {a: b}, o: " + deep + "}}\n"
    )
    assert axon.lint() is not None
    assert "flexVolume" in axon.to_yaml()


def test_a_huge_regular_file_is_refused_from_its_size_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with open(big, "wb") as handle:  # a sparse 2 GB file: costs no disk, would cost 2 GB to read
        handle.truncate(2 * 1024**3)
    start = time.perf_counter()
    with pytest.raises(MyelinError, match=r"refused: 2147483648 bytes is more than"):
        load_axon_file(big)
    assert time.perf_counter() - start < 1


def test_dev_zero_is_refused_after_a_bounded_read() -> None:
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    start = time.perf_counter()
    with pytest.raises(MyelinError, match=rf"more than the {MAX_BYTES} bytes"):
        load_axon_file("/dev/zero")
    assert time.perf_counter() - start < 5


def test_read_bounded_reads_small_files_and_names_unreadable_ones(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_bytes(b"x: 1\n")
    assert read_bounded(path) == b"x: 1\n"
    with pytest.raises(MyelinError, match="cannot read"):
        read_bounded(tmp_path / "missing.yaml")


def test_a_large_python_file_is_refused_before_it_runs(tmp_path: Path) -> None:
    from myelin_sdk.loader import load_path

    path = tmp_path / "pipeline.py"
    with open(path, "wb") as handle:
        handle.write(b"raise SystemExit('must not run')\n")
        handle.truncate(MAX_BYTES + 10)
    with pytest.raises(MyelinError, match="refused"):
        load_path(path)


@pytest.mark.parametrize(
    "body",
    [
        "spec: {tasks: !!bool maybe}\n",
        "spec: {1: 2}\n",
        "spec: {}\n~: 1\n",
        "spec: {tasks: " + "9" * 5000 + "}\n",
    ],
)
@pytest.mark.parametrize("command", ["lint", "compile"])
def test_cli_exits_2_with_a_diagnostic_not_a_traceback(
    body: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(HEAD + body)
    args = [command, str(path)] + (["-o", str(tmp_path / "out")] if command == "compile" else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(path) in err


# --- the dumper ------------------------------------------------------------------------------------------

_DUMP = """
import sys
if sys.argv[1] == "hera":
    import hera.workflows  # registers a global PyYAML str representer
from myelin_sdk.axon_yaml import load_axon_file
from myelin_sdk.compiler import compile_axon
axon = load_axon_file(sys.argv[2])
axon.tasks[0].container.command = ["sh", "-c", "echo one\\necho two", "y", "n"]
sys.stdout.write(axon.to_yaml())
sys.stdout.write("=====\\n")
sys.stdout.write(compile_axon(axon).to_yaml())
"""


def test_to_yaml_and_compile_give_the_same_bytes_whatever_was_imported_first() -> None:
    demo = Path(__file__).resolve().parents[1] / "examples" / "recommender_demo" / "recommender-demo.yaml"
    outputs = []
    for first in ("plain", "hera"):
        done = subprocess.run(
            [sys.executable, "-c", _DUMP, first, str(demo)], capture_output=True, check=True, timeout=120
        )
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert b"echo one" in outputs[0]
    assert b"- 'y'\n" in outputs[0]  # YAML 1.1 booleans stay strings


def test_dump_in_process_ignores_a_representer_registered_later() -> None:
    import yaml

    from myelin_sdk.yamlio import dump

    before = dump({"a": "x\ny", "b": "plain"})

    def shout(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data.upper(), style='"')

    saved = dict(yaml.SafeDumper.yaml_representers)
    yaml.SafeDumper.add_representer(str, shout)
    try:
        assert dump({"a": "x\ny", "b": "plain"}) == before
    finally:
        yaml.SafeDumper.yaml_representers = saved
    assert before == "a: |-\n  x\n  y\nb: plain\n"


def test_a_path_too_long_for_the_system_is_a_diagnostic(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "a" * 5000]) == 2
    err = capsys.readouterr().err
    assert "cannot read: File name too long" in err
    assert "Traceback" not in err and len(err) < 1000
