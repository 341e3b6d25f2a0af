"""`sccheck build-and-sign` end to end on the real dev-stack (Fulcio, CT log, Rekor v2, TSA, our
OIDC issuer), Debian's docker-registry, the real Go tools and cosign."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from supplychain.errors import RegistryError
from supplychain.signing import list_bundles
from supplychain.stores import open_store
from supplychain.tools import PROJECT_ROOT, find_tool
from tests.conftest import run_sccheck
from tests.pipeline.conftest import PipelineStack
from tests.pipeline.test_precheck_gate import git_checkout

HELLO = PROJECT_ROOT / "examples" / "hello"
VET_FIXTURE = PROJECT_ROOT / "tests" / "analyzers" / "fixtures" / "vet_printf"
STEPS = ["check", "build", "sbom", "profile", "harden", "gate", "push", "sign", "attest", "verify", "promote"]


@pytest.fixture(scope="module")
def chain(pipeline_stack: PipelineStack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    repo = f"{pipeline_stack.registry}/team/hello"
    proc = run_sccheck("--json", "build-and-sign", str(HELLO), "--repo", repo, "--tag", "v1",
                       "--vuln-db", str(pipeline_stack.vuln_db), "--policy", str(pipeline_stack.policy),
                       "--promote-to", f"{pipeline_stack.registry}/prod/hello:v1",
                       env=pipeline_stack.env())
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    return {"repo": repo, "report": report, "stderr": proc.stderr,
            "tmp": str(tmp_path_factory.mktemp("chain"))}


def test_report_names_every_digest_and_step(chain: dict[str, Any]) -> None:
    report = chain["report"]
    assert report["ok"] is True
    digest = report["digest"]
    assert digest.startswith("sha256:") and len(digest) == 71
    assert report["reference"] == f"{chain['repo']}@{digest}"
    assert sorted(report["steps"]) == sorted(STEPS)
    assert {s["status"] for s in report["steps"].values()} == {"ok"}
    steps = report["steps"]
    assert steps["push"]["result"]["reference"] == report["reference"]
    assert steps["build"]["result"]["digest"] == digest
    assert report["findings"] == 0
    attested = steps["attest"]["result"]["attestations"]
    assert [a["name"] for a in attested] == ["provenance", "sbom linux/amd64", "vulns", "tests vet",
                                            "tests staticcheck", "tests race", "harden", "link check",
                                            "link build", "link sbom", "link harden"]
    # one referrer for the signature and one per attestation, all on this single-platform image
    assert len(report["bundle_refs"]) == 12 and len(set(report["bundle_refs"])) == 12
    assert all(a["digest"] == digest for a in attested)
    assert steps["verify"]["result"]["rules"] == {
        "signature": "pass", "provenance": "pass", "sbom": "pass", "vulnerabilities": "pass", "tests": "pass",
        "harden": "pass"}
    assert steps["promote"]["result"]["status"] == "promoted"
    # the live status and the summary table went to stderr, not into the JSON
    assert "✓ sign (" in chain["stderr"]
    assert re.search(r"^step +status +time +result$", chain["stderr"], re.M)
    assert re.search(r"^promote +ok +[0-9.]+s +promoted: ", chain["stderr"], re.M)


def test_provenance_comes_from_the_real_build(chain: dict[str, Any], pipeline_stack: PipelineStack) -> None:
    digest = chain["report"]["digest"]
    store = open_store(chain["repo"])
    bundles = list_bundles(store, digest, predicate_type="https://slsa.dev/provenance/v1")
    assert len(bundles) == 1
    envelope = json.loads(bundles[0].bundle)["dsseEnvelope"]
    import base64

    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["subject"][0]["digest"]["sha256"] == digest.removeprefix("sha256:")
    build_def = statement["predicate"]["buildDefinition"]
    commit = subprocess.run(["git", "-C", str(HELLO), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    deps = {d.get("name", "source"): d for d in build_def["resolvedDependencies"]}
    assert deps["source"]["digest"] == {"gitCommit": commit}
    assert deps["source"]["uri"].startswith("git+")      # SLSA's git source form
    go = subprocess.run([find_tool("go") or "go", "env", "GOVERSION"], capture_output=True, text=True,
                        check=True).stdout.strip()
    assert deps["go-toolchain"]["annotations"] == {"version": go}
    assert build_def["externalParameters"]["path"] == "examples/hello"
    assert build_def["externalParameters"]["platforms"] == ["linux/amd64"]


def test_the_hardening_attestation_carries_the_profiles(chain: dict[str, Any]) -> None:
    import base64
    import hashlib

    from supplychain.harden.profile import make_profiles

    report = chain["report"]
    made = report["steps"]["profile"]["result"]
    assert made["allowed"]["linux/amd64"] < 100 and made["conservative"] == []
    [bundle] = list_bundles(open_store(chain["repo"]), report["digest"],
                            predicate_type="https://sccheck.dev/attestation/harden/v1")
    statement = json.loads(base64.b64decode(json.loads(bundle.bundle)["dsseEnvelope"]["payload"]))
    evidence = statement["predicate"]["profiles"]
    assert evidence["name"] == made["name"] and evidence["name"].startswith("sccheck-hello-")
    [attested] = evidence["platforms"]
    assert attested["platform"] == "linux/amd64" and attested["allowed"] == made["allowed"]["linux/amd64"]
    # the attested files are the ones anyone gets again from the pushed image, byte for byte
    again = make_profiles(report["reference"], output_dir=str(Path(chain["tmp"]) / "again"), name="hello")
    [platform] = again.platforms
    for kind, path in (("seccomp", platform.seccomp_file), ("apparmor", platform.apparmor_file)):
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == attested[kind]["sha256"], kind


def _cosign(*args: str) -> subprocess.CompletedProcess[str]:
    cosign = find_tool("cosign")
    assert cosign, "cosign is not installed (scripts/install-go-tools)"
    return subprocess.run([cosign, *args], capture_output=True, text=True, timeout=120)


def test_cosign_and_sccheck_verify_accept_it(chain: dict[str, Any], pipeline_stack: PipelineStack) -> None:
    ref = chain["report"]["reference"]
    stack = pipeline_stack.stack
    common = ["--trusted-root", str(stack.trusted_root), "--certificate-identity", stack.identity,
              "--certificate-oidc-issuer", stack.issuer, "--allow-insecure-registry"]
    signed = _cosign("verify", *common, ref)
    assert signed.returncode == 0, signed.stderr
    provenance = _cosign("verify-attestation", *common, "--type", "slsaprovenance1", ref)
    assert provenance.returncode == 0, provenance.stderr
    for image in (ref, f"{pipeline_stack.registry}/prod/hello:v1"):
        verified = run_sccheck("verify", image, "--policy", str(pipeline_stack.policy),
                               "--trust-config", str(stack.trust_config))
        assert verified.returncode == 0, verified.stdout + verified.stderr


def test_failing_check_stops_before_signing(tmp_path: Path, pipeline_stack: PipelineStack) -> None:
    module = git_checkout(VET_FIXTURE, tmp_path / "vetbad")   # provenance will name a commit
    (module / "sccheck.yaml").write_text(
        f"repo: {pipeline_stack.registry}/team/vetbad\ncheck:\n  only: [vet, vuln]\n")
    proc = run_sccheck("--json", "build-and-sign", str(module), "--policy", str(pipeline_stack.policy),
                       "--vuln-db", str(pipeline_stack.vuln_db), env=pipeline_stack.env())
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is False and report["kind"] == "check failed"
    assert "the checks found 1 finding(s) at or above the threshold" in report["message"]
    steps = report["steps"]
    assert steps["check"]["status"] == "failed"
    assert {steps[s]["status"] for s in ("gate", "push", "sign", "attest", "verify")} == {"skipped"}
    assert "printf" in proc.stderr
    # stderr is for people: the table, the findings one per line, the path of the full report
    assert max(len(line) for line in proc.stderr.splitlines()) < 400
    assert re.search(r"^  findings: HIGH vet printf main.go:8:20: fmt.Printf format %d has arg name of wrong",
                     proc.stderr, re.M), proc.stderr
    assert "the checkout has uncommitted changes" in proc.stderr    # sccheck.yaml came after the commit
    saved = re.search(r"^full report: (.+)$", proc.stderr, re.M)
    assert saved, proc.stderr
    assert json.loads(Path(saved[1]).read_text()) == report
    # nothing was pushed: the repository has no tags at all
    assert not report["reference"]
    repo = open_store(f"{pipeline_stack.registry}/team/vetbad")
    with pytest.raises(RegistryError):
        repo.resolve("latest")


def test_bad_config_is_a_usage_error(tmp_path: Path) -> None:
    module = tmp_path / "mod"
    shutil.copytree(HELLO, module)
    (module / "sccheck.yaml").write_text("repo: 127.0.0.1:1/x\nbuild:\n  platfrom: linux/amd64\n")
    proc = run_sccheck("build-and-sign", str(module))
    assert proc.returncode == 2
    assert "$.build.platfrom: unknown key" in proc.stderr
    assert "expected: one of platforms, base, version, tag" in proc.stderr


def test_multi_platform_run_lays_out_evidence_per_platform(pipeline_stack: PipelineStack) -> None:
    """docs/signing.md's evidence layout as build-and-sign writes it: signature and provenance on
    the index and every platform, one SBOM per platform naming [index, platform], so cosign
    verifies the multi-platform tag and a platform digest yields that platform's SBOM."""
    import base64

    repo = f"{pipeline_stack.registry}/team/hello-multi"
    proc = run_sccheck("--json", "build-and-sign", str(HELLO), "--repo", repo, "--tag", "v1",
                       "--platform", "linux/amd64,linux/arm64", "--vuln-db", str(pipeline_stack.vuln_db),
                       "--policy", str(pipeline_stack.policy), env=pipeline_stack.env())
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    index = report["digest"]
    platforms = report["steps"]["build"]["result"]["platforms"]
    assert sorted(platforms) == ["linux/amd64", "linux/arm64"]
    assert report["steps"]["verify"]["result"]["rules"]["sbom"] == "pass"
    stack = pipeline_stack.stack
    common = ["--trusted-root", str(stack.trusted_root), "--certificate-identity", stack.identity,
              "--certificate-oidc-issuer", stack.issuer, "--allow-insecure-registry"]

    def sboms(image: str) -> list[dict[str, Any]]:
        out = _cosign("verify-attestation", *common, "--type", "cyclonedx", image)
        assert out.returncode == 0, out.stderr
        return [json.loads(base64.b64decode(json.loads(line)["payload"]))
                for line in out.stdout.splitlines() if line.startswith("{")]

    tag = f"{repo}:v1"
    assert _cosign("verify", *common, tag).returncode == 0
    assert _cosign("verify-attestation", *common, "--type", "slsaprovenance1", tag).returncode == 0
    assert len(sboms(tag)) == 2
    for platform, child in platforms.items():
        (statement,) = sboms(f"{repo}@{child}")
        named = [f"sha256:{s['digest']['sha256']}" for s in statement["subject"]]
        assert named == [index, child], platform
        prov = _cosign("verify-attestation", *common, "--type", "slsaprovenance1", f"{repo}@{child}")
        assert prov.returncode == 0, prov.stderr


