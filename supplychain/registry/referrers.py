"""Referrers (OCI 1.1) for a registry repository: the API, and the `sha256-<hex>` tag fallback.

Reading: `GET /v2/<name>/referrers/<digest>` (Link-paginated, bounded) when the registry has
the API, else the fallback index tagged `sha256-<hex of subject>`. The descriptors the registry
lists are not trusted: each referrer manifest is fetched by digest (verified) and its
artifactType and annotations are taken from the body, so both ways give the same answer.

Writing: when a manifest with a `subject` is pushed where clients look in the fallback index
(`RegistryOptions.referrers_mode`), the index is updated by read-modify-write with
verification: read it, add what is missing (existing entries kept, no duplicates), write it,
wait a settle interval longer than another writer's read-to-write gap, read it back, and start
over (jittered, bounded) until it lists everything this writer added. Registries have no
conditional tag writes, so concurrent writers can overwrite each other; each one re-adds its own
entries until they stay, and never drops another's.

Deferring: a writer may hold back the entries of referrers it stored (`DeferredIndex`) so that
the next merge of that subject's index lists them together with what it adds then (a promotion
lists the copied evidence and its verification summary in one merge, not two). Until then this
process's listings of the subject include them; nothing else sees them.
"""

from __future__ import annotations

import random
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import requests

from supplychain.errors import ImageError, RegistryError
from supplychain.image.descriptor import (
    Descriptor,
    MediaType,
    ReferrerList,
    canonical_json,
    parse_manifest,
    validate_digest,
)
from supplychain.registry.options import RegistryOptions
from supplychain.registry.transport import RegistryAuthError, RegistryNotFound, Transport
from supplychain.strictdoc import load_json


