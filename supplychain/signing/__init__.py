"""Sigstore signing of images: keyless (Fulcio + Rekor + TSA) and key-based, as DSSE bundles
stored next to the image as OCI 1.1 referrers, compatible with cosign v3."""

from supplychain.signing.api import SignResult, attest_image, sign_image
from supplychain.signing.keys import generate_key_pair
from supplychain.signing.storage import StoredBundle, attach_bundle, list_bundles

__all__ = ["SignResult", "StoredBundle", "attach_bundle", "attest_image", "generate_key_pair",
           "list_bundles", "sign_image"]
