"""MovieLens ratings: read an extracted release (ml-100k or ml-1m layout), store and load the normalised form.

The normalised dataset that ``preprocess.py`` writes and ``train.py`` reads is a folder with::

    ratings.npz    user_id, item_id (the dataset's own ids, int32), rating (float32), timestamp (int64)
    movies.json    {"<item_id>": "<title>", ...}
    dataset.json   {"dataset": "ml-100k", "ratings": 100000, "users": 943, "items": 1682, ...}

Only numpy and the standard library are used.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "DataError",
    "Ratings",
    "detect_layout",
    "load_normalized",
    "read_release",
    "save_normalized",
    "train_test_split",
]

RATINGS_FILE = "ratings.npz"
MOVIES_FILE = "movies.json"
DATASET_FILE = "dataset.json"

#: The files that identify each release layout: (ratings file, movies file).
LAYOUTS = {"ml-100k": ("u.data", "u.item"), "ml-1m": ("ratings.dat", "movies.dat")}


class DataError(ValueError):
    """A data folder is missing, has an unknown layout or cannot be parsed."""


@dataclass
class Ratings:
    """Ratings in the dataset's own ids, and the title of each movie id."""

    user_id: np.ndarray
    item_id: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray
    titles: dict[int, str]
    dataset: str = "movielens"

    def __len__(self) -> int:
        return int(self.rating.shape[0])

    def subset(self, rows: np.ndarray) -> Ratings:
        """The ratings at ``rows`` (same titles)."""
        return Ratings(
            self.user_id[rows],
            self.item_id[rows],
            self.rating[rows],
            self.timestamp[rows],
            self.titles,
            self.dataset,
        )

    def summary(self) -> dict[str, object]:
        """Counts for ``dataset.json`` and logs."""
        return {
            "dataset": self.dataset,
            "ratings": len(self),
            "users": int(np.unique(self.user_id).shape[0]),
            "items": int(np.unique(self.item_id).shape[0]),
            "movies": len(self.titles),
            "rating_min": float(self.rating.min()) if len(self) else None,
            "rating_max": float(self.rating.max()) if len(self) else None,
        }


def detect_layout(folder: Path) -> str:
    """``"ml-100k"`` or ``"ml-1m"``, from the files in ``folder`` (raises :class:`DataError`)."""
    if not folder.is_dir():
        raise DataError(f"MovieLens folder {folder} does not exist")
    for name, files in LAYOUTS.items():
        if all((folder / f).is_file() for f in files):
            return name
    expected = " or ".join(" + ".join(files) for files in LAYOUTS.values())
    raise DataError(f"{folder} is not an extracted MovieLens release: expected {expected}")


def _parse_table(text: str, separator: str, columns: int, source: Path) -> np.ndarray:
    if separator != "\t":
        text = text.replace(separator, "\t")
    try:
        table = np.loadtxt(io.StringIO(text), dtype=np.int64, delimiter="\t", ndmin=2)
    except ValueError as exc:
        raise DataError(f"cannot parse {source}: {exc}") from exc
    if table.shape[0] == 0 or table.shape[1] != columns:
        raise DataError(f"{source}: expected {columns} columns per line, found shape {table.shape}")
    return table


def _titles(path: Path, separator: str) -> dict[int, str]:
    titles: dict[int, str] = {}
    for line in path.read_text(encoding="latin-1").splitlines():
        if not line.strip():
            continue
        fields = line.split(separator)
        if len(fields) < 2:
            raise DataError(f"{path}: cannot parse line {line!r}")
        titles[int(fields[0])] = fields[1].strip()
    return titles


def read_release(folder: Path | str) -> Ratings:
    """Read an extracted MovieLens release folder (ml-100k or ml-1m layout)."""
    folder = Path(folder)
    layout = detect_layout(folder)
    ratings_name, movies_name = LAYOUTS[layout]
    ratings_path = folder / ratings_name
    separator = "\t" if layout == "ml-100k" else "::"
    table = _parse_table(ratings_path.read_text(encoding="latin-1"), separator, 4, ratings_path)
    titles = _titles(folder / movies_name, "|" if layout == "ml-100k" else "::")
    return Ratings(
        user_id=table[:, 0].astype(np.int32),
        item_id=table[:, 1].astype(np.int32),
        rating=table[:, 2].astype(np.float32),
        timestamp=table[:, 3],
        titles=titles,
        dataset=layout,
    )


def save_normalized(ratings: Ratings, folder: Path | str, extra: dict[str, object] | None = None) -> Path:
    """Write ``ratings`` to ``folder`` (created) in the normalised form; return the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        folder / RATINGS_FILE,
        user_id=ratings.user_id,
        item_id=ratings.item_id,
        rating=ratings.rating,
        timestamp=ratings.timestamp,
    )
    titles = {str(k): v for k, v in sorted(ratings.titles.items())}
    (folder / MOVIES_FILE).write_text(json.dumps(titles, ensure_ascii=False, indent=0), encoding="utf-8")
    summary = {**ratings.summary(), **(extra or {})}
    (folder / DATASET_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return folder


def load_normalized(folder: Path | str) -> Ratings:
    """Read a folder written by :func:`save_normalized` (raises :class:`DataError` when incomplete)."""
    folder = Path(folder)
    missing = [f for f in (RATINGS_FILE, MOVIES_FILE) if not (folder / f).is_file()]
    if missing:
        raise DataError(
            f"{folder} has no preprocessed MovieLens data (missing {', '.join(missing)}): "
            "run preprocess.py first"
        )
    with np.load(folder / RATINGS_FILE) as arrays:
        user_id, item_id = arrays["user_id"], arrays["item_id"]
        rating, timestamp = arrays["rating"], arrays["timestamp"]
    titles = {int(k): v for k, v in json.loads((folder / MOVIES_FILE).read_text(encoding="utf-8")).items()}
    dataset = "movielens"
    if (folder / DATASET_FILE).is_file():
        dataset = str(json.loads((folder / DATASET_FILE).read_text(encoding="utf-8")).get("dataset", dataset))
    return Ratings(user_id, item_id, rating, timestamp, titles, dataset)


def train_test_split(n: int, test_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Row indexes of a random ``(train, test)`` split of ``n`` ratings."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), not {test_fraction}")
    perm = np.random.default_rng(seed).permutation(n)
    cut = round(n * test_fraction)
    return np.sort(perm[cut:]), np.sort(perm[:cut])


def kfold(n: int, folds: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``folds`` random ``(train, test)`` splits whose test parts partition ``range(n)``."""
    parts = np.array_split(np.random.default_rng(seed).permutation(n), folds)
    return [
        (np.sort(np.concatenate([p for j, p in enumerate(parts) if j != i])), np.sort(parts[i]))
        for i in range(folds)
    ]
