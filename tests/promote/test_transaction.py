"""Promotion as a transaction, on both registries, through a fault-injecting proxy: a failure on
each kind of write, interruptions (SIGINT, SIGKILL) at chosen points, and two promotions racing
for one tag. After every failure a clean rerun must complete the promotion, with exactly one
verification summary (VSA) and every referrer listed where clients look."""

# ruff: noqa: E501
from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from supplychain.policy import model as m
from supplychain.policy import parse_policy
from supplychain.promote import PromoteResult, VsaSigning, promote
from supplychain.registry import RegistryOptions
from supplychain.registry.referrers import fallback_listed
from supplychain.signing.api import sign_image
from supplychain.stores import open_store
from supplychain.verify import verify_image
from tests.conftest import ROOT
from tests.helpers.devstack import DevStack
from tests.helpers.faultproxy import FaultProxy
from tests.helpers.registries import Registry
from tests.policy.test_promote_stack import gate, signed_index, tag_of
from tests.signing.images import push_tiny_image

pytestmark = pytest.mark.sigstore
_n = itertools.count()
_sources: dict[str, tuple[str, str]] = {}


@pytest.fixture
def proxy(any_registry: Registry) -> Iterator[FaultProxy]:
    p = FaultProxy(any_registry.host)
    yield p
    p.stop()


def source(stack: DevStack, reg: Registry) -> tuple[str, str]:
    """One signed and attested index per registry (promoted to many destinations)."""
    if reg.host not in _sources:
        ref = reg.ref("staging/tx", "v1")
        _sources[reg.host] = (ref, signed_index(stack, ref))
    return _sources[reg.host]


def via(proxy: FaultProxy, ref: str) -> str:
    return proxy.host + ref[ref.index("/"):]


def summaries(stack: DevStack, dst: str, digest: str) -> list[m.VerifiedStatement] | list:  # type: ignore[type-arg]
    report = verify_image(dst, gate(stack), trust_config=str(stack.trust_config))
    assert report.passed, report.to_dict()
    return [s for s in report.statements if s.predicate_type == m.PREDICATE_VSA and s.attached_to == digest]


def assert_complete(stack: DevStack, reg: Registry, src: str, dst: str, digest: str) -> None:
    """The tag names the digest, the destination verifies on its own, one VSA on the index, and
    (without the API) the fallback index of each subject lists every referrer the source has."""
    assert tag_of(dst, "v1") == digest
    assert len(summaries(stack, dst, digest)) == 1, "not exactly one verification summary"
    if not reg.referrers_api:
        s, d = open_store(src), open_store(dst)
        for subject in [digest, *(c["digest"] for c in json.loads(s.read_manifest(digest)[0])["manifests"])]:
            assert {r.digest for r in s.referrers(subject)} <= fallback_listed(d, subject)  # type: ignore[arg-type]


