"""Fixtures for the gate's integration tests: the session's shared dev stack."""

from __future__ import annotations

import pytest

from tests.helpers.devstack import DevStack


@pytest.fixture(scope="session")
def sigstore_stack(dev_stack: DevStack) -> DevStack:
    """The session's local Sigstore (tests/conftest.py)."""
    return dev_stack
