"""Tests for myelin_sdk.spec.expressions: placeholders, metric conditions and alert conditions."""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable, Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from myelin_sdk.spec.expressions import (
    COMPARISON_OPERATORS,
    PLACEHOLDER_RE,
    AlertCondition,
    BoolOp,
    Comparison,
    ConditionNode,
    ExpressionError,
    Metric,
    MetricCondition,
    MissingMetricError,
    Not,
    Number,
    contains_placeholder,
    parse_alert_condition,
    parse_metric_condition,
    placeholders,
    published_metric_name,
    substitute_placeholders,
)

# ------------------------------------------------------------------ names


@pytest.mark.parametrize(
    ("metric", "axon", "expected"),
    [
        ("recommender_deploy_accuracy", "ml-rec", "recommender_deploy_accuracy_ml__rec"),
        ("recommender_train_rmse", "ml-rec", "recommender_train_rmse_ml__rec"),
        ("accuracy", "axon", "accuracy_axon"),
        ("acc", "a-b-c", "acc_a__b__c"),
        ("acc", "a--b", "acc_a____b"),
    ],
)
def test_published_metric_name(metric: str, axon: str, expected: str) -> None:
    assert published_metric_name(metric, axon) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{a}} < 1", ["a"]),
        ("{{ a }} < 1 and {{b}} > {{a}}", ["a", "b"]),
        ("{{b}} {{a}} {{b}} {{c}}", ["b", "a", "c"]),
        ("{{_x1}}", ["_x1"]),
        ("{{workflow.parameters.x}} > 1", []),
        ("{{inputs.parameters.model}} and {{steps.train.outputs.result}}", []),
        ("{{1abc}} {{a-b}} {{}} {a} {{a}", []),
        (
            "avg_over_time({{image_classifer_accuracy}}{job='image-classifier'}[5m]) < 0.20",
            ["image_classifer_accuracy"],
        ),
        ("no placeholders at all", []),
    ],
)
def test_placeholders(text: str, expected: list[str]) -> None:
    assert placeholders(text) == expected
    assert contains_placeholder(text) is bool(expected)


def test_placeholder_re_group_and_argo_templates() -> None:
    match = PLACEHOLDER_RE.search("x {{  loss  }} y")
    assert match is not None
    assert match.group("name") == "loss"
    assert PLACEHOLDER_RE.search("{{workflow.parameters.x}}") is None
    assert not contains_placeholder("echo {{workflow.parameters.x}} {{inputs.artifacts.data}}")


def test_substitute_placeholders_keeps_argo_templates() -> None:
    text = "{{m}} < {{workflow.parameters.x}} and {{ n }}"
    assert substitute_placeholders(text, str.upper) == "M < {{workflow.parameters.x}} and N"


# ------------------------------------------------------- metric conditions: parse


