"""Image config, manifest and index for the binary on top of a base, one per platform."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from supplychain.build.bases import BaseImage, BasePlatform
from supplychain.build.layers import Layer
from supplychain.build.settings import DEFAULT_USER
from supplychain.image.descriptor import Descriptor, MediaType, canonical_json
from supplychain.image.platform import Platform

DEFAULT_PATH = "PATH=/usr/local/bin:/usr/bin:/bin"
ANNOTATION = "org.opencontainers.image."


def rfc3339(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ImageMetadata:
    """What the image says about itself (labels on the config, annotations on manifests)."""

    binary: str                 # path of the binary in the image
    version: str
    created: int                # epoch seconds: SOURCE_DATE_EPOCH, else commit time, else 0
    source: str | None = None
    revision: str | None = None
    user: str = DEFAULT_USER
    workdir: str = "/"
    base_name: str | None = None
    base_digest: str | None = None
    env: tuple[tuple[str, str], ...] = ()        # --env, over the base's
    extra_labels: tuple[tuple[str, str], ...] = ()
    exposed: tuple[str, ...] = ()               # "8080/tcp"
    args: tuple[str, ...] = ()                  # Cmd

    def labels(self) -> dict[str, str]:
        out = {"created": rfc3339(self.created), "version": self.version}
        if self.source:
            out["source"] = self.source
        if self.revision:
            out["revision"] = self.revision
        if self.base_name:
            out["base.name"] = self.base_name
        if self.base_digest:
            out["base.digest"] = self.base_digest
        return {ANNOTATION + k: v for k, v in sorted(out.items())}


@dataclass(frozen=True)
class PlatformImage:
    platform: Platform
    descriptor: Descriptor          # of the manifest, with platform
    manifest: bytes
    config: bytes
    config_descriptor: Descriptor
    layers: tuple[Descriptor, ...]
    app_layer: Layer


def image_config(base: BasePlatform, platform: Platform, layer: Layer, meta: ImageMetadata) -> dict[str, Any]:
    inherited = copy.deepcopy(base.config)
    old = inherited.get("config") or {}
    env = [e for e in old.get("Env") or [] if isinstance(e, str)] or [DEFAULT_PATH]
    labels = {**(old.get("Labels") or {}), **dict(meta.extra_labels), **meta.labels()}
    config: dict[str, Any] = {
        "User": meta.user,
        "Entrypoint": [meta.binary],
        "WorkingDir": meta.workdir,
        "Env": merge_env(env, meta.env),
        "Labels": labels,
    }
    if meta.args:
        config["Cmd"] = list(meta.args)
    for kept in ("ExposedPorts", "Volumes", "StopSignal"):
        if old.get(kept):
            config[kept] = old[kept]
    if meta.exposed:
        config["ExposedPorts"] = {**(config.get("ExposedPorts") or {}), **{p: {} for p in meta.exposed}}
    diff_ids = [*(bl.diff_id for bl in base.layers), layer.diff_id]
    history = list(inherited.get("history") or [])
    if not history and base.layers:
        history = [{"created": rfc3339(meta.created), "created_by": "sccheck build (base)"}
                   for _ in base.layers]
    history.append({"created": rfc3339(meta.created),
                    "created_by": f"sccheck build: {meta.binary} {meta.version}",
                    "comment": "sccheck"})
    out: dict[str, Any] = {
        "architecture": platform.architecture,
        "os": platform.os,
        "created": rfc3339(meta.created),
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    if platform.variant:
        out["variant"] = platform.variant
    return out


def merge_env(base: list[str], ours: tuple[tuple[str, str], ...]) -> list[str]:
    """The base's environment with ours on top (a name we set replaces the base's entry)."""
    names = {name for name, _ in ours}
    return [e for e in base if e.partition("=")[0] not in names] + [f"{k}={v}" for k, v in ours]


def assemble_platform(base: BasePlatform, platform: Platform, layer: Layer,
                      meta: ImageMetadata) -> PlatformImage:
    config = canonical_json(image_config(base, platform, layer, meta))
    config_desc = Descriptor.for_bytes(MediaType.OCI_CONFIG, config)
    layers = (*(bl.descriptor for bl in base.layers), layer.descriptor)
    manifest_doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MediaType.OCI_MANIFEST,
        "config": config_desc.to_dict(),
        "layers": [d.to_dict() for d in layers],
        "annotations": meta.labels(),
    }
    manifest = canonical_json(manifest_doc)
    desc = Descriptor.for_bytes(MediaType.OCI_MANIFEST, manifest, platform=platform.to_oci())
    return PlatformImage(platform, desc, manifest, config, config_desc, layers, layer)


def image_index(images: list[PlatformImage], annotations: Mapping[str, str]) -> bytes:
    doc = {
        "schemaVersion": 2,
        "mediaType": MediaType.OCI_INDEX,
        "manifests": [img.descriptor.to_dict() for img in sorted(images, key=lambda i: i.platform)],
        "annotations": dict(annotations),
    }
    return canonical_json(doc)


def base_metadata(base: BaseImage) -> tuple[str, str | None]:
    """(base name, base digest) for the labels. `scratch` and `static` have no parent image
    (static's files are our own layer), so they say `base.name=scratch`: linters and policies
    can tell "built FROM nothing" from "base unknown"."""
    if not base.reference:
        return "scratch", None
    return base.reference.split("@")[0], base.digest
