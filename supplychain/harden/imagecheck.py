"""`harden check`: lint an image's config and layers without extracting anything.

The merged file system (whiteouts applied) is read with the foundation's
`supplychain.image.filesystem`; secrets are searched in *every* layer's files, because a file
deleted by a later layer still ships in the earlier layer's blob.
"""

from __future__ import annotations

import posixpath
import re
import tarfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from supplychain.errors import ImageError
from supplychain.harden.config import CheckOptions, make_options
from supplychain.harden.report import Finding, HardenReport, PlatformStats
from supplychain.harden.rules import RULES
from supplychain.harden.secrets import SNIFF_BYTES, looks_textual, scan_text
from supplychain.image.filesystem import (
    LAYER_ERRORS,
    MAX_LAYER_ENTRIES,
    FileEntry,
    ImageBudget,
    ImageFilesystem,
    PlatformImage,
    apply_layer,
    normalise,
    open_layer,
    platform_images,
)
from supplychain.image.reference import ImageRef, parse_image_ref
from supplychain.image.store import ContentStore
from supplychain.progress import Progress, SilentProgress
from supplychain.registry.options import RegistryOptions
from supplychain.stores import open_store

BIN_DIRS = frozenset({"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"})
SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "busybox"})
PACKAGE_MANAGERS = frozenset({"apk", "apt", "apt-get", "aptitude", "dpkg", "rpm", "yum", "dnf",
                              "microdnf", "tdnf", "zypper", "pacman", "emerge", "opkg"})
SCRATCH_DIRS = ("/tmp", "/var/tmp")  # noqa: S108 - paths inside the image, not ours
BASE_DIGEST = "org.opencontainers.image.base.digest"
BASE_NAME = "org.opencontainers.image.base.name"
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$")
_ACCOUNT_FILES = ("/etc/passwd", "/etc/group")


def check_image(ref: str | ImageRef, options: CheckOptions, progress: Progress | None = None,
                now: datetime | None = None, registry: RegistryOptions | None = None,
                store: ContentStore | None = None) -> HardenReport:
    """Lint every platform image a reference names (in `store` when given, else the store the
    reference names); the report's verdict uses options.threshold."""
    progress = progress or SilentProgress()
    image_ref = parse_image_ref(ref) if isinstance(ref, str) else ref
    store = store if store is not None else open_store(image_ref, registry)
    desc = store.resolve(image_ref.identifier)
    findings: list[Finding] = []
    stats: list[PlatformStats] = []
    for image in platform_images(store, desc.digest):
        progress.step("harden", f"{image.platform or 'image'} {image.digest[:19]}")
        found, stat = _check_platform(store, image, options)
        findings.extend(found)
        stats.append(stat)
        progress.done("harden", f"{len(found)} finding(s)")
    kept = [f for f in findings if not _allowlisted(f, options)]
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return HardenReport(str(image_ref.with_digest(desc.digest)), desc.digest, options.threshold,
                        tuple(kept), tuple(stats), len(findings) - len(kept), when)


def run_check(image: str | ImageRef, *, threshold: str | None = None, allow: tuple[str, ...] = (),
              config: str | None = None, max_size: str | None = None, scan_cap: str | None = None,
              progress: Progress | None = None,
              registry: RegistryOptions | None = None, profiles_dir: str | None = None,
              store: ContentStore | None = None) -> HardenReport:
    """What `sccheck harden check` does: options from flags and config, then the check (with the
    evidence of the runtime profiles in `profiles_dir`, when given)."""
    from supplychain.harden.profile import profile_evidence

    options = make_options(threshold=threshold, max_size=max_size, scan_cap=scan_cap, allow=allow,
                           config=config)
    report = check_image(image, options, progress, registry=registry, store=store)
    if profiles_dir:
        report = replace(report, profiles=profile_evidence(profiles_dir, report.digest))
    return report


def _allowlisted(finding: Finding, options: CheckOptions) -> bool:
    if options.allow.allows_rule(finding.rule):
        return True
    return bool(finding.path and finding.path.startswith("/") and options.allow.allows_path(finding.path))


def _finding(rule_id: str, message: str, evidence: str, path: str | None, image: PlatformImage,
             layer: int | None = None) -> Finding:
    return Finding(rule_id, RULES[rule_id].severity, message, evidence, path, image.platform, layer)


