"""Where the OIDC identity token for keyless signing comes from, and a first look at it.

Sources, first match wins: the explicit value (`--identity-token @FILE` or `-` for stdin: a
token itself is never taken from the command line, where `ps` shows it), env `SIGSTORE_ID_TOKEN` or
`SCCHECK_IDENTITY_TOKEN`, env `SCCHECK_DEV_TOKEN_URL` (a plain GET returns a JWT: the dev
stack's minter), GitHub Actions' ambient `ACTIONS_ID_TOKEN_REQUEST_URL` +
`ACTIONS_ID_TOKEN_REQUEST_TOKEN`, then the other CI systems the `id` package detects (GitLab's
`id_tokens`, the Buildkite agent, CircleCI's `circleci run oidc get`, Google Cloud's metadata
server). A token is a secret: it never appears in a message or an
error; errors name the source and the claim that is wrong.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
import urllib3

from supplychain.errors import SigningError, UsageError
from supplychain.httpclient import new_session
from supplychain.strictdoc import load_json

AUDIENCE = "sigstore"
TOKEN_ENVS = ("SIGSTORE_ID_TOKEN", "SCCHECK_IDENTITY_TOKEN")
DEV_TOKEN_URL_ENV = "SCCHECK_DEV_TOKEN_URL"  # noqa: S105 (a variable name)
GHA_URL_ENV, GHA_TOKEN_ENV = "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
MAX_TOKEN_BYTES = 64 * 1024


@dataclass(frozen=True)
class IdentityTokenSource:
    token: str = field(repr=False)
    source: str  # "--identity-token", "env SIGSTORE_ID_TOKEN", ...
    claims: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def issuer(self) -> str:
        return str(self.claims.get("iss", ""))

    @property
    def identity(self) -> str:
        return str(self.claims.get("email") or self.claims.get("sub") or "")


def read_token_argument(value: str, read_stdin: Callable[[], str]) -> tuple[str, str]:
    """`--identity-token`'s value to (token, source): `@FILE` reads the file, `-` reads stdin.
    Anything else would be the token itself on the command line, visible to every user of the
    machine in `ps` and kept in shell history: refused, without repeating it."""
    if value == "-":
        return read_stdin().strip(), "--identity-token - (stdin)"
    if value.startswith("@") and len(value) > 1:
        path = value[1:]
        try:
            with open(path, "rb") as fh:
                raw = fh.read(MAX_TOKEN_BYTES + 1)
        except OSError as exc:
            raise UsageError(f"cannot read the identity token file {path}: {exc.strerror}",
                             fix="check the path given to --identity-token @FILE") from None
        if len(raw) > MAX_TOKEN_BYTES:
            raise UsageError(f"the identity token file {path} is larger than {MAX_TOKEN_BYTES} bytes")
        return raw.decode("utf-8", errors="replace").strip(), f"--identity-token @{path}"
    raise UsageError(
        "an identity token on the command line is refused",
        expected="--identity-token @FILE or --identity-token - (read from stdin)",
        found="a literal value (not repeated here)",
        fix="write the token to a file with mode 0600 and pass @FILE, pipe it in with '-', set "
            "SIGSTORE_ID_TOKEN, or let sccheck fetch it (GitHub Actions, the dev stack)")


def unverified_claims(token: str, source: str) -> dict[str, Any]:
    """The JWT's claims, not verified (Fulcio verifies the signature); for early, clear errors."""
    parts = token.split(".")
    if len(parts) != 3:
        raise UsageError(f"the identity token from {source} is not a JWT",
                         expected="three base64url parts separated by '.'", found=f"{len(parts)} parts")
    try:
        raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = load_json(raw, "the claims", max_bytes=64 << 10, error=UsageError)
    except (ValueError, UsageError):
        raise UsageError(f"the identity token from {source} has an unreadable claims part") from None
    if not isinstance(claims, dict):
        raise UsageError(f"the identity token from {source} has no claims object")
    return claims


def check_claims(claims: dict[str, Any], source: str, now: float | None = None) -> None:
    now = time.time() if now is None else now
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if AUDIENCE not in audiences:
        raise UsageError(f"the identity token from {source} is for the wrong audience",
                         expected=f"aud {AUDIENCE!r}", found=f"aud {aud!r}",
                         fix="request the token with audience 'sigstore'")
    for claim in ("iss", "sub", "exp", "iat"):
        if claim not in claims:
            raise UsageError(f"the identity token from {source} lacks the {claim!r} claim")
    exp = claims["exp"]
    if not isinstance(exp, int | float) or exp <= now:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(exp)) if isinstance(exp, int | float) else exp
        raise UsageError(f"the identity token from {source} has expired",
                         expected="a token valid now", found=f"expired at {when}",
                         fix="get a fresh token (they live minutes) and sign right away")
    nbf = claims.get("nbf")
    if isinstance(nbf, int | float) and nbf > now + 5:
        raise UsageError(f"the identity token from {source} is not valid yet")


