"""Shared pytest configuration."""

pytest_plugins = ["support.fixtures", "support.prometheus", "support.prometheus_tls"]


def pytest_addoption(parser):
    """``pytest --update-golden`` rewrites tests/golden/*.yaml instead of comparing (``make golden``)."""
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite the golden files under tests/golden from the current compiler output",
    )
