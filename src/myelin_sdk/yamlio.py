"""Reading and writing YAML safely: a safe loader with bounds, and a stable dumper.

Reading refuses what would hurt: a file of more than ``MAX_BYTES`` (checked with ``stat`` and a bounded
read, so a 2 GB file or ``/dev/zero`` is never read whole), an alias "bomb" that expands to more than
``MAX_NODES`` nodes, duplicate mapping keys (PyYAML would silently keep the last one), mapping keys that are
not strings (``1: 2``, ``~: x``), and scalars PyYAML cannot build (``!!int xyz``, ``!!timestamp 2001-13-45``)
or integers beyond 64 bits. Each refusal is a :class:`MyelinError` with the field path. Each value's line is
remembered so errors can point at it::

    docs = load_documents(read_bounded("axon.yaml"), source="axon.yaml")
    docs[0].data["spec"], docs[0].line_of("spec.tasks[0].name")

Writing uses the SDK's own dumper class (:data:`SDKDumper`), so a representer another library registers
globally (hera registers one for ``str``) never changes the bytes of ``to_yaml()`` or ``compile``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.representer import SafeRepresenter

from .errors import Diagnostic, MyelinError, excerpt

MAX_BYTES = 5 * 1024 * 1024
MAX_NODES = 200_000
#: The deepest nesting of mappings and lists (a Kubernetes object is rarely 20 deep; the model's own
#: serializer stops near 100).
MAX_DEPTH = 64
#: Integers an Axon may hold: what a 64-bit signed integer holds (Kubernetes' widest integer).
MAX_INT = 2**63 - 1

_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):  # type: ignore[valid-type,misc]
    """The safe loader with JSON's types only, as Kubernetes reads YAML: a timestamp stays its text."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _SafeLoader.construct_yaml_str)
_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_INT_TAG = "tag:yaml.org,2002:int"
#: Scalar tags whose constructor can fail on bad text (``!!int xyz``, ``!!bool maybe``).
_CHECKED_TAGS = {
    _INT_TAG: "an integer",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "true or false",
    "tag:yaml.org,2002:timestamp": "a date or timestamp",
    "tag:yaml.org,2002:null": "null",
}
#: Tags whose values JSON (and so Kubernetes) has no type for.
_REFUSED_TAGS = {
    "tag:yaml.org,2002:binary": "binary data",
    "tag:yaml.org,2002:set": "a set",
    "tag:yaml.org,2002:omap": "an ordered map",
    "tag:yaml.org,2002:pairs": "a list of pairs",
}


#: Single-letter YAML 1.1 booleans: quoted so Argo and kubectl read them back as strings.
_YAML11_LETTERS = frozenset({"y", "Y", "n", "N"})


def _str_style(data: str) -> str | None:
    """A multi-line string as a literal block (``|``: scripts stay readable), ``y``/``n`` quoted."""
    if "\n" in data:
        return "|"
    if data in _YAML11_LETTERS:
        return "'"
    return None


def _represent_str(dumper: SafeRepresenter, data: str) -> yaml.ScalarNode:
    """A string in the style of :func:`_str_style`."""
    return dumper.represent_scalar(_STR_TAG, data, style=_str_style(data))


_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"
#: Strings up to this length have their implicit tag (:data:`_RESOLVED`) and their event
#: (:data:`_SCALAR_EVENTS`) remembered: a bundle repeats its keys and most of its values many times.
_MEMO_TEXT = 256
#: At most this many remembered strings a memo (then it starts again: bounded memory).
_MEMO_SIZE = 65_536
_RESOLVED: dict[str, str] = {}
#: A string's ``ScalarEvent`` depends on its text only; an emitter reads an event, never changes or keeps it.
_SCALAR_EVENTS: dict[str, yaml.ScalarEvent] = {}
_MAPPING_START = yaml.MappingStartEvent(None, _MAP_TAG, True, flow_style=False)
_MAPPING_END = yaml.MappingEndEvent()
_SEQUENCE_START = yaml.SequenceStartEvent(None, _SEQ_TAG, True, flow_style=False)
_SEQUENCE_END = yaml.SequenceEndEvent()
_SCALAR_NODE = yaml.ScalarNode
_MAPPING_NODE = yaml.MappingNode
_SEQUENCE_NODE = yaml.SequenceNode
_AS_PLAIN = (True, False)


class _NotPlain(Exception):
    """A value the event path leaves to PyYAML's representers: another type, or an object met twice."""


#: Options under which the event path writes what ``serialize`` writes: none of these set.
_DOCUMENT_OPTIONS = ("canonical", "explicit_start", "explicit_end", "version", "tags")


