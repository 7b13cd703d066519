"""Recommender benchmark: our BayesianMF against Surprise's SVD and SVD++ on the same 5 folds.

    python benchmarks/run.py --data-dir /work/shared/datasets/ml-100k            # all models
    python benchmarks/run.py --data-dir DIR --models bmf --folds 5              # ours only
    python benchmarks/run.py --fold-limit 1 --json out.json    # ml-100k downloaded (checked, cached); 1 fold

Reads an extracted MovieLens release (ml-100k or ml-1m layout), splits its ratings into ``--folds`` random
folds (seed ``--seed``), fits each model on four folds and scores the fifth, and prints a Markdown table:
RMSE mean ± std over the folds, MAE, and fit seconds per fold (mean and slowest).  Surprise
(``scikit-surprise``) is optional: without it its rows are skipped with a note
(``benchmarks/requirements.txt`` lists what the runner needs). Without ``--data-dir`` or ``MOVIELENS_DIR``,
ml-100k is downloaded from GroupLens (checksum checked, cached) as the demo's ``preprocess.py`` does.
``--json FILE`` writes every model's per-fold scores; ``benchmarks/suite_recommender.py`` (``make bench``)
runs this script in its own environment that way.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# One BLAS thread unless told otherwise (as train.py): BayesianMF's small batched solves gain nothing from
# BLAS threads and lose 2-3x on a loaded machine. Must be set before numpy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples" / "recommender_demo"))

from recommender.data import Ratings, kfold, read_release
from recommender.model import BayesianMF

Fold = tuple[np.ndarray, np.ndarray]


@dataclass
class Result:
    """One model's scores over the folds."""

    name: str
    rmse: list[float] = field(default_factory=list)
    mae: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def add(self, predicted: np.ndarray, actual: np.ndarray, seconds: float) -> None:
        error = np.asarray(predicted, dtype=np.float64) - actual
        self.rmse.append(float(np.sqrt(np.mean(error**2))))
        self.mae.append(float(np.mean(np.abs(error))))
        self.seconds.append(seconds)

    def row(self) -> str:
        return (
            f"| {self.name} | {np.mean(self.rmse):.4f} ± {np.std(self.rmse):.4f} | {np.mean(self.mae):.4f} "
            f"| {np.mean(self.seconds):.1f} | {np.max(self.seconds):.1f} |"
        )


def run_bmf(ratings: Ratings, folds: list[Fold], params: dict[str, int]) -> list[Result]:
    """Our model: the posterior average of all samples, and the served model (the kept samples)."""
    _, users = np.unique(ratings.user_id, return_inverse=True)
    _, items = np.unique(ratings.item_id, return_inverse=True)
    n_users, n_items = int(users.max()) + 1, int(items.max()) + 1
    values = ratings.rating.astype(np.float64)
    label = f"BayesianMF k={params['factors']}"
    full = Result(f"{label} (average of {params['samples']} samples)")
    served = Result(f"{label} (served: {params['keep']} kept samples)")
    for number, (train, test) in enumerate(folds, start=1):
        model = BayesianMF(**params)
        fit = model.fit(
            users[train], items[train], values[train], n_users, n_items, eval_pairs=(users[test], items[test])
        )
        full.add(model.eval_prediction_, values[test], fit.seconds)
        served.add(model.predict(users[test], items[test]), values[test], fit.seconds)
        print(f"  {label} fold {number}: RMSE {full.rmse[-1]:.4f} in {fit.seconds:.1f} s", file=sys.stderr)
    return [full, served]


def run_global_mean(ratings: Ratings, folds: list[Fold]) -> list[Result]:
    """The global mean rating: the floor every model must beat."""
    values = ratings.rating.astype(np.float64)
    result = Result("global mean")
    for train, test in folds:
        result.add(np.full(len(test), values[train].mean()), values[test], 0.0)
    return [result]


