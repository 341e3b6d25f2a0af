"""The registry layer against real registries: distribution 2.8 (no referrers API, and with
htpasswd auth) and go-containerregistry's registry with the OCI 1.1 referrers API."""

from __future__ import annotations

import base64
import json
import os
import uuid
from pathlib import Path

import pytest

from supplychain.errors import ImageError, RegistryError
from supplychain.image.descriptor import Descriptor, MediaType, canonical_json, compute_digest
from supplychain.image.reference import parse_image_ref
from supplychain.registry import RegistryAuthError, RegistryNotFound, RegistryOptions, open_repository
from supplychain.registry.referrers import fallback_listed, fallback_tag

from .images import SBOM_TYPE, SIG_TYPE, image_manifest, multi_platform, referrer, summary

FAST = RegistryOptions(backoff_base=0.01, max_retries=2)


def repo_name() -> str:
    return f"team/app-{uuid.uuid4().hex[:8]}"


def open_repo(reg, name: str | None = None, options: RegistryOptions = FAST):
    return open_repository(parse_image_ref(reg.ref(name or repo_name())), options)


def test_push_pull_by_tag_and_digest(any_registry) -> None:
    repo = open_repo(any_registry)
    pushed = image_manifest(repo, tag="v1")
    data, media_type, digest = repo.read_manifest("v1")
    assert (data, media_type, digest) == (pushed.data, MediaType.OCI_MANIFEST, pushed.digest)
    assert repo.read_manifest(pushed.digest) == (pushed.data, MediaType.OCI_MANIFEST, pushed.digest)
    desc = repo.resolve("v1")
    assert (desc.digest, desc.size) == (pushed.digest, len(pushed.data))
    assert desc.media_type == MediaType.OCI_MANIFEST
    for blob in pushed.blobs:
        assert repo.has_blob(blob.digest)
        assert compute_digest(repo.read_blob(blob)) == blob.digest
        assert b"".join(repo.iter_blob(blob, 1000)) == repo.read_blob(blob)
    assert not repo.has_blob("sha256:" + "1" * 64)
    assert repo.has_manifest(pushed.digest)
    with pytest.raises(RegistryNotFound) as info:
        repo.read_manifest("missing")
    text = info.value.diagnostics()
    assert any_registry.host in text and repo.repository in text and "404" in text
    assert "MANIFEST_UNKNOWN" in text or "NAME_UNKNOWN" in text


def test_index_push_pull(any_registry) -> None:
    repo = open_repo(any_registry)
    index, children = multi_platform(repo, tag="multi")
    _, media_type, digest = repo.read_manifest("multi")
    assert (media_type, digest) == (MediaType.OCI_INDEX, index.digest)
    for child in children:
        assert repo.read_manifest(child.digest)[2] == child.digest


def test_chunked_upload_and_refusal_of_a_lying_stream(any_registry) -> None:
    options = RegistryOptions(monolithic_max=0, chunk_size=1000, backoff_base=0.01)
    repo = open_repo(any_registry, options=options)
    data = os.urandom(4321)
    desc = Descriptor.for_bytes(MediaType.OCI_LAYER_GZIP, data)
    repo.write_blob_chunks(desc, (data[i:i + 700] for i in range(0, len(data), 700)))
    assert repo.read_blob(desc) == data
    other = os.urandom(4321)
    claimed = Descriptor.for_bytes(MediaType.OCI_LAYER_GZIP, os.urandom(4321))
    with pytest.raises(ImageError, match="does not match"):
        repo.write_blob_chunks(claimed, iter([other[:2000], other[2000:]]))
    assert not repo.has_blob(claimed.digest)
    with pytest.raises(ImageError, match="larger than its descriptor"):
        repo.write_blob_chunks(claimed, iter([other, b"x"]))


def test_tag_listing_paginates(any_registry) -> None:
    repo = open_repo(any_registry)
    pushed = image_manifest(repo, tag="t0")
    tags = [f"t{i}" for i in range(7)]
    for tag in tags[1:]:
        repo.write_manifest(pushed.data, pushed.media_type, tag=tag)
    assert repo.list_tags(page_size=2) == sorted(tags)
    assert repo.list_tags() == sorted(tags)


