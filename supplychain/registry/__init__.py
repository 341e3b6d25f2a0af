"""OCI distribution client: auth, blobs, manifests, mount, referrers (with the tag fallback).

    repo = open_repository(parse_image_ref("localhost:5000/team/app"), RegistryOptions())
    data, media_type, digest = repo.read_manifest("v1")   # digest computed by us, not the server

`Repository` implements `supplychain.image.store.ContentStore`, plus `mount_blob`, `list_tags`,
`supports_referrers_api` and `has_manifest`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supplychain._lazy import lazy_exports
from supplychain.registry.options import RegistryOptions, is_loopback

if TYPE_CHECKING:
    from supplychain.registry.repository import Repository, open_repository
    from supplychain.registry.transport import RegistryAuthError, RegistryNotFound

# The HTTP client (requests, urllib3: a third of a build's start-up) is imported on first use:
# a command that only reads options, or writes an OCI layout, never loads it.
_LAZY = {"Repository": "repository", "open_repository": "repository",
         "RegistryAuthError": "transport", "RegistryNotFound": "transport"}


__getattr__ = lazy_exports(__name__, _LAZY)

__all__ = [
    "RegistryAuthError",
    "RegistryNotFound",
    "RegistryOptions",
    "Repository",
    "is_loopback",
    "open_repository",
]
