"""Predicates: in-toto test-result v0.1, the cosign vuln record, OpenVEX v0.2.0 — exact fields."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from supplychain.analyzers import CheckRequest, check
from supplychain.attest import testresult
from supplychain.attest.check import write_check_predicates
from supplychain.attest.openvex import openvex_predicate
from supplychain.attest.vuln import vuln_predicate, vuln_report
from tests.analyzers.conftest import FIXTURES


def test_test_result_for_each_tool(checked):
    race = checked("race_counter")
    pred = testresult.test_result_predicate(race, race.run("race"))
    gomod = (FIXTURES / "race_counter" / "go.mod").read_bytes()
    assert pred["result"] == "FAILED"
    assert pred["passedTests"] == ["sccheck.test/racecounter.TestTotalStartsAtZero"]
    assert pred["failedTests"] == ["data-race sccheck.test/racecounter.TestAddConcurrently counter.go:11"]
    assert pred["warnedTests"] == []
    assert pred["configuration"][0] == {"name": "go.mod",
                                        "digest": {"sha256": hashlib.sha256(gomod).hexdigest()}}
    tool = pred["configuration"][1]
    assert (tool["name"], tool["uri"]) == ("race", "https://go.dev/doc/articles/race_detector")
    assert tool["annotations"]["command"] == "go test -race -vet=off -json -fullpath ./..."
    assert tool["annotations"]["failOn"] == "medium"

    vet = checked("vet_printf")
    assert testresult.test_result_predicate(vet, vet.run("vet"))["failedTests"] == ["printf main.go:8:20"]
    clean = checked("clean")
    for tool_name in ("vet", "staticcheck", "race"):
        assert testresult.test_result_predicate(clean, clean.run(tool_name))["result"] == "PASSED"


def test_vuln_record_follows_the_cosign_vuln_v1_shape(checked, vulndb):
    result = checked("vuln_called")
    record = vuln_predicate(result)
    assert set(record) == {"invocation", "scanner", "metadata"}
    assert record["invocation"] == {"parameters": ["-json", "-db", vulndb.resolve().as_uri(), "./..."],
                                    "uri": "", "event_id": "", "builder.id": ""}
    scanner = record["scanner"]
    assert (scanner["uri"], scanner["version"]) == ("pkg:golang/golang.org/x/vuln@v1.9.0", "v1.9.0")
    db_modified = json.loads((vulndb / "index" / "db.json").read_text())["modified"]
    assert scanner["db"] == {"uri": vulndb.resolve().as_uri(), "version": db_modified}
    body = scanner["result"]
    assert body["format"] == "https://sccheck.dev/check/govulncheck-result/v1"
    assert (body["mode"], body["module"], body["scanLevel"]) == (
        "source", "sccheck.test/vulncalled", "symbol")
    assert body["summary"] == {"total": 4, "reachable": 1, "unreachable": 3,
                               "suppressed": 0}
    first = dict(body["vulnerabilities"][0])
    assert re.fullmatch(r"[0-9a-f]{32}", first.pop("fingerprint"))
    assert first.pop("suppressed") is None
    assert first == {
        "id": "GO-2021-0113", "aliases": ["CVE-2021-38561", "GHSA-ppp9-7jff-5vj2"],
        "summary": "Out-of-bounds read in golang.org/x/text/language",
        "module": "golang.org/x/text", "version": "v0.3.6", "fixedVersion": "v0.3.7",
        "scanLevel": "symbol", "reachable": True, "symbols": ["language.Parse"],
        "trace": ["golang.org/x/text/language.Parse (language/parse.go:33)",
                  "sccheck.test/vulncalled.main (main.go:13)"],
        "severity": "high", "location": "main.go:13:28", "url": "https://pkg.go.dev/vuln/GO-2021-0113"}
    assert record["metadata"] == {"scanStartedOn": result.started, "scanFinishedOn": result.finished}


def test_openvex_marks_unreachable_vulns_not_affected(checked):
    doc = openvex_predicate(checked("vuln_imported_not_called"))
    assert doc["@context"] == "https://openvex.dev/ns/v0.2.0"
    assert doc["@id"].startswith("https://sccheck.dev/vex/")
    assert (doc["author"], doc["version"]) == ("sccheck", 1)
    rows = [(s["vulnerability"]["name"], s["status"], s.get("justification")) for s in doc["statements"]]
    assert rows == [
        ("GO-2021-0113", "not_affected", "vulnerable_code_not_in_execute_path"),
        ("GO-2022-1059", "not_affected", "vulnerable_code_not_in_execute_path"),
        ("GO-2026-5970", "not_affected", "vulnerable_code_not_in_execute_path"),
        ("GO-2026-6629", "not_affected", "vulnerable_code_not_in_execute_path"),
    ]
    first = doc["statements"][0]
    assert first["vulnerability"] == {"@id": "https://pkg.go.dev/vuln/GO-2021-0113", "name": "GO-2021-0113",
                                      "aliases": ["CVE-2021-38561", "GHSA-ppp9-7jff-5vj2"]}
    assert first["products"] == [{"@id": "pkg:golang/sccheck.test/vulnnotcalled",
                                  "subcomponents": [{"@id": "pkg:golang/golang.org/x/text@v0.3.6"}]}]


def test_openvex_marks_the_called_vuln_affected(checked):
    doc = openvex_predicate(checked("vuln_called"), product="registry.example/app@sha256:" + "0" * 64)
    called = doc["statements"][0]
    assert (called["vulnerability"]["name"], called["status"]) == ("GO-2021-0113", "affected")
    assert called["action_statement"] == "upgrade golang.org/x/text to v0.3.7 or later"
    assert "justification" not in called
    assert called["products"][0]["@id"] == "registry.example/app@sha256:" + "0" * 64
    assert [s["status"] for s in doc["statements"][1:]] == ["not_affected"] * 3


def test_binary_mode_vex_says_code_not_present(vuln_binary, vulndb):
    result = check(CheckRequest(path=vuln_binary, vuln_db=str(vulndb)))
    doc = openvex_predicate(result)
    assert [(s["status"], s.get("justification")) for s in doc["statements"]] == [
        ("affected", None), ("not_affected", "vulnerable_code_not_present"),
        ("not_affected", "vulnerable_code_not_present"), ("not_affected", "vulnerable_code_not_present")]
    assert doc["statements"][0]["products"][0]["@id"] == "pkg:golang/sccheck.test/vulncalled"


def test_write_all_writes_every_predicate_and_an_index(checked, tmp_path):
    result = checked("vuln_called")
    paths = [Path(p) for p in write_check_predicates(result, tmp_path / "preds").outputs]
    assert sorted(p.name for p in paths) == sorted([
        "test-result-vet.json", "test-result-staticcheck.json", "test-result-race.json",
        "vuln.json", "openvex.json", "predicates.json"])
    index = json.loads((tmp_path / "preds" / "predicates.json").read_text())
    assert index["predicates"] == [
        {"file": "vuln.json", "predicateType": "https://cosign.sigstore.dev/attestation/vuln/v1"},
        {"file": "test-result-vet.json", "predicateType": "https://in-toto.io/attestation/test-result/v0.1"},
        {"file": "test-result-staticcheck.json",
         "predicateType": "https://in-toto.io/attestation/test-result/v0.1"},
        {"file": "test-result-race.json", "predicateType": "https://in-toto.io/attestation/test-result/v0.1"},
        {"file": "openvex.json", "predicateType": "https://openvex.dev/ns/v0.2.0"},
    ]
    assert json.loads((tmp_path / "preds" / "vuln.json").read_text()) == vuln_predicate(result)


def test_the_readers_read_what_the_builders_write(checked):
    """The policy's readers and the producers share one module per predicate: every finding the
    vulnerability record carries comes back with its id and severity, and a failing test result
    reads as failing."""
    result = checked("vuln_called")
    report = vuln_report(vuln_predicate(result))
    written = vuln_predicate(result)["scanner"]["result"]["vulnerabilities"]
    assert [(f.id, f.severity) for f in report.findings] == [(v["id"], v["severity"]) for v in written]
    assert ("GO-2021-0113", "high") in [(f.id, f.severity) for f in report.findings]
    assert report.scanned_at is not None
    race = checked("race_counter")
    assert testresult.test_failures(testresult.test_result_predicate(race, race.run("race")))
    clean = checked("clean")
    assert testresult.test_failures(testresult.test_result_predicate(clean, clean.run("vet"))) == []