def cmp(left: str | float, op: str, right: str | float) -> Comparison:
    def operand(x: str | float) -> Metric | Number:
        return Metric(x) if isinstance(x, str) else Number(float(x))

    return Comparison(operand(left), op, operand(right))


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("{{recommender_train_rmse}} < 0.95", cmp("recommender_train_rmse", "<", 0.95)),
        ("{{m}}<=1", cmp("m", "<=", 1)),
        ("{{m}} > 1", cmp("m", ">", 1)),
        ("{{m}} >= 1", cmp("m", ">=", 1)),
        ("{{m}} == 1", cmp("m", "==", 1)),
        ("{{m}} != 1", cmp("m", "!=", 1)),
        ("0.9 > {{m}}", cmp(0.9, ">", "m")),
        ("{{a}} < {{b}}", cmp("a", "<", "b")),
        ("{{ m }} < 1e-3", cmp("m", "<", 0.001)),
        ("{{m}} > -0.5", cmp("m", ">", -0.5)),
        ("{{m}} > +2.5E+4", cmp("m", ">", 25000)),
        ("{{m}} > .5", cmp("m", ">", 0.5)),
        ("{{m}} > 5.", cmp("m", ">", 5)),
        ("{{m}} > 10", cmp("m", ">", 10)),
        ("{{m}}<-1", cmp("m", "<", -1)),
        (
            "{{mnist_train_accuracy}} > 0.95 and {{loss}} <= 0.3",
            BoolOp("and", (cmp("mnist_train_accuracy", ">", 0.95), cmp("loss", "<=", 0.3))),
        ),
        (
            "{{a}} < 1 or {{b}} < 2 and {{c}} < 3",
            BoolOp("or", (cmp("a", "<", 1), BoolOp("and", (cmp("b", "<", 2), cmp("c", "<", 3))))),
        ),
        (
            "{{a}} < 1 and {{b}} < 2 or {{c}} < 3",
            BoolOp("or", (BoolOp("and", (cmp("a", "<", 1), cmp("b", "<", 2))), cmp("c", "<", 3))),
        ),
        (
            "({{a}} < 1 or {{b}} < 2) and {{c}} < 3",
            BoolOp("and", (BoolOp("or", (cmp("a", "<", 1), cmp("b", "<", 2))), cmp("c", "<", 3))),
        ),
        (
            "{{a}} < 1 and {{b}} < 2 and {{c}} < 3",
            BoolOp("and", (cmp("a", "<", 1), cmp("b", "<", 2), cmp("c", "<", 3))),
        ),
        (
            "{{a}} < 1 AND {{b}} < 2 Or {{c}} < 3",
            BoolOp("or", (BoolOp("and", (cmp("a", "<", 1), cmp("b", "<", 2))), cmp("c", "<", 3))),
        ),
        (
            "{{a}} < 1 && {{b}} < 2 || {{c}} < 3",
            BoolOp("or", (BoolOp("and", (cmp("a", "<", 1), cmp("b", "<", 2))), cmp("c", "<", 3))),
        ),
        ("not {{a}} < 1", Not(cmp("a", "<", 1))),
        ("NOT NOT {{a}} < 1", Not(Not(cmp("a", "<", 1)))),
        (
            "not ({{a}} < 1 or {{b}} > 2) and {{c}} == 0",
            BoolOp("and", (Not(BoolOp("or", (cmp("a", "<", 1), cmp("b", ">", 2)))), cmp("c", "==", 0))),
        ),
        ("((({{a}} < 1)))", cmp("a", "<", 1)),
        ("  {{a}}\t<\n1  ", cmp("a", "<", 1)),
    ],
)
def test_parse_metric_condition_tree(text: str, tree: ConditionNode) -> None:
    condition = parse_metric_condition(text)
    assert condition.text == text
    assert condition.tree == tree


def test_condition_tree_is_immutable() -> None:
    condition = parse_metric_condition("{{a}} < 1 and {{b}} > 2")
    with pytest.raises(AttributeError):
        condition.tree = cmp("a", "<", 2)  # type: ignore[misc]
    assert isinstance(condition.tree, BoolOp)
    assert isinstance(condition.tree.operands, tuple)
    with pytest.raises(AttributeError):
        condition.tree.op = "or"  # type: ignore[misc]
    assert hash(condition) == hash(parse_metric_condition("{{a}} < 1 and {{b}} > 2"))


def test_metrics_unique_in_order() -> None:
    condition = parse_metric_condition("{{b}} > 1 or 2 < {{a}} and {{b}} < {{c}} or not {{a}} == 0")
    assert condition.metrics() == ["b", "a", "c"]


# -------------------------------------------------------- metric conditions: errors