def _check_platform(store: ContentStore, image: PlatformImage,
                    options: CheckOptions) -> tuple[list[Finding], PlatformStats]:
    fs = ImageFilesystem()
    findings: list[Finding] = []
    file_secrets: list[tuple[int, str, str]] = []   # (layer, path, evidence)
    budget = ImageBudget()
    for index, layer in enumerate(image.layers):
        data = store.read_blob(layer)
        apply_layer(fs, index, data, lambda p: p in _ACCOUNT_FILES, 4 * 1024 * 1024,
                    media_type=layer.media_type, budget=budget)
        findings.extend(_scan_layer(data, index, image, options, file_secrets, budget))
    for index, path, evidence in file_secrets:
        entry = fs.get(path)
        if entry is None or entry.layer != index:
            evidence += f" (removed or replaced by a later layer, but layer {index} still ships it)"
        findings.append(_finding("SCH011", f"secret in {path}", evidence, path, image, index))
    findings.extend(_config_findings(image, fs))
    findings.extend(_filesystem_findings(image, fs))
    size = sum(e.size for e in fs.files.values() if e.kind == "file")
    if size > options.max_size:
        findings.append(_finding("SCH014", f"image is {size} bytes, above the maximum {options.max_size}",
                                 f"{size} bytes in {len(fs.files)} entries", None, image))
    stat = PlatformStats(image.platform, image.digest, len(image.layers),
                         sum(layer.size for layer in image.layers), len(fs.files), size)
    return findings, stat


# -- config -------------------------------------------------------------------------------------

def _passwd_field(fs: ImageFilesystem | None, file: str, key: int, value: str, want: int) -> int | None:
    """Look a name (or number) up in /etc/passwd or /etc/group: the field `want` of the line
    whose field `key` equals `value`."""
    data = fs.read(file) if fs is not None else None
    for line in (data or b"").decode("utf-8", "replace").splitlines():
        fields = line.split(":")
        if len(fields) > max(key, want) and fields[key] == value and fields[want].isdigit():
            return int(fields[want])
    return None


def resolve_user(user_spec: str, fs: ImageFilesystem | None) -> tuple[int | None, int | None]:
    """(uid, gid) of a config User the way a runtime does: numbers as they are, names through
    /etc/passwd and /etc/group, and without a group the user's primary group (else the uid)."""
    user, _, group = user_spec.partition(":")
    if user in ("", "root"):
        uid: int | None = 0
    elif user.isdigit():
        uid = int(user)
    else:
        uid = _passwd_field(fs, "/etc/passwd", 0, user, 2)
    if group:
        gid = int(group) if group.isdigit() else _passwd_field(fs, "/etc/group", 0, group, 2)
    elif uid is None:
        gid = None
    else:
        gid = _passwd_field(fs, "/etc/passwd", 2, str(uid), 3)
        gid = uid if gid is None else gid
    return uid, gid


def _config_findings(image: PlatformImage, fs: ImageFilesystem) -> Iterator[Finding]:
    conf: dict[str, Any] = image.config.get("config") or {}
    user_spec = str(conf.get("User") or "")
    user, _, group = user_spec.partition(":")
    uid, _gid = resolve_user(user_spec, fs)
    evidence = f"config.User={user_spec!r}"
    if user in ("", "root") or (user.isdigit() and int(user) == 0):
        yield _finding("SCH001", "the image runs as root" + (" (no User set)" if not user else ""),
                       evidence, "config.User", image)
    else:
        if not user.isdigit() or (group and not group.isdigit()):
            yield _finding("SCH002", f"the image user {user_spec!r} is not numeric uid:gid",
                           evidence, "config.User", image)
        if uid == 0:
            yield _finding("SCH001", f"the image user {user!r} is uid 0 in /etc/passwd",
                           f"{evidence}; /etc/passwd maps {user} to 0", "config.User", image)
    for port in sorted(conf.get("ExposedPorts") or {}):
        number = str(port).split("/", 1)[0]
        if number.isdigit() and int(number) < 1024:
            yield _finding("SCH013", f"port {port} is below 1024", f"config.ExposedPorts[{port!r}]",
                           "config.ExposedPorts", image)
    for i, env in enumerate(conf.get("Env") or []):
        for match in scan_text(str(env)):
            name = str(env).split("=", 1)[0]
            yield _finding("SCH008", f"secret in environment variable {name}",
                           f"{match.pattern}: {match.redacted}", f"config.Env[{i}]", image)
    labels: dict[str, Any] = conf.get("Labels") or {}
    for key in sorted(labels):
        for match in scan_text(f"{key}={labels[key]}"):
            yield _finding("SCH009", f"secret in label {key}", f"{match.pattern}: {match.redacted}",
                           f"config.Labels[{key!r}]", image)
    annotations: dict[str, Any] = image.manifest.get("annotations") or {}
    for key in sorted(annotations):
        for match in scan_text(f"{key}={annotations[key]}"):
            yield _finding("SCH009", f"secret in manifest annotation {key}",
                           f"{match.pattern}: {match.redacted}", f"manifest.annotations[{key!r}]", image)
    for i, step in enumerate(image.config.get("history") or []):
        text = f"{step.get('created_by', '')}\n{step.get('comment', '')}" if isinstance(step, dict) else ""
        for match in scan_text(text):
            yield _finding("SCH010", f"secret in build history step {i}",
                           f"{match.pattern}: {match.redacted}", f"history[{i}]", image)
    base_digest = labels.get(BASE_DIGEST) or annotations.get(BASE_DIGEST)
    base_name = labels.get(BASE_NAME) or annotations.get(BASE_NAME)
    if base_name != "scratch" and not (isinstance(base_digest, str) and _DIGEST.match(base_digest)):
        found = f"{BASE_DIGEST}={base_digest!r}" if base_digest else f"no {BASE_DIGEST} label or annotation"
        yield _finding("SCH012", "the base image is not pinned by digest", found,
                       f"config.Labels[{BASE_DIGEST!r}]", image)


