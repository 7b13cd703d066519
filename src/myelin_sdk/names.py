"""Kubernetes-safe names: DNS-1123 labels of at most 63 characters, cut with a stable hash suffix.

>>> dns_label("TrainMyelinRecommender")
'train-myelin-recommender'
>>> dns_label("ml-rec", "DeploymentDecisionMaker")
'ml-rec-deployment-decision-maker'
>>> len(dns_label("x" * 100))
63
"""

from __future__ import annotations

import functools
import hashlib
import re

MAX_LABEL = 63
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_BAD = re.compile(r"[^a-z0-9-]+")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


#: How many names :func:`kebab` and :func:`dns_label` remember (pure functions; a compile of 1000 tasks asks
#: ~14 000 times for a few thousand distinct names).
_REMEMBERED = 16_384


@functools.lru_cache(maxsize=_REMEMBERED)
def kebab(name: str) -> str:
    """``DataPrepMyelinRecommender`` -> ``data-prep-myelin-recommender``; ``tf_model`` -> ``tf-model``."""
    text = _CAMEL.sub("-", name).lower()
    return re.sub(r"-{2,}", "-", _BAD.sub("-", text)).strip("-")


def short_hash(text: str, length: int = 5) -> str:
    """A short stable hex digest of ``text``."""
    return hashlib.sha256(text.encode()).hexdigest()[:length]


@functools.lru_cache(maxsize=_REMEMBERED)
def dns_label(*parts: str, max_length: int = MAX_LABEL) -> str:
    """Join ``parts`` into one DNS-1123 label; over ``max_length``, cut and append a hash of the full name."""
    full = "-".join(p for p in (kebab(x) for x in parts) if p)
    if not full:
        raise ValueError(f"no DNS-safe characters in {parts!r}")
    if len(full) <= max_length:
        return full
    suffix = short_hash(full)
    return f"{full[: max_length - len(suffix) - 1].rstrip('-')}-{suffix}"


def is_dns_label(name: str) -> bool:
    """Whether ``name`` is a valid DNS-1123 label (lowercase alphanumerics and '-', at most 63)."""
    return len(name) <= MAX_LABEL and bool(DNS_LABEL.match(name))
