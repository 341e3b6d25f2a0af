"""The SLSA provenance of a build-and-sign run: where the source came from (GitHub Actions'
variables when running there, else the git checkout) and what the build used."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supplychain.attest.slsa import DEFAULT_BUILDER_ID, ProvenanceInputs, slsa_provenance
from supplychain.build.model import BuildResult
from supplychain.image.reference import parse_image_ref
from supplychain.source import SourceInfo, source_info


@dataclass(frozen=True)
class SourceFacts:
    source: str | None          # the repository URL (credentials stripped)
    commit: str | None
    builder: str | None         # the workflow, on GitHub Actions
    invocation: str | None      # the run attempt, on GitHub Actions
    path: str                   # the module's directory inside the checkout
    ref: str | None = None      # "refs/heads/main", "refs/tags/v1.0.0"


def source_facts(path: Path, env: Mapping[str, str], info: SourceInfo | None = None) -> SourceFacts:
    info = info if info is not None else source_info(path)
    rel = os.path.relpath(path.resolve(), info.toplevel) if info.toplevel else "."
    if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        repo = env["GITHUB_REPOSITORY"]
        run_id = env.get("GITHUB_RUN_ID")
        workflow_ref = env.get("GITHUB_WORKFLOW_REF")
        attempt = env.get("GITHUB_RUN_ATTEMPT", "1")
        return SourceFacts(f"{server}/{repo}", env.get("GITHUB_SHA") or info.revision,
                           f"{server}/{workflow_ref}" if workflow_ref else None,
                           f"{server}/{repo}/actions/runs/{run_id}/attempts/{attempt}" if run_id else None,
                           rel, env.get("GITHUB_REF") or None)
    source = info.remote or (
        f"git+file://{info.toplevel}" if info.toplevel else None)
    return SourceFacts(source, info.revision, None, None, rel,
                       f"refs/heads/{info.branch}" if info.branch else None)


def provenance(path: Path, facts: SourceFacts, build: BuildResult, go_version: str,
               started: dt.datetime, finished: dt.datetime) -> dict[str, Any]:
    base_image = None
    extra: dict[str, Any] = {}
    if build.base_digest:
        name = parse_image_ref(build.base).name if ("/" in build.base or ":" in build.base) else build.base
        base_image = f"{name}@{build.base_digest}"
    elif build.base != "scratch":
        extra["base"] = build.base
    if build.compression:
        extra["layerCompression"] = build.compression    # what the layer bytes depend on
    commit = facts.commit or build.revision or ""
    predicate = slsa_provenance(ProvenanceInputs(
        source_repo=facts.source or f"file://{path.resolve()}", commit=commit, source_ref=facts.ref,
        base_image=base_image, go_version=go_version or None, path=facts.path,
        platforms=build.platforms, builder_id=facts.builder or DEFAULT_BUILDER_ID,
        invocation_id=facts.invocation, started=started, finished=finished, extra=extra))
    if not commit:
        predicate["buildDefinition"]["resolvedDependencies"][0].pop("digest", None)
    return predicate
