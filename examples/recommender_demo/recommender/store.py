"""A trained model on disk, and the serving side of it: numpy and the standard library only.

A model version folder (written by :func:`save`, inside a registry version of ``myelin_sdk.runtime``) holds::

    model.npz     user_factors (users x r, float32), item_factors (items x r, float32), mean (scalar),
                  rating_range (lo, hi), user_ids, item_ids (the dataset's ids, int64), seen_indptr,
                  seen_items (CSR: the item indexes each user rated, excluded from recommendations),
                  user_bias, item_bias (informational: the biases are inside the factors too)
    titles.json   the title of each item index, in item order
    model.json    format, hyper-parameters, data set, metrics (informational)

A prediction is ``clip(mean + user_factors[u] . item_factors[i], 1, 5)``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["FORMAT", "ServingModel", "UnknownUser", "find_model_folder", "load", "save"]

FORMAT = "myelin-recommender/1"
MODEL_FILE = "model.npz"
TITLES_FILE = "titles.json"
INFO_FILE = "model.json"


class UnknownUser(KeyError):
    """A requested user id is not in the model."""


def save(
    folder: Path | str,
    *,
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    mean: float,
    user_ids: np.ndarray,
    item_ids: np.ndarray,
    seen_users: np.ndarray,
    seen_items: np.ndarray,
    titles: list[str],
    info: dict[str, object],
    rating_range: tuple[float, float] = (1.0, 5.0),
    user_bias: np.ndarray | None = None,
    item_bias: np.ndarray | None = None,
) -> None:
    """Write a model into ``folder``; ``seen_users``/``seen_items`` are the (user, item) indexes rated."""
    folder = Path(folder)
    order = np.lexsort((seen_items, seen_users))
    su, si = seen_users[order], seen_items[order]
    indptr = np.zeros(len(user_ids) + 1, dtype=np.int64)
    np.cumsum(np.bincount(su, minlength=len(user_ids)), out=indptr[1:])
    np.savez(
        folder / MODEL_FILE,
        user_factors=np.asarray(user_factors, dtype=np.float32),
        item_factors=np.asarray(item_factors, dtype=np.float32),
        mean=np.float64(mean),
        rating_range=np.asarray(rating_range, dtype=np.float64),
        user_ids=np.asarray(user_ids, dtype=np.int64),
        item_ids=np.asarray(item_ids, dtype=np.int64),
        seen_indptr=indptr,
        seen_items=si.astype(np.int32),
        user_bias=np.asarray(user_bias if user_bias is not None else np.zeros(len(user_ids)), np.float32),
        item_bias=np.asarray(item_bias if item_bias is not None else np.zeros(len(item_ids)), np.float32),
    )
    (folder / TITLES_FILE).write_text(json.dumps(titles, ensure_ascii=False), encoding="utf-8")
    (folder / INFO_FILE).write_text(json.dumps({"format": FORMAT, **info}, indent=2) + "\n", encoding="utf-8")


@dataclass
class ServingModel:
    """A loaded model: top-N recommendations of unseen movies for known users."""

    user_factors: np.ndarray
    item_factors: np.ndarray
    mean: float
    rating_range: tuple[float, float]
    user_ids: np.ndarray
    item_ids: np.ndarray
    seen_indptr: np.ndarray
    seen_items: np.ndarray
    titles: list[str]
    folder: Path

    def __post_init__(self) -> None:
        self._user_index = {int(u): j for j, u in enumerate(self.user_ids.tolist())}

    def knows(self, user_id: int) -> bool:
        """Whether ``user_id`` is one of the model's users."""
        return int(user_id) in self._user_index

    def user_index(self, user_id: int) -> int:
        """The row of ``user_id`` (raises :class:`UnknownUser`)."""
        try:
            return self._user_index[int(user_id)]
        except KeyError:
            raise UnknownUser(user_id) from None

    def scores(self, user_id: int) -> np.ndarray:
        """Unclipped predicted rating of every item for ``user_id`` (ranking keeps ties at 5 apart)."""
        row = self.user_index(user_id)
        return self.mean + self.item_factors.astype(np.float64) @ self.user_factors[row].astype(np.float64)

    def recommend(self, user_id: int, n: int = 5) -> list[tuple[int, str, float]]:
        """The ``n`` best unseen movies of ``user_id``: ``(movie_id, title, predicted rating)``, best first.

        Ranked by the unclipped score; the rating shown is clipped to the rating range.
        """
        row = self.user_index(user_id)
        scores = self.scores(user_id)
        scores[self.seen_items[self.seen_indptr[row] : self.seen_indptr[row + 1]]] = -np.inf
        n = min(n, int(np.isfinite(scores).sum()))
        if n <= 0:
            return []
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        lo, hi = self.rating_range
        return [
            (int(self.item_ids[i]), self.titles[i], round(float(np.clip(scores[i], lo, hi)), 3)) for i in top
        ]


def find_model_folder(path: Path | str, metric: str = "recommender_train_rmse") -> Path:
    """``path`` itself when it holds a model, else its committed version with the lowest ``metric``.

    A registry root (``MODEL_PATH`` of the train task) holds one folder per version, each with
    ``metrics.json``; versions without a model or the metric are skipped.  Raises :class:`FileNotFoundError`.
    """
    path = Path(path)
    if (path / MODEL_FILE).is_file():
        return path
    candidates: list[tuple[float, str, Path]] = []
    if path.is_dir():
        for entry in os.scandir(path):
            folder = Path(entry.path)
            if entry.name.startswith(".") or not (folder / MODEL_FILE).is_file():
                continue
            try:
                metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))["metrics"]
                candidates.append((float(metrics[metric]), entry.name, folder))
            except (OSError, ValueError, KeyError, TypeError):
                continue
    if not candidates:
        raise FileNotFoundError(f"no recommender model in {path} (no {MODEL_FILE} and no model version)")
    candidates.sort(key=lambda c: c[1], reverse=True)  # newest first: names sort by time
    return min(candidates, key=lambda c: c[0])[2]  # lowest metric; among equals the newest


def load(path: Path | str) -> ServingModel:
    """Load the model in ``path`` (a version folder, or a registry root: see :func:`find_model_folder`)."""
    folder = find_model_folder(path)
    with np.load(folder / MODEL_FILE) as arrays:
        fields = {name: arrays[name] for name in arrays.files}
    titles = json.loads((folder / TITLES_FILE).read_text(encoding="utf-8"))
    lo, hi = (float(x) for x in fields["rating_range"])
    return ServingModel(
        user_factors=fields["user_factors"],
        item_factors=fields["item_factors"],
        mean=float(fields["mean"]),
        rating_range=(lo, hi),
        user_ids=fields["user_ids"],
        item_ids=fields["item_ids"],
        seen_indptr=fields["seen_indptr"],
        seen_items=fields["seen_items"],
        titles=list(titles),
        folder=folder,
    )
