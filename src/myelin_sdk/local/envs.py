"""Serving environments of the local runner: one virtual environment per deploy task's ``requirements.txt``.

A model runs in the real ``seldon-core`` 1.17.1 microservice, which cannot share the SDK's environment (its
pins break it, DESIGN §7). So every deploy task gets a virtual environment built from its own
``requirements.txt``, cached by content and by the Python version, built with ``uv`` (the binary of the
``uv`` package, a dependency of the SDK) or with ``pip`` when uv is missing (``MYELIN_INSTALLER=pip``
forces pip). The installer's output goes to a log file; the caller sees one status per step::

    python = ensure_env(code / "requirements.txt", cache / "envs", progress=print)
    # building with uv … (log ~/.cache/myelin/serving-envs/3fa1….log)
    # built with uv in 9.8 s (log ~/.cache/myelin/serving-envs/3fa1….log)
    python = ensure_env(code / "requirements.txt", cache / "envs", progress=print)
    # cached (~/.cache/myelin/serving-envs/3fa1…)

The environment gets ``seldon-core==1.17.1`` unless the requirements name seldon-core (an s2i builder image
would bring it), ``setuptools<82`` unless they pin setuptools (seldon-core imports ``pkg_resources``), and a
copy of the SDK's own ``myelin_sdk`` package, so model code can
``from myelin_sdk.runtime import publish_metric`` (the runtime needs only the standard library and
``prometheus_client``, which seldon-core brings). A line naming ``myelin`` (the original Myelin client,
whose pins conflict with seldon-core 1.17.1) is left out: the SDK's compatible ``myelin`` module serves
model code instead (the model server's ``PYTHONPATH``), and the build says so.
"""

from __future__ import annotations

import ast
import contextlib
import fcntl
import functools
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO

import myelin_sdk

from ..errors import MyelinError
from .executor import tail

__all__ = [
    "MYELIN_NOTE",
    "EnvStatus",
    "ServingError",
    "ensure_env",
    "env_key",
    "installer",
    "runtime_files",
    "runtime_stamp",
]

#: What seldon-core 1.17.1 needs when the requirements leave setuptools open (it imports ``pkg_resources``).
SETUPTOOLS_PIN = "setuptools<82"
#: The microservice, when the requirements do not name seldon-core: 1.17.1, the last Apache-2.0 release.
SELDON_CORE_PIN = "seldon-core==1.17.1"
#: What the build says when it leaves out the original client.
MYELIN_NOTE = "requirements.txt names `myelin`: using the SDK's compatible module instead"
#: Modules the model server must not load by importing ``myelin_sdk.runtime`` (heavy, not installed there).
_HEAVY = ("pydantic", "hera", "yaml", "kubernetes")
_INFO_NAME = "myelin-env.json"
#: Requirement-file options whose argument is a path relative to the file (kept valid in a filtered copy).
_FILE_OPTIONS = ("-r", "--requirement", "-c", "--constraint")

State = Literal["building", "built", "cached", "waiting", "failed", "note"]


class ServingError(MyelinError):
    """A model environment that cannot be built, or a model server that does not start."""


@dataclass(frozen=True)
class EnvStatus:
    """One step of :func:`ensure_env`, for a progress line; ``str()`` is that line.

    >>> str(EnvStatus("built", "uv", Path("/c/ab.log"), 12.34))
    'built with uv in 12.3 s (log /c/ab.log)'
    """

    state: State
    installer: str  # "uv" or "pip"
    log: Path
    seconds: float = 0.0
    note: str = ""

    def __str__(self) -> str:
        if self.state == "building":
            return f"building with {self.installer} … (log {self.log})"
        if self.state == "built":
            return f"built with {self.installer} in {self.seconds:.1f} s (log {self.log})"
        if self.state == "cached":
            return f"cached ({self.log.with_suffix('')})"
        if self.state == "waiting":
            return f"waiting for another build of this environment (log {self.log})"
        if self.state == "failed":
            return f"building with {self.installer} failed after {self.seconds:.1f} s (log {self.log})"
        return self.note


def _no_progress(status: EnvStatus) -> None:
    """The default ``progress`` callback: discard."""


# --------------------------------------------------------------------------- the runtime copied in


