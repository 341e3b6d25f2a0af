"""Sizes read from an OCI image layout: what a registry would store for the image."""

from __future__ import annotations

import json
from pathlib import Path


def _blob(layout: Path, digest: str) -> bytes:
    algo, hexd = digest.split(":", 1)
    return (layout / "blobs" / algo / hexd).read_bytes()


def image_size(layout: Path) -> int:
    """Compressed bytes of manifest(s), configs and layers of the layout's first image."""
    index = json.loads((layout / "index.json").read_text())
    total = 0
    todo = [index["manifests"][0]]
    for _ in range(64):
        if not todo:
            break
        desc = todo.pop()
        total += int(desc["size"])
        doc = json.loads(_blob(layout, desc["digest"]))
        if "manifests" in doc:
            todo += doc["manifests"]
        else:
            total += int(doc["config"]["size"]) + sum(int(x["size"]) for x in doc["layers"])
    return total
