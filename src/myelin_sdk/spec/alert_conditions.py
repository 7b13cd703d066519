"""Alert conditions: PromQL with ``{{name}}`` placeholders (an Alert trigger's ``condition``).

Split from :mod:`.expressions` (which re-exports both names); the metric-condition grammar stays there.

>>> alert = parse_alert_condition("{{recommender_deploy_accuracy}} < 0.90")
>>> alert.to_promql("ml-rec"), alert.simple is not None
('recommender_deploy_accuracy_ml__rec < 0.90', True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .condition_bounds import check_bounds
from .expressions import (
    _ANY_BRACES_RE,
    PLACEHOLDER_RE,
    BoolOp,
    Comparison,
    ConditionNode,
    ExpressionError,
    MetricCondition,
    Number,
    _published_names,
    _validate_promql,
    placeholders,
    substitute_placeholders,
)

__all__ = ["AlertCondition", "parse_alert_condition"]


def _only_metric_vs_number(node: ConditionNode) -> bool:
    if isinstance(node, Comparison):
        return isinstance(node.left, Number) or isinstance(node.right, Number)
    if isinstance(node, BoolOp):
        return all(_only_metric_vs_number(child) for child in node.operands)
    return False  # 'not' is not PromQL


def _simple_form(text: str) -> MetricCondition | None:
    from .condition_parser import parse_tree

    try:
        tree, tokens = parse_tree(text)
    except ExpressionError:
        return None
    if any(token.text in ("&&", "||") for token in tokens) or not _only_metric_vs_number(tree):
        return None
    return MetricCondition(text, tree)


@dataclass(frozen=True)
class AlertCondition:
    """A PromQL alert condition with ``{{name}}`` placeholders.

    Build it with :func:`parse_alert_condition`, which also validates it.
    ``simple`` is the equivalent :class:`MetricCondition` when the whole text
    is a simple ``{{m}} op number`` comparison or an ``and``/``or`` of such
    comparisons, and ``None`` otherwise.
    """

    text: str
    simple: MetricCondition | None = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "simple", _simple_form(self.text))

    def metrics(self) -> list[str]:
        """The placeholder names, unique, in order of first appearance.

        >>> AlertCondition("rate({{a}}[5m]) > {{b}} or {{a}} > 1").metrics()
        ['a', 'b']
        """
        return placeholders(self.text)

    def to_promql(self, axon: str) -> str:
        """Return the PromQL query with placeholders replaced by published names.

        The text is otherwise kept as written; it is validated with
        ``promql_parser`` and :class:`ExpressionError` names the rendered query
        when it is not valid PromQL.

        >>> AlertCondition("{{recommender_deploy_accuracy}} < 0.90").to_promql("ml-rec")
        'recommender_deploy_accuracy_ml__rec < 0.90'
        """
        leftover = _ANY_BRACES_RE.search(PLACEHOLDER_RE.sub(lambda m: " " * len(m.group()), self.text))
        if leftover is not None:
            raise ExpressionError.expected(
                "a metric placeholder {{name}} with a name matching [A-Za-z_][A-Za-z0-9_]*",
                self.text,
                leftover.start(),
                repr(leftover.group()),
            )
        names = _published_names(self.text, self.metrics(), axon)
        query = substitute_placeholders(self.text, names.__getitem__)
        _validate_promql(query, self.text)
        return query


def parse_alert_condition(text: str) -> AlertCondition:
    """Parse and validate an alert condition (PromQL with ``{{name}}`` placeholders).

    Validation renders the query for a dummy axon named ``axon``; plain PromQL
    without placeholders is accepted, an empty text is not.

    >>> alert = parse_alert_condition("avg_over_time({{acc}}{job='ic'}[5m]) < 0.20")
    >>> alert.to_promql("ml-rec"), alert.simple
    ("avg_over_time(acc_ml__rec{job='ic'}[5m]) < 0.20", None)
    """
    if not text.strip():
        raise ExpressionError.expected("a PromQL expression", text, 0, note="the alert condition is empty")
    check_bounds(text, "alert condition")
    condition = AlertCondition(text)
    condition.to_promql("axon")
    return condition