def test_bounded_tag_listing(registry) -> None:
    repo = open_repo(registry)
    pushed = image_manifest(repo, tag="a")
    for tag in ("b", "c", "d"):
        repo.write_manifest(pushed.data, pushed.media_type, tag=tag)
    bounded = open_repository(parse_image_ref(repo.describe()), RegistryOptions(max_tags=2))
    with pytest.raises(RegistryError, match="more than 2 tags"):
        bounded.list_tags(page_size=1)


def _referrer_setup(reg):
    repo = open_repo(reg, "signed/app")
    subject = image_manifest(repo, tag="v1", seed=b"same-subject-seed")
    sig = referrer(repo, subject, payload=b'{"bundle":1}',
                   annotations={"dev.sccheck.kind": "signature"})
    sbom = referrer(repo, subject, artifact_type=SBOM_TYPE, payload=b'{"bomFormat":"CycloneDX"}',
                    annotations={"dev.sccheck.kind": "sbom"})
    referrer(repo, subject, payload=b'{"bundle":1}', annotations={"dev.sccheck.kind": "signature"})
    return repo, subject, sig, sbom


def test_referrers_api_and_fallback_give_identical_results(registry, referrers_registry) -> None:
    plain, subject, sig, sbom = _referrer_setup(registry)
    api, subject2, _, _ = _referrer_setup(referrers_registry)
    assert subject.digest == subject2.digest
    assert not plain.supports_referrers_api()
    assert api.supports_referrers_api()
    via_fallback = plain.referrers(subject.digest)
    via_api = api.referrers(subject.digest)
    assert summary(via_fallback) == summary(via_api)
    assert sorted(d.digest for d in via_api) == sorted([sig.digest, sbom.digest])
    by_digest = {d.digest: d for d in via_api}
    assert by_digest[sig.digest].artifact_type == SIG_TYPE
    assert by_digest[sig.digest].annotations == {"dev.sccheck.kind": "signature"}
    assert by_digest[sbom.digest].artifact_type == SBOM_TYPE
    only_sbom = [d.digest for d in plain.referrers(subject.digest, SBOM_TYPE)]
    assert only_sbom == [d.digest for d in api.referrers(subject.digest, SBOM_TYPE)] == [sbom.digest]
    # The fallback tag exists only where the registry has no API; it lists each referrer once.
    index = json.loads(plain.read_manifest(fallback_tag(subject.digest))[0])
    assert sorted(m["digest"] for m in index["manifests"]) == sorted([sig.digest, sbom.digest])
    assert fallback_tag(subject.digest) not in api.list_tags()
    assert plain.referrers("sha256:" + "2" * 64) == api.referrers("sha256:" + "2" * 64) == []


def test_basic_auth_success_and_wrong_password(auth_registry) -> None:
    good = RegistryOptions(auth=(auth_registry.credential(),), backoff_base=0.01)
    repo = open_repo(auth_registry, options=good)
    pushed = image_manifest(repo, tag="v1")
    assert repo.read_manifest("v1")[2] == pushed.digest
    bad = RegistryOptions(auth=(auth_registry.credential("wrong-password-xyz"),), backoff_base=0.01)
    with pytest.raises(RegistryAuthError) as info:
        open_repository(parse_image_ref(repo.describe()), bad).read_manifest("v1")
    text = info.value.diagnostics() + json.dumps(info.value.to_dict())
    assert "401" in text and auth_registry.host in text and "UNAUTHORIZED" in text
    assert "wrong-password-xyz" not in text and auth_registry.password not in text
    with pytest.raises(RegistryAuthError):
        open_repository(parse_image_ref(repo.describe()),
                        RegistryOptions(docker_config="/nonexistent/config.json")).read_manifest("v1")


