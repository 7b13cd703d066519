"""``myelin diff``: what an apply would change, as ``kubectl diff`` shows it.

Each object of the bundle is applied in a server dry run (``dryRun=All``: the API server merges, defaults and
validates, and stores nothing); the answer is compared with the live object, both as YAML without
``metadata.managedFields``, in a unified diff per object. Objects the apply would prune appear as removed.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ObjectDiff:
    """One object: live (None: absent) and as the apply would leave it (None: pruned)."""

    api_version: str
    kind: str
    name: str
    namespace: str | None
    live: dict[str, Any] | None
    merged: dict[str, Any] | None

    @property
    def id(self) -> str:
        """``argoproj.io.v1alpha1.Sensor.ml.name``, as kubectl names its diff files."""
        parts = [self.api_version.replace("/", "."), self.kind, self.namespace or "", self.name]
        return ".".join(p for p in parts if p)

    def text(self) -> str:
        """The unified diff (empty when the YAML is the same)."""
        before, after = _yaml(self.live), _yaml(self.merged)
        if before == after:
            return ""
        lines = difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            f"live/{self.id}",
            f"merged/{self.id}",
        )
        return f"diff -u -N live/{self.id} merged/{self.id}\n" + "".join(lines)


@dataclass
class BundleDiff:
    """Every object of an apply that would change."""

    axon: str
    objects: list[ObjectDiff] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(o.text() for o in self.objects)

    def format(self) -> str:
        return "".join(o.text() for o in self.objects)


def _yaml(obj: dict[str, Any] | None) -> str:
    if obj is None:
        return ""
    import yaml

    from ..yamlio import SDKDumper  # the SDK's own dumper: the same bytes whatever else was imported

    obj = dict(obj)
    metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    obj["metadata"] = metadata
    return str(yaml.dump(obj, Dumper=SDKDumper, sort_keys=True, default_flow_style=False, allow_unicode=True))
