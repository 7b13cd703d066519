"""Model graphs on the local router, over real HTTP, in front of stdlib servers standing in for model servers:
Seldon-class stubs (``/api/v1.0/predictions``, ``jsonData`` for a features object) and custom-server stubs
(the multipart form field ``json``), plus the DAG checks done at start."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from myelin_sdk.local.deployments import check_deployer
from myelin_sdk.local.graphs import graphs_of
from myelin_sdk.local.router import Router
from myelin_sdk.local.routes import Backend, Route
from myelin_sdk.spec import Axon, Deployer

from .test_router import call
from support.http_target import Loopback, QuietHandler, form_json


class Stub(Loopback):
    """A model server: ``protocol`` "seldon" (Seldon v1 REST) or "custom" (form field ``json`` at any path).

    ``fn`` maps what the model reads (the ndarray, the ``jsonData`` dict, or the custom message) to its
    answer's ndarray. Every call is recorded as (path, what it read)."""

    def __init__(
        self, name: str, protocol: str, fn: Callable[[Any], Any], barrier: threading.Barrier | None = None
    ) -> None:
        self.name, self.protocol = name, protocol
        self.calls: list[tuple[str, Any]] = []
        self.lock = threading.Lock()
        stub = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                if stub.protocol == "custom":
                    read = form_json(self.headers["Content-Type"], raw)
                else:
                    document = json.loads(raw)
                    read = document.get("jsonData", document.get("data", {}).get("ndarray", document))
                with stub.lock:
                    stub.calls.append((self.path, read))
                if barrier is not None:  # answers only once the other model of the barrier was called too
                    barrier.wait()
                if "feedback" in self.path:
                    status, answer = 200, {"data": {"ndarray": []}}
                elif isinstance(read, list) and any(isinstance(v, str) for v in read):
                    status, answer = 400, {"status": {"code": 400, "info": f"{stub.name}: strings"}}
                else:
                    status, answer = 200, {"data": {"ndarray": fn(read)}, "meta": {}}
                self.answer(status, json.dumps(answer).encode())

        super().__init__(Handler)

    def backend(self, weight: float = 100) -> Backend:
        return Backend(self.url, weight, name=self.name, protocol=self.protocol)


def _model(name: str) -> dict[str, Any]:
    return {"name": name, "backendModels": [{"name": f"{name}-b", "trainer": "T", "deployer": "D"}]}


def deployer(models: list[str], routes: list[dict[str, Any]]) -> Deployer:
    return Deployer.model_validate({"name": "g", "models": [_model(m) for m in models], "routes": routes})


def total(value: Any) -> float:
    """The sum of every number in nested lists and dicts."""
    if isinstance(value, dict):
        return sum(total(v) for v in value.values())
    if isinstance(value, list):
        return sum(total(v) for v in value)
    return float(value)


@pytest.fixture
def stubs() -> Iterator[dict[str, Stub]]:
    made = {
        # A: a Seldon class, adds 1
        "A": Stub("A", "seldon", lambda x: [v + 1 for v in x]),
        # B: a Seldon class fed by A with the input: A's answer times 10 plus the input
        "B": Stub("B", "seldon", lambda f: [a * 10 + i for a, i in zip(f["A"], f["INPUT"], strict=True)]),
        # C: a custom server fed by A and B (whole messages): the combiner, sums every ``data``
        "C": Stub(
            "C", "custom", lambda f: [total([m["data"] for m in f.values()]) if "A" in f else total(f)]
        ),
        # E: an external model (custom protocol), not deployed: negates the sum of what it reads
        "E": Stub("E", "custom", lambda f: [-total(f)]),
        # A2: a second backend of A (doubles instead)
        "A2": Stub("A2", "seldon", lambda x: [v * 2 for v in x]),
    }
    yield made
    for stub in made.values():
        stub.close()


ROUTES = [
    {  # A feeds B and C: a DAG, not a tree; B also gets the route's input
        "path": "/predict",
        "dag": [
            {"model": "C", "path": "/combine", "dependencies": ["A", "B"]},
            {"model": "B", "dependencies": ["A"], "includeInput": True},
            {"model": "A"},
        ],
    },
    {"path": "/predict1", "dag": [{"model": "A"}]},
    {"path": "/custom", "dag": [{"model": "C"}]},
    {
        "path": "/external",
        "dag": [{"model": "X", "fullPath": "EXTERNAL/predict-x", "dependencies": ["A"]}, {"model": "A"}],
    },
    {
        "path": "/send-feedback",
        "dag": [
            {"model": "A"},
            {"model": "C", "path": "/feedback-c"},
            {"model": "X", "fullPath": "EXTERNAL/x-feedback"},
        ],
    },
]


