"""The in-toto link of each step of build-and-sign: what it consumed and what it produced.

A recorder per step: `materials(run, *uses)` runs just before the step (the source tree is hashed
then, as in-toto's own `in-toto-run` does), `products(run, result, *uses)` just after. The runner
(`pipeline/run.py`) calls them around the step functions; the links made go into a `LinkBook`
that the gate hands to the attest step, one link attestation per step. Artifact names are those of
`supplychain.attest.link`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from supplychain.attest.link import (
    Artifacts,
    LinkRecord,
    as_digest,
    digest_of,
    layer_executables,
    record_tree,
)
from supplychain.gomodule import module_root

if TYPE_CHECKING:
    from supplychain.build.model import BuildResult
    from supplychain.pipeline.results import BuildOut, CheckOut, HardenOut, SbomOut

# The pipeline's `Run` (pipeline/run.py imports this module, so it is not imported back).
Run = Any


class LinkBook:
    """The links of one run, by step name, kept in the order of the step table; and what
    recording them cost (seconds), for the report."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._links: dict[str, LinkRecord] = {}
        self.seconds = 0.0

    def add(self, record: LinkRecord, seconds: float) -> None:
        with self._lock:
            self._links[record.name] = record
            self.seconds += seconds

    def records(self, order: tuple[str, ...]) -> list[LinkRecord]:
        with self._lock:
            return [self._links[n] for n in order if n in self._links]


def source_tree(run: Run) -> Artifacts:
    root, _ = module_root(run.request.path)
    return record_tree(root)


def _env(run: Run) -> dict[str, str]:
    """What the Go steps depend on besides the source: the toolchain, GOFLAGS (the build honours
    or refuses each entry, docs/build.md), cgo (on with --cgo only) and the build tags."""
    return {"GOVERSION": run.go_version, "GOFLAGS": os.environ.get("GOFLAGS", ""),
            "CGO_ENABLED": "1" if run.request.build_settings.cgo else "0",
            "tags": ",".join(run.request.build_settings.tags),
            "module": str(module_root(run.request.path)[1])}


def _image(result: BuildResult) -> Artifacts:
    """The index (when there is one), every platform's manifest and its layers."""
    out: Artifacts = {}
    if len(result.images) > 1 or "index" in result.media_type:
        out["image/index"] = as_digest(result.digest)
    for img in result.images:
        p = str(img.platform)
        out[f"image/{p}/manifest"] = as_digest(img.descriptor.digest)
        for n, layer in enumerate(img.layers):
            out[f"image/{p}/layer/{n}"] = as_digest(layer.digest)
    return out


def _binaries(result: BuildResult) -> Artifacts:
    """Each platform's binaries: the executables of the layer sccheck built, read back from it."""
    out: Artifacts = {}
    for img in result.images:
        out |= layer_executables(img.app_layer.data, str(img.platform))
    return out


def _check(run: Run, materials: Artifacts, out: CheckOut) -> LinkRecord:
    tools = [r.tool for r in out.result.tools]
    return LinkRecord("check", ("sccheck", "check", run.request.path, "--tools", ",".join(tools)),
                      materials, {}, _env(run))


def _build(run: Run, materials: Artifacts, out: BuildOut) -> LinkRecord:
    req = run.request
    command = ("sccheck", "build", req.path, "--base", req.base, "--platform", ",".join(out.platforms))
    return LinkRecord("build", command, materials, {**_binaries(out.result), **_image(out.result)},
                      _env(run))


def _sbom(run: Run, materials: Artifacts, out: SbomOut, build: BuildOut) -> LinkRecord:
    consumed: Artifacts = {}
    made: Artifacts = {}
    for doc in out.documents:
        platform = doc.subject.platform or next(iter(build.platforms), "unknown")
        consumed[f"image/{platform}/manifest"] = as_digest(doc.subject.digest)
        made[f"sbom/{platform}"] = digest_of(doc.text.encode())
    return LinkRecord("sbom", ("sccheck", "sbom", build.image.reference), consumed, made, _env(run))


def _harden(run: Run, materials: Artifacts, out: HardenOut, build: BuildOut, *_: Any) -> LinkRecord:
    from supplychain.attest.harden import harden_predicate
    from supplychain.image.descriptor import canonical_json

    consumed = {k: v for k, v in _image(build.result).items()
                if k.endswith("/manifest") or k == "image/index"}
    made = {"harden/report": digest_of(canonical_json(harden_predicate(out.report)))}
    return LinkRecord("harden", ("sccheck", "harden", "check", build.image.reference,
                                 "--threshold", str(run.request.harden_threshold)),
                      consumed, made, _env(run))


@dataclass(frozen=True)
class Recorder:
    materials: Callable[[Run], Artifacts] | None
    finish: Callable[..., LinkRecord]


def _nothing(run: Run) -> Artifacts:
    return {}


RECORDERS: dict[str, Recorder] = {
    "check": Recorder(source_tree, _check),
    "build": Recorder(source_tree, _build),
    "sbom": Recorder(_nothing, _sbom),
    "harden": Recorder(_nothing, _harden),
}
LINKED_STEPS = tuple(RECORDERS)


def recorded(name: str, run: Run, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """Run the step `fn(run, *args)`, recording its link when the step has a recorder."""
    recorder = RECORDERS.get(name)
    if recorder is None:
        return fn(run, *args)
    started = time.monotonic()
    materials = recorder.materials(run) if recorder.materials else {}
    spent = time.monotonic() - started
    result = fn(run, *args)
    started = time.monotonic()
    run.links.add(recorder.finish(run, materials, result, *args), spent + time.monotonic() - started)
    return result
