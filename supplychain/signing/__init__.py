"""Sigstore signing of images: keyless (Fulcio + Rekor + TSA) and key-based, as DSSE bundles
stored next to the image as OCI 1.1 referrers, compatible with cosign v3."""

from __future__ import annotations

from typing import TYPE_CHECKING

from supplychain._lazy import lazy_exports

if TYPE_CHECKING:
    from supplychain.signing.api import SignResult, attest_image, sign_image
    from supplychain.signing.keys import generate_key_pair
    from supplychain.signing.storage import StoredBundle, attach_bundle, list_bundles

# Loaded on first use: `verify` reads the trust configuration and key helpers of this package
# and never signs, so it does not pay for the signing layer (the HTTP client, the token sources).
_LAZY = {"SignResult": "api", "attest_image": "api", "sign_image": "api",
         "generate_key_pair": "keys", "StoredBundle": "storage", "attach_bundle": "storage",
         "list_bundles": "storage"}

__getattr__ = lazy_exports(__name__, _LAZY)

__all__ = ["SignResult", "StoredBundle", "attach_bundle", "attest_image", "generate_key_pair",
           "list_bundles", "sign_image"]
