"""The image of the SDK's graph node (:mod:`myelin_sdk.runtime.graph_node`), built by the deploy step.

A deployer whose graphs use graph nodes gets two more steps in front of its deploy (not in promote and
rollback, which reuse the image):

1. ``<deployer>-graph-node-src`` (a ``script`` step on the shared volume) writes the build context:
   ``graph.py`` and ``graph_node.py`` (the SDK's own, standard library only) and the :data:`DOCKERFILE`
   below, under ``/axon-store/.build/<workflow uid>/myelin-graph-node``;
2. ``<deployer>-graph-node-build``: kaniko builds it and pushes ``<registry>/myelin-graph-node:<tag>``
   (:func:`graph_node_image`), the image of every graph-node container.
"""

from __future__ import annotations

import posixpath
from importlib import resources

from hera.workflows import models as m

from ... import contract
from ...config import CompileOptions
from ..storage import VOLUME_NAME
from ..workflows import _docker_config_mounts, _kaniko

__all__ = [
    "DOCKERFILE",
    "GRAPH_NODE_CLASS",
    "GRAPH_NODE_REPOSITORY",
    "build_context",
    "graph_node_build_templates",
    "graph_node_image",
]

#: The repository the graph node's image is pushed to (under the compile options' registry and tag).
GRAPH_NODE_REPOSITORY = "myelin-graph-node"
#: The Seldon Python class the image serves (``seldon-core-microservice <module>.<class>``).
GRAPH_NODE_CLASS = "graph_node.GraphNode"
#: The graph node's Dockerfile: python slim, seldon-core 1.17.1 (the operator's version), the two files.
DOCKERFILE = f"""\
FROM python:3.10-slim
RUN pip install --no-cache-dir seldon-core==1.17.1
WORKDIR /microservice
COPY graph.py graph_node.py /microservice/
ENV MODEL_NAME={GRAPH_NODE_CLASS} SERVICE_TYPE=MODEL PERSISTENCE=0
EXPOSE 9000
CMD ["sh", "-c", "exec seldon-core-microservice $MODEL_NAME --service-type $SERVICE_TYPE"]
"""


def graph_node_image(options: CompileOptions) -> str:
    """The graph node's image: ``<registry>/myelin-graph-node:<tag>``."""
    return options.image_for(GRAPH_NODE_REPOSITORY)


def build_context() -> dict[str, str]:
    """The files of the build context, by name: the SDK's ``graph.py`` and ``graph_node.py``, the
    Dockerfile."""
    runtime = resources.files("myelin_sdk.runtime")
    files = {
        name: runtime.joinpath(name).read_text(encoding="utf-8") for name in ("graph.py", "graph_node.py")
    }
    files["Dockerfile"] = DOCKERFILE
    for name, text in files.items():
        if "{{" in text:  # pragma: no cover - guards an edit of the runtime modules
            raise RuntimeError(f"{name} must not contain '{{{{' (Argo templating)")
    return files


def _context_dir() -> str:
    return f"{contract.STORE_MOUNT}/.build/{{{{workflow.uid}}}}/{GRAPH_NODE_REPOSITORY}"


def _writer_source(files: dict[str, str]) -> str:
    """A Python script writing ``files`` (embedded as a string literal: data, never evaluated)."""
    return (
        "import os\n"
        f"root = {_context_dir()!r}\n"
        f"files = {files!r}\n"
        "os.makedirs(root, exist_ok=True)\n"
        "for name, text in sorted(files.items()):\n"
        "    with open(os.path.join(root, name), 'w', encoding='utf-8') as out:\n"
        "        out.write(text)\n"
        "print(root)\n"
    )


def graph_node_build_templates(prefix: str, options: CompileOptions) -> list[m.Template]:
    """The ``<prefix>-graph-node-src`` and ``<prefix>-graph-node-build`` templates (module docstring)."""
    mount = m.VolumeMount(name=VOLUME_NAME, mount_path=contract.STORE_MOUNT)
    root = _context_dir()
    return [
        m.Template(
            name=f"{prefix}-graph-node-src",
            script=m.ScriptTemplate(
                image=options.python_image,
                command=["python"],
                source=_writer_source(build_context()),
                volume_mounts=[mount],
            ),
        ),
        m.Template(
            name=f"{prefix}-graph-node-build",
            container=m.Container(
                image=options.kaniko_image,
                args=_kaniko(root, posixpath.join(root, "Dockerfile"), graph_node_image(options)),
                volume_mounts=[*_docker_config_mounts(options), mount],
            ),
        ),
    ]
