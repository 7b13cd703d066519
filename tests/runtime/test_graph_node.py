"""The SDK's graph node (``myelin_sdk.runtime.graph_node``), against a real HTTP server standing in for the
model's own server: the bodies it POSTs (Seldon ``jsonData``, or the multipart form field ``json`` of a
custom server), the answers it returns, and its errors."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from myelin_sdk.runtime.graph_node import GraphNode, GraphNodeError, as_message

from support.http_target import Target, form_json


@pytest.fixture
def target() -> Iterator[Target]:
    server = Target()
    yield server
    server.close()


REQUEST = {"data": {"ndarray": [[3, 4]]}}
ANSWER_1 = {"data": {"names": [], "ndarray": [0.5]}, "meta": {}}
ANSWER_2 = {"data": {"tensor": {"shape": [1, 2], "values": [1, 2]}}}


def test_combine_posts_jsondata_to_a_seldon_class_and_returns_its_answer(target: Target) -> None:
    node = GraphNode(mode="combine", target=f"{target.url}/api/v1.0/predictions", protocol="seldon",
                     names='["Model1", "Model2", "INPUT"]')  # fmt: skip
    answer = node.aggregate_raw({"seldonMessages": [ANSWER_1, ANSWER_2, REQUEST]})
    assert answer == {"data": {"ndarray": [42]}}
    ((path, content_type, body),) = target.requests
    assert (path, content_type) == ("/api/v1.0/predictions", "application/json")
    assert json.loads(body) == {"jsonData": {"Model1": [0.5], "Model2": [[1, 2]], "INPUT": [[3, 4]]}}


def test_combine_posts_the_features_object_as_form_field_json_to_a_custom_server(target: Target) -> None:
    target.reply = (200, b'{"prediction": [1, 2]}')  # a Flask app's own answer: not a Seldon message
    node = GraphNode(mode="combine", target=f"{target.url}/predict", protocol="custom",
                     names='["Model1", "Model2"]')  # fmt: skip
    answer = node.aggregate_raw({"seldonMessages": [ANSWER_1, ANSWER_2]})
    assert answer == {"jsonData": {"prediction": [1, 2]}}
    ((path, content_type, body),) = target.requests
    assert path == "/predict" and content_type.startswith("multipart/form-data; boundary=")
    assert form_json(content_type, body) == {"Model1": ANSWER_1, "Model2": ANSWER_2}  # whole messages


def test_forward_sends_the_request_to_a_custom_server_and_feedback_to_its_feedback_path(
    target: Target,
) -> None:
    node = GraphNode(mode="forward", target=f"{target.url}/rank", protocol="custom",
                     feedback=f"{target.url}/feedback")  # fmt: skip
    assert node.predict_raw(REQUEST) == {"data": {"ndarray": [42]}}
    feedback = {"request": REQUEST, "response": ANSWER_1, "reward": 1.0}
    target.reply = (200, b"ok")
    assert node.send_feedback_raw(feedback) == {"strData": "ok"}
    (p1, t1, b1), (p2, t2, b2) = target.requests
    assert p1 == "/rank" and form_json(t1, b1) == REQUEST
    assert p2 == "/feedback" and form_json(t2, b2) == feedback


def test_forward_to_a_seldon_class_posts_the_message_as_json(target: Target) -> None:
    node = GraphNode(mode="forward", target=f"{target.url}/api/v1.0/predictions")
    node.predict_raw(REQUEST)
    ((path, content_type, body),) = target.requests
    assert (path, content_type, json.loads(body)) == ("/api/v1.0/predictions", "application/json", REQUEST)


def test_without_a_feedback_url_the_feedback_stays_here(target: Target) -> None:
    node = GraphNode(mode="forward", target=f"{target.url}/predict", protocol="custom")
    assert node.send_feedback_raw({"reward": 1}) == {}
    assert target.requests == []


def test_identity_returns_the_request_unchanged() -> None:
    assert GraphNode().predict_raw(REQUEST) == REQUEST


def test_errors_of_the_target_are_clear(target: Target) -> None:
    target.reply = (500, b"boom")
    node = GraphNode(mode="forward", target=f"{target.url}/predict", protocol="custom")
    with pytest.raises(GraphNodeError, match=r"POST http://127\.0\.0\.1:\d+/predict: HTTP 500: boom"):
        node.predict_raw(REQUEST)
    closed = Target()
    closed.close()
    with pytest.raises(GraphNodeError, match=r"POST http://127\.0\.0\.1:\d+/x"):
        GraphNode(mode="forward", target=f"{closed.url}/x", timeout="5").predict_raw(REQUEST)


def test_aggregate_checks_its_children_against_its_names() -> None:
    node = GraphNode(mode="combine", target="http://127.0.0.1:9/x", names='["A", "B"]')
    with pytest.raises(GraphNodeError, match=r"1 answers for 2 names \(A, B\)"):
        node.aggregate_raw({"seldonMessages": [ANSWER_1]})
    with pytest.raises(GraphNodeError, match="does not aggregate"):
        GraphNode().aggregate_raw({"seldonMessages": []})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "route"}, "mode 'route'"),
        ({"mode": "forward"}, "needs a target URL"),
        ({"protocol": "grpc"}, "protocol 'grpc'"),
        ({"names": "[1, 2]"}, "names must be a JSON list"),
    ],
)
def test_bad_parameters_are_refused(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GraphNode(**kwargs)


def test_as_message_keeps_seldon_keys_and_wraps_the_rest() -> None:
    assert as_message('{"jsonData": {"a": 1}, "meta": {"x": 1}, "other": 2}') == {
        "meta": {"x": 1},
        "jsonData": {"a": 1},
    }
    assert as_message('{"prediction": 1}') == {"jsonData": {"prediction": 1}}
