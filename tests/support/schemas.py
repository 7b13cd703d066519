"""Validate compiled Kubernetes manifests against upstream schemas (test support only).

The schemas are *test data* kept outside the project, in ``<project>/../shared/schemas``
(override with the ``MYELIN_SCHEMAS_DIR`` environment variable); see the README.md there
for where every file comes from.  Nothing here is part of the ``myelin_sdk`` package.

Dispatch on ``apiVersion`` + ``kind``:

* Argo Workflows kinds  -> ``argo-workflows/schema.json`` definitions (JSON Schema 2020-12)
* Argo Events kinds     -> ``argo-events/schema.json`` definitions (draft 7)
* Argo Rollouts analysis, SeldonDeployment, prometheus-operator, TFJob, SparkApplication kinds
                        -> the CRD's ``openAPIV3Schema`` of the served version (draft 7)
* Katib Experiment      -> ``katib/swagger.json`` ``components.schemas`` (OpenAPI 3, draft 7)
* Kubernetes built-in kinds -> the schemas shipped by the ``kubernetes-validate`` package
  (its ``-strict`` flavour, which already closes every object).

An unknown ``apiVersion``/``kind`` is reported as an error, never as valid.

Strict mode (the default) closes every object schema that declares ``properties`` (see
:func:`close_object_schemas`) so that a misspelled field is an error instead of being
silently accepted, which is what the upstream schemas do on their own.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator, Draft202012Validator, ValidationError
from jsonschema.protocols import Validator
from referencing import Registry, Resource

__all__ = [
    "DEFAULT_SCHEMAS_DIR",
    "K8S_VERSION",
    "SCHEMAS_ENV_VAR",
    "SchemaValidator",
    "SchemasNotFoundError",
    "assert_valid",
    "close_object_schemas",
    "format_path",
]

SCHEMAS_ENV_VAR = "MYELIN_SCHEMAS_DIR"
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # tests/support/schemas.py -> project root
DEFAULT_SCHEMAS_DIR = PROJECT_ROOT / ".." / "shared" / "schemas"

#: Kubernetes version whose built-in schemas (shipped by ``kubernetes-validate``) are used.
K8S_VERSION = "1.33.0"

_MAX_MESSAGE_CHARS = 400


# --------------------------------------------------------------------------- dispatch table


@dataclass(frozen=True)
class _Definition:
    """A definition inside one of the Argo JSON-schema files."""

    file: str
    definition: str
    draft: type[Validator]


@dataclass(frozen=True)
class _Crd:
    """The ``openAPIV3Schema`` of one version of a CustomResourceDefinition file."""

    file: str
    version: str


@dataclass(frozen=True)
class _OpenApi:
    """A schema of an OpenAPI 3 document's ``components.schemas`` (Katib's ``swagger.json``)."""

    file: str
    schema: str


_AW = "argo-workflows/schema.json"
_AE = "argo-events/schema.json"

_SOURCES: dict[tuple[str, str], _Definition | _Crd | _OpenApi] = {
    **{
        ("argoproj.io/v1alpha1", kind): _Definition(
            _AW, f"io.argoproj.workflow.v1alpha1.{kind}", Draft202012Validator
        )
        for kind in ("WorkflowTemplate", "Workflow", "CronWorkflow", "ClusterWorkflowTemplate")
    },
    **{
        ("argoproj.io/v1alpha1", kind): _Definition(
            _AE, f"io.argoproj.events.v1alpha1.{kind}", Draft7Validator
        )
        for kind in ("EventSource", "Sensor", "EventBus")
    },
    ("argoproj.io/v1alpha1", "AnalysisRun"): _Crd("argo-rollouts/argoproj.io_analysisruns.yaml", "v1alpha1"),
    ("argoproj.io/v1alpha1", "AnalysisTemplate"): _Crd(
        "argo-rollouts/argoproj.io_analysistemplates.yaml", "v1alpha1"
    ),
    ("machinelearning.seldon.io/v1", "SeldonDeployment"): _Crd(
        "seldon-core/machinelearning.seldon.io_seldondeployments.yaml", "v1"
    ),
    ("monitoring.coreos.com/v1", "PrometheusRule"): _Crd(
        "prometheus-operator/monitoring.coreos.com_prometheusrules.yaml", "v1"
    ),
    ("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig"): _Crd(
        "prometheus-operator/monitoring.coreos.com_alertmanagerconfigs.yaml", "v1alpha1"
    ),
    ("kubeflow.org/v1", "TFJob"): _Crd("kubeflow-training/kubeflow.org_tfjobs.yaml", "v1"),
    ("sparkoperator.k8s.io/v1beta2", "SparkApplication"): _Crd(
        "spark-operator/sparkoperator.k8s.io_sparkapplications.yaml", "v1beta2"
    ),
    # Katib's CRDs carry no schema: its OpenAPI document is the real one
    ("kubeflow.org/v1beta1", "Experiment"): _OpenApi("katib/swagger.json", "v1beta1.Experiment"),
}

#: Files that must exist in the schemas directory.
REQUIRED_FILES: tuple[str, ...] = tuple(sorted({src.file for src in _SOURCES.values()}))

#: Built-in kinds the harness is exercised with; any other built-in kind that
#: kubernetes-validate ships a schema for is validated too.
CORE_KINDS: tuple[tuple[str, str], ...] = (
    ("v1", "ServiceAccount"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Service"),
)


class SchemasNotFoundError(FileNotFoundError):
    """The upstream schemas directory (or a file in it) is missing."""


# --------------------------------------------------------------------------- loading (cached)


class _CrdLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Fast YAML loader for the multi-MB CRD files.

    Quirk: the AlertmanagerConfig CRD has ``enum: [..., =, =~, ...]`` (an unquoted ``=``),
    which YAML 1.1 tags as ``tag:yaml.org,2002:value``; PyYAML has no constructor for it
    (yaml/pyyaml#89), so read it as the plain string it is.
    """


_CrdLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


@functools.cache
def _load_file(path: str) -> Any:
    with open(path, encoding="utf-8") as fh:
        if path.endswith(".json"):
            return json.load(fh)
        return yaml.load(fh, Loader=_CrdLoader)


@functools.cache
def _definitions(path: str, strict: bool) -> dict[str, Any]:
    """The (strictified) ``definitions`` of an Argo JSON-schema file, shared by its kinds."""
    document = _load_file(path)
    closed: dict[str, Any] = close_object_schemas({"definitions": document["definitions"]}, strict=strict)
    return closed["definitions"]  # type: ignore[no-any-return]


def _ensure_envelope_allowed(root: dict[str, Any]) -> None:
    """Keep ``apiVersion``/``kind``/``metadata`` allowed on a closed top-level schema."""
    if root.get("additionalProperties") is False:
        # (a new dict: the schema's own ``properties`` may be shared through a cache)
        root["properties"] = {"apiVersion": {}, "kind": {}, "metadata": {}, **root.get("properties", {})}


def _build_definition_validator(
    schemas_dir: str, api_version: str, src: _Definition, strict: bool
) -> Validator:
    path = os.path.join(schemas_dir, src.file)
    definitions = dict(_definitions(path, strict))
    if src.definition not in definitions:
        raise KeyError(f"{src.definition} not found in {path}")
    root = dict(definitions[src.definition])
    _ensure_envelope_allowed(root)
    definitions[src.definition] = root
    schema: dict[str, Any] = {"$ref": f"#/definitions/{src.definition}", "definitions": definitions}
    if src.draft is Draft202012Validator:
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return src.draft(schema)


def _build_crd_validator(schemas_dir: str, api_version: str, kind: str, src: _Crd, strict: bool) -> Validator:
    path = os.path.join(schemas_dir, src.file)
    crd = _load_file(path)
    group = api_version.split("/", 1)[0]
    if crd["spec"]["group"] != group or crd["spec"]["names"]["kind"] != kind:
        raise ValueError(f"{path} is the CRD of {crd['spec']['names']['kind']}.{crd['spec']['group']}")
    (version,) = (v for v in crd["spec"]["versions"] if v["name"] == src.version)
    schema = close_object_schemas(version["schema"]["openAPIV3Schema"], strict=strict, openapi=True)
    _ensure_envelope_allowed(schema)
    return Draft7Validator(schema)


def _build_openapi_validator(schemas_dir: str, src: _OpenApi, strict: bool) -> Validator:
    path = os.path.join(schemas_dir, src.file)
    schemas = {
        name: close_object_schemas(sub, strict=strict, openapi=True)
        for name, sub in _load_file(path)["components"]["schemas"].items()
    }
    if src.schema not in schemas:
        raise KeyError(f"{src.schema} not found in {path}")
    root = dict(schemas[src.schema])
    _ensure_envelope_allowed(root)
    schemas[src.schema] = root
    return Draft7Validator({"$ref": f"#/components/schemas/{src.schema}", "components": {"schemas": schemas}})


@functools.cache
def _k8s_definitions(schema_dir: str) -> Resource[Any]:
    defs = json.loads((resources.files("kubernetes_validate") / schema_dir / "_definitions.json").read_text())
    return Resource.from_contents(defs)


