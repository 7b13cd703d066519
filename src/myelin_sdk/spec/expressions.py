"""Metric and alert expressions used inside Axon specs.

Axons refer to metrics through ``{{name}}`` placeholders.  A placeholder names a
metric published by a task of the Axon; when compiled it resolves to the
*published* metric name ``<name>_<axon>`` in which every ``-`` is replaced by
``__`` (the rule of the original Myelin client)::

    {{recommender_deploy_accuracy}}  (axon "ml-rec")  ->  recommender_deploy_accuracy_ml__rec

Placeholder names match ``[A-Za-z_][A-Za-z0-9_]*``; whitespace inside the braces is
allowed (``{{ loss }}``).  Argo templates such as ``{{workflow.parameters.x}}`` or
``{{inputs.parameters.y}}`` contain a dot and are therefore *not* placeholders.

Two expression languages use placeholders:

Metric conditions
    Gates of sensors, evaluated against the latest value of each metric::

        {{recommender_train_rmse}} < 0.95
        {{mnist_train_accuracy}} > 0.95 and {{loss}} <= 0.3
        not ({{a}} < 1 || 0.5 >= {{b}})

    Grammar (keywords are case-insensitive, ``&&``/``||`` are accepted for
    ``and``/``or``; ``and`` binds tighter than ``or``)::

        expr       := and_expr ('or' and_expr)*
        and_expr   := atom ('and' atom)*
        atom       := '(' expr ')' | 'not' atom | comparison
        comparison := operand ('<' | '<=' | '>' | '>=' | '==' | '!=') operand
        operand    := '{{' name '}}' | number          # e.g. 3, -0.5, .5, 1e-3, 2.5E+4

    At least one side of every comparison must be a placeholder.  The text is
    parsed by a hand-written tokenizer and recursive-descent parser into an
    immutable tree (:class:`Comparison`, :class:`BoolOp`, :class:`Not`,
    :class:`Metric`, :class:`Number`); nothing is ever passed to ``eval``.
    A comparison involving NaN is false (for every operator, ``!=`` included).

Alert conditions
    Arbitrary PromQL in which placeholders stand for metric names::

        {{recommender_deploy_accuracy}} < 0.90
        avg_over_time({{image_classifer_accuracy}}{job='image-classifier'}[5m]) < 0.20

    They are validated by rendering them with published names and parsing the
    result with ``promql_parser``.  When an alert condition is also a simple
    metric condition (only ``{{m}} op number`` comparisons joined by ``and``/``or``)
    :attr:`AlertCondition.simple` holds it, so that an embedded metric store can
    evaluate the alert without a Prometheus server.

Every syntax problem raises :class:`ExpressionError`, which carries the
expression and the 0-based offset of the problem; its message quotes the
expression and names the 1-based column, e.g.::

    expected a comparison operator (<, <=, >, >=, ==, !=) at column 7 in "{{m}} 0.9" (found '0.9')
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from ..contract import metric_name

__all__ = [
    "COMPARISON_OPERATORS",
    "PLACEHOLDER_RE",
    "AlertCondition",
    "BoolOp",
    "Comparison",
    "ConditionNode",
    "ExpressionError",
    "Metric",
    "MetricCondition",
    "MissingMetricError",
    "Not",
    "Number",
    "Operand",
    "compare",
    "contains_placeholder",
    "parse_alert_condition",
    "parse_metric_condition",
    "placeholders",
    "published_metric_name",
    "substitute_placeholders",
]

# --------------------------------------------------------------------------- errors


def _quote(text: str) -> str:
    return f'"{text}"'


class ExpressionError(ValueError):
    """A metric or alert expression is malformed.

    ``expression`` is the offending text and ``position`` the 0-based offset of
    the problem in it (``None`` when it cannot be pinned down, e.g. for errors
    reported by the PromQL parser).  The message shows the 1-based column.
    """

    expression: str
    position: int | None

    def __init__(self, message: str, expression: str, position: int | None = None) -> None:
        super().__init__(message)
        self.expression = expression
        self.position = position

    def __reduce__(self) -> tuple[type[ExpressionError], tuple[str, str, int | None]]:
        return (type(self), (str(self), self.expression, self.position))

    @classmethod
    def expected(
        cls, what: str, expression: str, position: int, found: str | None = None, note: str | None = None
    ) -> ExpressionError:
        """Build ``expected <what> at column <n> in "<expression>" (found <found>; <note>)``."""
        where = f"column {position + 1}"
        if position >= len(expression):
            where += " (end of input)"
        message = f"expected {what} at {where} in {_quote(expression)}"
        extra = "; ".join(part for part in (found and f"found {found}", note) if part)
        if extra:
            message += f" ({extra})"
        return cls(message, expression, position)


class MissingMetricError(KeyError):
    """:meth:`MetricCondition.evaluate` was not given a value for a metric."""

    name: str

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"no value for metric {self.name!r} (referenced as {{{{{self.name}}}}} in the condition)"


# ------------------------------------------------------------------ placeholders

#: A ``{{name}}`` placeholder; group ``name`` holds the metric name.
PLACEHOLDER_RE: re.Pattern[str] = re.compile(r"\{\{\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PROMETHEUS_NAME_RE = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_ANY_BRACES_RE = re.compile(r"\{\{.*?\}\}")


def published_metric_name(metric: str, axon: str) -> str:
    """Return the name under which ``metric`` of Axon ``axon`` is published (:func:`contract.metric_name`).

    >>> published_metric_name("recommender_deploy_accuracy", "ml-rec")
    'recommender_deploy_accuracy_ml__rec'
    """
    return metric_name(metric, axon)


def placeholders(text: str) -> list[str]:
    """Return the placeholder names in ``text``, unique, in order of first appearance.

    >>> placeholders("{{a}} < 1 and {{ b }} > {{a}} and {{workflow.parameters.x}} == 1")
    ['a', 'b']
    """
    return list(dict.fromkeys(m.group("name") for m in PLACEHOLDER_RE.finditer(text)))


def contains_placeholder(text: str) -> bool:
    """Tell whether ``text`` contains at least one Axon placeholder.

    >>> contains_placeholder("{{loss}} < 0.3"), contains_placeholder("{{workflow.name}}")
    (True, False)
    """
    return PLACEHOLDER_RE.search(text) is not None


def substitute_placeholders(text: str, fn: Callable[[str], str]) -> str:
    """Replace every placeholder of ``text`` by ``fn(name)``; other text is kept.

    >>> substitute_placeholders("rate({{m}}[5m]) > {{ n }}", str.upper)
    'rate(M[5m]) > N'
    """
    return PLACEHOLDER_RE.sub(lambda m: fn(m.group("name")), text)


def _published_names(text: str, metrics: list[str], axon: str) -> dict[str, str]:
    names = {m: published_metric_name(m, axon) for m in metrics}
    for metric, name in names.items():
        if not _PROMETHEUS_NAME_RE.fullmatch(name):
            raise ExpressionError(
                f"metric {metric!r} of axon {axon!r} would be published as {name!r}, "
                f"which is not a valid Prometheus metric name, in {_quote(text)}",
                text,
            )
    return names


def _validate_promql(query: str, text: str) -> None:
    import promql_parser  # compiled extension: imported lazily to keep this module cheap

    try:
        promql_parser.parse(query)
    except ValueError as exc:
        raise ExpressionError(
            f"invalid PromQL query {_quote(query)} (rendered from {_quote(text)}): {exc}", text
        ) from exc


# ---------------------------------------------------------------------- the tree

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
        raise ExpressionError(
            f"'not' cannot be expressed in PromQL in {_quote(text)}; "
            "invert the comparison instead (e.g. 'not {{m}} < 1' is '{{m}} >= 1')",
            text,
        )
    rendered = _render(node.operand, fn, text=text)
    return f"not ({rendered})" if isinstance(node.operand, BoolOp) else f"not {rendered}"


def _as_placeholder(name: str) -> str:
    return "{{" + name + "}}"


# -------------------------------------------------------------- metric conditions


@dataclass(frozen=True)
class MetricCondition:
    """A parsed metric condition; build it with :func:`parse_metric_condition`."""

    text: str
    tree: ConditionNode
    #: The Pushgateway job (``TASK_ID``) whose series the condition reads; ``None``: every job's.
    job: str | None = None

    def metrics(self) -> list[str]:
        """The metric names referenced, unique, in order of first appearance.

        >>> parse_metric_condition("{{b}} > 1 or {{a}} < 2 and {{b}} < 3").metrics()
        ['b', 'a']
        """
        return list(dict.fromkeys(_iter_metrics(self.tree)))

    def evaluate(self, values: Mapping[str, float]) -> bool:
        """Evaluate the condition with ``values`` (metric name -> latest value).

        Every referenced metric must have a value, otherwise
        :class:`MissingMetricError` is raised (even if short-circuiting would
        not need it).  Comparisons involving NaN are false.

        >>> parse_metric_condition("{{loss}} <= 0.3 and {{acc}} > 0.95").evaluate({"loss": 0.2, "acc": 0.99})
        True
        """
        for name in self.metrics():
            if name not in values:
                raise MissingMetricError(name)
        return _evaluate(self.tree, values)

    def render(self, fn: Callable[[str], str] | None = None) -> str:
        """Return canonical text for the condition, writing each metric as ``fn(name)``.

        Without ``fn`` metrics are written as ``{{name}}`` placeholders, which
        :func:`parse_metric_condition` parses back into the same tree.  Keywords
        are lower-case, nested boolean operations are parenthesised and numbers
        are printed in their shortest exact form.

        >>> cond = parse_metric_condition("{{recommender_train_rmse}}<0.950 AND ({{a}}<1 || {{b}}>2)")
        >>> cond.render(lambda m: published_metric_name(m, "ml-rec"))
        'recommender_train_rmse_ml__rec < 0.95 and (a_ml__rec < 1 or b_ml__rec > 2)'
        >>> cond.render()
        '{{recommender_train_rmse}} < 0.95 and ({{a}} < 1 or {{b}} > 2)'
        """
        return _render(self.tree, fn or _as_placeholder, text=self.text)

    def to_promql(self, axon: str, *, ignore_labels: bool = False, job: str | None = None) -> str:
        """Render an equivalent PromQL filter expression using published names.

        ``and``/``or`` become PromQL's ``and``/``or``.  These are set operations
        that match series by labels; with ``ignore_labels=True`` they are written
        ``and on()``/``or on()`` so that series of different jobs combine like
        booleans.  ``not`` has no PromQL counterpart and raises
        :class:`ExpressionError`, as does an axon name giving invalid metric names.

        >>> parse_metric_condition("{{recommender_train_rmse}} < 0.95").to_promql("ml-rec")
        'recommender_train_rmse_ml__rec < 0.95'
        >>> parse_metric_condition("{{a}} < 1 and {{b}} > 2").to_promql("x", ignore_labels=True)
        'a_x < 1 and on() b_x > 2'

        ``job`` scopes every metric to the series one task pushed (its Pushgateway job, ``TASK_ID``):

        >>> parse_metric_condition("{{acc}} > 0.9").to_promql("x", job="x-train")
        'acc_x{job="x-train"} > 0.9'
        """
        names = _published_names(self.text, self.metrics(), axon)
        job = job if job is not None else self.job
        if job is not None:
            if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", job):
                raise ExpressionError(f"invalid job name {job!r} for {_quote(self.text)}", self.text)
            names = {metric: f'{name}{{job="{job}"}}' for metric, name in names.items()}
        query = _render(
            self.tree,
            names.__getitem__,
            text=self.text,
            promql=True,
            bool_suffix=" on()" if ignore_labels else "",
        )
        _validate_promql(query, self.text)
        return query


# tokenizer -------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""
      (?P<ws>\s+)
    | (?P<placeholder>\{\{\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*\}\})
    | (?P<bad_placeholder>\{\{[^{}\n]*\}\})
    | (?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(?![A-Za-z0-9_.])
    | (?P<op><=|>=|==|!=|<|>)
    | (?P<and>&&)
    | (?P<or>\|\|)
    | (?P<lparen>\()
    | (?P<rparen>\))
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"and": "and", "or": "or", "not": "not"}

_TokenKind = Literal["metric", "number", "op", "and", "or", "not", "lparen", "rparen", "end"]


@dataclass(frozen=True)
class _Token:
    kind: _TokenKind
    text: str
    pos: int


def _describe(token: _Token) -> str | None:
    if token.kind == "end":
        return None
    if token.kind == "rparen":
        return "unmatched ')'"
    return repr(token.text)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            found = text[pos:].split(None, 1)[0][:20]
            if text.startswith("{{", pos):
                raise ExpressionError.expected("a closing '}}' for the placeholder", text, pos, repr(found))
            if text[pos] == "=" and not text.startswith("==", pos):
                raise ExpressionError.expected(
                    "a comparison operator (<, <=, >, >=, ==, !=); use '==' for equality",
                    text,
                    pos,
                    repr(found),
                )
            raise ExpressionError.expected(
                "a metric placeholder such as {{name}}, a number, a comparison operator, "
                "'and', 'or', 'not' or a parenthesis",
                text,
                pos,
                repr(found),
            )
        kind = match.lastgroup
        lexeme = match.group()
        if kind == "placeholder":
            tokens.append(_Token("metric", match.group("name"), pos))
        elif kind == "bad_placeholder":
            raise ExpressionError.expected(
                "a metric name matching [A-Za-z_][A-Za-z0-9_]* inside '{{...}}' "
                "(Argo expressions such as {{workflow.parameters.x}} are not metrics)",
                text,
                pos,
                repr(lexeme),
            )
        elif kind == "word":
            keyword = _KEYWORDS.get(lexeme.lower())
            if keyword == "and":
                tokens.append(_Token("and", lexeme, pos))
            elif keyword == "or":
                tokens.append(_Token("or", lexeme, pos))
            elif keyword == "not":
                tokens.append(_Token("not", lexeme, pos))
            else:
                raise ExpressionError.expected(
                    f"a metric placeholder such as {{{{{lexeme}}}}}, a number or a keyword",
                    text,
                    pos,
                    repr(lexeme),
                )
        elif kind in ("number", "op", "and", "or", "lparen", "rparen"):
            tokens.append(_Token(kind, lexeme, pos))  # type: ignore[arg-type]
        pos = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


# parser ----------------------------------------------------------------------------

_OPERATORS_TEXT = "a comparison operator (<, <=, >, >=, ==, !=)"


class _Parser:
    def __init__(self, text: str, tokens: list[_Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.index = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def error(self, what: str, note: str | None = None) -> ExpressionError:
        token = self.peek()
        return ExpressionError.expected(what, self.text, token.pos, _describe(token), note)

    def parse(self) -> ConditionNode:
        if self.peek().kind == "end":
            raise ExpressionError.expected(
                "a comparison such as '{{metric}} < 0.9'", self.text, 0, note="the condition is empty"
            )
        node = self.expr()
        if self.peek().kind != "end":
            raise self.error("'and', 'or' or the end of the condition")
        return node

    def expr(self) -> ConditionNode:
        operands = [self.and_expr()]
        while self.peek().kind == "or":
            self.advance()
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else BoolOp("or", tuple(operands))

    def and_expr(self) -> ConditionNode:
        operands = [self.atom()]
        while self.peek().kind == "and":
            self.advance()
            operands.append(self.atom())
        return operands[0] if len(operands) == 1 else BoolOp("and", tuple(operands))

    def atom(self) -> ConditionNode:
        token = self.peek()
        if token.kind == "lparen":
            self.advance()
            node = self.expr()
            if self.peek().kind != "rparen":
                raise self.error("'and', 'or' or ')'", f"to close the '(' at column {token.pos + 1}")
            self.advance()
            return node
        if token.kind == "not":
            self.advance()
            return Not(self.atom())
        return self.comparison()

    def operand(self, what: str) -> Operand:
        token = self.peek()
        if token.kind == "metric":
            self.advance()
            return Metric(token.text)
        if token.kind == "number":
            self.advance()
            value = float(token.text)
            if not math.isfinite(value):
                raise ExpressionError.expected("a number within the range of a float", self.text, token.pos)
            return Number(value)
        raise self.error(what)

    def comparison(self) -> Comparison:
        start = self.peek()
        left = self.operand("a metric placeholder such as {{name}}, a number, '(' or 'not'")
        if self.peek().kind != "op":
            raise self.error(_OPERATORS_TEXT)
        op = self.advance().text
        right = self.operand("a metric placeholder such as {{name}} or a number")
        if isinstance(left, Number) and isinstance(right, Number):
            last = self.tokens[self.index - 1]
            raise ExpressionError.expected(
                "a metric placeholder such as {{name}} on at least one side of the comparison",
                self.text,
                start.pos,
                repr(self.text[start.pos : last.pos + len(last.text)]),
            )
        return Comparison(left, op, right)


def _parse(text: str) -> tuple[ConditionNode, list[_Token]]:
    tokens = _tokenize(text)
    return _Parser(text, tokens).parse(), tokens


def parse_metric_condition(text: str) -> MetricCondition:
    """Parse a metric condition, raising :class:`ExpressionError` on any syntax problem.

    >>> cond = parse_metric_condition("{{mnist_train_accuracy}} > 0.95 and {{loss}} <= 0.3")
    >>> cond.metrics(), cond.evaluate({"mnist_train_accuracy": 0.97, "loss": 0.4})
    (['mnist_train_accuracy', 'loss'], False)
    """
    tree, _ = _parse(text)
    return MetricCondition(text, tree)


# alert conditions live in their own module (they build on the names above); re-exported lazily, so that
# importing either module first works
if TYPE_CHECKING:
    from .alert_conditions import AlertCondition, parse_alert_condition


def __getattr__(name: str) -> Any:
    if name in ("AlertCondition", "parse_alert_condition"):
        from . import alert_conditions

        return getattr(alert_conditions, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
