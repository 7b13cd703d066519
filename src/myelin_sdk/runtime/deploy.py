"""Deploy step: choose the model version each backend serves, and render the SeldonDeployment to apply.

The compiler renders a deployer's SeldonDeployment once per number of served versions (1, 2, ...), with
*sentinel* version names in it, and inlines this module's source as the deploy step's script with that
configuration. At run time the script:

1. picks, for every backend model, a version under its trainer's registry root (``<store>/models/<trainer>``:
   one folder per version with a ``metrics.json``, registered after each successful train execution by
   :mod:`myelin_sdk.runtime.register`, or written with :mod:`myelin_sdk.runtime.registry`): the best
   by the trainer's ``lossMetric`` (lowest, or highest with ``lossMetricSelector: greater``; versions without
   the metric are skipped; ties go to the newest), or the newest when there is no loss metric;
2. puts that graph version in front of the ones served before (kept in a state file on the shared volume;
   unchanged when it is the same as the newest one);
3. prints the SeldonDeployment for that many versions, sentinels replaced by the real version names, as
   one line of JSON — the step's result, which a ``resource`` step applies;
4. writes the new list of served versions to ``<state>.pending``; a last step makes it the state once the
   apply succeeded (``--commit``), so a failed apply leaves the served history as it was.

A deployer with several predict routes has one SeldonDeployment per route: ``config["routes"]`` holds the
templates of the routes besides the main one, each rendered for the same served versions and written to its
``file`` (the step's output parameter ``sdep-<route>``), while the main one is printed.

``--mode promote`` serves only the newest version (100 % of the traffic); ``--mode rollback`` drops the
newest, so the version that served before it takes over. Both re-render from the recorded state.

Like the gate, this module imports only the standard library and nothing else of ``myelin_sdk``.
``MYELIN_STORE`` overrides the store root of the configuration (for local runs and tests), and
``MYELIN_OUTPUT_DIR`` the folder of the routes' files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["DeployError", "commit", "deploy", "deploy_all", "label_of", "main", "render", "select_version"]

#: Exit status of a deploy that cannot go ahead (no model version to serve, nothing to promote, ...).
EXIT_DEPLOY_ERROR = 4


class DeployError(Exception):
    """A deploy that cannot go ahead (no model version, a broken configuration)."""


def _versions(models_dir: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """(created, name, metrics) of every committed version in ``models_dir``, oldest first."""
    found = []
    if not models_dir.is_dir():
        return []
    for folder in models_dir.iterdir():
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        try:
            document = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not a committed version
        metrics = document.get("metrics") or {}
        found.append(
            (str(document.get("created", "")), folder.name, metrics if isinstance(metrics, dict) else {})
        )
    return sorted(found)


def select_version(models_dir: Path, metric: str | None, greater: bool) -> str:
    """The version folder to serve from ``models_dir`` (see the module docstring for the rule)."""
    candidates = _versions(models_dir)
    if metric is not None:
        scored = []
        for created, name, metrics in candidates:
            value = metrics.get(metric)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                scored.append((value if greater else -value, created, name))
        if scored:
            return max(scored)[2]
        if candidates:
            raise DeployError(f"no model version in {models_dir} has the metric {metric!r}")
    if not candidates:
        raise DeployError(
            f"no model version in {models_dir}: the trainer produced none yet (it has not succeeded, or its "
            "MODEL_PATH folder stayed empty)"
        )
    return candidates[-1][1]


def label_of(models: dict[str, str]) -> str:
    """A DNS-safe label for a graph version, stable for the same backend -> version mapping."""
    digest = hashlib.sha256(json.dumps(models, sort_keys=True).encode()).hexdigest()
    return f"v{digest[:10]}"


def _replace(value: Any, pairs: Sequence[tuple[str, str]]) -> Any:
    if isinstance(value, dict):
        return {k: _replace(v, pairs) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, pairs) for v in value]
    if isinstance(value, str):
        for old, new in pairs:
            value = value.replace(old, new)
    return value


def render(config: dict[str, Any], served: list[dict[str, Any]]) -> dict[str, Any]:
    """The SeldonDeployment for ``served`` (newest first): the template for that count, sentinels replaced."""
    template = config["templates"][str(len(served))]
    pairs: list[tuple[str, str]] = []
    for i, version in enumerate(served):
        pairs.append((config["label_sentinel"].format(i=i), version["label"]))
        for j, backend in enumerate(config["backends"]):
            pairs.append((config["version_sentinel"].format(i=i, j=j), version["models"][backend["name"]]))
    rendered: dict[str, Any] = _replace(template, pairs)
    return rendered


def _store(config: dict[str, Any]) -> Path:
    return Path(os.environ.get("MYELIN_STORE") or str(config["store"]))


def _route_file(route: dict[str, Any]) -> Path:
    """Where a route's SeldonDeployment is written; ``MYELIN_OUTPUT_DIR`` overrides the folder (tests)."""
    path = Path(str(route["file"]))
    folder = os.environ.get("MYELIN_OUTPUT_DIR")
    return Path(folder) / path.name if folder else path


