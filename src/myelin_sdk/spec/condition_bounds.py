"""Bounds on condition text, checked before any parser sees it: length and nesting.

A metric condition is parsed by recursive descent and an alert condition by ``promql_parser`` (Rust); both
recurse once per bracket or ``not``, so a hostile text (10,000 nested parentheses) could overflow a stack.
These bounds are far above any real condition::

    >>> check_bounds("({{a}} < 1) and not {{b}} > 2")
    >>> check_bounds("(" * 100 + "{{a}} < 1" + ")" * 100)
    Traceback (most recent call last):
    ...
    myelin_sdk.spec.expressions.ExpressionError: condition nested 100 levels deep ...
"""

from __future__ import annotations

import re

from .expressions import PLACEHOLDER_RE, ExpressionError

__all__ = ["MAX_CONDITION_CHARS", "MAX_NESTING", "check_bounds"]

#: The longest condition (characters); a real one fits on a line or two.
MAX_CONDITION_CHARS = 4096
#: The deepest nesting of brackets (``( [ {``) plus ``not``/unary signs in a row.
MAX_NESTING = 32

_NOT_RE = re.compile(r"\bnot\b|!(?!=)|(?<![\w)\]}\s])\s*[-+]", re.IGNORECASE)
_OPEN = "([{"
_CLOSE = ")]}"


def _short(text: str) -> str:
    return repr(text) if len(text) <= 60 else f"{text[:60]!r}… ({len(text)} characters)"


def check_bounds(text: str, what: str = "condition") -> None:
    """Raise :class:`ExpressionError` when ``text`` is longer than ``MAX_CONDITION_CHARS`` or nested deeper
    than ``MAX_NESTING`` (brackets, and ``not``s in a row). Linear in the length; a message quotes only
    the start of the text."""
    if len(text) > MAX_CONDITION_CHARS:
        raise ExpressionError(
            f"{what} of {len(text)} characters is too long: expected at most {MAX_CONDITION_CHARS} "
            f"(starts {_short(text)})",
            text[:200],
        )
    depth = deepest = 0
    for char in PLACEHOLDER_RE.sub("m", text):  # a {{name}} is an operand, not two levels
        if char in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
        elif char in _CLOSE:
            depth = max(depth - 1, 0)
    nots = _longest_not_chain(text)
    if deepest + nots > MAX_NESTING:
        raise ExpressionError(
            f"{what} nested {deepest + nots} levels deep (brackets and 'not'): expected at most "
            f"{MAX_NESTING} (starts {_short(text)})",
            text[:200],
        )


def _longest_not_chain(text: str) -> int:
    """The most ``not``s (or ``!``, unary signs) separated only by spaces and brackets."""
    longest = run = 0
    end = -1
    for match in _NOT_RE.finditer(text):
        between = text[end : match.start()] if end >= 0 else ""
        run = run + 1 if end >= 0 and not between.strip(" \t\n([{") else 1
        longest = max(longest, run)
        end = match.end()
    return longest
