"""The build's timestamp: SOURCE_DATE_EPOCH, else the commit time (git facts: supplychain.source)."""

from __future__ import annotations

import os

from supplychain.source import SourceInfo


def build_epoch(explicit: int | None, info: SourceInfo) -> int:
    """SOURCE_DATE_EPOCH (explicit or from the environment), else the commit time, else 0."""
    if explicit is not None:
        return explicit
    env = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if env.isdigit():
        return int(env)
    return info.commit_time or 0