def _state_file(config: dict[str, Any]) -> Path:
    return _store(config) / str(config["state"])


def _read_state(path: Path) -> list[dict[str, Any]]:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    if not isinstance(state, list):
        raise DeployError(f"{path} is not a list of served versions")
    return state


def _write_atomically(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def deploy(config: dict[str, Any], mode: str = "deploy") -> dict[str, Any]:
    """The main SeldonDeployment of :func:`deploy_all`."""
    return deploy_all(config, mode)[0]


def deploy_all(config: dict[str, Any], mode: str = "deploy") -> list[dict[str, Any]]:
    """Render the SeldonDeployments to apply (the main one, then one per other route), and record the
    pending state.

    ``deploy``: select each backend's version and put it in front of the served ones (a canary);
    ``promote``: serve only the newest version (all traffic); ``rollback``: drop the newest version, so the
    one that served before takes its place.
    """
    state_file = _state_file(config)
    served = _read_state(state_file)
    if mode == "deploy":
        store = _store(config)
        models = {
            b["name"]: select_version(store / b["models"], b.get("metric"), bool(b.get("greater")))
            for b in config["backends"]
        }
        if not served or served[0]["models"] != models:
            # a version served before comes back to the front, not twice
            older = [v for v in served if v["models"] != models]
            served = [{"label": label_of(models), "models": models}, *older]
    elif mode == "promote":
        if not served:
            raise DeployError("nothing to promote: no version has been deployed yet")
        served = served[:1]
    elif mode == "rollback":
        if len(served) < 2:
            raise DeployError("nothing to roll back to: no version served before the newest one")
        served = served[1:]
    else:
        raise DeployError(f"unknown mode {mode!r}")
    served = served[: len(config["templates"])]
    _write_atomically(state_file.with_name(state_file.name + ".pending"), served)
    routes = config.get("routes") or []
    return [
        render(config, served),
        *(render({**config, "templates": r["templates"]}, served) for r in routes),
    ]


def commit(config: dict[str, Any]) -> None:
    """Make the pending served versions the state (after the SeldonDeployment was applied)."""
    state_file = _state_file(config)
    try:
        os.replace(state_file.with_name(state_file.name + ".pending"), state_file)
    except FileNotFoundError:
        raise DeployError(f"nothing to commit: no pending served versions beside {state_file}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """``--config JSON`` renders (prints the manifest); ``--config JSON --commit`` records the state."""
    parser = argparse.ArgumentParser(prog="deploy.py", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="the deployer configuration (JSON) the compiler made")
    parser.add_argument("--commit", action="store_true", help="record the pending served versions")
    parser.add_argument(
        "--mode", choices=["deploy", "promote", "rollback"], default="deploy", help="what to render (deploy)"
    )
    args = parser.parse_args(argv)
    config = json.loads(args.config)
    try:
        if args.commit:
            commit(config)
        else:
            manifests = deploy_all(config, args.mode)
            for route, manifest in zip(config.get("routes") or [], manifests[1:], strict=True):
                _route_file(route).write_text(json.dumps(manifest, sort_keys=True, separators=(",", ":")))
            print(json.dumps(manifests[0], sort_keys=True, separators=(",", ":")), flush=True)
    except DeployError as exc:
        print(f"deploy error: {exc}", file=sys.stderr, flush=True)
        return EXIT_DEPLOY_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
