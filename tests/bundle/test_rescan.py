"""`sccheck rescan`: a service that links a vulnerable golang.org/x/text, built for two platforms
and pushed, signed on the dev stack;
a policy that wants a vulnerability scan fails until the image is rescanned against a database
snapshot (a directory, or the one a bundle carries), then passes - without rebuilding."""

from __future__ import annotations

import json
import subprocess
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
            maxSeverity: critical
            maxAge: 7d
        """).encode()


@pytest.mark.parametrize("form", ["directory", "bundle"])
def test_rescan_meets_the_vulnerability_rule_without_rebuilding(
        dev_stack: DevStack, registry: Registry,
        tmp_path: Path, sccheck: Run, form: str) -> None:
    src = git_copy(ROOT / "tests" / "analyzers" / "fixtures" / "vuln_called", tmp_path / "vulncalled")
    ref = registry.ref(f"site/rescan-{form}", "v1")
    built = sccheck("--json", "build", str(src), "--platform", "linux/amd64,linux/arm64", "--push", ref)
    assert built.returncode == 0, built.stderr
    digest = json.loads(built.stdout)["digest"]
    tc = str(dev_stack.trust_config)
    sign_image(ref, trust_config=tc, identity_token=dev_stack.mint_token())
    policy = parse_policy(_policy(dev_stack))
    before = verify_image(ref, policy, trust_config=tc)
    assert not before.passed and [r.rule for r in before.failures()] == ["vulnerabilities"], before.to_dict()

    db: str = str(ROOT / "examples" / "vulndb")
    if form == "bundle":   # the snapshot travels in the bundle, exported under a signature-only policy
        signed_only = tmp_path / "signed.yaml"
        signed_only.write_bytes(_policy(dev_stack).split(b"attestations:")[0])
        exported = sccheck("--json", "bundle", "export", ref, "--policy", str(signed_only), "-o",
                           str(tmp_path / "release.tar"), "--trust-config", tc, "--vuln-db", db)
        assert exported.returncode == 0, exported.stderr
        assert json.loads(exported.stdout)["contents"]["vulnDb"].startswith("sha256:")
        db = f"oci-archive:{tmp_path / 'release.tar'}"
    done = sccheck("--json", "rescan", ref, "--vuln-db", db, "--trust-config", tc,
                   env={"SIGSTORE_ID_TOKEN": dev_stack.mint_token()}, timeout=900)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["digest"] == digest
    assert [p["platform"] for p in out["platforms"]] == ["linux/amd64", "linux/arm64"]
    # x/text v0.3.6 has vulnerabilities in the snapshot: each platform gets a result and an OpenVEX
    assert all(p["vulnerabilities"] >= 1 and len(p["attestations"]) == 2 for p in out["platforms"]), out
    after = verify_image(ref, policy, trust_config=tc)
    assert after.passed, after.to_dict()
    kinds = {(s.predicate_type, s.attached_to) for s in after.statements}
    for p in out["platforms"]:
        assert (COSIGN_VULN, p["digest"]) in kinds and (OPENVEX, p["digest"]) in kinds
