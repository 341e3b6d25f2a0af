"""Tests' handle on a real dev-stack (Fulcio, TesseraCT, Rekor v2, TSA, our OIDC issuer).

`start_dev_stack(dir)` runs `sccheck dev-stack up` in-process (the same library code as the
CLI) and returns a `DevStack`; `stop()` runs `down`. Tokens come from the stack's own issuer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import requests

from supplychain import devstack
from supplychain.devstack.keys import KeyPaths
from supplychain.devstack.state import StateDir


@dataclass(frozen=True)
class DevStack:
    dir: Path
    trust_config: Path
    trusted_root: Path
    urls: dict[str, str]
    issuer: str
    identity: str
    github_issuer: str
    token_url: str
    github_token_url: str
    actions_token_request_url: str
    up_seconds: float

    def mint_token(self, *, github: bool = False, **claims: str) -> str:
        """A fresh token: `email`, `sub`, `aud`, `ttl`, `expired="1"`, or GitHub claims."""
        return devstack.fetch_token(self.github_token_url if github else self.token_url, claims)

    def actions_env(self) -> dict[str, str]:
        """What a GitHub Actions runner exports for `id-token: write` jobs, pointed at this stack."""
        secret = KeyPaths.of(StateDir.at(self.dir)).actions_token.read_text().strip()
        return {"ACTIONS_ID_TOKEN_REQUEST_URL": self.actions_token_request_url,
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN": secret}

    def env(self) -> dict[str, str]:
        """The variables `sccheck dev-stack env` exports."""
        return devstack.env_values(devstack.status(self.dir))

    def github_workflow_identity(self, repository: str = "sccheck-dev/hello",
                                 ref: str = "refs/heads/main") -> str:
        """The certificate identity (SAN URI) Fulcio gives a default GitHub token."""
        return f"https://github.com/{repository}/.github/workflows/release.yml@{ref}"

    def stop(self) -> None:
        devstack.down(self.dir)

    def healthy(self) -> bool:
        return all(requests.get(u + path, timeout=2).ok for u, path in (
            (self.urls["fulcio"], "/api/v2/configuration"), (self.urls["tsa"], "/ping"),
            (self.urls["rekor"], "/healthz"), (self.urls["oidc"], "/keys")))


def start_dev_stack(directory: Path | str) -> DevStack:
    info = devstack.up(directory)
    return DevStack(
        dir=Path(info.dir), trust_config=Path(info.trust_config), trusted_root=Path(info.trusted_root),
        urls=dict(info.urls), issuer=info.issuer, identity=info.identity,
        github_issuer=info.github_issuer, token_url=info.token_url,
        github_token_url=info.github_token_url,
        actions_token_request_url=info.actions_token_request_url, up_seconds=info.seconds)