class SDKDumper(_BaseDumper):  # type: ignore[valid-type,misc]
    """The SDK's dumper: its own copy of the safe representers and implicit resolvers, taken when this module
    is imported and re-set for the types that matter, so a library that registers a representer on PyYAML's
    classes later (or earlier: hera patches ``SafeRepresenter`` for ``str``) does not change the output.

    With the options :func:`dump` uses (keys in their order, block style), a document of plain ``dict``,
    ``list``, ``str``, ``int``, ``bool`` and ``None`` goes to the emitter as events, made in one walk: the
    events its serializer would make from the nodes PyYAML's representers build, without building the nodes
    or calling back into Python four times a node (a short string's event, which depends on its text only,
    is made once and reused: a bundle repeats its keys and most values). A document with another type (a
    float) or with a dict or list met twice (PyYAML writes an alias), and other options (``sort_keys=True``,
    ``explicit_start``...) go through PyYAML's own representers and serializer. The bytes are the same:
    ``tests/test_yamlio.py`` compares them on any JSON value, and ``tests/compiler/test_compile_scale.py``
    with PyYAML's pure-Python emitter on every golden bundle (the two emitters differ only in corners a
    bundle never has: an empty key, a NEL character)."""

    def __init__(self, stream: Any, **options: Any) -> None:
        super().__init__(stream, **options)
        self._plain_documents = not any(options.get(k) for k in _DOCUMENT_OPTIONS)

    def represent(self, data: Any) -> None:
        if (
            self.sort_keys
            or self.default_flow_style is not False
            or self.default_style is not None
            or not self._plain_documents
            or self.yaml_path_resolvers
        ):
            super().represent(data)
            return
        events: list[yaml.Event] = []
        try:
            self._events(data, events, set())
        except _NotPlain:
            super().represent(data)
            return
        emit = self.emit
        emit(yaml.DocumentStartEvent(explicit=False))
        for event in events:
            emit(event)
        emit(yaml.DocumentEndEvent(explicit=False))

    def _events(self, data: Any, out: list[yaml.Event], seen: set[int]) -> None:
        """Append the events of ``data`` to ``out``: those ``serialize`` makes of ``represent_data(data)``.
        ``seen``: the ids of the dicts and lists met so far (one met again would be an alias)."""
        kind = type(data)
        if kind is str:
            event = _SCALAR_EVENTS.get(data)
            if event is None:
                plain = self.resolve(_SCALAR_NODE, data, _AS_PLAIN)
                event = yaml.ScalarEvent(
                    None, _STR_TAG, (plain == _STR_TAG, True), data, style=_str_style(data)
                )
                _remember(_SCALAR_EVENTS, data, event)
            out.append(event)
        elif kind is dict or kind is list:
            if id(data) in seen:
                raise _NotPlain
            seen.add(id(data))
            walk = self._events
            if kind is dict:
                out.append(_MAPPING_START)
                for key, value in data.items():
                    walk(key, out, seen)
                    walk(value, out, seen)
                out.append(_MAPPING_END)
            else:
                out.append(_SEQUENCE_START)
                for value in data:
                    walk(value, out, seen)
                out.append(_SEQUENCE_END)
        elif kind is bool or kind is int or data is None:
            if kind is bool:
                tag, text = _BOOL_TAG, ("true" if data else "false")
            elif kind is int:
                tag, text = _INT_TAG, str(data)
            else:
                tag, text = _NULL_TAG, "null"
            plain = self.resolve(_SCALAR_NODE, text, _AS_PLAIN)
            out.append(yaml.ScalarEvent(None, tag, (plain == tag, False), text))  # quoted, it is a string
        else:
            raise _NotPlain

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        """PyYAML's ``BaseResolver.resolve`` in one call, the implicit tag of a short plain scalar remembered
        (pure: it reads only the class's own tables, copied at import). The C emitter asks twice per scalar
        (as plain, then as quoted) and once per mapping or list."""
        if self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)  # type: ignore[no-any-return]
        if kind is _MAPPING_NODE:
            return _MAP_TAG
        if kind is _SEQUENCE_NODE:
            return _SEQ_TAG
        if kind is not _SCALAR_NODE:
            return super().resolve(kind, value, implicit)  # type: ignore[no-any-return]
        if not implicit[0]:
            return _STR_TAG
        tag = _RESOLVED.get(value)
        if tag is None:
            tag = str(super().resolve(kind, value, implicit))
            _remember(_RESOLVED, value, tag)
        return tag


def _remember(memo: dict[str, Any], text: str, value: Any) -> None:
    """Remember ``value`` for a short ``text``; a full memo starts again (bounded memory)."""
    if len(text) <= _MEMO_TEXT:
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[text] = value


SDKDumper.yaml_implicit_resolvers = {k: list(v) for k, v in SDKDumper.yaml_implicit_resolvers.items()}
SDKDumper.yaml_representers = dict(SDKDumper.yaml_representers)
SDKDumper.yaml_multi_representers = dict(SDKDumper.yaml_multi_representers)
for _type, _represent in (
    (str, _represent_str),
    (type(None), SafeRepresenter.represent_none),
    (bool, SafeRepresenter.represent_bool),
    (int, SafeRepresenter.represent_int),
    (float, SafeRepresenter.represent_float),
    (list, SafeRepresenter.represent_list),
    (dict, SafeRepresenter.represent_dict),
    (bytes, SafeRepresenter.represent_binary),
):
    SDKDumper.yaml_representers[_type] = _represent


