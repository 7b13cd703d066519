"""Deployer steps on one machine: choose versions, serve each in seldon-core, split traffic in the router.

The same decisions as the cluster's deploy step (:mod:`myelin_sdk.runtime.deploy`, whose version selection
this module calls): every backend model serves its trainer's best version (``lossMetric``) or newest one,
its folder as ``MODEL_PATH`` (ending in ``/``);
that graph version goes in front of the versions served before (unchanged when it is the same); the
rollout's weights (:mod:`myelin_sdk.traffic`) give each served version its share, ``routingStrategy`` each
backend model its share inside a version. Each (version, backend model) runs in its own model server
(:mod:`.model_server`: seldon-core's wrapper on 127.0.0.1, its process group recorded in the run's state;
or, for a deploy task built from a Dockerfile that runs its own app, :mod:`.custom_server` from its ``CMD``
on the ``PORT`` the runner picks), in a virtual environment built from the deploy task's
``requirements.txt``. A deployer with several models serves each of its ``routes`` as a DAG over the models
of a version (:mod:`.graph_router`). The new routes are swapped into the router at once; a version that
stops serving is stopped only after its in-flight requests finished::

    deployments = Deployments(context)
    served = deployments.deploy(deployer, sensor_run_id=3)   # [{"label": "v1a2...", "traffic": 50, ...}, ...]
    deployments.endpoint(deployer)                            # 'http://127.0.0.1:9000'
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import contract
from ..errors import Diagnostic, MyelinError
from ..runtime.deploy import DeployError, label_of, select_version
from ..spec import Axon, Deployer, Model
from ..traffic import apportion, deployer_destinations, version_shares
from .custom_server import CustomServer, custom_dockerfile
from .envs import EnvStatus, ensure_env
from .graph_router import graphs_of, route_problems
from .model_server import ModelServer
from .router import Backend, Route, Router
from .state import State
from .workspace import PYTHONS, RunDir

#: A model server: seldon-core's wrapper around a Seldon class, or a Dockerfile-built custom server.
Server = ModelServer | CustomServer


def deployer_name(deployer: Deployer) -> str:
    return deployer.name or "deployer"


def backend_weights(model: Model) -> list[tuple[str, int]]:
    """(backend model, weight) of a model's ``routingStrategy`` (equal shares without one), weight > 0."""
    if not model.routing_strategy:
        return [(b.name, 1) for b in model.backend_models]
    return [(d.destination_name, d.weight) for d in model.routing_strategy[0].destinations if d.weight > 0]


def check_deployer(deployer: Deployer, where: str) -> list[Diagnostic]:
    """What the local runner cannot serve (a clear error at start, not at the first deploy): routes whose
    DAG cannot run (:func:`.graph_router.route_problems`), backend model names used twice (each names a
    model server of a version), more than one rollout step."""
    problems = route_problems(deployer, where)
    seen: dict[str, str] = {}
    for i, model in enumerate(deployer.models):
        for j, backend in enumerate(model.backend_models):
            if backend.name in seen and seen[backend.name] != model.name:
                problems.append(
                    Diagnostic(
                        f"{where}.models[{i}].backendModels[{j}].name",
                        f"backend model {backend.name!r} is also one of model {seen[backend.name]!r}: "
                        "local runs need unique backend model names in a deployer",
                    )
                )
            seen.setdefault(backend.name, model.name)
    if deployer.rollout_spec and len(deployer.rollout_spec) > 1:
        problems.append(Diagnostic(f"{where}.rolloutSpec[1]", "local runs use one rollout step"))
    return problems


@dataclass
class ServingContext:
    """What deployments need from the engine."""

    axon: Axon
    run_dir: RunDir
    state: State
    code_dirs: dict[str, Path]  # deploy task -> the folder of its code
    pushgateway_url: str
    env_cache: Path
    port: int
    task_env: Callable[[str], dict[str, str]]  # task name -> its environment (the runtime contract)
    log: Callable[[str], None]
    stop: threading.Event


@dataclass
class _Served:
    router: Router
    servers: dict[tuple[str, str], Server] = field(default_factory=dict)  # (label, backend) -> server


