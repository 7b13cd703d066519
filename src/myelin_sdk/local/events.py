"""What the control endpoint and the timed triggers need from a run — an event sink — and nothing more.

The engine is one; so can be anything with these two methods (a test's recorder, say)::

    class Recorder:
        def __init__(self) -> None:
            self.events: list[tuple[str, str]] = []

        def emit(self, kind: str, name: str, detail: dict[str, Any], targets: list[str]) -> int:
            self.events.append((kind, name))
            return len(self.events)

        def snapshot(self) -> dict[str, Any]:
            return {"events": len(self.events)}

    ControlServer(Recorder(), rest_sensors=["Retrain"]).start()
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["EventSink"]


class EventSink(Protocol):
    """Records an event and starts the sensors it targets; tells the run's status."""

    def emit(self, kind: str, name: str, detail: dict[str, Any], targets: list[str]) -> int:
        """Record the event (``kind`` ``start``/``lifecycle``/``rest``/``alert``/``resolved``/``calendar``),
        start ``targets``; return the event's id."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """The run's status as ``GET /status`` shows it."""
        ...
