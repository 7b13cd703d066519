"""Lint checks on raw values: what compile, hera or the cluster would choke on, and risky host access.

Part of :func:`myelin_sdk.lint.semantic_diagnostics` (so ``compile`` refuses the same errors):

- errors: an empty ``image``; a volume source that is not a mapping (``flexVolume: [..]``), a mapping key
  that is not a string or an ``options`` value that is not a string (Kubernetes holds ``map[string]string``);
  integers beyond what their target holds (``replicas`` is an int32; ``destinationIndex`` names one of at
  most ``MAX_VERSIONS`` served versions);
- warnings: a ``hostPath`` volume (the pods see the node's files) and privileged settings anywhere in the raw
  Kubernetes parts of an axon (``privileged: true``, ``hostNetwork: true``, ``runAsUser: 0``, ...).

>>> from myelin_sdk.spec import Axon, Volume
>>> with Axon("demo") as axon:
...     _ = Volume("store", hostPath={"path": "/"})
>>> [(d.severity, d.path) for d in input_diagnostics(axon)]
[('warning', 'spec.volume.hostPath')]
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from .errors import Diagnostic, excerpt
from .spec import Axon

__all__ = ["INT32_MAX", "MAX_VERSIONS", "input_diagnostics"]

#: What a Kubernetes ``int32`` field holds (``replicas``, counts).
INT32_MAX = 2**31 - 1
#: Versions one deployer can serve at once: ``destinationIndex`` and ``shadow`` are below this.
MAX_VERSIONS = 100
#: Settings that give a pod the node's powers: (key, risky value or None for "any value").
_PRIVILEGED: dict[str, Any] = {
    "privileged": True,
    "allowPrivilegeEscalation": True,
    "hostNetwork": True,
    "hostPID": True,
    "hostIPC": True,
    "runAsNonRoot": False,
}
_RISKY_CAPABILITIES = {"ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE"}


def input_diagnostics(axon: Axon) -> list[Diagnostic]:
    """The raw-value errors and host-access warnings of ``axon`` (see the module docstring)."""
    out: list[Diagnostic] = []
    for i, task in enumerate(axon.tasks):
        body = task.body
        if body.image is not None and not body.image.strip():
            out.append(
                Diagnostic(
                    f"spec.tasks[{i}].{task.kind}.image",
                    "must not be empty: expected an image reference such as 'python:3.11-slim' "
                    "(or leave image out and give imageBuild)",
                )
            )
        build = body.image_build
        if build is not None:
            bpath = f"spec.tasks[{i}].{task.kind}.imageBuild"
            for j, volume in enumerate(build.volumes):
                out += _k8s_schema("Volume", volume, f"{bpath}.volumes[{j}]")
            for j, mount in enumerate(build.volume_mounts):
                out += _k8s_schema("VolumeMount", mount, f"{bpath}.volumeMounts[{j}]")
        if body.resources is not None:
            rpath = f"spec.tasks[{i}].{task.kind}.resources"
            for part, values in (("requests", body.resources.requests), ("limits", body.resources.limits)):
                for key, value in values.items():
                    problem = _quantity_problem(value)
                    if problem:
                        out.append(Diagnostic(f"{rpath}.{part}.{key}", problem))
        replicas = getattr(body, "replicas", None)
        if isinstance(replicas, int) and replicas > INT32_MAX:
            out.append(_too_big(f"spec.tasks[{i}].{task.kind}.replicas", replicas, INT32_MAX))
    for i, artifact in enumerate(axon.artifacts):
        depth = getattr(artifact.git, "depth", None) if getattr(artifact, "git", None) else None
        if isinstance(depth, int) and depth > INT32_MAX:
            out.append(_too_big(f"spec.artifacts[{i}].git.depth", depth, INT32_MAX))
    for i, sensor in enumerate(axon.sensors):
        spath = f"spec.sensors[{i}]"
        for j, condition in enumerate(sensor.conditions):
            for name, alias in (("count", "count"), ("failure_limit", "failureLimit")):
                limit = getattr(condition, name, None)
                if isinstance(limit, int) and limit > INT32_MAX:
                    out.append(_too_big(f"{spath}.conditions[{j}].{alias}", limit, INT32_MAX))
        for j, step in enumerate(sensor.tasks):
            if step.deployer is not None:
                out += _deployer(step.deployer, f"{spath}.tasks[{j}].deployer")
    if axon.volume is not None:
        found = _volume(axon.volume.source, "spec.volume")
        if not any(d.severity == "error" for d in found):
            found += _volume_schema(axon.volume.source, "spec.volume")
        out += found
    try:
        document = axon.to_document()
    except (ValueError, RecursionError):  # pydantic's "Maximum serialization depth exceeded"
        out.append(Diagnostic("spec", "nested too deeply to serialize: a raw mapping is ~100 levels deep"))
        return out
    out += _privileged(document)
    return out


def _too_big(
    path: str, value: int, limit: int, why: str = "what a Kubernetes int32 field holds"
) -> Diagnostic:
    shown = excerpt(str(value), 24).strip("'")
    return Diagnostic(path, f"{shown} is too large: expected at most {limit} ({why})")


def _quantity_problem(value: Any) -> str:
    """Why a Kubernetes resource quantity cannot be ``value`` (``""`` when it can)."""
    if isinstance(value, bool):
        return "expected a quantity such as 500m, 2 or 1Gi, got true/false"
    if isinstance(value, float) and not math.isfinite(value):
        return f"expected a finite quantity such as 500m, 2 or 1Gi, got {value}"
    if isinstance(value, (int, float)) and value < 0:
        return f"expected a quantity of at least 0, got {value}"
    if isinstance(value, int) and value > 2**63 - 1:
        return f"{excerpt(str(value), 24).strip(chr(39))} is too large for a Kubernetes quantity"
    if isinstance(value, str) and not value.strip():
        return "expected a quantity such as 500m, 2 or 1Gi, got an empty string"
    return ""


def _deployer(deployer: Any, path: str) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    if isinstance(deployer.replicas, int) and deployer.replicas > INT32_MAX:
        out.append(_too_big(f"{path}.replicas", deployer.replicas, INT32_MAX))
    what = f"one deployer serves at most {MAX_VERSIONS} versions"
    for i, step in enumerate(deployer.rollout_spec):
        rpath = f"{path}.rolloutSpec[{i}]"
        for j, dest in enumerate(step.destinations):
            if dest.destination_index >= MAX_VERSIONS:
                out.append(
                    _too_big(
                        f"{rpath}.destinations[{j}].destinationIndex",
                        dest.destination_index,
                        MAX_VERSIONS - 1,
                        what,
                    )
                )
        shadow = getattr(step, "shadow", None)
        if shadow is not None and shadow.destination_index >= MAX_VERSIONS:
            out.append(
                _too_big(f"{rpath}.shadow.destinationIndex", shadow.destination_index, MAX_VERSIONS - 1, what)
            )
    return out


def _volume(source: dict[str, Any], path: str) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for kind, value in source.items():
        vpath = f"{path}.{kind}"
        if not isinstance(value, dict):
            out.append(
                Diagnostic(
                    vpath,
                    f"expected a mapping (a Kubernetes {kind} volume source), got {type(value).__name__}",
                )
            )
            continue
        for where, key in _non_string_keys(value, vpath):
            out.append(Diagnostic(where, f"mapping keys must be strings, got {excerpt(repr(key))}"))
        options = value.get("options")
        if "options" in value and not isinstance(options, dict):
            out.append(Diagnostic(f"{vpath}.options", "expected a mapping of strings to strings"))
        elif isinstance(options, dict):
            for key, item in options.items():
                if isinstance(key, str) and not isinstance(item, str):
                    out.append(
                        Diagnostic(
                            f"{vpath}.options.{key}",
                            f"expected a string (options map strings to strings), got {type(item).__name__}",
                        )
                    )
        if kind == "hostPath":
            out.append(
                Diagnostic(
                    vpath,
                    f"hostPath volume {excerpt(str(value.get('path', '')))}: every task and model server "
                    f"sees (and may change) the node's own files there; prefer a PersistentVolumeClaim "
                    f"(volumeClaimTemplate)",
                    "warning",
                )
            )
    return out


def _volume_schema(source: dict[str, Any], path: str) -> list[Diagnostic]:
    """The volume source checked against Kubernetes' ``Volume`` (hera's model, which compile uses): an
    unknown source kind, a missing ``path``, a value of the wrong type."""
    from hera.workflows import models as m  # compile imports it anyway; lazy for the CLI's cold start

    from .errors import did_you_mean

    kinds = [info.alias or name for name, info in m.Volume.model_fields.items() if name != "name"]
    out = [
        Diagnostic(f"{path}.{kind}", f"unknown volume source{did_you_mean(kind, kinds)}")
        for kind in source
        if kind not in kinds
    ]
    return out + _k8s_schema("Volume", {"name": "axon-store", **source}, path)


def _k8s_schema(kind: str, value: Any, path: str) -> list[Diagnostic]:
    """``value`` checked against the Kubernetes object ``kind`` (hera's model of it, as compile uses)."""
    from hera.workflows import models as m
    from pydantic import ValidationError

    from .errors import format_path

    try:
        getattr(m, kind).model_validate(value)
    except ValidationError as exc:
        out = []
        for err in exc.errors()[:20]:
            message = str(err["msg"])
            got = err.get("input")
            shown = f", got {type(got).__name__}" if err["type"] != "missing" else ""
            where = format_path([path, *err["loc"]]) if err["loc"] else path
            out.append(Diagnostic(where, f"{message[:1].lower()}{message[1:]}{shown}"))
        return out
    return []


def _non_string_keys(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    stack = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            for key, item in node.items():
                if not isinstance(key, str):
                    yield where, key
                else:
                    stack.append((item, f"{where}.{key}"))
        elif isinstance(node, list):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(node))


def _privileged(document: dict[str, Any]) -> list[Diagnostic]:
    """Warnings for privileged settings anywhere in the document (walked without recursion)."""
    out: list[Diagnostic] = []
    stack: list[tuple[Any, str]] = [(document.get("spec", {}), "spec")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            for key, item in node.items():
                if not isinstance(key, str):
                    continue
                path = f"{where}.{key}"
                if (key in _PRIVILEGED and item is _PRIVILEGED[key]) or (
                    key == "runAsUser" and item == 0 and not isinstance(item, bool)
                ):
                    out.append(
                        Diagnostic(
                            path,
                            f"{key}: {str(item).lower()} gives the pod powers over its node; "
                            f"Pod Security 'restricted' refuses it",
                            "warning",
                        )
                    )
                elif key == "add" and where.endswith(".capabilities") and isinstance(item, list):
                    risky = sorted({c for c in item if isinstance(c, str)} & _RISKY_CAPABILITIES)
                    if risky:
                        out.append(
                            Diagnostic(
                                path,
                                f"adds the capabilities {', '.join(risky)}: they give the pod powers over "
                                f"its node",
                                "warning",
                            )
                        )
                stack.append((item, path))
        elif isinstance(node, list):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(node))
    out.sort(key=lambda d: d.path)
    return out
