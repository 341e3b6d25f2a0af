"""OCI distribution client: auth, blobs, manifests, mount, referrers (with the tag fallback).

    repo = open_repository(parse_image_ref("localhost:5000/team/app"), RegistryOptions())
    data, media_type, digest = repo.read_manifest("v1")   # digest computed by us, not the server

`Repository` implements `supplychain.image.store.ContentStore`, plus `mount_blob`, `list_tags`,
`supports_referrers_api` and `has_manifest`.
"""

from supplychain.registry.options import RegistryOptions, is_loopback
from supplychain.registry.repository import Repository, open_repository
from supplychain.registry.transport import RegistryAuthError, RegistryNotFound

__all__ = [
    "RegistryAuthError",
    "RegistryNotFound",
    "RegistryOptions",
    "Repository",
    "is_loopback",
    "open_repository",
]
