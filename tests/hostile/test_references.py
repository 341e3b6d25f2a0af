"""Image references follow the distribution grammar; every malformed one is a usage error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from supplychain.errors import UsageError
from supplychain.image.reference import api_host, credential_key, parse_image_ref

HEX = "a" * 64


@pytest.mark.parametrize(("text", "why"), [
    ("../x", "oci:PATH"),
    ("./x", "oci:PATH"),
    ("/abs/x", "oci:PATH"),
    ("127.0.0.1:99999/x", "1 to 65535"),
    ("127.0.0.1:0/x", "1 to 65535"),
    ("127.0.0.1:5e3/x", "1 to 65535"),
    ("[::1/x", "closing ']'"),
    ("[::g]:5000/x", "not an IPv6 address"),
    ("[::1]x/y", "after the IPv6 address"),
    ("::1:5000/x", "brackets"),
    ("h" * 300 + ".com/x", "more than 255"),
    ("a..b/x", "invalid part"),
    ("-a.com/x", "invalid part"),
    ("a.com/x//y", "empty path component"),
    ("a.com/X", "lowercase"),
    ("a.com/x_-y", "lowercase"),
    ("a.com/x:" + "t" * 129, "tag"),
    ("a.com/x:.t", "tag"),
    ("a.com/x@sha256:" + "a" * 63, "64 lowercase hex"),
    ("a.com/x@sha256:" + "A" * 64, "64 lowercase hex"),
    ("a.com/x@sha512:" + HEX, "128 lowercase hex"),
    ("a.com/x@md5:" + HEX, "not supported"),
    ("a.com/x@" + HEX, "ALGORITHM:HEX"),
    ("a.com/x y", "white space"),
    ("a.com/x\x00", "control"),
    ("", "empty"),
    ("a.com/", "empty path component"),
])
def test_malformed_references_are_usage_errors(text: str, why: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_image_ref(text)
    assert why in info.value.message
    assert info.value.exit_code == 2


@pytest.mark.parametrize(("text", "registry", "repository", "tag", "digest"), [
    ("alpine", "docker.io", "library/alpine", None, None),
    ("alpine:3.20", "docker.io", "library/alpine", "3.20", None),
    ("docker.io/alpine", "docker.io", "library/alpine", None, None),
    ("docker.io/library/alpine", "docker.io", "library/alpine", None, None),
    ("index.docker.io/team/app", "docker.io", "team/app", None, None),
    ("registry-1.docker.io/team/app", "docker.io", "team/app", None, None),
    ("team/app", "docker.io", "team/app", None, None),
    ("localhost/app", "localhost", "app", None, None),
    ("[::1]:5000/a/b:v1", "[::1]:5000", "a/b", "v1", None),
    ("127.0.0.1:65535/x@sha256:" + HEX, "127.0.0.1:65535", "x", None, "sha256:" + HEX),
    ("Host.Example:443/a__b/c-d.e", "Host.Example:443", "a__b/c-d.e", None, None),
    ("h" * 63 + ".io/" + "x" * 180, "h" * 63 + ".io", "x" * 180, None, None),
])
def test_valid_references(text: str, registry: str, repository: str, tag: str | None,
                          digest: str | None) -> None:
    ref = parse_image_ref(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)


def test_docker_hub_hosts() -> None:
    assert api_host("docker.io") == "registry-1.docker.io"
    assert credential_key("docker.io") == "https://index.docker.io/v1/"
    assert api_host("localhost:5000") == credential_key("localhost:5000") == "localhost:5000"


@pytest.mark.parametrize("glob", ["", " ", "x y", "ghcr.io/app\n- '*'", "a..b/*", "[::1/x",
                                  "127.0.0.1:99999/*", "h" * 300 + ".com/*", "ghcr.io//app*",
                                  "ghcr.io/App", "\x1b*"])
@pytest.mark.parametrize("fmt", ["kyverno", "kyverno-clusterpolicy", "policy-controller"])
def test_a_malformed_export_image_glob_is_a_usage_error(sccheck, glob: str, fmt: str) -> None:
    """An admission policy whose image pattern matches nothing (or not what was meant) enforces
    nothing: a pattern that is not an image reference (with * and ? wildcards) is refused."""
    policy = Path(__file__).resolve().parents[2] / "policies" / "examples" / "key-based.yaml"
    proc = sccheck("--json", "policy", "export", "--format", fmt, "--policy", str(policy),
                   "--image", glob, "--allow-partial")
    assert proc.returncode == 2, proc.stdout[-500:]
    doc = json.loads(proc.stdout)
    assert doc["ok"] is False and "--image" in doc["message"], doc


@pytest.mark.parametrize("glob", ["*", "ghcr.io/org/*", "ghcr.io/org/app:v*", "127.0.0.1:5000/app",
                                  "registry.example.com/team/**", "ghcr.io/org/app@sha256:*",
                                  "*.example.com/*"])
def test_export_image_globs_that_are_references(sccheck, glob: str) -> None:
    policy = Path(__file__).resolve().parents[2] / "policies" / "examples" / "key-based.yaml"
    proc = sccheck("--json", "policy", "export", "--format", "kyverno", "--policy", str(policy),
                   "--image", glob, "--allow-partial")
    assert proc.returncode == 0, proc.stderr
    assert glob in proc.stdout
