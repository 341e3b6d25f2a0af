"""The children of an index against `sign`, `verify` and `promote`, on both referrer storage modes
(the OCI 1.1 referrers API, and the `sha256-<hex>` tag fallback), with the real dev-stack.

The index under test holds what real registries hold: platform children, a child with no
platform in its descriptor (runnable: judged on its own), a BuildKit attestation manifest
(`unknown/unknown`: never runnable), and a child with a real platform that carries the
`vnd.docker.reference.type` annotation (still runnable)."""

# ruff: noqa: E501
from __future__ import annotations

import itertools
import textwrap

import pytest

from supplychain.errors import ImageNotFound
from supplychain.image.descriptor import Descriptor, MediaType, canonical_json
from supplychain.image.store import ContentStore
from supplychain.policy import model as m
from supplychain.policy import parse_policy
from supplychain.policy.evaluate import FAIL, PASS
from supplychain.promote import VsaSigning, promote
from supplychain.signing.api import attest_image, sign_image
from supplychain.stores import open_store
from supplychain.verify import verify_image
from tests.helpers.devstack import DevStack
from tests.helpers.registries import Registry
from tests.policy.crafting import PROVENANCE, SBOM, attach, keyless_bundle
from tests.signing.images import push_tiny_image

pytestmark = pytest.mark.sigstore
_n = itertools.count()
UNKNOWN = {"os": "unknown", "architecture": "unknown"}


def gate(stack: DevStack) -> m.Policy:
    return parse_policy(textwrap.dedent(f"""\
        apiVersion: sccheck.dev/v1
        kind: Policy
        name: children
        identities:
          - issuer: '{stack.issuer}'
            subject: '{stack.identity}'
        signature: {{}}
        attestations:
          provenance:
            builderId: https://sccheck.dev/builder/v1
          sbom: {{}}
        """).encode())


def push_index(store: ContentStore, tag: str, entries: list[Descriptor]) -> Descriptor:
    data = canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX,
                           "manifests": [e.to_dict() for e in entries]})
    digest = store.write_manifest(data, MediaType.OCI_INDEX, tag)
    return Descriptor(MediaType.OCI_INDEX, digest, len(data))


def mixed_children(store: ContentStore, text: str) -> dict[str, Descriptor]:
    amd = push_tiny_image(store, None, f"{text}-amd64", "amd64")
    arm = push_tiny_image(store, None, f"{text}-arm64", "arm64")
    arm = Descriptor(arm.media_type, arm.digest, arm.size,
                     {"vnd.docker.reference.type": "attestation-manifest"}, arm.platform)
    bare = push_tiny_image(store, None, f"{text}-s390x", "s390x")
    bare = Descriptor(bare.media_type, bare.digest, bare.size)          # no platform: read its config
    att = push_tiny_image(store, None, f"{text}-attestation", "amd64")
    att = Descriptor(att.media_type, att.digest, att.size,
                     {"vnd.docker.reference.type": "attestation-manifest",
                      "vnd.docker.reference.digest": amd.digest}, UNKNOWN)
    return {"amd": amd, "arm": arm, "bare": bare, "att": att}


def sign_everything(stack: DevStack, ref: str, platforms: tuple[str, ...]) -> None:
    tc = str(stack.trust_config)
    sign_image(ref, trust_config=tc, identity_token=stack.mint_token())
    attest_image(ref, m.PREDICATE_SLSA, PROVENANCE, trust_config=tc, identity_token=stack.mint_token())
    for platform in platforms:
        attest_image(ref, m.PREDICATE_SBOM, SBOM, platform=platform, trust_config=tc,
                     identity_token=stack.mint_token())


def referrer_count(store: ContentStore, digest: str) -> int:
    return len(store.referrers(digest, MediaType.SIGSTORE_BUNDLE))


def test_sign_and_verify_judge_exactly_the_runnable_children(sigstore_stack: DevStack,
                                                           any_registry: Registry) -> None:
    ref = any_registry.ref(f"children/mixed{next(_n)}")
    store = open_store(ref)
    kids = mixed_children(store, f"mixed{next(_n)}")
    index = push_index(store, "v1", list(kids.values()))
    sign_everything(sigstore_stack, ref + ":v1", ("linux/amd64", "linux/arm64", "linux/s390x"))
    # Signature + provenance on the index and on each runnable child; one SBOM per platform on
    # the index and on its own child; nothing on the attestation manifest.
    assert referrer_count(store, index.digest) == 2 + 3
    for key in ("amd", "arm", "bare"):
        assert referrer_count(store, kids[key].digest) == 2 + 1, key
    assert referrer_count(store, kids["att"].digest) == 0
    report = verify_image(ref + ":v1", gate(sigstore_stack), trust_config=str(sigstore_stack.trust_config))
    assert report.passed, report.to_dict()
    platforms = {s.attached_to for s in report.statements if s.predicate_type == m.PREDICATE_SBOM}
    assert platforms == {index.digest, kids["amd"].digest, kids["arm"].digest, kids["bare"].digest}
    sbom = next(r for r in report.results if r.rule == "sbom")
    assert f"linux/s390x {kids['bare'].digest}" in sbom.expected