@pytest.mark.parametrize(
    ("text", "position", "fragments"),
    [
        ("", 0, ["expected a comparison", "column 1", "empty"]),
        ("   ", 0, ["expected a comparison", "column 1", "empty"]),
        ("{{m}} 0.9", 6, ["expected a comparison operator (<, <=, >, >=, ==, !=)", "column 7", "'0.9'"]),
        ("0.5 < 0.9", 0, ["expected a metric placeholder", "at least one side", "column 1"]),
        ("1 < 2 and {{a}} < 1", 0, ["at least one side", "column 1"]),
        ("{{a}} < 1 and (2 >= 3)", 15, ["at least one side", "column 16"]),
        ("({{a}} < 1", 10, ["expected 'and', 'or' or ')'", "column 11", "end of input", "'(' at column 1"]),
        ("(({{a}} < 1)", 12, ["')'", "column 13", "'(' at column 1"]),
        ("{{a}} < 1)", 9, ["expected 'and', 'or' or the end", "column 10", "unmatched ')'"]),
        ("()", 1, ["expected a metric placeholder", "column 2", "unmatched ')'"]),
        ("{{a}} < 1 foo", 10, ["{{foo}}", "column 11", "'foo'"]),
        ("loss < 0.3", 0, ["{{loss}}", "column 1"]),
        ("{{a}} < 1 {{b}} > 2", 10, ["expected 'and', 'or' or the end", "column 11"]),
        ("{{a}} < 1 < 2", 10, ["expected 'and', 'or' or the end", "column 11", "'<'"]),
        (
            "{{a}} <",
            7,
            ["expected a metric placeholder such as {{name}} or a number", "column 8", "end of input"],
        ),
        ("{{a}}", 5, ["expected a comparison operator", "column 6", "end of input"]),
        ("{{a}} < 1 and", 13, ["expected a metric placeholder", "column 14", "end of input"]),
        ("{{a}} < 1 or or {{b}} < 1", 13, ["expected a metric placeholder", "column 14", "'or'"]),
        ("not", 3, ["expected a metric placeholder", "column 4"]),
        ("{{a}} = 1", 6, ["comparison operator", "'=='", "column 7"]),
        ("{{a}} <> 1", 7, ["expected a metric placeholder such as {{name}} or a number", "column 8", "'>'"]),
        ("{{a}} < 1 & {{b}} > 1", 10, ["column 11", "'&'"]),
        ("{{a.b}} < 1", 0, ["metric name matching", "column 1", "'{{a.b}}'"]),
        ("{{workflow.parameters.x}} > 1", 0, ["metric name matching", "column 1", "Argo"]),
        ("{{a}} > {{ inputs.parameters.t }}", 8, ["metric name matching", "column 9"]),
        ("{{a}} > {{1x}}", 8, ["metric name matching", "column 9"]),
        ("{{m < 1", 0, ["closing '}}'", "column 1"]),
        ("{{a}} < 0.9abc", 8, ["column 9", "'0.9abc'"]),
        ("{{a}} < 1e", 8, ["column 9", "'1e'"]),
        ("{{a}} < 1e400", 8, ["range of a float", "column 9"]),
        ("{{a}} < - 1", 8, ["column 9", "'-'"]),
        ("{{a}} < 1 and $", 14, ["column 15", "'$'"]),
    ],
)
def test_parse_metric_condition_errors(text: str, position: int, fragments: list[str]) -> None:
    with pytest.raises(ExpressionError) as info:
        parse_metric_condition(text)
    error = info.value
    assert isinstance(error, ValueError)
    assert error.expression == text
    assert error.position == position
    message = str(error)
    assert message.startswith("expected ")
    assert f'in "{text}"' in message
    for fragment in fragments:
        assert fragment in message


def test_error_message_format_example() -> None:
    with pytest.raises(ExpressionError) as info:
        parse_metric_condition("{{m}} 0.9")
    assert str(info.value) == (
        "expected a comparison operator (<, <=, >, >=, ==, !=) at column 7 in \"{{m}} 0.9\" (found '0.9')"
    )


def test_expression_error_pickles() -> None:
    with pytest.raises(ExpressionError) as info:
        parse_metric_condition("{{m}} 0.9")
    copy = pickle.loads(pickle.dumps(info.value))
    assert (str(copy), copy.expression, copy.position) == (str(info.value), "{{m}} 0.9", 6)


