"""Recommender.py, the Seldon model class (tested directly: seldon-core is not in the project's venv)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import Recommender as serving
from recommender import feedback

from myelin_sdk.runtime import versions


@pytest.fixture
def version(trained):
    return versions(trained["models"])[0]


@pytest.fixture
def model(version, monkeypatch):
    monkeypatch.setenv("MODEL_PATH", str(version.path))
    return serving.Recommender()


def seen_by(version, user_id):
    with np.load(version.path / "model.npz") as a:
        row = int(np.searchsorted(a["user_ids"], user_id))
        items = a["seen_items"][a["seen_indptr"][row] : a["seen_indptr"][row + 1]]
        return set(a["item_ids"][items].tolist())


def test_predict_returns_the_top_5_unseen_movies_per_user(model, version):
    users = [int(u) for u in model.model.user_ids[:2]]
    rows = model.predict(np.array(users))
    assert model.class_names() == ["user_id", "rank", "movie_id", "title", "predicted_rating"]
    assert len(rows) == 10
    titles = json.loads((version.path / "titles.json").read_text())
    for user, chunk in zip(users, (rows[:5], rows[5:]), strict=True):
        assert [r[0] for r in chunk] == [user] * 5
        assert [r[1] for r in chunk] == [1, 2, 3, 4, 5]
        ratings = [r[4] for r in chunk]
        assert ratings == sorted(ratings, reverse=True) and all(1.0 <= x <= 5.0 for x in ratings)
        assert not {r[2] for r in chunk} & seen_by(version, user)
        assert all(r[3] in titles for r in chunk)
    # Seldon serialises the list as it is: plain JSON types, nothing stringified
    assert json.loads(json.dumps(rows)) == rows
    assert all(
        type(r[0]) is int and type(r[2]) is int and type(r[3]) is str and type(r[4]) is float for r in rows
    )


def test_predict_accepts_the_shapes_seldon_passes(model):
    user = int(model.model.user_ids[0])
    expected = model.predict(np.array([user]))
    assert model.predict(np.array([[user]])) == expected
    assert model.predict(np.array([float(user)])) == expected
    assert model.predict([str(user)]) == expected


@pytest.mark.parametrize("bad", [[999999], [1, 999999], ["abc"], [1.5], [True], []])
def test_unknown_or_invalid_user_ids_are_a_400(model, bad):
    with pytest.raises(serving.SeldonMicroserviceException) as raised:
        model.predict(np.array(bad))
    assert raised.value.status_code == 400
    if 999999 in bad:
        assert "unknown user id 999999" in raised.value.message
        assert f"{len(model.model.user_ids)} users" in raised.value.message


def test_model_path_may_be_the_registry_root(trained, tmp_path, monkeypatch):
    root = tmp_path / "models"
    original = versions(trained["models"])[0]
    for name, rmse in (("20260101T000000.000000Z-aaaaaa", 0.99), ("20260102T000000.000000Z-bbbbbb", 0.95)):
        shutil.copytree(original.path, root / name)
        (root / name / "metrics.json").write_text(
            json.dumps(
                {
                    "version": name,
                    "created": "2026-01-01T00:00:00+00:00",
                    "metrics": {"recommender_train_rmse": rmse},
                }
            )
        )
    monkeypatch.setenv("MODEL_PATH", str(root))
    assert serving.Recommender().model.folder.name == "20260102T000000.000000Z-bbbbbb"


def test_missing_model_path_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("MODEL_PATH", raising=False)
    with pytest.raises(RuntimeError, match="MODEL_PATH is not set"):
        serving.Recommender()
    with pytest.raises(FileNotFoundError, match="no recommender model"):
        serving.Recommender(str(tmp_path))


def _env_for_feedback(monkeypatch, url):
    monkeypatch.setenv("PUSHGATEWAY_URL", url)
    monkeypatch.setenv("AXON_NAME", "ml-rec")
    monkeypatch.setenv("TASK_ID", "ml-rec-deploy-myelin-recommender")
    monkeypatch.setenv("MODEL_VERSION", "deploy-v2")


def test_send_feedback_publishes_the_reward_per_model_version(model, pushgateway, monkeypatch):
    _env_for_feedback(monkeypatch, pushgateway.url)
    assert model.send_feedback([[3]], [], 0.5, None) == []
    [push] = pushgateway.requests
    assert push.path == "/metrics/job/ml-rec-deploy-myelin-recommender/model_version/deploy-v2"
    assert "recommender_deploy_accuracy_ml__rec 0.5" in push.body.decode()


def test_the_fallback_publisher_without_the_sdk_pushes_the_same(pushgateway, monkeypatch):
    _env_for_feedback(monkeypatch, pushgateway.url)
    assert (
        feedback._publish_without_sdk("recommender_deploy_accuracy", 0.25)
        == "recommender_deploy_accuracy_ml__rec"
    )
    [push] = pushgateway.requests
    assert push.method == "POST"
    assert push.path == "/metrics/job/ml-rec-deploy-myelin-recommender/model_version/deploy-v2"
    assert "recommender_deploy_accuracy_ml__rec 0.25" in push.body.decode()


def test_a_reward_that_is_not_a_number_is_a_400(model):
    with pytest.raises(serving.SeldonMicroserviceException) as raised:
        model.send_feedback([[3]], [], "good", None)
    assert raised.value.status_code == 400 and "invalid reward" in raised.value.message


def test_send_feedback_without_a_pushgateway_does_not_fail(model, monkeypatch):
    monkeypatch.delenv("PUSHGATEWAY_URL", raising=False)
    assert model.send_feedback([[3]], [], 1.0, None) == []


def test_a_metrics_outage_does_not_fail_the_feedback_request(model, monkeypatch):
    _env_for_feedback(monkeypatch, "http://127.0.0.1:9")
    assert model.send_feedback([[3]], [], 0.4, None) == []
