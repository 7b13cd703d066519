"""Security contexts of every container the compiler writes, so its pods meet Pod Security "restricted".

Three kinds of container (docs/security.md says which step is which)::

    container_security("step")    # the SDK's own steps (scripts, shell, crane): restricted, read-only root
    container_security("image")   # a task's or a model's image: restricted, its root stays writable
    container_security("build")   # kaniko: root (it unpacks images into its own root); not "restricted"

Restricted means: not root (``runAsNonRoot``, and every pod runs as :data:`RUN_AS_USER` with
:data:`FS_GROUP` so a shared volume stays writable for every step), no privilege escalation, every
capability dropped, the runtime's default seccomp profile. :func:`lock_down` applies them to a compiled
manifest — the pod-level context of a workflow's pods, each template's containers (an explicit one, set by
the module that wrote the container, is kept), the pod templates of operators' objects, the EventSource
and Sensor pods — and mounts an ``emptyDir`` at ``/tmp`` (``TMPDIR``) in each script step (Python,
read-only root; the shell and crane steps write nothing but their volumes)::

    for manifest in bundle.manifests:
        lock_down(manifest, options)
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any, Literal

import yaml

from ..config import CompileOptions

__all__ = [
    "BUILD_CAPABILITIES",
    "FS_GROUP",
    "RUN_AS_USER",
    "TMP_VOLUME",
    "container_security",
    "lock_down",
    "pod_security",
]

#: The user every pod runs as (images that declare root, like ``python:3.11-slim``, run as this user too).
RUN_AS_USER = 1000
#: The group every pod's volumes belong to (``fsGroup``): each step can write the shared volume.
FS_GROUP = 1000
#: The ``emptyDir`` volume mounted at ``/tmp`` in steps with a read-only root.
TMP_VOLUME = "myelin-tmp"
TMP_PATH = "/tmp"
#: What kaniko needs besides root to unpack base images and run a Dockerfile's ``RUN`` lines.
BUILD_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETFCAP", "SETGID", "SETUID")

Kind = Literal["step", "image", "build"]
_SECCOMP = {"type": "RuntimeDefault"}
#: Argo workflow kinds: their ``spec`` (a CronWorkflow's ``spec.workflowSpec``) is a WorkflowSpec.
_WORKFLOW_KINDS = ("Workflow", "WorkflowTemplate", "CronWorkflow")


def container_security(kind: Kind) -> dict[str, Any]:
    """The ``securityContext`` of a container of ``kind`` (see the module).

    >>> container_security("step")["readOnlyRootFilesystem"], container_security("image")["runAsNonRoot"]
    (True, True)
    >>> container_security("build")["runAsUser"]
    0
    """
    if kind == "build":
        return {
            "allowPrivilegeEscalation": False,
            "capabilities": {"add": list(BUILD_CAPABILITIES), "drop": ["ALL"]},
            "runAsNonRoot": False,
            "runAsUser": 0,
            "seccompProfile": dict(_SECCOMP),
        }
    context: dict[str, Any] = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "seccompProfile": dict(_SECCOMP),
    }
    if kind == "step":
        context["readOnlyRootFilesystem"] = True
    return dict(sorted(context.items()))


def pod_security() -> dict[str, Any]:
    """The pod-level ``securityContext`` of every compiled pod (a container may override it: the build)."""
    return {
        "fsGroup": FS_GROUP,
        "runAsGroup": FS_GROUP,
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "seccompProfile": dict(_SECCOMP),
    }


def _tmp_mount(container: dict[str, Any]) -> bool:
    """Mount the ``/tmp`` emptyDir in a read-only container (and point ``TMPDIR`` at it); True if added."""
    mounts = container.setdefault("volumeMounts", [])
    if any(m.get("mountPath") == TMP_PATH for m in mounts):
        return False
    mounts.append({"mountPath": TMP_PATH, "name": TMP_VOLUME})
    env = container.setdefault("env", [])
    if not any(e.get("name") == "TMPDIR" for e in env):
        env.append({"name": "TMPDIR", "value": TMP_PATH})
    return True


def _secure(container: dict[str, Any], kind: Kind) -> None:
    """Give ``container`` its security context unless it has one."""
    if "securityContext" not in container:
        container["securityContext"] = container_security(kind)


def _kind(container: dict[str, Any], options: CompileOptions, default: Kind) -> Kind:
    return "build" if container.get("image") == options.kaniko_image else default


def _workflow_spec(spec: dict[str, Any], options: CompileOptions) -> None:
    if not spec.get("templates"):  # a Workflow of a WorkflowTemplate: the template has the contexts
        return
    spec.setdefault("securityContext", pod_security())
    needs_tmp = False
    for template in spec.get("templates") or []:
        main = template.get("container")
        if isinstance(main, dict):
            _secure(main, _kind(main, options, "image"))
        script = template.get("script")
        if isinstance(script, dict):  # a script template is always one of the SDK's own (Python) steps
            _secure(script, "step")
            needs_tmp |= _tmp_mount(script)  # where Python's tempfile writes
        for extra in [*(template.get("initContainers") or []), *(template.get("sidecars") or [])]:
            if isinstance(extra, dict):
                _secure(extra, _kind(extra, options, "image"))
        resource = template.get("resource")
        if isinstance(resource, dict) and isinstance(resource.get("manifest"), str):
            resource["manifest"] = _locked_text(resource["manifest"], options)
    if needs_tmp:
        volumes = spec.setdefault("volumes", [])
        if not any(v.get("name") == TMP_VOLUME for v in volumes):
            volumes.append({"emptyDir": {}, "name": TMP_VOLUME})


def _locked_text(text: str, options: CompileOptions) -> str:
    """A ``resource`` step's manifest (YAML text: a SparkApplication, TFJob, Katib Experiment) locked down;
    the text unchanged when it is not an object with a ``spec`` (an Argo parameter, say) or needs nothing."""
    from ..yamlio import dump

    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if not isinstance(parsed, dict) or not isinstance(parsed.get("spec"), dict):
        return text
    locked = lock_down(copy.deepcopy(parsed), options)
    return text if locked == parsed else dump(locked)


def _pod_specs(value: Any) -> Iterator[dict[str, Any]]:
    """Every Kubernetes pod spec (a mapping with a ``containers`` list) inside ``value``."""
    if isinstance(value, dict):
        containers = value.get("containers")
        if isinstance(containers, list) and containers and all(isinstance(c, dict) for c in containers):
            yield value
        for item in value.values():
            yield from _pod_specs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _pod_specs(item)


def _pod_spec(pod: dict[str, Any], options: CompileOptions) -> None:
    pod.setdefault("securityContext", pod_security())
    extra = pod.get("initContainers")
    for container in [*pod["containers"], *(extra if isinstance(extra, list) else [])]:
        if isinstance(container, dict):  # (a user's pod template is checked by lint, not here)
            _secure(container, _kind(container, options, "image"))


def _argo_events_pod(spec: dict[str, Any]) -> None:
    """An EventSource's or Sensor's pod: restricted (Argo Events' images need no root), root writable (the
    Sensor's argo CLI writes its workflow to a temporary file)."""
    template = spec.setdefault("template", {})
    template.setdefault("securityContext", pod_security())
    container = template.setdefault("container", {})
    container.setdefault("securityContext", container_security("image"))


def lock_down(manifest: dict[str, Any], options: CompileOptions) -> dict[str, Any]:
    """Add the security contexts of the module docstring to ``manifest`` (in place; also returned).

    Argo workflows (their templates' containers, scripts, init containers and sidecars), the pod templates
    of any other object (a SeldonDeployment's, a TFJob's, a Katib trial's), a SparkApplication's driver and
    executor, and EventSource and Sensor pods. Contexts already present are kept.
    """
    kind = manifest.get("kind")
    spec = manifest.get("spec")
    if not isinstance(spec, dict):
        return manifest
    if kind in _WORKFLOW_KINDS:
        _workflow_spec(spec.get("workflowSpec", spec) if kind == "CronWorkflow" else spec, options)
        return manifest
    if kind in ("EventSource", "Sensor"):
        _argo_events_pod(spec)
        return manifest
    if kind == "SparkApplication":
        for role in ("driver", "executor"):
            if isinstance(spec.get(role), dict):
                spec[role].setdefault("podSecurityContext", pod_security())
                spec[role].setdefault("securityContext", container_security("image"))
    for pod in _pod_specs(spec):
        _pod_spec(pod, options)
    for nested in _workflows(spec):  # e.g. a Katib trial that is an Argo Workflow
        lock_down(nested, options)
    return manifest


def _workflows(value: Any) -> Iterator[dict[str, Any]]:
    """Argo workflow objects nested in ``value``."""
    if isinstance(value, dict):
        if value.get("kind") in _WORKFLOW_KINDS and isinstance(value.get("spec"), dict):
            yield value
            return
        for item in value.values():
            yield from _workflows(item)
    elif isinstance(value, list):
        for item in value:
            yield from _workflows(item)