def test_an_unsigned_platform_less_child_fails_verify_and_promote(sigstore_stack: DevStack,
                                                                 any_registry: Registry) -> None:
    ref = any_registry.ref(f"children/bare{next(_n)}")
    store = open_store(ref)
    kids = mixed_children(store, f"bare{next(_n)}")
    index = push_index(store, "v1", [kids["amd"], kids["bare"]])
    # Evidence made by a signer that skips children without a platform: index + amd64 only.
    for ptype, predicate in ((m.PREDICATE_SIGNATURE, {}), (m.PREDICATE_SLSA, PROVENANCE), (m.PREDICATE_SBOM, SBOM)):
        bundle = keyless_bundle(sigstore_stack, [index.digest, kids["amd"].digest], ptype, predicate)
        attach(store, index, bundle, ptype)
        attach(store, kids["amd"], bundle, ptype)
    policy = gate(sigstore_stack)
    report = verify_image(ref + ":v1", policy, trust_config=str(sigstore_stack.trust_config))
    results = {r.rule: r for r in report.results}
    label = f"linux/s390x {kids['bare'].digest}"
    assert results["signature"].status == FAIL
    assert results["signature"].details == (f"no verified signature for {label}",)
    assert results["provenance"].status == FAIL
    assert f"no verified attestation of type {m.PREDICATE_SLSA} attached to {label}" in results["provenance"].details
    assert results["sbom"].status == FAIL
    dst = any_registry.ref(f"children/prod{next(_n)}:v1")
    outcome = promote(ref + ":v1", dst, policy, trust_config=str(sigstore_stack.trust_config),
                      vsa=VsaSigning(enabled=False))
    assert outcome.status == "refused" and "signature" in outcome.message
    with pytest.raises(ImageNotFound):
        open_store(dst).resolve("v1")


def test_an_index_that_gains_an_unsigned_child_fails_verify_and_promote(sigstore_stack: DevStack,
                                                                       any_registry: Registry) -> None:
    ref = any_registry.ref(f"children/grown{next(_n)}")
    store = open_store(ref)
    kids = mixed_children(store, f"grown{next(_n)}")
    first = push_index(store, "v1", [kids["amd"], kids["arm"]])
    sign_everything(sigstore_stack, ref + ":v1", ("linux/amd64", "linux/arm64"))
    policy = gate(sigstore_stack)
    tc = str(sigstore_stack.trust_config)
    assert verify_image(ref + ":v1", policy, trust_config=tc).passed
    # The same two children and one more; the new index is signed on its own (as `cosign sign`
    # without --recursive does): the new child has no evidence of its own.
    grown = push_index(store, "v2", [kids["amd"], kids["arm"], kids["bare"]])
    assert grown.digest != first.digest
    bundle = keyless_bundle(sigstore_stack, [grown.digest], m.PREDICATE_SIGNATURE)
    attach(store, grown, bundle, m.PREDICATE_SIGNATURE)
    report = verify_image(ref + ":v2", policy, trust_config=tc)
    results = {r.rule: r for r in report.results}
    label = f"linux/s390x {kids['bare'].digest}"
    assert [(r.rule, r.status) for r in report.results] == [("signature", FAIL), ("provenance", FAIL), ("sbom", FAIL)]
    assert results["signature"].details == (f"no verified signature for {label}",)
    assert results["sbom"].details == (f"no verified SBOM for {label}",)
    assert f"no verified attestation of type {m.PREDICATE_SLSA} attached to {label}" in results["provenance"].details
    dst = any_registry.ref(f"children/prod{next(_n)}:v2")
    outcome = promote(ref + ":v2", dst, policy, trust_config=tc, vsa=VsaSigning(enabled=False))
    assert outcome.status == "refused"
    assert outcome.source_report is not None and not outcome.source_report.passed
    # The first index still passes: its evidence was never about the new child.
    assert {r.rule: r.status for r in verify_image(ref + ":v1", policy, trust_config=tc).results} == {
        "signature": PASS, "provenance": PASS, "sbom": PASS}
