"""sccheck's small OIDC issuer for the dev-stack: discovery, JWKS and RS256 ID tokens.

Two issuers share one RSA key and one port, so Fulcio can give each its own type:

    http://127.0.0.1:PORT          "email" tokens        (GET /token)
    http://127.0.0.1:PORT/github   GitHub-Actions-shaped (GET /github/token, and GitHub's own
                                   shape: GET /github/actions-token?...&audience=sigstore with
                                   `Authorization: bearer <request token>` -> {"value": jwt})

Query parameters shape a token: `sub`, `email`, `aud` (default `sigstore`), `ttl` (seconds,
at most 3600), `expired=1` (already expired: for negative tests); GitHub tokens take any of
the GitHub claim names below. Local use only: anyone who can reach the port can mint tokens.

Run as `python -m supplychain.devstack.oidc --key KEY --port PORT --request-token-file F`.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import secrets
import time
from base64 import urlsafe_b64encode
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DEFAULT_IDENTITY = "dev@sccheck.local"
DEFAULT_AUDIENCE = "sigstore"
MAX_TTL = 3600
GITHUB_PATH = "/github"

# Claims Fulcio's github-workflow issuer type requires (fulcio v1.8.8, pkg/identity/github).
GITHUB_CLAIMS = (
    "repository", "repository_id", "repository_owner", "repository_owner_id",
    "repository_visibility", "workflow", "workflow_ref", "workflow_sha", "job_workflow_ref",
    "job_workflow_sha", "sha", "ref", "ref_type", "event_name", "runner_environment", "run_id",
    "run_attempt", "run_number", "actor", "actor_id",
)


def github_claims(overrides: Mapping[str, str]) -> dict[str, str]:
    """A plausible GitHub Actions token body; any claim can be overridden."""
    repo = overrides.get("repository", "sccheck-dev/hello")
    owner = overrides.get("repository_owner", repo.split("/", 1)[0])
    ref = overrides.get("ref", "refs/heads/main")
    sha = overrides.get("sha", hashlib.sha1(repo.encode(), usedforsecurity=False).hexdigest())
    workflow_ref = overrides.get("workflow_ref", f"{repo}/.github/workflows/release.yml@{ref}")
    claims = {
        "repository": repo, "repository_id": "100001", "repository_owner": owner,
        "repository_owner_id": "200002", "repository_visibility": "public", "workflow": "release",
        "workflow_ref": workflow_ref, "workflow_sha": sha, "job_workflow_ref": workflow_ref,
        "job_workflow_sha": sha, "sha": sha, "ref": ref, "ref_type": "branch", "event_name": "push",
        "runner_environment": "github-hosted", "run_id": "4242", "run_attempt": "1",
        "run_number": "7", "actor": owner, "actor_id": "200002",
    }
    claims.update({k: v for k, v in overrides.items() if k in GITHUB_CLAIMS})
    claims.setdefault("sub", f"repo:{claims['repository']}:ref:{claims['ref']}")
    if "sub" in overrides:
        claims["sub"] = overrides["sub"]
    return claims


def key_id(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:16]


def jwks(key: rsa.RSAPrivateKey) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()

    def b64(n: int) -> str:
        return urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()

    return {"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": key_id(key),
                      "n": b64(numbers.n), "e": b64(numbers.e)}]}


def mint(key: rsa.RSAPrivateKey, issuer: str, claims: Mapping[str, Any], *, audience: str,
         ttl: int, expired: bool) -> str:
    now = int(time.time())
    body: dict[str, Any] = dict(claims)
    if expired:
        body.update(iat=now - 2 * ttl - 60, nbf=now - 2 * ttl - 60, exp=now - ttl - 60)
    else:
        body.update(iat=now, nbf=now - 5, exp=now + ttl)
    body.update(iss=issuer, aud=audience, jti=secrets.token_hex(8))
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": key_id(key)})


class Issuer:
    def __init__(self, key: rsa.RSAPrivateKey, base_url: str, request_token: str) -> None:
        self.key = key
        self.base_url = base_url.rstrip("/")
        self.request_token = request_token
        self.jwks = json.dumps(jwks(key)).encode()

    def discovery(self, issuer: str) -> bytes:
        return json.dumps({
            "issuer": issuer, "jwks_uri": f"{self.base_url}/keys",
            "token_endpoint": f"{issuer}/token", "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "aud", "exp", "iat", "iss", "email", "email_verified"],
        }).encode()

    def token(self, path: str, params: Mapping[str, str]) -> str:
        try:
            ttl = int(params.get("ttl", "300"))
        except ValueError as exc:
            raise ValueError(f"ttl must be an integer number of seconds, got {params['ttl']!r}") from exc
        if not 1 <= ttl <= MAX_TTL:
            raise ValueError(f"ttl must be between 1 and {MAX_TTL} seconds, got {ttl}")
        audience = params.get("aud") or params.get("audience") or DEFAULT_AUDIENCE
        expired = params.get("expired", "") in ("1", "true", "yes")
        if path.startswith(GITHUB_PATH):
            return mint(self.key, self.base_url + GITHUB_PATH, github_claims(params),
                        audience=audience, ttl=ttl, expired=expired)
        email = params.get("email", DEFAULT_IDENTITY)
        claims = {"sub": params.get("sub", email), "email": email, "email_verified": True}
        return mint(self.key, self.base_url, claims, audience=audience, ttl=ttl, expired=expired)


def make_handler(issuer: Issuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "sccheck-dev-oidc"

        def log_message(self, format: str, *args: Any) -> None:
            # the request line only: query strings may carry claims, never log tokens
            print(f"{self.command} {urlsplit(self.path).path} -> {args[1] if len(args) > 1 else ''}",
                  flush=True)

        def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            params = {k: v[-1] for k, v in parse_qs(url.query).items()}
            path = url.path.rstrip("/") or "/"
            if path == "/.well-known/openid-configuration":
                self._send(200, issuer.discovery(issuer.base_url))
            elif path == GITHUB_PATH + "/.well-known/openid-configuration":
                self._send(200, issuer.discovery(issuer.base_url + GITHUB_PATH))
            elif path == "/keys":
                self._send(200, issuer.jwks)
            elif path in ("/token", GITHUB_PATH + "/token"):
                self._token(path, params, wrap=False)
            elif path == GITHUB_PATH + "/actions-token":
                auth = self.headers.get("Authorization", "")
                scheme, _, given = auth.partition(" ")
                if scheme.lower() != "bearer" or not hmac.compare_digest(given, issuer.request_token):
                    self._send(401, b'{"message": "bad or missing bearer request token"}')
                    return
                self._token(path, params, wrap=True)
            elif path == "/healthz":
                self._send(200, b'{"ok": true}')
            else:
                self._send(404, b'{"message": "not found"}')

        def _token(self, path: str, params: dict[str, str], *, wrap: bool) -> None:
            try:
                token = issuer.token(path, params)
            except ValueError as exc:
                self._send(400, json.dumps({"message": str(exc)}).encode())
                return
            if wrap:
                self._send(200, json.dumps({"value": token}).encode())
            else:
                self._send(200, token.encode(), "application/jwt")

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="sccheck-dev-oidc")
    parser.add_argument("--key", required=True, type=Path)
    parser.add_argument("--request-token-file", required=True, type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", required=True, type=int)
    args = parser.parse_args(argv)
    key = serialization.load_pem_private_key(args.key.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SystemExit(f"{args.key}: expected an RSA private key")
    issuer = Issuer(key, f"http://{args.host}:{args.port}", args.request_token_file.read_text().strip())
    server = ThreadingHTTPServer((args.host, args.port), make_handler(issuer))
    print(f"sccheck dev OIDC issuer on {issuer.base_url}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
