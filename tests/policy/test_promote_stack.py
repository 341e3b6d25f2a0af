"""`promote` on real registries and the real dev-stack: the gate ships only what verifies."""

# ruff: noqa: E501
from __future__ import annotations

import itertools
import json
import textwrap
from pathlib import Path

import pytest

from supplychain.policy import model as m
from supplychain.policy import parse_policy
from supplychain.promote import BatchItem, VsaSigning, promote, promote_batch
from supplychain.registry.transport import RegistryNotFound
from supplychain.signing.api import attest_image, sign_image
from supplychain.stores import open_store
from supplychain.verify import verify_image
from tests.helpers.devstack import DevStack
from tests.helpers.registries import Registry
from tests.policy.crafting import PROVENANCE
from tests.signing.images import push_tiny_image, push_tiny_index

pytestmark = pytest.mark.sigstore
_n = itertools.count()


def gate(stack: DevStack) -> m.Policy:
    return parse_policy(textwrap.dedent(f"""\
        apiVersion: sccheck.dev/v1
        kind: Policy
        name: prod-gate
        identities:
          - issuer: '{stack.issuer}'
            subject: '{stack.identity}'
        signature: {{}}
        attestations:
          provenance:
            builderId: https://sccheck.dev/builder/v1
        """).encode())


def signed_index(stack: DevStack, ref: str) -> str:
    index, _ = push_tiny_index(open_store(ref), ref.rsplit(":", 1)[1], text=f"app-{next(_n)}")
    tc = str(stack.trust_config)
    sign_image(ref, trust_config=tc, identity_token=stack.mint_token())
    attest_image(ref, m.PREDICATE_SLSA, PROVENANCE, trust_config=tc, identity_token=stack.mint_token())
    return index.digest


def vsa(stack: DevStack) -> VsaSigning:
    return VsaSigning(identity_token=stack.mint_token())


def tag_of(ref: str, tag: str) -> str | None:
    try:
        return open_store(ref).resolve(tag).digest
    except RegistryNotFound:
        return None


def test_promote_across_registries_then_again_is_a_noop(sigstore_stack: DevStack, registry: Registry,
                                                       referrers_registry: Registry) -> None:
    n = next(_n)
    src = registry.ref(f"staging/app{n}", "v1")
    dst = referrers_registry.ref(f"prod/app{n}", "v1")
    digest = signed_index(sigstore_stack, src)
    tc = str(sigstore_stack.trust_config)
    result = promote(src, dst, gate(sigstore_stack), trust_config=tc, vsa=vsa(sigstore_stack))
    assert (result.status, result.digest) == ("promoted", digest), result.to_dict()
    assert result.message == f"{dst} -> {digest}"
    assert result.copied["referrers_copied"] >= 4
    assert tag_of(dst, "v1") == digest
    # The destination carries the evidence on its own, plus a signed verification summary.
    report = verify_image(dst, gate(sigstore_stack), trust_config=tc)
    assert report.passed, report.to_dict()
    summaries = [s for s in report.statements if s.predicate_type == m.PREDICATE_VSA]
    assert len(summaries) == 3   # on the index and on each platform manifest, like every attestation
    (summary,) = [s for s in summaries if s.attached_to == digest]
    assert summary.predicate["verificationResult"] == "PASSED"
    assert summary.predicate["policy"]["digest"]["sha256"] == gate(sigstore_stack).source_digest[7:]
    assert summary.predicate["verifiedLevels"] == ["SLSA_BUILD_LEVEL_1", "SCCHECK_POLICY_PROD_GATE"]
    assert summary.predicate["resourceUri"] == f"oci://{referrers_registry.host}/prod/app{n}@{digest}"
    assert len(summary.predicate["inputAttestations"]) >= 2
    again = promote(src, dst, gate(sigstore_stack), trust_config=tc, vsa=vsa(sigstore_stack))
    assert (again.status, again.message) == ("unchanged", f"{dst} already names {digest}: nothing to do")


