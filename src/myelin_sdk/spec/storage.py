"""The shared volume every task and model sees at ``/axon-store`` (``MODEL_PATH``, ``DATA_PATH`` are in it).

Either a raw Kubernetes volume source (``volume``) or a claim template (``volumeClaimTemplate``) from which
the bundle creates one PersistentVolumeClaim shared by all runs of the axon::

    VolumeClaimTemplate("axon-store", storage="1Gi", access_modes=["ReadWriteMany"], storage_class_name="nfs")
    Volume("axon-store", hostPath={"path": "/var/lib/myelin"})

Locally the volume is a folder in the run's work dir.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, model_validator

from ._base import Registered, SpecModel


class Volume(Registered):
    """A Kubernetes volume source, kept as written (``flexVolume``, ``hostPath``, ``nfs``, ...)."""

    def __init__(self, name: str | None = None, /, **data: Any) -> None:
        super().__init__(name, **data)

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1)

    @model_validator(mode="after")
    def _has_source(self) -> Volume:
        if not self.model_extra:
            raise ValueError(
                "a volume needs a source, e.g. persistentVolumeClaim, nfs, hostPath or flexVolume"
            )
        return self

    @property
    def source(self) -> dict[str, Any]:
        """The volume source fields, e.g. ``{"hostPath": {"path": "/var/lib/myelin"}}``."""
        return dict(self.model_extra or {})


class ObjectMeta(SpecModel):
    """The ``metadata`` of a claim template: its name, and labels or annotations to put on the claim."""

    name: str = Field(min_length=1)
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}


class VolumeClaimTemplate(Registered):
    """A PersistentVolumeClaim template; ``spec`` is a Kubernetes ``PersistentVolumeClaimSpec``.

    In Python the common fields have keywords: ``storage``, ``access_modes``, ``storage_class_name``.
    """

    metadata: ObjectMeta
    spec: dict[str, Any]

    def __init__(
        self,
        name: str | None = None,
        /,
        *,
        storage: str | None = None,
        access_modes: list[str] | None = None,
        storage_class_name: str | None = None,
        **data: Any,
    ) -> None:
        if name is not None:
            data.setdefault("metadata", {"name": name})
        if storage or access_modes or storage_class_name:
            spec: dict[str, Any] = dict(data.pop("spec", {}))
            spec.setdefault("accessModes", access_modes or ["ReadWriteOnce"])
            if storage_class_name:
                spec.setdefault("storageClassName", storage_class_name)
            if storage:
                spec.setdefault("resources", {"requests": {"storage": storage}})
            data["spec"] = spec
        super().__init__(**data)

    @property
    def name(self) -> str:
        return self.metadata.name


class Parameter(Registered):
    """A workflow parameter, readable in task ``env`` values as ``{{workflow.parameters.<name>}}``."""

    def __init__(self, name: str | None = None, /, **data: Any) -> None:
        super().__init__(name, **data)

    name: str = Field(min_length=1)
    value: str = ""
