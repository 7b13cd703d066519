"""Fixtures of the local runner's tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def serving_env_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where model server environments are cached during a test session: built once (about 30 s for
    seldon-core 1.17.1), shared by every test that serves a model. ``MYELIN_TEST_ENV_CACHE`` keeps it across
    sessions (handy when iterating locally)."""
    kept = os.environ.get("MYELIN_TEST_ENV_CACHE")
    return Path(kept) if kept else tmp_path_factory.mktemp("serving-envs")
