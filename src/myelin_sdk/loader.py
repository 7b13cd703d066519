"""Load an Axon from what a user points at: an Axon YAML file, or a Python file that declares one.

>>> axon = load_path("examples/recommender_demo/pipeline.py")      # doctest: +SKIP

A Python file runs with ``__name__ == "__myelin__"`` (so its ``if __name__ == "__main__":`` block does not),
and must leave exactly one :class:`Axon` in its globals (or name one with ``axon_name``).
"""

from __future__ import annotations

import dataclasses
import runpy
import sys
import traceback
from pathlib import Path

from pydantic import ValidationError

from .errors import Diagnostic, MyelinError
from .spec import Axon
from .yamlio import Document


def load_path(path: str | Path, axon_name: str | None = None) -> Axon:
    """An Axon from a ``.py`` file or an Axon YAML file; user mistakes raise :class:`MyelinError`.

    ``myelin_sdk.load`` is this function::

        axon = myelin_sdk.load("examples/recommender_demo/recommender-demo.yaml")
        axon = myelin_sdk.load("pipeline.py", axon_name="ml-rec")   # a file that declares several

    A Python file is run as a script (its ``if __name__ == "__main__"`` block is not) and the Axon it
    declares is taken; ``axon_name`` picks one when it declares several.
    """
    return load_path_located(path, axon_name)[0]


def load_path_located(path: str | Path, axon_name: str | None = None) -> tuple[Axon, Document | None]:
    """Like :func:`load_path`, with the YAML document of a YAML file (``None`` for a Python file), so that
    diagnostics about the model can name their line: ``place(diagnostics, document)``."""
    p = Path(path)
    where = str(path) if len(str(path)) <= 300 else f"{str(path)[:300]}…"  # a path is echoed on each line
    try:
        exists, is_dir = p.exists(), p.is_dir()
    except OSError as exc:  # a name too long, a loop of symlinks
        raise MyelinError(f"cannot read: {exc.strerror or exc}", where) from None
    if not exists:
        raise MyelinError("no such file", where)
    if is_dir:
        raise MyelinError(
            "is a directory: give an Axon YAML file or a Python file that declares an Axon", where
        )
    if p.suffix == ".py":
        return _load_python(p, axon_name), None
    from .axon_yaml import load_axon_file_document

    return load_axon_file_document(p)


def place(diagnostics: list[Diagnostic], document: Document | None) -> list[Diagnostic]:
    """The diagnostics with the YAML line of their field path filled in, where it is known."""
    if document is None:
        return diagnostics
    return [
        d if d.line or not d.path else dataclasses.replace(d, line=document.line_of(d.path))
        for d in diagnostics
    ]


def _spec_models() -> list[type]:
    from . import spec

    return [v for v in vars(spec).values() if isinstance(v, type)]


def _user_line(exc: BaseException, path: Path) -> int | None:
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == path.resolve()
    ]
    return frames[-1].lineno if frames else None


def _load_python(path: Path, axon_name: str | None) -> Axon:
    where = str(path)
    from .yamlio import read_bounded

    read_bounded(path)  # the same size bound as a YAML file, checked before Python reads it
    sys.path.insert(0, str(path.parent.resolve()))
    try:
        namespace = runpy.run_path(str(path), run_name="__myelin__")
    except MyelinError as exc:  # e.g. a constructor's mistake (spec/_errors.py words it): add the line
        line = _user_line(exc, path)
        diags = [d if d.line else dataclasses.replace(d, line=line) for d in exc.diagnostics]
        raise MyelinError(diags, exc.source or where) from None
    except ValidationError as exc:  # a model validated directly (Model.model_validate(...))
        from .spec._errors import diagnostics_from

        model = next((c for c in _spec_models() if c.__name__ == exc.title), None)
        line = _user_line(exc, path)
        if model is None:
            raise MyelinError([Diagnostic("", f"{exc.title}: invalid", line=line)], where) from None
        diags = [dataclasses.replace(d, line=line) for d in diagnostics_from(exc, model, root=exc.title)]
        raise MyelinError(diags, where) from None
    except SystemExit as exc:
        raise MyelinError(f"the file exited (SystemExit {exc.code}) while being loaded", where) from None
    except Exception as exc:  # user code: report it like a compiler would, with the line
        line = _user_line(exc, path)
        raise MyelinError([Diagnostic("", f"{type(exc).__name__}: {exc}", line=line)], where) from None
    finally:
        sys.path.pop(0)
    axons = {id(v): v for v in namespace.values() if isinstance(v, Axon)}
    found = list(axons.values())
    if axon_name is not None:
        found = [a for a in found if a.name == axon_name]
        if not found:
            raise MyelinError(f"declares no Axon named {axon_name!r}", where)
    if not found:
        raise MyelinError("declares no Axon (expected a module-level variable holding an Axon)", where)
    if len(found) > 1:
        names = ", ".join(sorted(a.name for a in found))
        raise MyelinError(f"declares several Axons ({names}); choose one with --axon NAME", where)
    return found[0]
