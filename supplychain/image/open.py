"""Open the content store a reference names: an OCI layout directory or a registry repository."""

from __future__ import annotations

from typing import Any

from supplychain.image.layout import OCILayout
from supplychain.image.reference import ImageRef, parse_image_ref
from supplychain.image.store import ContentStore


def open_store(ref: ImageRef | str, *, create: bool = False, registry_options: Any = None) -> ContentStore:
    """`oci:DIR` opens (or with create=True, creates) a layout; anything else a registry repository
    through the registry layer (`supplychain.registry.open_repository`)."""
    if isinstance(ref, str):
        ref = parse_image_ref(ref)
    if ref.is_layout:
        assert ref.layout_dir is not None
        return OCILayout(ref.layout_dir, create=create)
    from supplychain.registry import open_repository

    store: ContentStore = open_repository(ref, registry_options)
    return store
