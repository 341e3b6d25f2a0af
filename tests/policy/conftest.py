"""Fixtures for the gate's integration tests: one real dev-stack (Sigstore) per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.devstack import DevStack, start_dev_stack


@pytest.fixture(scope="session")
def sigstore_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """Fulcio + TesseraCT + Rekor v2 + TSA + our OIDC issuer on 127.0.0.1; fails if it cannot start."""
    stack = start_dev_stack(tmp_path_factory.mktemp("policy-dev-stack"))
    try:
        yield stack
    finally:
        stack.stop()
