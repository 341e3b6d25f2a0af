"""Sinks for a built image: OCI layout, `docker load` tarball, the Docker engine, a registry.

Every sink writes all-or-nothing: the layout through `OCILayout.transaction`, the tarball
through a temporary file renamed into place, the registry with the tag pushed last.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from supplychain.build.assemble import PlatformImage
from supplychain.build.model import BuildResult
from supplychain.errors import BuildError, UsageError
from supplychain.image.descriptor import Descriptor, MediaType, canonical_json
from supplychain.image.layout import LAYOUT_VERSION, REF_NAME, OCILayout
from supplychain.image.platform import Platform
from supplychain.image.reference import parse_image_ref
from supplychain.progress import Progress
from supplychain.stores import open_store
from supplychain.strictdoc import load_json
from supplychain.fsutil import temp_file_beside
from supplychain.tools import blanked_secrets

_DOCKER_TAG = re.compile(r"[^A-Za-z0-9_.-]")


def _all_blobs(result: BuildResult) -> Iterator[tuple[Descriptor, bytes]]:
    """Layers, configs, then platform manifests (children before parents)."""
    seen: set[str] = set()
    for img in result.images:
        for desc in (*img.layers, img.config_descriptor):
            if desc.digest not in seen:
                seen.add(desc.digest)
                yield desc, result.blob(desc)
    if result.media_type == MediaType.OCI_INDEX:
        for img in result.images:
            yield img.descriptor, img.manifest


def _blob_descriptors(result: BuildResult) -> list[Descriptor]:
    seen: dict[str, Descriptor] = {}
    for img in result.images:
        for desc in (*img.layers, img.config_descriptor):
            seen.setdefault(desc.digest, desc)
    return list(seen.values())


def _mount(store: object, result: BuildResult, desc: Descriptor) -> bool:
    """Cross-repository mount of a base layer that lives on the same registry (no bytes moved)."""
    base = result.base_layers.get(desc.digest)
    source = base.store if base is not None else None
    mount = getattr(store, "mount_blob", None)
    same_registry = getattr(source, "registry", None) == getattr(store, "registry", object())
    from_repository = getattr(source, "repository", None)
    if mount is None or not same_registry or not isinstance(from_repository, str):
        return False
    return bool(mount(desc, from_repository))


def write_layout(result: BuildResult, directory: str, tag: str | None) -> str:
    with OCILayout.transaction(directory) as layout:
        for desc, data in _all_blobs(result):
            if not layout.has_blob(desc.digest):
                layout.write_blob(data, desc)
        layout.write_manifest(result.manifest, result.media_type, tag or "latest")
    return f"oci:{directory}"


def tag_part(tag: str | None) -> str | None:
    """The tag of `--tag name:tag` (or None), as used in an OCI layout's ref.name."""
    if tag and ":" in tag.rsplit("/", 1)[-1]:
        return tag.rsplit(":", 1)[1]
    return None


def docker_tag(result: BuildResult, tag: str | None) -> str:
    """`name:tag` for the engine: the given one, else `<binary>:<version>` made tag-safe."""
    if tag and ":" in tag.rsplit("/", 1)[-1]:
        return tag
    name = tag or result.name.lower()
    return f"{name}:{_DOCKER_TAG.sub('-', result.version)[:128]}"


