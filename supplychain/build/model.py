"""Requests and results of `build` and `publish` (frozen dataclasses, no I/O)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from supplychain.build.settings import DEFAULT_USER, BuildSettings
from supplychain.errors import BuildError
from supplychain.image.descriptor import Descriptor, MediaType
from supplychain.image.memory import MemoryStore
from supplychain.image.store import ContentStore
from supplychain.registry.options import RegistryOptions

if TYPE_CHECKING:  # the layer and image code loads while Go compiles, not before
    from supplychain.build.assemble import PlatformImage
    from supplychain.build.bases import BaseLayer

DEFAULT_OUTPUT = "oci:dist/oci"


@dataclass(frozen=True)
class BuildRequest:
    path: str
    base: str = "static"
    platforms: tuple[str, ...] = ()          # empty: the host's platform
    builder: str = "oci"                     # "oci" (daemonless) or "docker"
    version: str | None = None               # default: git describe, else "dev"
    settings: BuildSettings = field(default_factory=BuildSettings)   # what to build, how it runs
    user: str = DEFAULT_USER
    tzdata: bool = False
    source_date_epoch: int | None = None
    source: str | None = None                # org.opencontainers.image.source
    builder_image: str | None = None         # docker backend: default golang:<go version>
    gzip_level: int = 6                      # libdeflate 1-12; 9: <1% smaller, 2.5x slower
    registry: RegistryOptions | None = None  # how to reach a REF base's registry


@dataclass(frozen=True)
class BuildResult:
    """An image held in memory (plus base layers still in their store), ready to publish."""

    digest: str                              # the index's, or the single manifest's
    media_type: str
    manifest: bytes                          # the top-level index or manifest
    images: tuple[PlatformImage, ...]
    blobs: Mapping[str, bytes]               # configs, our layers, platform manifests
    base_layers: Mapping[str, BaseLayer]     # layers that come from a REF base
    base: str
    base_digest: str | None
    version: str
    revision: str | None
    created: int
    builder: str
    name: str                                # the entrypoint binary's name (default image name)
    binaries: tuple[str, ...] = ()           # every binary's path in the image
    notes: tuple[str, ...] = ()              # warnings the user should read (also on stderr)
    timings: Mapping[str, float] = field(default_factory=dict)
    compression: str = ""                    # how our layers were gzip'd: compressor and level

    @property
    def platforms(self) -> tuple[str, ...]:
        return tuple(str(img.platform) for img in self.images)

    @property
    def size(self) -> int:
        """Compressed size of everything the image references (manifests, configs, layers)."""
        seen: dict[str, int] = {self.digest: len(self.manifest)}
        for img in self.images:
            seen[img.descriptor.digest] = img.descriptor.size
            seen[img.config_descriptor.digest] = img.config_descriptor.size
            for layer in img.layers:
                seen[layer.digest] = layer.size
        return sum(seen.values())

    @property
    def platform_digests(self) -> dict[str, str]:
        """Each platform's image manifest digest ("linux/amd64" -> "sha256:...")."""
        return {str(img.platform): img.descriptor.digest for img in self.images}

    def store(self) -> ContentStore:
        """The build as a content store holding exactly this image: every sink (layout, tarball,
        engine, registry) reads it from here by (store, digest, tag)."""
        store = BuildStore(self)
        for img in self.images:
            for desc in (img.config_descriptor, *img.layers):
                if desc.digest in self.blobs:
                    store.write_blob(self.blobs[desc.digest], desc)
            if self.media_type in MediaType.INDEXES:
                store.write_manifest(img.manifest, img.descriptor.media_type)
        store.write_manifest(self.manifest, self.media_type)
        return store

    def blob(self, desc: Descriptor) -> bytes:
        if desc.digest in self.blobs:
            return self.blobs[desc.digest]
        base = self.base_layers.get(desc.digest)
        if base is None:
            raise BuildError(f"blob {desc.digest} is not part of this build")
        if base.data is not None:
            return base.data
        assert base.store is not None
        return base.store.read_blob(desc)


class BuildStore(MemoryStore):
    """A build's image in memory; layers of a REF base are read from (and mounted from) the
    base's own store."""

    def __init__(self, result: BuildResult) -> None:
        super().__init__(f"build {result.name}")
        self._base = result.base_layers

    def has_blob(self, digest: str) -> bool:
        return digest in self._base or super().has_blob(digest)

    def read_blob(self, desc: Descriptor) -> bytes:
        base = self._base.get(desc.digest)
        if base is None:
            return super().read_blob(desc)
        if base.data is not None:
            return base.data
        assert base.store is not None
        return base.store.read_blob(desc)

    def iter_blob(self, desc: Descriptor, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        base = self._base.get(desc.digest)
        if base is not None and base.data is None and base.store is not None:
            return base.store.iter_blob(desc, chunk_size)
        data = self.read_blob(desc)
        return iter([data[i:i + chunk_size] for i in range(0, len(data), chunk_size)])

    def origin_of(self, desc: Descriptor) -> ContentStore:
        base = self._base.get(desc.digest)
        return base.store if base is not None and base.store is not None else self


@dataclass(frozen=True)
class PublishTarget:
    output: str | None = DEFAULT_OUTPUT      # oci:DIR
    tarball: str | None = None
    push: str | None = None
    load: bool = False
    tag: str | None = None                   # tag in the layout / tarball / engine
    force: bool = False                      # --push may move an existing registry tag


@dataclass(frozen=True)
class PublishResult:
    digest: str
    output: str | None = None
    tarball: str | None = None
    reference: str | None = None             # pushed: repo@digest
    loaded: str | None = None                # tag in the Docker engine
    loaded_platform: str | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
