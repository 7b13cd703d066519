"""Simulate users of the deployed recommender: ask for recommendations, then send a reward for each.

    python simulate_feedback.py                       # http://127.0.0.1:9000, reward 1.0, 20 times
    python simulate_feedback.py http://127.0.0.1:9000 --reward 0.5 --count 20

Each round sends ``POST {url}/predict`` with ``{"data": {"ndarray": [<user id>]}}`` and then
``POST {url}/send-feedback`` with ``{"request": ..., "response": ..., "reward": r}``.  The model publishes
the reward as ``recommender_deploy_accuracy``; rewards below 0.90 make the ``PostDeploymentDecisionMaker``
sensor's alert fire and the model is retrained.  Standard library only.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:9000"


def post(url: str, body: dict, timeout: float = 30.0) -> dict:
    """POST ``body`` as JSON and return the JSON answer (raises ``RuntimeError`` with the server's text)."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace").strip()
        raise RuntimeError(f"POST {url} answered HTTP {exc.code}: {detail}") from None
    except urllib.error.URLError as exc:
        raise RuntimeError(f"cannot reach {url}: {exc.reason}") from None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default=DEFAULT_URL, help=f"the endpoint (default {DEFAULT_URL})")
    parser.add_argument("--reward", type=float, default=1.0, help="reward of every feedback (0..1)")
    parser.add_argument("--count", type=int, default=20, help="number of predict + feedback rounds")
    parser.add_argument("--users", default="1-100", help="user ids to pick from: '1-100' or '3,4,5'")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between rounds")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def user_ids(spec: str) -> list[int]:
    """``'1-100'`` or ``'3,4,5'`` as a list of ids."""
    if "-" in spec and "," not in spec:
        first, last = (int(x) for x in spec.split("-", 1))
        return list(range(first, last + 1))
    return [int(x) for x in spec.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = args.url.rstrip("/")
    rng = random.Random(args.seed)
    ids = user_ids(args.users)
    try:
        for round_ in range(1, args.count + 1):
            request = {"data": {"ndarray": [rng.choice(ids)]}}
            response = post(f"{base}/predict", request)
            post(f"{base}/send-feedback", {"request": request, "response": response, "reward": args.reward})
            rows = response.get("data", {}).get("ndarray", [])
            best = rows[0] if rows else None
            print(
                f"[{round_}/{args.count}] user {request['data']['ndarray'][0]}: top {best} "
                f"-> reward {args.reward}"
            )
            if args.delay:
                time.sleep(args.delay)
    except RuntimeError as exc:
        print(f"simulate_feedback: error: {exc}", file=sys.stderr)
        return 1
    print(f"sent {args.count} rewards of {args.reward} to {base}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
