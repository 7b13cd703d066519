"""The Python API reference (docs/reference/*.md, rendered by mkdocstrings in `make docs`) covers the public
API, and the docstring conversion it relies on turns the SDK's plain-text docstrings into Markdown."""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import myelin_sdk
import myelin_sdk.local
import myelin_sdk.runtime

DOCS = Path(__file__).resolve().parents[1] / "docs"
REFERENCE = DOCS / "reference"


def documented() -> set[str]:
    """Every object a `::: dotted.name` directive of the reference renders."""
    names: set[str] = set()
    for page in REFERENCE.glob("*.md"):
        names.update(re.findall(r"^::: ([\w.]+)\s*$", page.read_text(encoding="utf-8"), flags=re.M))
    return names


def test_every_name_of_myelin_sdk_is_in_the_reference() -> None:
    rendered = {name.rsplit(".", 1)[-1] for name in documented()}
    # `compile` and `load` are `compile_axon` and `load_path` under a short name: the object is documented
    missing = sorted(
        name
        for name in myelin_sdk.__all__
        if name not in rendered and getattr(getattr(myelin_sdk, name), "__name__", name) not in rendered
    )
    assert missing == [], f"add these to docs/reference/*.md: {missing}"


def test_the_local_runner_runtime_and_myelin_client_are_in_the_reference() -> None:
    names = documented()
    rendered = {name.rsplit(".", 1)[-1] for name in names}
    assert {"run_local", "LocalRun", "RunOptions", "RunFailed", "PredictionError"} <= rendered
    assert {"compile_axon", "refusals", "Bundle", "CompileOptions"} <= rendered
    # the runtime is rendered module by module: each public name lives in one of them
    modules = [importlib.import_module(n) for n in names if n.startswith("myelin_sdk.runtime.")]
    for public in myelin_sdk.runtime.__all__:
        if getattr(myelin_sdk.runtime, public).__module__ == "myelin_sdk.runtime":
            continue  # the inline-script helpers of the package itself serve the compiler
        assert any(public in getattr(m, "__all__", ()) for m in modules), f"{public} is not rendered"
    assert {"myelin.metric", "myelin.admin", "myelin.hpo"} <= names


def test_every_reference_page_is_in_the_nav() -> None:
    nav = (DOCS.parent / "mkdocs.yml").read_text(encoding="utf-8")
    for page in REFERENCE.glob("*.md"):
        assert f"reference/{page.name}" in nav, page.name


def converter() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rst_docstrings", REFERENCE / "rst_docstrings.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docstrings_become_markdown() -> None:
    to_markdown = converter().to_markdown
    text = (
        "Compile with :func:`compile_axon` (see :mod:`~myelin_sdk.compiler`)::\n"
        "\n"
        "    bundle = compile_axon(axon)\n"
        "    bundle.write('out')\n"
        "\n"
        "Then:\n"
        "\n"
        ">>> refusals(axon)      # doctest: +SKIP\n"
        "[]\n"
    )
    assert to_markdown(text).strip().split("\n") == [
        "Compile with `compile_axon` (see `myelin_sdk.compiler`):",
        "",
        "```python",
        "bundle = compile_axon(axon)",
        "bundle.write('out')",
        "```",
        "",
        "Then:",
        "",
        "```pycon",
        ">>> refusals(axon)",
        "[]",
        "```",
    ]


def test_text_without_blocks_is_kept() -> None:
    text = "A line that ends with a colon:\nand ``code`` stays as it is."
    assert converter().to_markdown(text) == text
