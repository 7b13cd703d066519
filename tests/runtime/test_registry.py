"""myelin_sdk.runtime.registry: model versions on the shared volume, committed atomically."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from myelin_sdk import contract
from myelin_sdk.runtime import (
    NotConfigured,
    PendingVersion,
    Version,
    best_version,
    cleanup_incomplete,
    latest_version,
    new_version,
    save_version,
    versions,
)
from myelin_sdk.runtime.registry import METRICS_FILE, TMP_PREFIX


def write_model(text: str = "weights") -> Callable[[Path], int]:
    return lambda folder: (folder / "model.txt").write_text(text)


def names(found: list[Version]) -> list[str]:
    return [v.name for v in found]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "models" / "train"


# --------------------------------------------------------------------------- writing


def test_new_version_commits_files_and_metrics(root: Path) -> None:
    with new_version({"rmse": 0.9}, root=root) as pending:
        assert isinstance(pending, PendingVersion)
        assert pending.path.parent == root and pending.path.name.startswith(TMP_PREFIX)
        (pending / "weights.bin").write_bytes(b"\x00" * 10)
        with open(os.path.join(pending, "params.json"), "w") as out:  # works as os.PathLike
            out.write("{}")
        assert str(pending) == str(pending.path)
        pending.metrics["mae"] = 3  # metrics may be set until the block ends
        assert versions(root) == []  # nothing visible before the commit
    version = pending.committed
    assert version is not None
    assert version.path == root / version.name
    assert not pending.path.exists()
    assert sorted(p.name for p in version.path.iterdir()) == [METRICS_FILE, "params.json", "weights.bin"]
    assert version.metrics == {"rmse": 0.9, "mae": 3.0}
    record = json.loads((version.path / METRICS_FILE).read_text())
    assert record == {
        "version": version.name,
        "created": version.created.isoformat(),
        "metrics": version.metrics,
    }
    assert versions(root) == [version]


def test_default_names_sort_in_time_order(root: Path) -> None:
    saved = [save_version({"i": i}, write_model(), root=root) for i in range(5)]
    assert sorted(v.name for v in saved) == [v.name for v in saved]
    assert len({v.name for v in saved}) == 5
    for version in saved:
        stamp, _, suffix = version.name.partition("Z-")
        assert datetime.strptime(stamp, "%Y%m%dT%H%M%S.%f").replace(tzinfo=timezone.utc) == version.created
        assert len(suffix) == 6 and int(suffix, 16) >= 0
        assert abs(datetime.now(timezone.utc) - version.created) < timedelta(minutes=1)


def test_root_defaults_to_model_path(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    monkeypatch.delenv(contract.MODEL_ROOT, raising=False)
    monkeypatch.setenv(contract.MODEL_PATH, str(root))
    version = save_version(None, write_model())
    assert version.path.parent == root
    assert latest_version() == version
    assert best_version(None) == version
    monkeypatch.delenv(contract.MODEL_PATH)
    with pytest.raises(NotConfigured, match="MODEL_PATH is not set"):
        versions()


def test_in_a_train_execution_the_api_writes_a_sibling_of_its_model_path(
    monkeypatch: pytest.MonkeyPatch, root: Path
) -> None:
    """MODEL_PATH is the execution's own (still empty) folder; the registry API writes next to it, in the
    task's registry MYELIN_MODEL_ROOT, so the runner removes the empty folder and the version stands alone."""
    execution = root / "20261127T012345.000000Z-aaaaaa"
    execution.mkdir(parents=True)
    monkeypatch.setenv(contract.MODEL_PATH, f"{execution}/")
    monkeypatch.setenv(contract.MODEL_ROOT, f"{root}/")
    version = save_version({"rmse": 0.5}, write_model())
    assert version.path.parent == root and version.path != execution
    assert not any(execution.iterdir())
    assert versions() == [version]  # the empty execution folder is no version


