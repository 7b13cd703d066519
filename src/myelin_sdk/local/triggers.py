"""Triggers that fire on their own: Alerts (evaluated on an interval) and Calendars (timers).

An Alert fires when its condition starts to hold — after holding for its ``for`` duration — once; it fires
again only after it resolved (a ``resolved`` event is recorded). Alerts are evaluated every ``interval``
seconds, and at once when :meth:`TimedTriggers.poke` says a metric changed (the embedded store pokes on every
push, so a push that crosses a threshold starts the sensor's tasks within milliseconds, not an interval).
A Calendar fires every ``interval`` or on its cron ``schedule`` (croniter; ``timezone`` honoured). Both
hand their events to an :class:`~.events.EventSink` (the engine), and know nothing else of it::

    triggers = TimedTriggers(axon.sensors, engine, holds=metrics.holds, stop=stop_event, interval=5.0)
    triggers.restore(state.events())      # on --resume: alerts that were firing are still firing
    triggers.start()                      # daemon threads; they end when ``stop`` is set
    store = EmbeddedMetrics(axon.name, db, on_push=triggers.poke)   # a push re-evaluates the alerts
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..errors import MyelinError
from ..spec import Alert, Calendar, Sensor
from ..spec.expressions import AlertCondition, parse_alert_condition
from .events import EventSink
from .state import Event

_PROMETHEUS_UNITS = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
    "y": 31536000.0,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")


def duration_seconds(text: str) -> float:
    """A duration as Prometheus and the Axon write it: ``500ms``, ``10s``, ``1.5m``, ``1h30m``, ``2d``.

    >>> duration_seconds("1h30m"), duration_seconds("500ms")
    (5400.0, 0.5)
    """
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ValueError(f"invalid duration {text!r}: expected e.g. 500ms, 10s, 5m, 1h30m")
    return sum(float(n) * _PROMETHEUS_UNITS[u] for n, u in parts)


class TimedTriggers:
    """The alert loop and the calendar timers of one run.

    ``holds`` evaluates an alert condition (a :class:`MyelinError` when it cannot); ``interval`` is how often
    alerts are evaluated; ``log`` gets one line when an alert cannot be evaluated.
    """

    def __init__(
        self,
        sensors: Sequence[Sensor],
        sink: EventSink,
        *,
        holds: Callable[[AlertCondition], object],
        stop: threading.Event,
        interval: float = 5.0,
        log: Callable[[str], None] = print,
    ) -> None:
        self.sensors = list(sensors)
        self.sink = sink
        self.holds = holds
        self.stop = stop
        self.interval = interval
        self.log = log
        self.firing: dict[tuple[str, str], bool] = {}
        self.threads: list[threading.Thread] = []
        self._wake = threading.Event()

    def poke(self) -> None:
        """Evaluate the alerts now rather than at the end of the interval (a metric was pushed).

        Safe from any thread; pokes that come while an evaluation runs are folded into one more."""
        self._wake.set()

    def restore(self, events: Iterable[Event]) -> None:
        """Which alerts were firing when the run stopped, from its recorded alert and resolved events."""
        for event in events:
            if event.kind in ("alert", "resolved"):
                self.firing[(event.detail.get("sensor", ""), event.name)] = event.kind == "alert"

    def start(self) -> None:
        sensors = self.sensors
        alerts = [(s, t) for s in sensors for t in s.triggers if isinstance(t, Alert)]
        if alerts:
            self._spawn("alerts", self._alert_loop, alerts)
            self._spawn("alerts-stop", self._wake_on_stop)
        for sensor in sensors:
            for trigger in sensor.triggers:
                if isinstance(trigger, Calendar):
                    self._spawn(f"calendar-{sensor.name}", self._calendar_loop, sensor, trigger)

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _wake_on_stop(self) -> None:
        """The alert loop waits on its wake-up event, not on ``stop``: a stop wakes it too."""
        self.stop.wait()
        self._wake.set()

    def _alert_loop(self, alerts: list[tuple[Sensor, Alert]]) -> None:
        parsed = {(s.name, a.name): parse_alert_condition(a.condition) for s, a in alerts}
        since: dict[tuple[str, str], float | None] = {}
        failing: set[tuple[str, str]] = set()
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            if self.stop.is_set():
                return
            for sensor, alert in alerts:
                key = (sensor.name, alert.name)
                try:
                    holds = bool(self.holds(parsed[key]))
                except MyelinError as exc:
                    if key not in failing:  # said once, until it works again
                        self.log(f"alert {alert.name}: cannot evaluate: {exc}")
                    failing.add(key)
                    continue
                failing.discard(key)
                if not holds:
                    since[key] = None
                    if self.firing.get(key):
                        self.firing[key] = False
                        self.sink.emit("resolved", alert.name, {"sensor": sensor.name}, [])
                    continue
                start = since.get(key) or time.monotonic()
                since[key] = start
                needed = duration_seconds(alert.for_) if alert.for_ else 0.0
                if not self.firing.get(key) and time.monotonic() - start >= needed:
                    self.firing[key] = True
                    detail = {"sensor": sensor.name, "condition": alert.condition}
                    self.sink.emit("alert", alert.name, detail, [sensor.name])

    def _calendar_loop(self, sensor: Sensor, trigger: Calendar) -> None:
        detail = {"sensor": sensor.name}
        if trigger.interval:
            period = duration_seconds(trigger.interval)
            while not self.stop.wait(period):
                self.sink.emit("calendar", trigger.name, detail, [sensor.name])
            return
        from datetime import datetime
        from zoneinfo import ZoneInfo

        from croniter import croniter

        zone = ZoneInfo(trigger.timezone) if trigger.timezone else None
        schedule = croniter(trigger.schedule, datetime.now(zone))
        while True:
            due = schedule.get_next(float)
            if self.stop.wait(max(0.0, due - time.time())):
                return
            self.sink.emit("calendar", trigger.name, detail, [sensor.name])
