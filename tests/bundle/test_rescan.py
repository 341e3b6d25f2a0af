"""`sccheck rescan`: examples/hello built for two platforms and pushed, signed on the dev stack;
a policy that wants a vulnerability scan fails until the image is rescanned against a database
snapshot (a directory, or the tar a bundle carries), then passes - without rebuilding."""

from __future__ import annotations

import json
import subprocess
import tarfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from supplychain.attest.vocabulary import COSIGN_VULN, OPENVEX
from supplychain.policy import parse_policy
from supplychain.signing.api import sign_image
from supplychain.verify import verify_image
from tests.build.conftest import git_copy
from tests.conftest import ROOT
from tests.helpers.devstack import DevStack
from tests.helpers.registries import Registry

pytestmark = pytest.mark.sigstore
Run = Callable[..., subprocess.CompletedProcess[str]]


def _policy(stack: DevStack) -> bytes:
    return textwrap.dedent(f"""\
        apiVersion: sccheck.dev/v1
        kind: Policy
        name: site-gate
        identities:
          - issuer: '{stack.issuer}'
            subject: '{stack.identity}'
        signature: {{}}
        attestations:
          vulnerabilities:
            maxSeverity: medium
            maxAge: 7d
        """).encode()


@pytest.mark.parametrize("form", ["directory", "tar"])
def test_rescan_meets_the_vulnerability_rule_without_rebuilding(
        dev_stack: DevStack, registry: Registry,
        tmp_path: Path, sccheck: Run, form: str) -> None:
    src = git_copy(ROOT / "examples" / "hello", tmp_path / "hello")
    ref = registry.ref(f"site/rescan-{form}", "v1")
    built = sccheck("--json", "build", str(src), "--platform", "linux/amd64,linux/arm64", "--push", ref)
    assert built.returncode == 0, built.stderr
    digest = json.loads(built.stdout)["digest"]
    tc = str(dev_stack.trust_config)
    sign_image(ref, trust_config=tc, identity_token=dev_stack.mint_token())
    policy = parse_policy(_policy(dev_stack))
    before = verify_image(ref, policy, trust_config=tc)
    assert not before.passed and [r.rule for r in before.failures()] == ["vulnerabilities"], before.to_dict()

    db = ROOT / "examples" / "vulndb"
    if form == "tar":
        snapshot = tmp_path / "vulndb.tar"
        with tarfile.open(snapshot, "w") as tar:
            for f in sorted(db.rglob("*")):
                tar.add(f, arcname=f.relative_to(db).as_posix(), recursive=False)
        db = snapshot
    done = sccheck("--json", "rescan", ref, "--vuln-db", str(db), "--trust-config", tc,
                   env={"SIGSTORE_ID_TOKEN": dev_stack.mint_token()}, timeout=900)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["digest"] == digest
    assert [p["platform"] for p in out["platforms"]] == ["linux/amd64", "linux/arm64"]
    assert all(len(p["attestations"]) == 2 for p in out["platforms"])
    after = verify_image(ref, policy, trust_config=tc)
    assert after.passed, after.to_dict()
    kinds = {(s.predicate_type, s.attached_to) for s in after.statements}
    for p in out["platforms"]:
        assert (COSIGN_VULN, p["digest"]) in kinds and (OPENVEX, p["digest"]) in kinds
