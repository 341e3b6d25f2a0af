"""THE evidence vocabulary: predicate types and in-toto constants (`vocabulary`), statements,
and one module per predicate with its builder and its reader side by side: SLSA provenance
(`slsa`), vulnerabilities (`vuln`), test results (`testresult`), hardening (`harden`), OpenVEX
(`openvex`), the verification summary (`vsa`); `predicates` loads and checks predicate files."""

from supplychain.attest.predicates import load_predicate, resolve_predicate_type, validate_predicate
from supplychain.attest.slsa import SCCHECK_BUILD_TYPE, slsa_provenance
from supplychain.attest.vocabulary import PREDICATE_TYPES

__all__ = [
    "PREDICATE_TYPES",
    "SCCHECK_BUILD_TYPE",
    "load_predicate",
    "resolve_predicate_type",
    "slsa_provenance",
    "validate_predicate",
]
