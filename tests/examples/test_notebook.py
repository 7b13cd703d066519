"""The example notebook (``examples/recommender_demo/notebook.ipynb``) runs top to bottom in a real Jupyter
kernel of this virtual environment, against MovieLens 100k, and is kept in git without outputs.

    .venv/bin/python -m pytest tests/examples/test_notebook.py -q

The kernel is this Python (a kernelspec the test installs into a temporary Jupyter path), started in the
notebook's folder as Jupyter would. When a cell fails, the cells tagged ``teardown`` (``run.stop()``) still
run, and the failing cell's source and outputs are printed.
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from conftest import DEMO

NOTEBOOK = DEMO / "notebook.ipynb"
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # IPython colours its tracebacks


def _outputs_text(cell: Any) -> str:
    """What a cell showed: streams, results and the error's traceback, as plain text."""
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif output["output_type"] == "error":
            parts.append("\n".join(output["traceback"]))
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return ANSI.sub("", "\n".join(parts))


def _kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec that runs this interpreter, on a Jupyter path of the test's own: its name."""
    from ipykernel.kernelspec import install

    name = "myelin-notebook-test"
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter" / "share" / "jupyter"))
    install(kernel_name=name, prefix=str(tmp_path / "jupyter"))
    return name


def execute(notebook: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, timeout: float) -> None:
    """Run every cell as Jupyter's "Run All" does; on an error, run the ``teardown`` cells and fail with the
    failing cell's source and outputs."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name=_kernel(tmp_path, monkeypatch),
        resources={"metadata": {"path": str(DEMO)}},  # the kernel's working directory
    )
    with client.setup_kernel():
        failed: tuple[int, Any] | None = None
        for index, cell in enumerate(notebook.cells):
            try:
                client.execute_cell(cell, index)
            except CellExecutionError:
                failed = (index, cell)
                break
        if failed is not None:
            for index, cell in enumerate(notebook.cells):
                if "teardown" in cell.metadata.get("tags", []):
                    with contextlib.suppress(CellExecutionError):  # its output is reported below
                        client.execute_cell(cell, index)
            index, cell = failed
            teardown = [_outputs_text(c) for c in notebook.cells if "teardown" in c.metadata.get("tags", [])]
            pytest.fail(
                f"cell {index} ({cell.get('id')}) failed:\n{cell.source}\n--- its output ---\n"
                f"{_outputs_text(cell)}\n--- teardown ---\n" + "\n".join(teardown),
                pytrace=False,
            )


def test_the_notebook_in_git_has_no_outputs() -> None:
    """Outputs, execution counts and timings stay out of git (``make notebook-strip`` removes them)."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    dirty = [
        f"cell {i} ({cell.get('id')})"
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
        and (cell.outputs or cell.execution_count is not None or "execution" in cell.metadata)
    ]
    assert not dirty, f"{NOTEBOOK.name}: outputs in {', '.join(dirty)}: run make notebook-strip"
    last = notebook.cells[-1]
    assert "run.stop()" in last.source and "teardown" in last.metadata.get("tags", []), "the last cell stops"


def test_a_failing_cell_still_runs_the_teardown_and_shows_its_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = new_notebook(
        cells=[
            new_code_cell("print('before the error')\nraise RuntimeError('the run failed')"),
            new_code_cell("print('never runs')"),
            new_code_cell("print('stopped')", metadata={"tags": ["teardown"]}),
        ]
    )
    with pytest.raises(pytest.fail.Exception) as failed:
        execute(notebook, tmp_path, monkeypatch, timeout=60)
    message = str(failed.value)
    assert message.startswith("cell 0 ")
    assert "before the error" in message and "RuntimeError: the run failed" in message
    assert "--- teardown ---\nstopped" in message
    assert "\x1b[" not in message  # no terminal colours in the report
    assert notebook.cells[1].outputs == []


@pytest.mark.slow
def test_the_notebook_runs_top_to_bottom(
    real_ml100k: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Declare, lint, compile, run locally, predict, feedback, retrain: every cell runs without an error,
    and what the cells show is what the notebook's text promises."""
    monkeypatch.setenv("MOVIELENS_DIR", str(real_ml100k))  # the offline data (the conftest clears it)
    monkeypatch.delenv("RECOMMENDER_QUICK", raising=False)  # the notebook's own fast settings
    monkeypatch.setenv("DEMO_WORKDIR", str(tmp_path / "work"))
    monkeypatch.setenv("DEMO_TIMEOUT", "300")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    began = time.monotonic()
    execute(notebook, tmp_path, monkeypatch, timeout=600)
    took = time.monotonic() - began
    cells = {cell.get("id"): cell for cell in notebook.cells}
    shown = {name: _outputs_text(cell) for name, cell in cells.items()}

    assert shown["load-yaml"] == "True"  # recommender-demo.yaml is the same Axon as pipeline.py
    assert shown["lint-run"] == "[]"
    assert "kind: Sensor" in shown["show-sensor-run"]
    assert "name: ml-rec-deployment-decision-maker" in shown["show-sensor-run"]
    assert (tmp_path / "work" / "manifests" / "kustomization.yaml").is_file()
    assert "held-out RMSE 0." in shown["logs-run"]
    assert "user 3  #1  " in shown["predict-run"] and "user 4  #5  " in shown["predict-run"]
    assert "'recommender_deploy_accuracy_ml__rec': 0.5" in shown["feedback-run"]
    assert shown["watch"].count("'traffic': 50") == 2  # the retrained canary next to the first version
    assert shown["traffic-run"].count("'weight': 50") == 2
    assert "the run's state, logs and models are in" in shown["stop-run"]
    assert shown["stop-run"].rstrip().endswith("stopped")
    # the live status is one output redrawn in place, not a new one per refresh
    for name in ("run-start", "run-wait", "watch"):
        displays = [o for o in cells[name].outputs if o["output_type"] == "display_data"]
        assert len(displays) <= 1, f"cell {name}: {len(displays)} displays of the status"
    # run.stop() ended the model endpoint
    endpoint = re.search(r"endpoint: http://127\.0\.0\.1:(\d+)", shown["predict-run"])
    assert endpoint is not None, shown["predict-run"]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(endpoint.group(1))), timeout=5).close()
    print(f"the notebook ran in {took:.1f} s")
