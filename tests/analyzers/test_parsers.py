"""Unit tests of the parsers on recorded tool output (the integration tests run the real tools)."""

from __future__ import annotations

from pathlib import Path

from supplychain.analyzers import govet, govulncheck, racetest, staticcheck
from supplychain.analyzers.base import ToolContext
from supplychain.analyzers.model import Location, Severity

CTX = ToolContext(root=Path("/src/mod"))

VET_TWO_PACKAGES = """# example.com/a
{
\t"example.com/a": {
\t\t"printf": [{"posn": "/src/mod/a/a.go:3:4", "end": "/src/mod/a/a.go:3:9", "message": "bad verb"}]
\t}
}
{}
{"example.com/b": {"copylocks": [{"posn": "/src/mod/b/b.go:10:1", "message": "passes lock by value"}],
 "broken": {"error": "analysis failed"}}}
"""


def test_vet_stream_of_packages():
    findings = govet.parse(VET_TWO_PACKAGES, CTX)
    assert [(f.rule, str(f.location), f.message) for f in findings] == [
        ("printf", "a/a.go:3:4", "bad verb"), ("copylocks", "b/b.go:10:1", "passes lock by value")]
    assert findings[0].location == Location("a/a.go", 3, 4, 3, 9)


def test_vet_stream_with_the_go_commands_download_lines():
    """On a cold module cache `go vet` prints `go: downloading ...` on the stream it writes JSON
    to (seen on github.com/rakyll/hey and filippo.io/mkcert): those lines are not JSON."""
    text = ("go: downloading golang.org/x/net v0.0.0-20181017193950-04a2e542c03f\n"
            "go: downloading golang.org/x/text v0.3.0\n" + VET_TWO_PACKAGES)
    assert [f.rule for f in govet.parse(text, CTX)] == ["printf", "copylocks"]


def test_staticcheck_compile_error_is_separated_and_style_is_low():
    text = ('{"code":"compile","severity":"error","location":{"file":"","line":0,"column":0},'
            '"end":{"file":"","line":0,"column":0},"message":"# b\\n./b.go:3:23: cannot use"}\n'
            '{"code":"S1000","severity":"error","location":{"file":"/src/mod/x.go","line":2,"column":1},'
            '"end":{"file":"/src/mod/x.go","line":2,"column":5},"message":"use plain channel send"}\n')
    findings, compile_errors = staticcheck.parse(text, CTX)
    assert compile_errors == ["# b\n./b.go:3:23: cannot use"]
    assert [(f.rule, f.severity, str(f.location)) for f in findings] == [("S1000", Severity.LOW, "x.go:2:1")]


def test_govulncheck_keeps_the_deepest_level_per_osv():
    text = """
{"config":{"protocol_version":"v1.0.0","scanner_version":"v1.9.0","db":"file:///db","scan_mode":"source"}}
{"SBOM":{"roots":["example.com/app"],"modules":[{"path":"example.com/app"},{"path":"m.io/x","version":"v1.0.0"}]}}
{"osv":{"id":"GO-1","aliases":["CVE-1"],"summary":"bad"}}
{"finding":{"osv":"GO-1","fixed_version":"v1.1.0","trace":[{"module":"m.io/x","version":"v1.0.0"}]}}
{"finding":{"osv":"GO-1","fixed_version":"v1.1.0","trace":[{"module":"m.io/x","version":"v1.0.0","package":"m.io/x/p","function":"Do","receiver":"*T"},{"module":"example.com/app","package":"example.com/app","function":"main","position":{"filename":"cmd/app.go","line":7,"column":3}}]}}
{"finding":{"osv":"GO-1","fixed_version":"v1.1.0","trace":[{"module":"m.io/x","version":"v1.0.0","package":"m.io/x/p"}]}}
"""
    findings, facts = govulncheck.parse(text, CTX)
    (f,) = findings
    assert f.vulnerability.scan_level == "symbol"
    assert f.vulnerability.symbols == ("p.T.Do",)
    assert f.location == Location("cmd/app.go", 7, 3)
    assert f.severity is Severity.HIGH
    assert facts["db"] == "file:///db"


def test_race_report_outside_a_test_and_plain_test_failure():
    lines = [
        '{"Action":"output","Package":"m/p","Test":"TestA","Output":"    a_test.go:5: want 1\\n"}',
        '{"Action":"fail","Package":"m/p","Test":"TestA"}',
        '{"Action":"output","Package":"m/p","Output":"WARNING: DATA RACE\\n"}',
        '{"Action":"output","Package":"m/p","Output":"Write at 0x1 by goroutine 7:\\n"}',
        '{"Action":"output","Package":"m/p","Output":"  m/p.f()\\n"}',
        '{"Action":"output","Package":"m/p","Output":"      /src/mod/p/p.go:9 +0x1\\n"}',
        '{"Action":"output","Package":"m/p","Output":"==================\\n"}',
        '{"Action":"fail","Package":"m/p"}',
    ]
    findings, outcome, broken = racetest.parse("\n".join(lines), CTX)
    assert [(f.rule, f.test, str(f.location)) for f in findings] == [
        ("data-race", "m/p", "p/p.go:9"), ("test-failed", "m/p.TestA", "None")]
    assert findings[1].message == "m/p.TestA failed: a_test.go:5: want 1"
    assert outcome.failed == ("m/p.TestA",)
    assert broken == []


def test_vuln_db_argument_forms(vulndb, tmp_path):
    import pytest

    from supplychain.errors import UsageError

    assert govulncheck.normalize_db(None) == "https://vuln.go.dev"
    assert govulncheck.normalize_db("https://vuln.example/") == "https://vuln.example"
    assert govulncheck.normalize_db(str(vulndb)) == vulndb.resolve().as_uri()
    assert govulncheck.normalize_db(vulndb.as_uri()) == vulndb.resolve().as_uri()
    with pytest.raises(UsageError, match="is not a Go vulnerability database"):
        govulncheck.normalize_db(tmp_path.as_uri())
    with pytest.raises(UsageError, match="unsupported vulnerability database"):
        govulncheck.normalize_db("ftp://vuln.example")
