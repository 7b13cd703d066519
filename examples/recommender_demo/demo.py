"""The movie recommender demo, end to end on this machine — what ``make demo`` runs.

    python examples/recommender_demo/demo.py [--port 9000] [--workdir build/demo] [--keep]

1. starts ``myelin run examples/recommender_demo/pipeline.py --artifact rec-source=examples`` (the runner's
   log is shown with a ``|`` in front): preprocess MovieLens, train, the Metric gate on
   ``recommender_train_rmse``, the deploy of the best version behind the router on ``--port``;
2. asks the endpoint for the top 5 movies of users 3 and 4, and prints how to do the same with curl;
3. plays users who dislike the recommendations (``simulate_feedback.py --reward 0.5``): the served accuracy
   drops below 0.90, the Alert fires, the model is retrained, and the new version takes its 50 % canary share;
4. stops the runner and says "Demo complete" (exit status 0), unless ``--keep``.

It ends as soon as something cannot happen any more, with exit status 1 and the reason: offline without
``MOVIELENS_DIR``, the download error of the first task (within seconds, not after ``--timeout``); a taken
port (``DEMO_PORT=9100 make demo`` picks another). Ctrl-C or SIGTERM stop it with exit status 130.

MovieLens comes from GroupLens (ml-1m, cached in ~/.cache/myelin/movielens), or from ``MOVIELENS_DIR`` (an
extracted release; a relative path is resolved from the current directory, e.g.
``MOVIELENS_DIR=../shared/datasets/ml-100k make demo``). Only the standard library: the demo talks to the
runner through its command line and HTTP.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent
Json = dict[str, Any]


class DemoError(Exception):
    """The demo cannot go on; the message says why."""


class Runner:
    """``myelin run`` as a child process whose log is echoed with a prefix (until it is stopped quietly)."""

    def __init__(self, args: argparse.Namespace, workdir: Path, env: dict[str, str]) -> None:
        command = [
            sys.executable, "-m", "myelin_sdk.cli", "run", str(HERE / "pipeline.py"),
            "--artifact", f"rec-source={EXAMPLES}", "--port", str(args.port), "--workdir", str(workdir),
            "--alert-interval", "2", "--plain",
        ]  # fmt: skip
        print("$ myelin run examples/recommender_demo/pipeline.py --artifact rec-source=examples "
              f"--port {args.port} --workdir {args.workdir}", flush=True)  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, env=env
        )
        self.port = args.port
        self.lines: list[str] = []
        self.quiet = False
        self._echo = threading.Thread(target=self._pump, daemon=True)
        self._echo.start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())
            if not self.quiet:
                print(f"  | {line.rstrip()}", flush=True)

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            self._echo.join(timeout=5)
            if any(f"--port {self.port}: " in line for line in self.lines):  # the runner's port check
                raise DemoError(
                    f"port {self.port} is taken: choose another one with DEMO_PORT=9100 make demo "
                    "(or demo.py --port 9100)"
                )
            raise DemoError(f"myelin run exited with status {self.process.returncode} (its log is above)")

    def stop(self, quiet: bool = False) -> int:
        """Stop the runner as Ctrl-C would; ``quiet``: without echoing its last lines."""
        self.quiet = quiet
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._echo.join(timeout=5)
        return self.process.returncode


def http(url: str, body: Json | None = None, timeout: float = 30.0) -> tuple[Json, dict[str, str]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"{}"), dict(response.headers)


def wait_for(
    what: str, check: Callable[[], object], runner: Runner, timeout: float, fatal: Callable[[], str | None]
) -> object:
    """Poll ``check`` until it gives something true (returned); fail at once when the runner exits or
    ``fatal`` says why ``what`` can no longer happen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runner.check_alive()
        reason = fatal()
        if reason:
            raise DemoError(reason)
        try:
            found = check()
            if found:
                return found
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    raise DemoError(f"timed out after {timeout:.0f}s waiting for {what}")


def run_ids(workdir: Path) -> set[str]:
    return {p.parent.name for p in workdir.glob(".myelin/runs/*/state.db")}