def test_openvex_is_attested_for_each_platform_image(pipeline_stack: PipelineStack, tmp_path: Path) -> None:
    """A service whose dependency has vulnerabilities it never reaches: build-and-sign attests an
    OpenVEX document per platform image, naming that image by purl, that cosign verifies and the
    OpenVEX project's own library applies as a scanner would."""
    import base64

    from supplychain.attest.openvex import image_purl
    from supplychain.attest.vocabulary import BY_SHORT
    from supplychain.tools import find_tool

    fixture = PROJECT_ROOT / "tests" / "analyzers" / "fixtures" / "vuln_imported_not_called"
    repo = f"{pipeline_stack.registry}/team/vex"
    proc = run_sccheck("--json", "build-and-sign", str(fixture), "--repo", repo, "--tag", "v1",
                       "--platform", "linux/amd64,linux/arm64", "--vuln-db", str(pipeline_stack.vuln_db),
                       "--policy", str(pipeline_stack.policy), env=pipeline_stack.env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    platforms = report["steps"]["build"]["result"]["platforms"]
    stack = pipeline_stack.stack
    common = ["--trusted-root", str(stack.trusted_root), "--certificate-identity", stack.identity,
              "--certificate-oidc-issuer", stack.issuer, "--allow-insecure-registry",
              "--type", BY_SHORT["openvex"].cosign_type or ""]
    vexcheck = find_tool("vexcheck")
    assert vexcheck
    for platform, child in platforms.items():
        out = _cosign("verify-attestation", *common, f"{repo}@{child}")
        assert out.returncode == 0, out.stderr
        (line,) = [x for x in out.stdout.splitlines() if x.startswith("{")]
        statement = json.loads(base64.b64decode(json.loads(line)["payload"]))
        doc = statement["predicate"]
        product = image_purl(repo, child)
        assert {p["@id"] for s in doc["statements"] for p in s["products"]} == {product}, platform
        path = tmp_path / f"{platform.replace('/', '-')}.json"
        path.write_text(json.dumps(doc))
        judged = subprocess.run([vexcheck, str(path), "GO-2021-0113", product,
                                 "pkg:golang/golang.org/x/text@v0.3.6"], capture_output=True, text=True)
        assert judged.returncode == 0, judged.stderr
        verdict = json.loads(judged.stdout)
        assert verdict["errors"] == [] and verdict["matches"][0]["statuses"] == ["not_affected"]
