"""`build` makes an image; `publish` puts it somewhere. Kept apart (like ko) so each can be
timed, tested and reused alone; `build_and_publish` is the one small function that wires them."""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from supplychain.build.model import DEFAULT_OUTPUT, BuildRequest, BuildResult, PublishResult, PublishTarget
from supplychain.errors import UsageError
from supplychain.fsutil import atomic_write
from supplychain.image.reference import parse_image_ref
from supplychain.progress import Progress, SilentProgress
from supplychain.registry.options import RegistryOptions

BUILDERS = ("oci", "docker")


def build(request: BuildRequest, progress: Progress | None = None, *,
          meanwhile: Callable[[], object] | None = None) -> BuildResult:
    """`meanwhile`: the caller's own work, done on this thread while the compiler runs (the
    compiler is the longest step, and the CPU it leaves is the caller's to use)."""
    progress = progress or SilentProgress()
    if request.builder == "oci":
        from supplychain.build.daemonless import build_daemonless

        return build_daemonless(request, progress, meanwhile)
    if request.builder == "docker":
        from supplychain.build.docker_backend import build_with_docker

        return build_with_docker(request, progress, meanwhile)
    raise UsageError(f"unknown builder {request.builder!r}", expected=" or ".join(BUILDERS),
                     fix="--builder oci (daemonless, default) or --builder docker")


def _unwritable_ancestor(path: Path) -> tuple[Path, str | None]:
    """The nearest existing directory of `path` (missing ones are made later), and why it
    cannot take new entries, or None when it can."""
    ancestor = path
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return ancestor, "Not a directory"
    if not os.access(ancestor, os.W_OK):
        return ancestor, "Permission denied"
    return ancestor, None


def check_target(target: PublishTarget) -> None:
    """Validate where the image goes before spending time on building it."""
    if target.output is not None:
        ref = parse_image_ref(target.output)
        if not ref.is_layout or ref.digest or ref.layout_dir is None:
            raise UsageError(f"--output {target.output!r} is not an OCI layout destination",
                             expected="oci:DIR", fix="e.g. --output oci:dist/oci")
        ancestor, why = _unwritable_ancestor(Path(ref.layout_dir))
        if why:
            raise UsageError(f"cannot create the OCI layout at {ref.layout_dir}: {why}",
                             expected="a writable directory", found=f"{ancestor}",
                             fix="choose a writable --output directory")
    if target.tarball is not None:
        # Like --output: missing directories are created (after the build), but the nearest
        # existing one must be a writable directory.
        ancestor, why = _unwritable_ancestor(Path(target.tarball).parent)
        if why:
            raise UsageError(f"cannot write the tarball {target.tarball}: {why}",
                             expected="a path under a writable directory", found=f"{ancestor}",
                             fix="choose another --tarball path")
    if target.push is not None:
        parse_image_ref(target.push)
    if not (target.output or target.tarball or target.push or target.load):
        raise UsageError("nowhere to put the image", expected="--output, --tarball, --push or --load")


def keep_out_of_git(directory: Path) -> bool:
    """Make `directory` (the default output's parent, `dist/`) ignored by git: an untracked file
    would make go's VCS stamp say vcs.modified=true, so a second build would differ from the first.
    True when the ignore file was written now."""
    ignore = directory / ".gitignore"
    if ignore.exists() or directory.is_symlink():
        return False
    atomic_write(ignore, "# sccheck build's default output: never part of the source it stamps\n*\n")
    return True


def publish(result: BuildResult, target: PublishTarget, progress: Progress | None = None, *,
            options: RegistryOptions | None = None) -> PublishResult:
    """Put the built image where `target` says. Every sink reads it from `result.store()`."""
    from supplychain.build import outputs

    progress = progress or SilentProgress()
    check_target(target)
    store, digest = result.store(), result.digest
    repo_tag = outputs.docker_tag(result.name, result.version, target.tag)
    timings: dict[str, float] = {}
    output = tarball = reference = loaded = loaded_platform = None
    if target.output is not None:
        t0 = time.monotonic()
        ref = parse_image_ref(target.output)
        assert ref.layout_dir is not None
        if target.output == DEFAULT_OUTPUT and keep_out_of_git(Path(ref.layout_dir).parent):
            progress.info(f"note: wrote {Path(ref.layout_dir).parent / '.gitignore'} so the default "
                          "output never counts as a change to the source the next build stamps")
        progress.step("write", target.output)
        output = outputs.write_layout(store, digest, ref.layout_dir, ref.tag or outputs.tag_part(target.tag))
        progress.done("write", output)
        timings["output"] = time.monotonic() - t0
    if target.tarball is not None:
        t0 = time.monotonic()
        progress.step("tarball", target.tarball)
        img = outputs.write_tarball(store, digest, target.tarball, repo_tag)
        tarball = target.tarball
        progress.done("tarball", f"{repo_tag} ({img.platform_name})")
        timings["tarball"] = time.monotonic() - t0
    if target.load:
        t0 = time.monotonic()
        progress.step("load")
        img = outputs.load_into_engine(store, digest, repo_tag)
        loaded, loaded_platform = repo_tag, img.platform_name
        progress.done("load", f"{loaded} ({img.platform_name})")
        timings["load"] = time.monotonic() - t0
    if target.push is not None:
        t0 = time.monotonic()
        progress.step("push", target.push)
        reference = outputs.push(store, digest, target.push, progress, options=options, force=target.force)
        progress.done("push", reference)
        timings["push"] = time.monotonic() - t0
    return PublishResult(result.digest, output, tarball, reference, loaded, loaded_platform, timings)


def build_and_publish(request: BuildRequest, target: PublishTarget,
                      progress: Progress | None = None) -> tuple[BuildResult, PublishResult]:
    check_target(target)
    # The sinks' modules (the copy, the layout, the registry client) load while Go compiles.
    result = build(request, progress, meanwhile=lambda: importlib.import_module("supplychain.build.outputs"))
    return result, publish(result, target, progress, options=request.registry)
