"""Keyless signing with the ambient OIDC credentials of CI systems other than GitHub Actions,
found by the `id` package (sigstore-python's own detector), against the real local Sigstore.
The CI's token tool (buildkite-agent, circleci) is a stand-in that fetches a token from the dev
stack's issuer, so what the job hands sccheck is a real token Fulcio accepts."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from supplychain.image.layout import OCILayout
from tests.conftest import ROOT
from tests.signing.conftest import Sigstore
from tests.signing.images import push_tiny_image

pytestmark = pytest.mark.sigstore
TOKEN_VARS = ("SIGSTORE_ID_TOKEN", "SCCHECK_IDENTITY_TOKEN", "SCCHECK_DEV_TOKEN_URL", "GITHUB_ACTIONS",
              "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "GITLAB_CI", "BUILDKITE",
              "CIRCLECI")


def _tool(bin_dir: Path, name: str, expect_args: list[str], token_url: str) -> None:
    """A stand-in for a CI's token command: checks it is asked for audience sigstore, prints a token."""
    script = bin_dir / name
    script.write_text(f"""#!{sys.executable}
import json, sys, urllib.request
want = {expect_args!r}
if sys.argv[1:len(want) + 1] != want:
    sys.exit(f"unexpected arguments {{sys.argv[1:]}}")
rest = sys.argv[len(want) + 1:]
if "sigstore" not in rest and '{{"aud": "sigstore"}}' not in rest:
    sys.exit(f"not asked for audience sigstore: {{rest}}")
with urllib.request.urlopen({token_url!r}, timeout=30) as resp:
    print(resp.read().decode().strip())
""")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def _sign(tmp_path: Path, sigstore: Sigstore, extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    layout = OCILayout(tmp_path / "oci", create=True)
    push_tiny_image(layout, "v1", text=str(tmp_path))
    env = {k: v for k, v in os.environ.items() if k not in TOKEN_VARS}
    env.update({"PYTHONPATH": str(ROOT), "SCCHECK_TRUST_CONFIG": sigstore.trust_config, **extra_env})
    return subprocess.run([sys.executable, "-m", "supplychain", "--json", "sign", f"oci:{layout.path}:v1"],
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(("ci", "tool", "args", "source"), [
    ("BUILDKITE", "buildkite-agent", ["oidc", "request-token", "--audience"], "Buildkite agent"),
    ("CIRCLECI", "circleci", ["run", "oidc", "get", "--claims"], "CircleCI"),
])
def test_keyless_sign_with_a_ci_token_command(ci: str, tool: str, args: list[str], source: str,
                                              sigstore: Sigstore, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _tool(bin_dir, tool, args, sigstore.info.token_url)
    proc = _sign(tmp_path, sigstore, {ci: "true", "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["mode"] == "keyless" and result["identity"] == sigstore.identity
    assert result["log_index"] is not None
    assert source in proc.stderr           # progress names where the token came from


def test_keyless_sign_with_gitlab_id_tokens(sigstore: Sigstore, tmp_path: Path) -> None:
    token = sigstore.token()
    proc = _sign(tmp_path, sigstore, {"GITLAB_CI": "true", "SIGSTORE_ID_TOKEN": token})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["identity"] == sigstore.identity
    assert token not in proc.stdout + proc.stderr


def test_gitlab_without_id_tokens_says_what_to_add(sigstore: Sigstore, tmp_path: Path) -> None:
    proc = _sign(tmp_path, sigstore, {"GITLAB_CI": "true"})
    assert proc.returncode == 3, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ok"] is False
    text = json.dumps(doc)
    assert "GitLab" in text and "SIGSTORE_ID_TOKEN" in text


def test_a_failing_ci_token_command_is_named(sigstore: Sigstore, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _tool(bin_dir, "buildkite-agent", ["oidc", "request-token", "--no-such-flag"], sigstore.info.token_url)
    proc = _sign(tmp_path, sigstore, {"BUILDKITE": "true", "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert proc.returncode == 3
    assert "Buildkite" in proc.stdout and "internal error" not in proc.stdout + proc.stderr
