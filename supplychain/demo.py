"""The README's demo (`scripts/demo`), for real, on examples/hello:

start the local Sigstore and registry (`sccheck dev-stack up --registry`), build, push, sign
keyless with a token the dev stack mints, attest, verify against a policy for that identity,
promote to a second repository, then print the `cosign verify` command anyone can run to check
the result independently - and run it when cosign is installed.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from supplychain import devstack
from supplychain.errors import Error
from supplychain.pipeline import report
from supplychain.pipeline.config import PipelineRequest
from supplychain.pipeline.run import build_and_sign
from supplychain.policy.init import init_policy
from supplychain.progress import StderrProgress
from supplychain.tools import PROJECT_ROOT, child_env, find_tool

# A small offline copy of real Go vulnerability records (govulncheck's -db layout), so the demo
# runs without the internet; SCCHECK_VULN_DB=https://vuln.go.dev (or a mirror) for a full scan.
OFFLINE_VULN_DB = PROJECT_ROOT / "examples" / "vulndb"


def main() -> int:
    began = time.monotonic()
    say = StderrProgress()
    info = devstack.up(os.environ.get("SCCHECK_DEV_STACK_DIR"), progress=say, with_registry=True)
    assert info.registry
    os.environ["SCCHECK_DEV_TOKEN_URL"] = info.token_url      # keyless: tokens from the dev issuer
    # A tag per run: the registry keeps earlier runs, and a promotion never moves a tag that
    # names another image, so a rerun after a source change must not reuse the last tag.
    run_tag = time.strftime("demo-%Y%m%d-%H%M%S", time.gmtime())
    with tempfile.TemporaryDirectory(prefix="sccheck-demo-") as tmp:
        policy = Path(tmp) / "policy.yaml"
        policy.write_text(init_policy(info.identity, info.issuer, name="demo")
                          + "  tests:\n    allPassed: true\n  harden:\n    clean: true\n")
        vuln_db = os.environ.get("SCCHECK_VULN_DB") or str(OFFLINE_VULN_DB)
        if "SCCHECK_VULN_DB" not in os.environ:
            say.info(f"offline: scanning against the small vulnerability database in {OFFLINE_VULN_DB} "
                     "(SCCHECK_VULN_DB=https://vuln.go.dev for a full one)")
        req = PipelineRequest(
            path=str(PROJECT_ROOT / "examples" / "hello"), repo=f"{info.registry}/demo/hello", tag=run_tag,
            version="demo", policy=str(policy), trust_config=info.trust_config, vuln_db=vuln_db,
            promote_to=f"{info.registry}/prod/hello:{run_tag}")
        try:
            result = build_and_sign(req, say)
        except Error as err:          # a stopped chain shows its table of steps, then the error
            print(err.diagnostics(), file=sys.stderr)
            return err.exit_code
        print(report.summary_table(result))
    promoted = f"{info.registry}/prod/hello@{result.digest}"
    command = ["cosign", "verify", "--trusted-root", info.trusted_root, "--certificate-identity",
               info.identity, "--certificate-oidc-issuer", info.issuer, "--allow-insecure-registry",
               promoted]
    print("\ncheck it yourself (cosign, the dev stack's trusted root only):")
    print("  " + shlex.join(command))
    cosign = find_tool("cosign")
    if cosign:
        proc = subprocess.run([cosign, *command[1:]], capture_output=True, text=True, timeout=120,
                              env=child_env())
        verdict = "passed" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
        print(f"ran it: cosign verify {verdict}")
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
    else:
        print("(cosign is not installed here, so the demo did not run it)")
    print(f"demo done in {time.monotonic() - began:.1f}s; stop the stack with: sccheck dev-stack down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
