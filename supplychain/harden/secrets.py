"""The documented secret pattern set, text sniffing, redaction and the allowlist.

Each pattern has an id, a regular expression and, where the match has a non-secret prefix
(`AKIA`, `ghp_`, a PEM header), a named group `secret` for the part that is hidden in every
report: evidence never contains a secret, only its prefix, its length and where it is.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass

from supplychain.errors import UsageError


@dataclass(frozen=True)
class SecretPattern:
    id: str
    description: str
    regex: re.Pattern[str]


def _p(pid: str, description: str, regex: str, flags: int = 0) -> SecretPattern:
    return SecretPattern(pid, description, re.compile(regex, flags))


_SECRET_WORDS = r"password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key"  # noqa: S105

PATTERNS: tuple[SecretPattern, ...] = (
    _p("private-key", "a PEM private key (RSA, EC, DSA, OpenSSH, PKCS#8, encrypted, PGP)",
       r"-----BEGIN (?:(?:RSA|DSA|EC|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY(?: BLOCK)?-----"),
    _p("aws-access-key-id", "an AWS access key id (AKIA... long-term, ASIA... temporary)",
       r"\b(?:AKIA|ASIA)(?P<secret>[0-9A-Z]{16})\b"),
    _p("aws-secret-access-key", "an AWS secret access key assigned to aws_secret_access_key",
       r"aws_secret_access_key\s*[=:]\s*[\"']?(?P<secret>[A-Za-z0-9/+=]{40})", re.IGNORECASE),
    _p("github-token", "a GitHub token (ghp_, gho_, ghu_, ghs_, ghr_)",
       r"\bgh[pousr]_(?P<secret>[A-Za-z0-9]{36,255})\b"),
    _p("github-fine-grained-token", "a GitHub fine-grained personal access token",
       r"\bgithub_pat_(?P<secret>[A-Za-z0-9_]{60,255})\b"),
    _p("slack-token", "a Slack token (xoxb-, xoxp-, xoxa-, xoxr-, xoxs-)",
       r"\bxox[baprs]-(?P<secret>[A-Za-z0-9-]{10,250})"),
    _p("slack-webhook", "a Slack incoming-webhook URL",
       r"https://hooks\.slack\.com/services/(?P<secret>T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+)"),
    _p("google-api-key", "a Google API key", r"\bAIza(?P<secret>[0-9A-Za-z_-]{35})\b"),
    _p("generic-secret-assignment",
       "a secret-looking name (password, secret, token, api_key, ...) assigned a literal value "
       "of 6+ characters; references like $VAR or ${VAR} are not flagged",
       r"(?<![A-Za-z0-9_.-])(?P<name>[A-Za-z0-9_.-]*(?:" + _SECRET_WORDS + r")[A-Za-z0-9_.-]*)"
       r"[ \t]*[=:][ \t]*[\"']?"
       r"(?P<secret>[^\s\"'$<>{}()\[\]][^\s\"'<>]{5,})", re.IGNORECASE),
)

SNIFF_BYTES = 8192
DEFAULT_SCAN_CAP = 1024 * 1024
MAX_MATCHES_PER_SUBJECT = 5


@dataclass(frozen=True)
class SecretMatch:
    pattern: str
    redacted: str      # safe to print: the prefix, stars, the hidden length
    line: int          # 1-based line of the match (1 for one-line subjects)
    value: str         # the matched secret text: used for allowlisting, never rendered


def looks_textual(head: bytes) -> bool:
    """Text-ish: no NUL byte in the first bytes (binaries, archives and images have them)."""
    return b"\x00" not in head[:SNIFF_BYTES]


def _redact(match: re.Match[str]) -> str:
    text = match.group(0)
    if "secret" not in match.re.groupindex or match.group("secret") is None:
        return text
    start, end = match.span("secret")
    offset = match.start()
    hidden = end - start
    return f"{text[: start - offset]}**** ({hidden} chars hidden)"


def scan_text(text: str, allow: Allowlist | None = None) -> list[SecretMatch]:
    """All secret matches in `text`, at most MAX_MATCHES_PER_SUBJECT, allowlisted values dropped."""
    found: list[SecretMatch] = []
    taken: list[tuple[int, int]] = []
    for pattern in PATTERNS:
        for match in pattern.regex.finditer(text):
            span = match.span()
            if any(span[0] < end and start < span[1] for start, end in taken):
                continue  # a specific pattern already claimed this text
            value = match.group(0)
            if allow is not None and allow.allows_value(value):
                continue
            taken.append(span)
            line = text.count("\n", 0, span[0]) + 1
            found.append(SecretMatch(pattern.id, _redact(match), line, value))
            if len(found) >= MAX_MATCHES_PER_SUBJECT:
                return sorted(found, key=lambda m: m.line)
    return sorted(found, key=lambda m: m.line)


@dataclass(frozen=True)
class Allowlist:
    """What the user accepts: paths (globs), whole rules (ids), secret values (regexes)."""

    paths: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    values: tuple[str, ...] = ()

    def allows_path(self, path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, glob) for glob in self.paths)

    def allows_rule(self, rule_id: str) -> bool:
        return rule_id in self.rules

    def allows_value(self, value: str) -> bool:
        return any(re.search(regex, value) for regex in self.values)

    def merged(self, other: Allowlist) -> Allowlist:
        return Allowlist(self.paths + other.paths, self.rules + other.rules, self.values + other.values)


def parse_allow(entries: Iterable[str]) -> Allowlist:
    """`path:GLOB`, `rule:SCH003`, `value:REGEX` (as given to --allow)."""
    paths: list[str] = []
    rules: list[str] = []
    values: list[str] = []
    for entry in entries:
        kind, sep, rest = entry.partition(":")
        if not sep or not rest or kind not in ("path", "rule", "value"):
            raise UsageError(
                f"invalid allowlist entry {entry!r}",
                expected="path:GLOB, rule:SCHnnn or value:REGEX",
                found=repr(entry),
                fix="e.g. --allow 'path:/usr/share/doc/*' --allow rule:SCH012 --allow 'value:EXAMPLE'",
            )
        if kind == "rule":
            from supplychain.harden.rules import RULES

            if rest not in RULES:
                raise UsageError(f"unknown rule {rest!r} in the allowlist",
                                 expected=", ".join(sorted(RULES)), found=rest)
            rules.append(rest)
        elif kind == "value":
            try:
                re.compile(rest)
            except re.error as exc:
                raise UsageError(f"invalid regular expression in {entry!r}: {exc}") from None
            values.append(rest)
        else:
            paths.append(rest if rest.startswith("/") else "/" + rest)
    return Allowlist(tuple(paths), tuple(rules), tuple(values))

