"""Generated hostile input fed to the CLI in-process: malformed references, platforms, policies,
manifests and command lines. Every case must end with a documented exit code (1, 2 or 3), no
traceback or internal error, and exactly one JSON document with `ok` on stdout.

The generator is seeded (reproducible); SCCHECK_FUZZ_CASES scales the number of cases per family.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from supplychain.errors import Error
from supplychain.image.descriptor import MediaType, canonical_json
from supplychain.image.reference import parse_image_ref
from supplychain.registry.options import split_host_port
from tests.hostile.crafted import GZIP, gzip_bytes, layout_with_layers, run, tar_of

CASES = int(os.environ.get("SCCHECK_FUZZ_CASES", "150"))
ALPHABET = "aZ09-_.:/@[]%~ \t\x00\u00e9\u202e" + "\\" + '"' + "'"
# A key-based policy: verifying needs no trusted root, so no case can wander off to a TUF mirror.
POLICY = (Path(__file__).resolve().parents[2] / "policies" / "examples" / "key-based.yaml").read_text()
RAN: dict[str, int] = {}


def mutate(rng: random.Random, text: str, ops: int = 3) -> str:
    for _ in range(rng.randint(1, ops)):
        pos = rng.randint(0, len(text))
        choice = rng.random()
        if choice < 0.3 and text:
            text = text[:pos] + text[pos + 1:]
        elif choice < 0.6:
            text = text[:pos] + rng.choice(ALPHABET) + text[pos:]
        elif choice < 0.75:
            text = text[:pos] + rng.choice(ALPHABET) * rng.choice([2, 64, 300]) + text[pos:]
        elif choice < 0.9 and text:
            end = rng.randint(pos, len(text))
            text = text[:pos] + text[pos:end] * 2 + text[end:]
        else:
            text = text[::-1] if rng.random() < 0.5 else text.upper()
    return text


def offline(ref: str) -> bool:
    """Only loopback registries: a generated host must never send the test onto the network."""
    try:
        parsed = parse_image_ref(ref)
    except Error:
        return True
    if parsed.is_layout:
        return True
    name, _ = split_host_port(parsed.registry)
    return name in ("127.0.0.1", "::1", "localhost")


def valid(ref: str) -> bool:
    try:
        parse_image_ref(ref)
    except Error:
        return False
    return True


def hostile_values(rng: random.Random, depth: int = 0) -> Any:
    kinds: list[Callable[[], Any]] = [
        lambda: None, lambda: rng.randint(-2**70, 2**70), lambda: "x" * rng.choice([0, 1, 5000]),
        lambda: [], lambda: {}, lambda: True, lambda: 1.5,
        lambda: "sha256:" + "g" * 64, lambda: {"digest": [1], "size": "big"},
        lambda: [hostile_values(rng, depth + 1)] if depth < 4 else 0,
    ]
    return rng.choice(kinds)()


def mutate_doc(rng: random.Random, doc: Any) -> Any:
    """Replace, drop or retype one value somewhere in a JSON document."""
    doc = json.loads(json.dumps(doc))
    node, path = doc, []
    while isinstance(node, dict | list) and node and rng.random() < 0.7:
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        path.append((node, key))
        node = node[key]
    if not path:
        return hostile_values(rng)
    parent, key = path[-1]
    if isinstance(parent, dict) and rng.random() < 0.3:
        del parent[key]
    else:
        parent[key] = hostile_values(rng)
    return doc


def write_layout(root: Path, manifest: bytes, media_type: str = MediaType.OCI_MANIFEST,
                 blobs: dict[str, bytes] | None = None) -> None:
    """An OCI layout whose index points at `manifest`, whatever it holds."""
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    for data in [manifest, *(blobs or {}).values()]:
        (root / "blobs" / "sha256" / hashlib.sha256(data).hexdigest()).write_bytes(data)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    entry = {"mediaType": media_type, "digest": "sha256:" + hashlib.sha256(manifest).hexdigest(),
             "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "latest"}}
    (root / "index.json").write_bytes(canonical_json({"schemaVersion": 2, "manifests": [entry]}))


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], dict[str, bytes]]:
    root = tmp_path_factory.mktemp("good") / "oci"
    layout_with_layers(root, [(gzip_bytes(tar_of([("etc/os-release", b"ID=alpine\n")])), GZIP)])
    index = json.loads((root / "index.json").read_text())
    digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((root / "blobs" / "sha256" / digest).read_text())
    blobs = {p.name: p.read_bytes() for p in (root / "blobs" / "sha256").iterdir()}
    return root, manifest, blobs


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("policy") / "policy.yaml"
    path.write_text(POLICY)
    return path


def cases(name: str, count: int) -> Iterator[random.Random]:
    """Seeded generators; says how many cases ran (run pytest with -s to see it)."""
    for seed in range(count):
        RAN[name] = RAN.get(name, 0) + 1
        yield random.Random(f"{name}-{seed}")
    print(f"\ngenerated cases run: {name} {RAN[name]} (all so far: {sum(RAN.values())})")


def test_generated_references(tmp_path: Path, policy_file: Path) -> None:
    seeds = ["127.0.0.1:1/team/app:v1", "[::1]:1/a/b@sha256:" + "a" * 64, "localhost:1/x", "oci:dir:tag"]
    for rng in cases("references", CASES * 2):
        ref = mutate(rng, rng.choice(seeds))
        if not offline(ref):
            continue
        commands = [["copy", ref, "oci:" + str(tmp_path / "dst"), "--retries", "0"],
                    ["verify", ref, "--policy", str(policy_file), "--retries", "0"],
                    ["copy", "oci:" + str(tmp_path / "nothing"), ref, "--retries", "0"]]
        if ref.startswith("oci:") or not valid(ref):  # these have no --retries: no registry for them
            commands += [["sbom", ref], ["harden", "check", ref]]
        out = run(["--json", *rng.choice(commands)], allowed=(1, 2, 3))
        assert out.doc["ok"] is False


def test_generated_platforms(good: tuple[Path, dict[str, Any], dict[str, bytes]]) -> None:
    root = good[0]
    seeds = ["linux/amd64", "linux/arm64/v8", "linux/amd64,linux/arm64", "windows/amd64:10.0"]
    for rng in cases("platforms", CASES):
        platform = mutate(rng, rng.choice(seeds))
        out = run(["--json", "sbom", f"oci:{root}", "--platform", platform], allowed=(0, 1, 2, 3))
        assert out.code != 0 or platform.strip() in ("linux/amd64", "linux/amd64/")


def test_generated_policies(tmp_path: Path, good: tuple[Path, dict[str, Any], dict[str, bytes]]) -> None:
    root = good[0]
    path = tmp_path / "policy.yaml"
    for rng in cases("policies", CASES):
        roll = rng.random()
        if roll < 0.5:
            text = mutate(rng, POLICY, ops=6)
        elif roll < 0.8:
            doc = mutate_doc(rng, {"apiVersion": "sccheck.dev/v1", "kind": "Policy", "name": "p",
                                   "identities": [{"name": "k", "publicKey": "-----BEGIN PUBLIC KEY-----"}],
                                   "signature": {}, "limits": {"maxBundles": 3}})
            text = json.dumps(doc)
        else:
            depth = rng.choice([70, 5000, 100_000])
            text = "name: " + "[" * depth + "]" * depth
        path.write_text(text)
        run(["--json", "verify", f"oci:{root}", "--policy", str(path)], allowed=(1, 2, 3))


def test_generated_manifests(tmp_path: Path, good: tuple[Path, dict[str, Any], dict[str, bytes]],
                             policy_file: Path) -> None:
    _, manifest, blobs = good
    index = {"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX, "manifests": [
        {"mediaType": MediaType.OCI_MANIFEST, "digest": "sha256:" + hashlib.sha256(canonical_json(manifest))
         .hexdigest(), "size": len(canonical_json(manifest)), "platform": {"os": "linux",
                                                                          "architecture": "amd64"}}]}
    for number, rng in enumerate(cases("manifests", CASES)):
        root = tmp_path / f"m{number}"
        is_index = rng.random() < 0.3
        doc = mutate_doc(rng, index if is_index else manifest)
        if rng.random() < 0.15:
            data = mutate(rng, json.dumps(doc), ops=4).encode("utf-8", "replace")
        elif rng.random() < 0.1:
            data = b"[" * 50_000 + b"]" * 50_000
        else:
            data = canonical_json(doc)
        write_layout(root, data, MediaType.OCI_INDEX if is_index else MediaType.OCI_MANIFEST,
                     {**blobs, "child": canonical_json(manifest)})
        command = rng.choice([["sbom", f"oci:{root}"], ["harden", "check", f"oci:{root}"],
                              ["verify", f"oci:{root}", "--policy", str(policy_file)],
                              ["copy", f"oci:{root}", f"oci:{tmp_path / 'copies' / str(number)}"]])
        run(["--json", *command], allowed=(0, 1, 2, 3))


def test_generated_command_lines() -> None:
    words = ["copy", "verify", "promote", "sbom", "harden", "check", "sign", "attest", "--json", "--policy",
             "--platform", "--output", "--referrers", "--retries", "-x", "--", "oci:", "oci:/nonexistent/x",
             "127.0.0.1:1/x", "../a", "-1"]
    for rng in cases("command lines", CASES):
        argv = [mutate(rng, rng.choice(words), ops=1) if rng.random() < 0.2 else rng.choice(words)
                for _ in range(rng.randint(0, 6))]
        run(["--json", *argv], allowed=(0, 1, 2, 3))
