"""Pydantic validation errors -> :class:`~myelin_sdk.errors.Diagnostic`: one wording for YAML and Python.

Loading YAML (``Axon.model_validate``) and building objects in Python (``Lifecycle(train, "Suceeded")``) both
end here, so a mistake reads the same either way: the field path, what was expected, and a hint drawn only
from the names valid at that path::

    spec.tasks[0].env: unknown field — env belongs under train:
    Lifecycle.condition: expected 'Succeeded' or 'Failed', got 'Suceeded' — did you mean 'Succeeded'?

>>> from myelin_sdk.spec import Task
>>> unknown_field_hint(Task, "env", {"train": {}})
'env belongs under train:'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from ..errors import Diagnostic, did_you_mean, format_path

_METADATA_FIELDS = ("name", "namespace")
TRIGGER_TYPES = ("Lifecycle", "Alert", "Rest", "Calendar")
#: How close a field name must be to be suggested: a typo (lossMetrik), not a look-alike (properties/routes).
FIELD_CUTOFF = 0.75


# --- the model's structure ---------------------------------------------------------------------------------


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The model classes an annotation can hold (``list[Task] | None`` -> ``[Task]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in get_args(annotation):
        out += [m for m in _models_in(arg) if m not in out]
    return out


def field_names(cls: type[BaseModel], python: bool = False) -> list[str]:
    """The names of ``cls``'s fields as YAML writes them (aliases), or as Python keywords."""
    return [name if python else (info.alias or name) for name, info in cls.model_fields.items()]


def _field(cls: type[BaseModel], key: str) -> Any:
    for name, info in cls.model_fields.items():
        if key in (name, info.alias):
            return info
    return None


def _tag(cls: type[BaseModel]) -> Any:
    info = cls.model_fields.get("type")
    return info.default if info is not None else None


def models_along(root: type[BaseModel], loc: Sequence[str | int]) -> list[type[BaseModel] | None]:
    """The model class at each prefix of ``loc`` (``[root, at loc[:1], ...]``; ``None`` once unknown).
    A discriminated union's tag in the location (``triggers[0].Lifecycle``) selects its member."""
    out: list[type[BaseModel] | None] = [root]
    candidates: list[type[BaseModel]] = [root]
    for part in loc:
        if isinstance(part, int):
            out.append(out[-1])
            continue
        tagged = [c for c in candidates if _tag(c) == part]
        if len(candidates) > 1 and tagged:
            candidates = tagged
        else:
            found: list[type[BaseModel]] = []
            for cls in candidates:
                info = _field(cls, part)
                if info is not None:
                    found += [m for m in _models_in(info.annotation) if m not in found]
            candidates = found
        out.append(candidates[0] if len(candidates) == 1 else None)
        if not candidates:
            out += [None] * (len(loc) - len(out) + 1)
            break
    return out[: len(loc) + 1]


# --- hints -------------------------------------------------------------------------------------------------


def unknown_field_hint(
    cls: type[BaseModel], key: str, raw: Any = None, ancestors: Sequence[tuple[str, type[BaseModel]]] = ()
) -> str:
    """What to say about ``key``, unknown in ``cls``: where it belongs (a nested field, or an enclosing
    object given in ``ancestors`` as (path, class), nearest first), else a close name among ``cls``'s own
    fields (never ``key`` itself), else ``""``. ``raw`` (the input mapping) picks the nested field in use."""
    for path, outer in ancestors:
        if _field(outer, key) is not None:
            return f"{key} belongs at {path}, not here"
    homes = [
        (info.alias or name)
        for name, info in cls.model_fields.items()
        if any(_field(m, key) is not None for m in _models_in(info.annotation))
    ]
    if homes:
        used = [h for h in homes if isinstance(raw, dict) and h in raw]
        where = used or homes
        return f"{key} belongs under {_either(where)}"
    return did_you_mean(key, field_names(cls), cutoff=FIELD_CUTOFF).removeprefix(" — ")


def _either(names: Sequence[str]) -> str:
    written = [f"{n}:" for n in names]
    return written[0] if len(written) == 1 else ", ".join(written[:-1]) + f" or {written[-1]}"


