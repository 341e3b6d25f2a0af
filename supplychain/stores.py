"""Open the content store a reference names: an OCI layout directory or a registry repository.

This sits above both `image` (which knows nothing of registries) and `registry`, so neither
imports the other in a cycle.

    store = open_store("localhost:5000/team/app:v1", RegistryOptions(ca_file="ca.pem"))
    with destination("oci:dist/oci", options) as store:   # a layout is written all-or-nothing
        copy_image(src, digest, store, "v1")
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from supplychain.image.layout import OCILayout
from supplychain.image.reference import ImageRef, parse_image_ref
from supplychain.image.store import ContentStore
from supplychain.registry.options import RegistryOptions


def open_store(ref: ImageRef | str, options: RegistryOptions | None = None, *,
               create: bool = False) -> ContentStore:
    """`oci:DIR` opens (or with create=True, creates) a layout; anything else a registry
    repository, reached with `options` (TLS, credentials, retries)."""
    if isinstance(ref, str):
        ref = parse_image_ref(ref)
    if ref.is_layout:
        assert ref.layout_dir is not None
        return OCILayout(ref.layout_dir, create=create)
    from supplychain.registry.repository import open_repository  # the HTTP client, only when used

    return open_repository(ref, options)


@contextmanager
def destination(ref: ImageRef | str, options: RegistryOptions | None = None) -> Iterator[ContentStore]:
    """A store to write an image into. A layout is written in a transaction (created when
    missing; on failure it is left exactly as it was); a registry repository as it is (the tag
    is the last thing written, so a failure leaves no tag moved)."""
    if isinstance(ref, str):
        ref = parse_image_ref(ref)
    if ref.is_layout:
        assert ref.layout_dir is not None
        with OCILayout.transaction(ref.layout_dir) as layout:
            yield layout
        return
    from supplychain.registry.repository import open_repository

    yield open_repository(ref, options)


__all__ = ["destination", "open_store"]
