"""Build a Go module into a minimal, reproducible OCI image, then publish it.

    result = build(BuildRequest("examples/hello", platforms=("linux/amd64", "linux/arm64")))
    publish(result, PublishTarget(output="oci:dist/oci"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supplychain._lazy import lazy_exports

if TYPE_CHECKING:
    from supplychain.build.api import build, build_and_publish, publish
    from supplychain.build.model import BuildRequest, BuildResult, PublishResult, PublishTarget

# Loaded on first use: a build starts Go as early as it can, and the image code (layers, bases,
# manifests) loads while Go compiles; importing one submodule must not pull in all of them.
_LAZY = {"build": "api", "build_and_publish": "api", "publish": "api", "BuildRequest": "model",
         "BuildResult": "model", "PublishResult": "model", "PublishTarget": "model"}

__getattr__ = lazy_exports(__name__, _LAZY)

__all__ = ["BuildRequest", "BuildResult", "PublishResult", "PublishTarget", "build", "build_and_publish",
           "publish"]
