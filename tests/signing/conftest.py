"""The local Sigstore for signing tests.

A running stack named by SCCHECK_DEV_STACK_DIR is reused; otherwise the session starts its own
and stops it at the end (retrying for a while if an older stack holds the TSA's :2112). A stack
that cannot start fails the tests (never skips).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from supplychain.devstack import StackInfo, down, fetch_token, status, up
from supplychain.errors import DevStackError
from tests.helpers.procs import free_port


@dataclass(frozen=True)
class Sigstore:
    info: StackInfo

    @property
    def trust_config(self) -> str:
        return self.info.trust_config

    @property
    def trusted_root(self) -> str:
        return self.info.trusted_root

    @property
    def identity(self) -> str:
        return self.info.identity

    @property
    def issuer(self) -> str:
        return self.info.issuer

    def token(self, **claims: str) -> str:
        return fetch_token(self.info.token_url, claims)

    def env(self) -> dict[str, str]:
        """What `eval $(sccheck dev-stack env)` sets: enough for `sccheck sign IMAGE`."""
        return {"SCCHECK_TRUST_CONFIG": self.trust_config, "SCCHECK_DEV_TOKEN_URL": self.info.token_url}

    def actions_env(self) -> dict[str, str]:
        """What a GitHub Actions runner with `id-token: write` exports, pointed at this stack."""
        from supplychain.devstack.keys import KeyPaths
        from supplychain.devstack.state import StateDir

        secret = KeyPaths.of(StateDir.at(self.info.dir)).actions_token.read_text().strip()
        return {"ACTIONS_ID_TOKEN_REQUEST_URL": self.info.actions_token_request_url,
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN": secret}

    def broken_trust_config(self, directory: Path, service: str) -> str:
        """The trust config with one service (caUrls, rekorTlogUrls, tsaUrls) on a closed port."""
        doc = json.loads(Path(self.trust_config).read_text())
        entry = doc["signingConfig"][service][0]
        path = "/api/v1/timestamp" if service == "tsaUrls" else ""
        entry["url"] = f"http://127.0.0.1:{free_port()}{path}"
        out = directory / f"trust_config_{service}_down.json"
        out.write_text(json.dumps(doc))
        return str(out)


@pytest.fixture(scope="session")
def sigstore(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sigstore]:
    shared = os.environ.get("SCCHECK_DEV_STACK_DIR")
    if shared:
        info = status(shared)
        if {"fulcio", "rekor", "tsa", "oidc"} <= set(info.running):
            yield Sigstore(info)
            return
    directory = tmp_path_factory.mktemp("dev-stack")
    deadline = time.monotonic() + 300
    while True:  # another stack on this machine holds :2112 for a while: wait our turn
        try:
            info = up(directory)
            break
        except DevStackError as exc:
            if "2112" not in exc.message or time.monotonic() > deadline:
                pytest.fail(f"the local Sigstore did not start: {exc.diagnostics()}")
            time.sleep(2)
        except Exception as exc:
            pytest.fail(f"the local Sigstore did not start: {exc}")
    try:
        yield Sigstore(info)
    finally:
        down(directory)