def _bounded_get(url: str, headers: dict[str, str], source: str) -> str:
    try:
        resp = new_session().get(url, headers=headers, timeout=15, stream=True)
        body = resp.raw.read(MAX_TOKEN_BYTES + 1, decode_content=True)
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise SigningError(f"cannot fetch an identity token from {source}",
                           found=type(exc).__name__, fix="check that the token service is up") from None
    if resp.status_code != 200:
        raise SigningError(f"{source} refused to issue an identity token",
                           expected="HTTP 200", found=f"HTTP {resp.status_code}")
    if len(body) > MAX_TOKEN_BYTES:
        raise SigningError(f"{source} returned an oversized token response")
    return body.decode("utf-8", errors="replace").strip()


def _github_actions_token() -> str | None:
    url, bearer = os.environ.get(GHA_URL_ENV), os.environ.get(GHA_TOKEN_ENV)
    if not url or not bearer:
        return None
    sep = "&" if "?" in url else "?"
    body = _bounded_get(f"{url}{sep}audience={AUDIENCE}", {"Authorization": f"bearer {bearer}"},
                        "GitHub Actions (ACTIONS_ID_TOKEN_REQUEST_URL)")
    try:
        value = load_json(body, "the token response", error=SigningError)["value"]
    except (ValueError, KeyError, TypeError):
        raise SigningError("GitHub Actions returned an unexpected token response",
                           expected='JSON {"value": "<jwt>"}') from None
    return str(value)


# CI systems whose ambient OIDC credentials the `id` package (sigstore-python's own detector)
# knows, by the variable that says the job runs there.
AMBIENT_CI = (
    ("GITLAB_CI", "GitLab CI (id_tokens: SIGSTORE_ID_TOKEN with aud sigstore)"),
    ("BUILDKITE", "the Buildkite agent (buildkite-agent oidc request-token)"),
    ("CIRCLECI", "CircleCI (circleci run oidc get)"),
)


def _other_ci_token() -> tuple[str, str] | None:
    """GitLab, Buildkite, CircleCI or Google Cloud ambient credentials, through the `id` package."""
    import id as ambient

    where = next((name for var, name in AMBIENT_CI if os.environ.get(var)), "Google Cloud metadata")
    try:
        token = ambient.detect_credential(AUDIENCE)
    except ambient.IdentityError as exc:
        raise SigningError(f"ambient credentials of {where} could not be read",
                           found=str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__,
                           fix="give the job an OIDC token for audience 'sigstore' (see docs/signing.md)"
                           ) from None
    return (token.strip(), f"{where} ambient credentials") if token else None


def resolve_identity_token(explicit: str | None = None, *, now: float | None = None,
                           explicit_source: str = "--identity-token") -> IdentityTokenSource:
    """Find a token and check its audience and lifetime before anything is sent anywhere."""
    token: str | None = None
    source = ""
    if explicit:
        token, source = explicit, explicit_source
    if token is None:
        for name in TOKEN_ENVS:
            if os.environ.get(name):
                token, source = os.environ[name], f"env {name}"
                break
    if token is None and os.environ.get(DEV_TOKEN_URL_ENV):
        source = f"the dev-stack token minter ({DEV_TOKEN_URL_ENV})"
        token = _bounded_get(os.environ[DEV_TOKEN_URL_ENV], {}, source)
    if token is None:
        token = _github_actions_token()
        source = "GitHub Actions ambient credentials"
    if not token:
        found = _other_ci_token()
        if found:
            token, source = found
    if not token:
        raise UsageError(
            "no identity token for keyless signing",
            expected=f"--identity-token @FILE or -, env {' or '.join(TOKEN_ENVS)}, {DEV_TOKEN_URL_ENV}, "
                     "GitHub Actions with 'permissions: id-token: write', or the ambient OIDC "
                     "credentials of GitLab, Buildkite, CircleCI or Google Cloud",
            found="none of them",
            fix="pass a token, run 'eval $(sccheck dev-stack env)' for the local Sigstore, "
                "or sign with a key (--key)",
        )
    token = token.strip()
    claims = unverified_claims(token, source)
    check_claims(claims, source, now)
    return IdentityTokenSource(token, source, claims)


def scrub(text: str, token: str) -> str:
    """Remove a token (and its signature part) from a message before it is shown."""
    if token:
        text = text.replace(token, "<identity token>")
        parts = token.split(".")
        if len(parts) == 3 and len(parts[2]) > 8:
            text = text.replace(parts[2], "<signature>")
    return text
