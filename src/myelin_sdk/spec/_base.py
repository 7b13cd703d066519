"""The base of every model class: camelCase aliases, no unknown fields, and the ``with Axon(...)`` context.

The model mirrors the Axon YAML field for field (``imageBuild`` ↔ ``image_build``). Unknown fields are
rejected, so a typo is an error that names the field, never silently dropped. Python code may use either the
snake_case names or the YAML aliases.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel
from typing_extensions import Self

if TYPE_CHECKING:
    from .axon import Axon

_current_axon: contextvars.ContextVar[Axon | None] = contextvars.ContextVar(
    "myelin_current_axon", default=None
)
#: Set while a validation runs: nested objects then leave their errors to the outermost one.
_validating: contextvars.ContextVar[bool] = contextvars.ContextVar("myelin_validating", default=False)


class SpecModel(BaseModel):
    """Base of all Axon model classes."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        validate_default=True,
    )

    #: DSL convenience subclasses (``TrainTask``) name the model class they build (``Task``), so that a
    #: ``TrainTask(...)`` equals the ``Task`` loaded from YAML.
    __dsl_base__: ClassVar[type[SpecModel] | None] = None

    def __init__(self, /, **data: Any) -> None:
        """Build from keywords; a mistake raises :class:`~myelin_sdk.errors.MyelinError` with the CLI's
        wording (``Lifecycle.condition: expected 'Succeeded' or 'Failed', got 'Suceeded' — did you mean
        'Succeeded'?``), not pydantic's text. Pydantic also calls this for each nested object of a validation
        (``model_validate`` of YAML data, or an outer constructor): there the error is left to the outermost
        call, which words it for the whole object (with :mod:`._errors`, as the YAML loader does)."""
        __tracebackhide__ = True
        if _validating.get():  # inside a validation (pydantic calls a custom __init__ for nested objects)
            super().__init__(**data)
            return
        token = _validating.set(True)
        try:
            super().__init__(**data)
        except ValidationError as exc:
            from ..errors import MyelinError
            from ._errors import diagnostics_from

            cls = type(self)
            raise MyelinError(diagnostics_from(exc, cls, data, root=cls.__name__)) from None
        finally:
            _validating.reset(token)

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        """Validate ``obj`` (YAML data); errors stay pydantic's ``ValidationError`` for the caller to word."""
        token = _validating.set(True)
        try:
            return super().model_validate(obj, **kwargs)
        finally:
            _validating.reset(token)

    @classmethod
    def _canonical(cls) -> type[SpecModel]:
        return cls.__dsl_base__ or cls

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SpecModel):
            return NotImplemented
        return self._canonical() is other._canonical() and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """The YAML form of this object (camelCase keys, no empty or unset fields). An empty object stays
        where its presence means something (``container: {}`` is a container task; ``emptyDir: {}`` a
        volume source), so ``from_yaml(to_yaml(a)) == a``."""
        out: dict[str, Any] = _prune_model(
            self, self.model_dump(by_alias=True, exclude_none=True, mode="json")
        )
        return out


def prune(value: Any) -> Any:
    """Drop empty lists and dicts recursively (they mean the same as an absent field)."""
    if isinstance(value, dict):
        out = {k: prune(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in ({}, [])}
    if isinstance(value, list):
        return [prune(v) for v in value]
    return value


def _prune_model(model: BaseModel, data: Any) -> Any:
    """:func:`prune` guided by the model: an empty nested object is kept when its field has no default
    object (``None`` or required), and an extra field (a raw Kubernetes volume source) is always kept."""
    if not isinstance(data, dict):
        return prune(data)
    fields = {(info.alias or name): (name, info) for name, info in type(model).model_fields.items()}
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:  # an extra field: its presence is the point (``emptyDir: {}``)
            out[key] = prune(value)
            continue
        name, info = fields[key]
        attr = getattr(model, name, None)
        if isinstance(attr, BaseModel):
            pruned = _prune_model(attr, value)
            keep = info.is_required() or info.default is None
        elif isinstance(attr, list) and isinstance(value, list) and len(attr) == len(value):
            pruned = [
                _prune_model(a, v) if isinstance(a, BaseModel) else prune(v)
                for a, v in zip(attr, value, strict=True)
            ]
            keep = False
        else:
            pruned, keep = prune(value), False
        if keep or pruned not in ({}, []):
            out[key] = pruned
    return out


class Registered(SpecModel):
    """An object that joins the Axon of the enclosing ``with Axon(...)`` block when constructed in Python.

    The first positional argument is the object's ``name``: ``Artifact("rec-source", ...)``.
    Objects loaded from YAML are built by validation and never register anywhere.
    """

    def __init__(self, name: str | None = None, /, **data: Any) -> None:
        if name is not None:
            data["name"] = name
        super().__init__(**data)
        axon = _current_axon.get()
        if axon is not None:
            axon._register(self)


def exactly_one(model: BaseModel, fields: tuple[str, ...], what: str) -> str:
    """The one of ``fields`` that is set on ``model``; a ``ValueError`` naming ``what`` needs otherwise."""
    found = [f for f in fields if getattr(model, f) is not None]
    if len(found) != 1:
        info = type(model).model_fields
        names = [str(info[f].alias or f) for f in fields]
        choices = ", ".join(names[:-1]) + f" or {names[-1]}"
        got = ", ".join(str(info[f].alias or f) for f in found) or "none"
        raise ValueError(f"{what} needs exactly one of {choices} (found: {got})")
    return found[0]


def _name_of(value: Any) -> Any:
    """Let a reference field take the object itself: ``trainer=train_task`` stores ``train_task.name``."""
    if isinstance(value, BaseModel):
        name = getattr(value, "name", None)
        if isinstance(name, str):
            return name
    return value


#: A reference by name to a task, artifact or model; accepts the object or its name.
Ref = Annotated[str, BeforeValidator(_name_of)]
