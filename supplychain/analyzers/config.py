"""The `check:` section of sccheck.yaml, read by `sccheck check` and `build-and-sign` alike.

    check:
      vulnDb: URL|DIR
      failOn: medium                      # LEVEL[,TOOL=LEVEL...]
      only: [vet, staticcheck, vuln, race]
      packages: [./...]
      severities: {SA1019: info, "ST*": low, "vet:composites": low}
      suppress:
        - {rule: SA1019, path: "internal/legacy/*", reason: "...", expires: 2027-03-31}
        - {fingerprint: 5d41402abc4b2a76b9719d911017c592, reason: "..."}
      baseline: .sccheck-baseline.json
      tests: {short: true, timeout: 10m, run: "Test[^I]", count: 1, preTest: make fixtures}

Unknown keys are errors naming their path; relative files are relative to the config file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supplychain.analyzers.base import TestOptions
from supplychain.analyzers.model import Severity
from supplychain.analyzers.rules import SeverityMap
from supplychain.analyzers.suppress import SuppressRule, parse_rules
from supplychain.errors import UsageError

KEYS = ("vulnDb", "failOn", "only", "packages", "severities", "suppress", "baseline", "tests")
TEST_KEYS = ("short", "timeout", "run", "count", "preTest")
_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")
_PATTERN = re.compile(r"^[A-Za-z0-9._~/@+-]+(/\.\.\.)?$|^\./\.\.\.$|^\.\.\.$")


@dataclass(frozen=True)
class CheckSettings:
    vuln_db: str | None = None
    fail_on: str | None = None
    only: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    severities: SeverityMap = field(default_factory=SeverityMap)
    suppress: tuple[SuppressRule, ...] = ()
    baseline: str | None = None
    tests: TestOptions = field(default_factory=TestOptions)


def _bad(source: str, path: str, message: str, expected: str, found: Any) -> UsageError:
    return UsageError(f"{source}: {path}: {message}", expected=expected, found=repr(found)[:200],
                      fix=f"correct {path} in {source} (schema in docs/check.md)")


def _string(value: Any, source: str, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(source, path, "must be a non-empty string", "a string", value)
    return value.strip()


def _strings(value: Any, source: str, path: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise _bad(source, path, "must be a non-empty list of strings", "[a, b]", value)
    return tuple(_string(v, source, f"{path}[{i}]") for i, v in enumerate(value))


def resolve_path(value: str, base: Path) -> str:
    """A file named in a config file, relative to the file's directory (URLs as they are)."""
    if "://" in value:
        return value
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else base / p)


def check_packages(patterns: tuple[str, ...], where: str) -> tuple[str, ...]:
    """Package patterns as go takes them (`./...`, `./cmd/...`, `example.com/m/pkg`); never a flag."""
    for p in patterns:
        if p.startswith("-") or not _PATTERN.match(p):
            raise UsageError(f"{where}: {p!r} is not a package pattern",
                             expected="e.g. ./... or ./internal/... or an import path",
                             found=p, fix="pass Go package patterns, relative ones starting with ./")
    return patterns


def check_duration(text: str, where: str) -> str:
    if not _DURATION.match(text):
        raise UsageError(f"{where}: {text!r} is not a Go duration", expected="e.g. 90s, 10m, 1h30m",
                         found=text, fix="write the duration as go test -timeout takes it")
    return text


def _tests(raw: Any, source: str, where: str) -> TestOptions:
    if not isinstance(raw, dict):
        raise _bad(source, where, "must be a mapping", ", ".join(TEST_KEYS), raw)
    for key in raw:
        if key not in TEST_KEYS:
            raise _bad(source, f"{where}.{key}", "unknown key", "one of " + ", ".join(TEST_KEYS), key)
    short = raw.get("short", False)
    if not isinstance(short, bool):
        raise _bad(source, f"{where}.short", "must be true or false", "a boolean", short)
    count = raw.get("count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise _bad(source, f"{where}.count", "must be a positive integer", "e.g. 1", count)
    timeout = check_duration(_string(raw["timeout"], source, f"{where}.timeout"),
                             f"{source}: {where}.timeout") if "timeout" in raw else None
    return TestOptions(
        short=short, timeout=timeout, count=count,
        run=_string(raw["run"], source, f"{where}.run") if "run" in raw else None,
        pre_test=_string(raw["preTest"], source, f"{where}.preTest") if "preTest" in raw else None)


def _severities(raw: Any, source: str, where: str) -> SeverityMap:
    if not isinstance(raw, dict) or not raw:
        raise _bad(source, where, "must be a mapping of rule (or glob) to severity",
                   "{SA1019: info, 'ST*': low}", raw)
    entries = []
    for key, value in raw.items():
        name = _string(key, source, f"{where} key")
        level = _string(value, source, f"{where}.{name}")
        try:
            entries.append((name, Severity(level.lower())))
        except ValueError:
            raise _bad(source, f"{where}.{name}", "unknown severity",
                       ", ".join(s.value for s in Severity), value) from None
    return SeverityMap(tuple(entries))


def parse_check_settings(raw: Any, source: str, base: Path, where: str = "$.check") -> CheckSettings:
    """The check section (a mapping) → CheckSettings; `base` resolves relative files."""
    if raw is None:
        return CheckSettings()
    if not isinstance(raw, dict):
        raise _bad(source, where, "must be a mapping", "keys " + ", ".join(KEYS), raw)
    for key in raw:
        if key not in KEYS:
            raise _bad(source, f"{where}.{key}", "unknown key", "one of " + ", ".join(KEYS), key)
    out: dict[str, Any] = {}
    if "vulnDb" in raw:
        db = _string(raw["vulnDb"], source, f"{where}.vulnDb")
        out["vuln_db"] = db if db.startswith(("http://", "https://", "file://")) else resolve_path(db, base)
    if "failOn" in raw:
        out["fail_on"] = _string(raw["failOn"], source, f"{where}.failOn")
    if "only" in raw:
        out["only"] = _strings(raw["only"], source, f"{where}.only")
    if "packages" in raw:
        out["packages"] = check_packages(_strings(raw["packages"], source, f"{where}.packages"),
                                         f"{source}: {where}.packages")
    if "severities" in raw:
        out["severities"] = _severities(raw["severities"], source, f"{where}.severities")
    if "suppress" in raw:
        out["suppress"] = parse_rules(raw["suppress"], source, f"{where}.suppress")
    if "baseline" in raw:
        out["baseline"] = resolve_path(_string(raw["baseline"], source, f"{where}.baseline"), base)
    if "tests" in raw:
        out["tests"] = _tests(raw["tests"], source, f"{where}.tests")
    return CheckSettings(**out)
