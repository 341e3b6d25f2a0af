"""One real dev-stack (Sigstore + the optional docker-registry) and a local Go vuln DB per session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from supplychain import devstack
from tests.analyzers.vulndb import build_vulndb
from tests.conftest import run_sccheck
from tests.helpers.devstack import DevStack, start_dev_stack


@dataclass(frozen=True)
class PipelineStack:
    stack: DevStack
    registry: str          # host:port
    vuln_db: Path
    policy: Path           # the dev identity, every evidence the chain attests

    def env(self) -> dict[str, str]:
        return {"SCCHECK_TRUST_CONFIG": str(self.stack.trust_config),
                "SCCHECK_DEV_TOKEN_URL": self.stack.token_url}


@pytest.fixture(scope="session")
def pipeline_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PipelineStack]:
    directory = tmp_path_factory.mktemp("pipeline-dev-stack")
    stack = start_dev_stack(directory)
    try:
        info = devstack.up(directory, with_registry=True)   # already running: adds the registry
        assert info.already_running and info.registry, info
        work = tmp_path_factory.mktemp("pipeline-assets")
        db = build_vulndb(work / "vulndb")
        made = run_sccheck("policy", "init", "--identity", stack.identity, "--issuer", stack.issuer)
        assert made.returncode == 0, made.stderr
        policy = work / "policy.yaml"
        policy.write_text(made.stdout + "  tests:\n    allPassed: true\n  harden:\n    clean: true\n")
        yield PipelineStack(stack, info.registry, db, policy)
    finally:
        stack.stop()
