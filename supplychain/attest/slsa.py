"""SLSA provenance v1 for an image sccheck built from a Go source tree.

buildType `https://sccheck.dev/build/go-image/v1` (documented in docs/signing.md):
externalParameters = {source, ref, path, platforms, base}; resolvedDependencies = the source
repository at its commit, the base image by digest, the Go toolchain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SCCHECK_BUILD_TYPE = "https://sccheck.dev/build/go-image/v1"
DEFAULT_BUILDER_ID = "https://sccheck.dev/builder/local"


@dataclass(frozen=True)
class ProvenanceInputs:
    source_repo: str                 # "https://github.com/org/app" or "git+file:///..."
    commit: str                      # full git sha
    base_image: str | None = None    # "registry/repo@sha256:..." (None for scratch)
    go_version: str | None = None    # "go1.26.0"
    path: str = "."
    platforms: tuple[str, ...] = ("linux/amd64",)
    builder_id: str = DEFAULT_BUILDER_ID
    invocation_id: str | None = None
    started: datetime | None = None
    finished: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _ts(when: datetime | None) -> str | None:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


def slsa_provenance(inputs: ProvenanceInputs) -> dict[str, Any]:
    deps: list[dict[str, Any]] = [{"uri": inputs.source_repo, "digest": {"gitCommit": inputs.commit}}]
    if inputs.base_image:
        name, _, digest = inputs.base_image.partition("@")
        alg, _, hexpart = digest.partition(":")
        dep: dict[str, Any] = {"uri": f"oci://{name}", "name": "base-image"}
        if hexpart:
            dep["digest"] = {alg: hexpart}
        deps.append(dep)
    if inputs.go_version:
        deps.append({"uri": f"https://go.dev/dl/{inputs.go_version}", "name": "go-toolchain",
                     "annotations": {"version": inputs.go_version}})
    external: dict[str, Any] = {"source": inputs.source_repo, "path": inputs.path,
                                "platforms": list(inputs.platforms),
                                "base": inputs.base_image or "scratch", **inputs.extra}
    metadata: dict[str, Any] = {}
    if inputs.invocation_id:
        metadata["invocationId"] = inputs.invocation_id
    for key, value in (("startedOn", _ts(inputs.started)), ("finishedOn", _ts(inputs.finished))):
        if value:
            metadata[key] = value
    run: dict[str, Any] = {"builder": {"id": inputs.builder_id}}
    if metadata:
        run["metadata"] = metadata
    return {
        "buildDefinition": {"buildType": SCCHECK_BUILD_TYPE, "externalParameters": external,
                            "internalParameters": {}, "resolvedDependencies": deps},
        "runDetails": run,
    }
