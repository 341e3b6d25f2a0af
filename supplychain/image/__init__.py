"""The image abstraction shared by every source and sink.

Content is addressed by digest everywhere. A `ContentStore` (OCI layout directory, registry
repository) stores blobs and manifests; builders produce blobs + manifests into one; copy,
sign, verify and promote read and write through the same interface.
"""

from supplychain.image.descriptor import (
    Descriptor,
    MediaType,
    compute_digest,
    parse_manifest,
    validate_digest,
)
from supplychain.image.reference import ImageRef, parse_image_ref

__all__ = [
    "Descriptor",
    "ImageRef",
    "MediaType",
    "compute_digest",
    "parse_image_ref",
    "parse_manifest",
    "validate_digest",
]