# ------------------------------------------------------ metric conditions: evaluate


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("{{m}} < 0.95", {"m": 0.9}, True),
        ("{{m}} < 0.95", {"m": 0.95}, False),
        ("{{m}} <= 0.95", {"m": 0.95}, True),
        ("{{m}} > 0.95", {"m": 0.95}, False),
        ("{{m}} >= 0.95", {"m": 0.95}, True),
        ("{{m}} == 3", {"m": 3}, True),
        ("{{m}} == 3", {"m": 3.5}, False),
        ("{{m}} != 3", {"m": 3.5}, True),
        ("{{m}} != 3", {"m": 3.0}, False),
        ("0.9 > {{m}}", {"m": 0.5}, True),
        ("0.9 > {{m}}", {"m": 0.95}, False),
        ("{{a}} < {{b}}", {"a": 1, "b": 2}, True),
        ("{{a}} < {{b}}", {"a": 2, "b": 1}, False),
        ("{{m}} < 1e-3", {"m": 0.0005}, True),
        ("{{m}} < 1e-3", {"m": 0.002}, False),
        ("{{m}} > -0.5", {"m": -0.25}, True),
        ("{{m}} > -0.5", {"m": -0.75}, False),
        ("{{acc}} > 0.95 and {{loss}} <= 0.3", {"acc": 0.97, "loss": 0.3}, True),
        ("{{acc}} > 0.95 and {{loss}} <= 0.3", {"acc": 0.97, "loss": 0.31}, False),
        # precedence: a or (b and c)
        ("{{a}} > 0 or {{b}} > 0 and {{c}} > 0", {"a": 1, "b": 0, "c": 0}, True),
        ("({{a}} > 0 or {{b}} > 0) and {{c}} > 0", {"a": 1, "b": 0, "c": 0}, False),
        ("{{a}} > 0 and {{b}} > 0 or {{c}} > 0", {"a": 0, "b": 0, "c": 1}, True),
        ("{{a}} > 0 and ({{b}} > 0 or {{c}} > 0)", {"a": 0, "b": 0, "c": 1}, False),
        ("not {{a}} > 0", {"a": 0}, True),
        ("not {{a}} > 0 and {{b}} > 0", {"a": 1, "b": 1}, False),
        ("not ({{a}} > 0 and {{b}} > 0)", {"a": 1, "b": 0}, True),
        ("{{a}} > 0 || {{b}} > 0", {"a": 0, "b": 1}, True),
        ("{{a}} > 0 && {{b}} > 0", {"a": 0, "b": 1}, False),
        # NaN compares false for every operator
        ("{{m}} < 1", {"m": math.nan}, False),
        ("{{m}} >= 1", {"m": math.nan}, False),
        ("{{m}} == 1", {"m": math.nan}, False),
        ("{{m}} != 1", {"m": math.nan}, False),
        ("{{a}} != {{b}}", {"a": 1, "b": math.nan}, False),
        ("not {{m}} < 1", {"m": math.nan}, True),
        ("{{m}} < 1", {"m": -math.inf}, True),
        ("{{m}} > 1e300", {"m": math.inf}, True),
    ],
)
def test_evaluate(text: str, values: Mapping[str, float], expected: bool) -> None:
    assert parse_metric_condition(text).evaluate(values) is expected


def test_evaluate_missing_metric() -> None:
    condition = parse_metric_condition("{{a}} < 1 or {{b}} > 2")
    # reported even though short-circuiting would not need b
    with pytest.raises(MissingMetricError) as info:
        condition.evaluate({"a": 0})
    assert isinstance(info.value, KeyError)
    assert info.value.name == "b"
    assert "'b'" in str(info.value)
    assert "{{b}}" in str(info.value)
    with pytest.raises(KeyError):
        condition.evaluate({})


def test_evaluate_ignores_extra_values() -> None:
    assert parse_metric_condition("{{a}} < 1").evaluate({"a": 0, "other": 5})


# -------------------------------------------------- metric conditions: render/promql


def published(axon: str) -> Callable[[str], str]:
    return lambda name: published_metric_name(name, axon)


