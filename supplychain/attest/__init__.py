"""in-toto predicates sccheck attests: SLSA provenance v1, CycloneDX SBOM, vulnerability
results, test results and the hardening report."""

from supplychain.attest.predicates import (
    PREDICATE_TYPES,
    load_predicate,
    resolve_predicate_type,
    validate_predicate,
)
from supplychain.attest.slsa import SCCHECK_BUILD_TYPE, slsa_provenance

__all__ = [
    "PREDICATE_TYPES",
    "SCCHECK_BUILD_TYPE",
    "load_predicate",
    "resolve_predicate_type",
    "slsa_provenance",
    "validate_predicate",
]
