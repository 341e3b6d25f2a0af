"""Signing an index on a registry without the referrers API attaches the bundle to the index
and to each platform manifest, and lists each referrer in its subject's fallback index. Each of
those merges waits (the settle interval) to read its write back; the waits of the subjects
overlap instead of adding up, and every index still lists its referrer."""

from __future__ import annotations

import uuid
from pathlib import Path

from supplychain.signing.api import sign_image
from supplychain.signing.keys import generate_key_pair
from supplychain.stores import open_store
from tests.helpers.faultproxy import FaultProxy
from tests.signing.images import push_tiny_index

PASSWORD = "test-only-password"


def test_the_subjects_fallback_indexes_are_merged_side_by_side(registry, tmp_path: Path,
                                                              monkeypatch) -> None:
    from supplychain.registry import referrers as fallback

    monkeypatch.setattr(fallback, "settle_delay", lambda cycle: 1.0)
    generate_key_pair(tmp_path / "k", PASSWORD)
    proxy = FaultProxy(registry.host)
    try:
        ref = f"{proxy.host}/sign/together-{uuid.uuid4().hex[:6]}:v1"
        index, children = push_tiny_index(open_store(ref), "v1", text=uuid.uuid4().hex)
        proxy.clear()
        proxy.log.clear()
        result = sign_image(ref, key=str(tmp_path / "k.key"), key_password=PASSWORD)
        log = list(proxy.log)
        store = open_store(ref)
        listed = {d.digest: [r.digest for r in store.referrers(d.digest)] for d in (index, *children)}
    finally:
        proxy.stop()
    assert len(result.referrers) == 3
    subjects = [d.digest for d in (index, *children)]
    assert listed == {s: [r] for s, r in zip(subjects, result.referrers, strict=True)}
    tags = {f"/manifests/sha256-{s.split(':', 1)[1]}" for s in subjects}
    writes = [i for i, (kind, _, path, _) in enumerate(log) if kind == "fallback"]
    assert len(writes) == 3 and {log[i][2][log[i][2].index("/manifests/"):] for i in writes} == tags
    read_backs = [i for i, (_, method, path, _) in enumerate(log)
                  if method == "GET" and any(path.endswith(t) for t in tags) and i > writes[0]]
    # Every index was written before any merge read its write back: the waits ran together.
    assert max(writes) < min(read_backs), log
