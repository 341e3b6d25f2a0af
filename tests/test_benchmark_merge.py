"""`benchmarks.main --merge`: a rerun of one area replaces exactly the rows it measured again."""

from __future__ import annotations

import dataclasses

from benchmarks.harness import Row
from benchmarks.main import _merged


def _old(*rows: Row) -> dict[str, object]:
    return {"rows": [dataclasses.asdict(r) for r in rows], "machine": {"cpu": "2 cores"}, "repeat": 3}


def test_a_task_with_several_peers_keeps_one_row_per_peer() -> None:
    old = _old(Row("copy", 1.7, "oras copy -r", 0.6), Row("copy", 1.7, "crane copy", 0.2),
               Row("build", 1.2, "ko build", 1.1))
    fresh = [Row("copy", 1.3, "oras copy -r", 0.3), Row("copy", 1.3, "crane copy", 0.1),
             Row("sbom", 0.4, "syft", 3.6)]
    rows, machine, repeat = _merged(old, fresh, {"at end": "0.5"}, ["copy", "sbom"], 1)
    assert [(r.task, r.peer_name, r.sccheck) for r in rows] == [
        ("copy", "oras copy -r", 1.3), ("copy", "crane copy", 1.3), ("build", "ko build", 1.2),
        ("sbom", "syft", 0.4)]
    assert repeat == 3 and machine["cpu"] == "2 cores"
    assert any(k.startswith("measured again") and "copy, sbom (1 run(s)" in v for k, v in machine.items())
