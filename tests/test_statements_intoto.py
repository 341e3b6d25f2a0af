"""The in-toto statements sccheck signs, checked by the in-toto project's own reference model
(in-toto-attestation's Statement v1 protobuf and its validate()), not by our own parser."""

from __future__ import annotations

import json

import pytest
from google.protobuf import json_format
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement as ReferenceStatement

from supplychain.attest import PREDICATE_TYPES
from supplychain.attest.slsa import ProvenanceInputs, slsa_provenance
from supplychain.attest.statement import Subject, build_statement

INDEX = "sha256:" + "1" * 64
AMD64 = "sha256:" + "2" * 64


def _reference_check(payload: bytes) -> ReferenceStatement:
    proto = statement_pb2.Statement()  # type: ignore[attr-defined]
    json_format.Parse(payload.decode(), proto)     # unknown fields are an error here
    statement = ReferenceStatement.copy_from_pb(proto)
    statement.validate()
    return statement


@pytest.mark.parametrize("short", sorted(PREDICATE_TYPES))
def test_every_attestation_type_is_a_valid_in_toto_statement(short: str) -> None:
    predicate = {"example": short, "nested": {"n": 1}}
    statement = build_statement([Subject("reg.example/app", INDEX), Subject("reg.example/app", AMD64)],
                                PREDICATE_TYPES[short], predicate)
    checked = _reference_check(statement.payload)
    assert checked.pb.predicate_type == PREDICATE_TYPES[short]
    assert [s.digest["sha256"] for s in checked.pb.subject] == ["1" * 64, "2" * 64]


def test_provenance_statement_is_valid_in_toto() -> None:
    inputs = ProvenanceInputs(source_repo="https://github.com/org/app", commit="a" * 40,
                              base_image=None, go_version="go1.26.0", path=".",
                              platforms=("linux/amd64",))
    statement = build_statement([Subject("reg.example/app", AMD64)], PREDICATE_TYPES["slsa"],
                                slsa_provenance(inputs))
    checked = _reference_check(statement.payload)
    assert json.loads(statement.payload)["predicate"]["buildDefinition"]["buildType"]
    assert checked.pb.predicate["runDetails"]["builder"]["id"]


def test_the_reference_model_refuses_what_we_must_never_sign() -> None:
    """The check can fail: a statement without subjects or with a foreign field is refused."""
    with pytest.raises(ValueError):
        _reference_check(json.dumps({"_type": "https://in-toto.io/Statement/v1", "subject": [],
                                     "predicateType": "https://x.example/p", "predicate": {"a": 1}}).encode())
    with pytest.raises(json_format.ParseError):
        _reference_check(json.dumps({"_type": "https://in-toto.io/Statement/v1", "subjects": [],
                                     "predicateType": "https://x.example/p"}).encode())
