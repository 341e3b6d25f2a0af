"""in-toto link predicate: what one step of the chain consumed and produced, built with the `in-toto`
package's link model and artifact recorder, and read back into that model for verification.

Artifacts are named by kind, so rules between steps can address them:

    src/<path>                  a file of the source tree (after SOURCE_EXCLUDES, the same for every step)
    bin/<os>/<arch>/<name>      a compiled binary of one platform
    image/index                 the index digest (multi-platform images)
    image/<os>/<arch>/manifest  one platform's image manifest
    image/<os>/<arch>/layer/N   the N-th layer of that platform's image
    sbom/<os>/<arch>            the SBOM document of one platform
    harden/report               the hardening report

The statement's subjects are the image's digests (the evidence layout of docs/signing.md), so a
link is attached and judged like every other attestation; the step's products travel in the
predicate (`products`, a list of resource descriptors like `materials`).
"""

from __future__ import annotations

import hashlib
import posixpath
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supplychain.errors import ImageError, UsageError

# Never part of what a step consumed: version control and editor litter. One list for every step,
# so a MATCH between two steps compares the same set of files.
SOURCE_EXCLUDES = (".git/", "*.swp", "*~", ".DS_Store")
# About 140 bytes of a signed bundle per artifact (the DSSE payload is base64): 6,000 keeps a link
# under the 1 MiB a policy accepts by default (limits.maxBundleBytes).
MAX_ARTIFACTS = 6_000
Artifacts = dict[str, dict[str, str]]          # name -> {"sha256": hex}

# in-toto's recorder configures module-level resolvers for the duration of a call.
_RECORDING = threading.Lock()


def digest_of(data: bytes) -> dict[str, str]:
    return {"sha256": hashlib.sha256(data).hexdigest()}


def as_digest(digest: str) -> dict[str, str]:
    """An OCI digest ("sha256:<hex>") as an in-toto hash dict."""
    alg, _, hexpart = digest.partition(":")
    return {alg: hexpart}


def layer_executables(data: bytes, platform: str, media_type: str | None = None) -> Artifacts:
    """The executable regular files of one image layer as `bin/<platform>/<name>` -> sha256, read
    as every layer is read (streamed, within the size, ratio and entry limits of
    `supplychain.image.filesystem`: a bomb or an oversized layer is an ImageError, never a
    shorter list)."""
    from supplychain.image.filesystem import open_layer

    out: Artifacts = {}
    with open_layer(data, media_type=media_type) as tar:
        for count, member in enumerate(tar):
            if count >= MAX_ARTIFACTS:
                raise ImageError(f"the layer has more than {MAX_ARTIFACTS} entries to look through for "
                                 "binaries")
            if member.isfile() and member.mode & 0o111:
                handle = tar.extractfile(member)
                if handle is not None:
                    out[f"bin/{platform}/{posixpath.basename(member.name)}"] = digest_of(handle.read())
    return out


def record_tree(root: str | Path) -> Artifacts:
    """Every file under `root` (its module directory) as `src/<relative path>` -> sha256, recorded
    by in-toto's artifact recorder with SOURCE_EXCLUDES. The recorder is given an absolute path and
    strips it, so it never changes the process's working directory (steps run in threads)."""
    from in_toto.runlib import record_artifacts_as_dict

    base = str(Path(root).resolve())
    with _RECORDING:
        found: dict[str, dict[str, str]] = record_artifacts_as_dict(
            [base], exclude_patterns=list(SOURCE_EXCLUDES), lstrip_paths=[base + "/"])
    if len(found) > MAX_ARTIFACTS:
        raise UsageError(f"the source tree {base} has {len(found)} files, too many for one in-toto link",
                         expected=f"at most {MAX_ARTIFACTS} files in the module directory "
                                  f"(excluded: {', '.join(SOURCE_EXCLUDES)})",
                         found=str(len(found)),
                         fix="build from the module's own directory, not from a tree holding other "
                             "modules or generated files")
    return {f"src/{name}": dict(hashes) for name, hashes in sorted(found.items())}


@dataclass(frozen=True)
class LinkRecord:
    """One step's link, before it is signed: the in-toto link fields."""

    name: str
    command: tuple[str, ...]
    materials: Mapping[str, Mapping[str, str]]
    products: Mapping[str, Mapping[str, str]]
    environment: Mapping[str, str]

    def link(self) -> Any:
        """The same record as an `in_toto.models.link.Link` (validated by in-toto's model)."""
        from in_toto.models.link import Link

        return Link(name=self.name, command=list(self.command),
                    materials={k: dict(v) for k, v in self.materials.items()},
                    products={k: dict(v) for k, v in self.products.items()},
                    environment={"variables": dict(self.environment)})


def _descriptors(artifacts: Mapping[str, Mapping[str, str]]) -> list[dict[str, Any]]:
    return [{"name": name, "digest": dict(hashes)} for name, hashes in sorted(artifacts.items())]


def link_predicate(record: LinkRecord) -> dict[str, Any]:
    """The link predicate (`vocabulary.INTOTO_LINK`) of one step."""
    record.link()   # in-toto's model refuses a malformed hash dict or command before anything is signed
    return {"name": record.name, "command": list(record.command),
            "materials": _descriptors(record.materials), "products": _descriptors(record.products),
            "byproducts": {}, "environment": dict(record.environment)}


def _artifacts(raw: Any, field: str) -> Artifacts:
    if raw is None:
        return {}
    if not isinstance(raw, list) or len(raw) > MAX_ARTIFACTS:
        raise ValueError(f"{field} is not a list of at most {MAX_ARTIFACTS} resource descriptors")
    out: Artifacts = {}
    for item in raw:
        name = item.get("name") if isinstance(item, dict) else None
        digest = item.get("digest") if isinstance(item, dict) else None
        if not isinstance(name, str) or not isinstance(digest, dict) or \
                not all(isinstance(k, str) and isinstance(v, str) for k, v in digest.items()):
            raise ValueError(f"{field} has an entry without a name and a digest")
        out[name] = dict(digest)
    return out


def read_link(predicate: Mapping[str, Any]) -> Any:
    """A verified link predicate as an `in_toto.models.link.Link` (ValueError when malformed)."""
    from in_toto.models.link import Link
    from securesystemslib.exceptions import FormatError

    name = predicate.get("name")
    command = predicate.get("command") or []
    env = predicate.get("environment") or {}
    if not isinstance(name, str) or not name or not isinstance(command, list) or not isinstance(env, dict):
        raise ValueError("the link has no name, or a command or environment of the wrong shape")
    try:
        return Link(name=name, command=[str(c) for c in command],
                    materials=_artifacts(predicate.get("materials"), "materials"),
                    products=_artifacts(predicate.get("products"), "products"),
                    environment={"variables": {str(k): str(v) for k, v in env.items()}})
    except FormatError as exc:
        raise ValueError(f"in-toto refuses the link: {exc}") from None
