"""Gates people can live with: rule severities by meaning, suppressions (sccheck.yaml, baseline,
//lint:ignore), test flags and test failures that say why — on real fixtures and the real tools."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import jsonschema
import pytest

from supplychain.analyzers import Severity, sarif
from supplychain.analyzers.rules import SeverityMap, staticcheck_severity, vet_severity
from supplychain.analyzers.suppress import SuppressRule, apply, fingerprint_all
from supplychain.attest import testresult
from tests.analyzers.conftest import FIXTURES

SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"


def _rows(result):
    return [(f.tool, f.rule, f.severity, str(f.location), f.suppressed.kind if f.suppressed else None)
            for f in result.findings]


def test_staticcheck_rule_classes_get_their_documented_severity(checked):
    result = checked("staticcheck_classes")
    assert _rows(result) == [
        ("staticcheck", "SA1019", Severity.LOW, "main.go:9:2", None),
        ("staticcheck", "S1002", Severity.LOW, "main.go:18:5", None),
        ("staticcheck", "U1000", Severity.LOW, "main.go:24:6", None),
        ("staticcheck", "ST1005", Severity.INFO, "main.go:26:14", None),
        ("staticcheck", "ST1005", Severity.INFO, "main.go:26:14", None),
        ("staticcheck", "SA4006", Severity.HIGH, "main.go:31:2", "inSource"),
    ]
    ignored = result.findings[-1]
    assert ignored.suppressed.justification == "the count is reset on purpose in this demo"
    # a deprecation alone never fails the default gate, and the silenced bug does not count
    assert result.failing == () and result.exit_code == 0


def test_vet_severity_follows_the_analyzer(checked):
    result = checked("vet_classes")
    assert _rows(result) == [
        ("vet", "structtag", Severity.MEDIUM, "main.go:16:2", None),
        ("vet", "copylocks", Severity.HIGH, "main.go:19:13", None),
        ("vet", "copylocks", Severity.HIGH, "main.go:27:19", None),
    ]
    assert result.exit_code == 1


def test_severity_table_and_project_mapping() -> None:
    assert [staticcheck_severity(c) for c in ("SA1019", "SA1012", "SA2000", "SA3000", "SA4006",
                                              "SA5009", "SA6002", "SA9003", "S1002", "ST1005",
                                              "QF1001", "U1000", "XX1")] == [
        Severity.LOW, Severity.HIGH, Severity.HIGH, Severity.MEDIUM, Severity.HIGH, Severity.HIGH,
        Severity.LOW, Severity.MEDIUM, Severity.LOW, Severity.INFO, Severity.INFO, Severity.LOW,
        Severity.MEDIUM]
    assert (vet_severity("printf"), vet_severity("loopclosure"), vet_severity("composites")) == (
        Severity.HIGH, Severity.HIGH, Severity.MEDIUM)
    mapping = SeverityMap((("SA*", Severity.LOW), ("SA4006", Severity.CRITICAL),
                           ("vet:print*", Severity.INFO)))
    assert mapping.lookup("staticcheck", "SA4006") == Severity.CRITICAL   # exact beats glob
    assert mapping.lookup("staticcheck", "SA5009") == Severity.LOW
    assert mapping.lookup("vet", "printf") == Severity.INFO
    assert mapping.lookup("staticcheck", "printf") is None                # prefix names the tool
    assert mapping.lookup("vet", "copylocks") is None


def test_fingerprints_ignore_line_moves_but_not_edits(checked, tmp_path: Path) -> None:
    base = checked("staticcheck_classes")
    module = tmp_path / "m"
    shutil.copytree(FIXTURES / "staticcheck_classes", module)
    text = (module / "main.go").read_text()
    moved = text.replace("import (", "// two lines\n// pushed in\nimport (", 1)
    (module / "main.go").write_text(moved)
    shifted = [f.__class__(**{**f.__dict__, "location": f.location.__class__(
        path=f.location.path, line=f.location.line + 2, column=f.location.column)})
        for f in base.findings]
    again = fingerprint_all([f.__class__(**{**f.__dict__, "fingerprint": ""}) for f in shifted], module)
    assert [f.fingerprint for f in again] == [f.fingerprint for f in base.findings]
    (module / "main.go").write_text(moved.replace("ioutil.ReadFile(name)", "ioutil.ReadFile(name + \"\")"))
    edited = fingerprint_all([f.__class__(**{**f.__dict__, "fingerprint": ""}) for f in shifted], module)
    assert edited[0].fingerprint == base.findings[0].fingerprint        # the import line is unchanged
    # the two ST1005 findings on one line differ by message; equal findings get #2
    assert len({f.fingerprint for f in base.findings}) == len(base.findings)


def test_suppression_forms_rule_path_fingerprint_and_expiry(checked) -> None:
    findings = list(checked("vet_classes").findings)
    today = dt.date(2026, 12, 1)
    copy_call = findings[2]
    rules = [
        SuppressRule(reason="tags are read by hand", rule="vet:struct*"),
        SuppressRule(reason="legacy package", path="*.go", rule="copylocks",
                     expires=dt.date(2026, 11, 30)),                       # expired yesterday
        SuppressRule(reason="this one call is fine", fingerprint=copy_call.fingerprint),
        SuppressRule(reason="nothing matches this", rule="SA9*"),
    ]
    marked, notes = apply(findings, rules, None, today=today)
    kinds = [(f.rule, f.suppressed.justification if f.suppressed else None) for f in marked]
    assert kinds == [("structtag", "tags are read by hand"), ("copylocks", None),
                     ("copylocks", "this one call is fine")]
    assert all(f.suppressed.kind == "external" for f in marked if f.suppressed)
    assert notes == [
        "the suppression sccheck.yaml (rule copylocks, path *.go) expired on 2026-11-30: 2 "
        "finding(s) count again (reason was: legacy package)",
        "the suppression sccheck.yaml (rule SA9*) matched no finding; remove it if the code was fixed"]
    # the same rule before its expiry date (inclusive) suppresses both copylocks findings
    marked, _ = apply(findings, rules, None, today=dt.date(2026, 11, 30))
    assert [f.suppressed.justification if f.suppressed else None for f in marked] == [
        "tags are read by hand", "legacy package", "legacy package"]


def _write(module: Path, text: str) -> None:
    (module / "sccheck.yaml").write_text(text)


def test_suppressions_from_sccheck_yaml_reach_sarif_and_predicates(sccheck, tmp_path: Path,
                                                                   checked) -> None:
    module = tmp_path / "vet"
    shutil.copytree(FIXTURES / "vet_classes", module)
    fp = checked("vet_classes").findings[2].fingerprint
    _write(module, "check:\n  only: [vet]\n  suppress:\n"
                   "    - {rule: structtag, reason: tags are read by hand, expires: 2999-01-01}\n"
                   f"    - {{fingerprint: {fp}, reason: this call is fine}}\n"
                   "    - {path: 'other/*', reason: generated code}\n"
                   "    - {rule: copylocks, reason: was accepted, expires: 2020-01-01}\n")
    out = tmp_path / "out"
    proc = sccheck("--json", "check", str(module), "--sarif", str(out / "r.sarif"),
                   "--predicates-dir", str(out))
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1, proc.stderr
    by_rule = {(f["rule"], f["location"]["line"]): f for f in doc["findings"]}
    assert by_rule[("structtag", 16)]["suppressed"]["justification"] == "tags are read by hand"
    assert by_rule[("copylocks", 27)]["suppressed"]["source"] == "sccheck.yaml check.suppress[1]"
    assert by_rule[("copylocks", 19)]["suppressed"] is None and by_rule[("copylocks", 19)]["fails"]
    assert doc["suppressed"] == 2
    assert any("check.suppress[3] (rule copylocks) expired on 2020-01-01" in n for n in doc["notes"])
    assert any("check.suppress[2] (path other/*) matched no finding" in n for n in doc["notes"])
    report = json.loads((out / "r.sarif").read_text())
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    results = report["runs"][0]["results"]
    assert [r.get("suppressions") for r in results] == [
        [{"kind": "external", "status": "accepted", "justification": "tags are read by hand",
          "properties": {"source": "sccheck.yaml check.suppress[0]", "expires": "2999-01-01"}}],
        None,
        [{"kind": "external", "status": "accepted", "justification": "this call is fine",
          "properties": {"source": "sccheck.yaml check.suppress[1]"}}]]
    test_result = json.loads((out / "test-result-vet.json").read_text())
    assert test_result["failedTests"] == ["copylocks main.go:19:13"]
    assert test_result["warnedTests"] == [
        "structtag main.go:16:2 (suppressed: tags are read by hand)",
        "copylocks main.go:27:19 (suppressed: this call is fine)"]
    noted = test_result["configuration"][1]["annotations"]["suppressed"]
    assert [(s["rule"], s["kind"], s["fingerprint"]) for s in noted] == [
        ("structtag", "external", by_rule[("structtag", 16)]["fingerprint"]),
        ("copylocks", "external", fp)]
    assert "expired on 2020-01-01" in proc.stderr or "expired on 2020-01-01" in proc.stdout


def test_in_source_suppression_is_marked_in_sarif(checked) -> None:
    report = sarif.to_sarif(checked("staticcheck_classes"))
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    results = {r["ruleId"]: r for run in report["runs"] for r in run["results"]}
    assert results["SA4006"]["suppressions"] == [
        {"kind": "inSource", "status": "accepted",
         "justification": "the count is reset on purpose in this demo",
         "properties": {"source": "//lint:ignore directive"}}]
    assert "suppressions" not in results["SA1019"]


def test_suppressed_vulnerability_is_marked_in_the_vuln_predicate(sccheck, vulndb, tmp_path: Path) -> None:
    module = tmp_path / "v"
    shutil.copytree(FIXTURES / "vuln_called", module)
    _write(module, "check:\n  only: [vuln]\n  suppress:\n"
                   "    - {rule: GO-2021-0113, reason: input is never user-controlled,"
                   " expires: 2999-12-31}\n")
    out = tmp_path / "out"
    proc = sccheck("--json", "check", str(module), "--vuln-db", str(vulndb), "--predicates-dir", str(out))
    assert proc.returncode == 0, proc.stdout   # the one reachable (high) vulnerability is accepted
    record = json.loads((out / "vuln.json").read_text())["scanner"]["result"]
    marks = {v["id"]: v["suppressed"] for v in record["vulnerabilities"]}
    assert marks["GO-2021-0113"] == {"kind": "external", "justification": "input is never user-controlled",
                                     "source": "sccheck.yaml check.suppress[0]", "expires": "2999-12-31"}
    assert [k for k, v in marks.items() if v] == ["GO-2021-0113"]
    assert record["summary"]["suppressed"] == 1


def test_baseline_round_trip_blocks_only_new_findings(sccheck, tmp_path: Path) -> None:
    module = tmp_path / "old"
    shutil.copytree(FIXTURES / "vet_classes", module)
    baseline = tmp_path / "baseline.json"
    wrote = sccheck("--json", "check", str(module), "--only", "vet,staticcheck",
                    "--write-baseline", str(baseline))
    assert wrote.returncode == 0, wrote.stdout
    doc = json.loads(baseline.read_text())
    assert doc["format"] == "https://sccheck.dev/check/baseline/v1"
    assert [(e["rule"], e["path"]) for e in doc["findings"]] == [
        ("copylocks", "main.go"), ("copylocks", "main.go"), ("structtag", "main.go")]
    # the old code moves down two lines and a new bug arrives in a new file
    main = module / "main.go"
    main.write_text(main.read_text().replace("package main\n", "package main\n\n// moved\n", 1))
    (module / "more.go").write_text('package main\n\nimport "fmt"\n\nfunc more() { fmt.Printf("%d", "x") }\n')
    again = sccheck("--json", "check", str(module), "--only", "vet,staticcheck", "--baseline", str(baseline))
    result = json.loads(again.stdout)
    assert again.returncode == 1
    failing = [(f["rule"], f["location"]["path"]) for f in result["findings"] if f["fails"]]
    assert ("printf", "more.go") in failing
    assert all(path == "more.go" for _, path in failing)
    known = [f for f in result["findings"] if f["suppressed"]]
    assert len(known) == 3
    assert {f["suppressed"]["source"] for f in known} == {f"baseline {baseline}"}
    assert any("3 known finding(s) not counted" in n for n in result["notes"])
    # the same baseline named in sccheck.yaml (relative to the file)
    shutil.copy(baseline, module / ".sccheck-baseline.json")
    _write(module, "check:\n  only: [vet, staticcheck]\n  baseline: .sccheck-baseline.json\n")
    from_file = json.loads(sccheck("--json", "check", str(module)).stdout)
    assert sum(1 for f in from_file["findings"] if f["suppressed"]) == 3


def test_bad_baseline_and_suppression_are_usage_errors(sccheck, tmp_path: Path) -> None:
    bad = tmp_path / "b.json"
    bad.write_text('{"findings": []}')
    proc = sccheck("check", str(FIXTURES / "clean"), "--only", "vet", "--baseline", str(bad))
    assert proc.returncode == 2
    assert "is not an sccheck baseline" in proc.stderr
    module = tmp_path / "m"
    shutil.copytree(FIXTURES / "clean", module)
    _write(module, "check:\n  suppress:\n    - {rule: SA1019}\n")
    proc = sccheck("check", str(module))
    assert proc.returncode == 2
    assert "$.check.suppress[0].reason: is missing" in proc.stderr
    _write(module, "check:\n  suppress:\n    - {reason: why}\n")
    assert "says nothing about which findings it accepts" in sccheck("check", str(module)).stderr
    _write(module, "check:\n  severities: {SA1019: huge}\n")
    proc = sccheck("check", str(module))
    assert proc.returncode == 2 and "$.check.severities.SA1019: unknown severity" in proc.stderr


def test_severities_from_sccheck_yaml(sccheck, tmp_path: Path) -> None:
    module = tmp_path / "m"
    shutil.copytree(FIXTURES / "staticcheck_classes", module)
    _write(module, "check:\n  only: [staticcheck]\n  severities:\n    SA1019: high\n    'ST*': medium\n")
    proc = sccheck("--json", "check", str(module))
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert {(f["rule"], f["severity"]) for f in doc["findings"] if f["fails"]} == {
        ("SA1019", "high"), ("ST1005", "medium")}


# --- tests: flags, pre-test command, failures that say why -------------------------------------

def test_test_failures_carry_the_tests_own_output_and_place(checked) -> None:
    result = checked("test_failures")
    race = result.run("race")
    assert race.status == "ok"
    rows = [(f.test.rsplit(".", 1)[1], str(f.location)) for f in result.findings]
    assert rows == [("TestMustPanics", "internal/must/must.go:7"),
                    ("TestPairSplitsOnEquals", "internal/parse/parse_test.go:9"),
                    ("TestTable/y=2", "internal/parse/parse_test.go:17"),
                    ("TestSlow", "internal/parse/parse_test.go:27"),
                    ("test/testfailures/internal/setup", "internal/setup/setup_test.go:9")]
    panic, pair, table, slow, setup = result.findings
    assert setup.message == ("the tests of sccheck.test/testfailures/internal/setup failed at "
                             "internal/setup/setup_test.go:9: setup: cannot reach the test database at "
                             "postgres://127.0.0.1:1/test")
    assert setup.details == ("setup: cannot reach the test database at postgres://127.0.0.1:1/test",)
    assert pair.message == ('sccheck.test/testfailures/internal/parse.TestPairSplitsOnEquals failed at '
                            'internal/parse/parse_test.go:9: Pair("a=b") = "a=b", ""; want "a", "b"')
    assert pair.details == ("    internal/parse/parse_test.go:6: parsing a=b",
                            '    internal/parse/parse_test.go:9: Pair("a=b") = "a=b", ""; want "a", "b"')
    assert table.message.endswith(
        'failed at internal/parse/parse_test.go:17: key of "y=2" is "y=2", want "y"')
    assert panic.message.endswith("failed at internal/must/must.go:7: panic: must: empty input "
                                  "[recovered, repanicked]")
    assert any(re.fullmatch(r"\tinternal/must/must_test.go:12 \+0x[0-9a-f]+", d) for d in panic.details)
    assert not any("/usr/" in d or "testing.go" in d for d in panic.details)
    assert slow.details == ("    internal/parse/parse_test.go:27: the slow test ran and failed",)
    assert "see go test output" not in " ".join(f.message for f in result.findings)
    assert all(f.location is not None for f in result.findings)
    report = sarif.to_sarif(result)
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for run in report["runs"] for r in run["results"]
            if run["tool"]["driver"]["name"] == "go test -race"]
    assert not any(u.endswith("go.mod") for u in uris) and uris[0].endswith("internal/must/must.go")


def test_short_run_count_and_packages_reach_go_test(sccheck, tmp_path: Path) -> None:
    proc = sccheck("--json", "check", str(FIXTURES / "test_failures"), "./internal/parse/...",
                   "--only", "race", "--short", "--run", "TestSlow|TestPair", "--count", "2",
                   "--timeout", "2m")
    doc = json.loads(proc.stdout)
    race = doc["tools"][0]
    assert race["command"] == ["go", "test", "-race", "-vet=off", "-json", "-fullpath", "-short",
                               "-timeout=2m", "-run=TestSlow|TestPair", "-count=2", "./internal/parse/..."]
    assert [f["test"] for f in doc["findings"]] == [
        "sccheck.test/testfailures/internal/parse.TestPairSplitsOnEquals"] * 2   # -count 2
    assert race["tests"]["skipped"] == ["sccheck.test/testfailures/internal/parse.TestSlow"] * 2
    assert proc.returncode == 1
    module = tmp_path / "tf"
    shutil.copytree(FIXTURES / "test_failures", module)
    _write(module, "check:\n  only: [race]\n  packages: [./internal/parse/...]\n"
                   "  tests: {short: true, run: TestSlow, count: 1, timeout: 90s}\n")
    from_file = json.loads(sccheck("--json", "check", str(module)).stdout)
    assert from_file["tools"][0]["command"][6:] == ["-short", "-timeout=90s", "-run=TestSlow", "-count=1",
                                                     "./internal/parse/..."]
    assert from_file["exit_code"] == 0        # TestSlow is skipped with -short
    bad = sccheck("check", str(FIXTURES / "test_failures"), "-x")
    assert bad.returncode == 2
    bad = sccheck("check", str(FIXTURES / "test_failures"), "--timeout", "soon")
    assert bad.returncode == 2 and "is not a Go duration" in bad.stderr


def _fixture_module(tmp_path: Path) -> Path:
    module = tmp_path / "needsfixture"
    (module / "testdata").mkdir(parents=True)
    (module / "go.mod").write_text("module sccheck.test/needsfixture\n\ngo 1.22\n")
    (module / "f.go").write_text("// Package needsfixture reads a generated file in its tests.\n"
                                 "package needsfixture\n")
    (module / "f_test.go").write_text(
        'package needsfixture\n\nimport (\n\t"os"\n\t"testing"\n)\n\n'
        'func TestGeneratedFixture(t *testing.T) {\n\tdata, err := os.ReadFile("testdata/generated.txt")\n'
        '\tif err != nil {\n\t\tt.Fatalf("fixture missing: %v", err)\n\t}\n'
        '\tif string(data) != "ok\\n" {\n\t\tt.Fatalf("fixture is %q", data)\n\t}\n}\n')
    return module


def test_pre_test_command_from_flag_and_sccheck_yaml(sccheck, tmp_path: Path) -> None:
    module = _fixture_module(tmp_path)
    without = sccheck("--json", "check", str(module), "--only", "race")
    assert without.returncode == 1
    finding = json.loads(without.stdout)["findings"][0]
    assert finding["location"] == {"path": "f_test.go", "line": 11, "column": 0, "end_line": 0,
                                   "end_column": 0}
    assert "fixture missing: open testdata/generated.txt: no such file or directory" in finding["message"]
    flag = sccheck("check", str(module), "--only", "race", "--pre-test", "echo ok > testdata/generated.txt")
    assert flag.returncode == 0, flag.stdout + flag.stderr
    (module / "testdata" / "generated.txt").unlink()
    _write(module, "check:\n  only: [race]\n  tests: {preTest: 'echo ok > testdata/generated.txt'}\n")
    assert sccheck("check", str(module)).returncode == 0
    _write(module, "check:\n  tests: {preTest: 'echo nope >&2; exit 4'}\n")
    failed = sccheck("check", str(module))
    assert failed.returncode == 3
    assert "the pre-test command failed: echo nope >&2; exit 4" in failed.stderr
    assert "exit status 4" in failed.stderr and "nope" in failed.stderr


@pytest.mark.parametrize("lines", [
    # -trimpath builds name files by module path
    ["Read at 0x00c000018258 by goroutine 8:", "  sccheck.test/m.(*C).Add()",
     "      sccheck.test/m/c.go:11 +0x7e", "",
     "Previous write at 0x00c000018258 by goroutine 7:", "  sccheck.test/m.(*C).Add()",
     "      sccheck.test/m/c.go:11 +0x90"],
])
def test_race_location_from_trimpath_frames(lines, tmp_path: Path) -> None:
    from supplychain.analyzers.base import ToolContext
    from supplychain.analyzers.racetest import parse

    ctx = ToolContext(root=tmp_path, module="sccheck.test/m")
    events = [{"Action": "output", "Package": "sccheck.test/m", "Test": "TestAdd", "Output": ln + "\n"}
              for ln in ["==================", "WARNING: DATA RACE", *lines, "=================="]]
    events.append({"Action": "fail", "Package": "sccheck.test/m", "Test": "TestAdd"})
    findings, _, _ = parse("\n".join(json.dumps(e) for e in events), ctx)
    assert [(f.rule, str(f.location)) for f in findings] == [("data-race", "c.go:11")]


def test_race_outside_the_module_points_at_where_the_goroutine_started(tmp_path: Path) -> None:
    from supplychain.analyzers.base import ToolContext
    from supplychain.analyzers.racetest import parse

    (tmp_path / "srv_test.go").write_text(
        "package m\n\nimport \"testing\"\n\nfunc TestServe(t *testing.T) {}\n")
    ctx = ToolContext(root=tmp_path, module="sccheck.test/m")
    report = ["Write at 0x1 by goroutine 9:", "  net/http.(*conn).serve()",
              "      /usr/local/go/src/net/http/server.go:2000 +0x1", "",
              "Previous read at 0x1 by goroutine 8:", "  net/http.(*conn).serve()",
              "      /usr/local/go/src/net/http/server.go:2010 +0x1", "",
              "Goroutine 9 (running) created at:", "  sccheck.test/m.start()",
              f"      {tmp_path}/srv.go:21 +0x1"]
    events = [{"Action": "output", "Package": "sccheck.test/m", "Test": "TestServe", "Output": ln + "\n"}
              for ln in ["==================", "WARNING: DATA RACE", *report, "=================="]]
    findings, _, _ = parse("\n".join(json.dumps(e) for e in events), ctx)
    assert str(findings[0].location) == "srv.go:21"
    findings, _, _ = parse("\n".join(json.dumps(e) for e in events[:9] + events[-1:]), ctx)
    assert str(findings[0].location) == "srv_test.go:5"       # no module frame: the test itself


def test_race_finding_in_sarif_points_at_the_racing_line(checked) -> None:
    report = sarif.to_sarif(checked("race_counter"))
    run = next(r for r in report["runs"] if r["tool"]["driver"]["name"] == "go test -race")
    loc = run["results"][0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"].endswith("race_counter/counter.go")
    assert loc["region"]["startLine"] == 11


def test_predicate_names_suppressed_findings(checked) -> None:
    result = checked("staticcheck_classes")
    pred = testresult.test_result_predicate(result, result.run("staticcheck"))
    assert pred["result"] == "WARNED" and pred["failedTests"] == []
    assert "SA4006 main.go:31:2 (suppressed: the count is reset on purpose in this demo)" \
        in pred["warnedTests"]
    noted = pred["configuration"][1]["annotations"]["suppressed"]
    assert re.fullmatch(r"[0-9a-f]{32}", noted[0]["fingerprint"])


def test_vulnerability_fingerprint_is_the_id_module_and_reachability(checked) -> None:
    """Seen on github.com/jpillora/chisel: govulncheck names the reached symbols in a different
    order from run to run, and a moved call site is no new vulnerability."""
    from dataclasses import replace

    vuln = next(f for f in checked("vuln_called").findings if f.rule == "GO-2021-0113")
    assert vuln.vulnerability.symbols == tuple(sorted(vuln.vulnerability.symbols))
    moved = replace(vuln, fingerprint="", message=vuln.message.replace("calls", "calls (again)"),
                    location=replace(vuln.location, line=vuln.location.line + 40))
    reachable_less = replace(moved, vulnerability=replace(vuln.vulnerability, scan_level="package"))
    again, other = fingerprint_all([moved, reachable_less], FIXTURES / "vuln_called")
    assert again.fingerprint == vuln.fingerprint
    assert other.fingerprint != vuln.fingerprint
