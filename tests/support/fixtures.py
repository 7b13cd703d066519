"""pytest plugin: the ``schema_validator`` fixture (loaded from tests/conftest.py).

Nothing here skips: CI must fail loudly when the upstream schemas are not available.
"""

from __future__ import annotations

import pytest

from support.schemas import SchemasNotFoundError, SchemaValidator, assert_valid

__all__ = ["assert_valid", "make_schema_validator", "schema_validator"]


def make_schema_validator() -> SchemaValidator:
    """A strict :class:`SchemaValidator`; *fails* the test (never skips) if schemas are missing."""
    try:
        return SchemaValidator()
    except SchemasNotFoundError as exc:
        pytest.fail(f"schema validation unavailable: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def schema_validator() -> SchemaValidator:
    """Session-wide strict validator for compiled manifests (see support.schemas)."""
    return make_schema_validator()
