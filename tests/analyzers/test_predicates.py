"""Predicates: in-toto test-result v0.1, the cosign vuln record, OpenVEX v0.2.0 — exact fields."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

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
        # the module is required, the vulnerable package is not imported
        ("GO-2026-5970", "not_affected", "vulnerable_code_not_present"),
        ("GO-2026-6629", "not_affected", "vulnerable_code_not_present"),
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


def test_a_scan_with_nothing_to_state_gives_no_openvex_document(checked):
    """OpenVEX requires at least one statement: a clean scan attests no empty document."""
    assert checked("clean").run("vuln").status == "ok"
    assert openvex_predicate(checked("clean")) is None


def test_image_purl_is_what_scanners_match():
    from supplychain.attest.openvex import image_purl, module_purl

    digest = "sha256:" + "a" * 64
    from packageurl import PackageURL

    purl = PackageURL.from_string(image_purl("127.0.0.1:5000/team/hello", digest))
    assert (purl.type, purl.name, purl.version) == ("oci", "hello", digest)
    assert purl.qualifiers == {"repository_url": "127.0.0.1:5000/team/hello"}
    assert image_purl("ghcr.io/org/app:v1", digest).endswith("?repository_url=ghcr.io/org/app")
    assert module_purl("stdlib", "v1.26.8") == "pkg:golang/stdlib@1.26.8"
    assert module_purl("golang.org/x/text", "v0.3.6") == "pkg:golang/golang.org/x/text@v0.3.6"


def _vexcheck(doc, tmp_path, *queries):
    import subprocess

    from supplychain.tools import find_tool

    tool = find_tool("vexcheck")
    assert tool, "scripts/install-go-tools builds tools/vexcheck (the OpenVEX project's go-vex)"
    path = tmp_path / "vex.json"
    path.write_text(json.dumps(doc))
    proc = subprocess.run([tool, str(path), *[x for q in queries for x in q]], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("fixture", ["vuln_called", "vuln_imported_not_called"])
def test_go_vex_reads_our_openvex_as_a_scanner_would(checked, fixture, tmp_path):
    from supplychain.attest.openvex import image_purl

    product = image_purl("registry.example/team/app", "sha256:" + "b" * 64)
    doc = openvex_predicate(checked(fixture), product=product)
    text = "pkg:golang/golang.org/x/text@v0.3.6"
    out = _vexcheck(doc, tmp_path, ("GO-2021-0113", product, text), ("CVE-2021-38561", product, text),
                    ("GO-2021-0113", "pkg:oci/other@sha256%3A" + "c" * 64, text))
    assert out["errors"] == [] and out["statements"] == len(doc["statements"])
    want = "affected" if fixture == "vuln_called" else "not_affected"
    by_id, by_alias, other = out["matches"]
    assert by_id["statuses"] == [want]
    assert by_alias["statuses"] == [want]          # scanners that know the CVE id match too
    assert other["statuses"] == []                 # another image is not covered


def test_go_vex_refuses_what_we_must_not_write(tmp_path):
    """The judge can fail: no statements, or not_affected without a justification."""
    empty = {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://x.example/vex/1", "author": "t",
             "timestamp": "2026-01-01T00:00:00Z", "version": 1, "statements": []}
    assert _vexcheck(empty, tmp_path)["errors"]
    bad = {**empty, "statements": [{"vulnerability": {"name": "GO-1"}, "products": [{"@id": "pkg:oci/a"}],
                                    "status": "not_affected"}]}
    assert _vexcheck(bad, tmp_path)["errors"]