def _literal_choices(expected: str) -> list[str]:
    return [c.strip().strip("'") for c in expected.replace(" or ", ",").split(",") if c.strip()]


def _raw_at(data: Any, loc: Iterable[str | int]) -> Any:
    for part in loc:
        if isinstance(part, int):
            data = data[part] if isinstance(data, list) and part < len(data) else None
        elif isinstance(data, dict) and part in data:
            data = data[part]
        elif part not in TRIGGER_TYPES:  # a union's tag in the location is not a key of the data
            return None
    return data


# --- pydantic errors -> diagnostics ------------------------------------------------------------------------


def yaml_path(loc: Sequence[str | int], root: str | None = None) -> str:
    """The field path of a pydantic location: under ``spec``/``metadata`` for an Axon document, or under
    ``root`` (an object's class name, for errors raised by a Python constructor)."""
    parts: list[str | int] = []
    for i, part in enumerate(loc):
        # discriminated unions add the tag to the location: triggers[0].Lifecycle.task -> triggers[0].task
        if isinstance(part, str) and part in TRIGGER_TYPES and i >= 2 and loc[i - 2] == "triggers":
            continue
        parts.append(part)
    if root is not None:
        return format_path([root, *parts])
    if not parts:
        return "spec"
    head = parts[0]
    if head in _METADATA_FIELDS:
        return format_path(["metadata", *parts])
    if head == "apiVersion":
        return format_path(parts)
    return format_path(["spec", *parts])


def _message(err: Any, model: type[BaseModel], data: Any, root: str | None) -> str:
    kind = err["type"]
    got = err.get("input")
    loc = tuple(err["loc"])
    if kind == "extra_forbidden":
        key = str(loc[-1])
        along = models_along(model, loc[:-1])
        owner = along[-1]
        if owner is None:
            return "unknown field"
        # the enclosing objects, nearest first (a prefix followed by an index is the list, not an object)
        ancestors = [
            (yaml_path(loc[:i], root), cls)
            for i, cls in reversed(list(enumerate(along[:-1])))
            if cls is not None and i > 0 and not isinstance(loc[i], int)
        ]
        if root is None:
            ancestors.append(("the top of spec", model))
        hint = unknown_field_hint(owner, key, _raw_at(data, loc[:-1]), ancestors)
        if root is not None and hint.startswith("did you mean"):
            # Python keywords: suggest the snake_case name
            hint = did_you_mean(key, field_names(owner, python=True), cutoff=FIELD_CUTOFF)
            hint = hint.removeprefix(" — ")
        return f"unknown field — {hint}" if hint else "unknown field"
    if kind == "missing":
        return "required field is missing"
    if kind == "union_tag_invalid":
        return f"unknown type {got.get('type')!r}: expected one of {', '.join(TRIGGER_TYPES)}"
    if kind == "union_tag_not_found":
        return f"missing 'type': expected one of {', '.join(TRIGGER_TYPES)}"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return f"expected {expected}, got {got!r}{did_you_mean(str(got), _literal_choices(expected))}"
    msg = str(err["msg"])
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping, got {type(got).__name__}"
    if kind == "list_type":
        return f"expected a list, got {type(got).__name__}"
    text = msg[0].lower() + msg[1:] if msg else kind
    if not isinstance(got, (dict, list)):
        text += f" (got {got!r})"
    return text


def diagnostics_from(
    exc: ValidationError,
    model: type[BaseModel],
    data: Any = None,
    root: str | None = None,
    line_of: Any = None,
) -> list[Diagnostic]:
    """One diagnostic per pydantic error of validating ``data`` as ``model``, with YAML field paths
    (``spec.tasks[1].train.lossMetric``), or paths under ``root`` for an object built in Python
    (``Lifecycle.condition``). ``line_of(path)`` places each diagnostic in its file."""
    out: list[Diagnostic] = []
    for err in exc.errors():
        path = yaml_path(tuple(err["loc"]), root)
        line = line_of(path) if line_of is not None else None
        diag = Diagnostic(path, _message(err, model, data, root), line=line)
        if diag not in out:
            out.append(diag)
    return out
