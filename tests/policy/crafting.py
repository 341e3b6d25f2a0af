"""Signing helpers for the gate's tests: real bundles from the real dev-stack, some of them
deliberately wrong (crafted here with the stack's own Fulcio, Rekor and TSA)."""

# ruff: noqa: E501
from __future__ import annotations

import json
from typing import Any

from supplychain.attest.statement import Subject, build_statement
from supplychain.image.descriptor import Descriptor
from supplychain.image.store import ContentStore
from supplychain.signing.keyless import load_trust_config, sign_keyless
from supplychain.signing.storage import attach_bundle
from supplychain.signing.tokens import resolve_identity_token
from tests.helpers.devstack import DevStack

COMMIT = "0123456789abcdef0123456789abcdef01234567"
PROVENANCE = {
    "buildDefinition": {"buildType": "https://sccheck.dev/build/v1",
                        "externalParameters": {"source": "https://github.com/sccheck-dev/hello"},
                        "resolvedDependencies": [{"uri": "git+https://github.com/sccheck-dev/hello@refs/heads/main",
                                                  "digest": {"gitCommit": COMMIT}}]},
    "runDetails": {"builder": {"id": "https://sccheck.dev/builder/v1"}},
}
SBOM = {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []}


def keyless_bundle(stack: DevStack, subjects: list[str], predicate_type: str,
                   predicate: dict[str, Any] | None = None, token: str | None = None) -> bytes:
    statement = build_statement([Subject("127.0.0.1/test", d) for d in subjects], predicate_type, predicate or {})
    tc = load_trust_config(str(stack.trust_config))
    signed = sign_keyless(statement, resolve_identity_token(token or stack.mint_token()), tc)
    return signed.bundle


def attach(store: ContentStore, subject: Descriptor, bundle: bytes, predicate_type: str) -> str:
    return attach_bundle(store, subject, bundle, predicate_type)


def edit_bundle(bundle: bytes, fn: Any) -> bytes:
    doc = json.loads(bundle)
    fn(doc)
    return json.dumps(doc).encode()
