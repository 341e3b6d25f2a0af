"""govulncheck's answers are reused only for the very same inputs: real govulncheck, the real
test database, a module copied to a temporary directory and edited between checks."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from supplychain.analyzers import CheckRequest, check, vulncache
from tests.analyzers.conftest import FIXTURES


@pytest.fixture
def cache_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SCCHECK_RESULT_CACHE", "1")
    monkeypatch.setenv("SCCHECK_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "check" / "govulncheck"


def _vuln(path: Path, db: Path) -> tuple[bool, dict[str, tuple[str, str]]]:
    result = check(CheckRequest(path=path, vuln_db=str(db), tools=("vuln",)))
    (run,) = [r for r in result.tools if r.status != "skipped"]
    assert run.status == "ok", run.error
    assert run.output is not None
    found = {f.rule: (f.vulnerability.scan_level, f.vulnerability.summary)
             for f in run.findings if f.vulnerability}
    return bool(run.output.facts["cached"]), found


def test_an_unchanged_module_and_database_reuse_the_answer_any_change_scans_again(
        tmp_path: Path, vulndb: Path, cache_on: Path) -> None:
    module = tmp_path / "mod"
    shutil.copytree(FIXTURES / "vuln_imported_not_called", module)
    db = tmp_path / "db"
    shutil.copytree(vulndb, db)

    cached, first = _vuln(module, db)
    assert not cached and first["GO-2021-0113"][0] == "package"
    cached, again = _vuln(module, db)
    assert cached and again == first
    assert len(list(cache_on.glob("*.json"))) == 1

    # the code now calls the vulnerable function: a reused answer would still say "package"
    main = module / "main.go"
    text = main.read_text()
    assert "language." in text
    main.write_text(text.rstrip() + '\n\nfunc init() { _, _ = language.Parse("en") }\n')
    cached, edited = _vuln(module, db)
    assert not cached and edited["GO-2021-0113"][0] == "symbol"

    # the database changes (an entry's text): the new text, not the remembered one
    entry = db / "ID" / "GO-2021-0113.json"
    osv = json.loads(entry.read_text())
    osv["summary"] = "Changed summary of the test database"
    entry.write_text(json.dumps(osv))
    cached, newer = _vuln(module, db)
    assert not cached and newer["GO-2021-0113"][1] == "Changed summary of the test database"

    # a damaged entry is never used: the module is scanned again and the entry replaced
    for path in cache_on.glob("*.json"):
        path.write_text('{"key": "' + path.stem + '", "stdout": "{not json"}')
    cached, rescanned = _vuln(module, db)
    assert not cached and rescanned == newer
    assert _vuln(module, db) == (True, newer)


def test_what_the_tree_cannot_pin_is_never_cached(tmp_path: Path, vulndb: Path, cache_on: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    module = tmp_path / "mod"
    shutil.copytree(FIXTURES / "vuln_imported_not_called", module)
    exe = shutil.which("govulncheck")
    assert exe is not None
    db = vulndb.resolve().as_uri()
    args = ["-json", "-db", db, "./..."]
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    assert vulncache.key(exe, args, module, None, db, env) is not None

    gomod = module / "go.mod"
    plain = gomod.read_text()
    gomod.write_text(plain + "\nreplace golang.org/x/text => ../text\n")   # outside the tree
    assert vulncache.key(exe, args, module, None, db, env) is None
    gomod.write_text(plain)
    assert vulncache.key(exe, args, module, None, db, {**env, "GOFLAGS": "-mod=mod"}) is None
    (tmp_path / "go.work").write_text("go 1.22\n\nuse ./mod\n")
    assert vulncache.key(exe, args, module, None, db, env) is None
    (tmp_path / "go.work").unlink()
    assert vulncache.key(exe, args, module, None, db, {**env, "SCCHECK_RESULT_CACHE": "0"}) is None
    # another toolchain setting, another answer
    assert vulncache.key(exe, args, module, None, db, {**env, "GOARCH": "arm64"}) != \
        vulncache.key(exe, args, module, None, db, env)
