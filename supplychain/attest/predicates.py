"""Predicate types by short name (`--type`), loading and shape checks of predicate files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from supplychain.errors import UsageError
from supplychain.strictdoc import load_json

SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
CYCLONEDX_BOM = "https://cyclonedx.org/bom"
COSIGN_VULN_V1 = "https://cosign.sigstore.dev/attestation/vuln/v1"
TEST_RESULT_V01 = "https://in-toto.io/attestation/test-result/v0.1"
SCCHECK_HARDEN_V1 = "https://sccheck.dev/attestation/harden/v1"

PREDICATE_TYPES = {
    "slsa": SLSA_PROVENANCE_V1,
    "sbom": CYCLONEDX_BOM,
    "vuln": COSIGN_VULN_V1,
    "test": TEST_RESULT_V01,
    "harden": SCCHECK_HARDEN_V1,
}
# What to pass to `cosign verify-attestation --type` for each.
COSIGN_TYPE_NAMES = {
    SLSA_PROVENANCE_V1: "slsaprovenance1",
    CYCLONEDX_BOM: "cyclonedx",
    COSIGN_VULN_V1: "vuln",
}
MAX_PREDICATE_BYTES = 16 * 1024 * 1024


def resolve_predicate_type(value: str) -> str:
    if value in PREDICATE_TYPES:
        return PREDICATE_TYPES[value]
    if value.startswith(("https://", "http://")) and len(value) < 512 and " " not in value:
        return value
    raise UsageError(f"unknown attestation type {value!r}",
                     expected=f"one of {', '.join(PREDICATE_TYPES)} or a predicate type URI",
                     fix="e.g. --type slsa, or --type https://example.com/my-predicate/v1")


def load_predicate(path: str | Path) -> dict[str, Any]:
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_PREDICATE_BYTES:
            raise UsageError(f"the predicate file {file} is too large",
                             expected=f"at most {MAX_PREDICATE_BYTES} bytes", found=f"{size} bytes")
        doc = load_json(file.read_bytes(), f"the predicate file {file}", error=UsageError)
    except OSError as exc:
        raise UsageError(f"cannot read the predicate file {file}: {exc.strerror}") from None
    except ValueError as exc:
        raise UsageError(f"the predicate file {file} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise UsageError(f"the predicate in {file} must be a JSON object", found=type(doc).__name__)
    return doc


def _need(doc: dict[str, Any], path: str, what: str) -> None:
    node: Any = doc
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise UsageError(f"the {what} predicate lacks {path!r}",
                             fix=f"see docs/signing.md for the shape of a {what} predicate")
        node = node[part]


def validate_predicate(predicate_type: str, doc: dict[str, Any]) -> None:
    """Shape checks for the predicate types sccheck knows; other URIs pass as they are."""
    if predicate_type == SLSA_PROVENANCE_V1:
        _need(doc, "buildDefinition.buildType", "SLSA provenance v1")
        _need(doc, "buildDefinition.externalParameters", "SLSA provenance v1")
        _need(doc, "runDetails.builder.id", "SLSA provenance v1")
    elif predicate_type == CYCLONEDX_BOM:
        if doc.get("bomFormat") != "CycloneDX":
            raise UsageError("the SBOM predicate is not a CycloneDX document",
                             expected='"bomFormat": "CycloneDX"', found=repr(doc.get("bomFormat")))
    elif predicate_type == COSIGN_VULN_V1:
        _need(doc, "scanner.uri", "vulnerability")
        _need(doc, "scanner.result", "vulnerability")
    elif predicate_type == TEST_RESULT_V01:
        _need(doc, "result", "test result")
        if doc["result"] not in ("PASSED", "WARNED", "FAILED"):
            raise UsageError("the test result predicate has a bad 'result'",
                             expected="PASSED, WARNED or FAILED", found=repr(doc["result"]))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def vuln_predicate(scanner_uri: str, scanner_version: str, result: dict[str, Any],
                   db_uri: str = "", db_version: str = "") -> dict[str, Any]:
    """cosign's vulnerability predicate wrapping a scanner's JSON result."""
    now = _now()
    return {"invocation": {"parameters": [], "uri": "", "event_id": "", "builder.id": ""},
            "scanner": {"uri": scanner_uri, "version": scanner_version,
                        "db": {"uri": db_uri, "version": db_version}, "result": result},
            "metadata": {"scanStartedOn": now, "scanFinishedOn": now}}


def test_result_predicate(passed: bool, configuration: list[dict[str, Any]] | None = None,
                          failed_tests: list[str] | None = None, url: str = "") -> dict[str, Any]:
    """in-toto test-result v0.1."""
    doc: dict[str, Any] = {"result": "PASSED" if passed else "FAILED",
                           "configuration": configuration or [], "passedTests": [],
                           "failedTests": failed_tests or [], "warnedTests": []}
    if url:
        doc["url"] = url
    return doc
