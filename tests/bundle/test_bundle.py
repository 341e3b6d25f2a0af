"""Air-gapped releases on the real dev stack and registries: export a signed, attested index
into one archive, verify it inside a network namespace with no interfaces, import it into a
second registry (with and without the referrers API) and verify it there; tampered bundles fail
with the reason; an expired timestamp authority in the trusted root warns."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from supplychain.bundle import RELEASE_TAG, Pins, _write_tar, export_bundle, import_bundle, verify_archive
from supplychain.errors import VerificationFailed
from supplychain.stores import open_store
from supplychain.verify import verify_image
from tests.conftest import ROOT
from tests.helpers.devstack import DevStack
from tests.helpers.registries import Registry
from tests.policy.test_promote_stack import gate, signed_index, tag_of
from tests.signing.images import push_tiny_index

pytestmark = pytest.mark.sigstore
_n = itertools.count()
OFFLINE = str(Path(__file__).with_name("offline.py"))


@pytest.fixture(scope="module")
def release(dev_stack: DevStack, registry: Registry, tmp_path_factory: pytest.TempPathFactory
            ) -> tuple[Path, Path, str, str]:
    """(archive, policy file, source reference, digest): one exported bundle shared by the tests."""
    tmp = tmp_path_factory.mktemp("bundle")
    src = registry.ref("staging/bundle", "v1")
    digest = signed_index(dev_stack, src)
    policy_file = tmp / "policy.yaml"
    policy_file.write_bytes(gate(dev_stack).raw)
    out = tmp / "release.tar"
    result = export_bundle(src, gate(dev_stack), str(out), trust_config=str(dev_stack.trust_config))
    assert result.ok and result.digest == digest, result.to_dict()
    assert result.referrers >= 6   # signature + provenance on the index and each of 2 platforms
    return out, policy_file, src, digest


def _offline(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SCCHECK_TRUST_CONFIG", None)
    return subprocess.run(["unshare", "-n", sys.executable, OFFLINE, *args], env=env, capture_output=True,
                          text=True, timeout=300)


def test_bundle_verifies_with_zero_network(dev_stack: DevStack, release: tuple[Path, Path, str, str]) -> None:
    archive, policy_file, _, digest = release
    done = _offline("--json", "verify", f"oci-archive:{archive}", "--policy", str(policy_file),
                    "--trust-config", str(dev_stack.trust_config))
    assert "NETWORK ATTEMPT" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr + done.stdout
    out = json.loads(done.stdout)
    assert out["ok"] and out["digest"] == digest and out["reference"] == f"oci-archive:{archive}@{digest}"
    assert out["bundle"]["trustedRootSource"] == "file"
    assert {r["status"] for r in out["results"]} == {"pass"}


def test_pinning_the_digests_inside_verifies_offline_too(release: tuple[Path, Path, str, str]) -> None:
    archive = release[0]
    with tarfile.open(archive) as tar:
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        (entry,) = [e for e in index["manifests"] if e.get("annotations", {}).get(
            "org.opencontainers.image.ref.name") == RELEASE_TAG]
        release_doc = json.load(tar.extractfile(f"blobs/sha256/{entry['digest'][7:]}"))  # type: ignore[arg-type]
    trust, policy = release_doc["layers"][0]["digest"], release_doc["layers"][1]["digest"]
    done = _offline("--json", "verify", f"oci-archive:{archive}", "--trusted-root-digest", trust,
                    "--policy-digest", policy)
    assert done.returncode == 0 and "NETWORK ATTEMPT" not in done.stderr, done.stderr
    assert json.loads(done.stdout)["bundle"]["trustedRootSource"] == "archive (pinned)"
    # Without a pin, the trusted root inside is not used: a usage error that names the digest to check.
    unpinned = _offline("--json", "verify", f"oci-archive:{archive}", "--policy-digest", policy)
    assert unpinned.returncode == 2, unpinned.stderr
    assert trust in json.loads(unpinned.stdout)["fix"]


def test_the_tripwire_sees_a_registry_verification(dev_stack: DevStack, release: tuple[Path, Path, str, str]
                                                   ) -> None:
    """The offline test can fail: verifying from the registry inside the namespace trips it."""
    _, policy_file, src, _ = release
    done = _offline("verify", src, "--policy", str(policy_file),
                    "--trust-config", str(dev_stack.trust_config))
    assert done.returncode == 99 and "NETWORK ATTEMPT" in done.stderr, done.stderr


@pytest.mark.parametrize("mode", ["auto", "tag"])
def test_import_into_a_second_registry_then_again(dev_stack: DevStack, any_registry: Registry, mode: str,
                                                  release: tuple[Path, Path, str, str]) -> None:
    import dataclasses

    from supplychain.registry import RegistryOptions

    archive, _, _, digest = release
    dst = any_registry.ref(f"site/app{next(_n)}", "v1")
    pins = Pins(trust_file=str(dev_stack.trust_config), policy=gate(dev_stack))
    options = dataclasses.replace(RegistryOptions(), referrers_mode=mode)
    result, facts = import_bundle(str(archive), dst.rsplit(":", 1)[0], pins, registry_options=options)
    assert result.status == "promoted", result.to_dict()
    assert tag_of(dst, "v1") == digest
    assert result.copied["referrers_copied"] == len(facts.referrers)
    report = verify_image(dst, gate(dev_stack), trust_config=str(dev_stack.trust_config))
    assert report.passed, report.to_dict()
    # cosign v3 finds and verifies the imported signature where the site registry lists it.
    from supplychain.tools import find_tool

    cosign = subprocess.run([find_tool("cosign") or "cosign", "verify", "--trusted-root",
                             str(dev_stack.trusted_root), "--certificate-identity", dev_stack.identity,
                             "--certificate-oidc-issuer", dev_stack.issuer,
                             f"{dst.rsplit(':', 1)[0]}@{digest}"],
                            capture_output=True, text=True, timeout=120)
    assert cosign.returncode == 0, cosign.stderr
    again, _ = import_bundle(str(archive), dst, pins, registry_options=options)
    assert again.status == "unchanged" and again.copied["manifests_copied"] == 0, again.to_dict()


def _rewrite(archive: Path, tmp: Path, change: Callable[[Path], None]) -> Path:
    work = tmp / "unpacked"
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    change(work)
    out = tmp / "tampered.tar"
    _write_tar(work, out)
    return out


def _entries(work: Path) -> list[dict[str, object]]:
    return list(json.loads((work / "index.json").read_text())["manifests"])


def _remove_a_referrer(work: Path) -> None:
    index = json.loads((work / "index.json").read_text())
    victim = next(e for e in index["manifests"] if "annotations" not in e)
    index["manifests"].remove(victim)
    (work / "index.json").write_text(json.dumps(index))
    (work / "blobs" / "sha256" / victim["digest"][7:]).unlink()


def _flip_a_layer_byte(work: Path) -> None:
    big = max((work / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)
    data = bytearray(big.read_bytes())
    data[len(data) // 2] ^= 0x01
    big.write_bytes(bytes(data))


@pytest.mark.parametrize(("change", "reason"), [
    (_remove_a_referrer, "which the archive does not hold"),
    (_flip_a_layer_byte, "does not match its digest"),
])
def test_a_tampered_bundle_fails_with_the_reason(dev_stack: DevStack, release: tuple[Path, Path, str, str],
                                                 tmp_path: Path, change: Callable[[Path], None],
                                                 reason: str) -> None:
    tampered = _rewrite(release[0], tmp_path, change)
    pins = Pins(trust_file=str(dev_stack.trust_config), policy=gate(dev_stack))
    with pytest.raises(VerificationFailed, match=reason):
        verify_archive(str(tampered), pins)


def test_a_swapped_trusted_root_fails_the_pin(dev_stack: DevStack, release: tuple[Path, Path, str, str],
                                              tmp_path: Path) -> None:
    from supplychain.policy.trustroot import read_trust_file

    original = read_trust_file(dev_stack.trust_config).digest

    def swap(work: Path) -> None:   # another root in, the release manifest and contents rewritten to match
        from supplychain.image.descriptor import Descriptor, canonical_json
        from supplychain.image.layout import OCILayout

        layout = OCILayout(work)
        raw, _, _ = layout.read_manifest(RELEASE_TAG)
        manifest = json.loads(raw)
        doc = json.loads(dev_stack.trust_config.read_bytes())
        doc["trustedRoot"]["tlogs"][0]["baseUrl"] = "http://127.0.0.1:1"
        other = layout.write_blob(json.dumps(doc).encode())
        manifest["layers"][0].update(digest=other.digest, size=other.size)
        contents = json.loads(layout.read_blob(Descriptor.from_dict(manifest["config"])))
        contents["trustedRoot"] = other.digest
        config = layout.write_blob(canonical_json(contents))
        manifest["config"].update(digest=config.digest, size=config.size)
        layout.write_manifest(canonical_json(manifest), manifest["mediaType"], tag=RELEASE_TAG)

    tampered = _rewrite(release[0], tmp_path, swap)
    with pytest.raises(VerificationFailed, match="not the one pinned") as err:
        verify_archive(str(tampered), Pins(trusted_root_digest=original, policy=gate(dev_stack)))
    assert err.value.expected == original


def test_export_refuses_an_image_that_fails_the_policy(dev_stack: DevStack, registry: Registry,
                                                       tmp_path: Path) -> None:
    ref = registry.ref("staging/unsigned", "v1")
    push_tiny_index(open_store(ref), "v1", text="unsigned")
    out = tmp_path / "release.tar"
    result = export_bundle(ref, gate(dev_stack), str(out), trust_config=str(dev_stack.trust_config))
    assert not result.ok and "fails the policy" in result.message
    assert not out.exists() and list(tmp_path.iterdir()) == []


Run = Callable[..., subprocess.CompletedProcess[str]]


def test_an_expired_timestamp_authority_warns(dev_stack: DevStack, release: tuple[Path, Path, str, str],
                                              tmp_path: Path, sccheck: Run) -> None:
    doc = json.loads(dev_stack.trust_config.read_bytes())
    doc["trustedRoot"]["timestampAuthorities"][0]["validFor"]["end"] = "2025-01-01T00:00:00Z"
    expired = tmp_path / "expired.json"
    expired.write_text(json.dumps(doc))
    shown = sccheck("--json", "trust", "show", "--trust-config", str(expired))
    assert shown.returncode == 0, shown.stderr
    (warning,) = json.loads(shown.stdout)["warnings"]
    assert warning.startswith("the timestamp authority ") and "expired on 2025-01-01" in warning
    fresh = sccheck("--json", "trust", "show", "--trust-config", str(dev_stack.trust_config))
    assert json.loads(fresh.stdout)["warnings"] == []
    archive, policy_file, _, _ = release
    done = sccheck("--json", "verify", f"oci-archive:{archive}", "--policy", str(policy_file),
                   "--trust-config", str(expired))
    assert "warning: the timestamp authority" in done.stderr
    assert json.loads(done.stdout)["warnings"] == [warning]


@pytest.mark.parametrize("kind", ["manifest", "referrer", "tag"])
def test_an_interrupted_import_completes_when_run_again(
        dev_stack: DevStack, any_registry: Registry, kind: str, release: tuple[Path, Path, str, str]) -> None:
    """A write of each kind fails (HTTP 500, no retries): the import fails or is refused, with
    the tag unmoved; the same import run again completes, without duplicating referrers. (Not
    blobs: a registry that shares blobs between repositories has them from an earlier test.)"""
    from supplychain.registry import RegistryOptions
    from tests.helpers.faultproxy import FaultProxy

    archive, _, _, digest = release
    proxy = FaultProxy(any_registry.host)
    try:
        dst = f"{proxy.host}/site/resume{next(_n)}:v1"
        pins = Pins(trust_file=str(dev_stack.trust_config), policy=gate(dev_stack))
        options = RegistryOptions(max_retries=0)
        proxy.fail(kind, nth=1, times=1000)
        try:
            first: object = import_bundle(str(archive), dst, pins, registry_options=options)[0]
        except Exception as exc:  # the failure surfaces as an error ...
            first = exc
        assert proxy.failures() >= 1, f"no {kind} write happened"
        assert isinstance(first, Exception) or not first.ok, first.to_dict()  # type: ignore[attr-defined]
        assert tag_of(dst, "v1") is None
        proxy.clear()
        result, _ = import_bundle(str(archive), dst, pins, registry_options=options)
        assert result.status == "promoted" and tag_of(dst, "v1") == digest, result.to_dict()
        report = verify_image(dst, gate(dev_stack), trust_config=str(dev_stack.trust_config))
        assert report.passed
        on_index = [s.predicate_type for s in report.statements if s.attached_to == digest]
        assert len(on_index) == len(set(on_index)), f"a referrer was duplicated: {on_index}"
    finally:
        proxy.stop()


def test_the_cli_imports_and_a_stricter_policy_fails_offline(dev_stack: DevStack, registry: Registry,
                                                             release: tuple[Path, Path, str, str],
                                                             tmp_path: Path, sccheck: Run) -> None:
    archive, policy_file, _, digest = release
    tc = str(dev_stack.trust_config)
    dst = registry.ref(f"site/cli{next(_n)}", "v2")
    done = sccheck("--json", "bundle", "import", str(archive), dst, "--policy", str(policy_file),
                   "--trust-config", tc)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["status"], out["digest"], out["bundle"]["imageDigest"]) == ("promoted", digest, digest)
    assert tag_of(dst, "v2") == digest
    # The same bundle under a policy that also wants an SBOM: exit 1 with the failing rule, offline.
    stricter = tmp_path / "stricter.yaml"
    stricter.write_bytes(gate(dev_stack).raw + b"  sbom: {}\n")
    failed = _offline("--json", "verify", f"oci-archive:{archive}", "--policy", str(stricter),
                      "--trust-config", tc)
    assert failed.returncode == 1 and "NETWORK ATTEMPT" not in failed.stderr, failed.stderr
    report = json.loads(failed.stdout)
    assert not report["ok"] and [r["rule"] for r in report["results"] if r["status"] != "pass"] == ["sbom"]
