"""Parsing image references: `host[:port]/repo[:tag][@digest]` and `oci:DIR[:tag|@digest]`."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace

from supplychain.errors import UsageError
from supplychain.image.descriptor import validate_digest

DEFAULT_REGISTRY = "docker.io"
DOCKER_HUB_API_HOST = "registry-1.docker.io"
DOCKER_HUB_CREDENTIAL_KEY = "https://index.docker.io/v1/"
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
MAX_NAME_LENGTH = 255  # the whole name, host included (distribution's NameTotalLengthMax)

# The distribution reference grammar (github.com/distribution/reference, grammar in its docs).
_REPO_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_DOMAIN_COMPONENT = re.compile(r"^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_DIGEST_ALGORITHM = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*$")


def api_host(registry: str) -> str:
    """The host to send HTTP to: Docker Hub's registry API lives on registry-1.docker.io."""
    return DOCKER_HUB_API_HOST if registry in _DOCKER_HUB_ALIASES else registry


def credential_key(registry: str) -> str:
    """The key of `registry` in a Docker config's `auths` (Docker Hub's is a legacy URL)."""
    return DOCKER_HUB_CREDENTIAL_KEY if registry in _DOCKER_HUB_ALIASES else registry


def is_docker_hub(registry: str) -> bool:
    return registry in _DOCKER_HUB_ALIASES


@dataclass(frozen=True)
class ImageRef:
    """A parsed reference. Exactly one of (registry, repository) or layout_dir is the location."""

    registry: str = ""
    repository: str = ""
    tag: str | None = None
    digest: str | None = None
    layout_dir: str | None = None

    @property
    def is_layout(self) -> bool:
        return self.layout_dir is not None

    @property
    def name(self) -> str:
        """Location without tag or digest."""
        if self.layout_dir is not None:
            return f"oci:{self.layout_dir}"
        return f"{self.registry}/{self.repository}"

    @property
    def identifier(self) -> str:
        """What to ask for: the digest when pinned, else the tag (default `latest`)."""
        return self.digest or self.tag or "latest"

    def with_digest(self, digest: str) -> ImageRef:
        return replace(self, digest=validate_digest(digest))

    def with_tag(self, tag: str | None) -> ImageRef:
        return replace(self, tag=tag, digest=None)

    def by_digest(self) -> str:
        if not self.digest:
            raise UsageError(f"{self} is not pinned by digest")
        sep = "@"
        return f"{self.name}{sep}{self.digest}"

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def _bad(ref: str, why: str) -> UsageError:
    return UsageError(
        f"invalid image reference {ref if len(ref) <= 100 else ref[:100] + '...'!r}: {why}",
        expected="host[:port]/repository[:tag][@sha256:<hex>] or oci:DIR[:tag]",
        fix="write the reference as in 'localhost:5000/team/app:v1' or 'oci:dist/oci'",
    )


def _check_digest(ref: str, digest: str) -> str:
    algorithm, sep, hexpart = digest.partition(":")
    if not sep or not _DIGEST_ALGORITHM.match(algorithm) or not hexpart:
        raise _bad(ref, f"the digest {digest[:100]!r} is not ALGORITHM:HEX")
    if algorithm not in ("sha256", "sha512"):
        raise _bad(ref, f"the digest algorithm {algorithm[:40]!r} is not supported (sha256 or sha512)")
    want = 64 if algorithm == "sha256" else 128
    if len(hexpart) != want or not re.fullmatch(r"[0-9a-f]+", hexpart):
        raise _bad(ref, f"a {algorithm} digest is {want} lowercase hex digits, found {len(hexpart)} "
                        f"characters {hexpart[:16]!r}...")
    return digest


def check_host(ref: str, host: str) -> str:
    """`name[:port]`, `IPv4[:port]` or `[IPv6][:port]`; the port 1-65535."""
    port = None
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            raise _bad(ref, f"the IPv6 host {host[:80]!r} lacks its closing ']'")
        literal, rest = host[1:end], host[end + 1:]
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            raise _bad(ref, f"{literal[:80]!r} is not an IPv6 address") from None
        if rest:
            if not rest.startswith(":"):
                raise _bad(ref, f"unexpected {rest[:40]!r} after the IPv6 address")
            port = rest[1:]
    else:
        name, sep, port_text = host.partition(":")
        port = port_text if sep else None
        if ":" in port_text:
            raise _bad(ref, "an IPv6 host must be written in brackets, as in [::1]:5000")
        labels = name.split(".")
        bad = next((label for label in labels if not _DOMAIN_COMPONENT.match(label)), None)
        if bad is not None:
            raise _bad(ref, f"the host {name[:80]!r} has an invalid part {bad[:64]!r} (letters, digits "
                            "and inner '-', separated by single dots)")
        if len(name) > 253:
            raise _bad(ref, f"the host name is {len(name)} characters long, more than 253")
    if port is not None and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise _bad(ref, f"the port {port[:20]!r} is not a number from 1 to 65535")
    return host


