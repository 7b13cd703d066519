"""Serving on one machine: which model class a deploy task's code folder serves, and the names of the
serving environments (:mod:`.envs`) and model servers (:mod:`.model_server`, seldon-core's wrapper on
127.0.0.1) kept importable from here::

    read_model_name(code)                  # MODEL_NAME of .s2i/environment, else the folder's only module
    read_s2i_environment(code)             # {"MODEL_NAME": ..., "SERVICE_TYPE": "MODEL", ...}

seldon-core 1.17.1 answers ``GET /health/ping`` with ``pong`` once the model object is built.
"""

from __future__ import annotations

from pathlib import Path

# the serving environments moved to .envs; their names stay importable from here
from .envs import ServingError, ensure_env, env_key, runtime_files, runtime_stamp
from .executor import tail

__all__ = [
    "HEALTH_PATH",
    "ServingError",
    "ensure_env",
    "env_key",
    "read_model_name",
    "read_s2i_environment",
    "runtime_files",
    "runtime_stamp",
    "tail",
]

#: seldon-core's liveness endpoint (``wrapper.py``: ``GET /health/ping`` -> ``pong``).
HEALTH_PATH = "/health/ping"


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
