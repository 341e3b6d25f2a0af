"""Options of `harden check`, from flags and an optional YAML/JSON config file.

    threshold: medium          # info | low | medium | high | critical
    max_size: 250MiB           # bytes, or a number with B, KB, MB, GB, KiB, MiB, GiB
    scan_cap: 1MiB             # text files larger than this are not scanned (SCH015 instead)
    allow:
      paths: ["/usr/share/doc/*"]   # globs: findings on these files are allowlisted
      rules: ["SCH012"]             # whole rules
      values: ["EXAMPLE"]           # regexes: secret matches containing them are ignored

Flags win over the file; allowlists from both are merged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supplychain.errors import UsageError
from supplychain.harden.rules import severity_rank
from supplychain.harden.secrets import DEFAULT_SCAN_CAP, Allowlist, parse_allow
from supplychain.strictdoc import load_yaml

DEFAULT_THRESHOLD = "medium"
DEFAULT_MAX_SIZE = 250 * 1024 * 1024
MAX_CONFIG_BYTES = 1024 * 1024

_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3,
          "kib": 1024, "mib": 1024**2, "gib": 1024**3}


@dataclass(frozen=True)
class CheckOptions:
    threshold: str = DEFAULT_THRESHOLD
    max_size: int = DEFAULT_MAX_SIZE
    scan_cap: int = DEFAULT_SCAN_CAP
    allow: Allowlist = field(default_factory=Allowlist)


def parse_size(value: str | int, what: str = "size") -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", str(value))
    if match and match.group(2).lower() in _UNITS and float(match.group(1)) > 0:
        return int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    raise UsageError(f"invalid {what} {value!r}", expected="a positive number of bytes, or e.g. 100MiB",
                     found=repr(value), fix=f"write the {what} as 250MiB, 1GB or 1048576")


def _strings(doc: dict[str, Any], key: str, source: str) -> list[str]:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{source}: allow.{key} must be a list of strings", found=repr(value)[:200])
    return value


def load_config(path: str | Path) -> dict[str, Any]:
    """Read and validate a config file; returns the keys it sets."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the harden config {source}: {exc.strerror}",
                         fix="pass an existing file to --config") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise UsageError(f"{source} is larger than {MAX_CONFIG_BYTES} bytes")
    doc = load_yaml(data, source, max_bytes=MAX_CONFIG_BYTES) or {}
    if not isinstance(doc, dict):
        raise UsageError(f"{source} must be a mapping", found=type(doc).__name__)
    unknown = set(doc) - {"threshold", "max_size", "scan_cap", "allow"}
    if unknown:
        raise UsageError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}",
                         expected="threshold, max_size, scan_cap, allow")
    out: dict[str, Any] = {}
    if "threshold" in doc:
        severity_rank(str(doc["threshold"]))
        out["threshold"] = str(doc["threshold"])
    if "max_size" in doc:
        out["max_size"] = parse_size(doc["max_size"], "max_size")
    if "scan_cap" in doc:
        out["scan_cap"] = parse_size(doc["scan_cap"], "scan_cap")
    allow = doc.get("allow") or {}
    if not isinstance(allow, dict) or set(allow) - {"paths", "rules", "values"}:
        raise UsageError(f"{source}: allow must be a mapping of paths, rules, values",
                         found=repr(allow)[:200])
    entries = ([f"path:{p}" for p in _strings(allow, "paths", source)]
               + [f"rule:{r}" for r in _strings(allow, "rules", source)]
               + [f"value:{v}" for v in _strings(allow, "values", source)])
    out["allow"] = parse_allow(entries)
    return out


def make_options(*, threshold: str | None = None, max_size: str | None = None,
                 scan_cap: str | None = None, allow: tuple[str, ...] = (),
                 config: str | None = None) -> CheckOptions:
    """Combine a config file and flags (flags win; allowlists merge)."""
    base: dict[str, Any] = load_config(config) if config else {}
    allowlist: Allowlist = base.get("allow", Allowlist()).merged(parse_allow(allow))
    chosen = threshold or base.get("threshold", DEFAULT_THRESHOLD)
    severity_rank(chosen)
    return CheckOptions(
        threshold=chosen,
        max_size=parse_size(max_size, "max size") if max_size else base.get("max_size", DEFAULT_MAX_SIZE),
        scan_cap=parse_size(scan_cap, "scan cap") if scan_cap else base.get("scan_cap", DEFAULT_SCAN_CAP),
        allow=allowlist,
    )
