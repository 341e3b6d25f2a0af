"""Keyless signing with sigstore-python: Fulcio certificate, Rekor entry, TSA timestamp.

The trust config (trusted root + signing config) comes from `--trust-config F`, env
`SCCHECK_TRUST_CONFIG`, else the public-good instance through TUF. A bundle is returned
only when it is complete and verifies against the same trusted root: sigstore-python merely
warns when the timestamp authority fails, which with Rekor v2 (no integrated time) would
yield a bundle nobody can verify, so that is an error here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from supplychain.attest.statement import Statement
from supplychain.errors import SigningError, UsageError
from supplychain.signing.bundle import bundle_facts
from supplychain.signing.tokens import IdentityTokenSource, scrub

TRUST_CONFIG_ENV = "SCCHECK_TRUST_CONFIG"
MAX_TRUST_CONFIG = 4 * 1024 * 1024
# sigstore-python calls Fulcio and Rekor without a timeout: a service that accepts the connection
# and never answers would hang signing for ever. While sccheck signs, requests without a timeout
# get this one (connect, read), and the failure names the service (`_failure`).
SERVICE_TIMEOUT = (10.0, 60.0)
_bound_lock = threading.Lock()
_bound_users = 0
_unbounded_request = requests.Session.request


def _request_with_timeout(self: requests.Session, method: str | bytes, url: str | bytes,
                          *args: Any, **kwargs: Any) -> requests.Response:
    if not args and kwargs.get("timeout") is None:  # `timeout` is the 9th positional: never used so
        kwargs["timeout"] = SERVICE_TIMEOUT
    return _unbounded_request(self, method, url, *args, **kwargs)


@contextlib.contextmanager
def bounded_service_calls() -> Iterator[None]:
    """Every HTTP request made in the block (by any thread) has a timeout. Reference-counted, so
    concurrent signings (attestations sign at once) share it and the last one restores it."""
    global _bound_users
    with _bound_lock:
        _bound_users += 1
        requests.Session.request = _request_with_timeout  # type: ignore[method-assign]
    try:
        yield
    finally:
        with _bound_lock:
            _bound_users -= 1
            if _bound_users == 0:
                requests.Session.request = _unbounded_request  # type: ignore[method-assign]


@dataclass(frozen=True)
class SignedBundle:
    bundle: bytes
    mode: str  # "keyless" | "key"
    log_index: int | None
    timestamps: int
    identity: str | None = None
    issuer: str | None = None


def trust_config_path(explicit: str | None) -> str | None:
    return explicit or os.environ.get(TRUST_CONFIG_ENV) or None


def load_trust_config(explicit: str | None) -> Any:
    """A sigstore `ClientTrustConfig`; the public-good one when no file is named."""
    from sigstore.models import ClientTrustConfig

    path = trust_config_path(explicit)
    if path is None:
        try:
            return ClientTrustConfig.production()
        except Exception as exc:
            raise SigningError(
                "cannot load the public-good Sigstore trust root (TUF)",
                found=f"{type(exc).__name__}: {str(exc)[:200]}",
                fix=f"check network access to tuf-repo-cdn.sigstore.dev, or pass --trust-config "
                    f"(env {TRUST_CONFIG_ENV}) for a private Sigstore",
            ) from None
    try:
        data = Path(path).read_bytes()[: MAX_TRUST_CONFIG + 1]
    except OSError as exc:
        raise UsageError(f"cannot read the trust config {path}: {exc.strerror}",
                         fix="'sccheck dev-stack env' prints the path of the local one") from None
    if len(data) > MAX_TRUST_CONFIG:
        raise UsageError(f"the trust config {path} is too large")
    try:
        return ClientTrustConfig.from_json(data.decode())
    except Exception as exc:
        raise UsageError(f"{path} is not a valid Sigstore client trust config",
                         expected="application/vnd.dev.sigstore.clienttrustconfig.v0.1+json with "
                                  "trustedRoot and signingConfig",
                         found=str(exc).splitlines()[0][:300]) from None


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class _Quiet(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "no-op" not in record.getMessage()


def _service_urls(trust_config: Any) -> dict[str, str]:
    sc = trust_config.signing_config._inner
    out = {}
    for key, attr in (("fulcio", "ca_urls"), ("rekor", "rekor_tlog_urls"), ("tsa", "tsa_urls")):
        urls = getattr(sc, attr, None) or []
        if urls:
            out[key] = str(urls[0].url)
    return out


def _failure(phase: str, exc: BaseException, token: str, urls: dict[str, str]) -> SigningError:
    service = {"certificate": "Fulcio", "log": "Rekor"}.get(phase, phase)
    url = urls.get({"certificate": "fulcio", "log": "rekor"}.get(phase, ""), "")
    detail = scrub(f"{type(exc).__name__}: {exc}", token).splitlines()
    unreachable = isinstance(exc, requests.ConnectionError | requests.Timeout) or \
        "Connection" in (detail[0] if detail else "") or "Timeout" in (detail[0] if detail else "")
    return SigningError(
        f"keyless signing failed: {service} " + ("is unreachable or did not answer in time" if unreachable
                                                 else "refused the request"),
        expected=f"{service} at {url or 'the signing config URL'} to answer",
        found=" ".join(detail)[:400],
        fix="start the local Sigstore ('sccheck dev-stack up') or check the trust config's URLs"
        if unreachable else "check the identity token (issuer known to Fulcio, audience 'sigstore') "
                            "and the service logs",
        facts={"service": service, "url": url},
    )


def _no_timestamp(messages: list[str], token: str, urls: dict[str, str]) -> SigningError:
    return SigningError(
        "keyless signing produced no verified time: the timestamp authority failed",
        expected=f"an RFC 3161 timestamp from {urls.get('tsa', 'the TSA of the signing config')} "
                 "(Rekor v2 entries carry no time of their own)",
        found=scrub("; ".join(messages), token)[:400] or "no timestamp in the bundle",
        fix="start the timestamp authority ('sccheck dev-stack up') or fix tsaUrls in the trust config; "
            "nothing was attached",
        facts={"service": "TSA", "url": urls.get("tsa", "")},
    )


def sign_keyless(statement: Statement, token: IdentityTokenSource, trust_config: Any) -> SignedBundle:
    from sigstore import dsse
    from sigstore.oidc import IdentityToken
    from sigstore.sign import SigningContext
    from sigstore.verify import Verifier
    from sigstore.verify.policy import UnsafeNoOp

    urls = _service_urls(trust_config)
    try:
        context = SigningContext.from_trust_config(trust_config)
        identity = IdentityToken(token.token)
    except Exception as exc:
        raise SigningError("cannot set up keyless signing",
                           found=scrub(f"{type(exc).__name__}: {exc}", token.token)[:300]) from None
    warnings = _Warnings()
    sign_logger = logging.getLogger("sigstore.sign")
    sign_logger.addHandler(warnings)
    phase = "certificate"
    try:
        with bounded_service_calls(), context.signer(identity) as signer:
            phase = "log"
            bundle = signer.sign_dsse(dsse.Statement(statement.payload))
    except Exception as exc:
        if phase == "log" and any("timestamp" in m for m in warnings.messages):
            raise _no_timestamp(warnings.messages, token.token, urls) from None
        raise _failure(phase, exc, token.token, urls) from None
    finally:
        sign_logger.removeHandler(warnings)
    data = bundle.to_json().encode()
    facts = bundle_facts(data)
    if facts.integrated_time == 0 and facts.timestamps == 0:
        raise _no_timestamp(warnings.messages, token.token, urls)
    # The identity is the caller's business (verify); here: chain, SCT, log inclusion, timestamp.
    policy_logger = logging.getLogger("sigstore.verify.policy")
    quiet = _Quiet()
    policy_logger.addFilter(quiet)
    try:
        Verifier(trusted_root=trust_config.trusted_root).verify_dsse(bundle, UnsafeNoOp())
    except Exception as exc:
        raise SigningError("the new bundle does not verify against the trusted root",
                           found=scrub(str(exc), token.token)[:400],
                           fix="the trust config's trustedRoot does not match its services") from None
    finally:
        policy_logger.removeFilter(quiet)
    return SignedBundle(data, "keyless", facts.log_index, facts.timestamps,
                        certificate_identity(bundle.signing_certificate) or token.identity or None,
                        token.issuer or None)


def certificate_identity(cert: Any) -> str | None:
    """The identity Fulcio bound: the first email or URI of the certificate's SAN."""
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for kind in (x509.RFC822Name, x509.UniformResourceIdentifier):
        values = san.get_values_for_type(kind)
        if values:
            return str(values[0])
    return None