@functools.cache
def runtime_stamp() -> str:
    """A version stamp of the runtime copied into model environments: a hash of :func:`runtime_files`.

    Only the runtime's own files count, so editing the compiler or the local runner does not rebuild
    every model environment (the copy is of the whole package, but model code can use only the runtime).
    Computed once per process: every model server start asks for it.
    """
    root = Path(myelin_sdk.__file__).parent
    digest = hashlib.sha256()
    for path in runtime_files():
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def runtime_files() -> list[Path]:
    """``myelin_sdk/__init__.py``, every file of ``myelin_sdk/runtime/`` and the package modules they import
    (relative or ``myelin_sdk.*`` imports, followed transitively), sorted."""
    root = Path(myelin_sdk.__file__).parent
    found = {root / "__init__.py"}
    found.update(p for p in (root / "runtime").rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    todo = [p for p in found if p.suffix == ".py"]
    while todo:
        path = todo.pop()
        for target in _imported(root, path):
            if target not in found:
                found.add(target)
                todo.append(target)
    return sorted(found)


def _runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``node``'s tree except the bodies of ``if TYPE_CHECKING:`` blocks (never imported)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            for other in child.orelse:
                yield other
                yield from _runtime_nodes(other)
            continue
        yield child
        yield from _runtime_nodes(child)


def _imported(root: Path, path: Path) -> Iterator[Path]:
    """Files of the ``myelin_sdk`` package that module ``path`` imports."""
    try:
        tree = ast.parse(path.read_bytes())
    except (SyntaxError, ValueError):
        return
    package = path.parent.relative_to(root).parts
    for node in _runtime_nodes(tree):
        candidates: list[tuple[str, ...]] = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
            elif node.module and node.module.split(".")[0] == "myelin_sdk":
                base = ()
            else:
                continue
            module: tuple[str, ...] = tuple(node.module.split(".")) if node.module else ()
            if not node.level:
                module = module[1:]
            candidates.append((*base, *module))
            candidates.extend((*base, *module, alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                names = alias.name.split(".")
                if names[0] == "myelin_sdk":
                    candidates.extend(tuple(names[1:i]) for i in range(2, len(names) + 1))
        for parts in candidates:
            for target in (root.joinpath(*parts).with_suffix(".py"), root.joinpath(*parts, "__init__.py")):
                if parts and target.is_file():
                    yield target


# --------------------------------------------------------------------------- requirements


def env_key(requirements_text: str, *, stamp: str | None = None) -> str:
    """The cache key of an environment: a hash of the requirements, the Python version and the runtime stamp
    (not of the installer: uv and pip build the same environment).

    >>> len(env_key("seldon-core==1.17.1\\n", stamp="x"))
    20
    """
    python = f"{sys.implementation.name}-{sys.version}-{platform.machine()}"
    parts = (requirements_text, python, stamp if stamp is not None else runtime_stamp())
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:20]


def _project(raw: str) -> str | None:
    """The normalised project name a requirement line installs (``None`` for options, comments, paths).

    >>> [_project(x) for x in ("Myelin[all]>=0.1 ; python_version>'3'", "-r a.txt", "x @ https://h/x.whl")]
    ['myelin', None, 'x']
    """
    line = raw.strip()
    if not line or line.startswith(("#", "-", ".", "/")):
        return None
    if "://" in line.split("@", 1)[0]:  # a bare URL: its #egg= fragment names the project
        egg = line.partition("#egg=")[2]
        return egg.split("&", 1)[0].strip().lower().replace("_", "-") or None
    line = line.split(" #", 1)[0]
    for stop in "<>=!~;[ @":
        line = line.split(stop, 1)[0]
    return line.strip().lower().replace("_", "-").replace(".", "-") or None


def _names(requirements_text: str, package: str) -> bool:
    """Whether a requirements file names ``package`` itself (any version specifier or none)."""
    return any(_project(line) == package for line in requirements_text.splitlines())


def _pins_setuptools(requirements_text: str) -> bool:
    return _names(requirements_text, "setuptools")


def _extra_requirements(requirements_text: str, seldon: bool = True) -> list[str]:
    """What the environment needs beyond the task's requirements: seldon-core itself (an s2i builder image
    brings it, so requirements files often leave it out) and ``setuptools<82``, unless they name them."""
    extra = [] if not seldon or _names(requirements_text, "seldon-core") else [SELDON_CORE_PIN]
    return extra + ([] if _pins_setuptools(requirements_text) else [SETUPTOOLS_PIN])


def without_myelin(requirements_text: str, base: Path) -> tuple[str, list[str]]:
    """The requirements without lines that name ``myelin`` (the original client), and those lines.

    Paths of ``-r``/``-c`` lines become absolute (from ``base``), so the copy can live elsewhere.

    >>> without_myelin("numpy\\nmyelin==0.1.3\\n-r more.txt\\n", Path("/code"))
    ('numpy\\n-r /code/more.txt\\n', ['myelin==0.1.3'])
    """
    kept, dropped = [], []
    for raw in requirements_text.splitlines():
        if _project(raw) == "myelin":
            dropped.append(raw.split(" #", 1)[0].strip())
            continue
        words = raw.split(None, 1)
        if len(words) == 2 and words[0] in _FILE_OPTIONS and not Path(words[1].strip()).is_absolute():
            raw = f"{words[0]} {base / words[1].strip()}"
        kept.append(raw)
    return "".join(f"{line}\n" for line in kept), dropped


def installer() -> tuple[str, Path | None]:
    """``("uv", <binary>)`` when the ``uv`` package's binary is there (and ``MYELIN_INSTALLER`` is not
    ``pip``), else ``("pip", None)``."""
    if os.environ.get("MYELIN_INSTALLER", "").strip().lower() == "pip":
        return "pip", None
    try:
        from uv import find_uv_bin

        binary = Path(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return "pip", None
    return ("uv", binary) if binary.is_file() else ("pip", None)


# --------------------------------------------------------------------------- building


def ensure_env(
    requirements: Path,
    cache_dir: Path,
    *,
    progress: Callable[[EnvStatus], None] = _no_progress,
    seldon: bool = True,
) -> Path:
    """The Python of a virtual environment with ``requirements`` installed, built once and cached.

    With ``seldon`` (the default), ``seldon-core==1.17.1`` is added when the requirements do not name
    seldon-core; ``setuptools<82`` always is, unless they pin setuptools. Lines naming ``myelin`` are left
    out (:data:`MYELIN_NOTE` goes to ``progress`` and the log).

    The environment lives in ``cache_dir/<key>/`` (:func:`env_key`), its build log in ``cache_dir/<key>.log``.
    It is built in a temporary folder next to it and renamed into place when complete, so a killed build
    never counts as cached; a lock file (``cache_dir/<key>.lock``) makes concurrent callers wait for one
    build. ``progress`` gets an :class:`EnvStatus` per step (building, built or cached; waiting; the
    ``myelin`` note). Raises :class:`ServingError` with the log's tail when the build fails.
    """
    requirements = Path(requirements).resolve()
    try:
        text = requirements.read_text(encoding="utf-8")
    except OSError as exc:
        raise ServingError(f"cannot read the model requirements {requirements}: {exc}") from exc
    cache_dir = Path(cache_dir).resolve()
    cache_dir.mkdir(parents=True, exist_ok=True)
    kept, dropped = without_myelin(text, requirements.parent)
    extra = _extra_requirements(kept, seldon)
    key = env_key(text + "".join(f"\n{e}" for e in extra))
    final = cache_dir / key
    python = final / "bin" / "python"
    log = cache_dir / f"{key}.log"
    tool, binary = installer()
    if dropped:
        progress(EnvStatus("note", tool, log, note=MYELIN_NOTE))
    if python.exists():
        progress(EnvStatus("cached", tool, log))
        return python
    with _locked(cache_dir / f"{key}.lock", lambda: progress(EnvStatus("waiting", tool, log))):
        if python.exists():  # another process built it while we waited
            progress(EnvStatus("cached", tool, log))
            return python
        for stale in cache_dir.glob(f".{key}.tmp-*"):  # left by a killed build: we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        if final.exists():  # an environment whose interpreter is gone (a removed base Python)
            shutil.rmtree(final, ignore_errors=True)
        build = Path(tempfile.mkdtemp(prefix=f".{key}.tmp-", dir=cache_dir))
        build.chmod(0o755)
        began = time.monotonic()
        progress(EnvStatus("building", tool, log))
        try:
            with log.open("w", encoding="utf-8") as out:
                if dropped:
                    out.write(f"# {MYELIN_NOTE} (left out: {', '.join(dropped)})\n")
                source = requirements
                if dropped:
                    source = build / "myelin-requirements.txt"  # what was installed
                    source.write_text(kept, encoding="utf-8")
                _build(build, final, requirements, source, extra, binary, out)
            build.rename(final)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            progress(EnvStatus("failed", tool, log, time.monotonic() - began))
            raise
        progress(EnvStatus("built", tool, log, time.monotonic() - began))
    return python


@contextlib.contextmanager
def _locked(path: Path, waiting: Callable[[], None]) -> Iterator[None]:
    with path.open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waiting()
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _build(
    build: Path,
    final: Path,
    requirements: Path,
    source: Path,
    extra: list[str],
    uv: Path | None,
    out: TextIO,
) -> None:
    """Create the venv in ``build``, install ``source`` and ``extra`` (uv when ``uv`` is given, else pip),
    copy ``myelin_sdk``, check it, and point it at ``final``. Every command and its output go to ``out``."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    python = build / "bin" / "python"
    if uv is not None:
        # uv does not read pip's configuration: an index given to pip by environment serves uv too
        for pip_name, uv_name in (
            ("PIP_INDEX_URL", "UV_INDEX_URL"),
            ("PIP_EXTRA_INDEX_URL", "UV_EXTRA_INDEX_URL"),
        ):
            if env.get(pip_name) and not env.get(uv_name):
                env[uv_name] = env[pip_name]
        steps = [
            (
                "uv venv",
                [str(uv), "venv", "--allow-existing", "--no-project", "--python", sys.executable, str(build)],
            ),
            (
                f"uv pip install -r {requirements}",
                [str(uv), "pip", "install", "--python", str(python), "-r", str(source), *extra],
            ),
        ]
    else:
        steps = [
            ("create the virtual environment", [sys.executable, "-m", "venv", str(build)]),
            # --no-compile: .pyc files would record the temporary path; they are written on first import.
            (
                f"pip install -r {requirements}",
                [str(python), "-m", "pip", "install", "--no-compile", "-r", str(source), *extra],
            ),
        ]
    for what, command in steps:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        code = subprocess.run(
            command,
            cwd=requirements.parent,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        ).returncode
        if code != 0:
            out.flush()
            raise ServingError(
                f"building the model environment for {requirements} failed: {what} exited with "
                f"status {code}; the last lines of its log ({out.name}):\n{tail(Path(out.name), 30)}"
            )
    site_packages = _site_packages(build)
    package = Path(myelin_sdk.__file__).parent
    shutil.copytree(
        package, site_packages / "myelin_sdk", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    _check_runtime(python, env, out)
    _relocate(build, final)
    info = {
        "requirements": str(requirements),
        "requirements_text": requirements.read_text(encoding="utf-8"),
        "added": extra,
        "installer": "uv" if uv is not None else "pip",
        "python": sys.version,
        "runtime_stamp": runtime_stamp(),
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (build / _INFO_NAME).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def _site_packages(venv: Path) -> Path:
    candidate = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    if candidate.is_dir():
        return candidate
    found = sorted(venv.glob("lib/python*/site-packages"))
    if not found:
        raise ServingError(f"no site-packages folder in the model environment {venv}")
    return found[0]


def _check_runtime(python: Path, env: Mapping[str, str], out: TextIO) -> None:
    """Importing ``myelin_sdk.runtime`` in the environment works and loads none of the SDK's heavy deps."""
    probe = f"import sys, myelin_sdk.runtime\nprint(','.join(m for m in {_HEAVY!r} if m in sys.modules))\n"
    result = subprocess.run(
        [str(python), "-c", probe], env=dict(env), capture_output=True, text=True, check=False
    )
    out.write(f"$ python -c 'import myelin_sdk.runtime'\n{result.stdout}{result.stderr}")
    out.flush()
    if result.returncode != 0:
        raise ServingError(
            f"myelin_sdk.runtime does not import in the model environment:\n{result.stderr.strip()[-2000:]}"
        )
    if result.stdout.strip():
        raise ServingError(f"importing myelin_sdk.runtime loads {result.stdout.strip()} in the model server")


def _relocate(build: Path, final: Path) -> None:
    """Rewrite the temporary path in the venv's scripts (shebangs, activate) and config to ``final``."""
    old, new = str(build).encode(), str(final).encode()
    for path in [*(build / "bin").iterdir(), build / "pyvenv.cfg"]:
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        if old in data and b"\0" not in data[:1024]:
            path.write_bytes(data.replace(old, new))
