"""Layer compression: gzip that gives the same bytes on every machine, on every core.

One gzip member per fixed 1 MiB block of the input, each compressed by libdeflate (the `deflate`
package, pinned exactly in the lock because libdeflate's output may change between releases).
libdeflate releases the GIL, so blocks compress in parallel threads, and it is about three times
faster than zlib at the same level while writing smaller output. The bytes depend only on the
input, the level, GZIP_BLOCK and COMPRESSOR: never on the machine, its core count or the system's
zlib (which differs between distributions: zlib, zlib-ng's compatible build).

A series of members is one gzip file (RFC 1952, section 2.2): Go's gzip reader (containerd,
the Docker engine, go-containerregistry, skopeo), Python's and gzip(1) read them as one stream,
and eStargz layers are made the same way. Splitting costs a block's 18 bytes of header and
trailer and the window it cannot share: 0.1-0.2% against one stream (benchmarks/).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import deflate

from supplychain.errors import BuildError, Error

GZIP_LEVEL = 6            # 2.5x faster than 9 for <1% more bytes; smaller than zlib's 6 (benchmarks/)
MAX_GZIP_LEVEL = 12       # libdeflate's levels: 1 fastest ... 9 ... 10-12 slow, smallest
GZIP_BLOCK = 1 << 20      # the output depends on this, never on how many cores compress
COMPRESSOR = f"libdeflate (deflate {deflate.__version__}), one gzip member per {GZIP_BLOCK >> 20} MiB"


def check_level(level: int, error: type[Error] = BuildError) -> None:
    """`error` (a BuildError by default; the CLI's request check passes UsageError) unless
    `level` is one of libdeflate's."""
    if not 1 <= level <= MAX_GZIP_LEVEL:
        raise error(f"invalid gzip level {level}",
                    expected=f"1 (fastest) to {MAX_GZIP_LEVEL} (smallest); the default is {GZIP_LEVEL}")


def describe(level: int) -> str:
    """What the layers' gzip bytes depend on besides the files: recorded with the build."""
    return f"gzip level {level}, {COMPRESSOR}"


def deterministic_gzip(data: bytes, level: int = GZIP_LEVEL) -> bytes:
    """gzip of `data` (mtime 0, no file name) as one member per GZIP_BLOCK bytes."""
    check_level(level)
    view = memoryview(data)
    starts = range(0, len(data), GZIP_BLOCK) if data else range(1)

    def member(start: int) -> bytes:
        return bytes(deflate.gzip_compress(view[start:start + GZIP_BLOCK], level))

    workers = min(len(starts), os.cpu_count() or 1)
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sccheck-gzip") as pool:
            return b"".join(pool.map(member, starts))
    return b"".join(member(s) for s in starts)


def member_sizes(total: int) -> list[int]:
    """How many bytes each member of deterministic_gzip's output holds, for `total` bytes."""
    if total == 0:
        return [0]
    return [min(GZIP_BLOCK, total - start) for start in range(0, total, GZIP_BLOCK)]
