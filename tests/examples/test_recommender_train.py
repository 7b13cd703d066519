"""train.py and the model: a registry version with the metric, better than the global mean."""

from __future__ import annotations

import json

import numpy as np
import pytest
import train
from recommender.data import load_normalized, train_test_split
from recommender.model import BayesianMF, rmse

from myelin_sdk.runtime import versions


def test_train_writes_a_registry_version_with_the_metric(trained):
    found = versions(trained["models"])
    assert len(found) == 1
    version = found[0]
    assert set(version.metrics) == {"recommender_train_rmse"}
    assert sorted(p.name for p in version.path.iterdir()) == [
        "metrics.json",
        "model.json",
        "model.npz",
        "titles.json",
    ]
    info = json.loads((version.path / "model.json").read_text())
    assert info["metrics"]["recommender_train_rmse"] == pytest.approx(
        version.metrics["recommender_train_rmse"]
    )
    with np.load(version.path / "model.npz") as arrays:
        assert arrays["user_factors"].shape[1] == arrays["item_factors"].shape[1]
        assert arrays["user_ids"].shape[0] == arrays["user_factors"].shape[0]
        assert arrays["item_ids"].shape[0] == arrays["item_factors"].shape[0]
        assert arrays["user_bias"].shape == arrays["user_ids"].shape
        assert arrays["item_bias"].shape == arrays["item_ids"].shape
        assert np.all(np.isfinite(arrays["user_factors"])) and np.all(np.isfinite(arrays["item_factors"]))
    titles = json.loads((version.path / "titles.json").read_text())
    assert len(titles) == info_items(version.path)


def info_items(folder):
    with np.load(folder / "model.npz") as arrays:
        return int(arrays["item_ids"].shape[0])


def test_train_beats_the_global_mean_on_the_held_out_split(trained):
    version = versions(trained["models"])[0]
    info = json.loads((version.path / "model.json").read_text())
    ours, baseline = info["metrics"]["recommender_train_rmse"], info["metrics"]["global_mean_rmse"]
    assert ours < baseline - 0.05, (ours, baseline)


def test_the_held_out_rmse_is_the_saved_models(trained):
    """Recompute the metric from the saved factors on the same split: it describes the served model."""
    ratings = load_normalized(trained["data"] / "movielens")
    args = train.parse_args(["--quick"])
    ratings = train.subsample(ratings, args.max_ratings, args.seed)
    _, test = train_test_split(len(ratings), args.test_fraction, args.seed)
    version = versions(trained["models"])[0]
    with np.load(version.path / "model.npz") as a:
        users = np.searchsorted(a["user_ids"], ratings.user_id[test])
        items = np.searchsorted(a["item_ids"], ratings.item_id[test])
        raw = float(a["mean"]) + np.einsum("ij,ij->i", a["user_factors"][users], a["item_factors"][items])
    assert rmse(np.clip(raw, 1, 5), ratings.rating[test]) == pytest.approx(
        version.metrics["recommender_train_rmse"], abs=1e-4
    )


def test_train_publishes_the_metric_when_a_pushgateway_is_set(
    trained, pushgateway, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("PUSHGATEWAY_URL", pushgateway.url)
    monkeypatch.setenv("AXON_NAME", "ml-rec")
    monkeypatch.setenv("TASK_ID", "ml-rec-train-myelin-recommender")
    monkeypatch.delenv("MODEL_VERSION", raising=False)
    monkeypatch.setenv("DATA_PATH", str(trained["data"]))
    monkeypatch.setenv("MODEL_PATH", str(tmp_path / "models"))
    assert train.main(["--quick"]) == 0
    [push] = pushgateway.requests
    assert push.method == "POST" and push.path == "/metrics/job/ml-rec-train-myelin-recommender"
    assert b"recommender_train_rmse_ml__rec" in push.body
    published = float(push.body.decode().split("recommender_train_rmse_ml__rec ")[-1].split()[0])
    assert published == pytest.approx(versions(tmp_path / "models")[0].metrics["recommender_train_rmse"])
    assert "published recommender_train_rmse_ml__rec" in capsys.readouterr().out


def test_without_a_pushgateway_train_prints_a_note(trained, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("PUSHGATEWAY_URL", raising=False)
    assert (
        train.main(["--quick", "--data", str(trained["data"] / "movielens"), "--models", str(tmp_path)]) == 0
    )
    assert "PUSHGATEWAY_URL is not set" in capsys.readouterr().out


def test_train_without_preprocessed_data_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATA_PATH", str(tmp_path))
    assert train.main(["--quick"]) == 1
    assert "run preprocess.py first" in capsys.readouterr().err


def test_the_model_rejects_empty_settings():
    with pytest.raises(ValueError, match="samples"):
        BayesianMF(samples=0)


def test_the_model_learns_on_real_movielens(real_ml100k):
    """Real ml-100k users 1..300: BayesianMF is well below the global mean and the bias-only fit."""
    data = np.loadtxt(real_ml100k / "u.data", dtype=np.int64)
    data = data[data[:, 0] <= 300]
    users, items = (
        np.unique(data[:, 0], return_inverse=True)[1],
        np.unique(data[:, 1], return_inverse=True)[1],
    )
    values = data[:, 2].astype(float)
    train_rows, test_rows = train_test_split(len(values), 0.1, seed=1)
    model = BayesianMF(factors=8, burn_in=10, samples=30, keep=10)
    model.fit(users[train_rows], items[train_rows], values[train_rows], users.max() + 1, items.max() + 1)
    ours = rmse(model.predict(users[test_rows], items[test_rows]), values[test_rows])
    baseline = rmse(np.full(len(test_rows), values[train_rows].mean()), values[test_rows])
    assert ours < 0.97 < baseline, (ours, baseline)


def test_the_fallback_registry_writes_versions_the_sdk_reads(tmp_path, monkeypatch):
    """Without the SDK (a task image), recommender.runtime writes the registry layout of myelin_sdk."""
    import importlib
    import sys

    import recommender.runtime

    monkeypatch.setitem(sys.modules, "myelin_sdk.runtime", None)  # make `import myelin_sdk.runtime` fail
    fallback = importlib.reload(recommender.runtime)
    try:
        assert fallback.SDK is False
        with fallback.new_version(metrics={"recommender_train_rmse": 0.9}, root=tmp_path) as version:
            (version.path / "model.npz").write_bytes(b"x")
            assert version.path.name.startswith(".tmp-")
        with pytest.raises(RuntimeError, match="boom"), fallback.new_version(root=tmp_path) as failed:
            (failed.path / "partial").write_text("x")
            raise RuntimeError("boom")
        monkeypatch.delenv("DATA_PATH", raising=False)
        with pytest.raises(fallback.NotConfigured, match="DATA_PATH"):
            fallback.data_path()
    finally:
        monkeypatch.undo()
        importlib.reload(recommender.runtime)
    [read] = versions(tmp_path)
    assert read.path == version.committed.path and read.name == version.name
    assert read.metrics == {"recommender_train_rmse": 0.9}
    assert sorted(p.name for p in tmp_path.iterdir()) == [version.name]
