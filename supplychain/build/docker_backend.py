"""`--builder docker`: the Docker engine compiles, sccheck assembles.

For each platform one container of the Go builder image (default `golang:<go version>`, never
pulled) gets the source tree (the module, or the workspace a `go.work` makes of several; in a git
work tree the repository as git sees it, so go stamps the VCS facts the host's go stamps) and the
modules it needs from the host's module cache, and runs `go build` with the same flags as the
daemonless builder, offline (`--network none`, `GOPROXY=off`), with go's build cache in the
engine volume `sccheck-go-build-cache`. The binaries are copied out and the container is
removed, whether the compile worked or not; no image is made in the engine.
The image is then assembled by the same code as the daemonless build (`assemble_build`), so
file modes and times, labels, `created` and the digest do not depend on the builder.
"""

from __future__ import annotations

import contextlib
import io
import os
import platform as host
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from supplychain.build.bases import ALIASES, BaseImage, BaseLayer, BasePlatform, resolve_base
from supplychain.build.daemonless import Prepared, assemble_build, prepare
from supplychain.build.elfcheck import require_static
from supplychain.build.enginevcs import Stamp, TooLarge, host_git_entries, host_repo, repo_entries, stamp_note
from supplychain.build.gocompile import COMPILE_TIMEOUT, PROGRESS_EVERY, compile_error, go_env
from supplychain.build.layers import Entry, directory, file, layer_from_tar, tar_bytes
from supplychain.build.model import BuildRequest, BuildResult
from supplychain.errors import BuildError, UsageError
from supplychain.image.platform import Platform, goarch
from supplychain.progress import Progress
from supplychain.source import go_version
from supplychain.strictdoc import load_json
from supplychain.tools import child_env, docker_client, find_tool

MAX_CONTEXT_FILES = 20_000
MAX_CONTEXT_BYTES = 1 << 30
SKIP_DIRS = {".git", "dist", "node_modules", ".sccheck"}
MAX_SAVED_BYTES = 2 * 1024 * 1024 * 1024
MAX_BINARIES_BYTES = 1 << 30
WORK = "/sccheck"                      # everything the container gets lives below this
SRC, OUT, MODCACHE = f"{WORK}/src", f"{WORK}/out", f"{WORK}/gomodcache"
SCRATCH = f"{WORK}/work"               # go's TMPDIR: the builder image may have no /tmp
CONTAINER_LABEL = "dev.sccheck.build"  # on every container we make, so a leftover is recognisable
CACHE_VOLUME = "sccheck-go-build-cache"  # go's build cache in the engine; only speed depends on it
HOST_GIT = f"{WORK}/hostgit"           # the host's git, when it comes along (enginevcs)
DEFAULT_PATH = "/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Context:
    root: Path              # the tree copied to SRC: the module, the go.work's directory, or the
                            # git work tree holding either (when go is to stamp VCS info)
    workdir: str            # the module's directory in the container
    gowork: str             # GOWORK in the container: "off" or the go.work below SRC
    tar: bytes              # source + module cache, unpacked at /
    stamp: Stamp | None = None   # the VCS stamp the host's go writes, when the engine's go is to
    notes: tuple[str, ...] = ()
    path: str | None = None      # PATH in the container when the host's git came along