@pytest.mark.parametrize(
    ("text", "canonical", "promql"),
    [
        (
            "{{recommender_train_rmse}} < 0.95",
            "{{recommender_train_rmse}} < 0.95",
            "recommender_train_rmse_ml__rec < 0.95",
        ),
        ("{{m}}<0.950", "{{m}} < 0.95", "m_ml__rec < 0.95"),
        ("0.9 > {{ m }}", "0.9 > {{m}}", "0.9 > m_ml__rec"),
        ("{{m}} < 1e-3", "{{m}} < 0.001", "m_ml__rec < 0.001"),
        ("{{m}} < 1e-7", "{{m}} < 1e-07", "m_ml__rec < 1e-07"),
        ("{{m}} > -0.5", "{{m}} > -0.5", "m_ml__rec > -0.5"),
        ("{{m}} > 10.0", "{{m}} > 10", "m_ml__rec > 10"),
        ("{{m}} > 2E20", "{{m}} > 2e+20", "m_ml__rec > 2e+20"),
        ("{{a}} == {{b}}", "{{a}} == {{b}}", "a_ml__rec == b_ml__rec"),
        (
            "{{acc}} > 0.95 AND {{loss}} <= 0.3",
            "{{acc}} > 0.95 and {{loss}} <= 0.3",
            "acc_ml__rec > 0.95 and loss_ml__rec <= 0.3",
        ),
        (
            "{{a}} > 0 || {{b}} > 0 && {{c}} > 0",
            "{{a}} > 0 or ({{b}} > 0 and {{c}} > 0)",
            "a_ml__rec > 0 or (b_ml__rec > 0 and c_ml__rec > 0)",
        ),
        (
            "(({{a}} > 0 or {{b}} > 0)) and {{c}} != 1",
            "({{a}} > 0 or {{b}} > 0) and {{c}} != 1",
            "(a_ml__rec > 0 or b_ml__rec > 0) and c_ml__rec != 1",
        ),
    ],
)
def test_render_and_to_promql(text: str, canonical: str, promql: str) -> None:
    condition = parse_metric_condition(text)
    assert condition.render() == canonical
    assert condition.render(lambda name: "{{" + name + "}}") == canonical
    assert condition.render(published("ml-rec")) == promql
    assert condition.to_promql("ml-rec") == promql
    assert parse_metric_condition(canonical).tree == condition.tree


def test_render_with_published_names_example() -> None:
    condition = parse_metric_condition("{{recommender_train_rmse}} < 0.95")
    assert condition.render(published("ml-rec")) == "recommender_train_rmse_ml__rec < 0.95"


def test_render_not() -> None:
    condition = parse_metric_condition("NOT ({{a}} < 1 or {{b}} > 2) and not {{c}} == 0")
    assert condition.render() == "not ({{a}} < 1 or {{b}} > 2) and not {{c}} == 0"
    assert condition.render(str.upper) == "not (A < 1 or B > 2) and not C == 0"


def test_to_promql_ignore_labels() -> None:
    condition = parse_metric_condition("{{a}} < 1 and ({{b}} > 2 or {{c}} > 3)")
    assert condition.to_promql("x", ignore_labels=True) == "a_x < 1 and on() (b_x > 2 or on() c_x > 3)"


@pytest.mark.parametrize("text", ["not {{a}} < 1", "{{b}} > 1 and not ({{a}} < 1 or {{c}} > 2)"])
def test_to_promql_rejects_not(text: str) -> None:
    condition = parse_metric_condition(text)
    with pytest.raises(ExpressionError, match="'not' cannot be expressed in PromQL") as info:
        condition.to_promql("ml-rec")
    assert info.value.expression == text


def test_to_promql_rejects_invalid_published_name() -> None:
    with pytest.raises(ExpressionError, match="not a valid Prometheus metric name"):
        parse_metric_condition("{{a}} < 1").to_promql("ml.rec")


# --------------------------------------------------------------- alert conditions


@pytest.mark.parametrize(
    ("text", "axon", "promql"),
    [
        ("{{recommender_deploy_accuracy}} < 0.90", "ml-rec", "recommender_deploy_accuracy_ml__rec < 0.90"),
        (
            "avg_over_time({{image_classifer_accuracy}}{job='image-classifier'}[5m]) < 0.20",
            "ml-rec",
            "avg_over_time(image_classifer_accuracy_ml__rec{job='image-classifier'}[5m]) < 0.20",
        ),
        ("rate({{ requests }}[1m]) > 10", "a-b", "rate(requests_a__b[1m]) > 10"),
        ("{{a}} < 1 and {{b}} > 2", "ax", "a_ax < 1 and b_ax > 2"),
        ("up == 0", "ax", "up == 0"),
        ("sum by (job) ({{x}}) / count({{x}}) > 0.5", "ax", "sum by (job) (x_ax) / count(x_ax) > 0.5"),
    ],
)
def test_alert_to_promql(text: str, axon: str, promql: str) -> None:
    alert = parse_alert_condition(text)
    assert alert.text == text
    assert alert.to_promql(axon) == promql


