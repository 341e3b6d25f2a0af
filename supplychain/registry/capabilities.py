"""What a registry can do, probed once per registry per process and cached.

Two levels:
- `referrers_api(repo)`: the read-only question every writer of referrers asks (one GET),
  cached per registry host, so a batch of promotions asks it once.
- `probe(host)`: the full report behind `sccheck registry probe HOST` - referrers API, the
  `sha256-<hex>` fallback tag schema, cross-repository mount, chunked upload, the manifest size
  limit and the OCI 1.1 media types (artifactType, the empty config, `subject`). It writes small
  probe objects to one scratch repository (default `sccheck-probe/capabilities`), so it needs
  push access there.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from supplychain.errors import Error, ImageError
from supplychain.image.descriptor import (
    EMPTY_JSON,
    Descriptor,
    MediaType,
    canonical_json,
    compute_digest,
    parse_manifest,
)
from supplychain.registry import referrers as _referrers
from supplychain.registry.options import RegistryOptions

if TYPE_CHECKING:
    from supplychain.registry.repository import Repository

PROBE_REPOSITORY = "sccheck-probe/capabilities"
MANIFEST_SIZES = (256 << 10, 1 << 20, 4 << 20, 8 << 20)
_GUARD = threading.Lock()
_API: dict[str, bool] = {}
_PROBES: dict[str, Capabilities] = {}
_NO_MOUNT: set[str] = set()
_NO_SINGLE_POST: set[str] = set()
_ANSWERED: set[tuple[str, str]] = set()
_ASKING: dict[tuple[str, str], threading.Lock] = {}


def declines_mounts(host: str) -> bool:
    with _GUARD:
        return host in _NO_MOUNT


def note_declined_mount(host: str) -> None:
    """The registry answered a mount with an upload session: it does not mount (per process)."""
    with _GUARD:
        _NO_MOUNT.add(host)


def declines_single_post(host: str) -> bool:
    with _GUARD:
        return host in _NO_SINGLE_POST


def note_declined_single_post(host: str) -> None:
    """The registry answered a blob POST with its bytes by an upload session (or refused it): it
    does not take a blob in one request; later uploads open a session first (per process)."""
    with _GUARD:
        _NO_SINGLE_POST.add(host)


@contextlib.contextmanager
def first_answer(host: str, question: str) -> Iterator[None]:
    """Until `host` has answered `question` once in this process, one caller at a time asks it
    (the parallel lanes of a batch wait for the first answer instead of each asking); after that,
    no waiting."""
    key = (host, question)
    with _GUARD:
        lock = None if key in _ANSWERED else _ASKING.setdefault(key, threading.Lock())
    if lock is None:
        yield
        return
    with lock:
        yield
        with _GUARD:
            _ANSWERED.add(key)


def referrers_api(repo: Repository) -> bool:
    """Whether `repo`'s registry serves the OCI 1.1 referrers API; asked once per host."""
    with _GUARD:
        known = _API.get(repo.registry)
    if known is None:
        with first_answer(repo.registry, "referrers"):
            with _GUARD:
                known = _API.get(repo.registry)
            if known is None:
                known = _referrers.probe_referrers_api(repo)
            if known is None:   # inconclusive (e.g. the repository does not exist yet): ask again later
                return False
            with _GUARD:
                _API[repo.registry] = known
    return known


def forget(host: str | None = None) -> None:
    """Drop cached answers (all hosts, or one): for tests and long-lived processes."""
    with _GUARD:
        for cache in (_API, _PROBES):
            if host is None:
                cache.clear()
            else:
                cache.pop(host, None)  # type: ignore[arg-type]
        for found in (_NO_MOUNT, _NO_SINGLE_POST):
            if host is None:
                found.clear()
            else:
                found.discard(host)
        for key in [k for k in _ANSWERED if host is None or k[0] == host]:
            _ANSWERED.discard(key)


@dataclass(frozen=True)
class Finding:
    supported: bool | None   # None: could not tell
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"supported": self.supported, "detail": self.detail}