def _go(args: list[str], cwd: Path, extra: dict[str, str] | None = None,
        timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = child_env(extra={"GOTOOLCHAIN": "local", "CGO_ENABLED": "0", **(extra or {})})
    try:
        return subprocess.run([find_tool("go") or "go", *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise BuildError(f"go {args[0]} in {cwd} took longer than {timeout}s",
                         fix="check for a hung module download (offline? vendor the modules)") from None


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def workspace(prep: Prepared) -> tuple[Path, Path | None]:
    """(the tree to copy, the go.work file or None): the go.work `go` would use for the module
    (as the daemonless build does), whose every `use` directory must lie below it."""
    proc = _go(["env", "GOWORK"], prep.module.root, {"GOFLAGS": prep.compile.goflags})
    gowork = proc.stdout.strip()
    if proc.returncode != 0 or gowork in ("", "off"):
        return prep.module.root, None
    work = Path(gowork)
    edit = _go(["work", "edit", "-json", str(work)], prep.module.root)
    doc = load_json(edit.stdout.encode(), f"go work edit -json {work}", error=BuildError) \
        if edit.returncode == 0 else {}
    for use in doc.get("Use") or []:
        disk = (work.parent / str(use.get("DiskPath", ""))).resolve()
        if not _inside(disk, work.parent):
            raise UsageError(f"{work} uses {use.get('DiskPath')}, outside the workspace directory",
                             expected=f"every 'use' directory below {work.parent} (the tree the docker "
                                      "builder copies into the engine)",
                             found=str(disk),
                             fix="move the module below the go.work, or use --builder oci")
    return work.parent, work


def _source_entries(root: Path, dest: str = SRC) -> list[Entry]:
    entries: list[Entry] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            if len(entries) >= MAX_CONTEXT_FILES:
                raise BuildError(f"{root} has more than {MAX_CONTEXT_FILES} files",
                                 fix="build from the module directory, not a parent of it")
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            entries.append(file(f"{dest}/{path.relative_to(root).as_posix()}", path.read_bytes(), mode))
    return entries


def _lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line.strip() for line in proc.stdout.splitlines() if line.strip()]


def module_cache_entries(prep: Prepared, root: Path, platforms: list[Platform]) -> list[Entry]:
    """The files of the host's module cache that `go build` reads for these platforms: every
    module's go.mod (the module graph), and the zips of the modules that provide packages.
    Nothing when the build uses vendor/; a local `replace` must lie inside the copied tree."""
    goflags = {"GOFLAGS": prep.compile.goflags}
    cache = Path(_go(["env", "GOMODCACHE"], prep.module.root).stdout.strip()) / "cache" / "download"
    graph = _go(["list", "-m", "-f", "{{.GoMod}}\t{{with .Replace}}{{if not .Version}}{{.Dir}}{{end}}{{end}}",
                 "all"], prep.module.root, goflags)
    mods: set[Path] = set()
    for line in _lines(graph) if graph.returncode == 0 else []:
        listed, _, local = line.partition("\t")
        if local and not _inside(Path(local), root):
            raise UsageError(f"a replace directive points at {local}, outside {root}",
                             expected=f"local replacements below {root} (the tree the docker builder copies)",
                             fix="move the replaced module below the module (or its go.work), or use "
                                 "--builder oci")
        mods.add(Path(listed))
    zips: set[Path] = set()
    tags = ["-tags", ",".join(prep.compile.tags)] if prep.compile.tags else []
    for platform in platforms:
        deps = _go(["list", "-e", "-deps", *tags, "-f", "{{with .Module}}{{.GoMod}}{{end}}",
                    *(m.package for m in prep.mains)], prep.module.root, {**goflags, **go_env(platform)})
        zips.update(Path(line) for line in _lines(deps))
    entries: list[Entry] = []
    for gomod in sorted(mods | zips):
        if not _inside(gomod, cache) or gomod.suffix != ".mod" or not gomod.is_file():
            continue   # the main module, a local replacement, a vendored module
        stem = gomod.with_suffix("")
        wanted = [".mod", ".info", *((".zip", ".ziphash") if gomod in zips else ())]
        for suffix in wanted:
            path = stem.with_name(stem.name + suffix)
            if path.is_file():
                rel = path.relative_to(cache).as_posix()
                entries.append(file(f"{MODCACHE}/cache/download/{rel}", path.read_bytes()))
    return entries


def _below(path: Path, root: Path) -> str:
    rel = path.resolve().relative_to(root.resolve()).as_posix()
    return SRC if rel == "." else f"{SRC}/{rel}"


def build_context(prep: Prepared, git_arch: str | None = None, image_path: str = DEFAULT_PATH) -> Context:
    """The container's tree. In a git work tree (where the host's go stamps VCS info) it is the
    repository as git sees it (supplychain/build/enginevcs.py), so the engine's go stamps the
    same, and with `git_arch` (the engine's architecture, when it is this machine's) the host's
    git comes along, first on the PATH; past the context's limits it is the module alone, and a
    note says the stamp is left out."""
    root, work = workspace(prep)
    tree, stamp, notes, path = root, None, [], None
    extra: list[Entry] = []
    source: list[Entry] | None = None
    repo = host_repo(prep.module.root, prep.info)
    top_holds_root = repo is not None and _inside(root, repo.top)
    if repo is not None and (top_holds_root or _inside(repo.top, root)):
        tree = repo.top if top_holds_root else root
        try:
            source = repo_entries(repo, tree, SRC, _source_entries(root, _below(root, tree)),
                                  max_files=MAX_CONTEXT_FILES, max_bytes=MAX_CONTEXT_BYTES // 2)
            stamp = repo.stamp
            carried = host_git_entries(HOST_GIT, git_arch) if git_arch else None
            if carried:
                extra, path = carried, f"{HOST_GIT}/bin:{image_path}"
        except TooLarge as why:
            tree = root
            notes.append(f"the git repository is too large to copy into the engine ({why}): the binary "
                         "carries no VCS stamp, so its digest differs from --builder oci's; labels and "
                         "provenance still name the revision")
    if source is None:       # no repository to stamp from, or too large: the module alone
        source = _source_entries(root)
    entries = [directory(OUT), directory(SCRATCH, 0o1777), *source, *extra,
               *module_cache_entries(prep, tree, prep.platforms)]
    size = sum(len(e.data or b"") for e in entries)
    if size > MAX_CONTEXT_BYTES:
        raise BuildError(f"the source and modules for the docker build are {size} bytes",
                         expected=f"at most {MAX_CONTEXT_BYTES} bytes", fix="use --builder oci")
    raw, _ = tar_bytes(entries, 0)
    gowork = f"{_below(work.parent, tree)}/{work.name}" if work else "off"
    return Context(tree, _below(prep.module.root, tree), gowork, raw, stamp, tuple(notes), path)


def go_build_argv(prep: Prepared, vcs: bool = False) -> list[str]:
    """One `go build` for every main package of the image: `-o DIR/` names each binary as
    `go build` does (the last element of its import path), as MainPackage.name does. With `vcs`
    go stamps VCS info where it finds git and a repository (`-buildvcs=auto`)."""
    argv = ["go", "build", "-trimpath", f"-buildvcs={'auto' if vcs else 'false'}", "-ldflags",
            prep.compile.ldflags]
    if prep.compile.tags:
        argv += ["-tags", ",".join(prep.compile.tags)]
    return [*argv, "-o", OUT + "/", *(m.package for m in prep.mains)]


def container_env(prep: Prepared, ctx: Context, platform: Platform) -> dict[str, str]:
    env = {"CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": prep.compile.goflags,
           "GOPROXY": "off", "GOSUMDB": "off", "GOWORK": ctx.gowork, "GOMODCACHE": MODCACHE,
           "GOCACHE": f"{WORK}/gocache", "HOME": WORK, "TMPDIR": SCRATCH, **go_env(platform)}
    if ctx.stamp is not None:
        env["GIT_CONFIG_NOSYSTEM"] = "1"      # the image's /etc/gitconfig does not change the answers
    if ctx.path:
        env["PATH"] = ctx.path
    return env


def _binaries(stream: Iterator[bytes], prep: Prepared) -> list[bytes]:
    buf = bytearray()
    for chunk in stream:
        buf += chunk
        if len(buf) > MAX_BINARIES_BYTES:
            raise BuildError("the compiled binaries are too large",
                             found=f"more than {MAX_BINARIES_BYTES} bytes")
    out = []
    with tarfile.open(fileobj=io.BytesIO(bytes(buf)), mode="r:") as tar:
        for main in prep.mains:
            member = tar.extractfile(f"out/{main.name}")
            if member is None:
                raise BuildError(f"the docker build wrote no binary {main.name}")
            out.append(member.read())
    return out


def compile_in_engine(client: Any, image: str, prep: Prepared, ctx: Context, platform: Platform,
                      progress: Progress, notes: list[str] | None = None) -> list[bytes]:
    """Compile every main package for `platform` in one offline container, removed afterwards.
    Where the host's go stamps VCS info the engine's go is asked to; if its git cannot read the
    repository the compile is run again without the stamp, and `notes` says so. The entry
    binary's stamp is compared with the host's (first platform only: one repository, one stamp)."""
    notes = notes if notes is not None else []
    if ctx.stamp is None:
        return _compile(client, image, prep, ctx, platform, progress, vcs=False)
    try:
        binaries = _compile(client, image, prep, ctx, platform, progress, vcs=True)
    except BuildError as exc:
        if "error obtaining VCS status" not in f"{exc.message} {exc.found} {exc.facts}":
            raise
        notes.append("git in the builder image could not read the repository (\"error obtaining VCS "
                     "status\"): built without the VCS stamp, so the digest differs from --builder oci's")
        progress.info(f"note: {notes[-1]}")
        return _compile(client, image, prep, ctx, platform, progress, vcs=False)
    if platform == prep.platforms[0]:
        note = stamp_note(binaries[prep.mains.index(prep.entry)], ctx.stamp)
        if note:
            notes.append(note)
            progress.info(f"note: {note}")
    return binaries


def _compile(client: Any, image: str, prep: Prepared, ctx: Context, platform: Platform,
             progress: Progress, *, vcs: bool) -> list[bytes]:
    import docker
    import requests

    argv = go_build_argv(prep, vcs)
    began = time.monotonic()
    progress.step(f"compile {platform}", f"in {image}")
    container = client.containers.create(image, command=argv, working_dir=ctx.workdir, user="0:0",
                                         environment=container_env(prep, ctx, platform),
                                         network_mode="none", labels={CONTAINER_LABEL: prep.entry.name},
                                         volumes={CACHE_VOLUME: {"bind": f"{WORK}/gocache", "mode": "rw"}})
    try:
        container.put_archive("/", ctx.tar)
        container.start()
        while True:
            try:
                status = container.wait(timeout=PROGRESS_EVERY)
                break
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                elapsed = time.monotonic() - began
                if elapsed > COMPILE_TIMEOUT:
                    raise BuildError(f"go build for {platform} in the engine took longer than "
                                     f"{COMPILE_TIMEOUT}s") from None
                progress.info(f"compile {platform}: still compiling ({elapsed:.0f} s)")
        if status.get("StatusCode") != 0:
            log = container.logs(stdout=True, stderr=True).decode("utf-8", errors="replace")
            raise compile_error(prep.compile_for(prep.entry), platform, argv, log[-200_000:])
        stream, _ = container.get_archive(OUT)
        binaries = _binaries(stream, prep)
    finally:
        with contextlib.suppress(docker.errors.DockerException):
            container.remove(force=True)
    with tempfile.TemporaryDirectory(prefix="sccheck-docker-") as tmp:
        for main, data in zip(prep.mains, binaries, strict=True):
            path = Path(tmp) / main.name
            path.write_bytes(data)
            require_static(path, str(platform))
    progress.done(f"compile {platform}", f"{time.monotonic() - began:.1f} s")
    return binaries


def engine_base(client: Any, spec: str, platforms: list[Platform], mtime: int,
                req: BuildRequest) -> BaseImage:
    """scratch, static and oci:DIR as the daemonless build has them; a REF base must already be
    in the engine (nothing is pulled), one platform, read with `docker save`. Its registry
    digest, when the engine knows one (RepoDigests), goes into the labels."""
    if spec in ("scratch", "static") or spec.startswith("oci:"):
        return resolve_base(spec, platforms, mtime, req.registry)
    import docker

    target = ALIASES.get(spec, spec)
    try:
        image = client.images.get(target)
    except docker.errors.ImageNotFound:
        raise BuildError(
            f"the base {spec} is not in the Docker engine",
            expected=f"an image {target} the engine already has (the docker builder does not pull)",
            found="no such image",
            fix=f"docker pull {target} (or docker load it), or use --builder oci, which reads registries "
                "and OCI layouts") from None
    saved = b"".join(image.save(named=False))
    config, layers = _saved_image(saved, image.id, req.gzip_level)
    missing = [str(p) for p in platforms if not p.matches(config)]
    if missing:
        has = Platform.from_oci(config) or "an unknown platform"
        raise BuildError(f"the base {spec} in the engine is for {has}, not {', '.join(missing)}",
                         expected="a base image for every requested platform",
                         fix="use --builder oci with a multi-platform base (a registry or oci:DIR)")
    digests = [d for d in image.attrs.get("RepoDigests") or [] if "@" in d]
    reference, digest = (digests[0], digests[0].split("@", 1)[1]) if digests else (target, None)
    return BaseImage(spec, reference, digest, dict.fromkeys(platforms, BasePlatform(layers, config)))


def _saved_image(saved: bytes, image_id: str, level: int) -> tuple[dict[str, Any], tuple[BaseLayer, ...]]:
    if len(saved) > MAX_SAVED_BYTES:
        raise BuildError("the base image the engine saved is too large", found=f"{len(saved)} bytes")
    with tarfile.open(fileobj=io.BytesIO(saved), mode="r:") as tar:
        def member(name: str) -> bytes:
            extracted = tar.extractfile(name)
            if extracted is None:
                raise BuildError(f"docker save output lacks {name}")
            return extracted.read()

        manifest: list[dict[str, Any]] = load_json(member("manifest.json"), "docker save's manifest.json",
                                                   error=BuildError)
        raw_config = member(manifest[0]["Config"])
        layers = [layer_from_tar(member(name), level) for name in manifest[0]["Layers"]]
    config: dict[str, Any] = load_json(raw_config, "the base's config", error=BuildError)
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if [lay.diff_id for lay in layers] != diff_ids:
        raise BuildError("docker save returned layers that are not the base's",
                         expected=", ".join(diff_ids), found=", ".join(lay.diff_id for lay in layers),
                         facts={"image": image_id})
    return config, tuple(BaseLayer(lay.descriptor, lay.diff_id, lay.data) for lay in layers)


def require_builder_image(client: Any, image: str) -> str:
    """The builder image's PATH (it must be in the engine)."""
    import docker

    try:
        found = client.images.get(image)
    except docker.errors.ImageNotFound:
        raise BuildError(
            f"the Go builder image {image} is not in the Docker engine",
            expected="a local image with the go command on its PATH (the docker builder does not pull)",
            found="no such image",
            fix="docker pull it where the engine can, or 'docker import' a Go toolchain tarball and name it "
                "with --builder-image (docs/build.md, \"Docker backend\"), or use --builder oci") from None
    env = (found.attrs.get("Config") or {}).get("Env") or []
    return next((str(e)[5:] for e in env if str(e).startswith("PATH=")), DEFAULT_PATH)


def engine_arch(client: Any) -> str | None:
    """The engine's architecture as GOARCH when it is this machine's (the host's git runs there)."""
    import docker

    try:
        engine = goarch(str(client.info().get("Architecture", "")))
    except (docker.errors.DockerException, OSError):   # it will not say: the image's own git, if any
        return None
    return engine if engine and engine == goarch(host.machine()) else None


def build_with_docker(req: BuildRequest, progress: Progress,
                      meanwhile: Callable[[], object] | None = None) -> BuildResult:
    import docker

    began = time.monotonic()
    prep = prepare(req, progress)
    builder_image = req.builder_image or f"golang:{go_version().removeprefix('go') or 'unknown'}"
    try:
        client = docker_client()  # credential helpers see no secrets of ours
        image_path = require_builder_image(client, builder_image)
        progress.step("base", req.base)
        base = engine_base(client, req.base, prep.platforms, prep.epoch, req)
        progress.done("base", base.reference or base.name)
        ctx = build_context(prep, engine_arch(client), image_path)
        notes = list(ctx.notes)
        for note in notes:
            progress.info(f"note: {note}")

        def compile_platform(platform: Platform, timings: dict[str, float]) -> list[bytes]:
            t0 = time.monotonic()
            out = compile_in_engine(client, builder_image, prep, ctx, platform, progress, notes)
            timings[f"compile {platform}"] = time.monotonic() - t0
            return out

        result = assemble_build(req, prep, base, compile_platform, "docker", progress, began, meanwhile)
        return replace(result, notes=(*result.notes, *notes)) if notes else result
    except docker.errors.DockerException as exc:
        raise BuildError("the Docker engine could not build the image", found=str(exc)[:1000],
                         fix="start the Docker engine (scripts/services) or use --builder oci") from None


__all__ = ["build_context", "build_with_docker", "go_build_argv"]
