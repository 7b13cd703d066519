"""preprocess.py and recommender.data / recommender.movielens: reading, writing, downloading, checking."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import preprocess
import pytest
from recommender import movielens
from recommender.data import DataError, load_normalized, read_release

DEMO = Path(preprocess.__file__).resolve().parent


def test_reads_an_ml100k_folder_and_writes_the_normalised_dataset(release_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATA_PATH", str(tmp_path))
    assert preprocess.main(["--data-dir", str(release_dir)]) == 0

    out = tmp_path / "movielens"
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json", "movies.json", "ratings.npz"]
    lines = (release_dir / "u.data").read_text().splitlines()
    ratings = load_normalized(out)
    assert len(ratings) == len(lines)
    first = [int(x) for x in lines[0].split("\t")]
    assert (ratings.user_id[0], ratings.item_id[0], ratings.rating[0], ratings.timestamp[0]) == tuple(first)
    assert ratings.titles[int(ratings.item_id[0])]
    summary = json.loads((out / "dataset.json").read_text())
    assert summary["dataset"] == "ml-100k" and summary["ratings"] == len(lines)
    printed = capsys.readouterr().out
    assert "research use only" in printed and "Harper" in printed and "TiiS" in printed


def test_reads_the_ml1m_layout(tmp_path):
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "ratings.dat").write_text("1::1193::5::978300760\n2::661::3::978302109\n")
    (folder / "movies.dat").write_bytes(
        "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n661::Am\xe9lie (2001)::Comedy\n".encode(
            "latin-1"
        )
    )
    ratings = read_release(folder)
    assert ratings.dataset == "ml-1m"
    assert ratings.user_id.tolist() == [1, 2] and ratings.item_id.tolist() == [1193, 661]
    assert ratings.rating.tolist() == [5.0, 3.0]
    assert ratings.titles[661] == "Amélie (2001)"


def test_a_folder_that_is_not_a_release_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATA_PATH", str(tmp_path))
    assert preprocess.main(["--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "not an extracted MovieLens release" in err and "u.data" in err
    with pytest.raises(DataError):
        read_release(tmp_path / "missing")


def test_offline_without_a_data_dir_fails_with_one_line_and_exit_code_1(tmp_path):
    env = {
        **os.environ,
        "DATA_PATH": str(tmp_path / "data"),
        "MOVIELENS_CACHE": str(tmp_path / "cache"),
        "MOVIELENS_BASE_URL": "http://127.0.0.1:9/",  # discard port: connection refused
    }
    env.pop("MOVIELENS_DIR", None)
    done = subprocess.run(
        [sys.executable, "preprocess.py", "--dataset", "ml-100k"],
        cwd=DEMO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "cannot download http://127.0.0.1:9/ml-100k.zip" in lines[0]
    assert "--data-dir" in lines[0] and "MOVIELENS_DIR" in lines[0]
    assert not (tmp_path / "data" / "movielens" / "ratings.npz").exists()


def _zip_of(release_dir: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name in ("u.data", "u.item"):
            zipped.write(release_dir / name, f"ml-100k/{name}")
    return buffer.getvalue()


@pytest.fixture
def zip_server(http_server, release_dir, monkeypatch):
    """A local server of ``ml-100k.zip``, ``movielens.BASE_URL`` pointing to it: (server, zip bytes)."""
    payload = _zip_of(release_dir)
    server = http_server(lambda r: (200, payload) if r.path.endswith("/ml-100k.zip") else (404, b"not found"))
    monkeypatch.setattr(movielens, "BASE_URL", server.url + "/datasets/movielens/")
    monkeypatch.delenv("MOVIELENS_BASE_URL", raising=False)
    monkeypatch.delenv("MOVIELENS_SHA256", raising=False)
    return server, payload


def test_download_checks_the_md5_extracts_and_caches(zip_server, tmp_path, monkeypatch):
    server, payload = zip_server
    md5 = hashlib.md5(payload).hexdigest()
    monkeypatch.setitem(movielens.DATASETS, "ml-100k", movielens.Release("ml-100k", md5=md5))
    cache = tmp_path / "cache"

    folder = movielens.fetch("ml-100k", cache, log=lambda _: None)

    assert folder == cache / "ml-100k"
    assert (folder / "u.data").is_file() and (folder / "u.item").is_file()
    assert (cache / "ml-100k.zip.sha256").read_text().strip() == hashlib.sha256(payload).hexdigest()
    assert [r.path for r in server.requests] == ["/datasets/movielens/ml-100k.zip"]
    assert movielens.fetch("ml-100k", cache, log=lambda _: None) == folder
    assert len(server.requests) == 1  # the second call used the cache


def test_a_pinned_sha256_is_enforced(zip_server, tmp_path):
    _, payload = zip_server
    sha = hashlib.sha256(payload).hexdigest()
    assert (movielens.fetch("ml-100k", tmp_path / "ok", sha256=sha, log=lambda _: None) / "u.data").is_file()
    with pytest.raises(movielens.ChecksumError, match="sha256"):
        movielens.fetch("ml-100k", tmp_path / "bad", sha256="0" * 64, log=lambda _: None)


def test_a_checksum_mismatch_is_an_error_and_leaves_nothing(zip_server, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(movielens.DATASETS, "ml-100k", movielens.Release("ml-100k", md5="0" * 32))
    cache = tmp_path / "cache"
    with pytest.raises(movielens.ChecksumError, match=r"checksum mismatch for ml-100k\.zip: md5"):
        movielens.fetch("ml-100k", cache, log=lambda _: None)
    assert list(cache.iterdir()) == []

    monkeypatch.setenv("DATA_PATH", str(tmp_path / "data"))
    assert preprocess.main(["--dataset", "ml-100k", "--cache-dir", str(cache)]) == 1
    assert "checksum mismatch" in capsys.readouterr().err


def test_the_official_release_table_and_defaults(monkeypatch, tmp_path):
    assert movielens.BASE_URL == "https://files.grouplens.org/datasets/movielens/"
    assert set(movielens.DATASETS) == {"ml-100k", "ml-1m"}
    for release in movielens.DATASETS.values():
        assert release.md5 and len(release.md5) == 32
    monkeypatch.delenv("MOVIELENS_DATASET", raising=False)
    monkeypatch.delenv("MOVIELENS_DIR", raising=False)
    args = preprocess.parse_args([])
    assert args.dataset == "ml-1m" and args.data_dir is None
    monkeypatch.setenv("MOVIELENS_DIR", str(tmp_path))
    assert preprocess.parse_args([]).data_dir == tmp_path
    monkeypatch.delenv("MOVIELENS_CACHE", raising=False)
    assert movielens.default_cache_dir() == Path.home() / ".cache" / "myelin" / "movielens"


def test_the_normalised_ratings_keep_numeric_types(release_dir, tmp_path):
    assert preprocess.main(["--data-dir", str(release_dir), "--out", str(tmp_path)]) == 0
    ratings = load_normalized(tmp_path)
    assert ratings.user_id.dtype == np.int32 and ratings.rating.dtype == np.float32
    assert ratings.rating.min() >= 1.0 and ratings.rating.max() <= 5.0


def test_a_relative_movielens_dir_is_read_from_where_the_user_typed_the_command(release_dir, tmp_path):
    """Under ``myelin run`` the task runs in its own folder; ``$PWD`` still names the user's directory."""
    stand = tmp_path / "stand"
    shutil.copytree(release_dir, stand / "datasets" / "ml-100k")
    env = {**os.environ, "DATA_PATH": str(tmp_path / "data"), "PWD": str(stand)}
    env["MOVIELENS_DIR"] = "datasets/ml-100k"
    done = subprocess.run(
        [sys.executable, "preprocess.py"], cwd=DEMO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert f"reading MovieLens from {stand / 'datasets' / 'ml-100k'}" in done.stdout
    assert (tmp_path / "data" / "movielens" / "ratings.npz").is_file()
