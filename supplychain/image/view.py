"""Read-only views of an image in any content store: `open_image(store, digest)`.

    view = open_image(store, digest)          # an IndexView or an ImageView
    for image in view.runnable():             # what a runtime could select, each on its own
        image.platform, image.config(), image.layers()

Every manifest is read by digest and hashed here again, whatever the store claims.

THE RULE (the only place that decides which children of an index exist and which are runnable;
docs/signing.md states it for users):

- `children()` lists every descriptor of an index, in order. Copy moves all of them.
- A child is *runnable* unless its descriptor's platform is exactly `os=unknown` AND
  `architecture=unknown` (BuildKit's attestation manifests: no runtime selects them).
- A child without a platform IS runnable: containerd picks such a child after reading its
  config, so it is judged on its own, with the platform of its config (`unknown` when the config
  names none).
- Annotations do not change this: `vnd.docker.reference.type` on a child with a real platform
  does not make it unrunnable.
- A child whose media type is neither an image manifest nor an index is not an image; it is
  not runnable (runtimes skip it) but copy still moves it.
- A nested index child that is runnable by the rule above is refused (`ImageError`): sign,
  verify and promote do not judge images a runtime could reach only through a second index.

sign, attest, verify, promote, sbom and harden work on `runnable()`; copy on `children()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from supplychain.errors import DigestMismatch, ImageError
from supplychain.image.descriptor import (
    MAX_CHILDREN,
    Descriptor,
    MediaType,
    compute_digest,
    parse_manifest,
    validate_digest,
)
from supplychain.image.platform import UNKNOWN, Platform
from supplychain.image.store import ContentStore
from supplychain.strictdoc import load_json

MAX_RUNNABLE = 64       # images one index may offer a runtime (each is verified on its own)
MAX_CONFIG_BYTES = 4 << 20
CONFIG_TYPES = frozenset({MediaType.OCI_CONFIG, MediaType.DOCKER_CONFIG})
BASE_NAME = "org.opencontainers.image.base.name"
BASE_DIGEST = "org.opencontainers.image.base.digest"


def _read(store: ContentStore, digest: str) -> tuple[bytes, dict[str, Any]]:
    validate_digest(digest)
    data, media_type, _ = store.read_manifest(digest)
    actual = compute_digest(data, digest.split(":", 1)[0])
    if actual != digest:
        raise DigestMismatch(f"{store.describe()} returned a manifest that does not match its digest",
                             expected=digest, found=actual,
                             fix="the store (or something between) serves tampered content; do not use it")
    return data, parse_manifest(data, media_type)


@dataclass(frozen=True)
class Child:
    """One entry of an index, with the rule's verdict on it."""

    descriptor: Descriptor
    kind: str                      # "image" | "index" | "other"
    runnable: bool
    reason: str = ""               # why it is not runnable

    @property
    def digest(self) -> str:
        return self.descriptor.digest

    @property
    def platform(self) -> Platform | None:
        """The platform its descriptor declares (None when it declares none)."""
        return Platform.from_oci(self.descriptor.platform)


def classify(desc: Descriptor) -> Child:
    """THE RULE, for one child descriptor (see the module docstring)."""
    if desc.media_type in MediaType.MANIFESTS:
        kind = "image"
    elif desc.media_type in MediaType.INDEXES:
        kind = "index"
    else:
        return Child(desc, "other", False, f"media type {desc.media_type} is not an image")
    platform = Platform.from_oci(desc.platform)
    if platform is not None and platform.is_unknown:
        return Child(desc, kind, False, "platform unknown/unknown (an attestation manifest)")
    return Child(desc, kind, True)