def _split_domain(name: str) -> tuple[str, list[str]]:
    """Docker's rule: the first component is a host when it has '.' or ':', is `localhost`, or
    has upper case; otherwise the name is on Docker Hub (one component: under `library/`)."""
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.lower() != first):
        registry, parts = first, rest.split("/")
    else:
        registry, parts = DEFAULT_REGISTRY, name.split("/")
    if registry in _DOCKER_HUB_ALIASES:
        registry = DEFAULT_REGISTRY
        if len(parts) == 1:
            parts = ["library", *parts]
    return registry, parts


def parse_image_ref(ref: str) -> ImageRef:
    ref = ref.strip()
    if not ref:
        raise _bad(ref, "it is empty")
    if ref.startswith("oci:"):
        rest = ref[4:]
        digest = tag = None
        if "@" in rest:
            rest, digest = rest.rsplit("@", 1)
            _check_digest(ref, digest)
        elif ":" in rest and _TAG.match(rest.rsplit(":", 1)[1]) and "/" not in rest.rsplit(":", 1)[1]:
            rest, tag = rest.rsplit(":", 1)
        if not rest:
            raise _bad(ref, "no directory after 'oci:'")
        return ImageRef(layout_dir=rest, tag=tag, digest=digest)
    if any(c.isspace() or not c.isprintable() for c in ref):
        raise _bad(ref, "it contains white space or control characters")
    name, at, digest_text = ref.partition("@")
    digest = _check_digest(ref, digest_text) if at else None
    tag = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
        if not _TAG.match(tag):
            raise _bad(ref, f"the tag {tag[:140]!r} is not valid (up to 128 letters, digits, '_', '.', '-', "
                            "not starting with '.' or '-')")
    if not name:
        raise _bad(ref, "no repository name")
    if name.startswith((".", "/", "~")):
        raise _bad(ref, "a path is not an image reference; an OCI layout directory is written oci:PATH")
    if len(name) > MAX_NAME_LENGTH:
        raise _bad(ref, f"the name is {len(name)} characters long, more than {MAX_NAME_LENGTH}")
    registry, repo_parts = _split_domain(name)
    if registry != DEFAULT_REGISTRY:
        check_host(ref, registry)
    for part in repo_parts:
        if not part:
            raise _bad(ref, "the repository has an empty path component ('//' or a trailing '/')")
        if not _REPO_COMPONENT.match(part):
            raise _bad(ref, f"repository component {part[:80]!r} must be lowercase letters and digits "
                            "joined by '.', '_', '__' or '-'")
    return ImageRef(registry=registry, repository="/".join(repo_parts), tag=tag, digest=digest)


_WILDCARDS = re.compile(r"[*?]+")


def check_image_glob(glob: str) -> str:
    """An image pattern for admission (Kyverno's and policy-controller's `*`/`?` globs): an image
    reference in which wildcards stand for any text. A pattern that is not one matches nothing, or
    not what was meant, and a cluster policy with it enforces nothing: a usage error."""
    def bad(why: str) -> UsageError:
        shown = glob if len(glob) <= 100 else glob[:100] + "..."
        return UsageError(f"--image {shown!r} is not an image pattern: {why}",
                          expected="an image reference with * and ? as wildcards, as in 'ghcr.io/org/*', "
                                   "'registry.example.com/team/app:v*' or '*'",
                          fix="write the pattern the runtime's image names must match")

    if not glob or glob != glob.strip():
        raise bad("it is empty or starts or ends with white space")
    name, at, digest = glob.partition("@")
    if at:
        algorithm, sep, hexpart = digest.partition(":")
        if not sep or algorithm not in ("sha256", "sha512") or not re.fullmatch(r"[0-9a-f*?]+", hexpart):
            raise bad(f"the digest part {digest[:80]!r} is not sha256:HEX (wildcards allowed in HEX)")
    try:
        parse_image_ref(_WILDCARDS.sub("x", name))
    except UsageError as exc:
        raise bad(str(exc).split(": ", 1)[-1]) from None
    return glob
