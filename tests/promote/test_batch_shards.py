"""`promote --batch --shard I/N --journal FILE`: fixed disjoint shares, and a journal that lets a
retried shard resume."""

# ruff: noqa: E501
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from supplychain.errors import UsageError
from supplychain.promote import BatchItem, Journal, PromoteResult, batch_key, parse_shard, shard_of
from tests.conftest import run_sccheck
from tests.helpers.devstack import DevStack
from tests.helpers.registries import Registry
from tests.policy.test_promote_stack import signed_index, tag_of
from tests.promote.test_transaction import POLICY


def items(n: int) -> list[BatchItem]:
    return [BatchItem(f"reg/staging/a{i}:v1", f"reg/prod/a{i}:v1") for i in range(n)]


def test_shards_are_disjoint_even_and_independent_of_file_order() -> None:
    batch = items(100)
    shares = [shard_of(batch, i, 4) for i in range(1, 5)]
    assert [len(s) for s in shares] == [25, 25, 25, 25]
    assert sorted(b.destination for s in shares for b in s) == sorted(b.destination for b in batch)
    assert shard_of(list(reversed(batch)), 2, 4) == shares[1]
    assert shard_of(batch, 1, 1) == sorted(batch, key=lambda b: b.destination)


@pytest.mark.parametrize("text", ["0/4", "5/4", "2", "a/b", "2/0", "-1/3"])
def test_bad_shard_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        parse_shard(text)


def test_journal_is_written_whole_and_belongs_to_one_batch_and_shard(tmp_path: Path) -> None:
    batch = tmp_path / "batch.yaml"
    batch.write_text("promotions: [{source: a, destination: b}]\n")
    path = tmp_path / "journal.json"
    journal = Journal(str(path), batch_key(str(batch), (1, 2)))
    item = BatchItem("reg/s/a:v1", "reg/p/a:v1")
    journal.record(item, PromoteResult(item.source, item.destination, "sha256:" + "a" * 64, "promoted", "ok"))
    doc = json.loads(path.read_text())
    assert doc["entries"]["reg/p/a:v1"]["digest"] == "sha256:" + "a" * 64
    assert list(tmp_path.glob(".journal.json.*")) == []        # no temporary file left behind
    assert Journal(str(path), batch_key(str(batch), (1, 2))).done(item) is not None
    with pytest.raises(UsageError, match="another batch or shard"):
        Journal(str(path), batch_key(str(batch), (2, 2)))
    failed = BatchItem("reg/s/b:v1", "reg/p/b:v1")
    journal.record(failed, PromoteResult(failed.source, failed.destination, "", "error", "boom"))
    assert Journal(str(path), batch_key(str(batch), (1, 2))).done(failed) is None   # runs again


def test_a_retried_shard_resumes_from_its_journal(dev_stack: DevStack, registry: Registry, tmp_path: Path) -> None:
    sources = [registry.ref(f"staging/shard{i}", "v1") for i in range(4)]
    digests = [signed_index(dev_stack, s) for s in sources]
    batch = tmp_path / "batch.yaml"
    batch.write_text(yaml.safe_dump({"promotions": [
        {"source": s, "destination": s.replace("/staging/", "/prod/")} for s in sources]}))
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(issuer=dev_stack.issuer, identity=dev_stack.identity))
    args = ("--json", "promote", "--batch", str(batch), "--policy", str(policy), "--shard", "2/2",
            "--journal", str(tmp_path / "j.json"), "--no-vsa", "--trust-config", str(dev_stack.trust_config))
    first = run_sccheck(*args)
    assert first.returncode == 0, first.stderr[-2000:]
    done = json.loads(first.stdout)
    assert done["summary"]["promoted"] == 2 and done["shard"] == "2/2"
    mine = {r["destination"] for r in done["results"]}
    expected = sorted(s.replace("/staging/", "/prod/") for s in sources)[1::2]
    assert mine == set(expected)
    for s, d in zip(sources, digests, strict=True):
        dst = s.replace("/staging/", "/prod/")
        assert tag_of(dst, "v1") == (d if dst in mine else None)
    again = run_sccheck(*args)
    assert again.returncode == 0, again.stderr[-2000:]
    resumed = json.loads(again.stdout)
    assert [r["journal"] for r in resumed["results"]] == ["resumed", "resumed"]
    assert all("done by an earlier attempt" in r["message"] for r in resumed["results"])
