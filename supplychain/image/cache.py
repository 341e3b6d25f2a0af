"""Content by digest that one run has already read and verified (manifests and small blobs).

Content named by digest never changes, so stores of one run (a promotion's source and
destination) can share one cache: what resolving read is not fetched again by the view or the copy.
"""

from __future__ import annotations

import threading


class ContentCache:
    """Manifests and small blobs by digest (verified before they are put here), bounded in bytes."""

    def __init__(self, max_bytes: int = 64 << 20, max_blob: int = 1 << 20) -> None:
        self.max_bytes, self.max_blob = max_bytes, max_blob
        self._items: dict[str, tuple[bytes, str]] = {}
        self._size = 0
        self._lock = threading.Lock()

    def get(self, digest: str) -> tuple[bytes, str] | None:
        with self._lock:
            return self._items.get(digest)

    def put(self, digest: str, data: bytes, media_type: str) -> None:
        """`media_type` is the manifest media type, or "" for a blob."""
        if len(data) > self.max_blob:
            return
        with self._lock:
            if digest in self._items or self._size + len(data) > self.max_bytes:
                return
            self._items[digest] = (data, media_type)
            self._size += len(data)