class DeferredIndex:
    """Fallback-index entries a repository holds back, per subject, for the next merge of that
    subject's index (`add_to_fallback` takes them along) or `flush`. `listed` counts the held
    entries that merges have added to indexes since it was last taken."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_subject: dict[str, dict[str, Descriptor]] = {}
        self._listed = 0

    def add(self, subject: str, entries: list[Descriptor]) -> None:
        with self._lock:
            held = self._by_subject.setdefault(subject, {})
            for entry in entries:
                held.setdefault(entry.digest, entry)

    def peek(self, subject: str) -> list[Descriptor]:
        with self._lock:
            return list(self._by_subject.get(subject, {}).values())

    def take(self, subject: str) -> dict[str, Descriptor]:
        with self._lock:
            return self._by_subject.pop(subject, {})

    def restore(self, subject: str, entries: dict[str, Descriptor]) -> None:
        """Hold `entries` again (a merge that took them failed)."""
        if entries:
            with self._lock:
                self._by_subject[subject] = {**entries, **self._by_subject.get(subject, {})}

    def subjects(self) -> list[str]:
        with self._lock:
            return sorted(self._by_subject)

    def count_listed(self, n: int) -> None:
        with self._lock:
            self._listed += n

    def take_listed(self) -> int:
        with self._lock:
            n, self._listed = self._listed, 0
            return n


class Repository(Protocol):
    """What this module needs of a registry repository (`supplychain.registry.repository`
    implements it; naming the protocol here keeps the two modules out of an import cycle)."""

    registry: str
    repository: str
    options: RegistryOptions
    transport: Transport
    confirmed_fallback: dict[str, tuple[float, dict[str, Any]]]
    deferred: DeferredIndex

    def describe(self) -> str: ...

    def _req(self, method: str, path: str, what: str, *, push: bool = False,
             **kw: Any) -> requests.Response: ...

    def read_manifest(self, identifier: str) -> tuple[bytes, str, str]: ...

    def write_manifest(self, data: bytes, media_type: str, tag: str | None = None, *,
                       index: bool = True) -> str: ...

    def reads_fallback_index(self) -> bool: ...


_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_LOCKS_GUARD = threading.Lock()
_LOCKS: dict[tuple[str, str], threading.Lock] = {}
MAX_PAGE_BYTES = 4 << 20
FALLBACK_ATTEMPTS = 10
SETTLE_MIN, SETTLE_MAX = 0.2, 3.0


def settle_delay(cycle: float) -> float:
    """How long to wait after a write before reading it back: a few times the write cycle we just
    measured (another writer's read-to-write gap is of that order), bounded, with jitter so two
    writers do not check in lockstep."""
    return min(max(SETTLE_MIN, 4 * cycle), SETTLE_MAX) + random.uniform(0, SETTLE_MIN / 2)  # noqa: S311


def artifact_type_of(doc: dict[str, Any]) -> str | None:
    """The artifact type the OCI spec lists for a referrer: artifactType, else config.mediaType."""
    kind = doc.get("artifactType")
    if isinstance(kind, str) and kind:
        return kind
    config = doc.get("config")
    if isinstance(config, dict) and isinstance(config.get("mediaType"), str):
        return str(config["mediaType"])
    return None


def referrer_descriptor(doc: dict[str, Any], media_type: str, digest: str, size: int) -> Descriptor:
    annotations = doc.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise ImageError("manifest annotations are not an object")
    return Descriptor(media_type, digest, size, {str(k): str(v) for k, v in annotations.items()},
                      artifact_type=artifact_type_of(doc))


def fallback_tag(digest: str) -> str:
    alg, hexpart = validate_digest(digest).split(":", 1)
    return f"{alg}-{hexpart}"[:128]


def _next_link(link: str | None, base: str) -> str | None:
    if not link:
        return None
    match = _LINK_NEXT.search(link)
    return urljoin(base + "/", match.group(1)) if match else None


def _json_page(repo: Repository, resp: Any, what: str) -> Any:
    """A page the transport read (capped); not JSON is an error naming host, path and status."""
    try:
        return load_json(resp.content, f"{what} from {repo.describe()}", max_bytes=MAX_PAGE_BYTES,
                         error=RegistryError)
    except RegistryError as exc:
        exc.facts.update({"registry": repo.registry, "status": resp.status_code,
                          "request": f"GET {urlsplit(resp.url or '').path}",
                          "content type": resp.headers.get("Content-Type", "")[:80]})
        raise


def probe_referrers_api(repo: Repository) -> bool | None:
    """A registry with the API answers 200 with an index for any digest; without it, 404/400/405.
    None when the answer says nothing: a 404 NAME_UNKNOWN (some registries with the API answer so
    for a repository that does not exist yet). A registry that cannot be asked raises."""
    probe = "sha256:" + "0" * 64
    try:
        resp = repo._req("GET", f"/v2/{repo.repository}/referrers/{probe}", "probe the referrers API",
                         ok=(200, 404, 400, 405), stream=True)
    except RegistryAuthError:  # some registries guard unknown routes; the fallback tag says more
        return False  # (an unreachable or failing registry raises: never "no referrers")
    content_type = resp.headers.get("Content-Type", "").split(";", 1)[0].strip()
    unknown_name = False
    if resp.status_code == 404:
        from supplychain.registry.transport import registry_error_codes

        unknown_name = "NAME_UNKNOWN" in registry_error_codes(resp)[0]
    resp.close()
    if unknown_name:
        return None
    return resp.status_code == 200 and content_type == MediaType.OCI_INDEX


def _verified_descriptor(repo: Repository, listed: Descriptor, subject: str) -> Descriptor:
    data, media_type, digest = repo.read_manifest(listed.digest)
    doc = parse_manifest(data, media_type)
    subject_doc = doc.get("subject")
    if not isinstance(subject_doc, dict) or subject_doc.get("digest") != subject:
        raise ImageError(
            f"{repo.describe()} lists {digest} as a referrer of {subject}, but its subject differs",
            expected=subject, found=str((subject_doc or {}).get("digest"))[:100],
            fix="the registry's referrers list is wrong; do not trust it",
        )
    return referrer_descriptor(doc, media_type, digest, len(data))


def _collect(repo: Repository, manifests: Any, listed: dict[str, Descriptor],
             rejected: list[tuple[str, str]]) -> None:
    if not isinstance(manifests, list):
        raise RegistryError(f"the referrers index from {repo.describe()} has no 'manifests' list")
    for position, raw in enumerate(manifests):
        try:
            desc = Descriptor.from_dict(raw)
        except ImageError as exc:
            rejected.append((f"entry {position}", f"a malformed descriptor: {exc.message}"))
            continue
        listed.setdefault(desc.digest, desc)
        if len(listed) > repo.options.max_referrers:
            raise RegistryError(
                f"{repo.describe()} lists more than {repo.options.max_referrers} referrers",
                expected=f"at most {repo.options.max_referrers}",
                fix="raise RegistryOptions.max_referrers if this many signatures are expected",
            )


def _listed_by_api(repo: Repository, digest: str, artifact_type: str | None,
                   rejected: list[tuple[str, str]]) -> dict[str, Descriptor]:
    listed: dict[str, Descriptor] = {}
    url: str | None = f"/v2/{repo.repository}/referrers/{digest}"
    params = {"artifactType": artifact_type} if artifact_type else None
    for _ in range(repo.options.max_pages):
        if url is None:
            break
        resp = repo._req("GET", url, f"list referrers of {digest}", params=params,
                         headers={"Accept": MediaType.OCI_INDEX}, body_cap=MAX_PAGE_BYTES)
        link = resp.headers.get("Link")
        doc = _json_page(repo, resp, "referrers index")
        _collect(repo, doc.get("manifests") if isinstance(doc, dict) else None, listed, rejected)
        url, params = _next_link(link, repo.transport.base_url), None
    if url is not None:  # a list cut short is not the list: what is on later pages is not absent
        raise RegistryError(
            f"{repo.describe()} lists the referrers of {digest} on more than {repo.options.max_pages} pages",
            expected=f"at most {repo.options.max_pages} pages", found=f"a next page after page "
                                                                      f"{repo.options.max_pages}",
            facts={"registry": repo.registry},
            fix="raise RegistryOptions.max_pages if the registry pages this finely; otherwise it is "
                "looping its Link header")
    return listed


def _read_fallback(repo: Repository, digest: str) -> dict[str, Any] | None:
    try:
        data, media_type, _ = repo.read_manifest(fallback_tag(digest))
    except RegistryNotFound:
        return None
    doc = parse_manifest(data, media_type)
    if doc["mediaType"] != MediaType.OCI_INDEX:
        raise RegistryError(f"the referrers tag {fallback_tag(digest)} in {repo.describe()} is not an "
                            "OCI index", found=str(doc["mediaType"]))
    return doc


def _checked(repo: Repository, listed: Descriptor, subject: str) -> Descriptor | str:
    """The verified descriptor, or why the listed entry is refused (its content, not the network:
    a registry that cannot be reached raises)."""
    try:
        return _verified_descriptor(repo, listed, subject)
    except ImageError as exc:  # unparsable, wrong digest, wrong type, absent (404), other subject
        return exc.message
    except (AttributeError, TypeError, ValueError) as exc:  # a field of the wrong shape
        return f"a malformed manifest ({type(exc).__name__})"


def referrers(repo: Repository, digest: str, artifact_type: str | None = None) -> ReferrerList:
    """Every referrer of `digest`, each fetched by digest and checked. Listing failures raise;
    a bad entry is left out and named in the result's `rejected`."""
    validate_digest(digest)
    rejected: list[tuple[str, str]] = []
    if not repo.reads_fallback_index():
        listed = _listed_by_api(repo, digest, artifact_type, rejected)
    else:
        listed = {}
        doc = _recently_confirmed(repo, digest) or _read_fallback(repo, digest)
        if doc is not None:
            _collect(repo, doc.get("manifests"), listed, rejected)
        held = repo.deferred.peek(digest)   # stored by this process, listed at its next merge
        if held:
            _collect(repo, [d.to_dict() for d in held], listed, rejected)
    # Listed types are not used at all: some registries list the config's media type there.
    wanted = list(listed.values())
    with ThreadPoolExecutor(max_workers=max(1, repo.options.max_workers)) as pool:
        results = list(pool.map(lambda d: _checked(repo, d, digest), wanted))
    found: list[Descriptor] = []
    for desc, result in zip(wanted, results, strict=True):
        if isinstance(result, str):
            rejected.append((desc.digest, result))
        elif not artifact_type or result.artifact_type == artifact_type:  # registries may ignore the filter
            found.append(result)
    return ReferrerList(sorted(found, key=lambda d: d.digest), rejected)


def _lock_for(repo: Repository, subject: str) -> threading.Lock:
    key = (repo.describe(), subject)
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


def _listed_digests(doc: dict[str, Any] | None) -> set[str]:
    if doc is None:
        return set()
    return {str(m.get("digest")) for m in doc.get("manifests") or [] if isinstance(m, dict)}


def _recently_confirmed(repo: Repository, subject: str) -> dict[str, Any] | None:
    """The index this process read back a moment ago (at most 2 s) after writing it, once."""
    seen = repo.confirmed_fallback.pop(subject, None)
    return seen[1] if seen and time.monotonic() - seen[0] < 2.0 else None


def fallback_listed(repo: Repository, subject: str) -> set[str]:
    """The digests the `sha256-<hex>` index of `subject` lists now (empty when there is none)."""
    return _listed_digests(_read_fallback(repo, validate_digest(subject)))


def add_to_fallback(repo: Repository, subject: str, wanted: list[Descriptor]) -> int:
    """Make the `sha256-<hex>` index of `subject` list every descriptor in `wanted`, and every
    entry the repository holds back for it (`DeferredIndex`), keeping every entry it lists
    (another writer's included). Returns how many entries this call added; 0 when all were
    listed already (one read, no write). Raises when the index does not settle (the held
    entries are held again)."""
    validate_digest(subject)
    with _lock_for(repo, subject):   # writers in this process take turns; others are checked
        held = repo.deferred.take(subject)
        own = {w.digest for w in wanted}
        try:
            added, of_held = _merge(repo, subject, wanted + [d for k, d in held.items() if k not in own],
                                    set(held))
        except BaseException:
            repo.deferred.restore(subject, held)
            raise
        repo.deferred.count_listed(of_held)
        return added


def _merge(repo: Repository, subject: str, wanted: list[Descriptor], held: set[str]) -> tuple[int, int]:
    """The verified read-modify-write of `add_to_fallback`: (entries added, of them held ones)."""
    added = of_held = 0
    if not wanted:
        return 0, 0
    for attempt in range(FALLBACK_ATTEMPTS):
        start = time.monotonic()
        doc = _read_fallback(repo, subject)
        listed = _listed_digests(doc)
        missing = [w for w in wanted if w.digest not in listed]
        if not missing:
            return added, of_held
        manifests = list(doc.get("manifests") or []) if doc else []
        if len(manifests) + len(missing) > repo.options.max_referrers:
            raise RegistryError(f"the referrers tag for {subject} in {repo.describe()} is full",
                                expected=f"at most {repo.options.max_referrers} referrers",
                                found=f"{len(manifests)} listed, {len(missing)} to add")
        manifests += [w.to_dict() for w in missing]
        index = {"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX, "manifests": manifests}
        repo.write_manifest(canonical_json(index), MediaType.OCI_INDEX, tag=fallback_tag(subject))
        added = max(added, len(missing))
        of_held = max(of_held, sum(1 for w in missing if w.digest in held))
        time.sleep(settle_delay(time.monotonic() - start))
        doc = _read_fallback(repo, subject)
        if not {w.digest for w in wanted} - _listed_digests(doc):
            if doc is not None:
                repo.confirmed_fallback[subject] = (time.monotonic(), doc)
            return added, of_held
        # Another writer's older copy replaced ours: back off (jittered) and merge again.
        time.sleep(random.uniform(0, min(2.0, 0.05 * 2 ** attempt)))  # noqa: S311
    raise RegistryError(
        f"the referrers tag {fallback_tag(subject)} in {repo.describe()} did not keep our entries",
        expected=f"{len(wanted)} referrer(s) listed after {FALLBACK_ATTEMPTS} merges",
        fix="other writers keep replacing the index; run again (a rerun re-indexes what is stored) "
            "or use a registry with the OCI 1.1 referrers API")


def list_tags(repo: Repository, page_size: int) -> list[str]:
    tags: list[str] = []
    seen: set[str] = set()
    url: str | None = f"/v2/{repo.repository}/tags/list"
    params: dict[str, str] | None = {"n": str(page_size)}
    for _ in range(repo.options.max_pages):
        if url is None:
            break
        resp = repo._req("GET", url, "list tags", params=params, body_cap=MAX_PAGE_BYTES)
        link = resp.headers.get("Link")
        doc = _json_page(repo, resp, "tag list")
        page = doc.get("tags") if isinstance(doc, dict) else None
        page = page or []
        if not isinstance(page, list) or not all(isinstance(t, str) for t in page):
            raise RegistryError(f"the tag list from {repo.describe()} is malformed")
        fresh = [t for t in page if t not in seen]
        seen.update(fresh)
        tags.extend(fresh)
        if len(tags) > repo.options.max_tags:
            raise RegistryError(f"{repo.describe()} has more than {repo.options.max_tags} tags",
                                fix="raise RegistryOptions.max_tags")
        url = _next_link(link, repo.transport.base_url)
        params = None
        if url is None and fresh and len(page) >= page_size:
            # No Link header (some registries): page on with `last=`.
            url, params = f"/v2/{repo.repository}/tags/list", {"n": str(page_size), "last": page[-1]}
    return sorted(tags)
