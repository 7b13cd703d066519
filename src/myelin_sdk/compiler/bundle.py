"""A compiled Axon: an ordered list of Kubernetes manifests, as YAML text or as a directory::

    bundle = axon.compile()
    print(bundle.to_yaml())                       # one multi-document stream
    bundle.write("manifests/")                    # one file per object + kustomization.yaml
    bundle                                        # a table (kind, name, what it does); HTML in Jupyter
    bundle.show("Sensor/deployment-decision-maker")   # one manifest's YAML, with syntax colour

Writing is atomic: the files go to a temporary directory beside the target, which then replaces the target
in one rename, so an error never leaves a half-written directory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Diagnostic, MyelinError
from ..yamlio import dump, dump_all

if TYPE_CHECKING:
    from ..display.bundle_view import ManifestView

Manifest = dict[str, Any]

_HEAD = ("apiVersion", "kind", "metadata")


def ordered(manifest: Manifest) -> Manifest:
    """``apiVersion``, ``kind``, ``metadata`` first, the rest in their given order."""
    head = {k: manifest[k] for k in _HEAD if k in manifest}
    return head | {k: v for k, v in manifest.items() if k not in _HEAD}


@dataclass
class Bundle:
    """The manifests of one axon, in apply order."""

    axon: str
    manifests: list[Manifest] = field(default_factory=list)
    #: What was left out (not compiled yet), for the user to see; never silently dropped.
    warnings: list[Diagnostic] = field(default_factory=list)
    #: Documents for review only, never applied: the SeldonDeployment each deploy step would apply first.
    reviews: list[Manifest] = field(default_factory=list)

    def __iter__(self) -> Iterator[Manifest]:
        return iter(self.manifests)

    def __len__(self) -> int:
        return len(self.manifests)

    def add(self, manifest: Manifest) -> None:
        self.manifests.append(ordered(manifest))

    def find(self, kind: str, name: str | None = None) -> list[Manifest]:
        """The manifests of ``kind`` (and ``name``)."""
        return [
            m for m in self.manifests if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)
        ]

    def __repr__(self) -> str:
        from ..display.bundle_view import bundle_text  # display code stays out of the compiler

        return bundle_text(self)

    def _repr_html_(self) -> str:
        from ..display.bundle_view import bundle_html

        return bundle_html(self)

    def show(self, key: str) -> ManifestView:
        """One manifest's YAML, coloured in Jupyter and on a terminal (``.yaml``: the plain text).

        ``key``: ``Kind/name`` (full name, without ``<axon>-``, or the Myelin name), ``Kind/prefix``, or a
        unique name; an unknown key raises :class:`MyelinError` with did-you-mean.
        """
        from ..display.bundle_view import ManifestView, find

        return ManifestView(find(self, key))

    def to_yaml(self) -> str:
        """One multi-document YAML stream."""
        return dump_all(self.manifests)

    def file_names(self) -> list[str]:
        """``<kind>-<name>.yaml`` per manifest, in bundle order."""
        names = [f"{m['kind'].lower()}-{m['metadata']['name']}.yaml" for m in self.manifests]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise MyelinError(f"two objects of the bundle share a name: {', '.join(dupes)}")
        return names

    def write(self, directory: str | os.PathLike[str]) -> list[Path]:
        """Write one file per object and a ``kustomization.yaml``, replacing ``directory`` atomically."""
        target = Path(directory).resolve()
        names = self.file_names()
        if target.exists() and not target.is_dir():
            raise MyelinError(f"{directory} exists and is not a directory")
        if target == Path.cwd() or target in Path.cwd().parents:
            raise MyelinError(
                f"refusing to replace {directory}: it holds the current directory; name a new one"
            )
        if target.is_dir() and any(target.iterdir()) and not (target / "kustomization.yaml").exists():
            raise MyelinError(
                f"refusing to replace {directory}: it is not empty and has no kustomization.yaml, so it was "
                "not written by myelin compile"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            for name, manifest in zip(names, self.manifests, strict=True):
                (tmp / name).write_text(dump(manifest))
            kustomization = {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                # keep the bundle's apply order (kustomize sorts by kind: Workflow before its template)
                "sortOptions": {"order": "fifo"},
                "resources": names,
            }
            (tmp / "kustomization.yaml").write_text(dump(kustomization))
            if self.reviews:  # beside the resources, not among them: `kubectl apply -k` leaves them out
                (tmp / "review").mkdir()
                for manifest in self.reviews:
                    name = f"{manifest['kind'].lower()}-{manifest['metadata']['name']}.yaml"
                    (tmp / "review" / name).write_text(dump(manifest))
            if target.exists():
                old = target.with_name(f".{target.name}.old-{os.getpid()}")
                target.rename(old)
                try:
                    tmp.rename(target)
                except BaseException:
                    old.rename(target)
                    raise
                shutil.rmtree(old)
            else:
                tmp.rename(target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return [target / n for n in [*names, "kustomization.yaml"]]
