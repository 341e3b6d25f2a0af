"""`sccheck harden profile IMAGE@DIGEST`: a seccomp and an AppArmor profile per platform, made
by reading the binary the image runs.

Files written under the output directory (all-or-nothing each; the index last):

    <dir>/profiles.json                        the index: names, counts, groups, per platform
    <dir>/<os>-<arch>/<name>.json              the seccomp profile of that platform
    <dir>/<os>-<arch>/<name>.apparmor          the AppArmor profile of that platform

One name for every platform, so one manifest fits every node: install each platform's files on
the nodes of that architecture (seccomp under the kubelet's seccomp root as
`sccheck/<name>.json`; AppArmor loaded with `apparmor_parser -r`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supplychain.errors import CheckFailed, UsageError
from supplychain.harden.apparmor import apparmor_profile, rules_for, safe_path
from supplychain.harden.binscan import BinaryScan, read_entrypoint_binary, scan_binary
from supplychain.harden.fileio import atomic_write
from supplychain.harden.seccomp import HANDOFF, MARGIN, conservative_names, seccomp_profile
from supplychain.image.filesystem import PlatformImage, image_filesystem, platform_images
from supplychain.image.reference import ImageRef, parse_image_ref
from supplychain.image.store import ContentStore
from supplychain.progress import Progress, SilentProgress
from supplychain.registry.options import RegistryOptions
from supplychain.stores import open_store
from supplychain.strictdoc import load_json

INDEX = "profiles.json"
PROFILE_FORMAT = "sccheck-profiles/1"
SECCOMP_DIR = "sccheck"          # under the kubelet's seccomp root: localhostProfile sccheck/<name>.json
_NAME = re.compile(r"[^a-z0-9-]+")
IMAGE_TMP = "/tmp"  # noqa: S108 - a directory inside the image, not on this machine


@dataclass(frozen=True)
class PlatformProfile:
    platform: str
    digest: str
    binary: str
    scan: BinaryScan
    conservative: str | None        # why the profile is conservative, or None
    groups: dict[str, tuple[str, ...]]
    allowed: int
    seccomp_file: str
    apparmor_file: str
    network: tuple[str, ...]
    capabilities: tuple[str, ...]
    writable: tuple[str, ...]
    observed: dict[str, Any] | None

    def to_dict(self, output_dir: str) -> dict[str, Any]:
        return {"platform": self.platform, "digest": self.digest, "binary": self.binary,
                "conservative": self.conservative, "allowed": self.allowed,
                "groups": {k: list(v) for k, v in self.groups.items()},
                "seccomp": os.path.relpath(self.seccomp_file, output_dir),
                "apparmor": os.path.relpath(self.apparmor_file, output_dir),
                "network": list(self.network), "capabilities": list(self.capabilities),
                "writable": list(self.writable), "observed": self.observed, "scan": self.scan.to_dict()}


@dataclass(frozen=True)
class ProfileSet:
    image: str
    digest: str
    name: str
    output_dir: str
    platforms: tuple[PlatformProfile, ...] = field(default_factory=tuple)

    @property
    def seccomp_localhost(self) -> str:
        return f"{SECCOMP_DIR}/{self.name}.json"

    def to_dict(self) -> dict[str, Any]:
        return {"format": PROFILE_FORMAT, "image": self.image, "digest": self.digest, "name": self.name,
                "outputDir": self.output_dir,
                "seccompLocalhostProfile": self.seccomp_localhost, "appArmorProfile": self.name,
                "platforms": [p.to_dict(self.output_dir) for p in self.platforms]}


def profile_name(base: str, digest: str) -> str:
    stem = _NAME.sub("-", base.lower()).strip("-")[:40].strip("-") or "app"
    return f"sccheck-{stem}-{digest.removeprefix('sha256:')[:12]}"


def _declared_writable(store: ContentStore, image: PlatformImage, extra: tuple[str, ...]) -> tuple[str, ...]:
    config = image.config.get("config") or {}
    paths = [str(v) for v in (config.get("Volumes") or {})]
    fs = image_filesystem(store, image, lambda _p: False)
    tmp = fs.get(IMAGE_TMP)
    if tmp is not None and tmp.kind == "dir":
        paths.append(IMAGE_TMP)
    paths.extend(extra)
    for path in paths:
        if not safe_path(path):
            raise UsageError(f"writable path {path!r} is not a plain absolute path",
                             expected="an absolute path of letters, digits and ._/@+-", found=path)
    return tuple(dict.fromkeys(p.rstrip("/") or "/" for p in paths))


def exposed_port(image: PlatformImage) -> int | None:
    """The lowest TCP port the image config exposes, if any."""
    ports = (image.config.get("config") or {}).get("ExposedPorts") or {}
    exposed = sorted(int(p.split("/")[0]) for p in ports
                     if p.split("/")[0].isdigit() and not p.endswith("/udp"))
    return exposed[0] if exposed else None


def _port(image: PlatformImage, port: int | None) -> int | None:
    return port if port is not None else exposed_port(image)


def _conservative_reason(scan: BinaryScan) -> str | None:
    if scan.cgo or scan.dynamic:
        return ("the binary is built with cgo or linked dynamically: the C library's system calls cannot "
                "be read from the Go code, so every call except kernel administration is allowed")
    return None


def make_profiles(ref: str | ImageRef, *, output_dir: str, name: str | None = None, port: int | None = None,
                  writable: tuple[str, ...] = (), allow_syscalls: tuple[str, ...] = (),
                  observe: bool = False, observe_seconds: float = 5.0, observe_args: tuple[str, ...] = (),
                  observe_smoke: str | None = None,
                  progress: Progress | None = None, registry: RegistryOptions | None = None,
                  store: ContentStore | None = None) -> ProfileSet:
    """Profiles for every platform image `ref` (pinned by digest) names, read from `store` when
    given (the pipeline's built image), else from the store the reference names."""
    progress = progress or SilentProgress()
    image_ref = parse_image_ref(ref) if isinstance(ref, str) else ref
    if not image_ref.digest:
        raise UsageError(f"{ref} is not pinned by digest", expected="IMAGE@sha256:<digest>",
                         found=str(ref), fix="resolve the tag first (sccheck build prints the digest)")
    store = store if store is not None else open_store(image_ref, registry)
    images = platform_images(store, image_ref.digest)
    if not images:
        raise UsageError(f"{ref} has no image for any platform")
    base = name or (image_ref.layout_dir or image_ref.repository).rstrip("/").rsplit("/", 1)[-1]
    pname = profile_name(base, image_ref.digest)
    out = Path(output_dir)
    results = []
    for image in images:
        platform = image.platform or "linux/amd64"
        progress.step("profile", platform)
        binary, data = read_entrypoint_binary(store, image)
        with tempfile.TemporaryDirectory(prefix="sccheck-profile-") as tmp:
            exe = Path(tmp) / "binary"
            exe.write_bytes(data)
            exe.chmod(0o755)
            scan = scan_binary(str(exe), what=f"{binary} in {ref} ({platform})")
            expected_arch = platform.split("/")[1] if "/" in platform else scan.arch
            if scan.arch != expected_arch:
                raise CheckFailed(f"{binary} for {platform} is an {scan.arch} binary",
                                  expected=expected_arch, found=scan.arch, fix="rebuild the platform image")
            observed = None
            if observe:
                from supplychain.harden.observe import observe_run

                observed = observe_run(exe, image, platform, port=_port(image, port),
                                       seconds=observe_seconds, args=observe_args, smoke=observe_smoke)
        reason = _conservative_reason(scan)
        groups: dict[str, tuple[str, ...]] = {}
        if reason:
            groups["conservative"] = conservative_names(scan.arch)
        groups["static"] = tuple(sorted(scan.calls))
        groups["margin"] = MARGIN
        groups["handoff"] = HANDOFF
        if observed is not None:
            observed["added"] = sorted(set(observed["used"]) - scan.calls - set(MARGIN) - set(HANDOFF))
            groups["observed"] = tuple(observed["added"])
        groups["extra"] = tuple(sorted(set(allow_syscalls)))
        profile = seccomp_profile(scan.arch, groups)
        allowed = sum(len(e["names"]) for e in profile["syscalls"])
        writable_paths = _declared_writable(store, image, writable)
        rules = rules_for(scan, port=_port(image, port), writable=writable_paths)
        # no location in the file: the same image gives the same bytes wherever it is read from
        header = (f"Generated by sccheck harden profile for the image {image_ref.digest}\n"
                  f"platform {platform} ({image.digest}), binary {binary}, {scan.go_version}"
                  + (f"\nCONSERVATIVE: {reason}" if reason else ""))
        text = apparmor_profile(pname, binary, rules, header=header)
        slug = platform.replace("/", "-")
        seccomp_file = out / slug / f"{pname}.json"
        apparmor_file = out / slug / f"{pname}.apparmor"
        atomic_write(seccomp_file, (json.dumps(profile, indent=2) + "\n").encode(), what="--output-dir")
        atomic_write(apparmor_file, text.encode(), what="--output-dir")
        results.append(PlatformProfile(
            platform, image.digest, binary, scan, reason, {k: v for k, v in groups.items() if v}, allowed,
            str(seccomp_file), str(apparmor_file), rules.network, rules.capabilities, writable_paths,
            observed))
        label = " (conservative)" if reason else ""
        progress.done("profile", f"{platform}: {allowed} system calls{label}")
    result = ProfileSet(f"{image_ref.name}@{image_ref.digest}", image_ref.digest, pname, str(out),
                        tuple(results))
    atomic_write(out / INDEX, (json.dumps(result.to_dict(), indent=2) + "\n").encode(), what="--output-dir")
    return result


def load_index(output_dir: str, digest: str | None = None) -> dict[str, Any]:
    """The index `make_profiles` wrote; with `digest`, it must be for that image."""
    path = Path(output_dir) / INDEX
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the profile index {path}: {exc.strerror}",
                         fix="run 'sccheck harden profile IMAGE@DIGEST --output-dir DIR' first") from None
    doc = load_json(raw, f"the profile index {path}", error=UsageError)
    if not isinstance(doc, dict) or doc.get("format") != PROFILE_FORMAT:
        raise UsageError(f"{path} is not a profile index written by sccheck harden profile",
                         expected=f"format {PROFILE_FORMAT}",
                         found=str(doc.get("format") if isinstance(doc, dict) else type(doc).__name__))
    if digest is not None and doc.get("digest") != digest:
        raise UsageError(f"the profiles in {output_dir} were made for another image",
                         expected=f"profiles for {digest}", found=str(doc.get("digest")),
                         fix=f"run 'sccheck harden profile IMAGE@{digest} --output-dir {output_dir}'")
    return doc


