"""The bounded safe YAML loader."""

from __future__ import annotations

import time

import pytest

from myelin_sdk import MyelinError
from myelin_sdk.yamlio import MAX_BYTES, dump_all, load_documents


def billion_laughs(levels: int = 9) -> str:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    prev = "a"
    for name in "bcdefghijklmnop"[:levels]:
        text += f"{name}: &{name} [{','.join(['*' + prev] * 9)}]\n"
        prev = name
    return text


def test_alias_bomb_is_refused_quickly() -> None:
    start = time.perf_counter()
    with pytest.raises(MyelinError, match="alias bomb"):
        load_documents(billion_laughs(), source="bomb.yaml")
    assert (
        time.perf_counter() - start < 5
    )  # generous: the refusal stops the walk early, not after 9**10 nodes


def test_small_aliases_are_fine() -> None:
    docs = load_documents("base: &b {x: 1}\nother: *b\n")
    assert docs[0].data == {"base": {"x": 1}, "other": {"x": 1}}


def test_oversized_input_is_refused_before_parsing() -> None:
    text = "a: " + "x" * (MAX_BYTES + 1)
    with pytest.raises(MyelinError, match=r"refused: .* bytes"):
        load_documents(text, source="big.yaml")


def test_duplicate_keys_are_an_error_with_lines() -> None:
    with pytest.raises(MyelinError) as info:
        load_documents("spec:\n  tasks: []\n  tasks: []\n", source="dup.yaml")
    assert str(info.value) == "dup.yaml:3: spec.tasks: duplicate key (first at line 2)"


def test_unsafe_tags_are_refused() -> None:
    with pytest.raises(MyelinError, match="invalid YAML"):
        load_documents("a: !!python/object/apply:os.system ['echo hi']\n")


def test_syntax_error_has_a_line() -> None:
    with pytest.raises(MyelinError) as info:
        load_documents("a: [1, 2\nb: 3\n", source="s.yaml")
    assert str(info.value).startswith("s.yaml:")
    assert "invalid YAML" in str(info.value)


def test_lines_of_paths() -> None:
    doc = load_documents("spec:\n  tasks:\n    - name: A\n    - name: B\n")[0]
    assert doc.line_of("spec.tasks[1].name") == 4
    assert doc.line_of("spec.tasks[1].missing") == 4


def test_dump_all_round_trips() -> None:
    docs = [{"b": 1, "a": [1, 2]}, {"kind": "X"}]
    text = dump_all(docs)
    assert text.index("b:") < text.index("a:")
    assert [d.data for d in load_documents(text)] == docs
