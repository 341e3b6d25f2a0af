"""The default builder: compile with the host's Go, assemble layers and manifests in Python."""

from __future__ import annotations

import os
import re
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from supplychain.build import compress
from supplychain.build.gocompile import (
    CompileRequest,
    GoModule,
    MainPackage,
    compile_binary,
    locate,
    mains_and_cgo,
    parse_goflags,
    require_buildable,
    resolve_mains,
)
from supplychain.build.model import BuildRequest, BuildResult
from supplychain.build.settings import DATA_PATH, DEFAULT_BIN_DIR, BuildSettings, data_files
from supplychain.build.source import build_epoch
from supplychain.errors import UsageError
from supplychain.image.descriptor import MediaType, compute_digest
from supplychain.image.platform import Platform, parse_platforms
from supplychain.progress import Progress
from supplychain.source import SourceInfo, source_info

# The image code (bases, layers, manifests, the layer cache, the cgo checks) is imported in the
# functions that use it: a static build starts Go first and loads it while Go compiles.
if TYPE_CHECKING:
    from supplychain.build.assemble import ImageMetadata, PlatformImage
    from supplychain.build.bases import BaseImage, BaseLayer
    from supplychain.build.cgo import CTarget

MAX_PARALLEL_COMPILES = 2
X_LABEL = "dev.sccheck.go.x"                       # "main.version=1.2.3 PKG.VAR=VALUE ..."
VERSION_VAR_LABEL = "dev.sccheck.go.version-var"   # which of them is the version


@dataclass(frozen=True)
class Prepared:
    module: GoModule
    platforms: list[Platform]
    info: SourceInfo
    epoch: int
    version: str
    compile: CompileRequest           # the flags; `package` is set per main package
    mains: tuple[MainPackage, ...]
    entry: MainPackage                # the one the image runs
    settings: BuildSettings
    notes: tuple[str, ...] = ()

    data: tuple[tuple[str, bytes, int], ...] = ()    # --data files: (path, content, mode)

    def binary_path(self, main: MainPackage) -> str:
        name = self.settings.binary_name if main is self.entry and self.settings.binary_name else main.name
        return f"{self.settings.binary_dir}/{name}"

    def recorded_x(self) -> dict[str, str]:
        """The -X settings, as labels the SBOM reader finds (-trimpath keeps -ldflags out of the
        binary's build info, so the version would be lost otherwise)."""
        settings = [f"{self.compile.version_var}={self.version}", *self.compile.xvars]
        return {X_LABEL: " ".join(settings), VERSION_VAR_LABEL: self.compile.version_var}

    def compile_for(self, main: MainPackage) -> CompileRequest:
        return replace(self.compile, package=main.package)

    def metadata(self, req: BuildRequest, base: BaseImage) -> ImageMetadata:
        from supplychain.build.assemble import ImageMetadata, base_metadata

        source = req.source or self.info.remote
        if source is None and self.info.revision is not None and "." in self.module.path.split("/", 1)[0]:
            source = "https://" + self.module.path
        base_name, base_digest = base_metadata(base)
        return ImageMetadata(
            binary=self.binary_path(self.entry), version=self.version, created=self.epoch,
            source=source, revision=self.info.revision, user=req.user,
            base_name=base_name, base_digest=base_digest,
            env=tuple({**({"SCCHECK_DATA_PATH": DATA_PATH} if self.data else {}),
                       **self.settings.env_pairs()}.items()),
            extra_labels=tuple(sorted({**self.settings.label_pairs(), **self.recorded_x()}.items())),
            exposed=tuple(self.settings.exposed_ports()), args=self.settings.args)


def build_platforms(values: tuple[str, ...]) -> list[Platform]:
    """The requested platforms (strictly parsed, each buildable), sorted; the host's by default."""
    if not values:
        return [Platform.host()]
    return sorted(require_buildable(p) for p in parse_platforms(values))


def choose_entry(mains: list[MainPackage], entrypoint: str | None) -> MainPackage:
    if entrypoint is None:
        if len(mains) == 1:
            return mains[0]
        raise UsageError("several main packages and no --entrypoint",
                         expected="--entrypoint NAME naming the binary the image runs",
                         found="binaries " + ", ".join(m.name for m in mains),
                         fix=f"e.g. --entrypoint {mains[0].name}")
    for main in mains:
        if entrypoint in (main.name, main.package, f"{DEFAULT_BIN_DIR}/{main.name}"):
            return main
    raise UsageError(f"--entrypoint {entrypoint} is none of the binaries built",
                     expected="one of " + ", ".join(m.name for m in mains), found=entrypoint)


