"""Requests and results of `build` and `publish` (frozen dataclasses, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from supplychain.build.assemble import DEFAULT_USER, PlatformImage
from supplychain.build.bases import BaseLayer
from supplychain.errors import BuildError
from supplychain.image.descriptor import Descriptor

DEFAULT_OUTPUT = "oci:dist/oci"


@dataclass(frozen=True)
class BuildRequest:
    path: str
    base: str = "static"
    platforms: tuple[str, ...] = ()          # empty: the host's platform
    builder: str = "oci"                     # "oci" (daemonless) or "docker"
    version: str | None = None               # default: git describe, else "dev"
    version_var: str = "main.version"
    ldflags: str = ""
    user: str = DEFAULT_USER
    tzdata: bool = False
    source_date_epoch: int | None = None
    source: str | None = None                # org.opencontainers.image.source
    builder_image: str | None = None         # docker backend: default golang:<go version>
    gzip_level: int = 6                      # 6: as fast as ko; 9 is ~0.5% smaller, ~3x slower


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
    name: str                                # the binary's name (default image name)
    timings: Mapping[str, float] = field(default_factory=dict)

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


@dataclass(frozen=True)
class PublishTarget:
    output: str | None = DEFAULT_OUTPUT      # oci:DIR
    tarball: str | None = None
    push: str | None = None
    load: bool = False
    tag: str | None = None                   # tag in the layout / tarball / engine


@dataclass(frozen=True)
class PublishResult:
    digest: str
    output: str | None = None
    tarball: str | None = None
    reference: str | None = None             # pushed: repo@digest
    loaded: str | None = None                # tag in the Docker engine
    loaded_platform: str | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
