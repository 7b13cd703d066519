"""The bounded safe YAML loader, and the dumper: its fast path writes the bytes PyYAML's own would."""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from myelin_sdk import MyelinError
from myelin_sdk.yamlio import MAX_BYTES, SDKDumper, dump, dump_all, load_documents


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


# --- the dumper's fast path (issue #16 item 5): the same bytes as PyYAML's own representers and emitters ---


class _PureDumper(yaml.SafeDumper):
    """The pure-Python emitter with the SDK's representers and resolvers, without the fast path."""


_PureDumper.yaml_representers = dict(SDKDumper.yaml_representers)
_PureDumper.yaml_multi_representers = dict(SDKDumper.yaml_multi_representers)
_PureDumper.yaml_implicit_resolvers = SDKDumper.yaml_implicit_resolvers


class _GenericCDumper(yaml.CSafeDumper):
    """LibYAML's emitter with the SDK's representers, through PyYAML's generic ``represent_data``."""


_GenericCDumper.yaml_representers = dict(SDKDumper.yaml_representers)
_GenericCDumper.yaml_multi_representers = dict(SDKDumper.yaml_multi_representers)
_GenericCDumper.yaml_implicit_resolvers = SDKDumper.yaml_implicit_resolvers


def reference_dumps(data: Any) -> dict[str, str]:
    """``data`` dumped with :func:`dump`'s options by the pure-Python and the generic C dumper."""
    options: dict[str, Any] = {
        "sort_keys": False,
        "default_flow_style": False,
        "width": 120,
        "allow_unicode": True,
    }
    return {
        "pure": yaml.dump(data, Dumper=_PureDumper, **options),
        "generic C": yaml.dump(data, Dumper=_GenericCDumper, **options),
    }


TRICKY_SCALARS = [
    "", " ", "y", "n", "Y", "N", "yes", "No", "on", "OFF", "true", "False", "null", "~", "Null", "123", "-1",
    "0o17", "017", "0x1F", "1_000", "1:20", "1.5", ".5", "1e3", "1.0e+3", ".inf", "-.Inf", ".nan",
    "2001-12-14", "2001-12-14t21:59:43.10-05:00", "<<", "=", "!tag", "&anchor", "*alias", "- item", "? key",
    "a: b", "a #c", "#c", "{{workflow.name}}", "{{rmse}} < 0.95", "'quoted'", '"double"', "tab\there",
    "trailing ", " leading", "line\nbreak", "ends with newline\n", "\n", "multi\n\nblank\n  indented\n",
    "unicode é ✓ 日本", "\x85", "\u2028", "back\\slash", "%percent", "@at", "`tick", "x" * 300, "word " * 40,
    "a\r\nb", "\ufeffbom",
    0, 1, -7, 2**63 - 1, 10**30, True, False, None, 0.0, -0.0, 1.5, 1e17, 1e-7, float("inf"), float("-inf"),
    float("nan"),
]  # fmt: skip


#: Where LibYAML's emitter and PyYAML's pure one write different bytes (both read back equal): an empty key
#: (``'': x`` vs ``? ''``) and a NEL character (quoted ``'\x85'`` vs ``"\N"``). The SDK always uses LibYAML's.
EMITTERS_DIFFER = {"", "\x85"}


@pytest.mark.parametrize("value", TRICKY_SCALARS, ids=repr)
def test_fast_dumper_writes_the_bytes_of_pyyaml_for_tricky_scalars(value: Any) -> None:
    data = {"value": value, "list": [value, {"nested": value}], "key": {str(value): value}}
    references = reference_dumps(data)
    assert dump(data) == references["generic C"]
    if str(value) not in EMITTERS_DIFFER:
        assert dump(data) == references["pure"]


def test_fast_dumper_keeps_aliases_of_shared_objects_and_other_types() -> None:
    shared = {"a": [1, 2]}
    items = ["x", "y"]

    data = {
        "one": shared,
        "two": shared,
        "items": items,
        "again": items,
        "tuple": (1, "two"),
        "bytes": b"\x00\x01",
        "empty": {},
        "none": [],
        3: "int key",
    }
    text = dump(data)
    assert "&id001" in text and "*id001" in text
    assert set(reference_dumps(data).values()) == {text}


def test_other_dumper_options_take_pyyaml_s_own_path() -> None:
    data = {"b": {"d": 1, "c": "y"}, "a": ["true", 2]}
    sorted_text = yaml.dump(data, Dumper=SDKDumper, sort_keys=True, default_flow_style=False)
    assert sorted_text == yaml.dump(data, Dumper=_PureDumper, sort_keys=True, default_flow_style=False)
    assert sorted_text.index("a:") < sorted_text.index("b:")
    flow = yaml.dump(data, Dumper=SDKDumper, sort_keys=False, default_flow_style=True)
    assert flow == yaml.dump(data, Dumper=_PureDumper, sort_keys=False, default_flow_style=True)
    for marker in ({"explicit_start": True}, {"explicit_end": True}, {"version": (1, 1)}):
        options: dict[str, Any] = {"sort_keys": False, "default_flow_style": False, **marker}
        text = yaml.dump_all([data, "x", data], Dumper=SDKDumper, **options)
        assert text == yaml.dump_all([data, "x", data], Dumper=_GenericCDumper, **options)
        assert text.startswith(
            "%YAML 1.1\n---" if "version" in marker else "---" if marker.get("explicit_start") else "b:"
        )


# no floats: a document with one goes through PyYAML's own representers whole (the tricky scalars test them)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.sampled_from([s for s in TRICKY_SCALARS if isinstance(s, str)]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(max_size=8) | st.integers() | st.booleans() | st.none(), children, max_size=4
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_fast_dumper_matches_pyyaml_on_any_json_value(value: Any) -> None:
    assert dump(value) == reference_dumps(value)["generic C"]
