"""What a Sigstore trusted root holds, and how fresh it is.

A trusted root (alone, or inside a client trust config) lists certificate authorities (Fulcio),
transparency logs (Rekor), CT logs and timestamp authorities, each with a validity window
(`validFor`) and, for authorities, a certificate chain with its own `notAfter`. Roots rotate
several times a year; a site that refreshes them by hand needs to be told before one lapses.

    root = read_trust_file("trust.json")
    for warning in freshness_warnings(root.entries, now):
        print(warning)
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supplychain.attest.predicates import parse_time
from supplychain.errors import UsageError
from supplychain.strictdoc import load_json

MAX_TRUST_FILE = 4 << 20
WARN_WITHIN = dt.timedelta(days=30)
CLIENT_TRUST_CONFIG = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
_KINDS = (
    ("certificateAuthorities", "certificate authority"),
    ("tlogs", "transparency log"),
    ("ctlogs", "CT log"),
    ("timestampAuthorities", "timestamp authority"),
)


@dataclass(frozen=True)
class TrustEntry:
    kind: str  # "certificate authority", "transparency log", "CT log", ...
    name: str  # subject / URL of the authority or log
    start: dt.datetime | None
    end: dt.datetime | None  # the earlier of validFor.end and the certificates' notAfter

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "validFrom": self.start.isoformat() if self.start else None,
            "validUntil": self.end.isoformat() if self.end else None,
        }


@dataclass(frozen=True)
class TrustFile:
    path: str
    digest: str  # sha256 of the file's bytes, as a user pins it
    data: bytes
    is_client_config: bool
    root: dict[str, Any]
    entries: tuple[TrustEntry, ...]

    def sigstore_root(self) -> Any:
        """The sigstore-python TrustedRoot of this file (no network: read from these bytes)."""
        from sigstore.models import ClientTrustConfig, TrustedRoot

        try:
            if self.is_client_config:
                return ClientTrustConfig.from_json(self.data.decode()).trusted_root
            from sigstore_models.trustroot.v1 import TrustedRoot as Inner

            return TrustedRoot(Inner.from_json(self.data.decode()))
        except Exception as exc:
            raise UsageError(
                f"{self.path} is not a valid Sigstore trusted root",
                found=str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__,
                fix="pass a trusted_root.json or a client trust config",
            ) from None

    def to_dict(self, now: dt.datetime | None = None) -> dict[str, Any]:
        return {
            "path": self.path,
            "digest": self.digest,
            "format": "clientTrustConfig" if self.is_client_config else "trustedRoot",
            "entries": [e.to_dict() for e in self.entries],
            "warnings": freshness_warnings(self.entries, now),
        }


def _cert_not_after(chain: Any) -> dt.datetime | None:
    from cryptography import x509

    ends = []
    for cert in (chain or {}).get("certificates") or []:
        raw = cert.get("rawBytes") if isinstance(cert, dict) else None
        if not isinstance(raw, str):
            continue
        try:
            ends.append(x509.load_der_x509_certificate(base64.b64decode(raw)).not_valid_after_utc)
        except ValueError:
            continue
    return min(ends) if ends else None


def _entries(root: dict[str, Any]) -> tuple[TrustEntry, ...]:
    out = []
    for key, kind in _KINDS:
        for item in root.get(key) or []:
            if not isinstance(item, dict):
                continue
            if "certChain" in item:  # an authority: its window, and its certificates' lifetime
                window = item.get("validFor") or {}
                subject = item.get("subject") or {}
                name = str(item.get("uri") or subject.get("commonName") or subject.get("organization") or "")
                ends = [t for t in (parse_time(window.get("end")), _cert_not_after(item["certChain"])) if t]
            else:  # a log: its key's window
                window = (item.get("publicKey") or {}).get("validFor") or {}
                name = str(item.get("baseUrl") or "")
                ends = [t for t in (parse_time(window.get("end")),) if t]
            out.append(
                TrustEntry(kind, name[:200], parse_time(window.get("start")), min(ends) if ends else None)
            )
    return tuple(out)


def parse_trust_bytes(data: bytes, where: str) -> TrustFile:
    doc = load_json(data, where)
    if not isinstance(doc, dict):
        raise UsageError(f"{where} is not a Sigstore trusted root", found=type(doc).__name__)
    is_client = doc.get("mediaType") == CLIENT_TRUST_CONFIG or "trustedRoot" in doc
    root = doc.get("trustedRoot") if is_client else doc
    if not isinstance(root, dict):
        raise UsageError(f"{where} has no trustedRoot object")
    return TrustFile(
        where, "sha256:" + hashlib.sha256(data).hexdigest(), data, is_client, root, _entries(root)
    )


def read_trust_file(path: str | Path) -> TrustFile:
    try:
        data = Path(path).read_bytes()[: MAX_TRUST_FILE + 1]
    except OSError as exc:
        raise UsageError(
            f"cannot read the trusted root {path}: {exc.strerror}",
            fix="'sccheck dev-stack env' prints the path of the local one",
        ) from None
    if len(data) > MAX_TRUST_FILE:
        raise UsageError(f"the trusted root {path} is larger than {MAX_TRUST_FILE} bytes")
    return parse_trust_bytes(data, str(path))


def freshness_warnings(
    entries: tuple[TrustEntry, ...], now: dt.datetime | None = None, max_age: dt.timedelta | None = None
) -> list[str]:
    """A warning for each entry that has expired or expires within 30 days, and (with `max_age`)
    when the newest entry of the root began longer ago than that: the root has not been refreshed."""
    now = now or dt.datetime.now(dt.UTC)
    out = []
    for e in entries:
        if e.end is None:
            continue
        if e.end <= now:
            out.append(
                f"the {e.kind} {e.name or '(unnamed)'} expired on {e.end:%Y-%m-%d}: signatures "
                "made after that cannot verify; refresh the trusted root"
            )
        elif e.end - now <= WARN_WITHIN:
            out.append(
                f"the {e.kind} {e.name or '(unnamed)'} expires on {e.end:%Y-%m-%d} "
                f"(in {(e.end - now).days} days); refresh the trusted root before then"
            )
    starts = [e.start for e in entries if e.start]
    if max_age is not None and starts and now - max(starts) > max_age:
        out.append(
            f"the trusted root's newest key dates from {max(starts):%Y-%m-%d}, older than the "
            f"policy's limit of {max_age.days} days; refresh the trusted root"
        )
    return out


__all__ = ["TrustEntry", "TrustFile", "freshness_warnings", "parse_trust_bytes", "read_trust_file"]
