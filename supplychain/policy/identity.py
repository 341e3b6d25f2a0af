"""Certificate identity checks for keyless bundles, as sigstore-python verification policies.

`IdentityGate(identities)` is passed to `Verifier.verify_dsse`: it accepts a Fulcio certificate
when ANY keyless identity of the policy matches it (sigstore's `AnyOf` semantics, never empty).
Each identity ALWAYS checks the issuer. An exact subject uses sigstore's own
`policy.Identity(identity=..., issuer=...)`; a regex subject is matched in full against every
SAN. GitHub claims are read from the certificate's extensions (1.3.6.1.4.1.57264.1.*).
"""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from supplychain.policy import model as m

_BASE = "1.3.6.1.4.1.57264.1."
# Legacy extensions hold raw UTF-8; the newer ones (.8 and up) hold a DER UTF8String.
_LEGACY = {"issuer": "1", "trigger": "2", "sha": "3", "workflow": "4", "repository": "5", "ref": "6"}
_V2 = {"issuer": "8", "build_signer_uri": "9", "source_repository_uri": "12", "source_repository_ref": "14",
       "build_config_uri": "18", "build_trigger": "20"}
IDENTITY_MARK = "signer identity not allowed"


def _der_utf8(value: bytes) -> str:
    # Tag 0x0C (UTF8String), short or long length form.
    if len(value) < 2 or value[0] != 0x0C:
        return value.decode(errors="replace")
    length, offset = value[1], 2
    if length & 0x80:
        n = length & 0x7F
        length, offset = int.from_bytes(value[2:2 + n], "big"), 2 + n
    return value[offset:offset + length].decode(errors="replace")


def _ext(cert: x509.Certificate, suffix: str, der: bool) -> str | None:
    try:
        ext = cert.extensions.get_extension_for_oid(ObjectIdentifier(_BASE + suffix)).value
    except x509.ExtensionNotFound:
        return None
    raw: bytes = ext.value  # type: ignore[attr-defined]
    return _der_utf8(raw) if der else raw.decode(errors="replace")


def certificate_claims(cert: x509.Certificate) -> dict[str, str]:
    """Issuer, SANs and GitHub claims of a Fulcio certificate, normalised for policy checks."""
    claims: dict[str, str] = {}
    for name, suffix in _LEGACY.items():
        if (v := _ext(cert, suffix, der=False)) is not None:
            claims[name] = v
    for name, suffix in _V2.items():
        if (v := _ext(cert, suffix, der=True)) is not None:
            claims["issuer" if name == "issuer" else name] = v
    if "repository" not in claims and "source_repository_uri" in claims:
        claims["repository"] = claims["source_repository_uri"].removeprefix("https://github.com/")
    if "ref" not in claims and "source_repository_ref" in claims:
        claims["ref"] = claims["source_repository_ref"]
    if "trigger" not in claims and "build_trigger" in claims:
        claims["trigger"] = claims["build_trigger"]
    for key in ("build_config_uri", "build_signer_uri"):
        if key in claims:
            claims.setdefault("workflow_ref", claims[key].removeprefix("https://github.com/"))
    return claims


def certificate_sans(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    out = [*san.get_values_for_type(x509.RFC822Name),
           *san.get_values_for_type(x509.UniformResourceIdentifier)]
    out += [o.value.decode(errors="replace") for o in san.get_values_for_type(x509.OtherName)
            if o.type_id == ObjectIdentifier(_BASE + "7")]
    return out


def _why_not(ident: m.KeylessIdentity, cert: x509.Certificate) -> str | None:
    """None when `ident` accepts the certificate, else the reason in words."""
    from sigstore.errors import VerificationError
    from sigstore.verify import policy as sp

    claims = certificate_claims(cert)
    sans = certificate_sans(cert)
    if claims.get("issuer") != ident.issuer:
        return f"issuer is {claims.get('issuer')!r}, not {ident.issuer!r}"
    if ident.subject.regex:
        if not any(ident.subject.matches(s) for s in sans):
            return f"subject {sans} does not match {ident.subject.describe()}"
    else:
        try:
            sp.Identity(identity=ident.subject.value, issuer=ident.issuer).verify(cert)
        except VerificationError:
            return f"subject {sans} is not {ident.subject.value!r}"
    keys = {"repository": "repository", "workflowRef": "workflow_ref", "ref": "ref", "trigger": "trigger"}
    for name, pattern in (ident.github.items() if ident.github else []):
        value = claims.get(keys[name])
        if not pattern.matches(value):
            return f"GitHub claim {name} is {value!r}, expected {pattern.describe()}"
    return None


class IdentityGate:
    """A sigstore `VerificationPolicy`: any of the policy's keyless identities. Records the match."""

    def __init__(self, identities: list[m.KeylessIdentity]) -> None:
        self.identities = identities
        self.matched: m.KeylessIdentity | None = None
        self.claims: dict[str, str] = {}
        self.sans: list[str] = []

    def verify(self, cert: Any) -> None:
        from sigstore.errors import VerificationError

        self.claims, self.sans = certificate_claims(cert), certificate_sans(cert)
        if not self.identities:
            raise VerificationError(f"{IDENTITY_MARK}: the policy allows no keyless identity")
        reasons = []
        for ident in self.identities:
            why = _why_not(ident, cert)
            if why is None:
                self.matched = ident
                return
            reasons.append(why)
        found = f"{', '.join(self.sans) or '?'} (issuer {self.claims.get('issuer', '?')})"
        raise VerificationError(f"{IDENTITY_MARK}: certificate for {found}; " + "; ".join(
            f"alternative {i + 1}: {r}" for i, r in enumerate(reasons)))


def subject_of(sans: list[str]) -> str:
    return sans[0] if sans else ""


__all__ = ["IDENTITY_MARK", "IdentityGate", "certificate_claims", "certificate_sans"]
