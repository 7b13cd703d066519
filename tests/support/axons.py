"""Small Axons for compiler tests and what they compile to (test support); an Axon is read from its YAML
form, as a user's file is.

>>> axon = one_task_axon("sp", {"name": "Pi", "spark": {"image": "spark:3.5.5", "sparkSpec": {}}})
>>> [t.name for t in axon.tasks], axon.volume_claim_template.name
(['Pi'], 'store')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from myelin_sdk import Axon, Bundle, CompileOptions
from myelin_sdk.compiler import compile_axon

from support.resources import created_objects

__all__ = ["compiled_file", "created_object", "one_task_axon"]


def one_task_axon(name: str, task: dict[str, Any], **spec: Any) -> Axon:
    """The Axon ``name`` of the one task ``task`` (its YAML form), with a claim-template volume ``store``
    of 1Gi and any further ``spec`` fields (YAML names)."""
    document = {
        "apiVersion": "myelin.io/v1alpha1",
        "kind": "Axon",
        "metadata": {"name": name},
        "spec": {
            "volumeClaimTemplate": {
                "metadata": {"name": "store"},
                "spec": {"resources": {"requests": {"storage": "1Gi"}}},
            },
            "tasks": [task],
            **spec,
        },
    }
    return Axon.from_yaml(yaml.safe_dump(document))


def compiled_file(path: Path) -> tuple[Bundle, list[dict[str, Any]]]:
    """The Axon file ``path`` compiled for namespace ``ml``, and the objects its ``resource`` steps create."""
    bundle = compile_axon(Axon.from_file(path), CompileOptions(namespace="ml"))
    return bundle, list(created_objects(bundle))


def created_object(axon: Axon, kind: str, options: CompileOptions | None = None) -> dict[str, Any]:
    """The one object of ``kind`` that the ``resource`` steps of ``axon`` compiled with ``options`` create."""
    (created,) = [d for d in created_objects(compile_axon(axon, options)) if d["kind"] == kind]
    return created
