"""Axon YAML <-> model: the original Myelin ``kind: Axon`` format, legacy forms included.

>>> axon = Axon.from_yaml(open("recommender-demo.yaml").read())     # doctest: +SKIP
>>> Axon.from_yaml(axon.to_yaml()) == axon                          # doctest: +SKIP
True

Accepted: ``apiVersion`` ``myelin.io/v1alpha1`` or ``myelinproj.io/v1alpha1``; the legacy forms of 2019
(``buiderImage``, ``deploymentType``/``replicas`` on a deploy task, deployer ``models[].{trainer,deployer}``
with or without ``name``, DAG entries with ``task:`` or ``name:``, ``{destination: 0}``, ``tfJob:`` tasks,
flat ``spark:`` fields, sensor ``tasks`` as a list of lists; the model normalises each, see docs/yaml.md).
Errors name the file, the line, the field path and what was expected (worded by :mod:`.spec._errors`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .errors import Diagnostic, MyelinError, did_you_mean, excerpt
from .spec import API_VERSIONS, Axon
from .spec._errors import diagnostics_from as _diagnostics
from .yamlio import Document, load_documents, read_bounded

_METADATA_FIELDS = ("name", "namespace")


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
            f"{str(d.data.get('kind', '?'))[:60]} ({str(d.data.get('apiVersion', 'no apiVersion'))[:60]})"
            for d in docs[:5]
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
    text = read_bounded(path)  # stat + bounded read: a 2 GB file or /dev/zero is refused unread
    return load_axon_document(text, source=str(path))


#: Metadata the API server and kubectl add (``kubectl get axon -o yaml``): read past, not part of the model.
_SERVER_METADATA = frozenset(
    {
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
        "labels",
        "annotations",
        "finalizers",
        "ownerReferences",
    }
)


def from_document(doc: Document, source: str) -> Axon:
    """Validate one ``kind: Axon`` document into the model."""
    data = doc.data
    problems: list[Diagnostic] = []
    api = data.get("apiVersion")
    if api not in API_VERSIONS:
        got = excerpt(api) if isinstance(api, str) else repr(api)[:80]
        problems.append(Diagnostic("apiVersion", f"expected {' or '.join(API_VERSIONS)}, got {got}"))
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        problems.append(Diagnostic("metadata", "expected a mapping with at least a name"))
        metadata = {}
    for key in metadata:
        if key not in _METADATA_FIELDS and key not in _SERVER_METADATA:
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
        problems.extend(diagnostics_from(exc, doc, data=fields))
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


# --- pydantic errors -> diagnostics (one wording for YAML and Python: spec/_errors.py) -------------------


def diagnostics_from(
    exc: ValidationError, doc: Document | None = None, root: str | None = None, data: Any = None
) -> list[Diagnostic]:
    """One diagnostic per pydantic error of validating an Axon's fields (``data``), with YAML field paths
    (``spec.tasks[1].train.lossMetric``) placed on their line of ``doc``."""
    return _diagnostics(exc, Axon, data, root=root, line_of=doc.line_of if doc is not None else None)
