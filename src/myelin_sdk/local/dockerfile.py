"""What a local run reads from a task's Dockerfile: the command, and where the image puts the code.

Nothing is built locally, so the runner reproduces the two things a command relies on. The command is
``ENTRYPOINT`` + ``CMD``; a shell-form instruction without shell syntax (``CMD python train.py``) is split
into words like the shell would, so ``python`` can be the runner's Python; one with shell syntax
(``CMD cd src && python train.py``) runs with ``/bin/sh -c``. The layout comes from ``COPY``/``ADD`` and
``WORKDIR``: the command runs in the local folder that the image's final ``WORKDIR`` holds, and image
paths in it are mapped back to local ones::

    # Dockerfile                       context/
    FROM python:3.11-slim              ├── Dockerfile
    COPY src/ /app/                    └── src/pkg/train.py
    WORKDIR /app
    CMD python -m pkg.train

    parsed = parse(context / "Dockerfile", context)
    parsed.command                     # ['python', '-m', 'pkg.train']
    parsed.workdir                     # context / "src"   (what /app holds)

Only the last build stage counts (``COPY --from=...`` copies from another stage and is skipped).
"""

from __future__ import annotations

import glob
import json
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Dockerfile", "parse", "shell_words"]

_LINE = re.compile(r"^\s*([A-Za-z]+)\s+(.*)$")
#: Characters that make a shell-form instruction need a real shell (operators, expansions, globs, comments).
_SHELL_SYNTAX = set("|&;<>()$`\\*?[~#\n")


def shell_words(text: str) -> list[str] | None:
    """``text`` split like ``/bin/sh`` would split it, or None when it needs a shell.

    >>> shell_words("python -m pkg.train --epochs 3")
    ['python', '-m', 'pkg.train', '--epochs', '3']
    >>> shell_words("python 'my script.py'")
    ['python', 'my script.py']
    >>> shell_words("cd src && python train.py") is None
    True
    >>> shell_words("EPOCHS=3 python train.py") is None
    True
    """
    if any(char in _SHELL_SYNTAX for char in text):
        return None
    try:
        words = shlex.split(text)
    except ValueError:
        return None
    if not words or "=" in words[0]:
        return None
    return words


def _instruction_form(text: str) -> tuple[list[str], bool]:
    """The words of an ``ENTRYPOINT``/``CMD`` and whether it was written in shell form."""
    text = text.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value, False
    words = shell_words(text)
    return (words if words is not None else ["/bin/sh", "-c", text]), True


@dataclass
class Dockerfile:
    """The parts of a Dockerfile's last stage a local run uses."""

    command: list[str] | None = None
    """``ENTRYPOINT`` + ``CMD`` (a shell-form ``ENTRYPOINT`` ignores ``CMD``, as in Docker), or None."""
    workdir: Path | None = None
    """The local folder that the image's final ``WORKDIR`` holds, or None when nothing maps there."""
    image_workdir: str = "/"
    """The image's final ``WORKDIR``."""
    mounts: list[tuple[str, Path]] = field(default_factory=list)
    """(image folder, local folder) for each ``COPY``/``ADD``, in order: the later one wins."""

    def local(self, image_path: str) -> Path | None:
        """The existing local file or folder that ``image_path`` (absolute) holds, or None."""
        path = posixpath.normpath(image_path)
        for dest, source in reversed(self.mounts):
            if path == dest or path.startswith(dest.rstrip("/") + "/"):
                candidate = source / posixpath.relpath(path, dest)
                if candidate.exists():
                    return candidate.resolve()
        return None

    def localise(self, argv: list[str], cwd: Path) -> list[str]:
        """``argv`` with each image path that exists locally replaced by its local path: an absolute one
        (``/app/train.py``), or a relative one that is not in ``cwd`` but is under the image's ``WORKDIR``
        (``COPY train.py /work/bert/train.py`` + ``WORKDIR /work`` + ``CMD python bert/train.py``)."""
        out = list(argv[:1])
        for word in argv[1:]:
            found = None
            if word.startswith("/") and word != "/":
                found = self.local(word)
            elif word and not word.startswith("-") and not (cwd / word).exists():
                found = self.local(posixpath.join(self.image_workdir, word))
                found = found if found is not None and found.is_file() else None
            out.append(str(found) if found is not None else word)
        return out


def _logical_lines(text: str) -> list[str]:
    """Instructions with continuation lines joined; comment lines (also inside continuations) dropped."""
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        if raw.lstrip().startswith("#"):
            continue
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        lines.append(current + raw)
        current = ""
    if current.strip():
        lines.append(current)
    return lines


def _copy_mounts(arguments: str, workdir: str, context: Path) -> list[tuple[str, Path]]:
    """(image folder, local folder) pairs of one ``COPY``/``ADD`` instruction."""
    text = arguments.strip()
    words: list[str] | None
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        words = value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None
    else:
        try:
            words = shlex.split(text)
        except ValueError:
            words = None
    if not words:
        return []
    flags = [w for w in words if w.startswith("--")]
    if any(f.startswith("--from") for f in flags):
        return []  # from another stage or image: nothing local
    paths = [w for w in words if not w.startswith("--")]
    if len(paths) < 2:
        return []
    *sources, target = paths
    dest = posixpath.normpath(posixpath.join(workdir, target))
    into_folder = target.endswith("/") or len(sources) > 1
    mounts = []
    root = context.resolve()
    for source in sources:
        if "://" in source:
            continue  # ADD <url>
        local = (root / source).resolve()
        if not local.is_relative_to(root):
            continue
        if glob.has_magic(source):  # the matching files land in dest
            mounts.append((dest, (root / posixpath.dirname(source)).resolve()))
        elif local.is_dir():  # a folder's contents land in dest
            mounts.append((dest, local))
        elif local.is_file():  # a file lands in dest/ or becomes dest
            mounts.append((dest if into_folder else posixpath.dirname(dest) or "/", local.parent))
    return mounts


def parse(dockerfile: Path, context: Path) -> Dockerfile:
    """Read ``dockerfile`` (built in ``context``): its command, ``WORKDIR`` and ``COPY`` layout."""
    parsed = Dockerfile()
    entrypoint: list[str] = []
    entry_shell = False
    cmd: list[str] = []
    workdir = "/"
    for line in _logical_lines(dockerfile.read_text(encoding="utf-8")):
        match = _LINE.match(line)
        if not match:
            continue
        keyword, arguments = match.group(1).upper(), match.group(2)
        if keyword == "FROM":  # a new stage: only the last one makes the image
            parsed, entrypoint, entry_shell, cmd, workdir = Dockerfile(), [], False, [], "/"
        elif keyword == "ENTRYPOINT":
            entrypoint, entry_shell = _instruction_form(arguments)
        elif keyword == "CMD":
            cmd = _instruction_form(arguments)[0]
        elif keyword == "WORKDIR":
            workdir = posixpath.normpath(posixpath.join(workdir, arguments.strip().strip("\"'")))
        elif keyword in ("COPY", "ADD"):
            parsed.mounts.extend(_copy_mounts(arguments, workdir, context))
    command = entrypoint if entry_shell else entrypoint + cmd
    parsed.command = command or None
    parsed.image_workdir = workdir
    if workdir != "/":
        found = parsed.local(workdir)
        parsed.workdir = found if found is not None and found.is_dir() else None
    return parsed
