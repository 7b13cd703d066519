"""Data preparation task of the recommender demo: get MovieLens and write the normalised ratings.

    python preprocess.py                          # download ml-1m from GroupLens (checked, cached)
    python preprocess.py --dataset ml-100k
    python preprocess.py --data-dir ~/ml-100k     # an already extracted release (or MOVIELENS_DIR=...)

Writes ``ratings.npz``, ``movies.json`` and ``dataset.json`` into ``$DATA_PATH/movielens`` (``--out``
overrides), which ``train.py`` reads.  Environment: ``DATA_PATH`` (required unless ``--out``),
``MOVIELENS_DIR`` (an extracted release), ``MOVIELENS_DATASET`` (``ml-1m``/``ml-100k``),
``MOVIELENS_CACHE`` (default ``~/.cache/myelin/movielens``), ``MOVIELENS_SHA256`` (pin the zip's digest).
A relative ``--data-dir``/``MOVIELENS_DIR`` is resolved from where the user typed the command (``$PWD``,
which ``myelin run`` passes on unchanged while the task runs in its own folder), else from the current
directory. Exit code 1 with a one-line message when the data cannot be had.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from recommender import movielens
from recommender.data import DataError, read_release, save_normalized
from recommender.runtime import NotConfigured, data_path

#: The sub-folder of ``DATA_PATH`` the normalised dataset is written to.
DATA_SUBDIR = "movielens"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset",
        choices=sorted(movielens.DATASETS),
        default=os.environ.get("MOVIELENS_DATASET") or "ml-1m",
        help="release to download (default ml-1m, as in the original demo)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=os.environ.get("MOVIELENS_DIR") or None,
        help="an extracted release (u.data + u.item, or ratings.dat + movies.dat): no download; "
        "relative to where the command was typed",
    )
    parser.add_argument("--cache-dir", type=Path, default=None, help="download cache")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default $DATA_PATH/movielens)")
    return parser.parse_args(argv)


def user_path(path: Path | str) -> Path:
    """``path`` made absolute from where the user stands: ``$PWD`` (the shell's directory, inherited through
    ``myelin run``) when the folder is there, else the current directory.

    >>> user_path("/data/ml-100k")
    PosixPath('/data/ml-100k')
    """
    path = Path(path).expanduser()
    if path.is_absolute():
        return path
    shell = os.environ.get("PWD")
    if shell and (Path(shell) / path).is_dir():
        return (Path(shell) / path).resolve()
    return path.resolve()


def output_folder(out: Path | None) -> Path:
    """``out`` or ``DATA_PATH/movielens``."""
    if out is not None:
        return out
    return data_path() / DATA_SUBDIR


def run(args: argparse.Namespace) -> Path:
    """Get the release, write the normalised dataset; return the output folder."""
    out = output_folder(args.out)
    print(movielens.TERMS)
    print(f"Please cite: {movielens.CITATION}")
    if args.data_dir is not None:
        source = user_path(args.data_dir)
        print(f"reading MovieLens from {source}")
    else:
        try:
            source = movielens.fetch(args.dataset, args.cache_dir)
        except movielens.DownloadError as exc:
            raise movielens.DownloadError(
                f"{exc}; without network access provide an extracted release with --data-dir DIR "
                "or MOVIELENS_DIR=DIR (ml-100k: u.data + u.item; ml-1m: ratings.dat + movies.dat)"
            ) from None
    ratings = read_release(source)
    save_normalized(ratings, out, {"source": str(source), "citation": movielens.CITATION})
    summary = ratings.summary()
    print(
        f"wrote {summary['ratings']} ratings of {summary['users']} users on {summary['items']} movies "
        f"({summary['dataset']}) to {out}"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except (movielens.DownloadError, movielens.ChecksumError, DataError, NotConfigured, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"preprocess: error: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
