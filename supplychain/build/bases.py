"""Base images: `scratch` (nothing), `static` (what a Go service needs), or any image REF.

A REF (`alpine`, `host/repo:tag`, `host/repo@sha256:...`, `oci:DIR[:tag]`) is opened through
`open_store`; its tag is resolved once, the digest recorded, and for every requested platform
the matching manifest of its index is chosen (an error names the platforms it has).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supplychain.build.layers import Entry, Layer, directory, file, make_layer
from supplychain.errors import BuildError, Error, UsageError
from supplychain.image.descriptor import Descriptor, MediaType
from supplychain.image.platform import Platform
from supplychain.image.reference import parse_image_ref
from supplychain.image.store import ContentStore
from supplychain.image.view import ImageView, open_image
from supplychain.registry.options import RegistryOptions
from supplychain.stores import open_store

HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CA_PATH = "/etc/ssl/certs/ca-certificates.crt"
NONROOT = 65532
ALIASES = {"alpine": "docker.io/library/alpine:latest"}
MAX_BASE_LAYERS = 127
_LAYER_TYPES = {MediaType.OCI_LAYER_GZIP: MediaType.OCI_LAYER_GZIP,
                MediaType.DOCKER_LAYER_GZIP: MediaType.OCI_LAYER_GZIP,
                MediaType.OCI_LAYER: MediaType.OCI_LAYER}

PASSWD = ("root:x:0:0:root:/root:/sbin/nologin\n"
          f"nonroot:x:{NONROOT}:{NONROOT}:nonroot:/home/nonroot:/sbin/nologin\n")
GROUP = f"root:x:0:\nnonroot:x:{NONROOT}:\n"


@dataclass(frozen=True)
class BaseLayer:
    descriptor: Descriptor
    diff_id: str
    data: bytes | None = None             # our own layers carry their bytes
    store: ContentStore | None = None     # a REF base's layers are read from its store


@dataclass(frozen=True)
class BasePlatform:
    layers: tuple[BaseLayer, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)   # the base's image config, or {}


@dataclass(frozen=True)
class BaseImage:
    name: str                       # "scratch", "static", or the reference as given
    reference: str | None = None    # name@digest for a REF base
    digest: str | None = None
    platforms: dict[Platform, BasePlatform] = field(default_factory=dict)

    def for_platform(self, platform: Platform) -> BasePlatform:
        return self.platforms.get(platform, BasePlatform())


def static_entries() -> list[Entry]:
    if not HOST_CA_BUNDLE.is_file():
        raise BuildError(
            "the static base needs CA certificates and the host has none",
            expected=f"a PEM bundle at {HOST_CA_BUNDLE}",
            found="no such file",
            fix="install the ca-certificates package, or use --base scratch",
        )
    entries = [
        file("/etc/passwd", PASSWD.encode()),
        file("/etc/group", GROUP.encode()),
        file("/etc/nsswitch.conf", b"hosts: files dns\n"),
        file(CA_PATH, HOST_CA_BUNDLE.read_bytes()),
        directory("/tmp", 0o1777),  # noqa: S108 (a path inside the image)
        Entry("/home/nonroot", 0o700, uid=NONROOT, gid=NONROOT),
    ]
    return entries


def static_base(platforms: list[Platform], mtime: int) -> BaseImage:
    layer: Layer = make_layer(static_entries(), mtime)
    base = BasePlatform((BaseLayer(layer.descriptor, layer.diff_id, layer.data),))
    return BaseImage("static", platforms=dict.fromkeys(platforms, base))


def resolve_base(spec: str, platforms: list[Platform], mtime: int,
                 options: RegistryOptions | None = None) -> BaseImage:
    if spec == "scratch":
        return BaseImage("scratch", platforms=dict.fromkeys(platforms, BasePlatform()))
    if spec == "static":
        return static_base(platforms, mtime)
    target = ALIASES.get(spec, spec)
    if not target.startswith("oci:") and "/" not in target:
        raise UsageError(
            f"unknown base {spec!r}",
            expected="scratch, static, alpine, or an image reference (host/repo:tag, host/repo@sha256:..., "
                     "oci:DIR[:tag])",
            found=spec,
            fix="pick one of the built-in bases or name the base image in full",
        )
    return _ref_base(spec, target, platforms, options)


def _open(spec: str, target: str, options: RegistryOptions | None) -> tuple[str, str, list[ImageView]]:
    """(name, digest, runnable images) of the base; every failure to read it is a BuildError."""
    try:
        ref = parse_image_ref(target)
        store = open_store(ref, options)
        digest = store.resolve(ref.identifier).digest
        if ref.digest and digest != ref.digest:
            raise BuildError(f"the base {spec} answered with a different digest",
                             expected=ref.digest, found=digest)
        view = open_image(store, digest)
        images = view.runnable()
    except BuildError:
        raise
    except Error as exc:
        raise BuildError(
            f"cannot read the base image {spec}",
            expected="a reachable image (registry reference or oci:DIR[:tag])",
            found=exc.message + (f" ({exc.found})" if exc.found else ""),
            fix=exc.fix or "check the reference, or build it into an OCI layout first",
        ) from None
    return ref.name, digest, images


def _ref_base(spec: str, target: str, platforms: list[Platform],
              options: RegistryOptions | None = None) -> BaseImage:
    name, digest, images = _open(spec, target, options)
    chosen: dict[Platform, ImageView] = {}
    for platform in platforms:
        match = next((i for i in images if i.platform is not None and i.platform.same_as(platform)), None)
        if match is not None:
            chosen[platform] = match
    missing = [str(p) for p in platforms if p not in chosen]
    if missing:
        raise BuildError(
            f"the base {spec} has no image for {', '.join(missing)}",
            expected="a base image for every requested platform",
            found="platforms: " + (", ".join(sorted({i.platform_name for i in images})) or "none"),
            fix="pick a multi-platform base or limit --platform to what the base provides",
        )
    result: dict[Platform, BasePlatform] = {}
    for platform, image in chosen.items():
        try:
            config = image.config()
        except Error as exc:
            raise BuildError(f"the base {spec} ({platform}) has an unreadable config",
                             found=exc.message) from None
        layers = image.layers()
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        if len(layers) > MAX_BASE_LAYERS or len(diff_ids) != len(layers):
            raise BuildError(f"the base {spec} ({platform}) has a malformed layer list",
                             expected=f"at most {MAX_BASE_LAYERS} layers, one diff_id each",
                             found=f"{len(layers)} layers, {len(diff_ids)} diff_ids")
        base_layers = []
        for layer, diff_id in zip(layers, diff_ids, strict=True):
            if layer.media_type not in _LAYER_TYPES:
                raise BuildError(f"the base {spec} has a layer of unsupported type",
                                 expected=", ".join(sorted(_LAYER_TYPES)), found=layer.media_type)
            desc_out = Descriptor(_LAYER_TYPES[layer.media_type], layer.digest, layer.size)
            base_layers.append(BaseLayer(desc_out, str(diff_id), None, image.store))
        result[platform] = BasePlatform(tuple(base_layers), config)
    return BaseImage(spec, f"{name}@{digest}", digest, result)
