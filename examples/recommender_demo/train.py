"""Training task of the recommender demo: fit the model, report its held-out RMSE, save a model version.

    python train.py                       # DATA_PATH/movielens -> a new version in MODEL_PATH
    python train.py --quick               # a few seconds: fewer ratings, factors and sweeps (smoke tests)

Reads the ratings ``preprocess.py`` wrote to ``$DATA_PATH/movielens``, holds out ``--test-fraction`` of them
(seeded), fits :class:`recommender.model.BayesianMF` on the rest and computes the RMSE of the saved model on
the held-out ratings.  Publishes it as ``recommender_train_rmse`` when ``PUSHGATEWAY_URL`` is set, and
commits the model (factors, biases, id maps, titles; numpy ``.npz`` + JSON) as a new version of the model
registry in ``$MODEL_PATH`` with that metric.

Environment (each also a flag): ``RECOMMENDER_FACTORS`` (10), ``RECOMMENDER_BURN_IN`` (20),
``RECOMMENDER_SAMPLES`` (100), ``RECOMMENDER_KEEP`` (20), ``RECOMMENDER_TEST_FRACTION`` (0.1),
``RECOMMENDER_MAX_RATINGS`` (all), ``RECOMMENDER_SEED`` (0), ``RECOMMENDER_QUICK`` (``1`` = ``--quick``);
``DATA_PATH``, ``MODEL_PATH`` (required), ``PUSHGATEWAY_URL``, ``AXON_NAME``, ``TASK_ID`` (metrics).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

# One BLAS thread unless told otherwise: the model's many small batched solves only lose time to BLAS
# threads, 2-3x on a loaded 2-core machine (docs/performance.md). Must be set before numpy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
from recommender import feedback, store
from recommender.data import DataError, Ratings, load_normalized, train_test_split
from recommender.model import BayesianMF, rmse
from recommender.runtime import NotConfigured, data_path, new_version

METRIC = "recommender_train_rmse"
DATA_SUBDIR = "movielens"
QUICK = {"factors": 5, "burn_in": 5, "samples": 15, "keep": 5, "max_ratings": 20000}


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factors", type=int, default=int(_env("RECOMMENDER_FACTORS", "10")))
    parser.add_argument("--burn-in", type=int, default=int(_env("RECOMMENDER_BURN_IN", "20")))
    parser.add_argument("--samples", type=int, default=int(_env("RECOMMENDER_SAMPLES", "100")))
    parser.add_argument("--keep", type=int, default=int(_env("RECOMMENDER_KEEP", "20")))
    parser.add_argument(
        "--test-fraction", type=float, default=float(_env("RECOMMENDER_TEST_FRACTION", "0.1"))
    )
    parser.add_argument("--max-ratings", type=int, default=int(_env("RECOMMENDER_MAX_RATINGS", "0")))
    parser.add_argument("--seed", type=int, default=int(_env("RECOMMENDER_SEED", "0")))
    parser.add_argument(
        "--quick",
        action="store_true",
        default=_env("RECOMMENDER_QUICK", "0").lower() in ("1", "true", "yes"),
        help=f"smoke-test settings: {QUICK}",
    )
    parser.add_argument(
        "--data", type=Path, default=None, help="preprocessed data (default $DATA_PATH/movielens)"
    )
    parser.add_argument("--models", type=Path, default=None, help="model registry (default $MODEL_PATH)")
    args = parser.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    return args


@dataclass
class Trained:
    """What :func:`train` produced."""

    model: BayesianMF
    rmse: float
    baseline_rmse: float
    seconds: float
    n_train: int
    n_test: int


def subsample(ratings: Ratings, max_ratings: int, seed: int) -> Ratings:
    """At most ``max_ratings`` ratings (all when 0): the ratings of randomly chosen users, whole."""
    if not max_ratings or len(ratings) <= max_ratings:
        return ratings
    _, inverse = np.unique(ratings.user_id, return_inverse=True)
    counts = np.bincount(inverse)
    order = np.random.default_rng(seed).permutation(len(counts))
    taken = max(1, int(np.searchsorted(np.cumsum(counts[order]), max_ratings, side="right")))
    return ratings.subset(np.flatnonzero(np.isin(inverse, order[:taken])))


def train(ratings: Ratings, args: argparse.Namespace) -> tuple[Trained, np.ndarray, np.ndarray]:
    """Fit on a train split and score on the held-out split; return the result and the index maps."""
    user_ids, users = np.unique(ratings.user_id, return_inverse=True)
    item_ids, items = np.unique(ratings.item_id, return_inverse=True)
    train_rows, test_rows = train_test_split(len(ratings), args.test_fraction, args.seed)
    model = BayesianMF(
        factors=args.factors, burn_in=args.burn_in, samples=args.samples, keep=args.keep, seed=args.seed
    )
    values = ratings.rating.astype(np.float64)
    fit = model.fit(users[train_rows], items[train_rows], values[train_rows], len(user_ids), len(item_ids))
    predicted = model.predict(users[test_rows], items[test_rows])
    result = Trained(
        model=model,
        rmse=rmse(predicted, values[test_rows]),
        baseline_rmse=rmse(np.full(len(test_rows), values[train_rows].mean()), values[test_rows]),
        seconds=fit.seconds,
        n_train=len(train_rows),
        n_test=len(test_rows),
    )
    return result, user_ids, item_ids


def save_model(folder: Path, trained: Trained, ratings: Ratings, args: argparse.Namespace) -> None:
    """Write everything serving needs into the version folder ``folder``."""
    user_ids, users = np.unique(ratings.user_id, return_inverse=True)
    item_ids, items = np.unique(ratings.item_id, return_inverse=True)
    user_factors, item_factors = trained.model.factors_matrix()
    user_bias, item_bias = trained.model.biases()
    titles = [ratings.titles.get(int(i), f"movie {int(i)}") for i in item_ids]
    store.save(
        folder,
        user_factors=user_factors,
        item_factors=item_factors,
        mean=trained.model.mean_,
        user_ids=user_ids,
        item_ids=item_ids,
        seen_users=users,
        seen_items=items,
        titles=titles,
        user_bias=user_bias,
        item_bias=item_bias,
        info={
            "model": "BayesianMF (biased BPMF, Gibbs sampling)",
            "dataset": ratings.dataset,
            "hyper_parameters": {
                "factors": args.factors,
                "burn_in": args.burn_in,
                "samples": args.samples,
                "keep": args.keep,
                "seed": args.seed,
                "test_fraction": args.test_fraction,
            },
            "ratings": {"train": trained.n_train, "test": trained.n_test},
            "metrics": {METRIC: trained.rmse, "global_mean_rmse": trained.baseline_rmse},
            "fit_seconds": round(trained.seconds, 2),
        },
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        data_folder = args.data or data_path() / DATA_SUBDIR
        ratings = subsample(load_normalized(data_folder), args.max_ratings, args.seed)
    except (DataError, NotConfigured) as exc:
        print(f"train: error: {exc}", file=sys.stderr)
        return 1
    print(
        f"training on {len(ratings)} ratings from {data_folder} (factors={args.factors}, "
        f"burn_in={args.burn_in}, samples={args.samples})"
    )
    trained, _, _ = train(ratings, args)
    print(
        f"held-out RMSE {trained.rmse:.4f} (global mean baseline {trained.baseline_rmse:.4f}) "
        f"on {trained.n_test} ratings; fit {trained.seconds:.1f} s"
    )
    try:
        with new_version(metrics={METRIC: trained.rmse}, root=args.models) as version:
            save_model(version.path, trained, ratings, args)
    except NotConfigured as exc:
        print(f"train: error: {exc}", file=sys.stderr)
        return 1
    assert version.committed is not None
    print(f"saved model version {version.committed.path}")
    if feedback.configured():
        published = feedback.publish(METRIC, trained.rmse)
        print(f"published {published} = {trained.rmse:.4f}")
    else:
        print(f"note: PUSHGATEWAY_URL is not set, {METRIC} was not published")
    return 0


if __name__ == "__main__":
    sys.exit(main())
