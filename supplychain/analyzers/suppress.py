"""Accepting findings on purpose: fingerprints, suppressions and the baseline file.

A fingerprint names a finding without its line number: a hash of the tool, the rule, the file,
the message with positions taken out, and the text of the flagged source line (whitespace
collapsed). Moving code keeps it; editing the flagged line or the message changes it. Equal
findings in one file are told apart by their order (`…#2`). A vulnerability's fingerprint is
its OSV id, module and reachability level only.

A `SuppressRule` (sccheck.yaml `check.suppress[]`) has the shape of the policy's vulnerability
allowlist — what, `reason`, `expires` — where "what" is any of `rule` (id or glob, optionally
`TOOL:`), `path` (glob on the module-relative path; `*` crosses `/`) and `fingerprint`; every
one given must match. After `expires` (a date, inclusive) the finding counts again and the
result carries a note saying so.

A baseline (`sccheck check --write-baseline F`, `--baseline F`) lists the fingerprints of the
findings that exist today; with it only new findings count.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from supplychain.analyzers.model import Finding, Suppression
from supplychain.errors import UsageError
from supplychain.fsutil import atomic_write
from supplychain.strictdoc import load_json

BASELINE_FORMAT = "https://sccheck.dev/check/baseline/v1"
MAX_BASELINE_BYTES = 16 * 1024 * 1024
_POSITION = re.compile(r"(\.go|\.mod|\.s):\d+(?::\d+)?")
_NUMBERS = re.compile(r"\b(goroutine|line) \d+\b|\b0x[0-9a-f]+\b")


def normalize_message(message: str) -> str:
    text = _POSITION.sub(r"\1", message)
    text = _NUMBERS.sub(lambda m: f"{m[1]} N" if m[1] else "0x", text)
    return " ".join(text.split())


def _snippet(root: Path, finding: Finding, cache: dict[str, list[str]]) -> str:
    loc = finding.location
    if loc is None or not loc.line or loc.path.startswith("/"):
        return ""
    if loc.path not in cache:
        try:
            cache[loc.path] = (root / loc.path).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            cache[loc.path] = []
    lines = cache[loc.path]
    return " ".join(lines[loc.line - 1].split()) if loc.line <= len(lines) else ""


def fingerprint_all(findings: Sequence[Finding], root: Path) -> list[Finding]:
    """The findings with `fingerprint` set (order kept)."""
    cache: dict[str, list[str]] = {}
    seen: Counter[str] = Counter()
    out = []
    for f in findings:
        if f.vulnerability is not None:
            # A vulnerability is the OSV id in a module at a reachability; where and how the code
            # reaches it (the call site, the symbols, their order) is not its identity.
            v = f.vulnerability
            text = "\x00".join((f.tool, f.rule, v.module, v.scan_level))
        else:
            path = f.location.path if f.location else ""
            text = "\x00".join((f.tool, f.rule, path, normalize_message(f.message),
                                _snippet(root, f, cache)))
        digest = hashlib.sha256(text.encode()).hexdigest()[:32]
        seen[digest] += 1
        value = digest if seen[digest] == 1 else f"{digest}#{seen[digest]}"
        out.append(replace(f, fingerprint=value))
    return out


def _rule_matches(pattern: str, finding: Finding) -> bool:
    tool, sep, glob = pattern.partition(":")
    if sep and tool == finding.tool:
        return fnmatchcase(finding.rule, glob)
    return fnmatchcase(finding.rule, pattern)


@dataclass(frozen=True)
class SuppressRule:
    reason: str
    rule: str | None = None
    path: str | None = None
    fingerprint: str | None = None
    expires: dt.date | None = None
    source: str = "sccheck.yaml"      # where it was declared, e.g. "sccheck.yaml check.suppress[0]"

    def matches(self, finding: Finding) -> bool:
        if self.rule is not None and not _rule_matches(self.rule, finding):
            return False
        if self.path is not None:
            loc = finding.location
            if loc is None or not fnmatchcase(loc.path, self.path):
                return False
        return self.fingerprint is None or self.fingerprint == finding.fingerprint

    def describe(self) -> str:
        what = [f"{k} {v}" for k, v in (("rule", self.rule), ("path", self.path),
                                       ("fingerprint", self.fingerprint)) if v]
        return f"{self.source} ({', '.join(what)})"


@dataclass(frozen=True)
class Baseline:
    path: str
    fingerprints: frozenset[str]
    created: str = ""


def apply(findings: Sequence[Finding], rules: Sequence[SuppressRule], baseline: Baseline | None,
          today: dt.date | None = None) -> tuple[list[Finding], list[str]]:
    """Mark findings suppressed by the first matching live rule, else by the baseline.
    Returns the findings and notes (expired rules that matched, rules that matched nothing)."""
    today = today or dt.date.today()
    notes: list[str] = []
    used: Counter[int] = Counter()
    expired_hits: Counter[int] = Counter()
    out = []
    for f in findings:
        if f.suppressed is not None:          # already suppressed in source
            out.append(f)
            continue
        mark = None
        for i, rule in enumerate(rules):
            if not rule.matches(f):
                continue
            if rule.expires is not None and rule.expires < today:
                expired_hits[i] += 1
                continue
            used[i] += 1
            mark = Suppression(kind="external", justification=rule.reason, source=rule.source,
                               expires=rule.expires.isoformat() if rule.expires else "")
            break
        if mark is None and baseline is not None and f.fingerprint in baseline.fingerprints:
            when = f" of {baseline.created}" if baseline.created else ""
            mark = Suppression(kind="external", justification=f"present in the baseline{when}",
                               source=f"baseline {baseline.path}")
        out.append(replace(f, suppressed=mark) if mark else f)
    for i, rule in enumerate(rules):
        if expired_hits[i] and not used[i]:
            assert rule.expires is not None
            notes.append(f"the suppression {rule.describe()} expired on {rule.expires.isoformat()}: "
                         f"{expired_hits[i]} finding(s) count again (reason was: {rule.reason})")
        elif not used[i] and not expired_hits[i]:
            notes.append(f"the suppression {rule.describe()} matched no finding; remove it if the "
                         "code was fixed")
    return out, notes


def parse_rules(raw: Any, source: str, where: str) -> tuple[SuppressRule, ...]:
    """`check.suppress` from sccheck.yaml: a list of {rule|path|fingerprint, reason, expires}."""
    def bad(path: str, message: str, expected: str, found: Any) -> UsageError:
        return UsageError(f"{source}: {path}: {message}", expected=expected, found=repr(found)[:200],
                          fix=f"correct {path} in {source} (see docs/check.md, Suppressions)")

    if not isinstance(raw, list):
        raise bad(where, "must be a list", "- {rule: SA1019, reason: ...}", raw)
    rules = []
    for i, item in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise bad(at, "must be a mapping", "{rule|path|fingerprint, reason, expires}", item)
        unknown = sorted(set(item) - {"rule", "path", "fingerprint", "reason", "expires"})
        if unknown:
            raise bad(f"{at}.{unknown[0]}", "unknown key", "rule, path, fingerprint, reason, expires",
                      unknown[0])
        for key in ("rule", "path", "fingerprint", "reason"):
            if key in item and (not isinstance(item[key], str) or not item[key].strip()):
                raise bad(f"{at}.{key}", "must be a non-empty string", "a string", item[key])
        if not any(k in item for k in ("rule", "path", "fingerprint")):
            raise bad(at, "says nothing about which findings it accepts",
                      "at least one of rule, path, fingerprint", item)
        if "reason" not in item:
            raise bad(f"{at}.reason", "is missing", "a reason (why this finding is accepted)", None)
        expires = None
        if "expires" in item:
            value = item["expires"]
            try:
                expires = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
            except ValueError:
                raise bad(f"{at}.expires", "is not a real date", "YYYY-MM-DD", value) from None
        rules.append(SuppressRule(reason=item["reason"].strip(), rule=item.get("rule"),
                                  path=item.get("path"), fingerprint=item.get("fingerprint"),
                                  expires=expires, source=f"{Path(source).name} {at.lstrip('$.')}"))
    return tuple(rules)


def write_baseline(path: Path, findings: Iterable[Finding], module: str, created: str) -> int:
    """Write the fingerprints of the findings that are not suppressed; returns how many."""
    entries = sorted(({"fingerprint": f.fingerprint, "tool": f.tool, "rule": f.rule,
                       "path": f.location.path if f.location else "", "message": f.message}
                      for f in findings if f.suppressed is None and f.fingerprint),
                     key=lambda e: (e["path"], e["tool"], e["rule"], e["fingerprint"]))
    doc = {"format": BASELINE_FORMAT, "module": module, "created": created, "findings": entries}
    atomic_write(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return len(entries)


def read_baseline(path: Path) -> Baseline:
    def bad(found: str) -> UsageError:
        return UsageError(f"{path} is not an sccheck baseline", expected=f"a JSON file of format "
                          f"{BASELINE_FORMAT} with findings[].fingerprint", found=found,
                          fix="write one with 'sccheck check PATH --write-baseline FILE'")

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the baseline {path}: {exc.strerror}",
                         fix="pass an existing file, or write one with --write-baseline") from None
    if len(raw) > MAX_BASELINE_BYTES:
        raise bad(f"{len(raw)} bytes (at most {MAX_BASELINE_BYTES})")
    doc = load_json(raw, f"the baseline {path}", max_bytes=MAX_BASELINE_BYTES, error=UsageError)
    if not isinstance(doc, dict) or doc.get("format") != BASELINE_FORMAT \
            or not isinstance(doc.get("findings"), list):
        raise bad(f"format {doc.get('format') if isinstance(doc, dict) else type(doc).__name__!r}")
    prints = [e.get("fingerprint") for e in doc["findings"] if isinstance(e, dict)]
    if not all(isinstance(p, str) and p for p in prints):
        raise bad("an entry without a fingerprint")
    return Baseline(str(path), frozenset(prints), str(doc.get("created", "")))  # type: ignore[arg-type]
