"""The example inputs the demo ships stay what they claim to be."""

from __future__ import annotations

import filecmp
from pathlib import Path

from tests.analyzers.vulndb import build_vulndb
from tests.conftest import EXAMPLES


def test_offline_vulndb_is_built_from_the_real_osv_records(tmp_path: Path) -> None:
    """examples/vulndb (the demo's offline database) equals a fresh build from the OSV records."""
    fresh = build_vulndb(tmp_path / "db")
    shipped = EXAMPLES / "vulndb"
    for sub in ("ID", "index"):
        names = sorted(p.name for p in (fresh / sub).iterdir())
        assert names == sorted(p.name for p in (shipped / sub).iterdir())
        match, mismatch, errors = filecmp.cmpfiles(fresh / sub, shipped / sub, names, shallow=False)
        assert (mismatch, errors) == ([], []) and match == names
    assert "GO-2021-0113.json" in {p.name for p in (shipped / "ID").iterdir()}
