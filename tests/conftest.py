"""Session-wide fixtures: real registries and the Docker engine on this machine.

A service that cannot start makes the tests that need it fail (never skip): CI must see it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.devstack import DevStack, start_dev_stack
from tests.helpers.registries import Registry, start_distribution, start_referrers_registry

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
# Every build in the tests compresses its layers: a test that two builds agree compares two
# compressions, never a compression with the layer cache's copy of it (the cache's own tests
# turn it on).
os.environ["SCCHECK_LAYER_CACHE"] = "0"
# Likewise every check runs govulncheck: the answer cache has its own tests (analyzers).
os.environ["SCCHECK_RESULT_CACHE"] = "0"


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service-logs")


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """Distribution 2.8 (Debian docker-registry): no referrers API, anonymous."""
    reg = start_distribution(tmp_path_factory.mktemp("distribution"))
    yield reg
    reg.service.stop()


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """Distribution 2.8 with htpasswd basic auth."""
    reg = start_distribution(tmp_path_factory.mktemp("distribution-auth"), auth=True)
    yield reg
    reg.service.stop()


@pytest.fixture(scope="session")
def referrers_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """go-containerregistry's in-memory registry with the OCI 1.1 referrers API on."""
    reg = start_referrers_registry(tmp_path_factory.mktemp("ggcr"))
    yield reg
    reg.service.stop()


@pytest.fixture(params=["distribution", "referrers"])
def any_registry(request: pytest.FixtureRequest) -> Registry:
    """Each test runs once against a registry without and once with the referrers API."""
    name = "registry" if request.param == "distribution" else "referrers_registry"
    reg: Registry = request.getfixturevalue(name)
    return reg


@pytest.fixture(scope="session")
def docker_client() -> object:
    """The Docker engine started by scripts/services; fails (not skips) when it is down."""
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:
        pytest.fail(f"the Docker engine is not reachable ({exc}); scripts/services starts it")
    return client


@pytest.fixture(scope="session")
def dev_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """The local Sigstore: Fulcio + TesseraCT + Rekor v2 + TSA + our OIDC issuer on 127.0.0.1,
    one per test session; the tests that need it fail if it cannot start."""
    stack = start_dev_stack(tmp_path_factory.mktemp("dev-stack"))
    try:
        yield stack
    finally:
        stack.stop()


def run_sccheck(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
                input: str | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess (`python -m supplychain`), this checkout first on the path."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "supplychain", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, input=input, timeout=timeout)


@pytest.fixture
def sccheck():
    return run_sccheck


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--interop", action="store_true",
                     help="also run the tests judged by the heavy admission engines (scripts/interop)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `interop` need the engines scripts/interop builds: deselected (and reported
    as such) unless --interop is given; with it, a missing engine fails the test."""
    if config.getoption("--interop"):
        return
    chosen = [i for i in items if i.get_closest_marker("interop") is None]
    dropped = [i for i in items if i.get_closest_marker("interop") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = chosen