def test_refuses_to_move_a_tag_naming_another_image_unless_forced(sigstore_stack: DevStack, registry: Registry) -> None:
    n = next(_n)
    src, dst = registry.ref(f"staging/f{n}", "v1"), registry.ref(f"prod/f{n}", "v1")
    digest = signed_index(sigstore_stack, src)
    other = push_tiny_image(open_store(dst), "v1", text="someone else's")
    tc = str(sigstore_stack.trust_config)
    result = promote(src, dst, gate(sigstore_stack), trust_config=tc, vsa=vsa(sigstore_stack))
    assert (result.status, result.message) == ("refused", f"{dst} names another image ({other.digest}); pass --force to move it")
    assert tag_of(dst, "v1") == other.digest
    forced = promote(src, dst, gate(sigstore_stack), trust_config=tc, force=True, vsa=VsaSigning(enabled=False))
    assert (forced.status, forced.message) == ("promoted", f"{dst} -> {digest} (moved from {other.digest})")
    assert tag_of(dst, "v1") == digest


def test_source_failing_the_policy_copies_nothing(sigstore_stack: DevStack, referrers_registry: Registry) -> None:
    n = next(_n)
    src, dst = referrers_registry.ref(f"staging/u{n}", "v1"), referrers_registry.ref(f"prod/u{n}", "v1")
    push_tiny_index(open_store(src), "v1", text=f"unsigned-{n}")
    result = promote(src, dst, gate(sigstore_stack), trust_config=str(sigstore_stack.trust_config))
    assert result.status == "refused"
    assert result.message == "the source fails the policy (signature, provenance); nothing was copied"
    assert tag_of(dst, "v1") is None


class MoveTagOnCopy:
    """A progress observer that re-points the source tag when the copy starts (a racing pusher)."""

    def __init__(self, src: str) -> None:
        self.src = src
        self.moved_to: str | None = None

    def step(self, name: str, detail: str = "") -> None:
        if name == "copy" and self.moved_to is None:
            self.moved_to = push_tiny_image(open_store(self.src), "v1", text="pushed meanwhile").digest

    def done(self, name: str, detail: str = "") -> None:
        pass

    def info(self, message: str) -> None:
        pass


def test_tag_moved_between_resolve_and_copy(sigstore_stack: DevStack, registry: Registry) -> None:
    n = next(_n)
    src, dst = registry.ref(f"staging/r{n}", "v1"), registry.ref(f"prod/r{n}", "v1")
    digest = signed_index(sigstore_stack, src)
    racer = MoveTagOnCopy(src)
    result = promote(src, dst, gate(sigstore_stack), trust_config=str(sigstore_stack.trust_config),
                     vsa=VsaSigning(enabled=False), progress=racer)
    assert result.status == "refused"
    assert result.message == (f"the source tag moved during promotion (verified {digest}, now {racer.moved_to}); "
                              "the destination tag was not moved - promote again to ship the new image")
    assert tag_of(dst, "v1") is None


def test_batch_promotes_independently(sigstore_stack: DevStack, referrers_registry: Registry, tmp_path: Path) -> None:
    n = next(_n)
    good = [referrers_registry.ref(f"staging/b{n}-{i}", "v1") for i in range(2)]
    digests = [signed_index(sigstore_stack, g) for g in good]
    bad = referrers_registry.ref(f"staging/b{n}-bad", "v1")
    push_tiny_index(open_store(bad), "v1", text=f"bad-{n}")
    items = [BatchItem(s, s.replace("staging/", "prod/")) for s in [good[0], bad, good[1]]]
    result = promote_batch(items, gate(sigstore_stack), concurrency=3, trust_config=str(sigstore_stack.trust_config),
                           vsa=VsaSigning(enabled=False))
    assert result.summary() == {"total": 3, "promoted": 2, "unchanged": 0, "refused": 1, "error": 0}
    assert [r.status for r in result.results] == ["promoted", "refused", "promoted"]
    for g, d in zip(good, digests, strict=True):
        assert tag_of(g.replace("staging/", "prod/"), "v1") == d
    assert tag_of(bad.replace("staging/", "prod/"), "v1") is None
    assert json.loads(json.dumps(result.to_dict()))["ok"] is False
