"""Names, labels and metadata shared by every compiled object."""

from __future__ import annotations

from typing import Any

from ..config import CompileOptions
from ..names import dns_label
from ..spec import Axon

PART_OF = "app.kubernetes.io/part-of"
MANAGED_BY = "app.kubernetes.io/managed-by"
AXON_LABEL = "myelin.io/axon"
TASK_LABEL = "myelin.io/task"
SENSOR_LABEL = "myelin.io/sensor"
ORIGINAL_NAME = "myelin.io/name"


def canonical(value: Any) -> Any:
    """Free-form dicts (a claim spec, a volume source) with their keys sorted, so that equal axons give
    equal bytes whatever order their YAML or Python wrote the keys in."""
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value, key=str)}  # key=str: lint refuses int keys
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def labels(axon: Axon, **extra: str) -> dict[str, str]:
    """The labels every object of ``axon`` carries, plus ``extra`` (``task=...`` -> ``myelin.io/task``)."""
    out = {PART_OF: "myelin", MANAGED_BY: "myelin-sdk", AXON_LABEL: axon.name}
    out.update({f"myelin.io/{k}": v for k, v in extra.items()})
    return out


def metadata(
    axon: Axon, name: str, options: CompileOptions, original: str | None = None, **extra: str
) -> dict[str, Any]:
    """``metadata`` with name, namespace (when set), labels and the original Axon name as an annotation."""
    md: dict[str, Any] = {"name": name}
    namespace = options.namespace or axon.namespace
    if namespace:
        md["namespace"] = namespace
    md["labels"] = labels(axon, **extra)
    if original is not None:
        md["annotations"] = {ORIGINAL_NAME: original}
    return md


def task_template_name(axon: Axon, task: str) -> str:
    """The WorkflowTemplate name of a task: ``<axon>-<task>`` in kebab case, at most 63 characters."""
    return dns_label(axon.name, task)


def claim_name(axon: Axon) -> str:
    """The PersistentVolumeClaim made from the axon's ``volumeClaimTemplate``."""
    assert axon.volume_claim_template is not None
    return dns_label(axon.name, axon.volume_claim_template.name)
