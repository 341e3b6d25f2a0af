"""Each fixture module checked by the real go vet, staticcheck, govulncheck and race tests:
the exact findings, reachability and exit verdicts."""

from __future__ import annotations

from pathlib import Path

from supplychain.analyzers import CheckRequest, Location, Severity, check
from supplychain.analyzers.model import TestOutcome as Outcome


def _rows(result):
    return [(f.tool, f.rule, f.severity, str(f.location)) for f in result.findings]


def test_clean_module_has_no_findings_and_passes(checked):
    result = checked("clean")
    assert result.findings == ()
    assert [(r.tool, r.status) for r in result.tools] == [
        ("vet", "ok"), ("staticcheck", "ok"), ("vuln", "ok"), ("race", "ok")]
    assert result.run("race").output.tests == Outcome(passed=("sccheck.test/clean.TestSum",))
    assert result.exit_code == 0


def test_example_hello_is_clean(checked):
    result = checked("hello")
    assert result.findings == ()
    assert result.run("race").output.tests.passed == (
        "github.com/sccheck/examples/hello.TestGreetDefaultsToWorld",
        "github.com/sccheck/examples/hello.TestHandlerGreetsByName")
    assert result.exit_code == 0


def test_vet_reports_printf_mismatch(checked):
    result = checked("vet_printf")
    assert _rows(result) == [
        ("vet", "printf", Severity.HIGH, "main.go:8:20"),
        ("staticcheck", "SA5009", Severity.HIGH, "main.go:8:13"),
    ]
    vet = result.findings[0]
    assert vet.message == "fmt.Printf format %d has arg name of wrong type string"
    assert vet.location == Location(path="main.go", line=8, column=20, end_line=8, end_column=22)
    assert result.exit_code == 1


def test_staticcheck_reports_unused_value(checked):
    result = checked("staticcheck_unused_value")
    assert _rows(result) == [("staticcheck", "SA4006", Severity.HIGH, "main.go:11:2")]
    assert result.findings[0].message == "this value of out is never used"
    assert result.exit_code == 1


def test_race_test_reports_data_race_and_the_failed_test(checked):
    result = checked("race_counter")
    assert _rows(result) == [("race", "data-race", Severity.HIGH, "counter.go:11")]
    race = result.findings[0]
    assert race.test == "sccheck.test/racecounter.TestAddConcurrently"
    assert race.message.startswith("data race during sccheck.test/racecounter.TestAddConcurrently: ")
    assert race.message.count("at counter.go:11 in sccheck.test/racecounter.(*Counter).Add") == 2
    assert result.run("race").output.tests == Outcome(
        passed=("sccheck.test/racecounter.TestTotalStartsAtZero",),
        failed=("sccheck.test/racecounter.TestAddConcurrently",))
    assert result.exit_code == 1


TEXT_VULNS = {  # id -> (aliases, fixed version) from the real OSV records in vulndb-src/
    "GO-2021-0113": (("CVE-2021-38561", "GHSA-ppp9-7jff-5vj2"), "v0.3.7"),
    "GO-2022-1059": (("CVE-2022-32149", "GHSA-69ch-w2m2-3vjp"), "v0.3.8"),
    "GO-2026-5970": (("CVE-2026-56852",), "v0.39.0"),
    "GO-2026-6629": (("CVE-2026-56851",), "v0.41.0"),
}


def _vulns(result):
    return {f.rule: (f.vulnerability.aliases, f.vulnerability.fixed_version,
                     f.vulnerability.scan_level, f.vulnerability.reachable, f.severity,
                     str(f.location)) for f in result.findings}


def test_vulnerable_symbol_called_is_reachable(checked):
    result = checked("vuln_called")
    assert _vulns(result) == {
        "GO-2021-0113": (*TEXT_VULNS["GO-2021-0113"], "symbol", True, Severity.HIGH, "main.go:13:28"),
        "GO-2022-1059": (*TEXT_VULNS["GO-2022-1059"], "package", False, Severity.LOW, "go.mod:5"),
        "GO-2026-5970": (*TEXT_VULNS["GO-2026-5970"], "module", False, Severity.INFO, "go.mod:5"),
        "GO-2026-6629": (*TEXT_VULNS["GO-2026-6629"], "module", False, Severity.INFO, "go.mod:5"),
    }
    reached = result.findings[0].vulnerability
    assert reached.id == "GO-2021-0113"
    assert (reached.module, reached.version) == ("golang.org/x/text", "v0.3.6")
    assert reached.symbols == ("language.Parse",)
    assert reached.trace == ("golang.org/x/text/language.Parse (language/parse.go:33)",
                             "sccheck.test/vulncalled.main (main.go:13)")
    assert [r.tool for r in result.tools if r.findings] == ["vuln"]
    assert result.exit_code == 1


def test_vulnerable_package_imported_but_symbol_not_called_is_unreachable(checked):
    result = checked("vuln_imported_not_called")
    assert _vulns(result) == {
        "GO-2021-0113": (*TEXT_VULNS["GO-2021-0113"], "package", False, Severity.LOW, "go.mod:5"),
        "GO-2022-1059": (*TEXT_VULNS["GO-2022-1059"], "package", False, Severity.LOW, "go.mod:5"),
        "GO-2026-5970": (*TEXT_VULNS["GO-2026-5970"], "module", False, Severity.INFO, "go.mod:5"),
        "GO-2026-6629": (*TEXT_VULNS["GO-2026-6629"], "module", False, Severity.INFO, "go.mod:5"),
    }
    assert result.exit_code == 0  # nothing reachable: below the default threshold (medium)


def test_binary_mode_finds_the_linked_vulnerable_symbol(vuln_binary: Path, vulndb: Path):
    result = check(CheckRequest(path=vuln_binary, vuln_db=vulndb.as_uri()))
    assert result.mode == "binary"
    assert [(r.tool, r.status) for r in result.tools] == [
        ("vuln", "ok"), ("vet", "skipped"), ("staticcheck", "skipped"), ("race", "skipped")]
    assert _vulns(result) == {
        "GO-2021-0113": (*TEXT_VULNS["GO-2021-0113"], "symbol", True, Severity.HIGH, "vulncalled"),
        "GO-2022-1059": (*TEXT_VULNS["GO-2022-1059"], "package", False, Severity.LOW, "vulncalled"),
        "GO-2026-5970": (*TEXT_VULNS["GO-2026-5970"], "module", False, Severity.INFO, "vulncalled"),
        "GO-2026-6629": (*TEXT_VULNS["GO-2026-6629"], "module", False, Severity.INFO, "vulncalled"),
    }
    assert result.findings[0].vulnerability.symbols == ("language.Parse",)
    assert result.run("vuln").output.facts["scan_mode"] == "binary"
    assert result.exit_code == 1