def read_bounded(path: str | Path, limit: int = MAX_BYTES) -> bytes:
    """The bytes of ``path``, refused with a :class:`MyelinError` when it has more than ``limit``: a regular
    file by its size (``stat``, before reading), anything else (``/dev/zero``, a pipe) by reading at most
    ``limit + 1`` bytes."""
    where = str(path)
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            if info.st_size > limit:
                raise MyelinError(
                    f"refused: {info.st_size} bytes is more than the {limit} an Axon file may have", where
                )
            data = handle.read(limit + 1)
    except OSError as exc:
        raise MyelinError(f"cannot read: {exc.strerror or exc}", where) from None
    if len(data) > limit:
        raise MyelinError(f"refused: more than the {limit} bytes an Axon file may have", where)
    return data


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


def _walk(node: yaml.Node, path: str, lines: dict[str, int], source: str, depth: int = 0) -> None:
    """Record each path's line and refuse duplicate keys; aliases are walked each time they are used, so the
    walk stops an alias bomb as soon as the expanded document passes ``MAX_NODES`` nodes."""
    if len(lines) >= MAX_NODES:
        raise MyelinError(
            f"refused: the YAML expands to more than {MAX_NODES} nodes (an alias bomb?)", source
        )
    lines.setdefault(path, node.start_mark.line + 1)
    if depth > MAX_DEPTH:
        raise MyelinError(
            [Diagnostic(path, f"nested more than {MAX_DEPTH} levels deep", line=node.start_mark.line + 1)],
            source,
        )
    if node.tag in _REFUSED_TAGS:
        raise MyelinError(
            [
                Diagnostic(
                    path,
                    f"{_REFUSED_TAGS[node.tag]} (!!{node.tag.rsplit(':', 1)[-1]}) has no JSON type: "
                    "expected a mapping, a list, a string, a number, true/false or null",
                    line=node.start_mark.line + 1,
                )
            ],
            source,
        )
    if isinstance(node, yaml.ScalarNode) and node.tag in _CHECKED_TAGS:
        _check_scalar(node, path, source)
    elif isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag not in (_STR_TAG, _MERGE_TAG):
                _refuse_key(key, path, source)
            name = str(key.value)
            child = f"{path}.{name}" if path else name
            if name in seen and key.tag != _MERGE_TAG:
                where = key.start_mark.line + 1
                raise MyelinError(
                    [Diagnostic(child, f"duplicate key (first at line {seen[name]})", line=where)], source
                )
            seen[name] = key.start_mark.line + 1
            _walk(value, child, lines, source, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, f"{path}[{i}]", lines, source, depth + 1)


def _check_scalar(node: yaml.ScalarNode, path: str, source: str) -> None:
    """Refuse a scalar PyYAML cannot build (``!!bool maybe``) or an integer no Kubernetes field holds."""
    what = _CHECKED_TAGS[node.tag]
    text = str(node.value)
    problem = None
    if node.tag == _INT_TAG and len(text.replace("_", "").lstrip("+-0")) > 20:
        problem = f"an integer of at most 64 bits (at most {MAX_INT})"
    else:
        try:
            value = _SafeLoader.yaml_constructors[node.tag](_checker(), node)
        except Exception:  # PyYAML raises ValueError, KeyError, binascii.Error... for bad scalar text
            problem = what
        else:
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
                problem = f"an integer of at most 64 bits (at most {MAX_INT})"
    if problem is not None:
        raise MyelinError(
            [Diagnostic(path, f"expected {problem}, got {excerpt(text)}", line=node.start_mark.line + 1)],
            source,
        )


_CHECKERS: list[yaml.SafeLoader] = []


def _checker() -> yaml.SafeLoader:
    """One idle loader whose constructors build single scalars (they read only the node given)."""
    if not _CHECKERS:
        _CHECKERS.append(_SafeLoader(""))
    return _CHECKERS[0]


def _refuse_key(key: yaml.Node, path: str, source: str) -> None:
    shown = (
        excerpt(str(key.value))
        if isinstance(key, yaml.ScalarNode)
        else f"a {type(key).__name__.removesuffix('Node').lower()}"
    )
    tag = key.tag.rsplit(":", 1)[-1]
    raise MyelinError(
        [
            Diagnostic(
                path,
                f"mapping keys must be strings, got {shown} ({tag}){'' if path else ' at the top level'}; "
                f"quote it if it is meant as a name",
                line=key.start_mark.line + 1,
            )
        ],
        source,
    )


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
        raise MyelinError([Diagnostic("", f"invalid YAML: {problem[:200]}", line=line)], where) from None
    except (ValueError, TypeError, KeyError, RecursionError) as exc:  # a constructor's own error: no path
        raise MyelinError(f"invalid YAML: {type(exc).__name__}: {excerpt(str(exc))}", where) from None
    finally:
        loader.dispose()
    return docs


def dump(data: Any) -> str:
    """One document as block-style YAML, keys in the order given (deterministic for equal input)."""
    return yaml.dump(
        data, Dumper=SDKDumper, sort_keys=False, default_flow_style=False, width=120, allow_unicode=True
    )


def dump_all(documents: Iterable[Any]) -> str:
    """A multi-document stream (``---`` between documents)."""
    return "---\n".join(dump(d) for d in documents)
