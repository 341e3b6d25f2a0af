"""A local private Sigstore (Fulcio, CT log, Rekor v2, TSA, an OIDC issuer) on 127.0.0.1."""

from supplychain.devstack.stack import StackInfo, down, env_lines, env_values, fetch_token, status, token, up

__all__ = ["StackInfo", "down", "env_lines", "env_values", "fetch_token", "status", "token", "up"]
