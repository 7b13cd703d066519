"""What the commands print: ``-o table|json|yaml`` of objects, notes and diagnostics on stderr, exit codes.

Every command that prints objects takes ``-o json`` and ``-o yaml`` and prints the same object both ways
(the shapes are in docs/cli.md)::

    add_output_option(parser)                   # -o/--output table|json|yaml, default table
    return show(args.output, data, format_table)  # format_table(data) -> str for the table
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130
#: The machine-readable formats every object-printing command accepts.
DATA_FORMATS = ("json", "yaml")


def add_output_option(
    p: argparse.ArgumentParser, table: Sequence[str] = ("table",), help: str | None = None
) -> None:
    """``-o/--output``: the ``table`` formats (the first is the default), then json and yaml."""
    choices = [*table, *DATA_FORMATS]
    p.add_argument(
        "-o",
        "--output",
        choices=choices,
        default=choices[0],
        help=help or f"output format: {', '.join(choices)} (default: {choices[0]})",
    )


def print_data(output: str, data: Any) -> None:
    """``data`` as indented JSON or as YAML (yaml is imported only here)."""
    if output == "yaml":
        from ..yamlio import dump

        sys.stdout.write(dump(data))
    else:
        print(json.dumps(data, indent=2))


def show(output: str, data: Any, table: Callable[[Any], str]) -> int:
    """``-o json|yaml``: ``data`` itself; otherwise the text of ``table(data)``."""
    if output in DATA_FORMATS:
        print_data(output, data)
    else:
        sys.stdout.write(table(data))
    return EXIT_OK


def warn_missing(missing: Sequence[str]) -> None:
    for message in missing:
        print(f"note: {message}", file=sys.stderr)


def print_diagnostics(diags: Sequence[Any], source: str | None) -> None:
    for d in diags:
        print(d.format(source), file=sys.stderr)


def run_guarded(
    func: Callable[[argparse.Namespace], int], args: argparse.Namespace, source: str | None
) -> int:
    """``func(args)``, a :class:`~myelin_sdk.errors.MyelinError` printed as diagnostics (never a
    traceback), Ctrl-C as 130 and a closed pipe (``| head``) as success."""
    from ..errors import MyelinError

    try:
        return func(args)
    except MyelinError as exc:
        if exc.source is None and source:
            exc = exc.with_source(source)
        print_diagnostics(exc.diagnostics, exc.source)
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except (RecursionError, MemoryError) as exc:  # a last guard: the loader's bounds should come first
        where = f"{source}: " if source else ""
        print(
            f"{where}refused: the input is too large or nested too deeply to process ({type(exc).__name__})",
            file=sys.stderr,
        )
        return MyelinError.exit_code