@pytest.fixture
def router(stubs: dict[str, Stub]) -> Iterator[Router]:
    routes = json.loads(json.dumps(ROUTES).replace("EXTERNAL", stubs["E"].url))
    graph = deployer(["A", "B", "C"], routes)
    assert check_deployer(graph, "d") == []
    with Router("C", graphs=graphs_of(graph), rng=random.Random(7)) as served:
        models = {name: [stubs[name].backend()] for name in ("A", "B", "C")}
        served.set_routes([Route("v1", models["C"], 100, models=models)])
        yield served


def test_chaining_combiner_include_input_and_a_shared_model(router: Router, stubs: dict[str, Stub]) -> None:
    status, headers, answer = call(router.url, "/predict", {"data": {"ndarray": [1, 2]}})
    assert status == 200, answer
    # A: [2, 3]; B: [2*10+1, 3*10+2] = [21, 32]; C: 2+3+21+32 = 58
    assert answer["data"]["ndarray"] == [58]
    assert answer["meta"]["requestPath"] == {"A": "v1", "B": "v1", "C": "v1"}
    assert headers["X-Myelin-Version"] == "v1"
    assert stubs["A"].calls == [("/api/v1.0/predictions", [1, 2])]  # called once, though it feeds two
    assert stubs["B"].calls == [("/api/v1.0/predictions", {"A": [2, 3], "INPUT": [1, 2]})]  # jsonData
    [(path, features)] = stubs["C"].calls  # the custom server: whole messages in the form field, at its path
    assert path == "/combine"
    assert features == {
        "A": {"data": {"ndarray": [2, 3]}, "meta": {}},
        "B": {"data": {"ndarray": [21, 32]}, "meta": {}},
    }
    # the Seldon alias of /predict is the same graph
    assert call(router.url, "/api/v1.0/predictions", {"data": {"ndarray": [1, 2]}})[2]["data"]["ndarray"] == [
        58
    ]


def test_each_route_on_the_one_port(router: Router, stubs: dict[str, Stub]) -> None:
    status, _, answer = call(router.url, "/predict1", {"data": {"ndarray": [5]}})
    assert (status, answer["data"]["ndarray"], answer["meta"]["requestPath"]) == (200, [6], {"A": "v1"})
    status, _, answer = call(router.url, "/custom", {"data": {"ndarray": [5]}})
    assert (status, answer["data"]["ndarray"]) == (200, [5.0])
    assert stubs["C"].calls == [("/predict", {"data": {"ndarray": [5]}})]  # default path, the request as is
    status, _, answer = call(router.url, "/nowhere", {})
    assert status == 404 and "/predict1" in answer["status"]["info"]


def test_an_external_model_is_called_at_its_url(router: Router, stubs: dict[str, Stub]) -> None:
    status, _, answer = call(router.url, "/external", {"data": {"ndarray": [1, 1]}})
    assert status == 200, answer
    assert answer["data"]["ndarray"] == [-4.0]  # A: [2, 2]; X: -(2+2)
    assert stubs["E"].calls == [("/predict-x", {"A": {"data": {"ndarray": [2, 2]}, "meta": {}}})]
    assert answer["meta"]["requestPath"] == {"A": "v1", "X": f"{stubs['E'].url}/predict-x"}


def test_feedback_reaches_every_listed_model(router: Router, stubs: dict[str, Stub]) -> None:
    request = {"data": {"ndarray": [1, 2]}}
    _, _, response = call(router.url, "/predict", request)
    feedback = {"request": request, "response": response, "reward": 1.0}
    status, headers, _ = call(router.url, "/send-feedback", feedback)
    assert status == 200 and headers["X-Myelin-Version"] == "v1"
    assert stubs["A"].calls[-1] == ("/api/v1.0/feedback", feedback)  # a Seldon class: the message unchanged
    assert stubs["C"].calls[-1] == ("/feedback-c", feedback)  # custom: the form field, at the entry's path
    assert stubs["E"].calls[-1] == ("/x-feedback", feedback)  # external: at its URL
    assert stubs["B"].calls == [("/api/v1.0/predictions", {"A": [2, 3], "INPUT": [1, 2]})]  # not listed
    assert router.stats()["v1"].feedback == 1


def test_a_model_error_ends_the_graph_and_passes_on(router: Router, stubs: dict[str, Stub]) -> None:
    status, headers, answer = call(router.url, "/predict", {"data": {"ndarray": ["x"]}})
    assert status == 400 and answer["status"]["info"] == "A: strings"
    assert headers["X-Myelin-Version"] == "v1"
    assert stubs["B"].calls == [] and stubs["C"].calls == []
    assert router.stats()["v1"].errors == 1


