"""Kubernetes-safe names: kebab case, DNS-1123 labels cut with a hash suffix."""

from __future__ import annotations

import pytest

from myelin_sdk.names import MAX_LABEL, dns_label, is_dns_label, kebab, short_hash


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("DataPrepMyelinRecommender", "data-prep-myelin-recommender"),
        ("TrainMyelinRecommender", "train-myelin-recommender"),
        ("tf_model", "tf-model"),
        ("ml-rec", "ml-rec"),
        ("HTTPServer", "http-server"),
        ("getHTTPResponse", "get-http-response"),
        ("Model2Deploy", "model2-deploy"),
        ("mnist-v2", "mnist-v2"),
        ("  spaces and.dots ", "spaces-and-dots"),
        ("--leading--and--trailing--", "leading-and-trailing"),
        ("a__b", "a-b"),
        ("ALLCAPS", "allcaps"),
        ("", ""),
        ("___", ""),
    ],
)
def test_kebab(name: str, expected: str) -> None:
    assert kebab(name) == expected


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("TrainMyelinRecommender",), "train-myelin-recommender"),
        (("ml-rec", "DeploymentDecisionMaker"), "ml-rec-deployment-decision-maker"),
        (("ml-rec", "", "Train"), "ml-rec-train"),
        (("x" * 63,), "x" * 63),
    ],
)
def test_dns_label(parts: tuple[str, ...], expected: str) -> None:
    assert dns_label(*parts) == expected


def test_dns_label_cuts_long_names_with_a_stable_hash() -> None:
    full = "a" * 100
    label = dns_label(full)
    assert len(label) == MAX_LABEL
    assert label == f"{'a' * 57}-{short_hash(full)}"
    assert dns_label(full) == label  # stable


def test_long_names_differing_only_at_the_end_stay_different() -> None:
    base = "TrainTheCollaborativeFilteringModelOnTheFullMovieLensDataset"
    daily, weekly = dns_label("ml-rec", base + "Daily"), dns_label("ml-rec", base + "Weekly")
    assert daily != weekly
    assert len(daily) == len(weekly) == MAX_LABEL
    assert daily[:-6] == weekly[:-6]


def test_cut_never_leaves_a_double_dash_or_trailing_dash() -> None:
    # the cut point falls right after a '-': it is stripped before the hash is appended
    name = dns_label("a" * 56 + "-" + "b" * 20)
    assert is_dns_label(name)
    assert "--" not in name


def test_custom_max_length() -> None:
    label = dns_label("recommender", "deployment", max_length=20)
    assert len(label) <= 20
    assert is_dns_label(label)


@pytest.mark.parametrize("parts", [("",), ("___",), ("!!", "..")])
def test_dns_label_without_safe_characters_raises(parts: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="no DNS-safe characters"):
        dns_label(*parts)


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("ml-rec", True),
        ("a", True),
        ("0abc9", True),
        ("x" * 63, True),
        ("x" * 64, False),
        ("", False),
        ("Ml-rec", False),
        ("-ml", False),
        ("ml-", False),
        ("ml_rec", False),
        ("ml.rec", False),
        ("ml rec", False),
    ],
)
def test_is_dns_label(name: str, valid: bool) -> None:
    assert is_dns_label(name) is valid


@pytest.mark.parametrize(
    "parts",
    [("ml-rec", "DataPrepMyelinRecommender"), ("X" * 200,), ("a-" * 40,), ("Über", "Straße"), ("9lives",)],
)
def test_dns_label_output_is_always_a_dns_label(parts: tuple[str, ...]) -> None:
    assert is_dns_label(dns_label(*parts))
