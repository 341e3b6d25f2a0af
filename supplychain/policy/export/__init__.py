"""Export a policy to cluster admission control, so the cluster enforces what the gate enforced.

- `kyverno`: an ImageValidatingPolicy (policies.kyverno.io/v1, Kyverno 1.17+), CEL based;
- `kyverno-clusterpolicy`: the legacy kyverno.io/v1 ClusterPolicy, for clusters before 1.17;
- `policy-controller`: a TrustRoot and a ClusterImagePolicy (signatureFormat: bundle, Rego).

Each export says what the sccheck policy says, or is refused (`ExportRefused`, exit 2) naming
each rule the target cannot enforce; `ExportOptions.allow_partial` records them instead.
"""

from __future__ import annotations

from supplychain.errors import UsageError
from supplychain.policy import model as m
from supplychain.policy.export.common import (
    ExportOptions,
    ExportRefused,
    ExportResult,
    TrustMaterial,
    TufSource,
    load_trust_material,
    load_tuf_source,
)
from supplychain.policy.export.kyverno import to_kyverno
from supplychain.policy.export.kyverno_legacy import to_kyverno_clusterpolicy
from supplychain.policy.export.policy_controller import to_policy_controller

EXPORTERS = {
    "kyverno": to_kyverno,
    "kyverno-clusterpolicy": to_kyverno_clusterpolicy,
    "policy-controller": to_policy_controller,
}
FORMATS = tuple(EXPORTERS)


def export_policy(policy: m.Policy, fmt: str, opts: ExportOptions | None = None) -> ExportResult:
    exporter = EXPORTERS.get(fmt)
    if exporter is None:
        raise UsageError(f"unknown export format {fmt!r}", expected=" | ".join(FORMATS), found=fmt)
    return exporter(policy, opts or ExportOptions())


__all__ = ["FORMATS", "ExportOptions", "ExportRefused", "ExportResult", "TrustMaterial", "TufSource",
           "export_policy", "load_trust_material", "load_tuf_source"]