@dataclass(frozen=True)
class Capabilities:
    host: str
    repository: str
    findings: dict[str, Finding] = field(default_factory=dict)
    manifest_max_accepted: int | None = None
    manifest_min_refused: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": True, "host": self.host, "repository": self.repository,
                "capabilities": {k: v.to_dict() for k, v in self.findings.items()},
                "manifestSizeLimit": {"largestAccepted": self.manifest_max_accepted,
                                      "smallestRefused": self.manifest_min_refused,
                                      "tried": list(MANIFEST_SIZES)},
                "recommendedReferrersMode": self.recommended_mode()}

    def recommended_mode(self) -> str:
        api = self.findings.get("referrersApi")
        return "api" if api and api.supported else "tag"


def _attempt(what: str, fn: Any) -> Finding:
    try:
        return fn()  # type: ignore[no-any-return]
    except Error as exc:
        return Finding(False, f"{what}: {exc.message}" + (f" ({exc.found})" if exc.found else ""))


def _probe_image(repo: Repository) -> Descriptor:
    """A one-layer image with random content (fresh for every probe), pushed by digest."""
    layer = os.urandom(64)
    layer_desc = repo.write_blob(layer, Descriptor.for_bytes(MediaType.OCI_LAYER, layer))
    config = canonical_json({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": [layer_desc.digest]}})
    config_desc = repo.write_blob(config, Descriptor.for_bytes(MediaType.OCI_CONFIG, config))
    manifest = canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_MANIFEST,
                               "config": config_desc.to_dict(), "layers": [layer_desc.to_dict()]})
    digest = repo.write_manifest(manifest, MediaType.OCI_MANIFEST)
    return Descriptor(MediaType.OCI_MANIFEST, digest, len(manifest))


def _put(repo: Repository, data: bytes, media_type: str, ident: str) -> Any:
    return repo._req("PUT", repo._path("manifests", ident), f"write probe manifest {ident}", push=True,
                     ok=(200, 201, 202), data=data, headers={"Content-Type": media_type})