# -- merged file system -------------------------------------------------------------------------

def _in_scratch_dir(path: str) -> bool:
    return any(path == d or path.startswith(d + "/") for d in SCRATCH_DIRS)


def _mode(entry: FileEntry) -> str:
    return f"{entry.mode & 0o7777:04o}"


def _filesystem_findings(image: PlatformImage, fs: ImageFilesystem) -> Iterator[Finding]:
    for path in sorted(fs.files):
        entry = fs.files[path]
        directory, base = posixpath.split(path)
        if directory in BIN_DIRS and entry.kind in ("file", "symlink", "hardlink"):
            link = f" -> {entry.linkname}" if entry.linkname else ""
            if base in SHELLS:
                yield _finding("SCH003", f"shell {path} is present", f"{entry.kind} {path}{link}",
                               path, image, entry.layer)
            elif base in PACKAGE_MANAGERS:
                yield _finding("SCH004", f"package manager {path} is present",
                               f"{entry.kind} {path}{link}", path, image, entry.layer)
        if entry.kind == "file" and entry.mode & 0o6000:
            bits = "+".join(b for b, m in (("setuid", 0o4000), ("setgid", 0o2000)) if entry.mode & m)
            yield _finding("SCH005", f"{path} is {bits}",
                           f"mode {_mode(entry)} owner {entry.uid}:{entry.gid}", path, image, entry.layer)
        if entry.kind in ("file", "dir") and entry.mode & 0o002:
            if not _in_scratch_dir(path):
                yield _finding("SCH006", f"{path} is world-writable", f"{entry.kind} mode {_mode(entry)}",
                               path, image, entry.layer)
            if entry.kind == "dir" and not entry.mode & 0o1000:
                yield _finding("SCH007", f"{path} is world-writable without the sticky bit",
                               f"dir mode {_mode(entry)}", path, image, entry.layer)


# -- secrets in every layer ---------------------------------------------------------------------

def escapes_root(member: tarfile.TarInfo) -> str | None:
    """Why an entry would land outside the image's root if extracted naively, or None. Absolute
    symlink targets are fine (a runtime resolves them inside the root); `..` that climbs above
    the root, absolute entry names and hard links to outside are not."""
    name = member.name
    if name.startswith("/"):
        return f"absolute entry name {name[:200]!r}"
    if _climbs(name):
        return f"entry name {name[:200]!r} climbs out of the root with '..'"
    if member.islnk() and (member.linkname.startswith("/") or _climbs(member.linkname)):
        return f"hard link {name[:200]!r} -> {member.linkname[:200]!r} points outside the root"
    target = posixpath.join(posixpath.dirname(name.rstrip("/")), member.linkname)
    if member.issym() and not member.linkname.startswith("/") and _climbs(target):
        return f"symlink {name[:200]!r} -> {member.linkname[:200]!r} resolves outside the root"
    return None


def _climbs(path: str) -> bool:
    depth = 0
    for part in path.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def _scan_layer(data: bytes, index: int, image: PlatformImage, options: CheckOptions,
                out: list[tuple[int, str, str]], budget: ImageBudget) -> Iterator[Finding]:
    """Search every regular text file of one layer (under the size cap) for secrets, and flag
    entries that would escape the root when extracted."""
    media_type = image.layers[index].media_type if index < len(image.layers) else None
    try:
        with open_layer(data, index, media_type=media_type, budget=budget) as tar:
            for count, member in enumerate(tar):
                if count >= MAX_LAYER_ENTRIES:
                    raise ImageError(f"layer {index} has more than {MAX_LAYER_ENTRIES} entries")
                escape = escapes_root(member)
                if escape is not None:
                    yield _finding("SCH016", "tar entry escapes the image root", escape,
                                   normalise(member.name), image, index)
                if not member.isreg() or member.size == 0:
                    continue
                path = normalise(member.name)
                if posixpath.basename(path).startswith(".wh.") or options.allow.allows_path(path):
                    continue
                handle = tar.extractfile(member)
                if handle is None:
                    continue
                if member.size > options.scan_cap:
                    if looks_textual(handle.read(SNIFF_BYTES)):
                        yield _finding("SCH015", f"{path} ({member.size} bytes) was not scanned",
                                       f"text file larger than the scan cap {options.scan_cap}",
                                       path, image, index)
                    continue
                content = handle.read(options.scan_cap)
                if not looks_textual(content):
                    continue
                for match in scan_text(content.decode("latin-1"), options.allow):
                    out.append((index, path, f"{match.pattern}: {match.redacted} at line {match.line}"))
    except LAYER_ERRORS as exc:
        raise ImageError(f"layer {index} is not a readable tar archive: {exc}") from None
