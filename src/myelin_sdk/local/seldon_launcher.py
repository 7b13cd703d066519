"""Serve a Seldon model class on 127.0.0.1 with the real seldon-core 1.17.1 wrapper, for the local runner.

``seldon-core-microservice`` binds ``0.0.0.0`` and has no host flag. This launcher builds the same Flask
app (``seldon_core.wrapper.get_rest_microservice(user_object, SeldonMetrics())``) and serves it with
werkzeug's threaded server on loopback only — REST, no gRPC. It runs with a model environment's Python
(seldon-core, Flask and werkzeug; none of the SDK's dependencies), from the model's code folder::

    cd model-code && /envs/<key>/bin/python seldon_launcher.py Recommender --port-file /tmp/port --runner 4242

It binds a free port (or ``--port``), writes it to ``--port-file`` once it listens, and serves until a
signal ends it. With ``--runner PID`` it ends its whole process group as soon as its parent is no longer
that process (the runner died, ``kill -9`` included), so no model server outlives its runner.

A user class written for older seldon-core, whose ``send_feedback(self, features, feature_names, reward,
truth)`` takes no ``routing``, is adapted: 1.17.1 calls it with ``routing=`` and would answer 500.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger("myelin.seldon_launcher")


def adapt_feedback(user_object: Any) -> bool:
    """Let seldon-core 1.17.1 call a ``send_feedback`` that takes no ``routing``; True when adapted."""
    method = getattr(user_object, "send_feedback", None)
    if not callable(method):
        return False
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    if "routing" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return False

    def send_feedback(features: Any, feature_names: Any, reward: Any, truth: Any, routing: Any = None) -> Any:
        return method(features, feature_names, reward, truth)

    user_object.send_feedback = send_feedback
    return True


def _user_class(name: str) -> Any:
    """``Module`` (the class named like its module, Seldon's convention) or ``module.Class``."""
    module, _, attribute = name.rpartition(".")
    return getattr(importlib.import_module(module or name), attribute or name)


def _watch_runner(runner: int, poll: float = 0.2) -> None:
    """End this process group once the parent is no longer ``runner`` (it died); runs in a thread."""
    while os.getppid() == runner:
        time.sleep(poll)
    logger.warning("the runner (pid %d) is gone: stopping the model server", runner)
    group = os.getpgrp()
    os.killpg(group, signal.SIGTERM)  # this process shuts its server down; the rest of the group ends
    time.sleep(2.0)
    os.killpg(group, signal.SIGKILL)


def _write_port(path: Path, port: int) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(f"{port}\n", encoding="utf-8")
    temporary.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="seldon-core's REST wrapper, on 127.0.0.1")
    parser.add_argument("interface_name", help="the model class (Module or module.Class)")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--port-file", type=Path, help="where to write the port once listening")
    parser.add_argument("--runner", type=int, help="end the process group when this parent dies")
    parser.add_argument("--parameters", default=os.environ.get("PREDICTIVE_UNIT_PARAMETERS", "[]"))
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s - %(name)s:%(funcName)s:%(lineno)s - %(levelname)s:  %(message)s",
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log (the microservice's default)
    if args.runner is not None:
        threading.Thread(target=_watch_runner, args=(args.runner,), daemon=True).start()

    from seldon_core import __version__  # type: ignore[import-not-found]
    from seldon_core.metrics import SeldonMetrics  # type: ignore[import-not-found]
    from seldon_core.microservice import parse_parameters  # type: ignore[import-not-found]
    from seldon_core.wrapper import get_rest_microservice  # type: ignore[import-not-found]
    from werkzeug.serving import make_server  # type: ignore[import-not-found]

    logger.info(
        "seldon-core %s serving %s on 127.0.0.1 (myelin's launcher)", __version__, args.interface_name
    )
    sys.path.append(os.getcwd())  # as seldon-core-microservice does: the model's code folder
    parameters = parse_parameters(json.loads(args.parameters))
    user_object = _user_class(args.interface_name)(**parameters)
    if adapt_feedback(user_object):
        logger.info("send_feedback takes no routing argument: adapted for seldon-core %s", __version__)
    seldon_metrics = SeldonMetrics(worker_id_func=os.getpid)
    app = get_rest_microservice(user_object, seldon_metrics)
    with contextlib.suppress(NotImplementedError, AttributeError):
        user_object.load()
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    logger.info("REST microservice listening on http://127.0.0.1:%d", server.server_port)
    if args.port_file is not None:
        _write_port(args.port_file, server.server_port)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    server.serve_forever()
    return 0


if __name__ == "__main__":
    # run as a file (``python seldon_launcher.py``): drop this folder from the path, or its modules (router,
    # metrics, state, ...) would shadow the model's own imports
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if not p or str(Path(p).resolve()) != here]
    sys.exit(main())
