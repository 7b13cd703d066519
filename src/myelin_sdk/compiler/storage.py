"""The shared volume: a PersistentVolumeClaim from ``volumeClaimTemplate``, or the raw ``volume`` as given.

Every task and model pod mounts it at ``/axon-store`` (``STORE_MOUNT``) under the volume name ``axon-store``.
"""

from __future__ import annotations

from typing import Any

from ..config import CompileOptions
from ..spec import Axon
from .meta import canonical, claim_name, metadata

VOLUME_NAME = "axon-store"


def persistent_volume_claim(axon: Axon, options: CompileOptions) -> dict[str, Any] | None:
    """The PVC to create from the axon's claim template (``None`` without one)."""
    template = axon.volume_claim_template
    if template is None:
        return None
    md = metadata(axon, claim_name(axon), options, original=template.name)
    md["labels"] = {**template.metadata.labels, **md["labels"]}
    if template.metadata.annotations:
        md["annotations"] = {**template.metadata.annotations, **md["annotations"]}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": md,
        "spec": canonical(template.spec),
    }


def store_volume(axon: Axon) -> dict[str, Any] | None:
    """The pod volume named ``axon-store`` (``None`` when the axon declares no volume)."""
    if axon.volume_claim_template is not None:
        return {"name": VOLUME_NAME, "persistentVolumeClaim": {"claimName": claim_name(axon)}}
    if axon.volume is not None:
        return {"name": VOLUME_NAME, **canonical(axon.volume.source)}
    return None
