"""Fixtures for the recommender demo's tests: a small MovieLens-shaped release, HTTP servers, a trained model.

The release is a subsample of ``../shared/datasets/ml-100k`` (the real GroupLens files, never copied into the
repository) when that folder exists, else a synthetic release with the same layout and a low-rank structure.
"""

from __future__ import annotations

import http.server
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

np = pytest.importorskip("numpy", reason="the recommender demo needs numpy (pip install numpy)")

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "recommender_demo"
#: The real ml-100k files; ``MYELIN_TEST_ML100K`` points elsewhere (a missing folder: the synthetic release).
ML100K = Path(os.environ.get("MYELIN_TEST_ML100K") or ROOT.parent / "shared" / "datasets" / "ml-100k")
SUBSAMPLE_USERS = 150

if str(DEMO) not in sys.path:
    sys.path.insert(0, str(DEMO))


def write_release(folder: Path, lines: list[str], titles: dict[int, str]) -> Path:
    """An ml-100k layout folder: ``u.data`` (tab-separated) and ``u.item`` (pipe-separated, latin-1)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text("\n".join(lines) + "\n", encoding="latin-1")
    items = [f"{i}|{t}|01-Jan-1995||http://example.invalid|0|0|0" for i, t in sorted(titles.items())]
    (folder / "u.item").write_text("\n".join(items) + "\n", encoding="latin-1")
    return folder


def synthetic_release(folder: Path, users: int = 150, items: int = 300, seed: int = 0) -> Path:
    """Ratings from a rank-3 model with biases and noise, 25% dense, rounded to 1..5."""
    rng = np.random.default_rng(seed)
    u, v = rng.normal(0, 0.6, (users, 3)), rng.normal(0, 0.6, (items, 3))
    score = 3.6 + rng.normal(0, 0.4, (users, 1)) + rng.normal(0, 0.5, (1, items)) + u @ v.T
    mask = rng.random((users, items)) < 0.25
    rows, cols = np.nonzero(mask)
    ratings = np.clip(np.rint(score[rows, cols] + rng.normal(0, 0.5, rows.shape)), 1, 5).astype(int)
    lines = [
        f"{r + 1}\t{c + 1}\t{x}\t{880000000 + j}"
        for j, (r, c, x) in enumerate(zip(rows, cols, ratings, strict=True))
    ]
    return write_release(folder, lines, {i + 1: f"Synthetic Movie {i + 1} (1995)" for i in range(items)})


def subsample_release(folder: Path, users: int = SUBSAMPLE_USERS) -> Path:
    """The ratings of the first ``users`` users of the real ml-100k, with all movie titles."""
    lines = [
        line
        for line in (ML100K / "u.data").read_text(encoding="latin-1").splitlines()
        if int(line.split("\t", 1)[0]) <= users
    ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text("\n".join(lines) + "\n", encoding="latin-1")
    (folder / "u.item").write_bytes((ML100K / "u.item").read_bytes())
    return folder


@pytest.fixture(scope="session")
def release_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small extracted release in the ml-100k layout (real subsample, or synthetic without the data)."""
    folder = tmp_path_factory.mktemp("release") / "ml-100k"
    if (ML100K / "u.data").is_file():
        return subsample_release(folder)
    return synthetic_release(folder)


@pytest.fixture(scope="session")
def real_ml100k() -> Path:
    """The real ml-100k folder; skips when it is not there."""
    if not (ML100K / "u.data").is_file():
        pytest.skip(f"MovieLens 100k not found at {ML100K} (the real-data tests need it)")
    return ML100K


@dataclass
class Recorded:
    """A request an :func:`http_server` received."""

    method: str
    path: str
    body: bytes


@dataclass
class Server:
    """A running local HTTP server: ``url``, the requests it got."""

    url: str
    requests: list[Recorded] = field(default_factory=list)


Handler = Callable[[Recorded], tuple[int, bytes]]


@pytest.fixture
def http_server() -> Iterator[Callable[[Handler], Server]]:
    """Start local HTTP servers on 127.0.0.1 whose answers ``handler(request) -> (status, body)`` gives."""
    started: list[http.server.ThreadingHTTPServer] = []

    def start(handler: Handler) -> Server:
        server_info = Server(url="")

        class _Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Recorded(self.command, self.path, self.rfile.read(length) if length else b"")
                server_info.requests.append(request)
                status, body = handler(request)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        started.append(server)
        server_info.url = f"http://127.0.0.1:{server.server_address[1]}"
        return server_info

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


@pytest.fixture
def pushgateway(http_server: Callable[[Handler], Server]) -> Server:
    """A stand-in Pushgateway that accepts every push and records it."""
    return http_server(lambda request: (200, b""))


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, release_dir: Path) -> dict[str, Path]:
    """``{"data": DATA_PATH, "models": MODEL_PATH}`` after preprocess + a quick train of the small release."""
    import preprocess
    import train

    data = tmp_path_factory.mktemp("data")
    models = tmp_path_factory.mktemp("models")
    assert preprocess.main(["--data-dir", str(release_dir), "--out", str(data / "movielens")]) == 0
    assert train.main(["--quick", "--data", str(data / "movielens"), "--models", str(models)]) == 0
    return {"data": data, "models": models}


@pytest.fixture(autouse=True)
def _no_movielens_settings(monkeypatch):
    """The tests choose their own data: the caller's MOVIELENS_* settings (CI exports MOVIELENS_DIR for the
    demo) must not reach preprocess.py."""
    for name in (
        "MOVIELENS_DIR",
        "MOVIELENS_DATASET",
        "MOVIELENS_CACHE",
        "MOVIELENS_BASE_URL",
        "MOVIELENS_SHA256",
    ):
        monkeypatch.delenv(name, raising=False)
