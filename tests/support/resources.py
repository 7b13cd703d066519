"""The objects compiled ``resource`` steps create (test support): a SparkApplication, TFJob or Katib
Experiment travels as YAML text inside an Argo template, so tests read it back to validate it.

>>> [doc["kind"] for doc in created_objects(bundle)]        # doctest: +SKIP
['SparkApplication']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import yaml

__all__ = ["created_objects", "resource_template", "trial_workflow"]


def created_objects(manifests: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every object a ``resource`` step of the WorkflowTemplates creates (not ``{{inputs...}}`` manifests)."""
    for manifest in manifests:
        if manifest["kind"] != "WorkflowTemplate":
            continue
        for template in manifest["spec"]["templates"]:
            resource = template.get("resource")
            if resource and resource["action"] == "create" and not resource["manifest"].startswith("{{"):
                yield yaml.safe_load(resource["manifest"])


def resource_template(manifest: dict[str, Any], name: str = "run") -> dict[str, Any]:
    """The template ``name`` of a WorkflowTemplate, which must be a resource template."""
    (template,) = [t for t in manifest["spec"]["templates"] if t["name"] == name]
    assert "resource" in template, template
    return template


def trial_workflow(experiment: dict[str, Any]) -> dict[str, Any]:
    """The trial Workflow of a Katib Experiment, named (Katib names each trial's) so it can be validated."""
    spec = experiment["spec"]["trialTemplate"]["trialSpec"]
    return {**spec, "metadata": {"name": "trial"}}
