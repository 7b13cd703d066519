"""``myelin.hpo`` of the original client: reading hyper-parameters, without a tuning controller.

``myelin run`` starts no tuning (``hpTuning`` is not supported yet), so ``hpo_enabled()`` is False unless
``HPO_PARAMS`` is set by hand (base64 of a JSON object whose ``hpo-conf`` is a JSON string, or that JSON
itself)::

    import myelin.hpo

    params = myelin.hpo.get_hpo_params() or {"C": 1.0}
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Any

__all__ = ["get_hpo_config", "get_hpo_params", "hpo_enabled"]


def hpo_enabled() -> bool:
    """Whether the task runs as a hyper-parameter tuning trial (``HPO_PARAMS`` is set)."""
    return "HPO_PARAMS" in os.environ


def get_hpo_config() -> dict[str, Any]:
    """The trial's whole configuration from ``HPO_PARAMS``, or ``{}``."""
    raw = os.environ.get("HPO_PARAMS")
    if not raw:
        return {}
    try:
        text = base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        text = raw
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("HPO_PARAMS must hold a JSON object")
    return value


def get_hpo_params() -> dict[str, Any]:
    """The trial's hyper-parameters (``hpo-conf`` of :func:`get_hpo_config`), or ``{}``."""
    config = get_hpo_config()
    if not config:
        return {}
    params = config.get("hpo-conf", {})
    value = json.loads(params) if isinstance(params, str) else params
    return dict(value)
