"""A repository on an OCI distribution registry, as a ContentStore.

Everything fetched is hashed and compared with the digest we asked for; a registry's
`Docker-Content-Digest` is never trusted. Manifest bodies are capped and parsed strictly
(media type vs body, no ambiguous documents); blobs are streamed and may not exceed their
descriptor's size.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NoReturn
from urllib.parse import quote, urlencode, urljoin, urlsplit, urlunsplit

import requests
import urllib3

from supplychain.errors import DigestMismatch, ImageError, RegistryError
from supplychain.image.cache import ContentCache
from supplychain.image.descriptor import (
    Descriptor,
    MediaType,
    ReferrerList,
    compute_digest,
    parse_manifest,
    validate_digest,
    verify_digest,
)
from supplychain.image.reference import ImageRef, api_host
from supplychain.image.store import ContentStore
from supplychain.progress import notice
from supplychain.registry import referrers as _referrers
from supplychain.registry.options import RegistryOptions
from supplychain.registry.transport import RegistryNotFound, Transport, transport_for

MANIFEST_ACCEPT = ", ".join(sorted(MediaType.ALL_MANIFESTS))
_DIGEST_PREFIXES = ("sha256:", "sha512:")
SINGLE_POST_MAX = 256 << 10   # blobs up to this size are offered in one POST (signatures, attestations)


def _is_digest(identifier: str) -> bool:
    return identifier.startswith(_DIGEST_PREFIXES)


_NOT_MANIFEST_TYPES = frozenset({"text/html", "text/plain", "application/xhtml+xml", "text/xml"})


def _with_query(location: str, extra: dict[str, str]) -> str:
    parts = urlsplit(location)
    query = parts.query + ("&" if parts.query else "") + urlencode(extra)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


class Repository:
    """One repository (`host/name`) on a registry. Implements `ContentStore`."""

    def __init__(self, registry: str, repository: str, options: RegistryOptions | None = None) -> None:
        self.registry = registry
        self.repository = repository
        self.options = options or RegistryOptions()
        self.transport: Transport = transport_for(api_host(registry), self.options)
        # Content by digest is immutable: what this process fetched (and verified) or wrote can be
        # served again without a request. `cache` may be shared by the repositories of one
        # promotion; `_present` holds blobs this repository is known to hold.
        self.cache: ContentCache | None = None
        self._present: set[str] = set()
        self._absent: set[str] = set()   # HEAD said 404 just now: the next write skips its own HEAD
        # With a dict here, each subject's referrers are listed once (unfiltered) and filtered
        # locally: a promotion lists the source once for its verification and its copy.
        self.listings: dict[str, ReferrerList] | None = None
        # The fallback index this process confirmed last, per subject: (when, document), read
        # once by the listing that follows it (a promotion's re-verification).
        self.confirmed_fallback: dict[str, tuple[float, dict[str, Any]]] = {}
        # Fallback-index entries held back for the next merge of their subject's index.
        self.deferred = _referrers.DeferredIndex()
        # The registry said the repository does not exist (NAME_UNKNOWN): a copy into it need
        # not ask which manifests it has.
        self.new_repository = False

    # -- helpers --------------------------------------------------------------------------
    def describe(self) -> str:
        return f"{self.registry}/{self.repository}"

    def __repr__(self) -> str:
        return f"Repository({self.describe()!r})"

    @property
    def _pull(self) -> tuple[str]:
        return (f"repository:{self.repository}:pull",)

    @property
    def _push(self) -> tuple[str]:
        return (f"repository:{self.repository}:pull,push",)

    def _path(self, kind: str, ident: str = "") -> str:
        return f"/v2/{self.repository}/{kind}/{quote(ident, safe=':')}" if ident else \
            f"/v2/{self.repository}/{kind}/"

    def _req(self, method: str, path: str, what: str, *, push: bool = False, **kw: Any) -> requests.Response:
        return self.transport.request(method, path, repository=self.repository,
                                      scopes=kw.pop("scopes", self._push if push else self._pull),
                                      what=what, **kw)

    # -- blobs ----------------------------------------------------------------------------
    def has_blob(self, digest: str) -> bool:
        validate_digest(digest)
        if digest in self._present:
            return True
        resp = self._req("HEAD", self._path("blobs", digest), f"check blob {digest}", ok=(200, 404))
        resp.close()
        if resp.status_code == 200:
            self._present.add(digest)
        else:
            self._absent.add(digest)
        return resp.status_code == 200

    def _needs_upload(self, digest: str) -> bool:
        if digest in self._absent:
            self._absent.discard(digest)
            return True
        return not self.has_blob(digest)

    def iter_blob(self, desc: Descriptor, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Stream a blob; refuses more bytes than the descriptor's size. The caller verifies
        the digest of what it consumes (read_blob and write_blob_chunks do)."""
        validate_digest(desc.digest)
        path = self._path("blobs", desc.digest)
        total = 0
        for attempt in range(self.options.max_retries + 1):
            headers = {"Accept-Encoding": "identity"}
            if total:
                headers["Range"] = f"bytes={total}-"
            resp = self._req("GET", path, f"read blob {desc.digest}", stream=True, headers=headers,
                             ok=(200, 206))
            skip = self._resume_offset(resp, desc, total)
            try:
                # Raw bytes: never let a Content-Encoding header change what we hash.
                for chunk in resp.raw.stream(chunk_size, decode_content=False):
                    if skip:  # the registry ignored Range and sent the blob from its start
                        dropped = min(skip, len(chunk))
                        chunk, skip = chunk[dropped:], skip - dropped
                        if not chunk:
                            continue
                    total += len(chunk)
                    if total > desc.size:
                        raise ImageError(f"blob {desc.digest} from {self.describe()} is larger than its "
                                         "descriptor", expected=f"{desc.size} bytes",
                                         found=f"more than {desc.size} bytes")
                    yield chunk
                break
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                if attempt >= self.options.max_retries:
                    raise RegistryError(f"reading blob {desc.digest} from {self.describe()} broke off",
                                        facts={"registry": self.registry, "request": f"GET {path}",
                                               "received": f"{total} of {desc.size} bytes",
                                               "attempts": attempt + 1, "reason": type(exc).__name__},
                                        fix="the connection or the registry failed mid-blob; try again"
                                        ) from None
                notice(f"reading blob {desc.digest[:19]} from {self.registry} broke off at {total} of "
                       f"{desc.size} bytes ({type(exc).__name__}); resuming")
            finally:
                resp.close()
        if total != desc.size:
            raise ImageError(f"blob {desc.digest} from {self.describe()} is shorter than its descriptor",
                             expected=f"{desc.size} bytes", found=f"{total} bytes")

    def _resume_offset(self, resp: requests.Response, desc: Descriptor, have: int) -> int:
        """How many leading bytes of this answer to drop; checks the sizes the registry declares."""
        declared = resp.headers.get("Content-Length")
        if resp.status_code == 206:
            match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", resp.headers.get("Content-Range", "").strip())
            if not have or match is None or int(match.group(1)) != have:
                resp.close()
                raise RegistryError(f"registry {self.registry} answered a blob range request with another "
                                    "range", expected=f"bytes {have}-",
                                    found=resp.headers.get("Content-Range"))
            return 0
        if declared and declared.isdigit() and int(declared) != desc.size:
            resp.close()
            raise ImageError(f"blob {desc.digest} from {self.describe()} has the wrong size",
                             expected=f"{desc.size} bytes (the descriptor)", found=f"{declared} bytes")
        return have

    def read_blob(self, desc: Descriptor) -> bytes:
        cached = self.cache.get(desc.digest) if self.cache else None
        if cached is not None:
            return cached[0]
        data = b"".join(self.iter_blob(desc))
        verify_digest(data, desc.digest, f"blob from {self.describe()}")
        if self.cache:
            self.cache.put(desc.digest, data, "")
        return data

    def write_blob(self, data: bytes, desc: Descriptor | None = None) -> Descriptor:
        if desc is None:
            desc = Descriptor.for_bytes("application/octet-stream", data)
        else:
            verify_digest(data, desc.digest, "blob to write")
            if len(data) != desc.size:
                raise ImageError("blob to write has the wrong size", expected=str(desc.size),
                                 found=str(len(data)))
        if not self._needs_upload(desc.digest):
            return desc
        self._upload(data, desc)
        return desc

    def _upload(self, data: bytes, desc: Descriptor) -> None:
        """A small blob goes up in one request (POST ?digest= with the bytes) where the registry
        takes that; one that answers with an upload session gets the bytes by PUT, as a larger
        blob does, and is not asked again in this process."""
        from supplychain.registry import capabilities

        if len(data) <= SINGLE_POST_MAX and not capabilities.declines_single_post(self.registry):
            location = self._single_post(data, desc)
            if location is None:
                self._present.add(desc.digest)
                return
            if location:
                try:
                    self._finish_upload(location, desc.digest, data)
                    self._present.add(desc.digest)
                    return
                except RegistryError as err:
                    if err.facts.get("status") != 400:   # the session may hold the POST's bytes
                        raise
                    self._cancel(location)
        location = self._start_upload()
        self._finish_upload(location, desc.digest, data)
        self._present.add(desc.digest)

    def _single_post(self, data: bytes, desc: Descriptor) -> str | None:
        """None: stored by the POST. Otherwise the registry declined (noted per host): the upload
        session it opened instead ("" when it refused the request outright)."""
        from supplychain.registry import capabilities

        try:
            resp = self._req("POST", self._path("blobs", "uploads") + "/", f"upload blob {desc.digest}",
                             push=True, ok=(201, 202), params={"digest": desc.digest}, data=data,
                             headers={"Content-Type": "application/octet-stream"})
        except RegistryError as err:
            if err.facts.get("status") not in (400, 405, 415, 501):
                raise
            capabilities.note_declined_single_post(self.registry)
            return ""
        if resp.status_code == 201:
            return None
        capabilities.note_declined_single_post(self.registry)
        return self._location(resp)

    def _start_upload(self, extra: dict[str, str] | None = None, scopes: tuple[str, ...] | None = None,
                      ok: tuple[int, ...] = (202,)) -> str:
        resp = self._req("POST", self._path("blobs", "uploads") + "/", "start a blob upload", push=True,
                         ok=ok, params=extra, scopes=scopes or self._push)
        return self._location(resp)

    def _location(self, resp: requests.Response) -> str:
        location = resp.headers.get("Location")
        if resp.status_code == 201:
            return ""
        if not location:
            raise RegistryError(f"registry {self.registry} started an upload without a Location header",
                                facts={"repository": self.repository, "status": resp.status_code})
        # A Location on another host (a storage front end) is followed without our credentials.
        return urljoin(self.transport.base_url + "/", location)

    def _finish_upload(self, location: str, digest: str, data: bytes | _Body = b"",
                       once: bool = False) -> None:
        url = _with_query(location, {"digest": digest})
        headers = {"Content-Type": "application/octet-stream"}
        self._req("PUT", url, f"finish the upload of blob {digest}", push=True, ok=(201, 204),
                  data=data, headers=headers, once=once)

    def write_blob_chunks(self, desc: Descriptor, chunks: Iterable[bytes], *,
                          reopen: Callable[[], Iterable[bytes]] | None = None) -> None:
        """Upload from a stream in chunks of `options.chunk_size` (small blobs in one request).
        The upload is hashed as it goes; a stream that does not hash to `desc.digest` (or is not
        `desc.size` long) is abandoned before it is committed. With `reopen` (a way to read the
        source again), a blob larger than one POST streams from the source straight into its
        upload requests; if the destination fails one of them, the upload starts over once from
        `reopen()`, read whole and sent with the usual retries."""
        validate_digest(desc.digest)
        if not self._needs_upload(desc.digest):
            for _ in chunks:  # drain so a generator's own checks run and its source closes
                break
            return
        if reopen is not None and desc.size > SINGLE_POST_MAX:
            feed = _Feed(chunks, desc)
            location = self._start_upload()   # retried as any request; its failure is final
            try:
                self._send(location, desc, feed, streamed=True)
                return
            except RegistryError:
                if feed.failed:      # the source's failure, not the destination's
                    raise
            notice(f"the upload of {desc.digest[:19]} to {self.describe()} broke off; "
                   "sending it again from the source")
            chunks = reopen()
        if desc.size <= self.options.monolithic_max:
            buf = bytearray()
            for chunk in chunks:
                buf += chunk
                if len(buf) > desc.size:
                    raise ImageError(f"blob {desc.digest} is larger than its descriptor says",
                                     expected=f"{desc.size} bytes")
            verify_digest(bytes(buf), desc.digest, "blob to write")
            self._upload(bytes(buf), desc)
            return
        self._send(self._start_upload(), desc, _Feed(chunks, desc), streamed=False)

    def _send(self, location: str, desc: Descriptor, feed: _Feed, *, streamed: bool) -> None:
        """The blob's bytes into an upload session, in one PUT (streamed, up to `monolithic_max`)
        or in PATCHes of `chunk_size`. A streamed request carries the bytes as they arrive from
        the source and is sent once (it cannot be sent again); otherwise each chunk is read whole
        first and retried as usual. A failure cancels the session."""
        try:
            if streamed and desc.size <= self.options.monolithic_max:
                self._finish_upload(location, desc.digest, feed.body(desc.size), once=True)
            else:
                offset = 0
                while offset < desc.size:
                    n = min(self.options.chunk_size, desc.size - offset)
                    piece = feed.body(n) if streamed else b"".join(feed.body(n))
                    location = self._patch(location, piece, offset, once=streamed)
                    offset += n
                self._finish_upload(location, desc.digest)
            self._present.add(desc.digest)
        except BaseException:
            self._cancel(location)
            raise

    def _patch(self, location: str, piece: bytes | _Body, offset: int, once: bool = False) -> str:
        headers = {"Content-Type": "application/octet-stream",
                   "Content-Range": f"{offset}-{offset + len(piece) - 1}",
                   "Content-Length": str(len(piece))}
        try:
            resp = self._req("PATCH", location, f"upload a chunk at offset {offset}", push=True,
                             ok=(202, 204), data=piece, headers=headers, once=once)
        except RegistryError as err:
            # A retried chunk the registry had taken after all is answered 416: ask how far it got.
            if err.facts.get("status") != 416 or self._upload_end(location) != offset + len(piece):
                raise
            return location
        return self._location(resp) or location

    def _upload_end(self, location: str) -> int | None:
        """How many bytes an upload session holds (`Range: 0-<last>`), or None if unknown."""
        try:
            resp = self._req("GET", location, "check an upload's progress", push=True, ok=(204, 200))
        except RegistryError:
            return None
        match = re.fullmatch(r"(?:bytes=)?0-(\d+)", resp.headers.get("Range", "").strip())
        return int(match.group(1)) + 1 if match else None

    def _cancel(self, location: str) -> None:
        with contextlib.suppress(RegistryError):
            self._req("DELETE", location, "cancel an upload", push=True, ok=(200, 202, 204, 404))

    def mount_blob(self, desc: Descriptor, from_repository: str) -> bool:
        """Ask the registry to link a blob from another repository of the same registry.
        True when mounted (no bytes moved); False when the registry declined."""
        from supplychain.registry import capabilities

        validate_digest(desc.digest)
        if capabilities.declines_mounts(self.registry):   # it said so once: do not ask per blob
            return False
        with capabilities.first_answer(self.registry, "mount"):   # one lane asks, the others wait
            if capabilities.declines_mounts(self.registry):
                return False
            return self._mount(desc, from_repository)

    def _mount(self, desc: Descriptor, from_repository: str) -> bool:
        from supplychain.registry import capabilities

        scopes = (*self._push, f"repository:{from_repository}:pull")
        resp = self._req("POST", self._path("blobs", "uploads") + "/", f"mount blob {desc.digest}",
                         push=True, ok=(201, 202), params={"mount": desc.digest, "from": from_repository},
                         scopes=scopes)
        if resp.status_code == 201:
            self._present.add(desc.digest)
            return True
        capabilities.note_declined_mount(self.registry)
        location = resp.headers.get("Location")
        if location:
            self._cancel(urljoin(self.transport.base_url + "/", location))
        return False

    # -- manifests ------------------------------------------------------------------------
    def read_manifest(self, identifier: str) -> tuple[bytes, str, str]:
        cached = self.cache.get(identifier) if self.cache and _is_digest(identifier) else None
        if cached is not None and cached[1]:
            return cached[0], cached[1], identifier
        path = self._path("manifests", identifier)
        resp = self._req("GET", path, f"read manifest {identifier}", headers={"Accept": MANIFEST_ACCEPT},
                         body_cap=self.options.max_manifest_bytes)
        content_type = resp.headers.get("Content-Type", "")
        data = resp.content
        if _is_digest(identifier):
            verify_digest(data, identifier, f"manifest from {self.describe()}")
            digest = identifier
        else:
            digest = compute_digest(data)  # never the registry's Docker-Content-Digest
        declared = content_type.split(";", 1)[0].strip()
        try:
            doc = parse_manifest(data, declared if declared in MediaType.ALL_MANIFESTS else None)
        except ImageError as exc:  # say where it came from: a fact about that manifest
            if declared.lower() in _NOT_MANIFEST_TYPES:  # unless something else answers there
                raise RegistryError(
                    f"registry {self.registry} answered GET {path} with a web page, not a manifest",
                    expected="an OCI or Docker manifest",
                    found=f"HTTP {resp.status_code} {content_type[:80]}: "
                          f"{data[:120].decode('utf-8', 'replace')!r}",
                    facts={"registry": self.registry, "request": f"GET {path}"},
                    fix="check the registry address: something else (a proxy, a login page) answers there",
                ) from None
            exc.facts.setdefault("registry", self.registry)
            exc.facts.setdefault("request", f"GET {path} (HTTP {resp.status_code}, {declared or 'no type'})")
            raise
        if declared and declared not in MediaType.ALL_MANIFESTS and declared not in (
                "application/json", "application/octet-stream"):
            raise ImageError(f"manifest {identifier} from {self.describe()} came with an unexpected "
                             "media type", expected="an OCI or Docker manifest media type",
                             found=declared[:200])
        if self.cache:
            self.cache.put(digest, data, str(doc["mediaType"]))
        return data, str(doc["mediaType"]), digest

    def store_manifest(self, data: bytes, media_type: str) -> str:
        return self.write_manifest(data, media_type)

    def lookup_tag(self, tag: str) -> str | None:
        try:
            return self.resolve(tag).digest
        except RegistryNotFound as exc:
            if "NAME_UNKNOWN" in str(exc.facts.get("code", "")):
                self.new_repository = True   # nothing is stored here yet
            return None

    def mount_blob_from(self, source: ContentStore, desc: Descriptor) -> bool:
        """Cross-repository mount when `source` is another repository of this registry."""
        where = source.mount_name()
        if where is None or where[0] != self.registry or where[1] == self.repository:
            return False
        return self.mount_blob(desc, where[1])

    def mount_name(self) -> tuple[str, str] | None:
        return (self.registry, self.repository)

    def shared(self) -> bool:
        return True

    def origin_of(self, desc: Descriptor) -> ContentStore:
        return self

    def has_manifest(self, digest: str, listed: bool = False, size: int | None = None) -> bool:
        validate_digest(digest)
        if self.new_repository:
            return False
        resp = self._req("HEAD", self._path("manifests", digest), f"check manifest {digest}",
                         ok=(200, 404), headers={"Accept": MANIFEST_ACCEPT})
        resp.close()
        if resp.status_code != 200:
            return False
        # A registry that does not check a manifest against the digest it is PUT under may hold
        # a write cut short there: its length tells, and the copy writes the manifest again.
        # No length, or 0 (a front end that drops it from HEAD answers), tells nothing.
        length = resp.headers.get("Content-Length", "")
        return size is None or not length.isdigit() or int(length) in (0, size)

    def resolve(self, identifier: str) -> Descriptor:
        data, media_type, digest = self.read_manifest(identifier)
        doc = parse_manifest(data, media_type)
        return Descriptor(media_type, digest, len(data), dict(doc.get("annotations") or {}),
                          artifact_type=_referrers.artifact_type_of(doc))

    def write_manifest(self, data: bytes, media_type: str, tag: str | None = None, *,
                       index: bool = True) -> str:
        """PUT a manifest (by tag when given, else by digest); returns the digest we computed.
        A manifest with a `subject` is also listed in the `sha256-<hex>` fallback index where
        `options.referrers_mode` wants it (`index=False` leaves that to a later
        `index_referrers`, so a copy lists many referrers of one subject in one write)."""
        if len(data) > self.options.max_manifest_bytes:
            raise ImageError("manifest to write is too large",
                             expected=f"at most {self.options.max_manifest_bytes} bytes",
                             found=f"{len(data)} bytes")
        doc = parse_manifest(data, media_type)
        digest = compute_digest(data)
        subject = doc.get("subject")
        if isinstance(subject, dict) and self.options.referrers_mode == "api" and \
                not self.supports_referrers_api():
            raise RegistryError(f"{self.registry} has no OCI 1.1 referrers API, so a referrer written "
                                "there would not be found", expected="a registry with the referrers API "
                                "(--referrers-mode api)", found="no referrers API",
                                fix="use --referrers-mode auto (or tag) to list it in the fallback index")
        for attempt in range(3):
            try:
                resp = self._req("PUT", self._path("manifests", tag or digest),
                                 f"write manifest {tag or digest}", push=True, ok=(201, 200, 202),
                                 data=data, headers={"Content-Type": media_type})
                break
            except RegistryError as exc:
                # Distribution re-links a blob on every upload or mount of it; a manifest written
                # while another writer does that can see the blob missing for a moment.
                if "MANIFEST_BLOB_UNKNOWN" not in str(exc.facts.get("code", "")) or attempt == 2:
                    raise
                time.sleep(0.2 * (attempt + 1))
        confirmed = bool(resp.headers.get("OCI-Subject"))
        resp.close()
        if self.cache:
            self.cache.put(digest, data, str(doc["mediaType"]))
        if isinstance(subject, dict) and index and self.wants_fallback_index(confirmed):
            subject_digest = validate_digest(str(subject.get("digest", "")))
            _referrers.add_to_fallback(self, subject_digest, [_referrers.referrer_descriptor(
                doc, media_type, digest, len(data))])
        return digest

    def wants_fallback_index(self, confirmed: bool = False) -> bool:
        """Whether referrers written here are also listed in the `sha256-<hex>` index: always for
        `tag` and `both`; for `auto` where the registry has no referrers API (and did not confirm
        the subject with an `OCI-Subject` header), since clients look there then."""
        mode = self.options.referrers_mode
        if mode in ("tag", "both"):
            return True
        return mode == "auto" and not confirmed and not self.supports_referrers_api()

    def index_referrers(self, subject: str, listed: list[Descriptor], *, defer: bool = False) -> int:
        """List `listed` (referrers of `subject` stored here) in the fallback index where
        `wants_fallback_index()`; entries it has are kept. Returns how many were added. A rerun
        uses this to repair referrers that were stored but never indexed. With `defer`, they are
        held for the next merge of the subject's index (or `flush_index`), and 0 is returned."""
        if not listed or not self.wants_fallback_index():
            return 0
        if defer:
            self.deferred.add(validate_digest(subject), listed)
            return 0
        return _referrers.add_to_fallback(self, subject, listed)

    def flush_index(self) -> int:
        """Merge every held entry into its subject's index, the subjects side by side (each merge
        waits to read its write back); returns how many held entries merges added to indexes
        since the last call (this one's and those that took them along)."""
        subjects = self.deferred.subjects()
        if len(subjects) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(8, len(subjects)),
                                    thread_name_prefix="sccheck-list") as pool:
                list(pool.map(lambda subject: _referrers.add_to_fallback(self, subject, []), subjects))
        else:
            for subject in subjects:
                _referrers.add_to_fallback(self, subject, [])
        return self.deferred.take_listed()

    def delete_manifest(self, digest: str) -> None:
        self._req("DELETE", self._path("manifests", validate_digest(digest)), f"delete manifest {digest}",
                  push=True, ok=(202, 200))

    # -- tags and referrers ---------------------------------------------------------------
    def list_tags(self, page_size: int | None = None) -> list[str]:
        """All tags, following `Link` pagination (or `last=` when the registry gives no Link),
        bounded by options.max_tags and options.max_pages."""
        return _referrers.list_tags(self, page_size or self.options.page_size)

    def supports_referrers_api(self) -> bool:
        """Asked once per registry per process (supplychain.registry.capabilities)."""
        from supplychain.registry.capabilities import referrers_api

        return referrers_api(self)

    def reads_fallback_index(self) -> bool:
        """Where `referrers()` looks: the fallback index with `tag` or without the API."""
        return self.options.referrers_mode == "tag" or not self.supports_referrers_api()

    def referrers(self, digest: str, artifact_type: str | None = None) -> ReferrerList:
        if self.listings is None:
            return _referrers.referrers(self, digest, artifact_type)
        full = self.listings.get(digest)
        if full is None:
            full = self.listings[digest] = _referrers.referrers(self, digest, None)
        kept = [d for d in full if not artifact_type or d.artifact_type == artifact_type]
        return ReferrerList(kept, list(full.rejected))

    def expect_new_blob(self, digest: str) -> None:
        """The caller just made this blob (a fresh signature bundle): upload without asking first."""
        self._absent.add(validate_digest(digest))

    def knows_blob(self, digest: str) -> bool:
        return digest in self._present

    def join_run(self, cache: ContentCache, *, list_once: bool = False) -> None:
        self.cache = cache
        if list_once:
            self.listings = {}

    def unlisted_referrers(self, subject: str, wanted: set[str]) -> set[str]:
        """With referrers mode `both` and the API, `referrers()` reads the API: the fallback index
        (where older clients look) must list them too."""
        if self.options.referrers_mode != "both" or self.reads_fallback_index():
            return set()
        return wanted - _referrers.fallback_listed(self, subject)


