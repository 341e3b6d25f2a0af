"""Every test file under tests/ is collected: no directory of tests is skipped by pytest's
`norecursedirs` (its default list skips any directory named `build`, which once left the build
tests out of every full run)."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_directory_of_tests_is_skipped_by_norecursedirs() -> None:
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    patterns = options.get("norecursedirs")
    assert patterns, "norecursedirs must be set: pytest's default skips tests/build"
    with_tests = {p.parent for p in (ROOT / "tests").rglob("test_*.py")}
    assert ROOT / "tests" / "build" in with_tests
    for directory in with_tests:
        for part in directory.relative_to(ROOT).parts:
            hit = [p for p in patterns if fnmatch.fnmatch(part, p)]
            assert not hit, f"{directory.relative_to(ROOT)} is skipped by norecursedirs {hit}"
