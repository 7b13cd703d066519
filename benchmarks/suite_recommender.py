"""The recommender demo's model against Surprise, on the same folds of MovieLens 100k.

    python benchmarks/suite_recommender.py [--quick] [--data-dir DIR] [--json FILE]

Runs ``benchmarks/run.py`` (BayesianMF, the global mean, Surprise's BaselineOnly, SVD and SVD++ with their
default parameters) in its own environment, ``.venv-bench``: scikit-surprise 1.1.5 needs numpy < 2, which the
project's environment does not pin. The environment is built once with uv from ``benchmarks/requirements.txt``
and reused. The data: ``--data-dir``, else ``MOVIELENS_DIR``, else ml-100k downloaded by run.py (checksum
checked, cached). Full: 5 folds; ``--quick``: the first of the same 5 folds.

Figures: BayesianMF's RMSE (the served form, as ``train.py`` ships it) against SVD++ and against SVD, and its
fit time per fold against SVD++'s (Surprise's most accurate model), all from the same folds of the same run.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from figures import ROOT, Context, Figure, progress

BENCH_VENV = ROOT / ".venv-bench"
REQUIREMENTS = ROOT / "benchmarks" / "requirements.txt"
SERVED = "BayesianMF k=10 (served: 20 kept samples)"


def bench_python() -> Path:
    """``.venv-bench``'s Python, built with uv from benchmarks/requirements.txt on first use."""
    python = BENCH_VENV / "bin" / "python"
    stamp = BENCH_VENV / ".requirements"
    wanted = REQUIREMENTS.read_text()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    uv = Path(sys.executable).parent / "uv"
    if not uv.exists():
        uv = Path(shutil.which("uv") or "uv")
    progress(f"recommender: building {BENCH_VENV.name} (numpy<2, scikit-surprise) with uv")
    subprocess.run(
        [str(uv), "venv", "--allow-existing", "--python", sys.executable, str(BENCH_VENV)], check=True
    )
    subprocess.run([str(uv), "pip", "install", "--python", str(python), "-r", str(REQUIREMENTS)], check=True)
    stamp.write_text(wanted)
    return python


def scores(ctx: Context) -> dict[str, Any]:
    out = ctx.scratch / "recommender.json"
    command = [str(bench_python()), str(ROOT / "benchmarks" / "run.py"), "--json", str(out)]
    data_dir = ctx.data_dir or (
        Path(os.environ["MOVIELENS_DIR"]) if os.environ.get("MOVIELENS_DIR") else None
    )
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    if ctx.quick:
        command += ["--fold-limit", "1"]
    progress(f"recommender: {' '.join(command[1:])}")
    subprocess.run(command, check=True, stdout=sys.stderr)
    return dict(json.loads(out.read_text()))


def run(ctx: Context) -> list[Figure]:
    result = scores(ctx)
    models = result["models"]
    missing = [m for m in (SERVED, "Surprise SVD", "Surprise SVD++") if m not in models]
    if missing:
        raise SystemExit(f"suite_recommender: no scores for {missing}: {result['notes']}")
    setup = f"{result['dataset']}, {result['fitted']} of {result['folds']} folds"

    def rmse(name: str) -> float:
        return float(statistics.mean(models[name]["rmse"]))

    figures = [
        Figure(
            "recommender",
            f"BayesianMF RMSE ({setup})",
            rmse(SERVED),
            unit="RMSE",
            baseline=f"{rival} RMSE",
            baseline_value=rmse(rival),
            samples=len(models[SERVED]["rmse"]),
            note=f"served form (20 kept samples); global mean {rmse('global mean'):.4f}",
        )
        for rival in ("Surprise SVD++", "Surprise SVD")
    ]
    figures.append(
        Figure.timed(
            "recommender",
            f"BayesianMF fit per fold ({setup})",
            models[SERVED]["seconds"],
            "Surprise SVD++ fit per fold",
            models["Surprise SVD++"]["seconds"],
            note=f"SVD {statistics.median(models['Surprise SVD']['seconds']):.1f} s",
        )
    )
    for figure in figures:
        figure.extra["models"] = {name: statistics.mean(s["rmse"]) for name, s in models.items()}
    return figures


if __name__ == "__main__":
    from figures import suite_main

    sys.exit(suite_main(run))