def run_surprise(ratings: Ratings, folds: list[Fold], seed: int) -> list[Result]:
    """Surprise's BaselineOnly, SVD and SVD++ with their default parameters on the same folds."""
    from surprise import SVD, BaselineOnly, Dataset, Reader, SVDpp

    columns = (ratings.user_id.tolist(), ratings.item_id.tolist(), ratings.rating.tolist())
    raw = [(u, i, r, None) for u, i, r in zip(*columns, strict=True)]
    data = Dataset(Reader(rating_scale=(1, 5)))
    makers: dict[str, Callable[[], object]] = {
        "Surprise BaselineOnly": lambda: BaselineOnly(verbose=False),
        "Surprise SVD": lambda: SVD(random_state=seed),
        "Surprise SVD++": lambda: SVDpp(random_state=seed),
    }
    results = []
    for name, make in makers.items():
        result = Result(name)
        for number, (train, test) in enumerate(folds, start=1):
            trainset = data.construct_trainset([raw[i] for i in train])
            testset = data.construct_testset([raw[i] for i in test])
            algo = make()
            start = time.perf_counter()
            algo.fit(trainset)
            seconds = time.perf_counter() - start
            predicted = np.array([p.est for p in algo.test(testset)])
            result.add(predicted, ratings.rating[test].astype(np.float64), seconds)
            print(f"  {name} fold {number}: RMSE {result.rmse[-1]:.4f} in {seconds:.1f} s", file=sys.stderr)
        results.append(result)
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("MOVIELENS_DIR"), required=False)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", default="mean,bmf,surprise", help="comma list of: mean, bmf, surprise")
    parser.add_argument("--factors", type=int, default=10)
    parser.add_argument("--burn-in", type=int, default=20)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--keep", type=int, default=20)
    parser.add_argument("--fold-limit", type=int, default=None, help="fit only the first K of the folds")
    parser.add_argument("--json", type=Path, default=None, help="write the per-fold scores here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.data_dir is None:
        from recommender.movielens import DownloadError, fetch

        try:
            args.data_dir = fetch("ml-100k", log=lambda line: print(line, file=sys.stderr))
        except (DownloadError, ValueError) as exc:
            print(f"run.py: error: {exc}; give --data-dir (an extracted MovieLens release)", file=sys.stderr)
            return 1
    ratings = read_release(args.data_dir)
    folds = kfold(len(ratings), args.folds, args.seed)[: args.fold_limit]
    wanted = {m.strip() for m in args.models.split(",")}
    params = {
        "factors": args.factors,
        "burn_in": args.burn_in,
        "samples": args.samples,
        "keep": args.keep,
        "seed": args.seed,
    }
    results: list[Result] = []
    notes: list[str] = []
    if "mean" in wanted:
        results += run_global_mean(ratings, folds)
    if "surprise" in wanted:
        try:
            results += run_surprise(ratings, folds, args.seed)
        except ImportError as exc:
            notes.append(f"Surprise rows skipped: {exc} (pip install -r benchmarks/requirements.txt)")
    if "bmf" in wanted:
        results += run_bmf(ratings, folds, params)
    cpus = os.cpu_count()
    print(
        f"\n{ratings.dataset}: {len(ratings)} ratings, {len(folds)} of {args.folds} folds "
        f"(seed {args.seed}); "
        f"Python {platform.python_version()}, numpy {np.__version__}, {cpus} CPU cores\n"
    )
    print("| model | RMSE (mean ± std) | MAE | fit s / fold (mean) | fit s (slowest fold) |")
    print("|---|---|---|---|---|")
    for result in results:
        print(result.row())
    for note in notes:
        print(f"\nnote: {note}")
    if args.json:
        scores = {r.name: {"rmse": r.rmse, "mae": r.mae, "seconds": r.seconds} for r in results}
        meta = {
            "dataset": ratings.dataset,
            "ratings": len(ratings),
            "folds": args.folds,
            "fitted": len(folds),
        }
        args.json.write_text(json.dumps({**meta, "numpy": np.__version__, "models": scores, "notes": notes}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
