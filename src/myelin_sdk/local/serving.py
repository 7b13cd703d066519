"""Model servers of the local runner: one virtual environment per deploy task, one process per served version.

A deploy task's model runs in the real ``seldon-core`` 1.17.1 microservice (the last Apache-2.0 release),
which cannot share the SDK's environment (its pins break it, DESIGN §7). So every deploy task gets a virtual
environment built from its own ``requirements.txt``, cached by content, and each served version runs as
``seldon-core-microservice`` in its own process group on free loopback ports::

    python = ensure_env(code / "requirements.txt", cache / "envs", progress=print)  # ~20 s, then cached
    server = ModelServer(python, code, env={"MODEL_PATH": str(version_dir)}, log_path=logs / "v7.log")
    server.start(timeout=60)               # waits until GET /health/ping answers
    server.url                             # http://127.0.0.1:<port>, the Seldon v1 protocol (DESIGN §5)
    server.stop()                          # SIGTERM to the whole group, SIGKILL after a grace period

The environment gets ``seldon-core==1.17.1`` unless the requirements name seldon-core (an s2i builder image
would bring it), ``setuptools<82`` unless they pin setuptools (seldon-core imports ``pkg_resources``), and a
copy of the SDK's own ``myelin_sdk`` package, so model code can
``from myelin_sdk.runtime import publish_metric`` (the runtime needs only the standard library and
``prometheus_client``, which seldon-core brings).

Facts about seldon-core 1.17.1 this module relies on: ``GET /health/ping`` answers ``pong`` once the model
object is built; HTTP, gRPC and metrics servers bind ``0.0.0.0`` (no host flag), so all three ports are set;
the gRPC server is a child that survives a SIGTERM to the parent alone, hence the process group.
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
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TextIO

import myelin_sdk

from ..errors import MyelinError
from .executor import tail

__all__ = [
    "HEALTH_PATH",
    "ModelServer",
    "ServingError",
    "ensure_env",
    "env_key",
    "free_port",
    "read_model_name",
    "read_s2i_environment",
    "runtime_files",
    "runtime_stamp",
    "tail",
]

#: seldon-core's liveness endpoint (``wrapper.py``: ``GET /health/ping`` -> ``pong``).
HEALTH_PATH = "/health/ping"
#: What seldon-core 1.17.1 needs when the requirements leave setuptools open (it imports ``pkg_resources``).
SETUPTOOLS_PIN = "setuptools<82"
#: The microservice, when the requirements do not name seldon-core: 1.17.1, the last Apache-2.0 release.
SELDON_CORE_PIN = "seldon-core==1.17.1"
#: Modules the model server must not load by importing ``myelin_sdk.runtime`` (heavy, not installed there).
_HEAVY = ("pydantic", "hera", "yaml", "kubernetes")
_LOG_NAME = "build.log"
_INFO_NAME = "myelin-env.json"


class ServingError(MyelinError):
    """A model environment that cannot be built, or a model server that does not start."""


def _no_progress(line: str) -> None:
    """The default ``progress`` callback: discard."""


# --------------------------------------------------------------------------- environments


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


def env_key(requirements_text: str, *, stamp: str | None = None) -> str:
    """The cache key of an environment: a hash of the requirements, the Python version and the runtime stamp.

    >>> len(env_key("seldon-core==1.17.1\\n", stamp="x"))
    20
    """
    python = f"{sys.implementation.name}-{sys.version}-{platform.machine()}"
    parts = (requirements_text, python, stamp if stamp is not None else runtime_stamp())
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:20]


def _names(requirements_text: str, package: str) -> bool:
    """Whether a requirements file names ``package`` itself (any version specifier or none)."""
    for raw in requirements_text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name = line
        for stop in "<>=!~;[ @":
            name = name.split(stop, 1)[0]
        if name.strip().lower().replace("_", "-") == package:
            return True
    return False


def _pins_setuptools(requirements_text: str) -> bool:
    return _names(requirements_text, "setuptools")


def _extra_requirements(requirements_text: str, seldon: bool = True) -> list[str]:
    """What the environment needs beyond the task's requirements: seldon-core itself (an s2i builder image
    brings it, so requirements files often leave it out) and ``setuptools<82``, unless they name them."""
    extra = [] if not seldon or _names(requirements_text, "seldon-core") else [SELDON_CORE_PIN]
    return extra + ([] if _pins_setuptools(requirements_text) else [SETUPTOOLS_PIN])


def ensure_env(
    requirements: Path,
    cache_dir: Path,
    *,
    progress: Callable[[str], None] = _no_progress,
    seldon: bool = True,
) -> Path:
    """The Python of a virtual environment with ``requirements`` installed, built once and cached.

    With ``seldon`` (the default), ``seldon-core==1.17.1`` is added when the requirements do not name
    seldon-core; ``setuptools<82`` always is, unless they pin setuptools.

    The environment lives in ``cache_dir/<key>/`` (:func:`env_key`). It is built in a temporary folder next
    to it and renamed into place when complete, so a killed build never counts as cached; a lock file
    (``cache_dir/<key>.lock``) makes concurrent callers wait for one build. pip's output goes line by line
    to ``progress`` and to ``build.log`` in the environment. Raises :class:`ServingError` with the log's
    tail when the build fails (the log is kept as ``cache_dir/<key>.failed.log``).
    """
    requirements = Path(requirements).resolve()
    try:
        text = requirements.read_text(encoding="utf-8")
    except OSError as exc:
        raise ServingError(f"cannot read the model requirements {requirements}: {exc}") from exc
    cache_dir = Path(cache_dir).resolve()
    cache_dir.mkdir(parents=True, exist_ok=True)
    extra = _extra_requirements(text, seldon)
    key = env_key(text + "".join(f"\n{e}" for e in extra))
    final = cache_dir / key
    python = final / "bin" / "python"
    if python.exists():
        return python
    with _locked(cache_dir / f"{key}.lock", progress):
        if python.exists():  # another process built it while we waited
            return python
        for stale in cache_dir.glob(f".{key}.tmp-*"):  # left by a killed build: we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        if final.exists():  # an environment whose interpreter is gone (a removed base Python)
            shutil.rmtree(final, ignore_errors=True)
        build = Path(tempfile.mkdtemp(prefix=f".{key}.tmp-", dir=cache_dir))
        build.chmod(0o755)
        try:
            _build(build, final, requirements, extra, progress)
            build.rename(final)
            (cache_dir / f"{key}.failed.log").unlink(missing_ok=True)
        except BaseException:
            failed = cache_dir / f"{key}.failed.log"
            with contextlib.suppress(OSError):
                shutil.copyfile(build / _LOG_NAME, failed)
            shutil.rmtree(build, ignore_errors=True)
            raise
    return python


@contextlib.contextmanager
def _locked(path: Path, progress: Callable[[str], None] = _no_progress) -> Iterator[None]:
    with path.open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"waiting for another build of this environment ({path})")
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _build(
    build: Path, final: Path, requirements: Path, extra: list[str], progress: Callable[[str], None]
) -> None:
    """Create the venv in ``build``, install, copy ``myelin_sdk``, check it, and point it at ``final``."""
    log = build / _LOG_NAME
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    python = build / "bin" / "python"
    steps: list[tuple[str, list[str]]] = [
        ("create the virtual environment", [sys.executable, "-m", "venv", str(build)]),
        # --no-compile: .pyc files would record the temporary path; they are written on first import instead.
        (
            f"pip install -r {requirements}",
            [str(python), "-m", "pip", "install", "--no-compile", "-r", str(requirements), *extra],
        ),
    ]
    with log.open("a", encoding="utf-8") as out:
        for what, command in steps:
            out.write(f"$ {' '.join(command)}\n")
            out.flush()
            progress(f"$ {' '.join(command)}")
            code = _stream(command, requirements.parent, env, out, progress)
            if code != 0:
                out.flush()
                raise ServingError(
                    f"building the model environment for {requirements} failed: {what} exited with "
                    f"status {code}; the last lines of its log "
                    f"({final.parent / (final.name + '.failed.log')}):\n{tail(log, 30)}"
                )
    site_packages = _site_packages(build)
    source = Path(myelin_sdk.__file__).parent
    shutil.copytree(
        source, site_packages / "myelin_sdk", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    _check_runtime(python, env, log)
    _relocate(build, final)
    info = {
        "requirements": str(requirements),
        "requirements_text": requirements.read_text(encoding="utf-8"),
        "added": extra,
        "python": sys.version,
        "runtime_stamp": runtime_stamp(),
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (build / _INFO_NAME).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def _stream(
    command: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    out: TextIO,
    progress: Callable[[str], None],
) -> int:
    """Run ``command``; every output line goes to ``out`` and ``progress``. Returns the exit status."""
    with subprocess.Popen(
        list(command),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        bufsize=1,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            out.write(line)
            out.flush()
            progress(line.rstrip("\n"))
        return process.wait()


def _site_packages(venv: Path) -> Path:
    candidate = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    if candidate.is_dir():
        return candidate
    found = sorted(venv.glob("lib/python*/site-packages"))
    if not found:
        raise ServingError(f"no site-packages folder in the model environment {venv}")
    return found[0]


def _check_runtime(python: Path, env: Mapping[str, str], log: Path) -> None:
    """Importing ``myelin_sdk.runtime`` in the environment works and loads none of the SDK's heavy deps."""
    probe = f"import sys, myelin_sdk.runtime\nprint(','.join(m for m in {_HEAVY!r} if m in sys.modules))\n"
    result = subprocess.run(
        [str(python), "-c", probe], env=dict(env), capture_output=True, text=True, check=False
    )
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ python -c 'import myelin_sdk.runtime'\n{result.stdout}{result.stderr}")
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


