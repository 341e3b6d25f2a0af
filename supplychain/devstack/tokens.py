"""Say plainly why an identity token will be (or was) refused.

Fulcio answers every bad token with the same HTTP 400 "There was an error processing the
identity token" (the reason goes only to its own log), and sigstore-python's `IdentityToken`
rejects expired or wrong-audience tokens with "Identity token is malformed or missing claims".
`check_token` reads the token's claims (without verifying the signature: that is Fulcio's job)
and raises an error that names the problem and the fix.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

from supplychain.errors import SigningError

SIGSTORE_AUDIENCE = "sigstore"
CLOCK_SKEW = 60


@dataclass(frozen=True)
class TokenFacts:
    issuer: str
    subject: str
    audience: tuple[str, ...]
    expires: int
    identity: str  # email for email issuers, else the subject


def read_claims(token: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise SigningError("the identity token is not a JWT", expected="header.payload.signature",
                           found=f"{type(exc).__name__}: {exc}",
                           fix="pass the raw ID token (no 'Bearer ' prefix, no quotes)") from exc
    if not isinstance(claims, dict):
        raise SigningError("the identity token's payload is not a JSON object",
                           expected="a JSON object", found=type(claims).__name__,
                           fix="pass an OIDC ID token")
    return claims


def check_token(token: str, *, audience: str = SIGSTORE_AUDIENCE, now: float | None = None) -> TokenFacts:
    """Raise a clear SigningError for an expired, not-yet-valid or wrong-audience token."""
    claims = read_claims(token)
    now = time.time() if now is None else now
    aud = claims.get("aud")
    audiences = tuple(aud) if isinstance(aud, list) else ((aud,) if isinstance(aud, str) else ())
    issuer = str(claims.get("iss", ""))
    facts = {"issuer": issuer, "subject": str(claims.get("sub", ""))}
    if audience not in audiences:
        raise SigningError("the identity token is for another audience",
                           expected=f"aud {audience!r}", found=f"aud {list(audiences)!r}",
                           fix=f"request the token with audience {audience!r} (GitHub Actions: "
                               f"ACTIONS_ID_TOKEN_REQUEST_URL&audience={audience})", facts=facts)
    exp = claims.get("exp")
    if not isinstance(exp, int | float):
        raise SigningError("the identity token has no expiry", expected="an 'exp' claim",
                           found="none", fix="use an OIDC ID token from your provider", facts=facts)
    if exp + CLOCK_SKEW < now:
        raise SigningError("the identity token has expired",
                           expected="a token valid now",
                           found=f"expired {int(now - exp)}s ago "
                                 f"({time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(exp))})",
                           fix="fetch a fresh token (they live minutes) right before signing",
                           facts=facts)
    nbf = claims.get("nbf", claims.get("iat"))
    if isinstance(nbf, int | float) and nbf - CLOCK_SKEW > now:
        raise SigningError("the identity token is not valid yet", expected="nbf/iat in the past",
                           found=f"valid from {int(nbf - now)}s in the future",
                           fix="check this machine's clock", facts=facts)
    identity = claims.get("email") if isinstance(claims.get("email"), str) else claims.get("sub", "")
    return TokenFacts(issuer=issuer, subject=facts["subject"], audience=audiences, expires=int(exp),
                      identity=str(identity))