def prepare(req: BuildRequest, progress: Progress | None = None) -> Prepared:
    module, package = locate(req.path)
    settings = req.settings
    settings.validate()
    compress.check_level(req.gzip_level, UsageError)
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}(:[A-Za-z0-9_.-]{1,64})?", req.user or ""):
        raise UsageError(f"invalid --user {req.user!r}",
                         expected="UID[:GID] or a user name, e.g. 65532:65532")
    platforms = build_platforms(req.platforms)
    goflags = parse_goflags(os.environ.get("GOFLAGS"))
    tags = tuple(dict.fromkeys([*goflags.tags, *settings.tags, *(["timetzdata"] if req.tzdata else [])]))
    wanted = settings.mains or (package,)
    # git runs beside one go list that both names the main packages and finds any cgo package in
    # their build list (two go list side by side take as long as both in a row). The errors are
    # still raised in this order: not a main package, then --cgo's base, then cgo needed.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sccheck-inspect") as pool:
        git_info = pool.submit(source_info, module.root)
        needs_cgo: list[str] = []
        if settings.cgo:
            mains = resolve_mains(module, wanted, goflags.passed, tags)
        else:
            mains, needs_cgo = mains_and_cgo(module, wanted, goflags.passed, tags)
        entry = choose_entry(mains, settings.entrypoint)
        if settings.cgo:
            if req.builder != "oci":
                raise UsageError("--cgo builds with the daemonless builder only",
                                 expected="--builder oci (the default) with --cgo",
                                 found=f"--builder {req.builder}",
                                 fix="drop --builder docker")
            from supplychain.build.cgo import cgo_precheck

            cgo_precheck(req.base, platforms)
        if needs_cgo:
            raise UsageError(
                f"{needs_cgo[0].split()[0]} needs cgo, which a static build leaves out",
                expected="only pure-Go packages in the build list (the build runs with CGO_ENABLED=0)",
                found='import "C" in ' + "; ".join(needs_cgo[:10]),
                fix="build with --cgo against a glibc or musl base (--base REF or oci:DIR; build.cgo in "
                    "sccheck.yaml), replace it with a pure-Go package (e.g. modernc.org/sqlite for "
                    "github.com/mattn/go-sqlite3), or use build tags (--tags) that select its pure-Go "
                    "variant")
        info = git_info.result()
    notes: list[str] = []
    if info.revision is None:
        notes.append(f"{module.root} is not in a git work tree: version 'dev' unless --version is given, "
                     "revision and source unknown")
    epoch = build_epoch(req.source_date_epoch, info)
    version = req.version or info.describe or "dev"
    extra = " ".join(x for x in (goflags.ldflags, settings.ldflags) if x)
    creq = CompileRequest(module, version=version, version_var=settings.version_variable,
                          extra_ldflags=extra, tags=tags, xvars=tuple(settings.x_settings()),
                          goflags=goflags.passed)
    creq.ldflags  # noqa: B018 - validates --version and --version-var before any compile
    if progress is not None:
        for note in notes:
            progress.info(f"note: {note}")
    if settings.binary_name and len(mains) > 1 and settings.binary_name in {m.name for m in mains}:
        raise UsageError(f"--binary-name {settings.binary_name} is the name of another binary built",
                         expected="a name no other binary has")
    data = tuple(data_files(settings.data)) if settings.data else ()
    return Prepared(module, platforms, info, epoch, version, creq, tuple(mains), entry, settings,
                    tuple(notes), data)


def version_note(prep: Prepared, binary: bytes) -> str | None:
    """-X of a variable the binary lacks is silently ignored by the linker: when the version
    string is nowhere in the binary, say which -X to use instead."""
    if not prep.version or len(prep.version) < 4 or prep.version.encode() in binary:
        return None
    return (f"the binary {prep.entry.name} has no variable {prep.compile.version_var}, so the version "
            f"{prep.version} is not in it: set --version-var to the package variable that holds it "
            "(e.g. --version-var github.com/acme/app/internal/version.Version, the -X setting "
            "'go build -ldflags=-X' takes)")


def top_level(images: list[PlatformImage], meta: ImageMetadata) -> tuple[bytes, str]:
    """One platform: its manifest is the image. Several: an OCI index over them."""
    from supplychain.build.assemble import image_index

    if len(images) == 1:
        return images[0].manifest, MediaType.OCI_MANIFEST
    return image_index(images, meta.labels()), MediaType.OCI_INDEX


CompilePlatform = Callable[[Platform, dict[str, float]], list[bytes]]


def build_daemonless(req: BuildRequest, progress: Progress,
                     meanwhile: Callable[[], object] | None = None) -> BuildResult:
    began = time.monotonic()
    prep = prepare(req, progress)
    with tempfile.TemporaryDirectory(prefix="sccheck-build-") as tmp:
        if prep.settings.cgo:
            # A cgo build needs its base's C toolchain before it can compile.
            base = _resolve_base(req, prep, progress)
            targets = _cgo_targets(req, prep, base, progress)
            return assemble_build(req, prep, base, _compiler(req, prep, Path(tmp), targets, progress),
                                  "oci", progress, began, meanwhile)
        # A static build needs nothing of its base to compile: Go starts now, and the base is read
        # (and the image code loaded) while it runs. A base that cannot be used, or any other
        # failure, stops the compiles at once: a wrong base still fails in seconds.
        cancel = threading.Event()
        compile_platform = _compiler(req, prep, Path(tmp), {}, progress, cancel)
        workers = min(MAX_PARALLEL_COMPILES, len(prep.platforms))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sccheck-compile") as pool:
            early: dict[Platform, Future[tuple[list[bytes], dict[str, float]]]] = {}
            for platform in prep.platforms:
                early[platform] = pool.submit(_timed, compile_platform, platform)

            def compiled(platform: Platform, timings: dict[str, float]) -> list[bytes]:
                binaries, took = early[platform].result()
                timings.update(took)
                return binaries

            try:
                base = _resolve_base(req, prep, progress)
                return assemble_build(req, prep, base, compiled, "oci", progress, began, meanwhile)
            except BaseException:
                cancel.set()     # the first failure is the build's: the other compiles stop
                raise


