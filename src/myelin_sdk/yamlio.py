"""Reading and writing YAML safely: a safe loader with bounds, and a stable dumper.

Reading refuses what would hurt: more than ``MAX_BYTES`` of text, an alias "bomb" that expands to more than
``MAX_NODES`` nodes, duplicate mapping keys (PyYAML would silently keep the last one). Each value's line is
remembered so errors can point at it::

    docs = load_documents(text, source="axon.yaml")
    docs[0].data["spec"], docs[0].line_of("spec.tasks[0].name")
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import Diagnostic, MyelinError

MAX_BYTES = 5 * 1024 * 1024
MAX_NODES = 200_000

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass
class Document:
    """One YAML document and the line of each field path in it."""

    data: Any
    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, path: str) -> int | None:
        """The 1-based line of ``path`` or of its nearest enclosing field."""
        while path:
            if path in self.lines:
                return self.lines[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return None


def _walk(node: yaml.Node, path: str, lines: dict[str, int], source: str) -> None:
    """Record each path's line and refuse duplicate keys; aliases are walked each time they are used, so the
    walk stops an alias bomb as soon as the expanded document passes ``MAX_NODES`` nodes."""
    if len(lines) >= MAX_NODES:
        raise MyelinError(
            f"refused: the YAML expands to more than {MAX_NODES} nodes (an alias bomb?)", source
        )
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value)
            child = f"{path}.{name}" if path else name
            if name in seen and key.tag != "tag:yaml.org,2002:merge":
                where = key.start_mark.line + 1
                raise MyelinError(
                    [Diagnostic(child, f"duplicate key (first at line {seen[name]})", line=where)], source
                )
            seen[name] = key.start_mark.line + 1
            _walk(value, child, lines, source)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, f"{path}[{i}]", lines, source)


def load_documents(text: str | bytes, source: str | None = None) -> list[Document]:
    """Parse every document of a YAML stream with a safe loader, within the bounds above."""
    where = source or "<input>"
    if len(text) > MAX_BYTES:
        raise MyelinError(
            f"refused: {len(text)} bytes is more than the {MAX_BYTES} an Axon file may have", where
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MyelinError(f"not UTF-8 text: {exc}", where) from None
    docs: list[Document] = []
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            lines: dict[str, int] = {}
            _walk(node, "", lines, where)
            docs.append(Document(loader.construct_document(node), lines))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise MyelinError([Diagnostic("", f"invalid YAML: {problem}", line=line)], where) from None
    finally:
        loader.dispose()
    return docs


def dump(data: Any) -> str:
    """One document as block-style YAML, keys in the order given (deterministic for equal input)."""
    return yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120, allow_unicode=True
    )


def dump_all(documents: Iterable[Any]) -> str:
    """A multi-document stream (``---`` between documents)."""
    return "---\n".join(dump(d) for d in documents)
