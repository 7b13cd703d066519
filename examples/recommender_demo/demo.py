"""The movie recommender demo, end to end on this machine — what ``make demo`` runs.

    python examples/recommender_demo/demo.py [--port 9000] [--workdir build/demo] [--keep]

1. starts ``myelin run examples/recommender_demo/pipeline.py --artifact rec-source=examples`` (the runner's
   log is shown with a ``|`` in front): preprocess MovieLens, train, the Metric gate on
   ``recommender_train_rmse``, the deploy of the best version behind the router on ``--port``;
2. asks the endpoint for the top 5 movies of users 3 and 4, and prints how to do the same with curl;
3. plays users who dislike the recommendations (``simulate_feedback.py --reward 0.5``): the served accuracy
   drops below 0.90, the Alert fires, the model is retrained, and the new version takes its 50 % canary share;
4. stops the runner (Ctrl-C does the same at any time), unless ``--keep``.

MovieLens comes from GroupLens (ml-1m, cached in ~/.cache/myelin/movielens), or from ``MOVIELENS_DIR``.
Only the standard library: the demo talks to the runner through its command line and HTTP.
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
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent


class DemoError(Exception):
    """The demo cannot go on; the message says why."""


class Runner:
    """``myelin run`` as a child process whose log is echoed with a prefix."""

    def __init__(self, args: argparse.Namespace) -> None:
        command = [
            sys.executable, "-m", "myelin_sdk.cli", "run", str(HERE / "pipeline.py"),
            "--artifact", f"rec-source={EXAMPLES}", "--port", str(args.port), "--workdir", args.workdir,
            "--alert-interval", "2", "--plain",
        ]  # fmt: skip
        print("$ myelin run examples/recommender_demo/pipeline.py --artifact rec-source=examples "
              f"--port {args.port} --workdir {args.workdir}", flush=True)  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        self.lines: list[str] = []
        self._echo = threading.Thread(target=self._pump, daemon=True)
        self._echo.start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())
            print(f"  | {line.rstrip()}", flush=True)

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            self._echo.join(timeout=5)
            raise DemoError(f"myelin run exited with status {self.process.returncode} (its log is above)")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._echo.join(timeout=5)
        return self.process.returncode


def http(url: str, body: dict | None = None, timeout: float = 30.0) -> tuple[dict, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"{}"), dict(response.headers)


def _failed(workdir: str | None) -> list[dict]:
    if workdir is None:
        return []
    return [r for r in status(workdir)["sensorRuns"] if r["status"] == "failed"]


def wait_for(what: str, check, runner: Runner, timeout: float, workdir: str | None) -> None:
    """Poll ``check`` until it is true; fail early when the runner exits or a sensor run fails."""
    deadline = time.monotonic() + timeout
    seen = {r["id"] for r in _failed(workdir)}
    while time.monotonic() < deadline:
        runner.check_alive()
        failed = [r for r in _failed(workdir) if r["id"] not in seen]
        if failed:
            raise DemoError(f"sensor {failed[0]['sensor']} failed: {failed[0]['message']} (its log is above)")
        try:
            if check():
                return
        except (OSError, ValueError):
            pass
        time.sleep(1.0)
    raise DemoError(f"timed out after {timeout:.0f}s waiting for {what}")


def status(workdir: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "myelin_sdk.cli", "status", "--local", "--workdir", workdir, "-o", "json"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    result: dict = json.loads(out)
    return result


def served(workdir: str) -> list[dict]:
    deployments = status(workdir)["deployments"]
    return next(iter(deployments.values()), [])


def show_dataset_terms(workdir: str) -> None:
    """The terms and citation the preprocess task printed into its log."""
    for log in sorted(Path(workdir).glob(".myelin/runs/*/logs/*data-prep*.log"))[-1:]:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_PORT", "9000")))
    parser.add_argument("--workdir", default="build/demo", help="where the run lives (default: build/demo)")
    parser.add_argument("--timeout", type=float, default=1800, help="give up after this many seconds")
    parser.add_argument(
        "--keep", action="store_true", help="keep the endpoint running at the end (Ctrl-C stops)"
    )
    args = parser.parse_args(argv)
    endpoint = f"http://127.0.0.1:{args.port}"
    runner = Runner(args)
    try:
        wait_for(
            "the runner", lambda: list(Path(args.workdir).glob(".myelin/runs/*/state.db")), runner, 60, None
        )
        wait_for(
            "the first deploy",
            lambda: http(f"{endpoint}/health")[0] is not None,
            runner,
            args.timeout,
            args.workdir,
        )
        first = served(args.workdir)
        show_dataset_terms(args.workdir)
        show_recommendations(endpoint, [3, 4])
        print("\nThe same with curl:")
        print(f"  curl -s -H 'Content-Type: application/json' -d '{{\"data\": {{\"ndarray\": [3, 4]}}}}' "
              f"{endpoint}/predict")  # fmt: skip
        print(f"  myelin status --local --workdir {args.workdir}")

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
            "the retrained canary", lambda: len(served(args.workdir)) == 2, runner, args.timeout, args.workdir
        )
        now = served(args.workdir)
        print("\nServed versions (newest first): " + ", ".join(f"{v['label']} {v['traffic']}%" for v in now))
        assert now[1]["label"] == first[0]["label"], "the previous version stays as the stable one"
        counts: Counter[str] = Counter()
        for _ in range(100):
            counts[
                http(f"{endpoint}/predict", {"data": {"ndarray": [3]}})[1].get("X-Myelin-Version", "?")
            ] += 1
        print("100 requests went to: " + ", ".join(f"{label} {n}" for label, n in counts.most_common()))
        if args.keep:
            print(f"\nThe endpoint stays up at {endpoint}; Ctrl-C stops it.", flush=True)
            runner.process.wait()
    except (DemoError, subprocess.CalledProcessError, urllib.error.URLError) as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr)
        runner.stop()
        return 1
    except KeyboardInterrupt:
        pass
    code = runner.stop()
    where = f"{args.workdir}/.myelin/runs/"
    print(f"\nDone: the runner was stopped as Ctrl-C would (status {code}); its state, logs and models are")
    print(f"under {where} (myelin status --local --workdir {args.workdir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