def open_repository(ref: ImageRef, options: RegistryOptions | None = None) -> Repository:
    if ref.is_layout or not ref.registry or not ref.repository:
        raise RegistryError(f"{ref} does not name a registry repository",
                            expected="host[:port]/repository[:tag|@digest]")
    return Repository(ref.registry, ref.repository, options)


class _Feed:
    """One blob's bytes from its source, handed out as request bodies of known length. Hashed
    on the way: a body stops before its last bytes when the source sends more than the
    descriptor says, ends early, or does not hash to its digest, so a registry never receives
    (let alone commits) a whole wrong blob. `failed` tells the source's failure from the
    destination's."""

    def __init__(self, chunks: Iterable[bytes], desc: Descriptor) -> None:
        self.source = iter(chunks)
        self.desc = desc
        self.hasher = hashlib.new(desc.digest.split(":", 1)[0])
        self.taken = 0
        self.pending = b""
        self.failed = False

    def body(self, n: int) -> _Body:
        return _Body(self, n)

    def take(self, n: int) -> Iterator[bytes]:
        left = n
        while left:
            if not self.pending:
                self.pending = self._next()
            piece, self.pending = self.pending[:left], self.pending[left:]
            left -= len(piece)
            self.taken += len(piece)
            self.hasher.update(piece)
            if self.taken == self.desc.size:
                self._check_end()
            yield piece

    def _next(self, at_end: bool = False) -> bytes:
        """The source's next bytes (b"" at its end when `at_end`, else its end is an error)."""
        try:
            for chunk in self.source:
                if chunk:
                    return bytes(chunk)
        except BaseException:
            self.failed = True
            raise
        if at_end:
            return b""
        self._fail(ImageError(f"the source of blob {self.desc.digest} ended early",
                              expected=f"{self.desc.size} bytes", found=f"{self.taken} bytes",
                              fix="the source served different bytes; the upload was abandoned"))

    def _check_end(self) -> None:
        """At the last byte, before it is sent: nothing more from the source, the right digest."""
        if self.pending or self._next(at_end=True):
            self._fail(ImageError(f"blob {self.desc.digest} is larger than its descriptor says",
                                  expected=f"{self.desc.size} bytes"))
        actual = f"{self.desc.digest.split(':', 1)[0]}:{self.hasher.hexdigest()}"
        if actual != self.desc.digest:
            self._fail(DigestMismatch(f"streamed blob does not match {self.desc.digest}",
                                      expected=f"{self.desc.digest} ({self.desc.size} bytes)", found=actual,
                                      fix="the source served different bytes; the upload was abandoned"))

    def _fail(self, exc: ImageError) -> NoReturn:
        self.failed = True
        raise exc


class _Body:
    """A request body of exactly `n` bytes from a feed (its length sets Content-Length)."""

    def __init__(self, feed: _Feed, n: int) -> None:
        self.feed, self.n = feed, n

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[bytes]:
        return self.feed.take(self.n)
