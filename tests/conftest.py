"""Shared pytest configuration."""

pytest_plugins = ["support.fixtures"]
