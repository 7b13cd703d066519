"""Errors a user can cause, and how they are reported.

Every user mistake becomes a :class:`Diagnostic` — a field path in the Axon and what was expected — collected
in a :class:`MyelinError`. The CLI prints them one a line and exits with status 2; no traceback.

>>> err = MyelinError([Diagnostic("spec.tasks[0].name", "must not be empty")], source="axon.yaml")
>>> print(err)
axon.yaml: spec.tasks[0].name: must not be empty
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Diagnostic:
    """One problem in an Axon: where (a field path such as ``spec.sensors[1].triggers[0].task``) and what."""

    path: str
    message: str
    severity: str = "error"
    line: int | None = None

    def format(self, source: str | None = None) -> str:
        where = f"{source}:{self.line}: " if source and self.line else f"{source}: " if source else ""
        at = f"{self.path}: " if self.path else ""
        kind = "warning: " if self.severity == "warning" else ""
        return f"{where}{at}{kind}{self.message}"

    def to_dict(self, source: str | None = None) -> dict[str, str | int]:
        out: dict[str, str | int] = {"severity": self.severity, "path": self.path, "message": self.message}
        if source:
            out["file"] = source
        if self.line:
            out["line"] = self.line
        return out


class MyelinError(Exception):
    """A user error: bad input, a failed lint, an unsupported feature. Carries one or more diagnostics."""

    exit_code = 2

    def __init__(self, diagnostics: Sequence[Diagnostic] | str, source: str | None = None) -> None:
        if isinstance(diagnostics, str):
            diagnostics = [Diagnostic("", diagnostics)]
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        self.source = source
        super().__init__(self.__str__())

    def with_source(self, source: str) -> MyelinError:
        """The same error, attributed to ``source`` (a file name) when it had none."""
        if self.source:
            return self
        return type(self)(self.diagnostics, source=source)

    def __str__(self) -> str:
        return "\n".join(d.format(self.source) for d in self.diagnostics)


class UnsupportedError(MyelinError):
    """A part of the Axon format that is kept in the model but cannot be compiled or run yet."""


def did_you_mean(name: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """A ``" — did you mean 'X'?"`` suffix when a close match exists (similarity at least ``cutoff``), else
    ``""``. ``name`` itself is never offered.

    >>> did_you_mean("Trian", ["Train", "Deploy"])
    " — did you mean 'Train'?"
    """
    match = difflib.get_close_matches(name, [c for c in choices if c != name], n=1, cutoff=cutoff)
    return f" — did you mean '{match[0]}'?" if match else ""


def format_path(loc: Iterable[str | int]) -> str:
    """Join a pydantic/JSON location into ``spec.tasks[1].train.env[0].name`` form."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