class Deployments:
    """The model servers and routers of a run, one router per deployer."""

    def __init__(self, context: ServingContext) -> None:
        self.ctx = context
        self._served: dict[str, _Served] = {}
        self._lock = threading.Lock()
        self._builds: dict[str, dict[str, Any]] = {}  # deploy task -> its serving env's last status
        self._builds_lock = threading.Lock()  # not _lock: builds happen while _serve holds it

    # ------------------------------------------------------------------ public

    def endpoint(self, deployer: str) -> str | None:
        served = self._served.get(deployer)
        return served.router.url if served else None

    def endpoints(self) -> dict[str, str]:
        return {name: s.router.url for name, s in self._served.items()}

    def routes(self) -> dict[str, list[str]]:
        """The route paths each serving deployer answers on its endpoint (Seldon's aliases left out)."""
        return {
            name: [p for p in s.router.graphs if not p.startswith("/api/")] or list(s.router.graphs)
            for name, s in self._served.items()
        }

    def stats(self) -> dict[str, Any]:
        return {name: s.router.stats() for name, s in self._served.items()}

    def builds(self) -> list[dict[str, Any]]:
        """The serving environment of each deploy task: ``what``, ``state`` (building, built, cached,
        waiting, failed), ``installer``, ``seconds`` (elapsed while building) and ``log``."""
        now = time.monotonic()
        with self._builds_lock:
            items = [dict(b) for b in self._builds.values()]
        for build in items:
            began = build.pop("began")
            if build["state"] in ("building", "waiting"):
                build["seconds"] = round(now - began, 1)
        return items

    def deploy(self, deployer: Deployer, sensor_run_id: int | None) -> list[dict[str, Any]]:
        """Select the new graph version, serve it next to the previous ones, record the deployment."""
        name = deployer_name(deployer)
        models: dict[str, str] = {}
        for backend in (b for m in deployer.models for b in m.backend_models):
            trainer = self.ctx.axon.task(backend.trainer)
            spec = trainer.train
            metric = spec.loss_metric if spec is not None else None
            greater = spec is not None and spec.loss_metric_selector == "greater"
            folder = Path(contract.model_root(str(self.ctx.run_dir.store), trainer.name))
            try:
                models[backend.name] = select_version(folder, metric, greater)
            except DeployError as exc:
                raise MyelinError(f"deployer {name!r}: {exc}") from None
        new = {"label": label_of(models), "models": models}
        current = self.ctx.state.current_deployment(name)
        history = [{"label": v["label"], "models": v["models"]} for v in (current.served if current else [])]
        versions = history if history and history[0]["models"] == models else [new, *history]
        shares = version_shares(deployer_destinations(self.ctx.axon, deployer), len(versions))
        served = [{**versions[index], "traffic": share} for index, share in shares]
        self._serve(deployer, served)
        self.ctx.state.record_deployment(name, sensor_run_id, served)
        split = ", ".join(f"{v['label']} {v['traffic']}%" for v in served)
        self.ctx.log(f"deployer {name}: serving {split} at {self.endpoint(name)}")
        return served

    def restore(self, deployers: list[Deployer]) -> None:
        """Serve again what each deployer served when the run stopped (``--resume``)."""
        for deployer in deployers:
            current = self.ctx.state.current_deployment(deployer_name(deployer))
            if current is not None:
                self._serve(deployer, current.served)
                self.ctx.log(
                    f"deployer {deployer_name(deployer)}: restored at {self.endpoint(current.deployer)}"
                )

    def stop(self) -> None:
        with self._lock:
            for served in self._served.values():
                served.router.stop()
                for server in served.servers.values():
                    server.stop()
            self._served.clear()

    # ------------------------------------------------------------------ internals

    def _router(self, deployer: Deployer) -> _Served:
        name = deployer_name(deployer)
        served = self._served.get(name)
        if served is None:
            port = 0 if self._served else self.ctx.port  # --port is the first deployer's endpoint
            router = Router(deployer.models[0].name, port=port, graphs=graphs_of(deployer))
            router.start()
            served = self._served[name] = _Served(router)
            if len(self._served) == 1:
                self.ctx.state.update_run(router_url=router.url)
        return served

    def _progress(self, task: str) -> Callable[[EnvStatus], None]:
        """One line per serving environment and step (building, built or cached), logged once per run for
        a cached one; the last status is kept for the live view (:meth:`builds`)."""
        what = f"serving env for {task}"

        def show(status: EnvStatus) -> None:
            with self._builds_lock:
                seen = self._builds.get(task)
                again = status.state in ("cached", "note") and seen is not None
                if status.state != "note" and not again:
                    self._builds[task] = {
                        "what": what,
                        "state": status.state,
                        "installer": status.installer,
                        "seconds": round(status.seconds, 1),
                        "log": str(status.log),
                        "began": time.monotonic() - status.seconds,
                    }
            if not again:  # a cached env is said once per run: each model server start asks again
                self.ctx.log(f"{what}: {status}")

        return show

    def _server(self, deployer: Deployer, label: str, backend_name: str, version: str) -> Server:
        backend = next(b for m in deployer.models for b in m.backend_models if b.name == backend_name)
        task = self.ctx.axon.task(backend.deployer)
        code = self.ctx.code_dirs[task.name]
        custom = custom_dockerfile(task, code)
        folders = [code] if custom is None or custom.workdir in (None, code) else [code, custom.workdir]
        requirements = next(
            (f / "requirements.txt" for f in folders if (f / "requirements.txt").is_file()), None
        )
        if requirements is None:
            raise MyelinError(
                f"deploy task {task.name!r}: no requirements.txt in {code} to build its environment"
            )
        progress = self._progress(task.name)
        python = ensure_env(requirements, self.ctx.env_cache, progress=progress, seldon=custom is None)
        env = self.ctx.task_env(task.name)
        env.update(contract.served_paths(str(self.ctx.run_dir.store), backend.trainer, version))
        env[contract.MODEL_VERSION] = label
        log = self.ctx.run_dir.logs / f"serve-{label}-{backend_name}.log"
        state = self.ctx.state

        def record(server: Server) -> None:  # its process group, for a resumed runner
            state.record_process("server", f"{label}/{backend_name}", server.pid or 0, server.created)

        def ended(server: Server) -> None:
            state.process_ended(server.pid or 0)

        server: Server
        if custom is None:
            server = ModelServer(python, code, env=env, log_path=log, on_start=record, on_stop=ended)
        else:
            if not custom.command:
                raise MyelinError(
                    f"deploy task {task.name!r}: its Dockerfile has no CMD or ENTRYPOINT to serve with"
                )
            cwd = custom.workdir or code
            command = custom.localise(custom.command, cwd)
            if Path(command[0]).name in PYTHONS:
                command[0] = str(python)  # the model environment's Python
            env["VIRTUAL_ENV"] = str(python.parent.parent)
            env["PATH"] = f"{python.parent}:{env.get('PATH', '')}"
            server = CustomServer(command, cwd, env=env, log_path=log, on_start=record, on_stop=ended)
        server.start(timeout=60)
        kind = "custom server" if custom is not None else "model server"
        self.ctx.log(f"{kind} {label}/{backend_name} ready at {server.url} (log {log})")
        return server

    def _serve(self, deployer: Deployer, served: list[dict[str, Any]]) -> None:
        with self._lock:
            target = self._router(deployer)
            routes = []
            wanted: set[tuple[str, str]] = set()
            for version in served:
                models: dict[str, list[Backend]] = {}
                for model in deployer.models:
                    pairs = backend_weights(model)
                    shares = apportion([w for _, w in pairs], 100)
                    backends = models[model.name] = []
                    for (backend_name, _), share in zip(pairs, shares, strict=True):
                        key = (version["label"], backend_name)
                        wanted.add(key)
                        if key not in target.servers:
                            target.servers[key] = self._server(
                                deployer, version["label"], backend_name, version["models"][backend_name]
                            )
                        server = target.servers[key]
                        protocol = "custom" if isinstance(server, CustomServer) else "seldon"
                        backends.append(Backend(server.url, share, name=backend_name, protocol=protocol))
                first = models[deployer.models[0].name]
                routes.append(Route(version["label"], first, int(version["traffic"]), models=models))
            target.router.set_routes(routes)
            for key in [k for k in target.servers if k not in wanted]:
                target.router.wait_idle(key[0], timeout=30)
                target.servers.pop(key).stop()
