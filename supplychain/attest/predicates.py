"""Predicate files for `sccheck attest`: the `--type` short names, loading, and the shape checks
done before anything is signed (the fields each kind needs are listed in the vocabulary)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from supplychain.attest.vocabulary import BY_SHORT, BY_URI, CYCLONEDX_BOM, PREDICATE_TYPES, TEST_RESULT
from supplychain.errors import UsageError
from supplychain.strictdoc import load_json

MAX_PREDICATE_BYTES = 16 * 1024 * 1024


def resolve_predicate_type(value: str) -> str:
    if value in BY_SHORT:
        return BY_SHORT[value].uri
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
    kind = BY_URI.get(predicate_type)
    if kind is None:
        return
    if predicate_type == CYCLONEDX_BOM and doc.get("bomFormat") != "CycloneDX":
        raise UsageError("the SBOM predicate is not a CycloneDX document",
                         expected='"bomFormat": "CycloneDX"', found=repr(doc.get("bomFormat")))
    for path in kind.required:
        _need(doc, path, kind.title)
    if predicate_type == TEST_RESULT and doc["result"] not in ("PASSED", "WARNED", "FAILED"):
        raise UsageError("the test result predicate has a bad 'result'",
                         expected="PASSED, WARNED or FAILED", found=repr(doc["result"]))


# --- helpers the readers share -----------------------------------------------------------------

def lookup(doc: Any, *path: str) -> Any:
    """`doc[path[0]][path[1]]...`, or None where a step is missing or not an object."""
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def now_text(moment: dt.datetime | None = None) -> str:
    """RFC 3339 in UTC, to the second (an aware `moment` is converted, a naive one taken as UTC)."""
    when = moment or dt.datetime.now(dt.UTC)
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
