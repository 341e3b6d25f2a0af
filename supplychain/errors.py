"""One exception family for the whole library.

Every error says what was expected, what was found and what to do next. The CLI catches
`Error` once, prints `diagnostics()` and exits with `exit_code`:

- 1: the subject failed a check (verification, policy, findings above the threshold);
- 2: the request was wrong (usage, an invalid policy or config file);
- 3: the tool could not do its job (network, registry, missing tool, a crashed subprocess).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_TOOL_FAILED = 3


class Error(Exception):
    """Base of every sccheck error. Structured facts go in `facts` (never secrets)."""

    exit_code = EXIT_TOOL_FAILED
    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        expected: str | None = None,
        found: str | None = None,
        fix: str | None = None,
        facts: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.found = found
        self.fix = fix
        self.facts: dict[str, Any] = dict(facts or {})

    def diagnostics(self) -> str:
        lines = [f"{self.kind}: {self.message}"]
        if self.expected:
            lines.append(f"  expected: {self.expected}")
        if self.found:
            lines.append(f"  found:    {self.found}")
        for key, value in self.facts.items():
            text = str(value).rstrip()
            if "\n" in text:
                indented = "\n".join("      " + line for line in text.splitlines()[-40:])
                lines.append(f"  {key}:\n{indented}")
            else:
                lines.append(f"  {key}: {text}")
        if self.fix:
            lines.append(f"  fix:      {self.fix}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": type(self).__name__,
            "kind": self.kind,
            "message": self.message,
            "expected": self.expected,
            "found": self.found,
            "fix": self.fix,
            "facts": {k: _jsonable(v) for k, v in self.facts.items()},
            "exit_code": self.exit_code,
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


class UsageError(Error):
    """The request itself is wrong: a bad flag value, an invalid config or policy file."""

    exit_code = EXIT_USAGE
    kind = "usage error"


class CheckFailed(Error):
    """The subject failed a check. Not a malfunction: the tool did its job and said no."""

    exit_code = EXIT_CHECK_FAILED
    kind = "check failed"


class NotBuiltYet(Error):
    """A command of the CLI contract that this version does not implement yet."""

    kind = "not built yet"


class ToolMissing(Error):
    """An external program (go, staticcheck, cosign, ...) is not installed."""

    kind = "missing tool"


class ToolFailed(Error):
    """An external program ran and failed for a reason that is not the subject's fault."""

    kind = "tool failed"


# One subclass per layer, so callers can catch a layer's failures without string matching.
class ImageError(Error):
    kind = "image error"


class ImageNotFound(ImageError):
    """A store does not have the image, manifest, tag or blob asked for (every store raises this)."""


class DigestMismatch(ImageError):
    """A store served bytes that do not hash to the digest they were asked for (every store)."""


class BuildError(Error):
    kind = "build error"


class RegistryError(Error):
    kind = "registry error"


class SbomError(Error):
    kind = "sbom error"


class AnalyzerError(Error):
    kind = "check error"


class SigningError(Error):
    kind = "signing error"


class EvidenceUnavailable(Error):
    """Evidence exists but could not be read (network, registry refusal): no verdict was reached."""

    kind = "could not check"


class PolicyError(UsageError):
    kind = "policy error"


class VerificationFailed(CheckFailed):
    kind = "verification failed"


class DevStackError(Error):
    kind = "dev-stack error"


class HardenError(Error):
    kind = "harden error"


class PipelineError(Error):
    kind = "pipeline error"
