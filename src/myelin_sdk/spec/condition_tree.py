"""The tree of a parsed metric condition: operands, comparisons, ``and``/``or``/``not`` (split from
:mod:`.expressions`, which re-exports every public name here), and how it evaluates and renders::

    >>> a_small = Comparison(Metric("a"), "<", Number(1.0))
    >>> tree = BoolOp("and", (a_small, Not(Comparison(Metric("b"), ">", Number(2.0)))))
    >>> _evaluate(tree, {"a": 0.5, "b": 1.0}), _render(tree, str.upper, text="")
    (True, 'A < 1 and not B > 2')
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _quote(text: str) -> str:
    return f'"{text}"'


#: The comparison operators of metric conditions.
COMPARISON_OPERATORS: tuple[str, ...] = ("<", "<=", ">", ">=", "==", "!=")

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def compare(op: str, left: float, right: float) -> bool:
    """One comparison of the condition language: false whenever a side is NaN (``!=`` included).

    >>> compare("<", 0.5, 0.9), compare("!=", float("nan"), 1.0)
    (True, False)
    """
    return not (math.isnan(left) or math.isnan(right)) and _COMPARE[op](left, right)


@dataclass(frozen=True)
class Metric:
    """A ``{{name}}`` operand."""

    name: str

    def __post_init__(self) -> None:
        if not _NAME_RE.fullmatch(self.name):
            raise ValueError(f"invalid metric name {self.name!r}: expected [A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Number:
    """A numeric literal operand (always finite)."""

    value: float

    def __post_init__(self) -> None:
        if not math.isfinite(self.value):
            raise ValueError(f"number operands must be finite, got {self.value!r}")


Operand: TypeAlias = Metric | Number


@dataclass(frozen=True)
class Comparison:
    """``left op right``; at least one side is a :class:`Metric`."""

    left: Operand
    op: str
    right: Operand

    def __post_init__(self) -> None:
        if self.op not in _COMPARE:
            raise ValueError(f"unknown comparison operator {self.op!r}")
        if isinstance(self.left, Number) and isinstance(self.right, Number):
            raise ValueError("at least one side of a comparison must be a metric")


@dataclass(frozen=True)
class BoolOp:
    """``operands[0] op operands[1] op ...`` with at least two operands."""

    op: Literal["and", "or"]
    operands: tuple[ConditionNode, ...]

    def __post_init__(self) -> None:
        if self.op not in ("and", "or"):
            raise ValueError(f"unknown boolean operator {self.op!r}")
        if len(self.operands) < 2:
            raise ValueError("a boolean operation needs at least two operands")


@dataclass(frozen=True)
class Not:
    """``not operand``."""

    operand: ConditionNode


ConditionNode: TypeAlias = Comparison | BoolOp | Not


def _iter_metrics(node: ConditionNode) -> Iterator[str]:
    if isinstance(node, Comparison):
        for side in (node.left, node.right):
            if isinstance(side, Metric):
                yield side.name
    elif isinstance(node, BoolOp):
        for child in node.operands:
            yield from _iter_metrics(child)
    else:
        yield from _iter_metrics(node.operand)


def _operand_value(operand: Operand, values: Mapping[str, float]) -> float:
    return values[operand.name] if isinstance(operand, Metric) else operand.value


def _evaluate(node: ConditionNode, values: Mapping[str, float]) -> bool:
    if isinstance(node, Comparison):
        return compare(node.op, _operand_value(node.left, values), _operand_value(node.right, values))
    if isinstance(node, BoolOp):
        if node.op == "and":
            return all(_evaluate(child, values) for child in node.operands)
        return any(_evaluate(child, values) for child in node.operands)
    return not _evaluate(node.operand, values)


def _format_number(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _render(
    node: ConditionNode,
    fn: Callable[[str], str],
    *,
    text: str,
    promql: bool = False,
    bool_suffix: str = "",
) -> str:
    if isinstance(node, Comparison):

        def side(operand: Operand) -> str:
            return fn(operand.name) if isinstance(operand, Metric) else _format_number(operand.value)

        return f"{side(node.left)} {node.op} {side(node.right)}"
    if isinstance(node, BoolOp):
        parts = []
        for child in node.operands:
            rendered = _render(child, fn, text=text, promql=promql, bool_suffix=bool_suffix)
            parts.append(f"({rendered})" if isinstance(child, BoolOp) else rendered)
        return f" {node.op}{bool_suffix} ".join(parts)
    if promql:
        from .expressions import ExpressionError

        raise ExpressionError(
            f"'not' cannot be expressed in PromQL in {_quote(text)}; "
            "invert the comparison instead (e.g. 'not {{m}} < 1' is '{{m}} >= 1')",
            text,
        )
    rendered = _render(node.operand, fn, text=text)
    return f"not ({rendered})" if isinstance(node.operand, BoolOp) else f"not {rendered}"


def _as_placeholder(name: str) -> str:
    return "{{" + name + "}}"
