"""Hostile registries and networks against `verify`, `promote` and `copy --referrers`, with real
signatures from the dev stack on real registries.

Planted junk (a referrer whose bundle is garbage, fallback-index entries that point nowhere or
are malformed) is a fact about that junk: the good image still verifies and promotes. A network
that fails while evidence is read is exit 3 ("could not check"), never exit 1."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from supplychain.image.descriptor import Descriptor, MediaType, canonical_json
from supplychain.registry.referrers import fallback_tag
from supplychain.signing.api import sign_image
from supplychain.signing.storage import attach_bundle
from supplychain.stores import open_store
from tests.helpers.devstack import DevStack
from tests.helpers.registries import Registry
from tests.hostile.crafted import run
from tests.policy.tamper import failing_proxy
from tests.signing.images import push_tiny_image

pytestmark = pytest.mark.sigstore
_n = itertools.count()
SIGNATURE = "https://sigstore.dev/cosign/sign/v1"


def signed(stack: DevStack, reg: Registry) -> tuple[str, Descriptor]:
    ref = reg.ref(f"hostile/t{next(_n)}")
    img = push_tiny_image(open_store(ref), "v1")
    sign_image(ref + ":v1", trust_config=str(stack.trust_config), identity_token=stack.mint_token())
    return ref, img


def policy(tmp_path: Path, stack: DevStack) -> str:
    path = tmp_path / "policy.yaml"
    path.write_text(f"apiVersion: sccheck.dev/v1\nkind: Policy\nname: hostile\nidentities:\n"
                    f"  - issuer: '{stack.issuer}'\n    subject: '{stack.identity}'\nsignature: {{}}\n")
    return str(path)


def env(stack: DevStack) -> dict[str, str]:
    return {"SCCHECK_TRUST_CONFIG": str(stack.trust_config)}


def plant_junk(ref: str, img: Descriptor, reg: Registry) -> int:
    """Junk referrers next to the good signature; returns how many were planted."""
    store = open_store(ref)
    attach_bundle(store, img, b"this is not a bundle", SIGNATURE)
    attach_bundle(store, img, b"[" * 5000 + b"]" * 5000, SIGNATURE)
    attach_bundle(store, img, b'{"mediaType": "x", "mediaType": "y"}', SIGNATURE)
    planted = 3
    if not reg.referrers_api:
        # Entries of the fallback index that are no referrers of this image: another image, and
        # another image's signature. (A real registry refuses entries that point nowhere; the
        # lying registry's tests plant those.)
        other = push_tiny_image(store, "other", text="another image")
        stranger = attach_bundle(store, other, b"{}", SIGNATURE)
        data, _, _ = store.read_manifest(fallback_tag(img.digest))
        index = json.loads(data)
        for digest in (other.digest, stranger):
            size = len(store.read_manifest(digest)[0])
            index["manifests"].append({"mediaType": MediaType.OCI_MANIFEST, "digest": digest, "size": size,
                                       "artifactType": MediaType.SIGSTORE_BUNDLE})
        store.write_manifest(canonical_json(index), MediaType.OCI_INDEX, tag=fallback_tag(img.digest))
        planted += 2
    return planted


def test_planted_junk_never_stops_a_good_image(dev_stack: DevStack, any_registry: Registry,
                                               tmp_path: Path) -> None:
    ref, img = signed(dev_stack, any_registry)
    planted = plant_junk(ref, img, any_registry)
    pol = policy(tmp_path, dev_stack)
    out = run(["--json", "verify", ref + ":v1", "--policy", pol], env=env(dev_stack))
    assert out.code == 0, out.stderr
    assert [(r["rule"], r["status"]) for r in out.doc["results"]] == [("signature", "pass")]
    assert len(out.doc["rejected"]) == planted, out.doc["rejected"]
    reasons = " | ".join(r["reason"] for r in out.doc["rejected"])
    assert "not valid JSON" in reasons and "nested too deeply" in reasons and "duplicate JSON key" in reasons
    dst = any_registry.ref(f"hostile/prod{next(_n)}")
    promoted = run(["--json", "promote", ref + ":v1", dst + ":v1", "--policy", pol, "--no-vsa"],
                   env=env(dev_stack))
    assert promoted.code == 0, promoted.stderr
    again = run(["--json", "verify", dst + ":v1", "--policy", pol], env=env(dev_stack))
    assert again.code == 0 and again.doc["digest"] == img.digest


def _bundle_blob(ref: str, img: Descriptor) -> str:
    store = open_store(ref)
    [sig] = store.referrers(img.digest, MediaType.SIGSTORE_BUNDLE)
    manifest = json.loads(store.read_manifest(sig.digest)[0])
    return manifest["layers"][0]["digest"]


@pytest.mark.parametrize("failure", [503, "reset"])
def test_evidence_the_network_keeps_back_is_could_not_check(dev_stack: DevStack, registry: Registry,
                                                             tmp_path: Path, failure: int | str) -> None:
    ref, img = signed(dev_stack, registry)
    blob = _bundle_blob(ref, img)
    pol = policy(tmp_path, dev_stack)
    repo_path = ref.split("/", 1)[1]
    with failing_proxy(registry.url, lambda method, path: failure if blob in path else None) as host:
        out = run(["--json", "verify", f"{host}/{repo_path}:v1", "--policy", pol, "--retries", "0"],
                  env=env(dev_stack), allowed=(3,))
        assert out.doc["kind"] == "could not check" and host in json.dumps(out.doc), out.doc
        dst = f"{host}/hostile/prod{next(_n)}:v1"
        promoted = run(["--json", "promote", f"{host}/{repo_path}:v1", dst, "--policy", pol, "--no-vsa",
                        "--retries", "0"], env=env(dev_stack), allowed=(3,))
        assert promoted.doc["ok"] is False


def test_a_referrers_listing_that_fails_is_exit_3_everywhere(dev_stack: DevStack, registry: Registry,
                                                             tmp_path: Path) -> None:
    ref, img = signed(dev_stack, registry)
    pol = policy(tmp_path, dev_stack)
    repo_path = ref.split("/", 1)[1]
    tag = fallback_tag(img.digest)
    with failing_proxy(registry.url, lambda method, path: 503 if tag in path else None) as host:
        out = run(["--json", "verify", f"{host}/{repo_path}:v1", "--policy", pol, "--retries", "0"],
                  env=env(dev_stack), allowed=(3,))
        assert "503" in json.dumps(out.doc)
        copied = run(["--json", "copy", "--referrers", "--retries", "0", f"{host}/{repo_path}:v1",
                      f"oci:{tmp_path / 'copy'}"], allowed=(3,))
        assert tag in json.dumps(copied.doc) or "503" in json.dumps(copied.doc)
    # and without the failure the same copy takes the signature along
    fine = run(["--json", "copy", "--referrers", ref + ":v1", f"oci:{tmp_path / 'copy2'}"])
    assert fine.code == 0 and fine.doc["referrers_copied"] == 1, fine.doc


def test_more_junk_than_max_bundles_does_not_use_up_the_budget(dev_stack: DevStack,
                                                               referrers_registry: Registry,
                                                               tmp_path: Path) -> None:
    """limits.maxBundles (64 by default) bounds the costly verification; garbage is not counted."""
    ref, img = signed(dev_stack, referrers_registry)
    store = open_store(ref)
    for n in range(70):
        attach_bundle(store, img, f"garbage {n}".encode(), SIGNATURE)
    out = run(["--json", "verify", ref + ":v1", "--policy", policy(tmp_path, dev_stack)], env=env(dev_stack))
    assert out.code == 0, out.stderr
    assert len(out.doc["rejected"]) == 70 and {r["stage"] for r in out.doc["rejected"]} == {"bundle"}
