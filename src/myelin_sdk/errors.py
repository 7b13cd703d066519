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

#: The longest text a message quotes from the input (``excerpt``), and the longest message or path kept.
EXCERPT_CHARS = 80
MAX_MESSAGE_CHARS = 2000


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``repr(text)``, cut to about ``limit`` characters with the length said: a 5 MB name is not echoed.

    >>> excerpt("x" * 1000, 10)
    "'xxxxxxxxxx'… (1000 characters)"
    """
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text)} characters)"


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head, tail = limit * 2 // 3, limit // 4
    return f"{text[:head]} …({len(text) - head - tail} characters cut)… {text[-tail:]}"


@dataclass(frozen=True)
class Diagnostic:
    """One problem in an Axon: where (a field path such as ``spec.sensors[1].triggers[0].task``) and what.
    A message or path longer than ``MAX_MESSAGE_CHARS`` is cut in the middle (user text quoted whole could
    be megabytes)."""

    path: str
    message: str
    severity: str = "error"
    line: int | None = None

    def __post_init__(self) -> None:
        if len(self.message) > MAX_MESSAGE_CHARS:
            object.__setattr__(self, "message", _clip(self.message, MAX_MESSAGE_CHARS))
        if len(self.path) > MAX_MESSAGE_CHARS // 4:
            object.__setattr__(self, "path", _clip(self.path, MAX_MESSAGE_CHARS // 4))

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


#: did_you_mean's bounds: names longer than this get no suggestion, and at most this many candidates (the
#: closest in length) are compared, so one message costs the same whatever the size of the axon.
SUGGEST_MAX_CHARS = 100
SUGGEST_MAX_CANDIDATES = 64


def did_you_mean(name: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """A ``" — did you mean 'X'?"`` suffix when a close match exists (similarity at least ``cutoff``), else
    ``""``. ``name`` itself is never offered. Bounded: a name longer than ``SUGGEST_MAX_CHARS`` gets no
    suggestion, and only the ``SUGGEST_MAX_CANDIDATES`` choices closest in length are compared.

    >>> did_you_mean("Trian", ["Train", "Deploy"])
    " — did you mean 'Train'?"
    """
    if len(name) > SUGGEST_MAX_CHARS:
        return ""
    size = len(name)
    # a similarity of ``cutoff`` needs lengths within this factor of each other: others cannot match
    low, high = size * cutoff / (2 - cutoff), size * (2 - cutoff) / cutoff if cutoff else float("inf")
    near = [c for c in choices if c != name and low <= len(c) <= high and len(c) <= SUGGEST_MAX_CHARS]
    if len(near) > SUGGEST_MAX_CANDIDATES:
        near = sorted(near, key=lambda c: abs(len(c) - size))[:SUGGEST_MAX_CANDIDATES]
    match = difflib.get_close_matches(name, near, n=1, cutoff=cutoff)
    return f" — did you mean {excerpt(match[0])}?" if match else ""


class CloseNames:
    """:func:`did_you_mean` over a fixed, possibly large set of names, in bounded time per question, with
    answers cached (lint asks about every misspelt reference of a 3,000-task axon).

    Up to ``SUGGEST_MAX_CANDIDATES`` names, every name is compared, as :func:`did_you_mean` does. Beyond,
    the candidates are the names one deletion away from the question or from one of its one-deletion
    variants (a typo: a letter dropped, added, changed or two swapped), found in an index built once.

    >>> CloseNames(["Train", "Deploy"]).hint("Trian")
    " — did you mean 'Train'?"
    >>> CloseNames([f"task-{i:04d}" for i in range(3000)]).hint("tsak-1234")
    " — did you mean 'task-1234'?"
    """

    def __init__(self, choices: Iterable[str]) -> None:
        self.names: list[str] = list(dict.fromkeys(choices))
        self._cache: dict[tuple[str, float], str] = {}
        self._variants: dict[str, list[str]] = {}
        if len(self.names) > SUGGEST_MAX_CANDIDATES:
            for name in self.names:
                if len(name) <= SUGGEST_MAX_CHARS:
                    for variant in _deletions(name):
                        bucket = self._variants.setdefault(variant, [])
                        if len(bucket) < SUGGEST_MAX_CANDIDATES:
                            bucket.append(name)

    def hint(self, name: str, cutoff: float = 0.6) -> str:
        key = (name, cutoff)
        if key not in self._cache:
            if len(name) > SUGGEST_MAX_CHARS:
                answer = ""
            elif len(self.names) <= SUGGEST_MAX_CANDIDATES:
                answer = did_you_mean(name, self.names, cutoff)
            else:
                near: dict[str, None] = {}
                for variant in _deletions(name):
                    near.update(dict.fromkeys(self._variants.get(variant, ())))
                    if len(near) >= SUGGEST_MAX_CANDIDATES:
                        break
                answer = did_you_mean(name, near, cutoff)
            if len(self._cache) < 10_000:
                self._cache[key] = answer
            return answer
        return self._cache[key]


def _deletions(name: str) -> list[str]:
    """``name`` and every string one character shorter than it (``abc`` -> ``abc, bc, ac, ab``)."""
    return [name, *dict.fromkeys(name[:i] + name[i + 1 :] for i in range(len(name)))]


def format_path(loc: Iterable[str | int]) -> str:
    """Join a pydantic/JSON location into ``spec.tasks[1].train.env[0].name`` form."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
