"""A griffe extension: the SDK's docstrings are plain text written for ``help()`` and doctest, with
``literals``, Sphinx roles (:func:`compile_axon`), ``>>>`` examples and ``::`` literal blocks. This turns
them into Markdown before mkdocstrings renders them, so the API reference reads like ``help()``:

    plugins:
      - mkdocstrings:
          handlers:
            python:
              options:
                extensions: [docs/reference/rst_docstrings.py]
"""

from __future__ import annotations

import re
from typing import Any

try:
    import griffe
except ImportError:  # tests/test_docs_reference.py imports to_markdown without the docs extra
    griffe = None  # type: ignore[assignment]

_ROLE = re.compile(r":(?:mod|func|class|meth|attr|data|exc|obj|ref):`~?([^`]+)`")
_DOCTEST_FLAG = re.compile(r"\s*#\s*doctest:.*$")


def to_markdown(text: str) -> str:
    """Roles become code spans, ``>>>`` runs and ``::`` blocks become fenced Python blocks."""
    text = _ROLE.sub(lambda m: f"`{m.group(1).lstrip('.')}`", text)
    out: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if stripped.startswith(">>>"):
            indent = len(line) - len(stripped)
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(_DOCTEST_FLAG.sub("", lines[i][indent:]))
                i += 1
            out += ["```pycon", *block, "```"]
            continue
        if line.rstrip().endswith("::") and not line.strip().startswith("..") and i + 1 < len(lines):
            head = line.rstrip()[:-1].rstrip()  # "text::" -> "text:"; a lone "::" disappears
            if head.endswith(":") and len(head.strip()) == 1:
                head = ""
            base = len(line) - len(line.lstrip())
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            if j < len(lines) and len(lines[j]) - len(lines[j].lstrip()) > base:
                indent = len(lines[j]) - len(lines[j].lstrip())
                block = []
                while j < len(lines) and (
                    not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) >= indent
                ):
                    block.append(lines[j][indent:])
                    j += 1
                while block and not block[-1].strip():
                    block.pop()
                if head:
                    out.append(head)
                out += ["", "```python", *block, "```", ""]
                i = j
                continue
        out.append(line)
        i += 1
    return "\n".join(out)


if griffe is not None:

    class RstDocstrings(griffe.Extension):
        """Rewrite each docstring once, when griffe loads its object."""

        def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
            if obj.docstring is not None:
                obj.docstring.value = to_markdown(obj.docstring.value)
