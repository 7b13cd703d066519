"""The control endpoint and the timed triggers know an event sink, not the engine: real HTTP and real
timers against a recorder."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from myelin_sdk import Alert, Axon, Calendar, ContainerTask, Sensor
from myelin_sdk.local.control import ControlServer
from myelin_sdk.local.triggers import TimedTriggers

from support.processes import until


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, list[str]]] = []

    def emit(self, kind: str, name: str, detail: dict[str, Any], targets: list[str]) -> int:
        self.events.append((kind, name, targets))
        return len(self.events)

    def snapshot(self) -> dict[str, Any]:
        return {"events": len(self.events)}


def _post(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=b"{}", method="POST")) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_control_endpoint_fires_rest_triggers_on_any_sink() -> None:
    sink = Recorder()
    control = ControlServer(sink, rest_sensors=["Retrain"])
    control.start()
    try:
        assert _post(f"{control.url}/trigger/Retrain") == (202, {"event": 1, "sensor": "Retrain"})
        status, body = _post(f"{control.url}/trigger/Retrian")
        assert status == 404 and "did you mean 'Retrain'" in body["error"]
        with urllib.request.urlopen(f"{control.url}/status") as response:
            assert json.loads(response.read()) == {"events": 1}
    finally:
        control.stop()
    assert sink.events == [("rest", "Retrain", ["Retrain"])]


def test_a_calendar_interval_emits_to_the_sink_until_stopped() -> None:
    with Axon("ticks") as axon:
        task = ContainerTask("T", command=["true"])
        Sensor("Tick", triggers=[Calendar(name="every", interval="100ms")], tasks=[task])
    sink, stop = Recorder(), threading.Event()
    triggers = TimedTriggers(axon.sensors, sink, holds=lambda condition: False, stop=stop, interval=0.1)
    triggers.start()
    try:
        assert until(lambda: len(sink.events) >= 3, timeout=10)
    finally:
        stop.set()
    for thread in triggers.threads:
        thread.join(timeout=5)
    assert not any(t.is_alive() for t in triggers.threads)
    assert all(event == ("calendar", "every", ["Tick"]) for event in sink.events)


def test_a_poke_evaluates_the_alerts_at_once_and_a_stop_ends_the_loop_at_once() -> None:
    """With an hour between evaluations, only a poke (a metric was pushed) can make the alert fire."""
    with Axon("pokes") as axon:
        task = ContainerTask("T", command=["true"])
        Sensor("OnLow", triggers=[Alert("{{quality}} < 0.9", name="Low")], tasks=[task])
    sink, stop, low = Recorder(), threading.Event(), threading.Event()
    triggers = TimedTriggers(axon.sensors, sink, holds=lambda c: low.is_set(), stop=stop, interval=3600)
    triggers.start()
    try:
        low.set()
        triggers.poke()
        assert until(lambda: sink.events == [("alert", "Low", ["OnLow"])], timeout=5)
        low.clear()
        triggers.poke()
        assert until(lambda: [e[0] for e in sink.events] == ["alert", "resolved"], timeout=5)
    finally:
        stop.set()
    for thread in triggers.threads:
        thread.join(timeout=5)
    assert not any(t.is_alive() for t in triggers.threads)


def test_the_embedded_store_pokes_after_each_push_and_delete(tmp_path: Path) -> None:
    from myelin_sdk.local.metrics_embedded import EmbeddedMetrics
    from myelin_sdk.runtime import publish_metric

    pokes = threading.Semaphore(0)
    store = EmbeddedMetrics("pokes", tmp_path / "metrics.db", on_push=pokes.release)
    with store:
        publish_metric("quality", 0.4, pushgateway_url=store.pushgateway_url, axon="pokes", job="j")
        assert pokes.acquire(timeout=5)
        request = urllib.request.Request(f"{store.pushgateway_url}/metrics/job/j", method="DELETE")
        with urllib.request.urlopen(request) as response:
            assert response.status == 202
        assert pokes.acquire(timeout=5)
        assert not pokes.acquire(timeout=0.2)  # one poke each, nothing more
