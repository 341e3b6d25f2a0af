"""Every JSON file a user hands sccheck goes through the one strict reader: a file nested without
end (or with a duplicate key) is a usage error naming the file, never `internal error`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.crafted import GZIP, gzip_bytes, layout_with_layers, run, tar_of

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "policies" / "default.yaml"
DEEP = b"[" * 50_000 + b"]" * 50_000
DUPLICATE = b'{"format": 1, "format": 2}'


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("files") / "oci"
    layout_with_layers(root, [(gzip_bytes(tar_of([("etc/os-release", b"ID=alpine\n")])), GZIP)])
    return root


def _commands(tmp: Path, layout: Path, bad: Path) -> dict[str, list[str]]:
    profiles = tmp / "profiles"
    profiles.mkdir(exist_ok=True)
    (profiles / "profiles.json").write_bytes(bad.read_bytes())
    batch = tmp / "batch.yaml"
    batch.write_text(f"promotions:\n  - source: oci:{layout}\n    destination: oci:{tmp / 'dst'}\n")
    return {
        "export --trusted-root": ["policy", "export", "--format", "kyverno", "--policy", str(POLICY),
                                  "--trusted-root", str(bad)],
        "export --tuf-root": ["policy", "export", "--format", "kyverno", "--policy", str(POLICY),
                              "--tuf-mirror", "http://127.0.0.1:9/", "--tuf-root", str(bad)],
        "check --baseline": ["check", str(ROOT / "examples" / "hello"), "--baseline", str(bad)],
        "harden check --profiles": ["harden", "check", f"oci:{layout}", "--profiles", str(profiles)],
        "promote --journal": ["promote", "--batch", str(batch), "--policy", str(POLICY),
                              "--journal", str(bad)],
    }


NAMES = ["export --trusted-root", "export --tuf-root", "check --baseline", "harden check --profiles",
         "promote --journal"]


@pytest.mark.parametrize("content", [DEEP, DUPLICATE], ids=["nested-50000", "duplicate-key"])
@pytest.mark.parametrize("name", NAMES)
def test_a_hostile_user_file_is_a_usage_error(tmp_path: Path, layout: Path, name: str,
                                              content: bytes) -> None:
    bad = tmp_path / "hostile.json"
    bad.write_bytes(content)
    args = _commands(tmp_path, layout, bad)[name]
    out = run(["--json", *args], allowed=(2,))
    assert out.doc["ok"] is False
    message = out.stderr + out.stdout
    assert "nested too deeply" in message or "duplicate JSON key" in message, message[-1500:]
