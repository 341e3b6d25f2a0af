"""Finding the external programs sccheck drives (go, staticcheck, cosign, fulcio, ...), and the
environment they run with (`child_env`: ours, minus every secret sccheck knows of).

Pinned Go tools are installed by `scripts/install-go-tools` into `.tools/bin` at the project
root; `SCCHECK_TOOLS_BIN` points elsewhere (a shared install); `PATH` comes last.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from supplychain.errors import ToolMissing

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# name -> the go package it is installed from (kept in step with scripts/tools.txt)
INSTALL_HINTS = {
    "go": "install Go 1.26 (https://go.dev/dl) and put it on PATH",
}


def _tools_txt() -> dict[str, str]:
    hints: dict[str, str] = {}
    listing = PROJECT_ROOT / "scripts" / "tools.txt"
    if listing.is_file():
        for line in listing.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and not parts[0].startswith("#"):
                hints[parts[0]] = f"scripts/install-go-tools {parts[0]}   (go install {parts[1]})"
    return hints


def tool_dirs() -> list[Path]:
    dirs = []
    env = os.environ.get("SCCHECK_TOOLS_BIN")
    if env:
        dirs.append(Path(env))
    dirs.append(PROJECT_ROOT / ".tools" / "bin")
    return dirs


def find_tool(name: str, *, required: bool = True) -> str | None:
    """Return the path of tool `name`, or raise ToolMissing naming the install command."""
    for directory in tool_dirs():
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    if not required:
        return None
    hint = INSTALL_HINTS.get(name) or _tools_txt().get(name) or f"install {name} and put it on PATH"
    raise ToolMissing(
        f"{name} is not installed",
        expected=f"an executable {name} in {', '.join(map(str, tool_dirs()))} or on PATH",
        found="nothing",
        fix=hint,
    )


# The secrets sccheck reads or knows to be around in CI. None of them is ever handed to a
# child process (go, go vet, staticcheck, govulncheck, go test, git, docker, credential helpers,
# the dev-stack servers): a test in the module being checked must not be able to read them.
SECRET_ENV = frozenset({
    "SIGSTORE_ID_TOKEN",               # keyless identity token (sigstore tools' name)
    "SIGSTORE_ID_TOKEN_FILE",          # where that token lies
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",  # GitHub Actions: the bearer that mints OIDC tokens ...
    "ACTIONS_ID_TOKEN_REQUEST_URL",    # ... and where
    "ACTIONS_RUNTIME_TOKEN",           # GitHub Actions: cache/artifact service token
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "COSIGN_PASSWORD",                 # key password (cosign's name, read by sccheck too)
})
# Every SCCHECK_* variable: the registry credentials (SCCHECK_REGISTRY_*), the key password,
# the identity token, the dev-stack token minter URL. A child process needs none of them.
SECRET_ENV_PREFIXES = ("SCCHECK_",)


def is_secret_env(name: str) -> bool:
    upper = name.upper()
    return upper in SECRET_ENV or upper.startswith(SECRET_ENV_PREFIXES)


# NETRC as sccheck found it, once shield_netrc() has pointed this process's NETRC elsewhere.
_FOUND_NETRC: list[str | None] = []


def shield_netrc() -> None:
    """Point NETRC at an empty file for the HTTP libraries in this process: requests (and so the
    Sigstore client) reads ~/.netrc and attaches what it finds there to any request, over the
    credentials sccheck chose. Child processes get NETRC back as it was (`child_env`): go and git
    may need it for private modules."""
    if not _FOUND_NETRC:
        _FOUND_NETRC.append(os.environ.get("NETRC"))
        os.environ["NETRC"] = os.devnull


def child_env(base: Mapping[str, str] | None = None,
              extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child process: `base` (default: ours) without any secret sccheck
    knows of (see SECRET_ENV), then `extra` on top. Everything else (PATH, HOME, GOFLAGS,
    GOPRIVATE, GOPROXY, proxies, DOCKER_HOST, NETRC as it was, ...) passes through unchanged."""
    source = os.environ if base is None else base
    env = {name: value for name, value in source.items() if not is_secret_env(name)}
    if _FOUND_NETRC and env.get("NETRC") == os.devnull:
        found = _FOUND_NETRC[0]
        if found is None:
            del env["NETRC"]
        else:
            env["NETRC"] = found
    if extra:
        env.update(extra)
    return env


def docker_client() -> Any:
    """A Docker engine client (from DOCKER_HOST or the CLI context) whose credential helpers
    (docker-credential-*) see sccheck's secrets as empty values. `docker.from_env` does not take
    `credstore_env`, so it is set on the API client it made."""
    import docker

    client = docker.from_env()
    client.api.credstore_env = blanked_secrets()
    return client


def blanked_secrets() -> dict[str, str]:
    """Overrides that empty every secret variable, for libraries that can only add to the
    environment they give a child (docker's `credstore_env` for docker-credential-* helpers)."""
    return {name: "" for name in os.environ if is_secret_env(name)}
