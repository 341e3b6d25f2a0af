"""The default builder: compile with the host's Go, assemble layers and manifests in Python."""

from __future__ import annotations

import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from supplychain.build.assemble import (
    BIN_DIR,
    ImageMetadata,
    PlatformImage,
    assemble_platform,
    base_metadata,
    image_index,
)
from supplychain.build.bases import BaseImage, BaseLayer, resolve_base
from supplychain.build.gocompile import (
    CompileRequest,
    GoModule,
    compile_binary,
    find_module,
    require_buildable,
)
from supplychain.build.layers import file, make_layer
from supplychain.build.model import BuildRequest, BuildResult
from supplychain.build.source import build_epoch
from supplychain.errors import UsageError
from supplychain.image.descriptor import MediaType, compute_digest
from supplychain.image.platform import Platform, parse_platforms
from supplychain.progress import Progress
from supplychain.source import SourceInfo, source_info

MAX_PARALLEL_COMPILES = 2


@dataclass(frozen=True)
class Prepared:
    module: GoModule
    platforms: list[Platform]
    info: SourceInfo
    epoch: int
    version: str
    compile: CompileRequest

    def metadata(self, req: BuildRequest, base: BaseImage) -> ImageMetadata:
        source = req.source or self.info.remote
        if source is None and "." in self.module.path.split("/", 1)[0]:
            source = "https://" + self.module.path
        base_name, base_digest = base_metadata(base)
        return ImageMetadata(
            binary=f"{BIN_DIR}/{self.module.binary_name}", version=self.version, created=self.epoch,
            source=source, revision=self.info.revision, user=req.user,
            base_name=base_name, base_digest=base_digest)


def build_platforms(values: tuple[str, ...]) -> list[Platform]:
    """The requested platforms (strictly parsed, each buildable), sorted; the host's by default."""
    if not values:
        return [Platform.host()]
    return sorted(require_buildable(p) for p in parse_platforms(values))


def prepare(req: BuildRequest) -> Prepared:
    module = find_module(req.path)
    if not 1 <= req.gzip_level <= 9:
        raise UsageError(f"invalid gzip level {req.gzip_level}", expected="1 (fastest) to 9 (smallest)")
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}(:[A-Za-z0-9_.-]{1,64})?", req.user or ""):
        raise UsageError(f"invalid --user {req.user!r}",
                         expected="UID[:GID] or a user name, e.g. 65532:65532")
    platforms = build_platforms(req.platforms)
    info = source_info(module.root)
    epoch = build_epoch(req.source_date_epoch, info)
    version = req.version or info.describe or "dev"
    tags = ("timetzdata",) if req.tzdata else ()
    creq = CompileRequest(module, version=version, version_var=req.version_var,
                          extra_ldflags=req.ldflags, tags=tags)
    return Prepared(module, platforms, info, epoch, version, creq)


def top_level(images: list[PlatformImage], meta: ImageMetadata) -> tuple[bytes, str]:
    """One platform: its manifest is the image. Several: an OCI index over them."""
    if len(images) == 1:
        return images[0].manifest, MediaType.OCI_MANIFEST
    return image_index(images, meta.labels()), MediaType.OCI_INDEX


def build_daemonless(req: BuildRequest, progress: Progress) -> BuildResult:
    began = time.monotonic()
    prep = prepare(req)
    # Cheap checks first: a wrong base fails before minutes of compiling.
    progress.step("base", req.base)
    base = resolve_base(req.base, prep.platforms, prep.epoch, req.registry)
    progress.done("base", base.reference or base.name)
    meta = prep.metadata(req, base)
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="sccheck-build-") as tmp:
        def one(platform: Platform) -> PlatformImage:
            progress.step(f"compile {platform}")
            out = Path(tmp) / str(platform).replace("/", "-") / prep.module.binary_name
            out.parent.mkdir(parents=True)
            binary = compile_binary(prep.compile, platform, out)
            timings[f"compile {platform}"] = binary.seconds
            progress.done(f"compile {platform}")
            t0 = time.monotonic()
            progress.step(f"layer {platform}")
            layer = make_layer([file(meta.binary, out.read_bytes(), 0o755)], prep.epoch, req.gzip_level)
            timings[f"layer {platform}"] = time.monotonic() - t0
            progress.done(f"layer {platform}", f"{layer.descriptor.size} bytes")
            return assemble_platform(base.for_platform(platform), platform, layer, meta)

        workers = min(MAX_PARALLEL_COMPILES, len(prep.platforms))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            images = list(pool.map(one, prep.platforms))
    top, media_type = top_level(images, meta)
    blobs: dict[str, bytes] = {}
    base_layers: dict[str, BaseLayer] = {}
    for platform, img in zip(prep.platforms, images, strict=True):
        blobs[img.descriptor.digest] = img.manifest
        blobs[img.config_descriptor.digest] = img.config
        blobs[img.app_layer.descriptor.digest] = img.app_layer.data
        for bl in base.for_platform(platform).layers:
            base_layers[bl.descriptor.digest] = bl
    timings["build"] = time.monotonic() - began
    return BuildResult(
        digest=compute_digest(top), media_type=media_type, manifest=top, images=tuple(images),
        blobs=blobs, base_layers=base_layers, base=base.name, base_digest=base.digest,
        version=prep.version, revision=prep.info.revision, created=prep.epoch, builder="oci",
        name=prep.module.binary_name,
        timings=timings,
    )