def test_alert_metrics() -> None:
    alert = parse_alert_condition("rate({{a}}[5m]) > {{b}} or {{a}} > 1 or up{job='{{c}}x'} == 0")
    assert alert.metrics() == ["a", "b", "c"]
    assert parse_alert_condition("up == 0").metrics() == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{{m}} <", 'invalid PromQL query "m_axon <"'),
        ("rate({{m}}[5x])", 'invalid PromQL query "rate(m_axon[5x])"'),
        ("{{a}} < 1 && {{b}} > 2", "invalid PromQL query"),
        ("not {{a}} < 1", "invalid PromQL query"),
        ("sum(", "invalid PromQL query"),
    ],
)
def test_alert_invalid_promql(text: str, fragment: str) -> None:
    with pytest.raises(ExpressionError) as info:
        parse_alert_condition(text)
    assert fragment in str(info.value)
    assert f'from "{text}"' in str(info.value)
    assert info.value.expression == text
    assert info.value.position is None
    assert isinstance(info.value.__cause__, ValueError)


@pytest.mark.parametrize("text", ["", "  \n"])
def test_alert_empty(text: str) -> None:
    with pytest.raises(ExpressionError, match="column 1") as info:
        parse_alert_condition(text)
    assert "expected a PromQL expression" in str(info.value)
    assert "empty" in str(info.value)


def test_alert_argo_template_is_not_a_placeholder() -> None:
    text = "{{m}} > {{workflow.parameters.threshold}}"
    assert placeholders(text) == ["m"]
    with pytest.raises(ExpressionError) as info:
        parse_alert_condition(text)
    assert info.value.position == 8
    assert "column 9" in str(info.value)
    assert "'{{workflow.parameters.threshold}}'" in str(info.value)


def test_alert_to_promql_checks_axon_name() -> None:
    alert = parse_alert_condition("{{m}} < 1")
    with pytest.raises(ExpressionError, match="not a valid Prometheus metric name"):
        alert.to_promql("ml.rec")


@pytest.mark.parametrize(
    ("text", "simple_tree"),
    [
        ("{{m}} < 0.9", cmp("m", "<", 0.9)),
        ("{{recommender_deploy_accuracy}} < 0.90", cmp("recommender_deploy_accuracy", "<", 0.9)),
        ("0.9 > {{m}}", cmp(0.9, ">", "m")),
        ("{{a}} < 1 and {{b}} > 2", BoolOp("and", (cmp("a", "<", 1), cmp("b", ">", 2)))),
        (
            "{{a}} < 1 OR ({{b}} > 2 and {{c}} != 0)",
            BoolOp("or", (cmp("a", "<", 1), BoolOp("and", (cmp("b", ">", 2), cmp("c", "!=", 0))))),
        ),
        ("avg_over_time({{image_classifer_accuracy}}{job='image-classifier'}[5m]) < 0.20", None),
        ("rate({{m}}[5m]) > 1", None),
        ("{{a}} < {{b}}", None),  # label matching in PromQL: not evaluated as a simple condition
        ("{{m}} < 1 unless {{n}} > 1", None),
        ("up == 0", None),
        ("{{m}} > bool 1", None),
    ],
)
def test_alert_simple(text: str, simple_tree: ConditionNode | None) -> None:
    alert = parse_alert_condition(text)
    if simple_tree is None:
        assert alert.simple is None
    else:
        assert alert.simple is not None
        assert alert.simple.tree == simple_tree
        assert alert.simple.text == text
        assert alert.simple.to_promql("ml-rec") == parse_alert_condition(alert.simple.render()).to_promql(
            "ml-rec"
        )


