"""SLSA provenance v1: the builder (for an image sccheck built from a Go source tree) and the
reader the policy uses, side by side.

buildType SCCHECK_BUILD_TYPE (documented in docs/signing.md): externalParameters = {source,
ref, path, platforms, base, layerCompression}; resolvedDependencies = the source repository at
its commit, the base image by digest, the Go toolchain. The reader takes any SLSA v1 provenance: builder id,
build type, source repositories and commits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from supplychain.attest.predicates import lookup

SCCHECK_BUILD_TYPE = "https://sccheck.dev/build/go-image/v1"
DEFAULT_BUILDER_ID = "https://sccheck.dev/builder/local"


@dataclass(frozen=True)
class ProvenanceInputs:
    source_repo: str                 # "https://github.com/org/app" or "git+file:///..."
    commit: str                      # full git sha
    source_ref: str | None = None    # "refs/heads/main", "refs/tags/v1.2.3"
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


def source_uri(repository: str, ref: str | None) -> str:
    """The source as SLSA provenance names a git checkout (SPDX download location form):
    `git+https://github.com/org/app@refs/heads/main`. `repository` is an absolute URI
    (`supplychain.source.remote_uri`); a plain `file://` tree that is no checkout stays as it is."""
    if repository.startswith("file://") and ref is None:
        return repository
    uri = repository if repository.startswith("git+") else f"git+{repository}"
    return f"{uri}@{ref}" if ref else uri


def slsa_provenance(inputs: ProvenanceInputs) -> dict[str, Any]:
    deps: list[dict[str, Any]] = [{"uri": source_uri(inputs.source_repo, inputs.source_ref),
                                   "digest": {"gitCommit": inputs.commit}}]
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
                                **({"ref": inputs.source_ref} if inputs.source_ref else {}),
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


# --- reading ----------------------------------------------------------------------------------

# The fields the reader (and the cluster exports, policy/export/vocab.py) read.
BUILDER_ID = ("runDetails", "builder", "id")
BUILD_TYPE = ("buildDefinition", "buildType")
RESOLVED_DEPENDENCIES = ("buildDefinition", "resolvedDependencies")
COMMIT_KEYS = ("gitCommit", "sha1")                  # first non-empty one is the commit
COMMIT_RE = "^[0-9a-f]{40}([0-9a-f]{24})?$"
_COMMIT = re.compile(COMMIT_RE)


@dataclass(frozen=True)
class ProvenanceFacts:
    builder_id: str | None
    build_type: str | None
    repositories: tuple[str, ...]
    commits: tuple[str, ...]


def normalize_repository(uri: str) -> str:
    """'git+https://github.com/o/r.git@refs/heads/main' -> 'https://github.com/o/r'."""
    text = uri.strip()
    if text.startswith("git+"):
        text = text[4:]
    scheme, sep, rest = text.partition("://")
    if sep and "@" in rest:
        rest = rest.split("@", 1)[0]
    text = scheme + sep + rest if sep else text.split("@", 1)[0]
    return text.removesuffix("/").removesuffix(".git")


def provenance_facts(predicate: dict[str, Any]) -> ProvenanceFacts:
    builder = lookup(predicate, *BUILDER_ID)
    build_type = lookup(predicate, *BUILD_TYPE)
    repos: list[str] = []
    commits: list[str] = []
    deps = lookup(predicate, *RESOLVED_DEPENDENCIES)
    for dep in deps if isinstance(deps, list) else []:
        if not isinstance(dep, dict) or not isinstance(dep.get("uri"), str):
            continue
        digest: dict[str, Any] = dep["digest"] if isinstance(dep.get("digest"), dict) else {}
        commit = digest.get(COMMIT_KEYS[0]) or digest.get(COMMIT_KEYS[1])
        if isinstance(commit, str) and _COMMIT.match(commit):
            commits.append(commit)
            repos.append(normalize_repository(dep["uri"]))
        elif dep["uri"].startswith("git+"):
            repos.append(normalize_repository(dep["uri"]))
    ext = lookup(predicate, "buildDefinition", "externalParameters")
    for path in (("workflow", "repository"), ("source",), ("repository",)):
        value = lookup(ext, *path)
        if isinstance(value, str):
            repos.append(normalize_repository(value))
    # Let a policy say either "https://github.com/o/r" or "o/r" for GitHub-hosted sources.
    extra = [r.removeprefix("https://github.com/") for r in repos if r.startswith("https://github.com/")]
    return ProvenanceFacts(builder if isinstance(builder, str) else None,
                           build_type if isinstance(build_type, str) else None,
                           tuple(dict.fromkeys(repos + extra)), tuple(commits))
