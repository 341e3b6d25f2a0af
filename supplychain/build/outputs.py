"""Sinks for an image: OCI layout, `docker load` tarball, the Docker engine, a registry.

Every sink takes (store, digest, tag): it reads the image from any content store (a build's
result is one: `BuildResult.store()`) and writes it with the same copy that `sccheck copy` does.
Every sink writes all-or-nothing: the layout through `OCILayout.transaction`, the tarball
through a temporary file renamed into place, the registry with the tag written last.

Tags (docs/registry.md): `--push` moves an existing registry tag to another digest only with
`force` (as `copy` and `promote` do); the build's own local outputs (`--output`, `--tarball`,
`--load`) are rewritten by each build and replace what their tag named.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from typing import Any

from supplychain.copy import copy_image
from supplychain.errors import BuildError, UsageError
from supplychain.fsutil import atomic_output
from supplychain.image.descriptor import Descriptor, MediaType, canonical_json
from supplychain.image.layout import LAYOUT_VERSION, REF_NAME
from supplychain.image.memory import MemoryStore
from supplychain.image.platform import Platform
from supplychain.image.reference import parse_image_ref
from supplychain.image.store import ContentStore
from supplychain.image.view import ImageView, open_image
from supplychain.progress import Progress, SilentProgress
from supplychain.registry.options import RegistryOptions
from supplychain.stores import destination
from supplychain.tools import docker_client

_DOCKER_TAG = re.compile(r"[^A-Za-z0-9_.-]")


def write_layout(store: ContentStore, digest: str, directory: str, tag: str | None) -> str:
    """`--output oci:DIR`: the build's output layout; its tag (default `latest`) names this image."""
    with destination(f"oci:{directory}") as layout:
        copy_image(store, digest, layout, tag or "latest", force=True)
    return f"oci:{directory}"


def tag_part(tag: str | None) -> str | None:
    """The tag of `--tag name:tag` (or None), as used in an OCI layout's ref.name."""
    if tag and ":" in tag.rsplit("/", 1)[-1]:
        return tag.rsplit(":", 1)[1]
    return None


def docker_tag(name: str, version: str, tag: str | None) -> str:
    """`name:tag` for the engine: the given one, else `<binary>:<version>` made tag-safe."""
    if tag and ":" in tag.rsplit("/", 1)[-1]:
        return tag
    return f"{tag or name.lower()}:{_DOCKER_TAG.sub('-', version)[:128]}"


def pick_platform_image(store: ContentStore, digest: str) -> ImageView:
    """A docker archive holds one platform: the host's if there, else the first runnable image."""
    images = open_image(store, digest).runnable()
    if not images:
        raise BuildError(f"{digest} has no runnable image to put in a docker archive")
    host = Platform.host()
    return next((i for i in images if i.platform is not None and i.platform.same_as(host)), images[0])


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def write_docker_archive(store: ContentStore, digest: str, fh: Any, repo_tag: str) -> ImageView:
    """A tar that `docker load` reads (manifest.json, repositories) and that is also an OCI
    layout (`oci-layout`, `index.json`, `blobs/`) holding the whole image, so skopeo's
    oci-archive can read it too. Returns the platform image `docker load` gets."""
    img = pick_platform_image(store, digest)
    repo, _, tag = repo_tag.rpartition(":")
    staged = MemoryStore("docker archive")
    copy_image(store, digest, staged, None)
    top = staged.resolve(digest)

    def blob(desc_digest: str) -> str:
        return f"blobs/{desc_digest.replace(':', '/')}"

    config = img.config_descriptor()
    assert config is not None
    manifest = [{"Config": blob(config.digest), "RepoTags": [repo_tag],
                 "Layers": [blob(d.digest) for d in img.layers()]}]
    entry = Descriptor(top.media_type, top.digest, top.size, {REF_NAME: tag})
    with tarfile.open(fileobj=fh, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, "oci-layout", LAYOUT_VERSION)
        _add(tar, "index.json", canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX,
                                                "manifests": [entry.to_dict()]}))
        for content_digest, data in staged.contents():
            _add(tar, blob(content_digest), data)
        _add(tar, "manifest.json", json.dumps(manifest).encode())
        top_layer = img.config()["rootfs"]["diff_ids"][-1].split(":", 1)[1]
        _add(tar, "repositories", json.dumps({repo: {tag: top_layer}}).encode())
    return img


def write_tarball(store: ContentStore, digest: str, path: str, repo_tag: str) -> ImageView:
    with atomic_output(path, what="--tarball path", name=f"the tarball {path}", sync=False) as fh:
        img = write_docker_archive(store, digest, fh, repo_tag)
    return img


def load_into_engine(store: ContentStore, digest: str, repo_tag: str) -> ImageView:
    import docker

    buf = io.BytesIO()
    img = write_docker_archive(store, digest, buf, repo_tag)
    try:
        client = docker_client()  # credential helpers see no secrets of ours
        loaded = client.images.load(buf.getvalue())
    except docker.errors.DockerException as exc:
        raise BuildError("cannot load the image into the Docker engine", found=str(exc)[:500],
                         fix="start the Docker engine (scripts/services) or use --tarball") from None
    ids = {image.id for image in loaded}
    config = img.config_descriptor()
    assert config is not None
    if config.digest not in ids:
        raise BuildError("the Docker engine loaded a different image than the one built",
                         expected=config.digest, found=", ".join(sorted(ids)) or "nothing")
    return img


def push(store: ContentStore, digest: str, ref_text: str, progress: Progress | None = None, *,
         options: RegistryOptions | None = None, force: bool = False) -> str:
    """`--push REF`: the same copy as `sccheck copy`, with the same tag rule (an existing tag
    that names another image moves only with `force`)."""
    progress = progress or SilentProgress()
    ref = parse_image_ref(ref_text)
    if ref.digest:
        raise UsageError(f"--push {ref_text} names a digest", expected="a repository with an optional tag",
                         fix="push to host/repo:tag; the digest is decided by the content")
    workers = options.max_workers if options is not None else 4
    with destination(ref, options) as dst:
        copied = copy_image(store, digest, dst, ref.tag or "latest", force=force, max_workers=workers)
    if copied.digest != digest:
        raise BuildError("the destination stored the image under another digest", expected=digest,
                         found=copied.digest)
    if not ref.is_layout:
        progress.info(f"{ref.name}: {copied.blobs_copied} blob(s) uploaded, {copied.blobs_mounted} "
                      "mounted from the base's repository")
    return f"{ref.name}@{digest}"


__all__ = ["docker_tag", "load_into_engine", "push", "write_layout", "write_tarball"]
