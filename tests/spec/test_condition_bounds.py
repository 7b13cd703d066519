"""Conditions are bounded before any parser sees them (issue #17): no RecursionError, no PromQL crash."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from myelin_sdk import MyelinError
from myelin_sdk.spec import Alert, Axon, ContainerTask, Metric, Sensor
from myelin_sdk.spec.condition_bounds import MAX_CONDITION_CHARS, MAX_NESTING, check_bounds
from myelin_sdk.spec.expressions import ExpressionError, parse_alert_condition, parse_metric_condition

PARENS_400 = "(" * 400 + "{{a}} < 1" + ")" * 400
NOTS_1000 = "not " * 1000 + "{{a}} < 1"
PARENS_10000 = "(" * 10_000 + "{{a}} < 1" + ")" * 10_000  # 20 KB: once made `myelin lint` segfault


def refuse_promql(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if the PromQL parser is called at all from now on."""
    import promql_parser

    def refuse(query: str) -> None:
        raise AssertionError(f"the PromQL parser was given {len(query)} characters")

    monkeypatch.setattr(promql_parser, "parse", refuse)


@pytest.fixture
def no_promql(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_promql(monkeypatch)


@pytest.mark.parametrize(
    "text", [PARENS_400, NOTS_1000, PARENS_10000], ids=["400-parens", "1000-nots", "20KB"]
)
def test_hostile_metric_conditions_are_expression_errors(text: str) -> None:
    with pytest.raises(ExpressionError, match=r"nested \d+ levels deep|too long"):
        parse_metric_condition(text)


@pytest.mark.parametrize(
    "text", [PARENS_400, NOTS_1000, PARENS_10000], ids=["400-parens", "1000-nots", "20KB"]
)
def test_hostile_alert_conditions_never_reach_the_promql_parser(text: str, no_promql: None) -> None:
    start = time.perf_counter()
    with pytest.raises(ExpressionError, match=r"nested \d+ levels deep|too long"):
        parse_alert_condition(text)
    assert time.perf_counter() - start < 1


def test_the_message_quotes_only_the_start_of_the_text() -> None:
    with pytest.raises(ExpressionError) as info:
        parse_alert_condition(PARENS_10000)
    assert len(str(info.value)) < 300
    assert "20009 characters" in str(info.value)


def test_real_conditions_are_within_the_bounds() -> None:
    for text in [
        "{{recommender_train_rmse}} < 0.95",
        "not ({{a}} < 1 || 0.5 >= {{b}})",
        "avg_over_time({{image_classifer_accuracy}}{job='image-classifier'}[5m]) < 0.20",
        "-{{a}} > -2 and {{b}} != 3",
        "(" * (MAX_NESTING - 1) + "{{a}} < 1" + ")" * (MAX_NESTING - 1),
    ]:
        check_bounds(text)
    parse_metric_condition("(" * 20 + "{{a}} < 1" + ")" * 20)
    parse_alert_condition("sum(rate({{a}}[5m])) by (job) > 1")


def test_the_length_bound() -> None:
    check_bounds("{{a}} < 1" + " " * (MAX_CONDITION_CHARS - 9))
    with pytest.raises(ExpressionError, match="too long"):
        check_bounds("{{a}} < 1" + " " * MAX_CONDITION_CHARS)


def test_python_dsl_conditions_are_bounded_too() -> None:
    with pytest.raises(MyelinError, match=r"Metric\.condition: condition nested"):
        Metric(NOTS_1000)
    with pytest.raises(MyelinError, match=r"Alert\.condition: .*too long"):
        Alert(condition=PARENS_10000)


def test_lint_of_a_yaml_axon_with_a_20_kb_condition(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from myelin_sdk.cli import main

    with Axon("a") as axon:
        prep = ContainerTask("Prep", image="busybox", command=["true"])
        Sensor("S", triggers=[Alert(condition="{{a}} < 1")], tasks=[prep])
    text = axon.to_yaml().replace("condition: '{{a}} < 1'", f"condition: '{PARENS_10000}'")
    assert PARENS_10000 in text
    path = tmp_path / "alert.yaml"
    path.write_text(text)
    refuse_promql(monkeypatch)
    assert main(["lint", str(path)]) == 2
