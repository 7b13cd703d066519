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
stops serving is stopped only after its in-flight requests finished. Every model server is health-checked
(:mod:`.supervisor`): one that died gets no traffic at once and is replaced by a new one; a deploy never
keeps a dead one::

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
from .graphs import graphs_of, route_problems
from .model_server import ModelServer
from .router import Router
from .routes import Backend, Route
from .state import State
from .supervisor import Supervisor
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
    DAG cannot run (:func:`.graphs.route_problems`), backend model names used twice (each names a
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
    deployer: Deployer
    servers: dict[tuple[str, str], Server] = field(default_factory=dict)  # (label, backend) -> server
    served: list[dict[str, Any]] = field(default_factory=list)  # the versions now served, with traffic
    restarts: dict[tuple[str, str], int] = field(default_factory=dict)  # replacements of a dead server


#: How often a model server that keeps dying is replaced before its version is left out for good.
MAX_RESTARTS = 5


class Deployments:
    """The model servers and routers of a run, one router per deployer."""

    def __init__(self, context: ServingContext) -> None:
        self.ctx = context
        self._served: dict[str, _Served] = {}
        self._lock = threading.Lock()
        self._builds: dict[str, dict[str, Any]] = {}  # deploy task -> its serving env's last status
        self._builds_lock = threading.Lock()  # not _lock: builds happen while _serve holds it
        self._stopped = False
        # a dead model server gets no traffic at once, then is replaced (:meth:`_down`)
        self._supervisor = Supervisor(self._down)

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
        self._supervisor.stop()
        with self._lock:
            self._stopped = True
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
            served = self._served[name] = _Served(router, deployer)
            self._supervisor.start()
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
            wanted: set[tuple[str, str]] = set()
            for version in served:
                for model in deployer.models:
                    for backend_name, _ in backend_weights(model):
                        key = (version["label"], backend_name)
                        wanted.add(key)
                        server = target.servers.get(key)
                        if server is not None and not server.running:  # died: never kept as a version
                            self._supervisor.unwatch((deployer_name(deployer), key), server)
                            server.stop(grace=1)
                            server = None
                        if server is None:
                            server = self._server(
                                deployer, version["label"], backend_name, version["models"][backend_name]
                            )
                            target.servers[key] = server
                            target.restarts.pop(key, None)
                            self._supervisor.watch((deployer_name(deployer), key), server)
            target.served = [dict(v) for v in served]
            target.router.set_routes(self._routes(target))
            for key in [k for k in target.servers if k not in wanted]:
                target.router.wait_idle(key[0], timeout=30)
                server = target.servers.pop(key)
                self._supervisor.unwatch((deployer_name(deployer), key), server)
                server.stop()

    @staticmethod
    def _routes(target: _Served) -> list[Route]:
        """The router's routes: each served version over its model servers (``routingStrategy`` shares)."""
        routes = []
        for version in target.served:
            models: dict[str, list[Backend]] = {}
            for model in target.deployer.models:
                pairs = backend_weights(model)
                shares = apportion([w for _, w in pairs], 100)
                backends = models[model.name] = []
                for (backend_name, _), share in zip(pairs, shares, strict=True):
                    server = target.servers[(version["label"], backend_name)]
                    protocol = "custom" if isinstance(server, CustomServer) else "seldon"
                    backends.append(Backend(server.url, share, name=backend_name, protocol=protocol))
            first = models[target.deployer.models[0].name]
            routes.append(Route(version["label"], first, int(version["traffic"]), models=models))
        return routes

    # ------------------------------------------------------------------ faults

    def _down(self, key: Any, server: Any, why: str) -> None:
        """A watched model server is down: no traffic to it from now on, then a replacement (in a thread)."""
        deployer, (label, backend) = key
        target = self._served.get(deployer)
        if target is None or self._stopped:
            return
        target.router.mark_down(server.url)
        self.ctx.log(
            f"model server {label}/{backend} is down ({why}): its traffic goes elsewhere; restarting it"
        )
        threading.Thread(
            target=self._replace, args=(deployer, (label, backend), server), name="restart", daemon=True
        ).start()

    def _replace(self, deployer: str, key: tuple[str, str], dead: Server) -> None:
        """Start a new model server for ``key`` in place of ``dead`` and route to it (a few tries). The
        server starts outside the lock, so a stop or a deploy does not wait for it; a replacement that a
        deploy or a stop made stale meanwhile is stopped again."""
        with self._lock:
            target = self._served.get(deployer)
            if target is None or self._stopped or target.servers.get(key) is not dead:
                return  # stopped, or already replaced by a deploy
            count = target.restarts[key] = target.restarts.get(key, 0) + 1
            version = next(v for v in target.served if v["label"] == key[0])
        if count > MAX_RESTARTS:
            self.ctx.log(
                f"model server {key[0]}/{key[1]} died {count} times: its version gets no more traffic"
            )
            return
        dead.stop(grace=1)  # what is left of its group
        for attempt in range(3):
            if self.ctx.stop.is_set():
                return
            try:
                server = self._server(target.deployer, key[0], key[1], version["models"][key[1]])
            except Exception as exc:
                self.ctx.log(f"model server {key[0]}/{key[1]} did not restart (try {attempt + 1}): {exc}")
                self.ctx.stop.wait(2.0**attempt)
                continue
            with self._lock:
                current = not self._stopped and target.servers.get(key) is dead
                if current:
                    target.servers[key] = server
                    target.router.set_routes(self._routes(target))  # the new url, the dead one unrouted
                    self._supervisor.watch((deployer, key), server)
            if not current:
                server.stop()
            return
