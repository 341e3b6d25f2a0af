"""Concurrent writers of referrers to one image on distribution 2.8 (no referrers API): every
entry each writer added stays in the `sha256-<hex>` fallback index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from supplychain.registry.referrers import fallback_listed
from supplychain.signing.keys import generate_key_pair
from supplychain.stores import open_store
from tests.conftest import ROOT
from tests.helpers.registries import Registry
from tests.signing.images import push_tiny_image, push_tiny_index

PASSWORD = "concurrent-writers-only"  # a test key's password


def _start(argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def test_concurrent_attest_processes_all_indexed(registry: Registry, tmp_path: Path) -> None:
    """N `sccheck attest` processes at once on one index: each writes one referrer to the index
    and one to each platform manifest; every fallback index lists all N of its subject's."""
    generate_key_pair(tmp_path / "k", PASSWORD)
    ref = registry.ref("conc/attest", "v1")
    index, children = push_tiny_index(open_store(ref), "v1", text="concurrent-attest")
    n = 6
    procs = []
    for i in range(n):
        pred = tmp_path / f"p{i}.json"
        pred.write_text(json.dumps({"writer": i}))
        procs.append(_start([sys.executable, "-m", "supplychain", "--json", "attest", f"{ref}",
                             "--type", "https://example.com/concurrent/v1", "--predicate", str(pred),
                             "--key", str(tmp_path / "k.key")], {"SCCHECK_KEY_PASSWORD": PASSWORD}))
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-800:] for o in outs]
    written: dict[str, set[str]] = {}
    for out, _ in outs:
        result = json.loads(out)
        for subject, referrer in zip(result["subjects"], result["referrers"], strict=True):
            written.setdefault(subject, set()).add(referrer)
    repo = open_store(ref)
    assert set(written) == {index.digest, *(c.digest for c in children)}
    for subject, referrers in written.items():
        assert len(referrers) == n
        assert referrers <= fallback_listed(repo, subject), subject   # type: ignore[arg-type]
        assert {d.digest for d in repo.referrers(subject)} >= referrers


WRITER = textwrap.dedent("""\
    import sys
    from supplychain.image.descriptor import Descriptor
    from supplychain.stores import open_store
    from supplychain.signing.storage import attach_bundle
    ref, digest, size, me = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    store = open_store(ref)
    subject = Descriptor("application/vnd.oci.image.manifest.v1+json", digest, size)
    for i in range(8):   # eight evidence bundles, as one build-and-sign run attaches
        print(attach_bundle(store, subject, f'{{"writer": "{me}", "n": {i}}}'.encode(),
                            f"https://example.com/step/{i}"))
    """)


def test_four_build_and_sign_like_writers_lose_no_referrer(registry: Registry) -> None:
    """Four processes attach eight referrers each to one (reproducible, so shared) image."""
    ref = registry.ref("conc/build", "v1")
    image = push_tiny_image(open_store(ref), "v1", text="same-build")
    procs = [_start([sys.executable, "-c", WRITER, ref, image.digest, str(image.size), f"w{i}"])
             for i in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-800:] for o in outs]
    written = {line for out, _ in outs for line in out.split()}
    assert len(written) == 32
    repo = open_store(ref)
    listed = fallback_listed(repo, image.digest)   # type: ignore[arg-type]
    assert written - listed == set()
    assert len(listed) == 32