@dataclass
class ImageView:
    """One image manifest: config, layers, and the facts the policy reads."""

    store: ContentStore
    digest: str
    raw: bytes
    manifest: dict[str, Any]
    descriptor: Descriptor | None = None       # its entry in the parent index, if any
    _config: dict[str, Any] | None = field(default=None, repr=False)

    is_index = False

    @property
    def media_type(self) -> str:
        return str(self.manifest["mediaType"])

    def config_descriptor(self) -> Descriptor | None:
        raw = self.manifest.get("config")
        return Descriptor.from_dict(raw) if isinstance(raw, dict) else None

    def config(self) -> dict[str, Any]:
        """The image config (`{}` for an artifact manifest whose config is not an image config)."""
        if self._config is None:
            desc = self.config_descriptor()
            config: Any = {}
            if desc is not None and desc.media_type in CONFIG_TYPES:
                if desc.size > MAX_CONFIG_BYTES:
                    raise ImageError(f"the config of {self.digest} is too large",
                                     expected=f"at most {MAX_CONFIG_BYTES} bytes", found=f"{desc.size} bytes")
                config = load_json(self.store.read_blob(desc), "image config")
            self._config = config if isinstance(config, dict) else {}
        return self._config

    def layers(self) -> list[Descriptor]:
        return [Descriptor.from_dict(layer) for layer in self.manifest.get("layers") or []]

    @cached_property
    def platform(self) -> Platform | None:
        """The descriptor's platform, else the config's; None when neither names one."""
        declared = Platform.from_oci(self.descriptor.platform) if self.descriptor else None
        return declared or Platform.from_oci(self.config())

    @property
    def platform_name(self) -> str:
        return str(self.platform) if self.platform else UNKNOWN

    def annotation(self, key: str) -> str:
        """An annotation of the manifest, else of its index entry, else a config label."""
        own = (self.manifest.get("annotations") or {}).get(key)
        if own:
            return str(own)
        listed = (self.descriptor.annotations if self.descriptor else {}).get(key)
        if listed:
            return str(listed)
        labels = (self.config().get("config") or {}).get("Labels") or {}
        return str(labels.get(key) or "") if isinstance(labels, dict) else ""

    @property
    def base_name(self) -> str:
        return self.annotation(BASE_NAME)

    @property
    def base_digest(self) -> str:
        return self.annotation(BASE_DIGEST)

    def children(self) -> list[Child]:
        return []

    def blobs(self) -> list[Descriptor]:
        """The blobs this manifest needs: its config and layers."""
        config = self.config_descriptor()
        return ([config] if config else []) + self.layers()

    def runnable(self) -> list[ImageView]:
        """An image manifest is its own (only) runnable image."""
        return [self]

    def top_descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, len(self.raw))


@dataclass
class IndexView:
    """An index (OCI image index or Docker manifest list) and its children."""

    store: ContentStore
    digest: str
    raw: bytes
    manifest: dict[str, Any]
    descriptor: Descriptor | None = None

    is_index = True

    @property
    def media_type(self) -> str:
        return str(self.manifest["mediaType"])

    def children(self) -> list[Child]:
        """Every entry of the index, each classified by THE RULE."""
        raw = self.manifest.get("manifests")
        if not isinstance(raw, list):
            raise ImageError(f"the index {self.digest} has no 'manifests' list")
        if len(raw) > MAX_CHILDREN:
            raise ImageError(f"the index {self.digest} lists too many manifests",
                             expected=f"at most {MAX_CHILDREN}", found=str(len(raw)))
        return [classify(Descriptor.from_dict(entry)) for entry in raw]

    def blobs(self) -> list[Descriptor]:
        """The entries that are not manifests (copied as blobs: copy moves every child)."""
        return [c.descriptor for c in self.children() if c.kind == "other"]

    def runnable(self) -> list[ImageView]:
        """The images a runtime could select from this index, each opened and verified."""
        out: list[ImageView] = []
        runnable = [c for c in self.children() if c.runnable]
        if len(runnable) > MAX_RUNNABLE:
            raise ImageError(f"the index {self.digest} lists too many runnable images",
                             expected=f"at most {MAX_RUNNABLE}", found=str(len(runnable)))
        for child in runnable:
            if child.kind == "index":
                raise ImageError(
                    f"the index {self.digest} contains another index ({child.digest})",
                    expected="an index whose runnable children are image manifests",
                    found=f"a nested index for {child.platform or 'no platform'}",
                    fix="flatten the index (one level of platform manifests) before signing or verifying")
            view = open_image(self.store, child.digest, child.descriptor)
            assert isinstance(view, ImageView)
            out.append(view)
        return out

    def top_descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, len(self.raw))


View = ImageView | IndexView


def open_image(store: ContentStore, digest: str, descriptor: Descriptor | None = None) -> View:
    """The view of the manifest `digest` in `store` (hashed here; a mismatch is `DigestMismatch`)."""
    data, doc = _read(store, digest)
    if descriptor is not None and descriptor.media_type != doc["mediaType"]:
        raise ImageError(f"the index entry for {digest} says {descriptor.media_type}, "
                         f"the manifest is {doc['mediaType']}")
    if doc["mediaType"] in MediaType.INDEXES:
        return IndexView(store, digest, data, doc, descriptor)
    return ImageView(store, digest, data, doc, descriptor)


def find_platform(view: View, platform: Platform) -> ImageView:
    """The one runnable image of `view` for `platform` (an error names what there is)."""
    images = view.runnable()
    found = [i for i in images if i.platform is not None and i.platform.same_as(platform)]
    have = ", ".join(i.platform_name for i in images) or "none"
    if not found:
        raise ImageError(f"{view.digest} has no image for {platform}", expected=str(platform),
                         found=f"platforms: {have}")
    if len(found) > 1:
        raise ImageError(f"{view.digest} has {len(found)} images for {platform}",
                         expected="one image per platform", found=", ".join(i.digest for i in found))
    return found[0]


__all__ = ["Child", "DigestMismatch", "ImageView", "IndexView", "View", "classify", "find_platform",
           "open_image"]