def test_alert_simple_evaluates() -> None:
    alert = parse_alert_condition("{{recommender_deploy_accuracy}} < 0.90")
    assert alert.simple is not None
    assert alert.simple.evaluate({"recommender_deploy_accuracy": 0.85})
    assert not alert.simple.evaluate({"recommender_deploy_accuracy": 0.95})


def test_alert_condition_direct_construction_and_equality() -> None:
    assert AlertCondition("{{m}} < 0.9").simple == parse_metric_condition("{{m}} < 0.9")
    assert AlertCondition("{{m}} < 0.9") == parse_alert_condition("{{m}} < 0.9")
    assert AlertCondition("{{m}} < 0.9") != AlertCondition("{{m}} < 0.8")


# --------------------------------------------------------------------- the tree


@pytest.mark.parametrize(
    "build",
    [
        lambda: Metric("a.b"),
        lambda: Metric(""),
        lambda: Number(math.nan),
        lambda: Number(math.inf),
        lambda: Comparison(Number(1), "<", Number(2)),
        lambda: Comparison(Metric("a"), "=", Number(2)),
        lambda: BoolOp("and", (cmp("a", "<", 1),)),
        lambda: BoolOp("xor", (cmp("a", "<", 1), cmp("b", "<", 1))),  # type: ignore[arg-type]
    ],
)
def test_tree_validation(build: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        build()


# ----------------------------------------------------------- property-based tests

_NAMES = st.sampled_from(["a", "b", "loss", "acc_1", "_x", "Recall"])
_FINITE = st.floats(allow_nan=False, allow_infinity=False)
_METRIC = _NAMES.map(Metric)
_NUMBER = _FINITE.map(Number)
_OPS = st.sampled_from(COMPARISON_OPERATORS)

_COMPARISONS = st.one_of(
    st.builds(Comparison, _METRIC, _OPS, st.one_of(_METRIC, _NUMBER)),
    st.builds(Comparison, _NUMBER, _OPS, _METRIC),
)


def _extend(children: st.SearchStrategy[ConditionNode]) -> st.SearchStrategy[ConditionNode]:
    return st.one_of(
        st.builds(Not, children),
        st.builds(
            BoolOp,
            st.sampled_from(["and", "or"]),
            st.lists(children, min_size=2, max_size=4).map(tuple),
        ),
    )


_TREES: st.SearchStrategy[ConditionNode] = st.recursive(_COMPARISONS, _extend, max_leaves=12)
_VALUES = st.fixed_dictionaries(
    {
        name: st.one_of(st.floats(), st.sampled_from([0.0, 1.0, -1.0]))
        for name in ["a", "b", "loss", "acc_1", "_x", "Recall"]
    }
)


def _compare(left: float, op: str, right: float) -> bool:
    if math.isnan(left) or math.isnan(right):
        return False
    return {
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
        "==": left == right,
        "!=": left != right,
    }[op]


def _reference(node: ConditionNode, values: Mapping[str, float]) -> bool:
    """Independent evaluator: NaN makes a comparison false."""
    if isinstance(node, Comparison):
        sides = [values[s.name] if isinstance(s, Metric) else s.value for s in (node.left, node.right)]
        left, right = sides
        return _compare(left, node.op, right)
    if isinstance(node, BoolOp):
        results = [_reference(child, values) for child in node.operands]
        return all(results) if node.op == "and" else any(results)
    return not _reference(node.operand, values)


def _contains_not(node: ConditionNode) -> bool:
    if isinstance(node, Not):
        return True
    if isinstance(node, BoolOp):
        return any(_contains_not(child) for child in node.operands)
    return False


@given(_TREES, _VALUES)
def test_property_render_parse_roundtrip(tree: ConditionNode, values: dict[str, float]) -> None:
    text = MetricCondition("", tree).render()
    parsed = parse_metric_condition(text)
    assert parsed.tree == tree
    assert parsed.evaluate(values) == _reference(tree, values)
    assert parsed.render() == text


@given(_TREES)
def test_property_to_promql_is_valid(tree: ConditionNode) -> None:
    condition = MetricCondition("", tree)
    if _contains_not(tree):
        with pytest.raises(ExpressionError):
            condition.to_promql("ml-rec")
    else:
        query = condition.to_promql("ml-rec")
        assert query == condition.render(published("ml-rec"))
        assert parse_alert_condition(query).to_promql("unused") == query
        assert condition.to_promql("ml-rec", ignore_labels=True).count(" on() ") == query.count(
            " and "
        ) + query.count(" or ")


# Surface-syntax generator: random spelling (keyword case, &&/||, whitespace, redundant
# parentheses, number formats) with the expected truth value computed alongside.

_Evaluator = Callable[[Mapping[str, float]], bool]


def _number_text(draw: st.DrawFn, value: float) -> str:
    spellings = [repr(value), f"{value:e}", f"{value:.17g}"]
    if not repr(value).startswith("-"):  # not `value >= 0`: -0.0 >= 0, and "+-0.0" is no number
        spellings.append("+" + repr(value))
    return draw(st.sampled_from(spellings))


@st.composite
def _comparison_source(draw: st.DrawFn) -> tuple[str, _Evaluator]:
    name = draw(_NAMES)
    op = draw(_OPS)
    space = draw(st.sampled_from(["", " ", "  ", "\t"]))
    metric_text = draw(st.sampled_from(["{{%s}}", "{{ %s }}", "{{%s  }}"])) % name
    if draw(st.booleans()):
        other = draw(_NAMES)
        right_text = "{{" + other + "}}"

        def right_value(values: Mapping[str, float]) -> float:
            return values[other]
    else:
        number = draw(_FINITE)
        right_text = _number_text(draw, number)

        def right_value(values: Mapping[str, float]) -> float:
            return float(right_text)

    reversed_ = draw(st.booleans())

    def evaluate(values: Mapping[str, float]) -> bool:
        left, right = values[name], right_value(values)
        if reversed_:
            left, right = right, left
        return _compare(left, op, right)

    parts = [right_text, op, metric_text] if reversed_ else [metric_text, op, right_text]
    return space.join(parts) if space else " ".join(parts), evaluate


def _keyword(draw: st.DrawFn, op: str) -> str:
    symbol = {"and": "&&", "or": "||", "not": None}[op]
    choices = [op, op.upper(), op.capitalize()]
    if symbol:
        choices.append(symbol)
    return draw(st.sampled_from(choices))


@st.composite
def _source(draw: st.DrawFn, depth: int = 0) -> tuple[str, _Evaluator, str]:
    """Return (text, evaluator, kind) where kind is the loosest-binding construct at top level."""
    choice = draw(st.integers(0, 3)) if depth < 3 else 0
    if choice == 0:
        text, evaluate = draw(_comparison_source())
        kind = "atom"
    elif choice == 1:
        inner_text, inner, inner_kind = draw(_source(depth + 1))
        if inner_kind != "atom":
            inner_text = f"({inner_text})"
        text = f"{_keyword(draw, 'not')} {inner_text}"

        def evaluate(values: Mapping[str, float]) -> bool:
            return not inner(values)

        kind = "atom"
    else:
        op = "and" if choice == 2 else "or"
        children = draw(st.lists(_source(depth + 1), min_size=2, max_size=3))
        texts = []
        for child_text, _, child_kind in children:
            # 'and' binds tighter than 'or': only an 'or' inside an 'and' needs parentheses
            needs_parens = op == "and" and child_kind == "or"
            texts.append(f"({child_text})" if needs_parens else child_text)
        text = f" {_keyword(draw, op)} ".join(texts)
        evaluators = [child[1] for child in children]

        def evaluate(values: Mapping[str, float]) -> bool:
            results = [e(values) for e in evaluators]
            return all(results) if op == "and" else any(results)

        kind = op
    if draw(st.integers(0, 4)) == 0:
        text, kind = f"( {text} )", "atom"
    return text, evaluate, kind


@given(_source(), _VALUES)
def test_property_surface_syntax(source: tuple[str, _Evaluator, str], values: dict[str, float]) -> None:
    text, evaluate, _ = source
    condition = parse_metric_condition(text)
    expected = evaluate(values)
    assert condition.evaluate(values) == expected
    reparsed = parse_metric_condition(condition.render())
    assert reparsed.tree == condition.tree
    assert reparsed.evaluate(values) == expected
