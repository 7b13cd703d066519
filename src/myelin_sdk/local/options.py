"""How to run an axon locally: the flags of ``myelin run``, as :class:`~.engine.Engine` takes them::

    options = RunOptions(workdir="build", port=9000, artifacts={"data": "./data"})
    options.workdir  # absolute: tasks run in other folders
    Engine(axon, options).start()

Relative paths are resolved from where the user stands when the options are made.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["RunOptions", "default_env_cache"]


def default_env_cache() -> Path:
    """Where served models' virtual environments are cached (``MYELIN_CACHE_DIR``, else ~/.cache/myelin)."""
    base = os.environ.get("MYELIN_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "myelin"
    )
    return Path(base) / "serving-envs"


@dataclass
class RunOptions:
    """How to run an axon locally (the flags of ``myelin run``)."""

    workdir: Path = Path(".")
    artifacts: dict[str, Path] = field(default_factory=dict)
    prometheus_url: str | None = None
    pushgateway_url: str | None = None
    #: CA file verifying an https ``prometheus_url`` (default: the system's CAs).
    prometheus_ca: Path | None = None
    #: File holding a bearer token sent to Prometheus.
    prometheus_token_file: Path | None = None
    #: Skip TLS verification of Prometheus (labs only).
    prometheus_insecure: bool = False
    port: int = 0
    resume: str | bool = False
    alert_interval: float = 5.0
    env_cache: Path = field(default_factory=default_env_cache)
    namespace: str = "local"

    def __post_init__(self) -> None:
        # str or Path; relative paths are resolved from where the user stands now, not from a task's folder
        self.workdir = Path(self.workdir).expanduser().resolve()
        self.artifacts = {k: Path(v).expanduser().resolve() for k, v in self.artifacts.items()}
        self.env_cache = Path(self.env_cache).expanduser()
        for name in ("prometheus_ca", "prometheus_token_file"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, Path(value).expanduser().resolve())