def pick_platform_image(result: BuildResult) -> PlatformImage:
    """A docker archive holds one platform: the host's if built, else the first."""
    host = Platform.host()
    for img in result.images:
        if img.platform == host:
            return img
    return result.images[0]


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def write_docker_archive(result: BuildResult, fh: Any, tag: str | None) -> tuple[str, PlatformImage]:
    """A tar that `docker load` reads (manifest.json, repositories) and that is also an OCI
    layout (`oci-layout`, `index.json`, `blobs/`), so skopeo's oci-archive can read it too."""
    img = pick_platform_image(result)
    repo_tag = docker_tag(result, tag)
    repo, _, tag_part = repo_tag.rpartition(":")

    def blob(desc: Descriptor) -> str:
        return f"blobs/{desc.digest.replace(':', '/')}"

    manifest = [{"Config": blob(img.config_descriptor), "RepoTags": [repo_tag],
                 "Layers": [blob(d) for d in img.layers]}]
    top = Descriptor(result.media_type, result.digest, len(result.manifest), {REF_NAME: tag_part})
    index = canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX,
                            "manifests": [top.to_dict()]})
    with tarfile.open(fileobj=fh, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, "oci-layout", LAYOUT_VERSION)
        _add(tar, "index.json", index)
        _add(tar, blob(top), result.manifest)
        written = {result.digest}
        for desc, data in _all_blobs(result):
            if desc.digest not in written:
                written.add(desc.digest)
                _add(tar, blob(desc), data)
        if img.descriptor.digest not in written:
            _add(tar, blob(img.descriptor), img.manifest)
        _add(tar, "manifest.json", json.dumps(manifest).encode())
        top_layer = load_json(img.config, "image config")["rootfs"]["diff_ids"][-1].split(":", 1)[1]
        _add(tar, "repositories", json.dumps({repo: {tag_part: top_layer}}).encode())
    return repo_tag, img


def write_tarball(result: BuildResult, path: str, tag: str | None) -> tuple[str, PlatformImage]:
    target = Path(path)
    try:
        parent = target.parent if str(target.parent) else Path(".")
        parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = temp_file_beside(parent / target.name)
    except OSError as exc:
        raise UsageError(f"cannot write the tarball {path}: {exc.strerror}",
                         fix="choose a writable --tarball path") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            out = write_docker_archive(result, fh, tag)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return out


def load_into_engine(result: BuildResult, tag: str | None) -> tuple[str, PlatformImage]:
    import docker

    buf = io.BytesIO()
    repo_tag, img = write_docker_archive(result, buf, tag)
    try:
        client = docker.from_env(credstore_env=blanked_secrets())  # helpers see no secrets of ours
        loaded = client.images.load(buf.getvalue())
    except docker.errors.DockerException as exc:
        raise BuildError("cannot load the image into the Docker engine", found=str(exc)[:500],
                         fix="start the Docker engine (scripts/services) or use --tarball") from None
    ids = {image.id for image in loaded}
    if img.config_descriptor.digest not in ids:
        raise BuildError("the Docker engine loaded a different image than the one built",
                         expected=img.config_descriptor.digest, found=", ".join(sorted(ids)) or "nothing")
    return repo_tag, img


def push(result: BuildResult, ref_text: str, progress: Progress) -> str:
    ref = parse_image_ref(ref_text)
    if ref.digest:
        raise UsageError(f"--push {ref_text} names a digest", expected="a repository with an optional tag",
                         fix="push to host/repo:tag; the digest is decided by the content")
    if ref.is_layout:
        assert ref.layout_dir is not None
        write_layout(result, ref.layout_dir, ref.tag)
        return f"oci:{ref.layout_dir}@{result.digest}"
    store = open_store(ref)
    uploaded = mounted = 0
    for desc in _blob_descriptors(result):
        if desc.media_type in MediaType.MANIFESTS:
            continue
        if store.has_blob(desc.digest):
            continue
        if _mount(store, result, desc):
            mounted += 1
            continue
        store.write_blob(result.blob(desc), desc)
        uploaded += 1
    if result.media_type == MediaType.OCI_INDEX:
        for img in result.images:
            store.write_manifest(img.manifest, img.descriptor.media_type)
    digest = store.write_manifest(result.manifest, result.media_type, ref.tag or "latest")
    if digest != result.digest:
        raise BuildError("the registry stored the image under another digest",
                         expected=result.digest, found=digest)
    progress.info(f"{ref.name}: {uploaded} blob(s) uploaded, {mounted} mounted from the base's repository")
    return f"{ref.name}@{result.digest}"


__all__ = ["load_into_engine", "push", "write_layout", "write_tarball"]
