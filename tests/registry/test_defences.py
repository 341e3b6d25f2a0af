"""Each defence of the registry layer, proven against a registry that lies (test-only server)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import pytest

from supplychain.errors import ImageError, RegistryError
from supplychain.image.descriptor import Descriptor, MediaType, canonical_json, compute_digest
from supplychain.registry import RegistryAuthError, RegistryOptions, Repository
from supplychain.registry.options import HostCredential
from supplychain.registry.transport import parse_challenge

from .lying_server import LyingRegistry

FAST = RegistryOptions(backoff_base=0.001, backoff_max=0.01, max_retries=3)


@pytest.fixture
def liar() -> Iterator[LyingRegistry]:
    server = LyingRegistry()
    yield server
    server.close()


def manifest(extra: dict | None = None) -> bytes:
    config = Descriptor.for_bytes(MediaType.OCI_CONFIG, b"{}").to_dict()
    return canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_MANIFEST, "config": config,
                           "layers": [], **(extra or {})})


def test_wrong_digest_body_is_refused(liar: LyingRegistry) -> None:
    repo = Repository(liar.host, "lies/app", FAST)
    honest = manifest()
    digest = compute_digest(honest)
    liar.manifests[digest] = (manifest({"annotations": {"evil": "yes"}}), MediaType.OCI_MANIFEST)
    with pytest.raises(ImageError, match="does not match its digest") as info:
        repo.read_manifest(digest)
    assert digest in info.value.diagnostics()
    blob = os.urandom(100)
    desc = Descriptor.for_bytes(MediaType.OCI_LAYER_GZIP, blob)
    liar.blobs[desc.digest] = os.urandom(100)
    with pytest.raises(ImageError, match="does not match its digest"):
        repo.read_blob(desc)


def test_blob_larger_than_descriptor_is_refused(liar: LyingRegistry) -> None:
    repo = Repository(liar.host, "lies/app", FAST)
    blob = os.urandom(100)
    desc = Descriptor.for_bytes(MediaType.OCI_LAYER_GZIP, blob)
    liar.blobs[desc.digest] = blob + b"more"
    with pytest.raises(ImageError, match="wrong size"):
        repo.read_blob(desc)


def test_disagreeing_docker_content_digest_is_ignored(liar: LyingRegistry) -> None:
    repo = Repository(liar.host, "lies/app", FAST)
    data = manifest()
    liar.put_manifest("v1", data, MediaType.OCI_MANIFEST)
    liar.inject("GET", r"/manifests/v1$", 200, body=data,
                headers={"Content-Type": MediaType.OCI_MANIFEST,
                         "Docker-Content-Digest": "sha256:" + "e" * 64})
    assert repo.read_manifest("v1")[2] == compute_digest(data)


def test_wrong_media_type_is_refused(liar: LyingRegistry) -> None:
    repo = Repository(liar.host, "lies/app", FAST)
    data = manifest()
    liar.put_manifest("v1", data, MediaType.OCI_INDEX)
    with pytest.raises(ImageError, match="does not match its body"):
        repo.read_manifest("v1")
    liar.put_manifest("v2", data, "text/html")
    with pytest.raises(ImageError, match="unexpected media type"):
        repo.read_manifest("v2")
    both = canonical_json({"schemaVersion": 2, "layers": [], "manifests": []})
    liar.put_manifest("v3", both, MediaType.OCI_MANIFEST)
    with pytest.raises(ImageError, match="ambiguous"):
        repo.read_manifest("v3")


def test_oversized_manifest_is_refused(liar: LyingRegistry) -> None:
    repo = Repository(liar.host, "lies/app", RegistryOptions(max_manifest_bytes=1000, backoff_base=0.001))
    big = manifest({"annotations": {"pad": "x" * 5000}})
    liar.put_manifest("big", big, MediaType.OCI_MANIFEST)
    with pytest.raises(ImageError, match="too large"):
        repo.read_manifest("big")
    # Without a Content-Length, the cap holds while reading.
    liar.inject("GET", r"/manifests/chunked$", 200, body=big,
                headers={"Content-Type": MediaType.OCI_MANIFEST, "Content-Length": "100"})
    with pytest.raises(ImageError):
        repo.read_manifest("chunked")


def test_429_with_retry_after_then_success(liar: LyingRegistry) -> None:
    repo = Repository(liar.host, "lies/app", FAST)
    data = manifest()
    liar.put_manifest("v1", data, MediaType.OCI_MANIFEST)
    liar.inject("GET", r"/manifests/v1$", 429, headers={"Retry-After": "1"}, times=1)
    began = time.monotonic()
    assert repo.read_manifest("v1")[0] == data
    assert 0.9 <= time.monotonic() - began < 5
    assert liar.count("GET", r"/manifests/v1$") == 2


def test_retries_are_bounded_and_errors_name_everything(liar: LyingRegistry) -> None:
    repo = Repository(liar.host, "lies/app", FAST)
    body = json.dumps({"errors": [{"code": "TOOMANYREQUESTS", "message": "slow down"}]}).encode()
    liar.inject("GET", r"/manifests/v1$", 429, body=body, headers={"Retry-After": "0"}, times=100)
    with pytest.raises(RegistryError) as info:
        repo.read_manifest("v1")
    err = info.value
    assert err.facts["status"] == 429 and err.facts["code"] == "TOOMANYREQUESTS"
    assert err.facts["registry"] == liar.host and err.facts["repository"] == "lies/app"
    assert err.facts["attempts"] == 4 and liar.count("GET", r"/manifests/v1$") == 4


def test_500_mid_chunked_upload_is_retried(liar: LyingRegistry) -> None:
    options = RegistryOptions(monolithic_max=0, chunk_size=1000, backoff_base=0.001, max_retries=3)
    repo = Repository(liar.host, "lies/app", options)
    data = os.urandom(3500)
    desc = Descriptor.for_bytes(MediaType.OCI_LAYER_GZIP, data)
    liar.inject("PATCH", r"^/upload/", 500, times=1)
    repo.write_blob_chunks(desc, iter([data]))
    assert liar.blobs[desc.digest] == data
    assert liar.count("PATCH", r"^/upload/") == 5  # 4 chunks + 1 retried


def test_chunk_taken_despite_a_500_is_not_sent_twice(liar: LyingRegistry) -> None:
    options = RegistryOptions(monolithic_max=0, chunk_size=1000, backoff_base=0.001, max_retries=3)
    repo = Repository(liar.host, "lies/app", options)
    data = os.urandom(2500)
    desc = Descriptor.for_bytes(MediaType.OCI_LAYER_GZIP, data)
    liar.fail_after_patch = 1
    repo.write_blob_chunks(desc, iter([data[:1200], data[1200:]]))
    assert liar.blobs[desc.digest] == data
    assert liar.count("PATCH", r"^/upload/") == 4  # 3 chunks + 1 retry answered 416
    assert liar.count("GET", r"^/upload/") == 1  # the progress check after the 416


def test_500_mid_chunked_upload_that_persists_is_a_clear_error(liar: LyingRegistry) -> None:
    options = RegistryOptions(monolithic_max=0, chunk_size=1000, backoff_base=0.001, max_retries=2)
    repo = Repository(liar.host, "lies/app", options)
    data = os.urandom(3500)
    desc = Descriptor.for_bytes(MediaType.OCI_LAYER_GZIP, data)
    body = json.dumps({"errors": [{"code": "UNKNOWN", "message": "disk on fire"}]}).encode()
    liar.inject("PATCH", r"^/upload/", 500, body=body, times=100)
    with pytest.raises(RegistryError) as info:
        repo.write_blob_chunks(desc, iter([data]))
    text = info.value.diagnostics()
    assert "HTTP 500" in text and "UNKNOWN" in text and "disk on fire" in text and liar.host in text
    assert desc.digest not in liar.blobs and liar.uploads == {}  # the upload was cancelled


def test_too_many_referrers_are_refused(liar: LyingRegistry) -> None:
    repo = Repository(liar.host, "lies/app", RegistryOptions(max_referrers=5, backoff_base=0.001))
    subject = "sha256:" + "a" * 64
    entries = [{"mediaType": MediaType.OCI_MANIFEST, "digest": "sha256:" + f"{i:064x}", "size": 10}
               for i in range(6)]
    index = canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX, "manifests": entries})
    liar.put_manifest("sha256-" + "a" * 64, index, MediaType.OCI_INDEX)
    with pytest.raises(RegistryError, match="more than 5 referrers"):
        repo.referrers(subject)


def test_referrers_api_listing_a_stranger_leaves_it_out_and_says_why(liar: LyingRegistry) -> None:
    repo = Repository(liar.host, "lies/app", FAST)
    stranger = manifest()  # no subject
    digest = liar.put_manifest("x", stranger, MediaType.OCI_MANIFEST)
    subject = "sha256:" + "b" * 64
    index = canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX, "manifests": [
        {"mediaType": MediaType.OCI_MANIFEST, "digest": digest, "size": len(stranger)}]})
    liar.inject("GET", r"/referrers/", 200, body=index, headers={"Content-Type": MediaType.OCI_INDEX},
                times=100)
    assert repo.supports_referrers_api()
    found = repo.referrers(subject)
    assert list(found) == []
    assert [(d, "subject differs" in why) for d, why in found.rejected] == [(digest, True)]


def test_tag_pagination_follows_link(liar: LyingRegistry) -> None:
    repo = Repository(liar.host, "lies/app", FAST)
    liar.inject("GET", r"/tags/list$", 200, body=b'{"name":"lies/app","tags":["a","b"]}',
                headers={"Link": '</v2/lies/app/tags/list?n=2&last=b>; rel="next"'})
    liar.inject("GET", r"/tags/list$", 200, body=b'{"name":"lies/app","tags":["c"]}')
    assert repo.list_tags(page_size=2) == ["a", "b", "c"]
    liar.inject("GET", r"/tags/list$", 200, body=b'{"name":"lies/app","tags":["a"]}',
                headers={"Link": '</v2/lies/app/tags/list?n=1&last=a>; rel="next"'}, times=10_000)
    bounded = Repository(liar.host, "lies/other", RegistryOptions(max_pages=5))
    assert bounded.list_tags(page_size=1) == ["a"]
    assert liar.count("GET", r"/v2/lies/other/tags/list") == 1


def test_bearer_token_flow_with_scope_and_reuse() -> None:
    server = LyingRegistry(bearer=True)
    try:
        options = RegistryOptions(auth=(HostCredential(server.host, server.user, server.password),),
                                  backoff_base=0.001)
        repo = Repository(server.host, "secure/app", options)
        data = manifest()
        server.put_manifest("v1", data, MediaType.OCI_MANIFEST)
        for _ in range(3):
            assert repo.read_manifest("v1")[0] == data
        assert len(server.tokens_issued) == 1  # fetched once, reused
        assert server.token_scopes[0] == ["repository:secure/app:pull"]
        blob = os.urandom(50)
        repo.write_blob(blob)  # push scope: a second token
        assert ["repository:secure/app:pull,push"] in server.token_scopes
        bad = Repository(server.host, "secure/app",
                         RegistryOptions(auth=(HostCredential(server.host, server.user, "nope-wrong"),),
                                         backoff_base=0.001))
        with pytest.raises(RegistryError) as info:
            bad.read_manifest("v1")
        assert "refused the credentials" in info.value.message
        assert "nope-wrong" not in info.value.diagnostics()
    finally:
        server.close()


def test_basic_challenge_without_credentials_is_an_auth_error(liar: LyingRegistry) -> None:
    liar.inject("GET", r"/manifests/v1$", 401, times=10,
                headers={"WWW-Authenticate": 'Basic realm="lies"'},
                body=b'{"errors":[{"code":"UNAUTHORIZED","message":"login"}]}')
    repo = Repository(liar.host, "lies/app", RegistryOptions(docker_config="/nonexistent"))
    with pytest.raises(RegistryAuthError) as info:
        repo.read_manifest("v1")
    assert info.value.facts["status"] == 401 and f"--auth {liar.host}=USER" in (info.value.fix or "")


def test_challenge_parsing() -> None:
    challenge = parse_challenge('Bearer realm="https://auth.example/token",service="reg",'
                                'scope="repository:a/b:pull,push",error="insufficient_scope"')
    assert challenge is not None and challenge.scheme == "bearer"
    assert challenge.params == {"realm": "https://auth.example/token", "service": "reg",
                                "scope": "repository:a/b:pull,push", "error": "insufficient_scope"}
    basic = parse_challenge('Basic realm="a \\"quoted\\" realm"')
    assert basic is not None and basic.scheme == "basic" and basic.realm == 'a "quoted" realm'


@pytest.mark.parametrize("host,loopback", [
    ("localhost:5000", True), ("127.0.0.1:5000", True), ("127.8.9.10", True), ("[::1]:5000", True),
    ("localhost", True), ("registry.example.com:5000", False), ("localhost.example.com", False),
    ("10.0.0.1:5000", False), ("[2001:db8::1]:443", False), ("128.0.0.1", False),
])
def test_plain_http_only_for_loopback(host: str, loopback: bool) -> None:
    from supplychain.registry import is_loopback
    from supplychain.registry.transport import Transport

    assert is_loopback(host) is loopback
    assert Transport(host, RegistryOptions()).scheme == ("http" if loopback else "https")
    assert Transport(host, RegistryOptions(insecure=True)).scheme == "http"


def test_credentials_never_go_to_a_plain_http_token_realm() -> None:
    import requests

    from supplychain.registry.auth import Credentials, fetch_token

    challenge = parse_challenge('Bearer realm="http://auth.example.com/token",service="x"')
    assert challenge is not None
    with pytest.raises(RegistryError, match="plain-HTTP token endpoint") as info:
        fetch_token(requests.Session(), challenge, ("repository:a:pull",), Credentials("u", "secret-pw"),
                    RegistryOptions(), "registry.example.com", True)
    assert "secret-pw" not in info.value.diagnostics()


def test_options_repr_hides_the_password() -> None:
    assert "hunter2" not in repr(RegistryOptions(auth=(HostCredential("h", "u", "hunter2"),)))


def test_tls_with_a_custom_ca(tmp_path) -> None:
    from .certs import make_ca_and_server_cert

    ca, cert, key = make_ca_and_server_cert(tmp_path, "good")
    other_ca, _, _ = make_ca_and_server_cert(tmp_path, "other")
    server = LyingRegistry(tls=(str(cert), str(key)))
    try:
        data = manifest()
        server.put_manifest("v1", data, MediaType.OCI_MANIFEST)
        repo = Repository(server.host, "tls/app", RegistryOptions(ca_file=str(ca), max_retries=0))
        assert repo.transport.scheme == "https"
        assert repo.read_manifest("v1")[0] == data
        untrusted = Repository(server.host, "tls/app", RegistryOptions(ca_file=str(other_ca), max_retries=0))
        with pytest.raises(RegistryError, match="TLS to registry") as info:
            untrusted.read_manifest("v1")
        assert "--ca-file" in (info.value.fix or "")
    finally:
        server.close()


def test_a_revoked_token_is_replaced() -> None:
    server = LyingRegistry(bearer=True)
    try:
        repo = Repository(server.host, "secure/app", RegistryOptions(
            auth=(HostCredential(server.host, server.user, server.password),), backoff_base=0.001))
        data = manifest()
        server.put_manifest("v1", data, MediaType.OCI_MANIFEST)
        assert repo.read_manifest("v1")[0] == data
        server.tokens_issued.clear()  # the registry forgets every token it gave out
        assert repo.read_manifest("v1")[0] == data
        assert len(server.tokens_issued) == 1
    finally:
        server.close()


def test_referrer_pages_past_the_page_limit_are_an_error_not_fewer_referrers(liar: LyingRegistry) -> None:
    """A listing cut short by the page cap is not the whole list: stopping there would make the
    referrers on later pages (a good image's signature) look absent."""
    repo = Repository(liar.host, "lies/app", RegistryOptions(max_pages=3, backoff_base=0.001))
    subject = "sha256:" + "c" * 64
    empty = canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX, "manifests": []})
    liar.inject("GET", r"/referrers/", 200, body=empty, times=100, headers={
        "Content-Type": MediaType.OCI_INDEX,
        "Link": f'</v2/lies/app/referrers/{subject}?last=x>; rel="next"'})
    assert repo.supports_referrers_api()
    with pytest.raises(RegistryError, match="more than 3 pages"):
        repo.referrers(subject)



def test_a_manifest_held_with_another_length_is_not_taken_as_present(liar: LyingRegistry) -> None:
    """has_manifest(size=): a HEAD that answers another length than the manifest's means the
    registry holds other bytes under the digest (a write cut short); no length, or 0, says nothing."""
    repo = Repository(liar.host, "lies/app", FAST)
    data = manifest({"annotations": {"n": os.urandom(8).hex()}})
    digest = liar.put_manifest("v1", data, MediaType.OCI_MANIFEST)
    assert repo.has_manifest(digest, size=len(data))
    path = f"/manifests/{digest}$"
    liar.inject("HEAD", path, 200, headers={"Content-Length": str(len(data) - 3)})
    assert not repo.has_manifest(digest, size=len(data))
    liar.inject("HEAD", path, 200, headers={"Content-Length": str(len(data) - 3)})
    assert repo.has_manifest(digest)            # no size asked for: presence only
    liar.inject("HEAD", path, 200, headers={"Content-Length": "0"})
    assert repo.has_manifest(digest, size=len(data))
