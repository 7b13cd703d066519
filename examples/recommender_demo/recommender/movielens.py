"""Download a MovieLens release from GroupLens, check it and cache it (standard library only).

The zip is fetched from ``BASE_URL + "<name>.zip"`` (tests point ``BASE_URL`` at a local server), written to
``<cache>/<name>.zip.part``, checked, renamed to ``<cache>/<name>.zip`` and extracted into
``<cache>/<name>/``; a later call reuses the extracted folder.

Checksums: GroupLens publishes an MD5 digest next to each zip (``<name>.zip.md5``); :data:`DATASETS` carries
those values (also pinned by independent public projects).  SHA-256 digests of the official zips could not
be confirmed from here (no network access to grouplens.org), so the table's ``sha256`` is ``None`` and the
MD5 is what is enforced; a SHA-256 can be pinned with ``sha256=`` / ``MOVIELENS_SHA256`` and is then
enforced instead.  After a verified download the zip's SHA-256 is printed and stored in the cache
(``<name>.zip.sha256``) so that it can be pinned.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BASE_URL",
    "CITATION",
    "DATASETS",
    "TERMS",
    "ChecksumError",
    "DownloadError",
    "default_cache_dir",
    "fetch",
]

#: Where GroupLens serves the releases (module constant: tests override it; so does ``MOVIELENS_BASE_URL``).
BASE_URL = "https://files.grouplens.org/datasets/movielens/"

TERMS = (
    "MovieLens terms of use (GroupLens, University of Minnesota): research use only; no commercial or "
    "revenue-bearing use without permission; do not redistribute the data; do not state or imply "
    "endorsement by the University of Minnesota or GroupLens; acknowledge the data set in publications."
)
CITATION = (
    "F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History and Context. "
    "ACM Transactions on Interactive Intelligent Systems (TiiS) 5, 4, Article 19. "
    "https://doi.org/10.1145/2827872"
)


@dataclass(frozen=True)
class Release:
    """A MovieLens release: its zip's digests and the folder the zip extracts to."""

    name: str
    md5: str | None
    sha256: str | None = None

    @property
    def filename(self) -> str:
        return f"{self.name}.zip"


DATASETS: dict[str, Release] = {
    "ml-100k": Release("ml-100k", md5="0e33842e24a9c977be4e0107933c0723"),
    "ml-1m": Release("ml-1m", md5="c4d9eecfca2ab87c1945afe126590906"),
}


class DownloadError(OSError):
    """The release could not be downloaded (offline, HTTP error) or extracted."""


class ChecksumError(ValueError):
    """The downloaded zip does not have the expected digest."""


def default_cache_dir() -> Path:
    """``MOVIELENS_CACHE`` or ``~/.cache/myelin/movielens``."""
    configured = os.environ.get("MOVIELENS_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "myelin" / "movielens"


def _digests(path: Path) -> dict[str, str]:
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            md5.update(block)
            sha256.update(block)
    return {"md5": md5.hexdigest(), "sha256": sha256.hexdigest()}


def verify(path: Path, release: Release, sha256: str | None = None) -> dict[str, str]:
    """Check ``path`` against ``sha256`` (or the release's SHA-256, else its MD5); return its digests."""
    digests = _digests(path)
    expected_sha = sha256 or os.environ.get("MOVIELENS_SHA256") or release.sha256
    if expected_sha:
        algorithm, expected = "sha256", expected_sha.lower()
    elif release.md5:
        algorithm, expected = "md5", release.md5.lower()
    else:  # pragma: no cover - every release in DATASETS has a digest
        raise ChecksumError(f"no checksum is known for {release.filename}: pin one with MOVIELENS_SHA256")
    if digests[algorithm] != expected:
        raise ChecksumError(
            f"checksum mismatch for {release.filename}: {algorithm} is {digests[algorithm]}, "
            f"expected {expected}"
        )
    return digests


def _extract(archive: Path, cache: Path, release: Release) -> Path:
    target = cache / release.name
    staging = cache / f".{release.name}.extracting"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with zipfile.ZipFile(archive) as zipped:
            for member in zipped.namelist():
                if member.startswith(("/", "\\")) or ".." in Path(member).parts:
                    raise DownloadError(f"{archive}: unsafe path {member!r} in the archive")
            zipped.extractall(staging)
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"{archive} is not a valid zip file: {exc}") from exc
    inner = staging / release.name
    source = inner if inner.is_dir() else staging
    shutil.rmtree(target, ignore_errors=True)
    source.rename(target)
    shutil.rmtree(staging, ignore_errors=True)
    return target


def fetch(
    name: str = "ml-1m",
    cache_dir: Path | str | None = None,
    *,
    sha256: str | None = None,
    timeout: float = 60.0,
    log=print,
) -> Path:
    """The extracted folder of release ``name``, downloading and verifying it on first use.

    Raises :class:`KeyError` for an unknown release, :class:`DownloadError` when offline or the server
    fails, :class:`ChecksumError` when the digest differs (the download is removed).
    """
    if name not in DATASETS:
        raise KeyError(f"unknown MovieLens release {name!r}: choose one of {', '.join(DATASETS)}")
    release = DATASETS[name]
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    extracted = cache / release.name
    marker = cache / f"{release.filename}.sha256"
    if extracted.is_dir() and marker.is_file():
        log(f"using cached {extracted}")
        return extracted
    cache.mkdir(parents=True, exist_ok=True)
    archive = cache / release.filename
    url = (os.environ.get("MOVIELENS_BASE_URL") or BASE_URL).rstrip("/") + "/" + release.filename
    if not archive.is_file():
        partial = cache / f"{release.filename}.part"
        log(f"downloading {url}")
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, partial.open("wb") as out:
                shutil.copyfileobj(response, out)
        except (urllib.error.URLError, OSError) as exc:
            partial.unlink(missing_ok=True)
            reason = getattr(exc, "reason", exc)
            raise DownloadError(f"cannot download {url} ({reason})") from exc
        try:
            verify(partial, release, sha256)
        except ChecksumError:
            partial.unlink(missing_ok=True)
            raise
        partial.rename(archive)
    try:
        digests = verify(archive, release, sha256)
    except ChecksumError:
        archive.unlink(missing_ok=True)  # a corrupt cached zip: the next run downloads it again
        raise
    folder = _extract(archive, cache, release)
    marker.write_text(digests["sha256"] + "\n", encoding="utf-8")
    log(f"verified {release.filename} (sha256 {digests['sha256']}), extracted to {folder}")
    return folder
