"""Start-up is paid once and only for what a command needs: each command, run for real in its
own interpreter, imports no heavy package it does not use (read from `python -X importtime`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from supplychain.stores import open_store
from tests.conftest import ROOT
from tests.helpers.registries import Registry
from tests.signing.images import push_tiny_image

HEAVY = ("sigstore", "sigstore_models", "rekor_types", "pydantic", "docker", "cyclonedx", "jsonschema")
NETWORK = ("requests", "urllib3")


def imported(*args: str) -> set[str]:
    """The top-level packages and supplychain modules one `sccheck ARGS` run imports."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "supplychain", *args], cwd=ROOT,
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    names = set()
    for line in out.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            names.add(name if name.startswith("supplychain") else name.split(".")[0])
    assert "supplychain.cli" in names   # the measurement itself works
    return names


def test_version_and_help_import_nothing_heavy() -> None:
    assert not imported("--version") & {*HEAVY, *NETWORK, "yaml", "cryptography", "supplychain.registry"}
    assert not imported("--help") & set(HEAVY)
    for command in ("copy", "build", "sbom", "check", "verify", "promote", "sign"):
        assert not imported(command, "--help") & set(HEAVY), command


def test_copy_imports_no_sigstore_or_policy(registry: Registry) -> None:
    src = registry.ref("budget/src", "v1")
    push_tiny_image(open_store(src), "v1", text="import-budget")
    names = imported("copy", "--referrers", src, registry.ref("budget/dst", "v1"))
    assert not names & set(HEAVY)
    unneeded = ("supplychain.signing", "supplychain.policy", "supplychain.build")
    assert not {n for n in names if n.startswith(unneeded)}


def test_key_only_verify_loads_no_sigstore(registry: Registry, tmp_path: Path) -> None:
    """A policy with only public keys never needs the keyless verifier (0.2 s of imports)."""
    from supplychain.signing.api import sign_image
    from supplychain.signing.keys import generate_key_pair

    ref = registry.ref("budget/keyed", "v1")
    push_tiny_image(open_store(ref), "v1", text="import-budget-key")
    generate_key_pair(tmp_path / "k", "pw")
    sign_image(ref, key=str(tmp_path / "k.key"), key_password="pw")
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump({
        "apiVersion": "sccheck.dev/v1", "kind": "Policy", "name": "budget",
        "identities": [{"name": "k", "publicKey": (tmp_path / "k.pub").read_text(),
                        "UnsafeNoTransparencyLog": True}], "signature": {}}))
    names = imported("verify", ref, "--policy", str(policy))
    assert not names & set(HEAVY), sorted(names & set(HEAVY))   # a valid policy needs no jsonschema
    # verify signs nothing and runs no analyzer: the signing layer and the check runner stay out
    # (a test-result predicate needs the findings model only), and so does the bundle archiver.
    unneeded = {"supplychain.signing.api", "supplychain.signing.storage", "supplychain.analyzers.runner",
                "supplychain.bundle", "supplychain.build"}
    assert not names & unneeded, sorted(names & unneeded)


def test_build_to_a_layout_loads_no_http_client(tmp_path: Path) -> None:
    """A build that writes an OCI layout talks to no registry: requests is never imported; and a
    module without sccheck.yaml reads no YAML, so the parser is not imported either."""
    names = imported("build", str(ROOT / "examples" / "hello"), "--output", f"oci:{tmp_path / 'oci'}")
    assert not names & {*HEAVY, *NETWORK}, sorted(names & {*HEAVY, *NETWORK})
    assert not (ROOT / "examples" / "hello" / "sccheck.yaml").exists()
    assert "yaml" not in names and "supplychain._strictyaml" not in names
    assert "supplychain.registry.repository" not in names


def test_build_api_leaves_the_sinks_for_the_compile() -> None:
    """A static build starts Go before it loads the image code (bases, layers, manifests, the
    layer cache, the cgo checks), and build_and_publish loads the sinks while Go compiles
    (docs/build.md): what runs before the compile must not load them, or nothing is left to
    overlap."""
    later = ("supplychain.build.outputs", "supplychain.copy", "supplychain.build.bases",
             "supplychain.build.layers", "supplychain.build.assemble", "supplychain.build.layercache",
             "supplychain.build.cgo", "supplychain.image.filesystem")
    probe = ("import sys, supplychain.build.api, supplychain.build.daemonless, supplychain.cli.build; "
             f"print(sorted(m for m in {later!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "[]"
