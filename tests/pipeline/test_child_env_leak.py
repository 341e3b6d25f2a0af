"""A Go module whose test writes out its whole environment, run through `sccheck check` and
`sccheck build-and-sign` with every secret sccheck knows of set: the test must see none of them,
and must see the user's own build settings."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from supplychain.tools import PROJECT_ROOT
from tests.conftest import run_sccheck
from tests.pipeline.conftest import PipelineStack

HELLO = PROJECT_ROOT / "examples" / "hello"
ENV_PROBE_TEST = """package main

import (
	"os"
	"strings"
	"testing"
)

// Appends this process's environment to $ENV_PROBE_OUT: what a hostile test could exfiltrate.
func TestDumpEnvironment(t *testing.T) {
	out := os.Getenv("ENV_PROBE_OUT")
	if out == "" {
		t.Fatal("ENV_PROBE_OUT did not reach the test: user variables must pass through")
	}
	f, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(os.Environ(), "\\n") + "\\n=== end\\n"); err != nil {
		t.Fatal(err)
	}
}
"""


def _probe_module(tmp_path: Path) -> Path:
    module = tmp_path / "envprobe"
    shutil.copytree(HELLO, module)
    (module / "envprobe_test.go").write_text(ENV_PROBE_TEST)
    git = ["git", "-C", str(module), "-c", "user.email=t@example.invalid", "-c", "user.name=t"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "probe"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    return module  # a git checkout: the provenance names its commit


def _secrets(stack: PipelineStack, registry: str) -> dict[str, str]:
    token = stack.stack.mint_token()
    return {
        "SIGSTORE_ID_TOKEN": token,
        "SCCHECK_IDENTITY_TOKEN": token,
        **stack.stack.actions_env(),   # ACTIONS_ID_TOKEN_REQUEST_URL / _TOKEN (real ones)
        "ACTIONS_RUNTIME_TOKEN": "actions-runtime-token-4e1f",
        "GITHUB_TOKEN": "ghs_leakprobe0000000000000000000000",
        "COSIGN_PASSWORD": "cosign-password-9a7c",
        "SCCHECK_KEY_PASSWORD": "key-password-51d2",
        "SCCHECK_REGISTRY_HOST": registry,
        "SCCHECK_REGISTRY_USERNAME": "leak-probe-user",
        "SCCHECK_REGISTRY_PASSWORD": "registry-password-77b0",
    }


def _assert_clean(dump: Path, secrets: dict[str, str], user: dict[str, str]) -> None:
    text = dump.read_text()
    assert "=== end" in text, "the probe test did not run"
    seen = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and line != "=== end")
    leaked = sorted(name for name in seen if name in secrets or name.startswith("SCCHECK_"))
    assert leaked == []
    assert [name for name, value in secrets.items() if value in text] == []
    for name, value in user.items():
        assert seen.get(name) == value, name


def test_check_runs_go_test_without_the_secrets(tmp_path: Path, pipeline_stack: PipelineStack) -> None:
    module = _probe_module(tmp_path)
    dump = tmp_path / "env-check.txt"
    secrets = _secrets(pipeline_stack, pipeline_stack.registry)
    user = {"ENV_PROBE_OUT": str(dump), "GOPRIVATE": "corp.example/*", "MY_BUILD_SETTING": "kept"}
    proc = run_sccheck("--json", "check", str(module), "--only", "race",
                       "--vuln-db", str(pipeline_stack.vuln_db),
                       env={**pipeline_stack.env(), **secrets, **user})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["tools"]
    _assert_clean(dump, secrets, user)


def test_build_and_sign_runs_go_test_without_the_secrets(tmp_path: Path,
                                                         pipeline_stack: PipelineStack) -> None:
    module = _probe_module(tmp_path)
    dump = tmp_path / "env-pipeline.txt"
    secrets = _secrets(pipeline_stack, pipeline_stack.registry)
    user = {"ENV_PROBE_OUT": str(dump), "GOPRIVATE": "corp.example/*", "MY_BUILD_SETTING": "kept"}
    proc = run_sccheck("--json", "build-and-sign", str(module), "--repo",
                       f"{pipeline_stack.registry}/team/envprobe", "--vuln-db", str(pipeline_stack.vuln_db),
                       "--policy", str(pipeline_stack.policy),
                       env={**pipeline_stack.env(), **secrets, **user})
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["steps"]["check"]["status"] == "ok" and report["steps"]["sign"]["status"] == "ok"
    _assert_clean(dump, secrets, user)
    shown = proc.stdout + proc.stderr
    assert [n for n, v in secrets.items() if v in shown and n != "SCCHECK_REGISTRY_HOST"] == []