def profile_evidence(output_dir: str, digest: str) -> dict[str, Any]:
    """What the hardening report attests about the profiles: names, counts, and the sha256 of
    every file, so a verifier can tell the installed profiles are the attested ones."""
    index = load_index(output_dir, digest)
    platforms = []
    for p in index.get("platforms") or []:
        files = {}
        for kind in ("seccomp", "apparmor"):
            path = Path(output_dir) / str(p[kind])
            try:
                files[kind] = {"file": str(p[kind]), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
            except OSError as exc:
                raise UsageError(f"cannot read {path}: {exc.strerror}",
                                 fix="write the profiles again with 'sccheck harden profile'") from None
        platforms.append({"platform": p["platform"], "digest": p["digest"], "allowed": p["allowed"],
                          "conservative": p["conservative"] is not None,
                          "groups": {k: len(v) for k, v in (p.get("groups") or {}).items()}, **files})
    return {"format": PROFILE_FORMAT, "name": index["name"],
            "seccompLocalhostProfile": index["seccompLocalhostProfile"],
            "appArmorProfile": index["appArmorProfile"], "platforms": platforms}


def render_profiles(result: ProfileSet) -> str:
    lines = [f"profiles {result.name} for {result.image}:"]
    for p in result.platforms:
        label = " CONSERVATIVE" if p.conservative else ""
        lines.append(f"  {p.platform}: {p.allowed} system calls allowed{label} "
                     f"({p.scan.go_version}, {p.binary})")
        lines.append(f"    seccomp:  {p.seccomp_file}")
        lines.append(f"    apparmor: {p.apparmor_file}")
        if p.conservative:
            lines.append(f"    why: {p.conservative}")
        if p.scan.unresolved:
            lines.append(f"    {len(p.scan.unresolved)} call site(s) whose number could not be read "
                         "(see --json)")
        if p.observed is not None:
            added = ", ".join(p.observed["added"]) or "nothing"
            lines.append(f"    observed run: {len(p.observed['used'])} used, added {added}")
    lines.append(f"kubernetes: seccompProfile localhostProfile {result.seccomp_localhost}, "
                 f"appArmorProfile localhostProfile {result.name}")
    return "\n".join(lines)
