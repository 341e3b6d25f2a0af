"""Build a Go module into a minimal, reproducible OCI image, then publish it.

    result = build(BuildRequest("examples/hello", platforms=("linux/amd64", "linux/arm64")))
    publish(result, PublishTarget(output="oci:dist/oci"))
"""

from supplychain.build.api import build, build_and_publish, publish
from supplychain.build.model import BuildRequest, BuildResult, PublishResult, PublishTarget

__all__ = ["BuildRequest", "BuildResult", "PublishResult", "PublishTarget", "build", "build_and_publish",
           "publish"]