def test_explicit_version_name(root: Path) -> None:
    version = save_version({"rmse": 1.0}, write_model(), root=root, version="v1.0_final")
    assert version.name == "v1.0_final" and version.path == root / "v1.0_final"
    with pytest.raises(FileExistsError):
        save_version({"rmse": 1.0}, write_model(), root=root, version="v1.0_final")
    for bad in (".hidden", "a/b", "..", "", "-x", "with space"):
        with pytest.raises(ValueError, match="invalid model version name"):
            save_version(None, write_model(), root=root, version=bad)
    assert names(versions(root)) == ["v1.0_final"]
    assert [p.name for p in root.iterdir()] == ["v1.0_final"]


@pytest.mark.parametrize(
    ("metrics", "error", "match"),
    [
        ({"rmse": float("nan")}, ValueError, "must be finite"),
        ({"rmse": float("inf")}, ValueError, "must be finite"),
        ({"rmse": "0.9"}, TypeError, "must be a number"),
        ({"rmse": True}, TypeError, "must be a number"),
        ({"": 1.0}, ValueError, "non-empty string"),
    ],
)
def test_invalid_metrics_are_refused_before_writing(
    root: Path, metrics: dict[str, object], error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        save_version(metrics, write_model(), root=root)  # type: ignore[arg-type]
    assert not root.exists() or list(root.iterdir()) == []


def test_invalid_metric_set_in_the_block_leaves_nothing(root: Path) -> None:
    with pytest.raises(ValueError, match="must be finite"), new_version(root=root) as pending:
        (pending / "model.txt").write_text("x")
        pending.metrics["rmse"] = float("nan")
    assert list(root.iterdir()) == []


def test_metrics_file_is_reserved(root: Path) -> None:
    with pytest.raises(ValueError, match="reserved"), new_version({"rmse": 1.0}, root=root) as pending:
        (pending / METRICS_FILE).write_text("{}")
    assert versions(root) == [] and list(root.iterdir()) == []


def test_exception_inside_the_block_leaves_nothing_visible(root: Path) -> None:
    kept = save_version({"rmse": 1.0}, write_model(), root=root)
    with (
        pytest.raises(RuntimeError, match="training failed"),
        new_version({"rmse": 0.1}, root=root) as pending,
    ):
        (pending / "half.bin").write_bytes(b"x" * 1000)
        raise RuntimeError("training failed")
    assert versions(root) == [kept]
    assert [p.name for p in root.iterdir()] == [kept.name]  # the temporary folder is gone too
    assert pending.committed is None


# --------------------------------------------------------------------------- reading


def test_versions_newest_first_and_best(root: Path) -> None:
    a = save_version({"rmse": 0.9, "accuracy": 0.7}, write_model(), root=root)
    b = save_version({"rmse": 0.5, "accuracy": 0.6}, write_model(), root=root)
    c = save_version({"rmse": 0.7, "accuracy": 0.9}, write_model(), root=root)
    d = save_version({"accuracy": 0.8}, write_model(), root=root)  # no rmse: skipped for rmse
    assert versions(root) == [d, c, b, a]
    assert latest_version(root) == d
    assert best_version(None, root=root) == d
    assert best_version("rmse", root=root) == b
    assert best_version("rmse", greater=True, root=root) == a
    assert best_version("accuracy", greater=True, root=root) == c
    assert best_version("accuracy", root=root) == b
    assert best_version("f1", root=root) is None


def test_ties_go_to_the_newest(root: Path) -> None:
    save_version({"rmse": 0.5}, write_model(), root=root)
    middle = save_version({"rmse": 0.5}, write_model(), root=root)
    save_version({"rmse": 0.8}, write_model(), root=root)
    newest = save_version({"rmse": 0.5}, write_model(), root=root)
    assert best_version("rmse", root=root) == newest
    assert best_version("rmse", root=root) != middle
    top = save_version({"rmse": 0.8}, write_model(), root=root)
    assert best_version("rmse", greater=True, root=root) == top


def test_no_versions(root: Path) -> None:
    assert versions(root) == []  # missing root
    assert latest_version(root) is None
    assert best_version("rmse", root=root) is None
    assert best_version(None, root=root) is None
    root.mkdir(parents=True)
    assert versions(root) == [] and best_version("rmse", root=root) is None
    assert cleanup_incomplete(0, root=root) == []


def test_foreign_entries_are_ignored(root: Path) -> None:
    version = save_version({"rmse": 1.0}, write_model(), root=root)
    (root / "lr.pkl").write_bytes(b"legacy model written straight into MODEL_PATH")
    (root / "legacy-folder").mkdir()  # no metrics.json: not a version
    (root / ".hidden").mkdir()
    (root / ".hidden" / METRICS_FILE).write_text(json.dumps({"created": "2020-01-01T00:00:00+00:00"}))
    assert versions(root) == [version]


def test_unreadable_metrics_file_is_skipped_with_a_warning(root: Path) -> None:
    version = save_version({"rmse": 1.0}, write_model(), root=root)
    broken = root / "broken"
    broken.mkdir()
    (broken / METRICS_FILE).write_text("{not json")
    with pytest.warns(UserWarning, match="ignoring model version .*broken"):
        assert versions(root) == [version]


def test_order_uses_created_not_the_name(root: Path) -> None:
    first = save_version({"rmse": 1.0}, write_model(), root=root, version="zzz")
    second = save_version({"rmse": 1.0}, write_model(), root=root, version="aaa")
    assert versions(root) == [second, first]
    assert best_version("rmse", root=root) == second


# ---------------------------------------------------------------------- atomicity against a killed writer

WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from myelin_sdk.runtime import new_version

    root = Path(sys.argv[1])
    with new_version({"rmse": 0.1}, root=root) as version:
        with open(version / "weights.bin", "wb") as out:
            for chunk in range(1000):
                out.write(b"\\x01" * 1_000_000)
                out.flush()
                if chunk == 2:
                    print(version.path, flush=True)
                time.sleep(0.05)
    print("committed", flush=True)
    """
)


def test_a_killed_writer_leaves_no_half_version(root: Path) -> None:
    kept = save_version({"rmse": 0.5}, write_model(), root=root)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None
        line = writer.stdout.readline().strip()
        assert line, writer.stderr.read() if writer.stderr else ""
        temporary = Path(line)
        time.sleep(0.1)  # a few more chunks
        assert versions(root) == [kept]  # mid-write: not visible
        writer.send_signal(signal.SIGKILL)
        assert writer.wait(timeout=10) == -signal.SIGKILL
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
        for stream in (writer.stdout, writer.stderr):
            if stream is not None:
                stream.close()
    assert temporary.parent == root and temporary.name.startswith(TMP_PREFIX)
    assert temporary.is_dir()
    assert (temporary / "weights.bin").stat().st_size >= 3_000_000
    assert not (temporary / METRICS_FILE).exists()
    assert versions(root) == [kept]
    assert best_version("rmse", root=root) == kept  # the dead writer's better rmse never counts
    assert latest_version(root) == kept

    assert cleanup_incomplete(timedelta(hours=1), root=root) == []  # recent: perhaps still being written
    assert temporary.is_dir()
    assert cleanup_incomplete(0, root=root) == [temporary]
    assert not temporary.exists()
    assert [p.name for p in root.iterdir()] == [kept.name]


def test_cleanup_uses_the_last_write_anywhere_in_the_folder(root: Path) -> None:
    old = time.time() - 7200
    abandoned = root / f"{TMP_PREFIX}abandoned"
    (abandoned / "sub").mkdir(parents=True)
    (abandoned / "sub" / "big.bin").write_bytes(b"x")
    for path in (abandoned / "sub" / "big.bin", abandoned / "sub", abandoned):
        os.utime(path, (old, old))
    with new_version(root=root) as pending:
        (pending / "big.bin").write_bytes(b"x")
        os.utime(pending.path, (old, old))  # the folder is old, but a file in it was just written
        assert cleanup_incomplete(3600.0, root=root) == [abandoned]
    assert not abandoned.exists()
    assert versions(root) == [pending.committed]