def _timed(compile_platform: CompilePlatform, platform: Platform) -> tuple[list[bytes], dict[str, float]]:
    timings: dict[str, float] = {}
    return compile_platform(platform, timings), timings


def _resolve_base(req: BuildRequest, prep: Prepared, progress: Progress) -> BaseImage:
    from supplychain.build.bases import resolve_base

    progress.step("base", req.base)
    base = resolve_base(req.base, prep.platforms, prep.epoch, req.registry)
    progress.done("base", base.reference or base.name)
    return base


def _cgo_targets(req: BuildRequest, prep: Prepared, base: BaseImage,
                 progress: Progress) -> dict[Platform, CTarget]:
    from supplychain.build.cgo import cgo_targets

    progress.step("cgo", req.base)
    targets = cgo_targets(base, prep.platforms)
    progress.done("cgo", "; ".join(f"{p}: {t.describe()}" for p, t in targets.items()))
    return targets


def _compiler(req: BuildRequest, prep: Prepared, tmp: Path, targets: dict[Platform, CTarget],
              progress: Progress, cancel: threading.Event | None = None) -> CompilePlatform:
    """Compile every main package for one platform, into `tmp`; with cgo `targets`, each binary
    is checked against what its base can run."""
    def compile_platform(platform: Platform, timings: dict[str, float]) -> list[bytes]:
        binaries: list[bytes] = []
        for main in prep.mains:
            progress.step(f"compile {platform}", main.package)
            out = tmp / str(platform).replace("/", "-") / main.name
            out.parent.mkdir(parents=True, exist_ok=True)
            target = targets.get(platform)
            binary = compile_binary(prep.compile_for(main), platform, out, progress,
                                    cc=target.cc if target else None, cancel=cancel)
            if target is not None:
                from supplychain.build.cgo import require_runnable
                from supplychain.build.elfcheck import read_linkage

                require_runnable(read_linkage(out), target, req.base, main.name)
            timings[f"compile {platform} {main.package}"] = binary.seconds
            progress.done(f"compile {platform}", main.package)
            binaries.append(out.read_bytes())
        return binaries

    return compile_platform


def assemble_build(req: BuildRequest, prep: Prepared, base: BaseImage, compile_platform: CompilePlatform,
                   builder: str, progress: Progress, began: float,
                   meanwhile: Callable[[], object] | None = None) -> BuildResult:
    """The image from compiled binaries: one deterministic layer (binaries and --data files) on
    the base per platform, then the index. Every builder ends here, so the digest depends on the
    binaries and the settings only, never on who compiled them. `compile_platform` returns one
    binary per main package, in `prep.mains` order; `meanwhile` runs on this thread once the
    compiles have started."""
    from supplychain.build.assemble import assemble_platform
    from supplychain.build.layercache import LayerCache
    from supplychain.build.layers import file, make_layer

    meta = prep.metadata(req, base)
    notes = list(prep.notes)
    timings: dict[str, float] = {}
    cache = LayerCache.default()

    def one(platform: Platform) -> PlatformImage:
        binaries = compile_platform(platform, timings)
        files = []
        for main, data in zip(prep.mains, binaries, strict=True):
            if main is prep.entry and platform == prep.platforms[0]:
                note = version_note(prep, data)
                if note:
                    notes.append(note)
                    progress.info(f"warning: {note}")
            files.append(file(prep.binary_path(main), data, 0o755))
        files += [file(path, content, mode) for path, content, mode in prep.data]
        t0 = time.monotonic()
        progress.step(f"layer {platform}")
        layer = make_layer(files, prep.epoch, req.gzip_level, cache)
        timings[f"layer {platform}"] = time.monotonic() - t0
        reused = " (unchanged: compressed bytes reused)" if layer.reused else ""
        progress.done(f"layer {platform}", f"{layer.descriptor.size} bytes{reused}")
        return assemble_platform(base.for_platform(platform), platform, layer, meta)

    workers = min(MAX_PARALLEL_COMPILES, len(prep.platforms))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = [pool.submit(one, platform) for platform in prep.platforms]
        if meanwhile is not None:
            meanwhile()
        images = [f.result() for f in pending]
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
        version=prep.version, revision=prep.info.revision, created=prep.epoch, builder=builder,
        name=prep.entry.name, binaries=tuple(prep.binary_path(m) for m in prep.mains),
        notes=tuple(notes), timings=timings, compression=compress.describe(req.gzip_level),
    )