def _build_k8s_validator(api_version: str, kind: str, strict: bool, k8s_version: str) -> Validator | None:
    """A validator from kubernetes-validate's shipped schemas, or None if it has none.

    ``kubernetes_validate.validate()`` itself re-reads the 1.8 MB definitions file on every
    call and stops at the first error, so build (and cache) a validator from its files.
    """
    group, _, version = api_version.rpartition("/")
    # kubernetes-validate's file naming: rbac.authorization.k8s.io/v1 -> rbac-v1, v1 -> v1
    suffix = f"{group.split('.', 1)[0]}-{version}" if group else version
    # Its "-strict" schemas set additionalProperties: false on every object (checked by tests).
    schema_dir = f"kubernetes-json-schema/v{k8s_version}-local{'-strict' if strict else ''}"
    base = resources.files("kubernetes_validate") / schema_dir
    if not base.is_dir():
        raise ValueError(f"kubernetes-validate does not ship Kubernetes {k8s_version} schemas")
    schema_file = base / f"{kind.lower()}-{suffix}.json"
    if not re.fullmatch(r"[a-z0-9-]+", f"{kind.lower()}-{suffix}") or not schema_file.is_file():
        return None
    schema = json.loads(schema_file.read_text())
    # The file name is lossy (any group starting with "rbac." maps to "rbac-"): require the
    # exact group/version/kind.
    gvks = schema.get("x-kubernetes-group-version-kind", [])
    if {"group": group, "version": version, "kind": kind} not in gvks:
        return None
    registry: Registry[Any] = Registry().with_resources(
        [
            ("https://kubernetes.io/api/_definitions.json", _k8s_definitions(schema_dir)),
            (schema["$id"], Resource.from_contents(schema)),
        ]
    )
    return Draft202012Validator(schema, registry=registry)


@functools.cache
def _validator_for(
    schemas_dir: str, api_version: str, kind: str, strict: bool, k8s_version: str
) -> Validator | None:
    """The validator for one apiVersion/kind (None if there is no schema), built once."""
    src = _SOURCES.get((api_version, kind))
    if isinstance(src, _Definition):
        return _build_definition_validator(schemas_dir, api_version, src, strict)
    if isinstance(src, _Crd):
        return _build_crd_validator(schemas_dir, api_version, kind, src, strict)
    if isinstance(src, _OpenApi):
        return _build_openapi_validator(schemas_dir, src, strict)
    # Anything else: a Kubernetes built-in kind, if kubernetes-validate ships its schema
    # (checked against the exact group/version/kind, so unknown CRDs get None).
    return _build_k8s_validator(api_version, kind, strict, k8s_version)


# --------------------------------------------------------------------------- strict mode

# JSON-schema keywords whose value is a map name -> subschema, a subschema, or a list of them.
_SCHEMA_MAP_KEYWORDS = ("properties", "patternProperties", "definitions", "$defs", "dependentSchemas")
_SUBSCHEMA_KEYWORDS = (
    "additionalProperties",
    "items",
    "additionalItems",
    "contains",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
    "unevaluatedProperties",
    "unevaluatedItems",
)
_COMPOSITION_KEYWORDS = ("allOf", "anyOf", "oneOf")
_OPEN_MARKERS = (
    "additionalProperties",
    "patternProperties",
    "unevaluatedProperties",
    "x-kubernetes-preserve-unknown-fields",
)


def _may_declare_properties(branch: Any) -> bool:
    if not isinstance(branch, dict):
        return False
    if "properties" in branch or "$ref" in branch or "required" in branch:
        return True
    return any(_may_declare_properties(b) for kw in _COMPOSITION_KEYWORDS for b in branch.get(kw, ()))


def _should_close(schema: dict[str, Any], in_composition: bool) -> bool:
    if "properties" not in schema or any(marker in schema for marker in _OPEN_MARKERS):
        return False
    # A branch of allOf/anyOf/oneOf: ``additionalProperties`` only sees the branch's own
    # ``properties``, so closing it would reject fields declared by a sibling branch.
    if in_composition:
        return False
    # Likewise a schema whose composed branches (or whose $ref, in 2020-12 where siblings of
    # $ref apply) declare fields: closing it would reject those fields.
    if "$ref" in schema or "if" in schema:
        return False
    return not any(_may_declare_properties(b) for kw in _COMPOSITION_KEYWORDS for b in schema.get(kw, ()))