def probe(host: str, options: RegistryOptions | None = None,
          repository: str = PROBE_REPOSITORY) -> Capabilities:
    """Probe `host` (cached per host for this process). Each finding says what was tried."""
    with _GUARD:
        if host in _PROBES:
            return _PROBES[host]
    from supplychain.registry.repository import Repository

    options = options or RegistryOptions()
    repo = Repository(host, repository, replace(options, referrers_mode="api"))
    found: dict[str, Finding] = {}
    subject = _probe_image(repo)   # first: some registries answer NAME_UNKNOWN for a new repository
    api = bool(_referrers.probe_referrers_api(repo))
    found["referrersApi"] = Finding(api, "GET /v2/<name>/referrers/<digest> answers an OCI index" if api
                                    else "GET /v2/<name>/referrers/<digest> is not served (404/400/405)")

    def chunked() -> Finding:
        data = os.urandom(3000)
        desc = Descriptor.for_bytes(MediaType.OCI_LAYER, data)
        small = Repository(host, repository, replace(options, chunk_size=1024, monolithic_max=0))
        small.write_blob_chunks(desc, [data[:1500], data[1500:]])
        there = repo.has_blob(desc.digest)
        return Finding(there, "POST, three PATCH chunks, PUT ?digest=: blob stored" if there
                       else "the chunked upload finished but the blob is not there")
    found["chunkedUpload"] = _attempt("chunked upload", chunked)

    def single_post() -> Finding:
        data = os.urandom(100)
        desc = Descriptor.for_bytes(MediaType.OCI_LAYER, data)
        resp = repo._req("POST", repo._path("blobs", "uploads") + "/", "upload a blob in one POST", push=True,
                         ok=(201, 202, 400, 405, 415, 501), params={"digest": desc.digest}, data=data,
                         headers={"Content-Type": "application/octet-stream"})
        status, location = resp.status_code, resp.headers.get("Location")
        resp.close()
        if status == 201:
            there = repo.has_blob(desc.digest)
            return Finding(there, "POST ?digest= with the bytes answered 201 Created: one request per small "
                           "blob" if there else "POST ?digest= answered 201 but the blob is not there")
        if status == 202 and location:
            repo._cancel(repo._location(resp))
        return Finding(False, f"POST ?digest= with the bytes answered {status}"
                       + (" (an upload session): small blobs take POST and PUT" if status == 202 else ""))
    found["singleRequestUpload"] = _attempt("single-request upload", single_post)

    def mount() -> Finding:
        other = Repository(host, repository + "-mount", options)
        data, media_type, _ = repo.read_manifest(subject.digest)
        layer = Descriptor.from_dict(parse_manifest(data, media_type)["layers"][0])
        ok = other.mount_blob(layer, repository)
        return Finding(ok, "POST ?mount=&from= answered 201 Created" if ok
                       else "the registry answered 202 (an upload session): it does not mount")
    found["crossRepositoryMount"] = _attempt("mount", mount)

    artifact = canonical_json({
        "schemaVersion": 2, "mediaType": MediaType.OCI_MANIFEST,
        "artifactType": "application/vnd.sccheck.probe.v1+json",
        "config": {"mediaType": MediaType.OCI_EMPTY, "digest": compute_digest(EMPTY_JSON), "size": 2},
        "layers": [{"mediaType": MediaType.OCI_EMPTY, "digest": compute_digest(EMPTY_JSON), "size": 2}],
        "subject": subject.to_dict(),
        "annotations": {"org.opencontainers.image.created": "2026-01-01T00:00:00Z"}})

    def media_types() -> Finding:
        repo.write_blob(EMPTY_JSON, Descriptor.for_bytes(MediaType.OCI_EMPTY, EMPTY_JSON))
        resp = _put(repo, artifact, MediaType.OCI_MANIFEST, compute_digest(artifact))
        header = resp.headers.get("OCI-Subject")
        resp.close()
        return Finding(True, "accepted artifactType, the empty config and subject" +
                       (f"; answered OCI-Subject: {header[:80]}" if header else "; no OCI-Subject header "
                        "(clients must use the fallback tag)"))
    found["oci11MediaTypes"] = _attempt("OCI 1.1 artifact manifest", media_types)

    def fallback() -> Finding:
        desc = Descriptor(MediaType.OCI_MANIFEST, compute_digest(artifact), len(artifact),
                          artifact_type="application/vnd.sccheck.probe.v1+json")
        _referrers.add_to_fallback(repo, subject.digest, [desc])
        listed = _referrers.fallback_listed(repo, subject.digest)
        ok = desc.digest in listed
        return Finding(ok, f"an OCI index tagged {_referrers.fallback_tag(subject.digest)[:19]}… was "
                       "written and read back" if ok else "the index was written but does not read back")
    found["fallbackTagSchema"] = _attempt("fallback tag", fallback)

    accepted: int | None = None
    refused: int | None = None
    notes = []
    for size in MANIFEST_SIZES:
        body = canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_MANIFEST,
                               "config": {"mediaType": MediaType.OCI_EMPTY,
                                          "digest": compute_digest(EMPTY_JSON), "size": 2},
                               "layers": [], "annotations": {"pad": ""}})
        body = body.replace(b'"pad":""', b'"pad":"' + b"x" * (size - len(body)) + b'"')
        try:
            _put(repo, body, MediaType.OCI_MANIFEST, compute_digest(body)).close()
            accepted = size
        except (Error, ImageError) as exc:
            refused = size
            notes.append(f"{size} bytes: {exc.message}"[:200])
            break
    found["manifestSizeLimit"] = Finding(
        None if refused is None else True,
        (f"accepted up to {accepted} bytes" if accepted else "accepted none of the sizes tried") +
        (f"; refused {refused} bytes" if refused else f"; no limit found up to {MANIFEST_SIZES[-1]} bytes"))
    caps = Capabilities(host, repository, found, accepted, refused)
    with _GUARD:
        _PROBES[host] = caps
        _API[host] = api
    return caps