def test_docker_config_and_credential_helper(auth_registry, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SCCHECK_REGISTRY_USERNAME", raising=False)
    monkeypatch.delenv("SCCHECK_REGISTRY_PASSWORD", raising=False)
    auth = base64.b64encode(f"{auth_registry.username}:{auth_registry.password}".encode()).decode()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {f"http://{auth_registry.host}": {"auth": auth}}}))
    repo = open_repo(auth_registry, options=RegistryOptions(docker_config=str(config)))
    image_manifest(repo, tag="cfg")
    assert repo.list_tags() == ["cfg"]
    # A credential helper answers for the host on stdin.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    helper = bindir / "docker-credential-sccheck-test"
    helper.write_text("#!/bin/sh\nread host\n"
                      f"[ \"$host\" = \"{auth_registry.host}\" ] || exit 1\n"
                      f"echo '{{\"ServerURL\":\"'$host'\",\"Username\":\"{auth_registry.username}\","
                      f"\"Secret\":\"{auth_registry.password}\"}}'\n")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    config2 = tmp_path / "config2.json"
    config2.write_text(json.dumps({"credHelpers": {auth_registry.host: "sccheck-test"}}))
    repo2 = open_repository(parse_image_ref(repo.describe()), RegistryOptions(docker_config=str(config2)))
    assert repo2.read_manifest("cfg")[2] == repo.read_manifest("cfg")[2]


def test_env_credentials(auth_registry, monkeypatch) -> None:
    monkeypatch.setenv("SCCHECK_REGISTRY_HOST", auth_registry.host)
    monkeypatch.setenv("SCCHECK_REGISTRY_USERNAME", auth_registry.username)
    monkeypatch.setenv("SCCHECK_REGISTRY_PASSWORD", auth_registry.password)
    repo = open_repo(auth_registry, options=RegistryOptions(docker_config="/nonexistent", max_retries=1))
    assert image_manifest(repo, tag="env").digest == repo.resolve("env").digest


def test_held_index_entries_are_listed_by_the_next_merge(registry) -> None:
    """Entries held back (`index_referrers(defer=True)`) are in this process's listing at once,
    not in the registry's index; the next merge of the subject's index writes them with its own
    entry in ONE write, read back; a merge that fails holds them again; `flush_index` lists the
    rest and counts what was held and added."""
    from tests.helpers.faultproxy import FaultProxy

    proxy = FaultProxy(registry.host)
    try:
        repo = open_repository(parse_image_ref(f"{proxy.host}/{repo_name()}"),
                               RegistryOptions(backoff_base=0.01, max_retries=0))
        subject, other = image_manifest(repo), image_manifest(repo, layer_sizes=(700,))
        stored = [referrer(repo, s) for s in (subject, subject, other)]   # each one indexed, then
        empty = canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX, "manifests": []})
        for d in (subject.digest, other.digest):                           # the indexes emptied
            repo.write_manifest(empty, MediaType.OCI_INDEX, tag=fallback_tag(d))
        held = {d: repo.resolve(d) for d in (p.digest for p in stored)}
        repo.index_referrers(subject.digest, [held[stored[0].digest], held[stored[1].digest]], defer=True)
        repo.index_referrers(other.digest, [held[stored[2].digest]], defer=True)
        assert {d.digest for d in repo.referrers(subject.digest)} == {stored[0].digest, stored[1].digest}
        assert fallback_listed(repo, subject.digest) == set()   # not in the registry's index yet

        proxy.fail("fallback", nth=1, times=1)
        with pytest.raises(RegistryError):
            referrer(repo, subject)                         # its merge fails: the held entries stay held
        assert {d.digest for d in repo.referrers(subject.digest)} >= {stored[0].digest, stored[1].digest}
        proxy.clear()
        proxy.reset()
        last = referrer(repo, subject)
        writes = [entry for entry in proxy.log if entry[0] == "fallback"]
        assert len(writes) == 1, proxy.log                  # one write lists the held entries and its own
        assert fallback_listed(repo, subject.digest) >= {stored[0].digest, stored[1].digest, last.digest}
        assert fallback_listed(repo, other.digest) == set()
        assert repo.flush_index() == 3                      # 2 taken along by the merge, 1 flushed now
        assert fallback_listed(repo, other.digest) == {stored[2].digest}
        assert repo.flush_index() == 0
    finally:
        proxy.stop()
