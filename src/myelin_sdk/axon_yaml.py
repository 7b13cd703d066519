"""Axon YAML <-> model: the original Myelin ``kind: Axon`` format, legacy forms included.

>>> axon = Axon.from_yaml(open("recommender-demo.yaml").read())     # doctest: +SKIP
>>> Axon.from_yaml(axon.to_yaml()) == axon                          # doctest: +SKIP
True

Accepted: ``apiVersion`` ``myelin.io/v1alpha1`` or ``myelinproj.io/v1alpha1``; the legacy forms of 2019
(``buiderImage``, ``deploymentType``/``replicas`` on a deploy task, deployer ``models[].{trainer,deployer}``,
DAG entries with ``task:``). Errors name the file, the line, the field path and what was expected.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .errors import Diagnostic, MyelinError, did_you_mean, format_path
from .spec import API_VERSIONS, Axon
from .spec._base import SpecModel
from .yamlio import Document, load_documents

_METADATA_FIELDS = ("name", "namespace")
_TRIGGER_TYPES = ("Lifecycle", "Alert", "Rest", "Calendar")


def load_axon(text: str | bytes, source: str | None = None) -> Axon:
    """Parse Axon YAML text. A stream may hold other objects too, but exactly one ``kind: Axon``."""
    return load_axon_document(text, source)[0]


def load_axon_document(text: str | bytes, source: str | None = None) -> tuple[Axon, Document]:
    """Like :func:`load_axon`, with the YAML document (its ``line_of(path)`` places diagnostics)."""
    where = source or "<input>"
    docs = load_documents(text, source=where)
    axons = [d for d in docs if isinstance(d.data, dict) and d.data.get("kind") == "Axon"]
    if not axons:
        kinds = ", ".join(
            f"{d.data.get('kind', '?')} ({d.data.get('apiVersion', 'no apiVersion')})"
            for d in docs
            if isinstance(d.data, dict)
        )
        found = f"it holds {kinds}" if kinds else "it holds no YAML mapping"
        raise MyelinError(
            f"not an Axon: {found}; expected a document with kind: Axon and apiVersion "
            f"{' or '.join(API_VERSIONS)}",
            where,
        )
    if len(axons) > 1:
        raise MyelinError(f"{len(axons)} Axon documents in one file; put each axon in its own file", where)
    return from_document(axons[0], where), axons[0]


def load_axon_file(path: str | Path) -> Axon:
    """Read and parse an Axon YAML file."""
    return load_axon_file_document(path)[0]


def load_axon_file_document(path: str | Path) -> tuple[Axon, Document]:
    """Read and parse an Axon YAML file, with its YAML document."""
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise MyelinError(f"cannot read: {exc.strerror}", str(path)) from None
    return load_axon_document(text, source=str(path))


def from_document(doc: Document, source: str) -> Axon:
    """Validate one ``kind: Axon`` document into the model."""
    data = doc.data
    problems: list[Diagnostic] = []
    api = data.get("apiVersion")
    if api not in API_VERSIONS:
        problems.append(Diagnostic("apiVersion", f"expected {' or '.join(API_VERSIONS)}, got {api!r}"))
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        problems.append(Diagnostic("metadata", "expected a mapping with at least a name"))
        metadata = {}
    for key in metadata:
        if key not in _METADATA_FIELDS:
            problems.append(
                Diagnostic(f"metadata.{key}", "not supported: an Axon's metadata has name and namespace")
            )
    spec = data.get("spec")
    if not isinstance(spec, dict):
        problems.append(Diagnostic("spec", "expected a mapping"))
        spec = {}
    for key in data:
        if key not in ("apiVersion", "kind", "metadata", "spec", "status"):
            problems.append(
                Diagnostic(key, f"unknown top-level field{did_you_mean(key, ['metadata', 'spec'])}")
            )
    for key in _METADATA_FIELDS:
        if key in spec:
            problems.append(Diagnostic(f"spec.{key}", f"unknown field; {key} belongs in metadata"))
    fields: dict[str, Any] = {k: metadata[k] for k in _METADATA_FIELDS if k in metadata}
    if api in API_VERSIONS:
        fields["apiVersion"] = api
    fields.update(spec)
    try:
        axon = Axon.model_validate(fields)
    except ValidationError as exc:
        problems.extend(diagnostics_from(exc, doc))
        axon = None
    if problems or axon is None:
        for i, p in enumerate(problems):
            if p.line is None:
                problems[i] = Diagnostic(p.path, p.message, p.severity, doc.line_of(p.path))
        raise MyelinError(problems, source)
    return axon


def to_document(axon: Axon) -> dict[str, Any]:
    """The YAML document of an axon: ``apiVersion``, ``kind``, ``metadata``, ``spec`` in that order."""
    body = axon.to_dict()
    metadata = {k: body.pop(k) for k in _METADATA_FIELDS if k in body}
    api = body.pop("apiVersion")
    return {"apiVersion": api, "kind": "Axon", "metadata": metadata, "spec": body}


# --- pydantic errors -> diagnostics ------------------------------------------------------------------------


def _yaml_path(loc: tuple[str | int, ...], root: str | None = None) -> str:
    """The field path of a pydantic location: under ``spec``/``metadata`` for an Axon document, or under
    ``root`` (an object's class name, for errors raised by a Python constructor)."""
    parts: list[str | int] = []
    for i, part in enumerate(loc):
        # discriminated unions add the tag to the location: triggers[0].Lifecycle.task -> triggers[0].task
        if isinstance(part, str) and part in _TRIGGER_TYPES and i >= 2 and loc[i - 2] == "triggers":
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


@lru_cache(maxsize=1)
def _vocabulary() -> frozenset[str]:
    """Every field name the format knows, for did-you-mean suggestions."""
    names: set[str] = set()
    todo: list[type[BaseModel]] = [Axon]
    seen: set[type[BaseModel]] = set()
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        for name, info in cls.model_fields.items():
            names.add(info.alias or name)
        todo.extend(c for c in SpecModel.__subclasses__() if c not in seen)
        todo.extend(c for c in cls.__subclasses__() if c not in seen)
    return frozenset(names)


def _message(err: Any) -> str:
    kind = err["type"]
    got = err.get("input")
    if kind == "extra_forbidden":
        key = str(err["loc"][-1])
        return f"unknown field{did_you_mean(key, _vocabulary())}"
    if kind == "missing":
        return "required field is missing"
    if kind == "union_tag_invalid":
        return f"unknown type {got.get('type')!r}: expected one of {', '.join(_TRIGGER_TYPES)}"
    if kind == "union_tag_not_found":
        return f"missing 'type': expected one of {', '.join(_TRIGGER_TYPES)}"
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


def _literal_choices(expected: str) -> list[str]:
    return [c.strip().strip("'") for c in expected.replace(" or ", ",").split(",") if c.strip()]


def diagnostics_from(
    exc: ValidationError, doc: Document | None = None, root: str | None = None
) -> list[Diagnostic]:
    """One diagnostic per pydantic error, with YAML field paths (``spec.tasks[1].train.lossMetric``), or paths
    under ``root`` for an object built in Python (``TrainTask.train.lossMetrik``)."""
    out: list[Diagnostic] = []
    for err in exc.errors():
        path = _yaml_path(tuple(err["loc"]), root)
        line = doc.line_of(path) if doc is not None else None
        diag = Diagnostic(path, _message(err), line=line)
        if diag not in out:
            out.append(diag)
    return out
