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
    :class:`Metric`, :class:`Number`, in :mod:`.condition_tree`); nothing is ever passed to ``eval``.
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

Both are bounded before any parser sees them (:mod:`.condition_bounds`): at most ``MAX_CONDITION_CHARS``
characters and ``MAX_NESTING`` levels of brackets or ``not``. The tokenizer and parser of metric
conditions live in :mod:`.condition_parser`.

Every syntax problem raises :class:`ExpressionError`, which carries the
expression and the 0-based offset of the problem; its message quotes the
expression and names the 1-based column, e.g.::

    expected a comparison operator (<, <=, >, >=, ==, !=) at column 7 in "{{m}} 0.9" (found '0.9')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..contract import metric_name
from .condition_tree import (
    COMPARISON_OPERATORS,
    BoolOp,
    Comparison,
    ConditionNode,
    Metric,
    Not,
    Number,
    Operand,
    _as_placeholder,
    _evaluate,
    _iter_metrics,
    _render,
    compare,
)

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

    from .condition_bounds import check_bounds

    check_bounds(query, "PromQL query")  # the parser gets nothing it could overflow its stack with

    try:
        promql_parser.parse(query)
    except ValueError as exc:
        raise ExpressionError(
            f"invalid PromQL query {_quote(query)} (rendered from {_quote(text)}): {exc}", text
        ) from exc


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


def parse_metric_condition(text: str) -> MetricCondition:
    """Parse a metric condition, raising :class:`ExpressionError` on any syntax problem.

    >>> cond = parse_metric_condition("{{mnist_train_accuracy}} > 0.95 and {{loss}} <= 0.3")
    >>> cond.metrics(), cond.evaluate({"mnist_train_accuracy": 0.97, "loss": 0.4})
    (['mnist_train_accuracy', 'loss'], False)
    """
    from .condition_parser import parse_tree

    return MetricCondition(text, parse_tree(text)[0])


# alert conditions live in their own module (they build on the names above); re-exported lazily, so that
# importing either module first works
if TYPE_CHECKING:
    from .alert_conditions import AlertCondition, parse_alert_condition


def __getattr__(name: str) -> Any:
    if name in ("AlertCondition", "parse_alert_condition"):
        from . import alert_conditions

        return getattr(alert_conditions, name)
    if name in ("_parse", "_tokenize", "_Parser", "_Token"):  # moved to condition_parser
        from . import condition_parser

        return getattr(condition_parser, {"_parse": "parse_tree"}.get(name, name))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
