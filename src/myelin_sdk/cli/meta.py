"""``myelin version`` and ``myelin completion bash|zsh|fish``: about the command itself.

Both answer without importing the SDK: versions come from the installed packages' metadata
(:mod:`importlib.metadata`), completion scripts from ``argcomplete``, which is imported only here and,
when the shell asks for completions (``_ARGCOMPLETE`` set), in :func:`myelin_sdk.cli.main.main`::

    eval "$(myelin completion bash)"     # then: myelin sta<TAB> -> myelin status
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from .output import EXIT_OK, add_output_option, show

#: The distributions ``myelin version`` reports besides the SDK (``None`` when not installed).
REPORTED = ("hera", "kubernetes")
SHELLS = ("bash", "zsh", "fish")


class VersionAction(argparse.Action):
    """``--version``: looks the version up only when asked (importlib.metadata costs ~20 ms at start-up)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit", **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        print(f"{parser.prog} {installed_version('myelin-sdk') or 'unknown'}")  # on stdout, as `version`
        parser.exit()


def installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution``, without importing it; ``None`` when not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def versions() -> dict[str, str | None]:
    """``{"myelin-sdk": ..., "python": ..., "hera": ..., "kubernetes": ...}``."""
    import platform

    found: dict[str, str | None] = {"myelin-sdk": installed_version("myelin-sdk") or "unknown"}
    found["python"] = f"{platform.python_version()} ({platform.python_implementation()}, {sys.executable})"
    for name in REPORTED:
        found[name] = installed_version(name)
    return found


def _format_versions(found: dict[str, str | None]) -> str:
    return "".join(f"{name}: {value or 'not installed'}\n" for name, value in found.items())


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "version",
        help="show the versions of myelin-sdk, Python, hera and the kubernetes client",
        description="The SDK's version, the Python running it, and the versions of hera and the kubernetes "
        "client when installed (read from the installed packages, not imported).",
    )
    add_output_option(p)
    p.set_defaults(func=lambda args: show(args.output, versions(), _format_versions))

    p = sub.add_parser(
        "completion",
        help="print the shell completion script (bash, zsh or fish)",
        description="Print the script that makes SHELL complete myelin's commands, flags, choices and "
        "file names. Load it from your shell's start-up file (see docs/cli.md).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  echo 'eval \"$(myelin completion bash)\"' >> ~/.bashrc\n"
        "  echo 'eval \"$(myelin completion zsh)\"' >> ~/.zshrc\n"
        "  myelin completion fish > ~/.config/fish/completions/myelin.fish",
    )
    p.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")
    p.set_defaults(func=_cmd_completion)


def _cmd_completion(args: argparse.Namespace) -> int:
    import argcomplete

    sys.stdout.write(argcomplete.shellcode(["myelin"], shell=args.shell))  # type: ignore[attr-defined]
    return EXIT_OK


def autocomplete(parser: argparse.ArgumentParser) -> None:
    """Answer the shell's completion request (``_ARGCOMPLETE`` in the environment) and exit."""
    import argcomplete

    argcomplete.autocomplete(parser)
