"""The Axon: one ML pipeline — artifacts, a shared volume, tasks and sensors.

Declare it in Python (objects join the axon of the enclosing ``with`` block)::

    with Axon("ml-rec") as axon:
        src = Artifact("rec-source", git=Git(repo="https://github.com/myelinio/myelin-examples.git"))
        prep = ContainerTask("DataPrep", image="python:3.11-slim", command=["python", "prep.py"])
        train = TrainTask("Train", image_build=ImageBuild(repository_name="train", artifact=src,
                                                           dockerfile=Dockerfile("Dockerfile.train")))
        Sensor("TrainOnStart", tasks=[prep, train])

    if __name__ == "__main__":
        axon.main()          # python pipeline.py --yaml | --lint | --axon-yaml | --submit

or load an original Myelin Axon YAML: ``Axon.from_yaml(text)`` / ``Axon.from_file("axon.yaml")``.
Both give the same model; everything downstream (compiler, lint, local runner) reads only it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, PrivateAttr

from ._base import Registered, SpecModel, _current_axon
from .artifacts import Artifact
from .sensors import Sensor
from .storage import Parameter, Volume, VolumeClaimTemplate
from .tasks import Task

if TYPE_CHECKING:
    from types import TracebackType

    from ..cluster import ApplyReport
    from ..compiler.bundle import Bundle
    from ..config import CompileOptions
    from ..errors import Diagnostic
    from ..graph import AxonGraph
    from ..local.handle import LocalRun

API_VERSIONS = ("myelin.io/v1alpha1", "myelinproj.io/v1alpha1")


class Axon(SpecModel):
    """An ML pipeline. ``Axon("ml-rec")``; use it as a context manager to collect declared objects."""

    name: str = Field(min_length=1, max_length=253)
    namespace: str | None = None
    api_version: Literal["myelin.io/v1alpha1", "myelinproj.io/v1alpha1"] = "myelin.io/v1alpha1"
    service_account_name: str | None = None
    parameters: list[Parameter] = []
    artifacts: list[Artifact] = []
    volume: Volume | None = None
    volume_claim_template: VolumeClaimTemplate | None = None
    tasks: list[Task] = []
    sensors: list[Sensor] = []
    #: ``task(name)``'s index: (the tasks list it was built from, name -> first position).
    _task_index: tuple[list[Task], dict[str, int]] | None = PrivateAttr(default=None)

    def __init__(self, name: str | None = None, /, **data: Any) -> None:
        if name is not None:
            data["name"] = name
        super().__init__(**data)

    # --- the ``with Axon(...)`` block ---------------------------------------------------------------------

    def __enter__(self) -> Axon:
        self._token = _current_axon.set(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        _current_axon.reset(self._token)

    def _register(self, obj: Registered) -> None:
        if isinstance(obj, Task):
            self.tasks.append(obj)
        elif isinstance(obj, Sensor):
            self.sensors.append(obj)
        elif isinstance(obj, Artifact):
            self.artifacts.append(obj)
        elif isinstance(obj, Parameter):
            self.parameters.append(obj)
        elif isinstance(obj, Volume):
            self.volume = obj
        elif isinstance(obj, VolumeClaimTemplate):
            self.volume_claim_template = obj

    # --- lookups ------------------------------------------------------------------------------------------

    def task(self, name: str) -> Task:
        """The task called ``name`` (``KeyError`` when there is none); the first one when names repeat.

        Constant time: a name -> position index is built once and checked on every use (the task at that
        position still has that name), so changing ``tasks`` afterwards is safe; only a miss scans the list.
        """
        index = self._task_index
        if index is None or index[0] is not self.tasks:
            positions: dict[str, int] = {}
            for i, task in enumerate(self.tasks):
                positions.setdefault(task.name, i)
            index = self._task_index = (self.tasks, positions)
        at = index[1].get(name)
        if at is not None and at < len(self.tasks) and self.tasks[at].name == name:
            return self.tasks[at]
        for task in self.tasks:  # a miss, or the list changed since the index was built
            if task.name == name:
                self._task_index = None
                return task
        raise KeyError(name)

    def artifact(self, name: str) -> Artifact:
        """The artifact called ``name`` (``KeyError`` when there is none)."""
        for artifact in self.artifacts:
            if artifact.name == name:
                return artifact
        raise KeyError(name)

    # --- front end and outputs ----------------------------------------------------------------------------

    @classmethod
    def from_yaml(cls, text: str | bytes, source: str | None = None) -> Axon:
        """Load an Axon YAML document (``myelin.io/v1alpha1`` or ``myelinproj.io/v1alpha1``, legacy forms)."""
        from ..axon_yaml import load_axon

        return load_axon(text, source=source)

    @classmethod
    def from_file(cls, path: str | Path) -> Axon:
        """Load an Axon YAML file."""
        from ..axon_yaml import load_axon_file

        return load_axon_file(path)

    def to_document(self) -> dict[str, Any]:
        """The Axon as a Kubernetes-style document: ``apiVersion``, ``kind``, ``metadata``, ``spec``."""
        from ..axon_yaml import to_document

        return to_document(self)

    def to_yaml(self) -> str:
        """The Axon YAML text; ``Axon.from_yaml(a.to_yaml()) == a``."""
        from ..yamlio import dump

        return dump(self.to_document())

    def lint(self) -> list[Diagnostic]:
        """Semantic checks: references, duplicate names, weights, conditions. Empty when all is well."""
        from ..lint import lint_axon

        return lint_axon(self)

    def compile(self, options: CompileOptions | None = None) -> Bundle:
        """Compile to Kubernetes manifests (raises :class:`~myelin_sdk.errors.MyelinError` on lint errors)."""
        from ..compiler import compile_axon

        return compile_axon(self, options)

    def submit(
        self,
        namespace: str | None = None,
        *,
        options: CompileOptions | None = None,
        context: str | None = None,
        kubeconfig: str | None = None,
        dry_run: str | None = None,
        force_conflicts: bool = False,
    ) -> ApplyReport:
        """Compile and apply to the cluster of the current kube context (:func:`myelin_sdk.cluster.submit`):
        a server-side apply as field manager ``myelin``; ``force_conflicts=True`` takes over the fields that
        other managers own with other values (else :class:`~myelin_sdk.cluster.ApplyConflictError`).

        >>> axon.submit("ml").format()                      # doctest: +SKIP
        """
        from ..cluster import submit

        return submit(
            self,
            options,
            namespace=namespace,
            context=context,
            kubeconfig=kubeconfig,
            dry_run=dry_run,
            force_conflicts=force_conflicts,
        )

    def run_local(self, artifacts: dict[str, str] | None = None, **options: Any) -> LocalRun:
        """Run this axon on this machine in the background (see ``myelin run``); returns a handle.

        >>> run = axon.run_local(artifacts={"rec-source": "examples"}, port=9000)   # doctest: +SKIP
        >>> run.wait("deployed", timeout=600); run.predict([3, 4]); run.stop()      # doctest: +SKIP
        """
        from ..local.engine import RunOptions
        from ..local.handle import run_local

        return run_local(
            self, RunOptions(**options), artifacts={k: Path(v) for k, v in (artifacts or {}).items()}
        )

    # --- the picture (myelin_sdk.graph): a notebook shows an Axon as its graph ------------------------------

    def __repr__(self) -> str:
        tasks = ", ".join(t.name for t in self.tasks)
        sensors = ", ".join(s.name for s in self.sensors)
        return f"Axon({self.name!r}, tasks=[{tasks}], sensors=[{sensors}])"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython's plain-text display: the outline of :meth:`graph`."""
        from ..graph import to_text

        printer.text(repr(self) if cycle else to_text(self.graph()).rstrip("\n"))

    def _repr_svg_(self) -> str | None:
        """The picture as SVG (``None`` without Graphviz's ``dot``: the notebook uses the HTML outline)."""
        from ..graph import to_svg

        return to_svg(self.graph())

    def _repr_html_(self) -> str:
        """The picture inline, or a text outline with a note saying how to get the picture."""
        from ..graph import to_html

        return to_html(self.graph())

    def graph(self) -> AxonGraph:
        """The picture's graph model: tasks, sensors, deployers and the edges between them
        (:mod:`myelin_sdk.graph`; ``myelin graph PATH -o axon.svg`` draws it)."""
        from ..graph import axon_graph

        return axon_graph(self)

    def main(self, argv: Sequence[str] | None = None) -> None:
        """The command line of a ``pipeline.py``: ``--yaml``, ``-o DIR``, ``--lint`` (see ``--help``)."""
        from ..cli import pipeline_main

        raise SystemExit(pipeline_main(self, argv))
