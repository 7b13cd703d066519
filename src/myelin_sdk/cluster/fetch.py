"""An Axon YAML from an ``https://`` URL: bounded in size and time, errors in one line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import MyelinError

if TYPE_CHECKING:
    from ..spec import Axon

MAX_BYTES = 5 * 1024 * 1024
TIMEOUT_SECONDS = 30.0


def is_url(path: str) -> bool:
    return path.startswith(("https://", "http://"))


def fetch_text(url: str, max_bytes: int = MAX_BYTES, timeout: float = TIMEOUT_SECONDS) -> bytes:
    """The body at ``url`` (https only), refusing more than ``max_bytes``."""
    import urllib.error
    import urllib.request

    if not url.startswith("https://"):
        raise MyelinError(
            "only https:// URLs are fetched: an Axon runs code, so its source must be authentic", url
        )
    request = urllib.request.Request(url, headers={"Accept": "application/yaml, text/plain, */*"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise MyelinError(
                    f"refusing to fetch {length} bytes: an Axon YAML is at most {max_bytes}", url
                )
            data: bytes = response.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        raise MyelinError(f"cannot fetch: HTTP {exc.code} {exc.reason}", url) from None
    except urllib.error.URLError as exc:
        raise MyelinError(f"cannot fetch: {exc.reason}", url) from None
    except TimeoutError:
        raise MyelinError(f"cannot fetch: no answer within {timeout:g} s", url) from None
    except OSError as exc:
        raise MyelinError(f"cannot fetch: {exc}", url) from None
    if len(data) > max_bytes:
        raise MyelinError(f"refusing to fetch more than {max_bytes} bytes: too large for an Axon YAML", url)
    return data


def load_axon_url(url: str) -> Axon:
    """Fetch and parse an Axon YAML; diagnostics name the URL."""
    from ..axon_yaml import load_axon

    return load_axon(fetch_text(url), source=url)