def status(workdir: Path, run: str) -> Json:
    out = subprocess.run(
        [sys.executable, "-m", "myelin_sdk.cli", "status", "--local", run, "--workdir", str(workdir),
         "-o", "json"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    result: Json = json.loads(out)
    return result


def cannot_deploy(workdir: Path, run: str) -> str | None:
    """The runner's verdict that the first deploy can no longer happen, with the failed task's log tail."""
    now = status(workdir, run)
    reason = now.get("deployBlocked")
    if not reason:
        return None
    for task in reversed(now["taskRuns"]):
        if task["status"] == "failed" and task["log"] and Path(task["log"]).is_file():
            lines = Path(task["log"]).read_text(encoding="utf-8", errors="replace").splitlines()[-8:]
            return str(reason) + f"\nlast lines of {task['log']}:\n" + "\n".join(lines)
    return str(reason)


def new_failures(workdir: Path, run: str, after: int) -> str | None:
    """A sensor run newer than ``after`` that failed or was skipped by its gate: the canary will not come."""
    for r in status(workdir, run)["sensorRuns"]:
        if r["id"] > after and r["status"] in ("failed", "skipped"):
            return f"sensor {r['sensor']} (run {r['id']}) {r['status']}: {r['message']} (its log is above)"
    return None


def served(workdir: Path, run: str) -> list[Json]:
    deployments = status(workdir, run)["deployments"]
    return next(iter(deployments.values()), [])


def show_dataset_terms(workdir: Path, run: str) -> None:
    """The terms and citation the preprocess task printed into its log."""
    for log in sorted(workdir.glob(f".myelin/runs/{run}/logs/*data-prep*.log"))[-1:]:
        lines = log.read_text(encoding="utf-8").splitlines()
        print()
        print("\n".join(line for line in lines if line.startswith(("MovieLens terms", "Please cite"))))


def show_recommendations(endpoint: str, users: list[int]) -> None:
    answer, headers = http(f"{endpoint}/predict", {"data": {"ndarray": users}})
    names = answer["data"]["names"]
    rows = [dict(zip(names, row, strict=True)) for row in answer["data"]["ndarray"]]
    print(f"\nTop movies (served by version {headers.get('X-Myelin-Version', '?')}):")
    for user in users:
        print(f"  user {user}:")
        for row in (r for r in rows if int(r["user_id"]) == user):
            print(
                f"    {int(row['rank'])}. {row['title']:<56} predicted {float(row['predicted_rating']):.2f}"
            )


def runner_env() -> dict[str, str]:
    """The runner's environment, with ``MOVIELENS_DIR`` made absolute from where the user stands (the task
    runs in its own folder, where a relative path would mean something else)."""
    env = dict(os.environ)
    given = env.get("MOVIELENS_DIR")
    if given:
        folder = Path(given).expanduser().resolve()
        if not folder.is_dir():
            raise DemoError(f"MOVIELENS_DIR={given}: no such folder ({folder}, from {Path.cwd()})")
        env["MOVIELENS_DIR"] = str(folder)
    return env


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM ends the demo as Ctrl-C does


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("DEMO_PORT", "9000")),
        help="where the model endpoint listens (default: $DEMO_PORT, else 9000; make demo: DEMO_PORT=9100)",
    )
    parser.add_argument("--workdir", default="build/demo", help="where the run lives (default: build/demo)")
    parser.add_argument("--timeout", type=float, default=1800, help="give up after this many seconds")
    parser.add_argument(
        "--keep", action="store_true", help="keep the endpoint running at the end (Ctrl-C stops)"
    )
    args = parser.parse_args(argv)
    workdir = Path(args.workdir).expanduser().resolve()
    endpoint = f"http://127.0.0.1:{args.port}"
    try:
        env = runner_env()
    except DemoError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    previous = signal.signal(signal.SIGTERM, _terminate)
    before = run_ids(workdir)
    runner = Runner(args, workdir, env)
    finished = False
    try:
        run = str(
            wait_for(
                "the runner", lambda: max(run_ids(workdir) - before, default=""), runner, 60, lambda: None
            )
        )
        wait_for(
            "the first deploy",
            lambda: http(f"{endpoint}/health")[0] is not None and served(workdir, run),
            runner,
            args.timeout,
            lambda: cannot_deploy(workdir, run),
        )
        first = served(workdir, run)
        show_dataset_terms(workdir, run)
        show_recommendations(endpoint, [3, 4])
        print("\nThe same with curl:")
        print(f"  curl -s -H 'Content-Type: application/json' -d '{{\"data\": {{\"ndarray\": [3, 4]}}}}' "
              f"{endpoint}/predict")  # fmt: skip
        print(f"  myelin status --local --workdir {args.workdir}")

        seen = max((r["id"] for r in status(workdir, run)["sensorRuns"]), default=0)
        print("\nUsers dislike the recommendations: 10 rewards of 0.5 (simulate_feedback.py) ...", flush=True)
        subprocess.run(
            [
                sys.executable,
                str(HERE / "simulate_feedback.py"),
                endpoint,
                "--reward",
                "0.5",
                "--count",
                "10",
            ],
            check=True,
        )
        print("... the accuracy alert fires and the model is retrained; waiting for the canary", flush=True)
        wait_for(
            "the retrained canary",
            lambda: len(served(workdir, run)) == 2,
            runner,
            args.timeout,
            lambda: new_failures(workdir, run, seen),
        )
        now = served(workdir, run)
        print("\nServed versions (newest first): " + ", ".join(f"{v['label']} {v['traffic']}%" for v in now))
        if now[1]["label"] != first[0]["label"]:
            raise DemoError(f"the previous version {first[0]['label']} should stay as the stable one: {now}")
        counts: Counter[str] = Counter()
        for _ in range(100):
            counts[
                http(f"{endpoint}/predict", {"data": {"ndarray": [3]}})[1].get("X-Myelin-Version", "?")
            ] += 1
        print("100 requests went to: " + ", ".join(f"{label} {n}" for label, n in counts.most_common()))
        finished = True
        if args.keep:
            print(f"\nThe endpoint stays up at {endpoint}; Ctrl-C stops it.", flush=True)
            runner.process.wait()
    except (DemoError, subprocess.CalledProcessError, urllib.error.URLError) as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr, flush=True)
        runner.stop(quiet=True)
        return 1
    except KeyboardInterrupt:
        if not finished:
            print(
                "\ndemo interrupted: stopping the runner (resume the run with myelin run --resume)",
                flush=True,
            )
            runner.stop()
            return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    runner.stop(quiet=True)
    print(f"\nDemo complete: trained, gated, deployed, retrained on feedback, canary served on {endpoint}.")
    print(f"The runner is stopped; its state, logs and models are under {args.workdir}/.myelin/runs/{run}/")
    print(f"  myelin status --local {run} --workdir {args.workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
