"""`generate_sbom(target)`: one call from an image, a Go binary or a Go source tree to SBOMs.

Multi-platform images give one BOM per platform (each describes one platform manifest, by
digest, which is what an SBOM attestation is attached to); `platform=` picks one.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from supplychain.errors import Error, SbomError, UsageError
from supplychain.fsutil import temp_file_beside
from supplychain.image.filesystem import platform_images
from supplychain.image.platform import Platform
from supplychain.image.reference import ImageRef, parse_image_ref
from supplychain.image.store import ContentStore
from supplychain.progress import Progress, SilentProgress
from supplychain.registry.options import RegistryOptions
from supplychain.sbom.buildinfo import read_buildinfo
from supplychain.sbom.cyclonedx import build_bom, render, schema_version
from supplychain.sbom.gomod import program_from_source
from supplychain.sbom.image import MAX_BINARY_BYTES, image_created, scan_image
from supplychain.sbom.model import Inventory, Subject, program_from_binary
from supplychain.stores import open_store


@dataclass(frozen=True)
class SbomDocument:
    subject: Subject
    spec_version: str
    text: str                     # the CycloneDX JSON
    go_programs: int
    go_modules: int               # dependency modules over all programs (main modules not counted)
    os_packages: int
    main_versions: tuple[str, ...]
    executables_skipped: int = 0

    def summary(self) -> dict[str, object]:
        return {"subject": self.subject.kind, "name": self.subject.name, "digest": self.subject.digest,
                "platform": self.subject.platform, "spec_version": self.spec_version,
                "go_programs": self.go_programs, "go_modules": self.go_modules,
                "os_packages": self.os_packages, "main_versions": list(self.main_versions),
                "executables_skipped": self.executables_skipped}


def _env_time() -> datetime | None:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC)
    return None


def _document(inv: Inventory, spec: str, validate: bool, skipped: int = 0) -> SbomDocument:
    text = render(build_bom(inv), spec, validate=validate)
    return SbomDocument(inv.subject, spec, text, len(inv.programs),
                        len({(m.path, m.version) for p in inv.programs for m in p.deps}),
                        len(inv.os_packages), tuple(p.main.version for p in inv.programs), skipped)


def _from_binary(path: Path, spec: str, validate: bool) -> SbomDocument:
    try:
        size = path.stat().st_size
        if size > MAX_BINARY_BYTES:
            raise SbomError(f"{path} is larger than {MAX_BINARY_BYTES} bytes")
        data = path.read_bytes()
    except OSError as exc:
        raise SbomError(f"cannot read {path}: {exc.strerror}", fix="check the path and permissions") from None
    program = program_from_binary(read_buildinfo(data, str(path)), data, str(path))
    vcs_time = program.setting("vcs.time")
    when = _env_time()
    if when is None and vcs_time:
        with contextlib.suppress(ValueError):
            when = datetime.fromisoformat(vcs_time.replace("Z", "+00:00"))
    if when is None:
        when = datetime.fromtimestamp(int(path.stat().st_mtime), UTC)
    subject = Subject("binary", program.main.path, program.main.version, timestamp=when)
    return _document(Inventory(subject, (program,), ()), spec, validate)


def _names(text: str, wanted: Platform) -> bool:
    try:
        return Platform.parse(text).same_as(wanted)
    except UsageError:
        return False


def _from_image(ref: ImageRef, spec: str, platform: str | None, validate: bool,
                progress: Progress, registry: RegistryOptions | None = None) -> list[SbomDocument]:
    return image_sboms(open_store(ref, registry), ref, spec_version=spec, platform=platform,
                       validate=validate, progress=progress)


def image_sboms(store: ContentStore, ref: ImageRef, *, spec_version: str = "1.6",
                platform: str | None = None, validate: bool = False,
                progress: Progress | None = None) -> list[SbomDocument]:
    """SBOMs (one per platform) of the image `ref` names in `store`, an already open store."""
    progress = progress or SilentProgress()
    spec = spec_version
    top = store.resolve(ref.identifier)
    images = platform_images(store, ref.identifier)
    index_digest = top.digest if len(images) > 1 or top.digest != images[0].digest else ""
    if platform:
        wanted = Platform.parse(platform)
        chosen = [i for i in images if i.platform and _names(i.platform, wanted)]
        if not chosen:
            raise UsageError(
                f"{ref} has no image for platform {platform}",
                expected=platform, found=", ".join(str(i.platform) for i in images),
                fix="pass one of the platforms found, or leave out --platform",
            )
        images = chosen[:1]
    docs = []
    for image in images:
        progress.step("sbom", f"{ref} {image.platform or ''}".strip())
        contents = scan_image(store, image, progress)
        subject = Subject("image", ref.name, ref.tag or "", image.digest, index_digest,
                          image.platform or "", image_created(image.config) or _env_time())
        doc = _document(Inventory(subject, contents.programs, contents.os_packages, contents.os_release),
                        spec, validate, contents.executables_skipped)
        progress.done("sbom", f"{doc.go_programs} Go program(s), {doc.go_modules} module(s), "
                              f"{doc.os_packages} OS package(s)")
        docs.append(doc)
    return docs


def generate_sbom(target: str, *, spec_version: str = "1.6", platform: str | None = None,
                  use_go: bool = True, validate: bool = False, progress: Progress | None = None,
                  registry: RegistryOptions | None = None) -> list[SbomDocument]:
    """SBOMs for an image reference (`oci:DIR[:tag]`, `host/repo:tag`), a Go binary or a source tree.

    `validate` checks each BOM against the CycloneDX JSON schema (slow to load: about 2 s).
    """
    progress = progress or SilentProgress()
    schema_version(spec_version)
    if platform is not None:
        Platform.parse(platform)   # a malformed --platform is a usage error before any request
    path = Path(target)
    try:
        exists = not target.startswith("oci:") and path.exists()
    except OSError:  # a name no file system can hold (too long, ...) is no path
        exists = False
    if exists:
        if path.is_dir() and (path / "oci-layout").is_file():
            return _from_image(parse_image_ref(f"oci:{path}"), spec_version, platform, validate, progress)
        if path.is_dir():
            program = program_from_source(path, use_go=use_go)
            subject = Subject("source", program.main.path, program.main.version,
                              timestamp=_env_time() or datetime.now(UTC).replace(microsecond=0))
            return [_document(Inventory(subject, (program,), ()), spec_version, validate)]
        return [_from_binary(path, spec_version, validate)]
    try:
        ref = parse_image_ref(target)
    except UsageError:
        raise UsageError(
            f"{target!r} is neither a file, a directory nor an image reference",
            expected="a Go binary, a Go module directory, oci:DIR[:tag] or host/repo[:tag|@digest]",
            found="no such path, and not a valid reference",
            fix="check the spelling of the path or reference",
        ) from None
    try:
        return _from_image(ref, spec_version, platform, validate, progress, registry)
    except Error:
        raise
    except OSError as exc:
        raise SbomError(f"cannot read the image {target}: {exc}") from None


def output_paths(docs: list[SbomDocument], output: str) -> list[Path]:
    """One path per document: `F` for one; `F` with `.<os>-<arch>[-variant]` before the suffix for many."""
    base = Path(output)
    if len(docs) == 1:
        return [base]
    suffix = "".join(base.suffixes[-2:]) if base.name.endswith(".cdx.json") else base.suffix
    stem = base.name[: len(base.name) - len(suffix)] if suffix else base.name
    return [base.with_name(f"{stem}.{(d.subject.platform or str(i)).replace('/', '-')}{suffix}")
            for i, d in enumerate(docs)]


def write_sboms(docs: list[SbomDocument], output: str) -> list[str]:
    """Write every document, all or nothing: temporary files renamed into place at the end."""
    targets = output_paths(docs, output)
    temps: list[tuple[str, Path]] = []
    placed: list[Path] = []
    try:
        for target in targets:
            if target.is_dir():
                raise IsADirectoryError(21, "Is a directory", str(target))
        for doc, target in zip(docs, targets, strict=True):
            fd, tmp = temp_file_beside(target)
            temps.append((tmp, target))
            with os.fdopen(fd, "w") as fh:
                fh.write(doc.text)
                fh.flush()
                os.fsync(fh.fileno())
        for tmp, target in temps:
            os.replace(tmp, target)
            placed.append(target)
    except OSError as exc:
        for leftover in [Path(tmp) for tmp, _ in temps] + placed:  # all or nothing
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        raise UsageError(
            f"cannot write the SBOM to {output}: {exc.strerror or exc}",
            expected="a writable file path in an existing directory",
            found=f"{exc.strerror or exc} for {Path(output).parent}",
            fix="choose another --output path",
        ) from None
    return [str(t) for t in targets]