def close_object_schemas(
    schema: Any, *, strict: bool = True, openapi: bool = False, _in_composition: bool = False
) -> Any:
    """Return a copy of ``schema`` prepared for validation (the input is not modified).

    * ``strict``: add ``additionalProperties: false`` to every object schema that has
      ``properties`` and none of ``additionalProperties``, ``patternProperties``,
      ``unevaluatedProperties``, ``x-kubernetes-preserve-unknown-fields`` -- except where
      that would be wrong under composition (see :func:`_should_close`).  In the shipped
      schemas the only composition is the CRDs' int-or-string ``anyOf: [{type: integer},
      {type: string}]`` (no properties) and the files' top-level ``oneOf`` of kinds, which
      is not used (validation starts at the kind's definition).
    * ``openapi``: translate OpenAPI's ``nullable: true`` (used in CRDs, e.g. the Seldon
      ``componentSpecs[].metadata.creationTimestamp``) to JSON Schema by allowing ``null``.

    Only schema positions are walked: property *names* such as ``allOf`` inside
    ``properties`` and values of ``enum``/``default``/``example`` are left alone.
    """
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    for kw in _SCHEMA_MAP_KEYWORDS:
        value = out.get(kw)
        if isinstance(value, dict):
            out[kw] = {
                name: close_object_schemas(sub, strict=strict, openapi=openapi) for name, sub in value.items()
            }
    for kw in _SUBSCHEMA_KEYWORDS:
        value = out.get(kw)
        if isinstance(value, dict):
            out[kw] = close_object_schemas(value, strict=strict, openapi=openapi)
        elif isinstance(value, list):  # draft-7 tuple ``items``
            out[kw] = [close_object_schemas(sub, strict=strict, openapi=openapi) for sub in value]
    for kw in (*_COMPOSITION_KEYWORDS, "prefixItems"):
        value = out.get(kw)
        if isinstance(value, list):
            out[kw] = [
                close_object_schemas(sub, strict=strict, openapi=openapi, _in_composition=kw != "prefixItems")
                for sub in value
            ]
    if openapi and out.get("nullable") is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    if strict and _should_close(out, _in_composition):
        out["additionalProperties"] = False
    return out


# --------------------------------------------------------------------------- error reporting

_PLAIN_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*")


def format_path(parts: Iterable[str | int]) -> str:
    """``["spec", "templates", 0, "container"]`` -> ``spec.templates[0].container``.

    Keys that are not identifier-like (e.g. label keys) are bracketed:
    ``metadata.labels["app.kubernetes.io/name"]``.  The document itself is ``<root>``.
    """
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out or "<root>"


def _shorten(message: str) -> str:
    if len(message) <= _MAX_MESSAGE_CHARS:
        return message
    return message[: _MAX_MESSAGE_CHARS - 1] + "…"


def _is_tolerated(kind: str, error: ValidationError) -> bool:
    """The one upstream schema quirk we ignore.

    DESIGN: "The Argo Events JSON schema marks webhook ``url`` as required, but upstream's own
    webhook examples omit it; a validator may ignore exactly that error."  (``url`` is only
    used to register webhooks with third parties; a plain webhook EventSource doesn't need
    it.)  So: only a *missing* ``url`` on ``spec.webhook.<name>`` of an EventSource. Every
    other required ``url`` (other event sources, the http trigger, ...) is still enforced.
    """
    path = list(error.absolute_path)
    return (
        kind == "EventSource"
        and error.validator == "required"
        and len(path) == 3
        and path[:2] == ["spec", "webhook"]
        and isinstance(error.instance, dict)
        and "url" not in error.instance
        and error.message == "'url' is a required property"
    )


def _error_entries(error: ValidationError) -> Iterator[tuple[str, str]]:
    path = list(error.absolute_path)
    if (
        error.validator == "additionalProperties"
        and error.validator_value is False
        and isinstance(error.instance, dict)
    ):
        # Name the offending field in the path: spec.templates[0].container.imagee
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        patterns = error.schema.get("patternProperties", {}) if isinstance(error.schema, dict) else {}
        extras = [
            key for key in error.instance if key not in known and not any(re.search(p, key) for p in patterns)
        ]
        if extras:
            for key in extras:
                yield (
                    format_path([*path, key]),
                    f"Additional properties are not allowed ({key!r} was unexpected)",
                )
            return
    yield format_path(path), _shorten(error.message)


def _label(doc: Mapping[str, Any]) -> str:
    kind = doc.get("kind") or "<no kind>"
    metadata = doc.get("metadata")
    name = None
    if isinstance(metadata, Mapping):
        name = metadata.get("name") or (
            f"{metadata['generateName']}*" if metadata.get("generateName") else None
        )
    return f"{kind}/{name or '<unnamed>'}"


# --------------------------------------------------------------------------- public API


