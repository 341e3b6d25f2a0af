"""`sccheck verify --batch FILE`: many images in one process, each judged exactly as a single
`verify` judges it; an image that could not be checked is an error, never a verdict."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from supplychain.errors import UsageError
from supplychain.stores import open_store
from supplychain.verify import load_verify_batch
from tests.conftest import run_sccheck
from tests.helpers.devstack import DevStack
from tests.helpers.registries import Registry
from tests.policy.test_promote_stack import signed_index
from tests.promote.test_transaction import POLICY
from tests.signing.images import push_tiny_image


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_batch_file_formats(tmp_path: Path) -> None:
    lines = tmp_path / "images.txt"
    lines.write_text("# staging\nreg.example/a:v1\n\nreg.example/b@sha256:" + "a" * 64 + "\n")
    assert load_verify_batch(str(lines)) == ["reg.example/a:v1", "reg.example/b@sha256:" + "a" * 64]
    doc = tmp_path / "images.yaml"
    doc.write_text("images:\n  - reg.example/a:v1\n  - reg.example/c:v2\n")
    assert load_verify_batch(str(doc)) == ["reg.example/a:v1", "reg.example/c:v2"]
    (tmp_path / "j.json").write_text('{"images": ["reg.example/a:v1"]}')
    assert load_verify_batch(str(tmp_path / "j.json")) == ["reg.example/a:v1"]
    for bad in ("images: []\n", "images: [1]\n", "reg.example/a:v1\nreg.example/a:v1\n",
                "images: [a]\nother: 1\n", "two words\n", ""):
        (tmp_path / "bad").write_text(bad)
        with pytest.raises(UsageError):
            load_verify_batch(str(tmp_path / "bad"))


def test_verify_batch_judges_each_image_as_verify_does(dev_stack: DevStack, registry: Registry,
                                                       tmp_path: Path) -> None:
    signed = [registry.ref(f"batch/ok{i}", "v1") for i in range(2)]
    for ref in signed:
        signed_index(dev_stack, ref)
    unsigned = registry.ref("batch/unsigned", "v1")
    push_tiny_image(open_store(unsigned), "v1", text="verify-batch-unsigned")
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(issuer=dev_stack.issuer, identity=dev_stack.identity))
    trust = ("--trust-config", str(dev_stack.trust_config))
    batch = tmp_path / "batch.txt"
    batch.write_text("\n".join([*signed, unsigned]) + "\n")

    out = run_sccheck("--json", "verify", "--batch", str(batch), "--policy", str(policy), *trust)
    assert out.returncode == 1, out.stderr[-2000:]
    doc = json.loads(out.stdout)
    assert doc["summary"] == {"total": 3, "pass": 2, "fail": 1, "error": 0} and doc["ok"] is False
    assert [r["status"] for r in doc["results"]] == ["pass", "pass", "fail"]
    for result in doc["results"]:   # the same verdict, rule by rule, as one `verify` of that image
        one = run_sccheck("--json", "verify", result["image"], "--policy", str(policy), *trust)
        single = json.loads(one.stdout)
        assert one.returncode == (0 if result["ok"] else 1)
        assert [(r["rule"], r["status"]) for r in single["results"]] == \
            [(r["rule"], r["status"]) for r in result["report"]["results"]]
        assert single["digest"] == result["report"]["digest"]

    batch.write_text(f"{signed[0]}\n127.0.0.1:{_closed_port()}/batch/gone:v1\n")
    out = run_sccheck("--json", "verify", "--batch", str(batch), "--policy", str(policy), *trust)
    assert out.returncode == 3, out.stderr[-2000:]
    doc = json.loads(out.stdout)
    assert [r["status"] for r in doc["results"]] == ["pass", "error"]
    assert "report" not in doc["results"][1] and doc["results"][1]["error"]["exit_code"] == 3

    usage = run_sccheck("--json", "verify", signed[0], "--batch", str(batch), "--policy", str(policy))
    assert usage.returncode == 2 and json.loads(usage.stdout)["ok"] is False
