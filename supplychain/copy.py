"""Copy an image by digest between any two content stores, optionally with its referrers.

    result = copy_image(src, "v1", dst, "v1", referrers=True)

The whole graph moves (index -> manifests -> config + layers), children before parents;
blobs in parallel with bounded concurrency; blobs the destination has are skipped; between two
repositories of one registry, blobs are mounted (no bytes move). The destination tag is written
last, and never moved away from a different digest unless `force=True`; it is read back after
the write, so a concurrent writer that won is reported, not silently overwritten (`move_tag`).

Referrers are listed where the destination's clients look for them: a registry with the
referrers API lists them when they are written; otherwise (or with `referrers_mode` tag/both)
every referrer of a subject is added to its fallback index in one verified merge, including
referrers that were stored by an earlier, interrupted copy but never listed.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from supplychain.errors import ImageError, UsageError
from supplychain.image.descriptor import Descriptor, ReferrerList
from supplychain.image.store import ContentStore, share_cache
from supplychain.image.view import View, open_image
from supplychain.progress import Progress, SilentProgress
from supplychain.registry.options import RegistryOptions

MAX_REFERRER_DEPTH = 4
MAX_GRAPH_MANIFESTS = 10_000
MAX_INDEX_DEPTH = 8


class TagConflict(UsageError):
    """The destination tag already names a different image."""

    kind = "refused"


class TagRaceLost(TagConflict):
    """Another writer moved the tag at the same time, and its digest is what the tag names now."""


@dataclass(frozen=True)
class CopyResult:
    digest: str
    media_type: str
    manifests_copied: int
    blobs_copied: int
    blobs_mounted: int
    blobs_skipped: int
    bytes_moved: int  # blob bytes that travelled (not mounted, not skipped); manifests excluded
    referrers_copied: int
    manifests_skipped: int = 0
    referrers_indexed: int = 0   # entries added to fallback indexes (repairs included)
    tag: str | None = None
    tag_updated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class _Counts:
    lock: threading.Lock = field(default_factory=threading.Lock)
    manifests_copied: int = 0
    manifests_skipped: int = 0
    blobs_copied: int = 0
    blobs_mounted: int = 0
    blobs_skipped: int = 0
    bytes_moved: int = 0
    referrers_copied: int = 0

    def add(self, **kw: int) -> None:
        with self.lock:
            for key, value in kw.items():
                setattr(self, key, getattr(self, key) + value)


@dataclass
class _Node:
    desc: Descriptor
    view: View


def _walk(src: ContentStore, top: Descriptor, pool: ThreadPoolExecutor | None = None) -> list[_Node]:
    """The manifests under `top` (each read through the view, so verified by digest), children
    before parents. EVERY child of an index is copied, runnable or not (the view's `children()`).
    With `pool`, the children of an index are read together (one round trip, not one each)."""
    order: list[_Node] = []
    seen: set[str] = set()
    read: dict[str, View] = {}   # read ahead, not visited yet

    def visit(desc: Descriptor, depth: int) -> None:
        if desc.digest in seen:
            return
        seen.add(desc.digest)
        if depth > MAX_INDEX_DEPTH:
            raise ImageError(f"indexes in {src.describe()} nest deeper than {MAX_INDEX_DEPTH} levels")
        view = read.pop(desc.digest, None) or open_image(src, desc.digest)
        kids = [c.descriptor for c in view.children() if c.kind != "other"]
        ahead = {d.digest: d for d in kids if d.digest not in seen and d.digest not in read}
        if len(seen) + len(read) + len(ahead) > MAX_GRAPH_MANIFESTS:   # before any of them is read
            raise ImageError(f"the image graph in {src.describe()} has more than {MAX_GRAPH_MANIFESTS} "
                             "manifests")
        if pool is not None and len(ahead) > 1 and depth < MAX_INDEX_DEPTH:
            views = pool.map(lambda d: open_image(src, d.digest), ahead.values())
            read.update(zip(ahead, views, strict=True))
        for child in kids:
            visit(child, depth + 1)
        order.append(_Node(desc, view))

    visit(top, 0)
    return order


def graph_blobs(src: ContentStore, top: Descriptor) -> tuple[list[str], list[Descriptor]]:
    """The manifest digests and the blobs (configs, layers) of the image graph under `top`, as
    a copy would move them; every manifest read is verified by digest."""
    nodes = _walk(src, top)
    blobs: dict[str, Descriptor] = {}
    for node in nodes:
        for child in node.view.blobs():
            blobs.setdefault(child.digest, child)
    return [n.desc.digest for n in nodes], list(blobs.values())


def _put_manifest(dst: ContentStore, node: _Node, listed: bool, index: bool = True) -> None:
    data, media_type = node.view.raw, node.view.media_type
    if not listed:
        dst.store_manifest(data, media_type)  # a child of an index (a layout keeps it as a blob)
        return
    dst.write_manifest(data, media_type, index=index)


def _levels(items: list[tuple[_Node, bool, bool]]) -> list[list[tuple[_Node, bool, bool]]]:
    """`items` (children before parents) in levels: a manifest's level is one above the highest
    of its children among them, so each level can be written once the levels below it are."""
    level_of: dict[str, int] = {}
    levels: list[list[tuple[_Node, bool, bool]]] = []
    for item in items:
        node = item[0]
        kids = [c.descriptor.digest for c in node.view.children()]
        below = [level_of[k] for k in kids if k in level_of]
        level = max(below, default=-1) + 1
        level_of[node.desc.digest] = max(level, level_of.get(node.desc.digest, 0))
        if level == len(levels):
            levels.append([])
        levels[level].append(item)
    return levels


class _Copier:
    def __init__(self, src: ContentStore, dst: ContentStore, progress: Progress,
                 pool: ThreadPoolExecutor) -> None:
        self.src, self.dst, self.progress, self.pool = src, dst, progress, pool
        self.counts = _Counts()
        self.done_blobs: set[str] = set()
        self.seen_referrers: set[str] = set()
        self.assume_missing = False   # the top manifest was absent: so are its referrers
        self.leaf_types: frozenset[str] = frozenset()
        self.types: dict[str, str | None] = {}
        self.indexed = 0
        self.defer_index = False   # hold fallback-index entries for the caller's next merge

    def copy_blob(self, desc: Descriptor) -> None:
        # Between repositories of one registry a mount is one request whether or not the blob is
        # there already (the store declines at once where it cannot mount); otherwise ask first,
        # so present layers do not travel again.
        if not self.dst.knows_blob(desc.digest) and self.dst.mount_blob_from(self.src.origin_of(desc), desc):
            self.counts.add(blobs_mounted=1)
            return
        if self.dst.has_blob(desc.digest):
            self.counts.add(blobs_skipped=1)
            return
        # Streamed from the source into the upload; read again if the destination breaks off.
        self.dst.write_blob_chunks(desc, self.src.iter_blob(desc), reopen=lambda: self.src.iter_blob(desc))
        self.counts.add(blobs_copied=1, bytes_moved=desc.size)

    def copy_graph(self, items: list[tuple[_Node, bool, bool]]) -> int:
        """Copy manifests (in the given order: children first) and their blobs; each item is
        (node, listed in a layout's index, is a referrer). A manifest the destination has is
        taken as complete (registries refuse manifests whose blobs are missing): its blobs are
        not checked again, which makes a repeated copy cheap."""
        if self.assume_missing:
            present = [False] * len(items)
        else:
            present = list(self.pool.map(lambda item: self.dst.has_manifest(item[0].desc.digest, item[1],
                                                                             size=len(item[0].view.raw)),
                                         items))
        missing = [item for item, there in zip(items, present, strict=True) if not there]
        self.counts.add(manifests_skipped=len(items) - len(missing))
        blobs: dict[str, Descriptor] = {}
        for node, _, _ in missing:
            for child in node.view.blobs():
                if child.digest not in self.done_blobs:
                    blobs.setdefault(child.digest, child)
        if blobs:
            self.progress.step("blobs", f"{len(blobs)} to {self.dst.describe()}")
            # Largest first: the long transfers start at once and the short ones fill in beside
            # them, instead of a big layer queued behind small ones finishing last.
            ordered = sorted(blobs.values(), key=lambda b: b.size, reverse=True)
            for future in [self.pool.submit(self.copy_blob, b) for b in ordered]:
                future.result()
            self.done_blobs.update(blobs)
            self.progress.done("blobs")
        for level in _levels(missing):
            # On a registry the manifests of one level go up together (an interrupted run may
            # leave several unfinished: a registry keeps none of a write cut short, and one
            # that keeps it anyway is found out by its length on the next run, `has_manifest`);
            # a layout writes one at a time (its index file is not shared between threads).
            if self.dst.shared() and len(level) > 1:
                list(self.pool.map(self.put, level))
            else:
                for item in level:
                    self.put(item)
        return len(missing)

    def put(self, item: tuple[_Node, bool, bool]) -> None:
        node, listed, is_referrer = item
        _put_manifest(self.dst, node, listed, index=not is_referrer)
        self.counts.add(manifests_copied=1, referrers_copied=int(is_referrer))

    def copy_referrers(self, subjects: list[str]) -> None:
        """Referrers of `subjects`, then theirs, level by level (bounded depth); each level's
        blobs move together in the pool."""
        for _ in range(MAX_REFERRER_DEPTH):
            if not subjects:
                return
            per_subject = list(self.pool.map(self.src.referrers, subjects))
            listed = [d for found in per_subject for d in found]
            for where, reason in [r for found in per_subject for r in found.rejected]:
                self.progress.info(f"referrer {where[:19]} left behind: {reason}")
            fresh = [d for d in listed if d.digest not in self.seen_referrers]
            self.seen_referrers.update(d.digest for d in fresh)
            items: list[tuple[_Node, bool, bool]] = []
            for ref in fresh:
                self.types[ref.digest] = ref.artifact_type
                nodes = _walk(self.src, ref)
                items.extend((n, n is nodes[-1], n is nodes[-1]) for n in nodes)
            self.copy_graph(items)
            self.index(subjects, per_subject)
            # Referrers of a leaf type (self-contained evidence, e.g. a Sigstore bundle) are not
            # looked for: one listing request less per referrer.
            subjects = [n.desc.digest for n, _, _ in items
                        if (self.types.get(n.desc.digest) or "") not in self.leaf_types]
            self.types.clear()

    def index(self, subjects: list[str], per_subject: list[ReferrerList]) -> None:
        """List every referrer of each subject in the destination's fallback index where it keeps
        one: the ones just copied and the ones it had (stored by an earlier run, maybe never
        listed). One verified merge per subject; a subject whose index lists them all costs one read."""
        work = [(s, list(found)) for s, found in zip(subjects, per_subject, strict=True) if found]
        if self.defer_index:
            for subject, found in work:
                self.dst.index_referrers(subject, found, defer=True)
            return
        for added in self.pool.map(lambda item: self.dst.index_referrers(*item), work):
            self.indexed += int(added)


def move_tag(dst: ContentStore, tag: str, data: bytes, media_type: str, digest: str,
             expected: str | None) -> None:
    """Point `tag` at `digest` (whose manifest is `data`), if it still names `expected` (None: no
    image). On a registry the tag is read back after a settle interval longer than a rival's
    check-to-write gap: if another digest won, this raises TagRaceLost naming the winner, so two
    concurrent moves never both report success. The winner's tag is left as it is."""
    start = time.monotonic()
    now = dst.lookup_tag(tag)
    if now not in (expected, digest):
        raise TagConflict(f"{dst.describe()}:{tag} changed while this run worked",
                          expected=f"{tag} -> {expected or 'nothing'} (as at the start) or {digest}",
                          found=f"{tag} -> {now}", fix="another writer moved the tag; check what it "
                          "names now and run again (with --force to move it)",
                          facts={"winner": now or "", "digest": digest})
    dst.write_manifest(data, media_type, tag=tag)
    if not dst.shared():
        return
    from supplychain.registry.referrers import settle_delay  # a registry's: loads the HTTP client

    time.sleep(settle_delay(time.monotonic() - start))
    after = dst.lookup_tag(tag)
    if after != digest:
        raise TagRaceLost(f"another writer moved {dst.describe()}:{tag} at the same time, and won",
                          expected=f"{tag} -> {digest} (written by this run)",
                          found=f"{tag} -> {after}",
                          fix="check which image the tag should name; run again with --force to move it",
                          facts={"winner": after or "", "digest": digest})


def copy_image(
    src: ContentStore,
    identifier: str,
    dst: ContentStore,
    dst_tag: str | None,
    *,
    referrers: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    max_workers: int = 4,
    leaf_types: frozenset[str] = frozenset(),
    defer_index: bool = False,
) -> CopyResult:
    """Copy the image `identifier` (tag or digest) names in `src` to `dst`, by digest. With
    `referrers`, every referrer and theirs (bounded depth), except that the referrers of a
    referrer whose artifact type is in `leaf_types` are not looked for. With `defer_index`, the
    referrers' fallback-index entries are held in `dst` for the caller's next merge of each
    subject's index or `dst.flush_index()` (and `referrers_indexed` is 0)."""
    if defer_index and dst_tag:
        raise ValueError("a copy that defers indexing does not write the tag (the caller flushes first)")
    progress = progress or SilentProgress()
    top = src.resolve(identifier)
    digest, media_type = top.digest, top.media_type
    existing = dst.lookup_tag(dst_tag) if dst_tag else None
    if existing is not None and existing != digest and not force:
        raise TagConflict(
            f"{dst.describe()}:{dst_tag} already names a different image",
            expected=f"{dst_tag} unset or pointing at {digest} (the image being copied)",
            found=f"{dst_tag} -> {existing}",
            fix="pass --force to move the tag, or copy to another tag or by digest",
            facts={"source digest": digest, "destination digest": existing},
        )
    progress.step("copy", f"{src.describe()}@{digest} -> {dst.describe()}")
    with ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="sccheck-copy") as pool:
        copier = _Copier(src, dst, progress, pool)
        copier.leaf_types = leaf_types
        copier.defer_index = defer_index
        nodes = _walk(src, top, pool)
        # The top manifest goes in by digest too (a registry stores it; a layout lists it untagged
        # only when no tag follows), so a failure before the tag leaves the tag untouched.
        written = copier.copy_graph([(n, dst_tag is None and n is nodes[-1], False) for n in nodes])
        copier.assume_missing = written == len(nodes) and dst.shared()
        if referrers:
            copier.copy_referrers([n.desc.digest for n in nodes])
    tag_updated = False
    if dst_tag and existing != digest:
        move_tag(dst, dst_tag, nodes[-1].view.raw, media_type, digest, existing)
        tag_updated = True
    c = copier.counts
    progress.done("copy", f"{c.manifests_copied} manifests, {c.blobs_copied} blobs copied, "
                          f"{c.blobs_mounted} mounted, {c.blobs_skipped} present, {c.bytes_moved} bytes")
    return CopyResult(digest=digest, media_type=media_type, manifests_copied=c.manifests_copied,
                      blobs_copied=c.blobs_copied, blobs_mounted=c.blobs_mounted,
                      blobs_skipped=c.blobs_skipped, bytes_moved=c.bytes_moved,
                      referrers_copied=c.referrers_copied, manifests_skipped=c.manifests_skipped,
                      referrers_indexed=copier.indexed, tag=dst_tag, tag_updated=tag_updated)


def copy_reference(
    source: str,
    destination: str,
    *,
    options: RegistryOptions | None = None,
    referrers: bool = False,
    force: bool = False,
    progress: Progress | None = None,
) -> tuple[CopyResult, str]:
    """`sccheck copy SRC DST`: open both ends (registry or `oci:DIR`), copy, and return the
    result with the destination reference pinned by digest. A layout destination is written in
    a transaction: a failed copy leaves it as it was."""
    from supplychain.image.reference import parse_image_ref
    from supplychain.stores import destination as open_destination
    from supplychain.stores import open_store

    src_ref, dst_ref = parse_image_ref(source), parse_image_ref(destination)
    src = open_store(src_ref, options)
    share_cache(src)   # what resolving read (each manifest checked) is not fetched again
    workers = options.max_workers if options is not None else 4

    def run(dst: ContentStore) -> CopyResult:
        if dst_ref.digest:
            digest = src.resolve(src_ref.identifier).digest
            if digest != dst_ref.digest:
                raise UsageError(f"the destination is pinned to {dst_ref.digest}, but {source} is {digest}",
                                 fix="drop the digest from the destination or copy the image it names")
        return copy_image(src, src_ref.identifier, dst, dst_ref.tag, referrers=referrers, force=force,
                          progress=progress, max_workers=workers)

    with open_destination(dst_ref, options) as dst:
        result = run(dst)
    return result, f"{dst_ref.name}@{result.digest}"