def _resolve_schemas_dir(schemas_dir: str | os.PathLike[str] | None) -> tuple[Path, str]:
    if schemas_dir is not None:
        return Path(schemas_dir), "the schemas_dir argument"
    env = os.environ.get(SCHEMAS_ENV_VAR)
    if env:
        return Path(env), f"${SCHEMAS_ENV_VAR}"
    return (
        DEFAULT_SCHEMAS_DIR,
        f"the default <project>/../shared/schemas (set ${SCHEMAS_ENV_VAR} to override)",
    )


class SchemaValidator:
    """Validate Kubernetes manifests (dicts) against the upstream schemas.

    >>> SchemaValidator().validate(doc)   # [] when valid
    ["WorkflowTemplate/train: spec.templates[0].container.imagee: Additional properties ..."]

    Validators are built lazily, once per (schemas dir, apiVersion, kind, strict) for the
    whole process, so instances are cheap.
    """

    def __init__(
        self,
        schemas_dir: str | os.PathLike[str] | None = None,
        *,
        strict: bool = True,
        k8s_version: str = K8S_VERSION,
    ) -> None:
        path, origin = _resolve_schemas_dir(schemas_dir)
        self.schemas_dir = path.resolve()
        self.strict = strict
        self.k8s_version = k8s_version
        if not self.schemas_dir.is_dir():
            raise SchemasNotFoundError(
                f"Upstream schemas directory not found: {self.schemas_dir} (from {origin}). "
                f"Put the upstream schema files there (see its README.md) or point "
                f"${SCHEMAS_ENV_VAR} at the directory that holds them."
            )
        k8s_dir = (
            resources.files("kubernetes_validate") / f"kubernetes-json-schema/v{k8s_version}-local-strict"
        )
        if not k8s_dir.is_dir():
            raise ValueError(f"kubernetes-validate does not ship Kubernetes {k8s_version} schemas")
        missing = [f for f in REQUIRED_FILES if not (self.schemas_dir / f).is_file()]
        if missing:
            raise SchemasNotFoundError(
                f"Upstream schemas directory {self.schemas_dir} (from {origin}) lacks: {', '.join(missing)}"
            )

    def _validator(self, api_version: str, kind: str) -> Validator | None:
        return _validator_for(str(self.schemas_dir), api_version, kind, self.strict, self.k8s_version)

    def validate(self, doc: Mapping[str, Any]) -> list[str]:
        """Return ``"<kind>/<name>: <path>: <message>"`` strings; an empty list means valid."""
        if not isinstance(doc, Mapping):
            return [f"<document>: <root>: expected a mapping (dict), got {type(doc).__name__}"]
        label = _label(doc)
        api_version, kind = doc.get("apiVersion"), doc.get("kind")
        if (
            not (isinstance(api_version, str) and isinstance(kind, str))
            or (validator := self._validator(api_version, kind)) is None
        ):
            return [f"{label}: <root>: no schema for apiVersion={api_version!r} kind={kind!r}"]
        entries = {
            entry
            for error in validator.iter_errors(doc)
            if not _is_tolerated(kind, error)
            for entry in _error_entries(error)
        }
        return [f"{label}: {path}: {message}" for path, message in sorted(entries)]

    def validate_all(self, docs: Iterable[Mapping[str, Any]]) -> list[str]:
        """All errors of all documents (see :meth:`validate`)."""
        return [error for doc in docs for error in self.validate(doc)]


@functools.lru_cache(maxsize=1)
def _default_validator() -> SchemaValidator:
    return SchemaValidator()


def assert_valid(
    docs: Iterable[Mapping[str, Any]] | Mapping[str, Any],
    validator: SchemaValidator | None = None,
    *,
    allow_empty: bool = False,
) -> None:
    """Raise AssertionError listing every error of every document.

    A single dict is accepted too.  An empty ``docs`` fails unless ``allow_empty`` (a
    compiler that produced nothing should not pass as "valid").
    """
    validator = validator or _default_validator()
    doc_list = [docs] if isinstance(docs, Mapping) else list(docs)
    if not doc_list and not allow_empty:
        raise AssertionError("assert_valid: no documents to validate")
    failures = {i: errs for i, doc in enumerate(doc_list) if (errs := validator.validate(doc))}
    if failures:
        count = sum(len(errs) for errs in failures.values())
        lines = [
            f"{count} schema error(s) in {len(failures)} of {len(doc_list)} document(s)"
            f"{' (strict mode)' if validator.strict else ''}:"
        ]
        for i, errs in failures.items():
            lines.extend(f"  [doc {i}] {err}" for err in errs)
        raise AssertionError("\n".join(lines))
