"""The evidence vocabulary is spelled once: every predicate type URI and in-toto constant of
`supplychain.attest.vocabulary` appears in exactly one module of the library (that one)."""

from __future__ import annotations

from supplychain.attest import vocabulary
from supplychain.attest.predicates import resolve_predicate_type, validate_predicate
from tests.conftest import ROOT


def _constants() -> dict[str, str]:
    return {name: value for name, value in vars(vocabulary).items()
            if name.isupper() and isinstance(value, str)}


def test_every_uri_is_spelled_in_the_vocabulary_only() -> None:
    constants = _constants()
    assert len(constants) >= 14          # the in-toto constants and every predicate type
    for kind in vocabulary.KINDS:
        assert kind.uri in constants.values(), kind.short
    modules = {path: path.read_text() for path in (ROOT / "supplychain").rglob("*.py")}
    where = {value: sorted(str(p.relative_to(ROOT)) for p, text in modules.items() if value in text)
             for value in constants.values()}
    assert where == {value: ["supplychain/attest/vocabulary.py"] for value in constants.values()}


def test_kinds_are_unique_and_resolve_both_ways() -> None:
    shorts = [k.short for k in vocabulary.KINDS]
    uris = [k.uri for k in vocabulary.KINDS]
    assert len(set(shorts)) == len(shorts) and len(set(uris)) == len(uris)
    for kind in vocabulary.KINDS:
        assert resolve_predicate_type(kind.short) == kind.uri
        assert vocabulary.BY_URI[kind.uri] is kind


def test_required_fields_are_checked_before_signing() -> None:
    import pytest

    from supplychain.errors import UsageError

    with pytest.raises(UsageError, match="'threshold'"):
        validate_predicate(vocabulary.SCCHECK_HARDEN, {"passed": True, "findings": []})
    validate_predicate(vocabulary.SCCHECK_HARDEN, {"passed": True, "threshold": "medium", "findings": []})
    validate_predicate("https://example.com/unknown/v1", {})        # other URIs pass as they are


def test_severity_scale_fails_closed() -> None:
    rank = vocabulary.severity_rank
    assert rank("info") == rank("negligible") < rank("low") < rank("moderate") < rank("high")
    assert rank("no-such-level") == rank("critical") == rank("unknown")