KINDS = ["blob", "manifest", "referrer", "fallback", "tag", "vsa"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_failed_write_then_a_clean_rerun_completes(kind: str, dev_stack: DevStack, any_registry: Registry,
                                                     proxy: FaultProxy) -> None:
    src, digest = source(dev_stack, any_registry)
    dst = any_registry.ref(f"prod/fault-{kind}{next(_n)}", "v1")
    # Where the registry has the API, the fallback index is written with --referrers-mode both.
    mode = "both" if kind == "fallback" and any_registry.referrers_api else "auto"
    proxy.fail(kind, nth=1, times=1000)
    tc = str(dev_stack.trust_config)
    try:
        first: PromoteResult | Exception = promote(
            via(proxy, src), via(proxy, dst), gate(dev_stack), trust_config=tc,
            vsa=VsaSigning(identity_token=dev_stack.mint_token()),
            registry_options=RegistryOptions(max_retries=0, referrers_mode=mode))
    except Exception as exc:  # the failure surfaces as an error ...
        first = exc
    assert proxy.failures() >= 1, f"no {kind} write happened"
    assert isinstance(first, Exception) or not first.ok, first.to_dict()  # ... or a refusal: never success
    assert tag_of(dst, "v1") is None           # the tag was not moved to something incomplete
    proxy.clear()
    again = promote(via(proxy, src), via(proxy, dst), gate(dev_stack), trust_config=tc,
                    vsa=VsaSigning(identity_token=dev_stack.mint_token()),
                    registry_options=RegistryOptions(referrers_mode=mode))
    assert again.status == "promoted", again.to_dict()
    if kind == "fallback":     # referrers stored by the failed run, never listed: indexed now
        assert again.copied["referrers_indexed"] >= 2, again.copied
    if kind == "tag":          # the failed run's summary is complete and valid: reused, and said
        assert again.vsa_reused and "reused the verification summary" in again.message, again.message
    assert_complete(dev_stack, any_registry, src, dst, digest)


POLICY = """\
apiVersion: sccheck.dev/v1
kind: Policy
name: prod-gate
identities:
  - issuer: '{issuer}'
    subject: '{identity}'
signature: {{}}
attestations:
  provenance:
    builderId: https://sccheck.dev/builder/v1
"""


def test_interrupted_at_random_points_then_a_rerun_completes(dev_stack: DevStack, any_registry: Registry,
                                                             proxy: FaultProxy, tmp_path: Path) -> None:
    """SIGINT and SIGKILL of a `sccheck promote` process at requests chosen at random (seeded)
    along a clean run's length; every rerun completes with one VSA."""
    src, digest = source(dev_stack, any_registry)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(issuer=dev_stack.issuer, identity=dev_stack.identity))
    env = {**os.environ, "PYTHONPATH": str(ROOT), **dev_stack.env()}

    def start(dst: str) -> subprocess.Popen[str]:
        token = tmp_path / f"token-{next(_n)}"
        token.write_text(dev_stack.mint_token())
        return subprocess.Popen([sys.executable, "-m", "supplychain", "--json", "promote", via(proxy, src),
                                 via(proxy, dst), "--policy", str(policy), "--trust-config",
                                 str(dev_stack.trust_config), "--identity-token", f"@{token}"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    proxy.reset()
    clean = start(any_registry.ref(f"prod/int-clean{next(_n)}", "v1"))
    _, err = clean.communicate(timeout=300)
    assert clean.returncode == 0, err[-2000:]
    total = proxy.reset().requests
    rng = random.Random(f"interrupt-{any_registry.kind}")  # a repeatable choice of points
    for i, sig in enumerate([signal.SIGINT, signal.SIGKILL, signal.SIGINT, signal.SIGKILL]):
        dst = any_registry.ref(f"prod/int{next(_n)}", "v1")
        point = rng.randint(2, total - 1)
        proc = start(dst)
        proxy.at_request(point, lambda p=proc, s=sig: p.send_signal(s))  # type: ignore[misc]
        proc.communicate(timeout=300)
        proxy.clear()
        proxy.reset()
        assert proc.returncode != 0 or tag_of(dst, "v1") == digest, (i, point)
        again = promote(via(proxy, src), via(proxy, dst), gate(dev_stack), trust_config=str(dev_stack.trust_config),
                        vsa=VsaSigning(identity_token=dev_stack.mint_token()))   # the same names as the first run
        assert again.status in ("promoted", "unchanged"), (point, sig, again.to_dict())
        assert_complete(dev_stack, any_registry, src, dst, digest)


def _signed_image(stack: DevStack, ref: str, text: str) -> str:
    digest = push_tiny_image(open_store(ref), "v1", text=text).digest
    sign_image(ref, trust_config=str(stack.trust_config), identity_token=stack.mint_token())
    return digest


def test_two_promotions_to_one_tag_never_both_succeed(dev_stack: DevStack, any_registry: Registry) -> None:
    """Two promotions of different digests to one tag, started together, 20 times: exactly one
    reports success, the tag names its digest, and the other names the winner."""
    policy = parse_policy(textwrap.dedent(f"""\
        apiVersion: sccheck.dev/v1
        kind: Policy
        name: race
        identities:
          - issuer: '{dev_stack.issuer}'
            subject: '{dev_stack.identity}'
        signature: {{}}
        """).encode())
    n = next(_n)
    sources = [any_registry.ref(f"staging/race{n}-{i}", "v1") for i in range(2)]
    digests = [_signed_image(dev_stack, s, f"racer-{n}-{i}") for i, s in enumerate(sources)]
    tc = str(dev_stack.trust_config)
    for round_ in range(20):
        dst = any_registry.ref(f"prod/race{n}-{round_}", "v1")
        results: list[PromoteResult | None] = [None, None]
        barrier = threading.Barrier(2)

        def run(i: int, dst: str = dst, barrier: threading.Barrier = barrier,
                results: list[PromoteResult | None] = results) -> None:
            barrier.wait()
            results[i] = promote(sources[i], dst, policy, trust_config=tc, vsa=VsaSigning(enabled=False))

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert all(r is not None for r in results)
        ok = [r for r in results if r is not None and r.ok]
        assert len(ok) == 1, (round_, [r.to_dict()["message"] for r in results if r])
        winner = ok[0].digest
        assert tag_of(dst, "v1") == winner
        (loser,) = [r for r in results if r is not None and not r.ok]
        assert loser.status == "refused" and winner in loser.message, loser.message
        assert loser.digest == digests[1 - digests.index(winner)]