def test_backends_routing_per_model_and_feedback_to_the_one_that_answered(stubs: dict[str, Stub]) -> None:
    graph = deployer(["A", "B"], [ROUTES[1], {"path": "/send-feedback", "dag": [{"model": "A"}]}])
    with Router("A", graphs=graphs_of(graph), rng=random.Random(3)) as router:
        models = {"A": [stubs["A"].backend(50), stubs["A2"].backend(50)], "B": [stubs["B"].backend()]}
        router.set_routes([Route("v2", models["A"], 100, models=models)])
        answers = [call(router.url, "/predict1", {"data": {"ndarray": [4]}})[2] for _ in range(20)]
        assert {a["data"]["ndarray"][0] for a in answers} == {5, 8}  # both backends of A serve
        by_index = {a["meta"]["routing"]["A"]: a["data"]["ndarray"][0] for a in answers}
        assert by_index == {0: 5, 1: 8}
        chosen = next(a for a in answers if a["meta"]["routing"]["A"] == 1)
        before = len(stubs["A"].calls)
        call(router.url, "/send-feedback", {"request": {}, "response": chosen, "reward": 0.5})
        assert stubs["A2"].calls[-1][0] == "/api/v1.0/feedback"
        assert len(stubs["A"].calls) == before  # only the backend that answered gets it


@pytest.mark.parametrize(
    ("routes", "path", "words"),
    [
        (
            [{"path": "/predict", "dag": [{"model": "Nope"}]}],
            "d.routes[0].dag[0].model",
            "unknown model 'Nope'",
        ),
        (
            [
                {
                    "path": "/predict",
                    "dag": [{"model": "A", "dependencies": ["B"]}, {"model": "B", "dependencies": ["A"]}],
                }
            ],
            "d.routes[0].dag",
            "cycle",
        ),
        (
            [{"path": "/predict", "dag": [{"model": "A"}, {"model": "B"}]}],
            "d.routes[0].dag",
            "this dag has 2: A, B",
        ),
        (
            [{"path": "/predict", "dag": [{"model": "A"}, {"model": "A"}]}],
            "d.routes[0].dag[1].model",
            "already dag[0]",
        ),
        (
            [{"path": "/predict", "dag": [{"model": "A", "dependencies": ["B"]}]}],
            "d.routes[0].dag[0].dependencies[0]",
            "not an entry of this dag",
        ),
        (
            [
                {"path": "/predict", "dag": [{"model": "A"}]},
                {"path": "/api/v1.0/predictions", "dag": [{"model": "B"}]},
            ],
            "d.routes[1].path",
            "already served by routes[0]",
        ),
        (
            [{"path": "/p", "dag": [{"model": "X", "fullPath": "ftp://x"}]}],
            "d.routes[0].dag[0].fullPath",
            "http",
        ),
        ([], "d.routes", "needs routes"),
    ],
)
def test_route_dags_that_cannot_run_are_named_by_their_path(
    routes: list[dict[str, Any]], path: str, words: str
) -> None:
    problems = check_deployer(deployer(["A", "B"], routes), "d")
    assert [p.path for p in problems] == [path], problems
    assert words in problems[0].message


EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "axons" / "examples"


@pytest.mark.parametrize(
    "name", ["multi-model-dag_axon-model-graph.yaml", "multi-model-dag_axon-external.yaml"]
)
def test_the_original_model_graph_examples_pass_the_local_checks(name: str) -> None:
    if not (EXAMPLES / name).is_file():
        pytest.skip(f"{EXAMPLES / name} is not here")
    axon = Axon.from_yaml((EXAMPLES / name).read_text())
    deployers = [
        (i, j, t.deployer) for i, s in enumerate(axon.sensors) for j, t in enumerate(s.tasks) if t.deployer
    ]
    assert deployers
    for i, j, graph in deployers:
        assert check_deployer(graph, f"spec.sensors[{i}].tasks[{j}].deployer") == []
        routes = graphs_of(graph)
        assert set(routes) >= {r.path for r in graph.routes}


def test_models_that_wait_for_nothing_else_are_called_at_once(stubs: dict[str, Stub]) -> None:
    together = threading.Barrier(2, timeout=5)  # each answers only once both were called: not one by one
    left = Stub("L", "seldon", lambda x: [v + 1 for v in x], barrier=together)
    right = Stub("R", "seldon", lambda x: [v + 2 for v in x], barrier=together)
    try:
        graph = deployer(
            ["L", "R", "B"],
            [
                {
                    "path": "/predict",
                    "dag": [{"model": "B", "dependencies": ["L", "R"]}, {"model": "L"}, {"model": "R"}],
                }
            ],
        )
        both = Stub("B", "seldon", lambda f: [a + b for a, b in zip(f["L"], f["R"], strict=True)])
        with Router("B", graphs=graphs_of(graph)) as router:
            models = {"L": [left.backend()], "R": [right.backend()], "B": [both.backend()]}
            router.set_routes([Route("v1", models["B"], 100, models=models)])
            status, _, answer = call(router.url, "/predict", {"data": {"ndarray": [1]}})
        assert (status, answer["data"]["ndarray"]) == (200, [5])  # (1 + 1) + (1 + 2)
        both.close()
    finally:
        left.close()
        right.close()
