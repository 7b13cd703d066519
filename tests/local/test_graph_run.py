"""Model graphs under the real runner (issue 14): a deployer of three models — two Seldon classes served by
the real seldon-core 1.17.1 wrapper, chained in a DAG with the route's input, and a Dockerfile-built custom
server run from its ``CMD`` on the ``PORT`` the runner gives it — answers on every route of its one port
through each route's graph, and its feedback route reaches every listed model."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import psutil
import pytest
from rich.console import Console

from myelin_sdk import Axon
from myelin_sdk.local import PredictionError, RunOptions, run_local
from myelin_sdk.local.view import _Table
from myelin_sdk.runtime.graph import answer_value

from support.fake_apiserver import run_cli

GRAPH = Path(__file__).parent / "fixtures" / "graph"

pytestmark = pytest.mark.slow


def test_every_route_answers_through_its_graph_and_feedback_reaches_every_model(
    tmp_path: Path, serving_env_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    axon = Axon.from_yaml((GRAPH / "axon.yaml").read_text())
    options = RunOptions(workdir=tmp_path, port=0, env_cache=serving_env_cache, artifacts={"code": GRAPH})
    began = time.monotonic()
    run = run_local(axon, options)
    try:
        assert run.wait("deployed", timeout=300), "\n".join(run.lines[-40:])
        deployed = time.monotonic() - began
        url = run.endpoint()
        assert url is not None
        assert run.routes() == {p: url + p for p in ("/predict", "/predict1", "/combine", "/send-feedback")}

        # /predict: ModelA adds 1 -> [2, 3]; ModelB gets {"ModelA": [2, 3], "INPUT": [1, 2]} -> [21, 32]
        answer = run.predict([1, 2])
        assert answer_value(answer) == [21, 32]  # (seldon-core answers a jsonData request with a tensor)
        assert answer["meta"]["requestPath"].keys() == {"ModelA", "ModelB"}
        assert answer == run.predict([1, 2], route="/api/v1.0/predictions")  # Seldon's alias of /predict
        # /predict1: ModelA alone
        assert answer_value(run.predict([1, 2], route="/predict1")) == [2, 3]
        with pytest.raises(PredictionError) as unknown:
            run.predict([1, 2], route="/predict9")
        assert unknown.value.status == 404 and "/predict1" in unknown.value.message  # the routes it has
        # /combine: the custom server gets both answers in the form field json: 2 + 3 + 21 + 32
        combined = run.predict([1, 2], route="/combine")
        assert answer_value(combined) == [58]
        assert set(combined["meta"]["requestPath"]) == {"ModelA", "ModelB", "Combiner"}
        version = combined["meta"]["requestPath"]["Combiner"]
        assert set(combined["meta"]["requestPath"].values()) == {version}  # one version for the whole graph

        run.feedback({"data": {"ndarray": [1, 2]}}, combined, reward=0.75)
        [folder] = (tmp_path / ".myelin" / "runs").glob("*/store/models/*/*/model.json")
        for name in ("a", "b", "custom"):  # each listed model's server wrote what it received
            lines = (folder.parent / f"feedback-{name}.jsonl").read_text().splitlines()
            assert [json.loads(line) for line in lines] == [{"reward": 0.75}], name

        code, out, _ = run_cli(capsys, "endpoint", "--local", "--workdir", str(tmp_path), "-o", "json")
        assert code == 0
        listed = json.loads(out)["graph"]
        assert listed["predict"] == f"{url}/predict"  # the shape of before, plus every route
        assert listed["routes"] == run.routes()
        code, out, _ = run_cli(capsys, "endpoint", "--local", "--workdir", str(tmp_path))
        assert f"  /combine  {url}/combine\n" in out
        assert [
            p for p in psutil.process_iter(["cmdline"]) if _custom_server(p)
        ]  # from its CMD, in its folder
        view = Console(record=True, width=200)
        view.print(_Table(run.engine))  # the live view lists the graph's routes under its endpoint
        assert re.search(rf"route\s+│\s+/combine\s+│\s+{re.escape(url)}/combine", view.export_text())
        servers = [line for line in run.lines if "server" in line and "ready at" in line]
        assert len(servers) == 3 and any("] custom server " in line for line in servers), servers
        print(f"graph run: deployed after {deployed:.1f} s, whole test {time.monotonic() - began:.1f} s")
    finally:
        run.stop()
    assert not [p for p in psutil.process_iter(["cmdline"]) if _custom_server(p)]  # stopped with the run


def _custom_server(process: psutil.Process) -> bool:
    try:
        return process.info["cmdline"][-1:] == ["server.py"] and process.cwd() == str(GRAPH / "custom")
    except (psutil.Error, TypeError):
        return False
