"""The picture of an Axon (myelin_sdk.graph): its graph model, the DOT source, the SVG that Graphviz's ``dot``
lays out, the text fallback, the notebook reprs and ``myelin graph``.

The tests that need ``dot`` skip with a reason when it is not on PATH (CI installs Graphviz: .ci/run); the
graph model, the DOT source and the text outline are checked everywhere.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from myelin_sdk import Alert, Axon, Calendar, ContainerTask, Lifecycle, Metric, Rest, Sensor, TrainTask
from myelin_sdk.cli import main
from myelin_sdk.graph import axon_graph, render, to_dot, to_html, to_svg, to_text
from myelin_sdk.loader import load_path

PROJECT = Path(__file__).resolve().parents[2]
DEMO_PY = PROJECT / "examples/recommender_demo/pipeline.py"
DEMO_YAML = PROJECT / "examples/recommender_demo/recommender-demo.yaml"
BLOG = PROJECT / "tests/fixtures/legacy/blog-movie-recommender.yaml"
SHARED_AXONS = PROJECT.parent / "shared" / "axons"
NOT_AN_AXON = "recommender-demo.myelin-sa.yaml"  # the demo's RBAC objects

# CI sets MYELIN_REQUIRE_GRAPHVIZ=1: there these tests run (and fail without `dot`) rather than skip
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None and not os.environ.get("MYELIN_REQUIRE_GRAPHVIZ"),
    reason="Graphviz's `dot` is not on PATH (apt-get install graphviz)",
)

#: The demo's picture, written out by hand: (source, target, kind) of every arrow.
DEMO_EDGES = {
    ("sensor/TrainOnStart", "task/DataPrepMyelinRecommender", "step"),
    ("sensor/TrainOnStart", "task/TrainMyelinRecommender", "step"),
    ("task/TrainMyelinRecommender", "sensor/DeploymentDecisionMaker", "trigger"),
    ("sensor/DeploymentDecisionMaker", "deployer/DeploymentDecisionMaker/1", "step"),
    ("deployer/DeploymentDecisionMaker/1", "task/DeployMyelinRecommender", "serves"),
    ("task/TrainMyelinRecommender", "deployer/DeploymentDecisionMaker/1", "model"),
    ("sensor/PostDeploymentDecisionMaker", "task/DataPrepMyelinRecommender", "step"),
    ("sensor/PostDeploymentDecisionMaker", "task/TrainMyelinRecommender", "step"),
}
#: Every name and condition of the demo that its picture must show.
DEMO_TEXTS = [
    "DataPrepMyelinRecommender",
    "TrainMyelinRecommender",
    "DeployMyelinRecommender",
    "data prep",
    "train",
    "deploy",
    "build preprocess-myelin-recommender from rec-source:/src/recommender_demo",
    "Dockerfile Dockerfile.train",
    "s2i docker.io/myelinio/myelin-deployer-s2i-py3:v0.1.4 (recommender_demo)",
    "TrainOnStart",
    "once, when the axon is installed",
    "DeploymentDecisionMaker",
    "Succeeded (mnistTrainingComplete)",
    "if gate-0: {{recommender_train_rmse}} < 0.95",
    "PostDeploymentDecisionMaker",
    "Alert RecommenderDeployAccuracy",
    "{{recommender_deploy_accuracy}} < 0.90",
    "recommenderdeployer",
    "traffic v0 (newest) 50% · v1 50%",
    "model RecommenderModel (best)",
    "backend BackendRecommender 100%: TrainMyelinRecommender → DeployMyelinRecommender",
    "routes /predict, /send-feedback",
    "serves BackendRecommender",
]


def dot_edges(source: str) -> set[tuple[str, str]]:
    """(source, target) of every ``"a" -> "b"`` statement of a DOT text."""
    return set(re.findall(r'^\s*"([^"]+)" -> "([^"]+)"', source, flags=re.MULTILINE))


def svg_texts_and_edges(svg: str | bytes) -> tuple[str, set[tuple[str, str]]]:
    """All the text an SVG drawn by ``dot`` shows (one line per <text>), and its edges from their <title>s."""
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    texts = "\n".join("".join(t.itertext()) for t in root.iter(f"{ns}text"))
    edges = set()
    for group in root.iter(f"{ns}g"):
        if group.get("class") == "edge":
            title = group.find(f"{ns}title")
            assert title is not None and title.text is not None
            source, target = title.text.split("->")
            edges.add((source, target))
    return texts, edges


def shared_axon_files() -> list[Path]:
    files = sorted(SHARED_AXONS.glob("*.yaml")) + sorted(SHARED_AXONS.glob("examples/*.yaml"))
    return [f for f in files if f.name != NOT_AN_AXON]


# --- the demo's picture -----------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=[DEMO_PY, DEMO_YAML], ids=["pipeline.py", "recommender-demo.yaml"])
def demo(request: pytest.FixtureRequest) -> Axon:
    return load_path(request.param)


def test_demo_graph_has_every_task_sensor_trigger_condition_and_deployer(demo: Axon) -> None:
    graph = axon_graph(demo)
    assert {(e.source, e.target, e.kind) for e in graph.edges} == DEMO_EDGES
    kinds = {n.id: (n.kind, n.subtitle) for n in graph.nodes}
    assert kinds == {
        "task/DataPrepMyelinRecommender": ("task", "data prep"),
        "task/TrainMyelinRecommender": ("task", "train"),
        "task/DeployMyelinRecommender": ("task", "deploy"),
        "sensor/TrainOnStart": ("sensor", "sensor"),
        "sensor/DeploymentDecisionMaker": ("sensor", "sensor"),
        "sensor/PostDeploymentDecisionMaker": ("sensor", "sensor"),
        "deployer/DeploymentDecisionMaker/1": ("deployer", "deployer"),
    }
    # steps in the order the sensors run them; the Metric gate on the edge into the deployer
    steps = [(e.source.split("/")[1], e.label) for e in graph.edges if e.kind == "step"]
    assert steps == [
        ("TrainOnStart", "1"),
        ("TrainOnStart", "2"),
        ("DeploymentDecisionMaker", "1"),
        ("PostDeploymentDecisionMaker", "1"),
        ("PostDeploymentDecisionMaker", "2"),
    ]
    gated = [e for e in graph.edges if e.gates]
    assert [(e.target, g.name, g.condition) for e in gated for g in e.gates] == [
        ("deployer/DeploymentDecisionMaker/1", "gate-0", "{{recommender_train_rmse}} < 0.95")
    ]
    alert = graph.node("sensor/PostDeploymentDecisionMaker").badges
    assert [(b.type, b.name, b.text) for b in alert] == [
        ("Alert", "RecommenderDeployAccuracy", "{{recommender_deploy_accuracy}} < 0.90")
    ]
    trigger = next(e for e in graph.edges if e.kind == "trigger")
    assert trigger.label == "Succeeded (mnistTrainingComplete)"


def test_demo_dot_source_has_every_edge_and_name(demo: Axon) -> None:
    graph = axon_graph(demo)
    source = to_dot(graph)
    assert dot_edges(source) == {(s, t) for s, t, _ in DEMO_EDGES}
    for text in DEMO_TEXTS:  # the labels are HTML-like: < is escaped
        assert text.replace("<", "&lt;") in source, text


@needs_dot
def test_demo_svg_shows_every_name_condition_and_edge(demo: Axon) -> None:
    texts, edges = svg_texts_and_edges(render(axon_graph(demo), "svg"))
    assert edges == {(s, t) for s, t, _ in DEMO_EDGES}
    for text in DEMO_TEXTS:
        assert text in texts, text


def test_the_docs_picture_is_the_demos_current_picture() -> None:
    """docs/img/recommender-demo.svg is what `make pictures` writes: redraw it when the picture changes."""
    committed = (PROJECT / "docs/img/recommender-demo.svg").read_text(encoding="utf-8")
    texts, edges = svg_texts_and_edges(committed)
    assert edges == {(s, t) for s, t, _ in DEMO_EDGES}
    for text in DEMO_TEXTS:
        assert text in texts, f"{text!r} missing from docs/img/recommender-demo.svg: run `make pictures`"


def docs_pictures() -> dict[Path, Path]:
    """docs/pictures.py's list (``make pictures``): every picture of the docs with the Axon file it shows."""
    spec = importlib.util.spec_from_file_location("docs_pictures", PROJECT / "docs/pictures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    drawn: dict[Path, Path] = module.pictures()
    return drawn


DOCS_PICTURES = docs_pictures()
DOCS_EXAMPLES = sorted((PROJECT / "docs/examples").iterdir())


def test_every_docs_example_has_a_picture_and_the_demo_too() -> None:
    assert DOCS_PICTURES[PROJECT / "docs/img/recommender-demo.svg"] == DEMO_PY
    assert len(DOCS_EXAMPLES) >= 10
    stems = {path.stem for path in DOCS_EXAMPLES}
    assert {p.stem for p in DOCS_PICTURES} == stems | {"recommender-demo"}
    assert {path.suffix for path in DOCS_EXAMPLES} == {".py", ".yaml"}


@needs_dot
@pytest.mark.parametrize("picture", sorted(DOCS_PICTURES), ids=lambda p: p.name)
def test_the_committed_docs_picture_is_a_fresh_drawing_of_its_axon(picture: Path) -> None:
    """docs/img/NAME.svg shows what `make pictures` draws from its Axon file now: redraw it if that changes"""
    assert picture.is_file(), f"{picture.name} is missing: run `make pictures` and commit docs/img/"
    committed_texts, committed_edges = svg_texts_and_edges(picture.read_bytes())
    texts, edges = svg_texts_and_edges(render(axon_graph(load_path(DOCS_PICTURES[picture])), "svg"))
    assert committed_edges == edges, f"docs/img/{picture.name} has other arrows: run `make pictures`"
    assert committed_texts == texts, f"docs/img/{picture.name} has other text: run `make pictures`"


@pytest.mark.parametrize("example", DOCS_EXAMPLES, ids=lambda p: p.name)
def test_each_docs_example_loads_and_its_pages_show_it_with_its_picture(example: Path) -> None:
    """A page includes the example's text (pymdownx.snippets) and shows its picture; a Python form and a
    YAML form of one example are the same Axon, so the one picture drawn from the YAML fits both."""
    axon = load_path(example)
    twin = example.with_suffix(".yaml" if example.suffix == ".py" else ".py")
    if twin.exists():
        assert to_dot(axon_graph(axon)) == to_dot(axon_graph(load_path(twin)))
    include = f'--8<-- "docs/examples/{example.name}"'
    pages = [page for page in (PROJECT / "docs").rglob("*.md") if include in page.read_text(encoding="utf-8")]
    assert pages, f"no page of docs/ includes {example.name}"
    for page in pages:
        picture = os.path.relpath(PROJECT / "docs/img" / f"{example.stem}.svg", page.parent)
        assert f"]({picture})" in page.read_text(encoding="utf-8"), f"{page.name} does not show {picture}"


# --- every Axon there is renders ------------------------------------------------------------------------


def all_axon_files() -> list[Path]:
    legacy = sorted((PROJECT / "tests/fixtures/legacy").glob("*.yaml"))
    return [DEMO_PY, DEMO_YAML, *legacy, *shared_axon_files()]


@pytest.mark.parametrize("path", all_axon_files(), ids=lambda p: p.name)
def test_every_axon_renders(path: Path) -> None:
    axon = load_path(path)
    graph = axon_graph(axon)
    source = to_dot(graph)
    ids = {n.id for n in graph.nodes}
    assert {f"task/{t.name}" for t in axon.tasks} | {f"sensor/{s.name}" for s in axon.sensors} <= ids
    assert dot_edges(source) == {(e.source, e.target) for e in graph.edges}
    outline = to_text(graph)
    for name in [t.name for t in axon.tasks] + [s.name for s in axon.sensors]:
        assert name in outline
    if shutil.which("dot") or os.environ.get("MYELIN_REQUIRE_GRAPHVIZ"):
        texts, edges = svg_texts_and_edges(render(graph, "svg"))
        assert edges == {(e.source, e.target) for e in graph.edges}
        for task in axon.tasks:
            assert task.name in texts


def test_the_shared_axons_are_all_there() -> None:
    """The loop above covers ../shared/axons: 2 demo versions and 16 examples (CI copies shared/ beside)."""
    if not SHARED_AXONS.is_dir():
        pytest.skip(f"{SHARED_AXONS} is not there")
    assert len(shared_axon_files()) == 18


def test_blog_axon_shows_its_legacy_canary_split() -> None:
    """The 2019-03 blog axon has no rolloutSpec but ``deploymentType: canary``: 50/50 (myelin_sdk.traffic)."""
    graph = axon_graph(load_path(BLOG))
    deployer = next(n for n in graph.nodes if n.kind == "deployer")
    assert "traffic v0 (newest) 50% · v1 50%" in deployer.lines


def test_rest_calendar_badges_named_gates_and_undeclared_tasks() -> None:
    with Axon("badges") as axon:
        prep = ContainerTask("Prep", image="python:3.11-slim")
        train = TrainTask("Train", image="python:3.11-slim")
        Sensor(
            "Nightly",
            triggers=[Calendar(schedule="0 3 * * *", name="night"), Rest("kick")],
            conditions=[Metric("{{acc}} > 0.9", name="good-enough", task=train), Metric("{{loss}} < 1")],
            tasks=[prep, train],
        )
        Sensor("OnFailure", triggers=[Lifecycle("Ghost", "Failed")], tasks=[train])
        Sensor("Watch", triggers=[Alert("{{acc}} < 0.5", name="low", for_="5m")], tasks=[prep])
    graph = axon_graph(axon)
    badges = [(b.type, b.name, b.text) for b in graph.node("sensor/Nightly").badges]
    assert badges == [("Calendar", "night", "cron 0 3 * * *"), ("Rest", "kick", "an HTTP POST")]
    assert graph.node("sensor/Watch").badges[0].text == "{{acc}} < 0.5 for 5m"
    first, second = graph.edges_from("sensor/Nightly")
    assert [(g.name, g.condition) for g in first.gates] == [
        ("good-enough", "{{acc}} > 0.9"),
        ("gate-1", "{{loss}} < 1"),
    ]
    assert second.gates == ()
    assert graph.node("task/Ghost").kind == "missing"  # the picture of an axon that does not lint yet
    edges = {(e.source, e.target, e.kind) for e in graph.edges}
    assert ("task/Ghost", "sensor/OnFailure", "trigger") in edges
    source = to_dot(graph)
    assert "1. if good-enough: {{acc}} &gt; 0.9" in source
    assert "if gate-1: {{loss}} &lt; 1" in source


def test_names_that_dot_would_misread_are_drawn_as_written() -> None:
    """``:`` (a port in DOT edges), ``"`` (ends a DOT string), ``<`` (opens HTML) do not break the picture."""
    with Axon("odd") as axon:
        task = ContainerTask('prep:v1 "x" <y>', image="python:3.11-slim")
        Sensor("S", triggers=[Lifecycle(task, "Failed")], tasks=[task])
    graph = axon_graph(axon)
    drawn = 'task/prep%3Av1 "x" <y>'  # one node, not node "task/prep" with port "v1 ..."
    assert '"task/prep%3Av1 \\"x\\" <y>" -> "sensor/S"' in to_dot(graph)
    if shutil.which("dot") or os.environ.get("MYELIN_REQUIRE_GRAPHVIZ"):
        texts, edges = svg_texts_and_edges(render(graph, "svg"))
        assert edges == {(drawn, "sensor/S"), ("sensor/S", drawn)}
        assert 'prep:v1 "x" <y>' in texts.splitlines()


# --- text fallback and notebook reprs ---------------------------------------------------------------------


def test_text_outline_reads_the_whole_demo() -> None:
    outline = to_text(axon_graph(load_path(DEMO_YAML)))
    assert outline.splitlines()[:3] == ["Axon ml-rec", "tasks:", "  DataPrepMyelinRecommender [data prep]"]
    for line in [
        "  TrainOnStart",
        "    trigger Start: once, when the axon is installed",
        "    1. DataPrepMyelinRecommender",
        "    trigger Lifecycle: TrainMyelinRecommender Succeeded (mnistTrainingComplete)",
        "    if gate-0: {{recommender_train_rmse}} < 0.95",
        "    1. deployer recommenderdeployer",
        "         traffic v0 (newest) 50% · v1 50%",
        "    trigger Alert RecommenderDeployAccuracy: {{recommender_deploy_accuracy}} < 0.90",
    ]:
        assert line in outline.splitlines(), line


def test_without_dot_the_notebook_shows_the_outline_and_a_note(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    axon = load_path(DEMO_YAML)
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` here
    assert axon._repr_svg_() is None
    page = axon._repr_html_()
    assert "<svg" not in page
    assert "install Graphviz (`apt-get install graphviz`" in page
    assert "{{recommender_train_rmse}} &lt; 0.95" in page  # the outline, escaped for HTML
    assert "1. deployer recommenderdeployer" in page


@needs_dot
def test_with_dot_the_notebook_shows_the_svg() -> None:
    axon = load_path(DEMO_PY)
    svg = axon._repr_svg_()
    assert svg is not None and svg == to_svg(axon.graph())
    page = axon._repr_html_()
    assert page == to_html(axon.graph())
    assert page.startswith('<div style="overflow:auto"><svg')
    _, edges = svg_texts_and_edges(page[page.index("<svg") : page.rindex("</svg>") + 6])
    assert edges == {(s, t) for s, t, _ in DEMO_EDGES}


def test_repr_is_one_short_line_and_pretty_is_the_outline() -> None:
    axon = load_path(DEMO_YAML)
    assert repr(axon) == (
        "Axon('ml-rec', tasks=[DataPrepMyelinRecommender, TrainMyelinRecommender, DeployMyelinRecommender], "
        "sensors=[TrainOnStart, DeploymentDecisionMaker, PostDeploymentDecisionMaker])"
    )
    pretty = pytest.importorskip("IPython.lib.pretty")
    assert pretty.pretty(axon) == to_text(axon.graph()).rstrip("\n")


# --- myelin graph ---------------------------------------------------------------------------------------


def test_cli_writes_dot_without_graphviz(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "axon.dot"
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["graph", str(DEMO_PY), "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == to_dot(axon_graph(load_path(DEMO_PY)))
    assert f"wrote {out}" in capsys.readouterr().err


def test_cli_svg_without_graphviz_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "axon.svg"
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["graph", str(DEMO_YAML), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert "needs Graphviz's `dot` program" in err and "apt-get install graphviz" in err
    assert not out.exists()


@needs_dot
@pytest.mark.parametrize("suffix", ["svg", "png"])
def test_cli_writes_svg_and_png(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"axon.{suffix}"
    assert main(["graph", str(DEMO_YAML), "-o", str(out)]) == 0
    data = out.read_bytes()
    if suffix == "png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    else:
        texts, edges = svg_texts_and_edges(data)
        assert edges == {(s, t) for s, t, _ in DEMO_EDGES}
        assert "recommenderdeployer" in texts


def test_cli_bad_suffix_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", str(DEMO_YAML), "-o", str(tmp_path / "axon.jpg")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "axon.jpg: expected a file name ending in one of .svg, .png, .dot" in err
    assert not (tmp_path / "axon.jpg").exists()


def test_cli_prints_the_outline_or_the_dot_source(capsys: pytest.CaptureFixture[str]) -> None:
    graph = axon_graph(load_path(DEMO_YAML))
    assert main(["graph", str(DEMO_YAML)]) == 0
    assert capsys.readouterr().out == to_text(graph)
    assert main(["graph", str(DEMO_YAML), "-o", "-"]) == 0
    assert capsys.readouterr().out == to_dot(graph)


def test_cli_graph_of_a_missing_file_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "no-such-axon.yaml", "-o", "x.dot"]) == 2
    err = capsys.readouterr().err
    assert "no-such-axon.yaml" in err and "Traceback" not in err


def test_help_imports_neither_graphviz_nor_the_graph_model() -> None:
    """`myelin --help` registers `graph` without importing graphviz, pydantic or the picture's modules."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "myelin_sdk.cli", "--help"],
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )
    assert result.returncode == 0 and "graph" in result.stdout
    modules = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.count("|") == 2}
    assert "myelin_sdk.graph.command" in modules
    heavy = {m for m in modules if m.split(".")[0] in ("graphviz", "pydantic")}
    heavy |= modules & {"myelin_sdk.graph.model", "myelin_sdk.graph.draw"}
    assert not heavy, sorted(heavy)
