"""``LocalRun`` in a notebook and a terminal, with real runs (real task processes, real state): its repr and
HTML show the live status (tasks with status, sensors, the last log lines), ``watch``/``display`` redraw one
IPython display in place (the real IPython display machinery, captured), ``logs`` gives a task's output."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from myelin_sdk import Axon, ContainerTask, Lifecycle, MyelinError, Sensor
from myelin_sdk.local import LocalRun, RunFailed, RunOptions, run_local

from support.processes import until

HELLO = "print('hello from the task'); print('second line')"
SLOW = "import time; print('slow start', flush=True); time.sleep(2); print('slow end')"


def _start(tmp_path: Path) -> LocalRun:
    with Axon("show-run") as axon:
        hello = ContainerTask("Hello", command=[sys.executable, "-c", HELLO])
        slow = ContainerTask("Slow", command=[sys.executable, "-c", SLOW])
        Sensor("Start", tasks=[hello])
        Sensor("After", triggers=[Lifecycle(hello, "Succeeded")], tasks=[slow])
    (tmp_path / "pipeline.py").write_text("# the tasks run here\n")
    return run_local(axon, RunOptions(workdir=tmp_path, port=0), source=tmp_path / "pipeline.py")


@pytest.fixture
def notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    """An IPython shell as a kernel has one (its history and profile kept in ``tmp_path``)."""
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    shell = InteractiveShell.instance()
    try:
        yield shell
    finally:
        InteractiveShell.clear_instance()


def _displays(outputs: list[Any]) -> list[tuple[str, bool, str]]:
    """(display id, is an update, plain text) of each captured display."""
    return [
        (o.transient.get("display_id", ""), bool(o.update), o.data.get("text/plain", "")) for o in outputs
    ]


def test_repr_and_html_show_tasks_sensors_and_log_lines_live_and_after_stop(tmp_path: Path) -> None:
    run = _start(tmp_path)
    try:
        assert until(lambda: any(t["task"] == "Slow" for t in run.status()["tasks"]), timeout=30)
        live = repr(run)
        assert run.wait("idle", timeout=30)
        html = run._repr_html_()
    finally:
        run.stop()
    assert "<LocalRun" not in live
    assert "axon show-run — run " in live and "(running)" in live
    assert "Hello" in live and "succeeded · " in live and "run 1 step 0" in live
    assert "sensor" in live and "Start" in live and "After" in live
    assert "last log lines:" in live and "task Hello succeeded" in live
    assert html.startswith("<pre") and "Slow" in html and "succeeded" in html
    stopped = repr(run)  # the engine's state is closed now: read back from the run's folder
    assert "(stopped)" in stopped
    assert "Slow" in stopped and "succeeded · " in stopped and "run 2 step 0" in stopped


def test_logs_gives_a_tasks_output_and_says_what_is_wrong(tmp_path: Path) -> None:
    run = _start(tmp_path)
    try:
        with pytest.raises(MyelinError, match=r"task Slow has not run yet"):
            run.logs("Slow")
        assert run.wait("idle", timeout=30)
        assert "hello from the task\nsecond line\n" in run.logs("Hello")
    finally:
        run.stop()
    assert "slow start\nslow end" in run.logs("Slow")  # after stop too
    assert "slow end" in run.logs("Slow", run=2)
    with pytest.raises(MyelinError, match=r"task Slow ran in sensor runs 2 only"):
        run.logs("Slow", run=1)
    with pytest.raises(MyelinError) as error:
        run.logs("Helo")
    assert str(error.value) == (
        "run.logs('Helo'): axon show-run has no task of that name; did you mean 'Hello'? (tasks: Hello, Slow)"
    )


def test_watch_redraws_one_display_in_the_notebook_until_the_run_is_idle(
    tmp_path: Path, notebook: InteractiveShell
) -> None:
    run = _start(tmp_path)
    try:
        with capture_output() as captured:
            assert run.watch("idle", timeout=30, every=0.3) is True
    finally:
        run.stop()
    shown = _displays(captured.outputs)
    ids = {display_id for display_id, _, _ in shown}
    assert len(ids) == 1 and "" not in ids  # one output, redrawn in place
    assert not shown[0][1] and all(update for _, update, _ in shown[1:])
    assert len(shown) >= 4  # Slow alone takes 2 s: several redraws at 0.3 s
    assert "running" in " ".join(text for _, _, text in shown[:-1])
    last = shown[-1][2]
    assert "Slow" in last and "succeeded" in last and "running ·" not in last
    html = captured.outputs[-1].data["text/html"]
    assert "Slow" in html and "<pre" in html


def test_watch_returns_false_after_the_timeout_and_raises_what_wait_raises(
    tmp_path: Path, notebook: InteractiveShell
) -> None:
    run = _start(tmp_path)
    try:
        with capture_output() as captured:
            assert run.watch("idle", timeout=0.5, every=0.2) is False  # Slow alone takes 2 s
            with pytest.raises(RunFailed, match="the axon has no deployer"):
                run.watch("deployed", timeout=30)
    finally:
        run.stop()
    shown = _displays(captured.outputs)
    assert len(shown) >= 4 and len({display_id for display_id, _, _ in shown}) == 2  # one per watch


def test_display_keeps_redrawing_until_the_run_stops(tmp_path: Path, notebook: InteractiveShell) -> None:
    run = _start(tmp_path)
    with capture_output() as captured:
        assert run.display(every=0.2) is None  # returns at once; a thread redraws
        assert until(lambda: len(captured.outputs) >= 3, timeout=10)
        assert run.wait("idle", timeout=30)
        run.stop()
        assert until(lambda: "(stopped)" in captured.outputs[-1].data["text/plain"], timeout=10)
    shown = _displays(captured.outputs)
    assert len({display_id for display_id, _, _ in shown}) == 1
    assert "Slow" in shown[-1][2] and "succeeded" in shown[-1][2]


def test_watch_without_a_notebook_prints_the_final_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not InteractiveShell.initialized()
    run = _start(tmp_path)
    try:
        assert run.watch("idle", timeout=30, every=0.2)
    finally:
        run.stop()
    out = capsys.readouterr().out
    assert out.count("axon show-run — run ") == 1  # piped: once, at the end
    assert "Slow" in out and "succeeded · " in out


def test_in_a_real_kernel_watch_and_display_redraw_their_cell(tmp_path: Path) -> None:
    """Executed by a real Jupyter kernel (nbclient): ``watch`` leaves one output showing the end; the output
    of ``display`` is redrawn from its thread while a later cell runs, up to the stop."""
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    (tmp_path / "pipeline.py").write_text("# the tasks run here\n")
    setup = f"""
