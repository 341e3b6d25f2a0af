"""Compressed layers by what they hold: a rebuild whose files did not change reuses the gzip
bytes of the last build instead of compressing the same tar again.

The key is the digest of the uncompressed tar (the layer's diff_id) together with everything
the compressed bytes depend on: the compressor (supplychain.build.compress.COMPRESSOR: the
library and its version), the level and the block size. A hit is therefore the very bytes
compressing would give, and the image digest is the same with the cache as without it. An entry
is checked before it is used: it is decompressed, its members must hold the blocks compressing
makes, and the digest of what comes out must be the diff_id, so a damaged or foreign entry is
compressed again and replaced, never put into an image.

Where: $SCCHECK_CACHE_DIR/layers, else $XDG_CACHE_HOME/sccheck/layers, else
~/.cache/sccheck/layers. SCCHECK_LAYER_CACHE=0 turns it off. The oldest entries are removed
once the directory holds more than MAX_BYTES.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import zlib
from pathlib import Path

from supplychain.build.compress import COMPRESSOR, GZIP_BLOCK
from supplychain.fsutil import cache_root, prune_least_recent

MAX_BYTES = 512 << 20
MAX_INFLATED = 1 << 34        # a cached layer never inflates past 16 GiB, whatever it claims


class LayerCache:
    """Gzip'd layer bytes by (diff_id, compressor, level, block size), in one directory."""

    def __init__(self, directory: Path, max_bytes: int = MAX_BYTES) -> None:
        self.directory, self.max_bytes = directory, max_bytes
        self.hits = self.misses = 0

    @classmethod
    def default(cls) -> LayerCache | None:
        """The user's layer cache, or None when SCCHECK_LAYER_CACHE=0."""
        if os.environ.get("SCCHECK_LAYER_CACHE", "1").strip().lower() in ("0", "off", "false", "no"):
            return None
        return cls(cache_root() / "layers")

    @staticmethod
    def key(diff_id: str, level: int, block: int) -> str:
        recipe = f"{diff_id} gzip {COMPRESSOR} level-{level} block-{block}"
        return hashlib.sha256(recipe.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.gz"

    def get(self, diff_id: str, level: int, block: int) -> bytes | None:
        path = self._path(self.key(diff_id, level, block))
        try:
            data = path.read_bytes()
        except OSError:
            self.misses += 1
            return None
        if not _holds(data, diff_id):
            with contextlib.suppress(OSError):
                path.unlink()
            self.misses += 1
            return None
        with contextlib.suppress(OSError):
            os.utime(path)              # recently used: pruned last
        self.hits += 1
        return data

    def put(self, diff_id: str, level: int, block: int, data: bytes) -> None:
        """Best effort: a cache that cannot be written (read-only home, full disk) is skipped."""
        path = self._path(self.key(diff_id, level, block))
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            return
        prune_least_recent(self.directory, ".gz", self.max_bytes, keep=path)


def _holds(data: bytes, diff_id: str) -> bool:
    """Whether `data` is the members compressing gives (each holds GZIP_BLOCK bytes, the last
    the rest) and what they hold has digest `diff_id`."""
    digest = hashlib.sha256()
    total, rest, sizes = 0, data, []
    try:
        while True:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            size = 0
            while rest and not inflater.eof:
                chunk = inflater.decompress(rest, GZIP_BLOCK + 1)   # a block at most: no bomb
                size += len(chunk)
                if size > GZIP_BLOCK:
                    return False
                digest.update(chunk)
                rest = inflater.unconsumed_tail
            if not inflater.eof:
                return False                      # cut short
            sizes.append(size)
            total += size
            rest = inflater.unused_data
            if not rest:
                break
            if total > MAX_INFLATED or size != GZIP_BLOCK:
                return False                      # a member after a short one: not ours
    except zlib.error:
        return False
    if len(sizes) > 1 and sizes[-1] == 0:
        return False                              # an empty member after the blocks
    return "sha256:" + digest.hexdigest() == diff_id