# --------------------------------------------------------------------------- model code folders


def read_s2i_environment(code_dir: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines of ``code_dir/.s2i/environment`` (s2i's Python builder convention), or ``{}``."""
    path = Path(code_dir) / ".s2i" / "environment"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    values: dict[str, str] = {}
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def read_model_name(code_dir: Path, default: str | None = None) -> str:
    """The model class seldon-core serves from ``code_dir``.

    ``MODEL_NAME`` of ``.s2i/environment``; else ``default``; else the stem of the folder's only ``.py``
    file (Seldon's convention: the class is named like its module). Raises :class:`ServingError` otherwise.
    """
    name = read_s2i_environment(code_dir).get("MODEL_NAME")
    if name:
        return name
    if default:
        return default
    modules = sorted(p.stem for p in Path(code_dir).glob("*.py") if p.stem != "__init__")
    if len(modules) == 1:
        return modules[0]
    raise ServingError(
        f"cannot tell which model class to serve from {code_dir}: set MODEL_NAME=<Class> in "
        f"{Path(code_dir) / '.s2i' / 'environment'} (found modules: {', '.join(modules) or 'none'})"
    )


# --------------------------------------------------------------------------- model servers


def free_port() -> int:
    """A TCP port free on every interface now (seldon-core binds ``0.0.0.0``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        port: int = sock.getsockname()[1]
        return port


class ModelServer:
    """``seldon-core-microservice`` serving one model version, in its own process group.

    ``python`` is the environment's interpreter (from :func:`ensure_env`; the microservice script is next
    to it), ``code_dir`` the model code folder (the working directory, so the class imports), ``env`` extra
    environment variables (``MODEL_PATH``, ``MODEL_VERSION``, ``PUSHGATEWAY_URL``, ...). Usable as a context
    manager (``with ModelServer(...) as server:`` starts and stops it).
    """

    def __init__(
        self,
        python: Path,
        code_dir: Path,
        *,
        model_class: str | None = None,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.python = Path(python)
        self.code_dir = Path(code_dir)
        self.model_class = model_class or read_model_name(self.code_dir)
        self.env = dict(env or {})
        self.log_path = Path(log_path) if log_path else Path(tempfile.mkdtemp(prefix="myelin-model-")) / "log"
        self.extra_args = list(extra_args)
        self.http_port = self.grpc_port = self.metrics_port = 0
        self.ready_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<http port>``: the Seldon v1 protocol (``/api/v1.0/predictions``, ...)."""
        if not self.http_port:
            raise ServingError("the model server has not been started")
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def pid(self) -> int | None:
        """The microservice's pid, which is also its process group id (``None`` before ``start``)."""
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        """Whether the main process is alive."""
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        """The command line (ports as currently chosen)."""
        script = self.python.parent / "seldon-core-microservice"
        return [
            str(script),
            self.model_class,
            "--service-type",
            "MODEL",
            "--http-port",
            str(self.http_port),
            "--grpc-port",
            str(self.grpc_port),
            "--metrics-port",
            str(self.metrics_port),
            *self.extra_args,
        ]

    def start(self, timeout: float = 60.0, *, attempts: int = 3) -> None:
        """Start the server and wait until ``GET /health/ping`` answers.

        Raises :class:`ServingError` with the log's tail when the process exits or ``timeout`` passes (the
        process group is stopped first). A port taken between choosing it and binding it is retried with
        new ports, up to ``attempts`` times.
        """
        if self.running:
            return
        script = self.python.parent / "seldon-core-microservice"
        if not script.exists():
            raise ServingError(f"{script} does not exist: is seldon-core in the model's requirements.txt?")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        venv = self.python.parent.parent
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        env.update(
            VIRTUAL_ENV=str(venv),
            PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.env)
        began = time.monotonic()
        for attempt in range(1, attempts + 1):
            ports: set[int] = set()
            while len(ports) < 3:
                ports.add(free_port())
            self.http_port, self.grpc_port, self.metrics_port = sorted(ports)
            with self.log_path.open("ab") as log:
                log.write(f"$ {' '.join(self.command())}\n".encode())
                log.flush()
                self._process = subprocess.Popen(
                    self.command(),
                    cwd=self.code_dir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            problem = self._wait_ready(began + timeout)
            if problem is None:
                self.ready_seconds = time.monotonic() - began
                return
            self.stop()
            log_tail = tail(self.log_path, 30)
            if (
                attempt < attempts
                and "Address already in use" in log_tail
                and time.monotonic() < began + timeout
            ):
                continue
            raise ServingError(
                f"the model server {self.model_class} in {self.code_dir} {problem}; "
                f"the last lines of {self.log_path}:\n{log_tail}"
            )

    def _wait_ready(self, deadline: float) -> str | None:
        """``None`` once the health endpoint answers, else what went wrong."""
        assert self._process is not None
        while True:
            code = self._process.poll()
            if code is not None:
                return f"exited with status {code} before it was ready"
            try:
                with urllib.request.urlopen(self.url + HEALTH_PATH, timeout=1.0) as response:
                    if response.status == 200:
                        return None
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() >= deadline:
                return "was not ready in time"
            time.sleep(0.05)

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM the whole process group, then SIGKILL it if anything is left after ``grace`` seconds."""
        process = self._process
        if process is None:
            return
        pgid = process.pid
        if process.poll() is not None and not _group_alive(pgid):
            return  # already stopped (or it exited and took its children with it)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _group_alive(pgid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
            end = time.monotonic() + 5.0
            while _group_alive(pgid) and time.monotonic() < end:
                time.sleep(0.05)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=1.0)

    def __enter__(self) -> ModelServer:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