import sys
from pathlib import Path
from myelin_sdk import Axon, ContainerTask, Rest, Sensor
from myelin_sdk.local import RunOptions, run_local
with Axon("nb-run") as axon:
    task = ContainerTask("Slow", command=[sys.executable, "-c", {SLOW!r}])
    Sensor("Start", tasks=[task])
    Sensor("Again", triggers=[Rest()], tasks=[task])
options = RunOptions(workdir=Path({str(tmp_path)!r}), port=0)
run = run_local(axon, options, source=Path({str(tmp_path / "pipeline.py")!r}))
"""
    cells = [
        setup + "run.watch('idle', timeout=30, every=0.3)",
        "run.display(every=0.3)",
        "import time; run.trigger('Again'); run.wait('idle', timeout=30); run.stop(); time.sleep(2)",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(notebook, timeout=90, kernel_name="python3").execute()
    watched, displayed = (
        [o for o in cell.outputs if o.output_type == "display_data"] for cell in notebook.cells[:2]
    )
    assert len(watched) == 1 and len(displayed) == 1  # one output each, redrawn in place
    assert (
        "last log lines:" in watched[0].data["text/plain"]
        and "task Slow succeeded" in watched[0].data["text/plain"]
    )
    assert (
        "Slow  │ succeeded · " in watched[0].data["text/plain"]
        and "(running)" in watched[0].data["text/plain"]
    )
    last = displayed[0].data["text/plain"]
    assert "(stopped)" in last and "run 2 step 0" in last  # redrawn during the third cell
    assert "<pre" in displayed[0].data["text/html"]
