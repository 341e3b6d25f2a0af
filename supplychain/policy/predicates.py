"""Reading the predicates the policy has conditions on. Fail closed: what cannot be read fails.

- SLSA provenance v1 (`https://slsa.dev/provenance/v1`): builder id, build type, source
  repositories and commits.
- Vulnerabilities (`https://cosign.sigstore.dev/attestation/vuln/v1`): `scanner.result` holds the
  findings (sccheck check writes `scanner.result.vulnerabilities[]` with `id`, `severity`,
  `aliases`, `module`); `metadata.scanFinishedOn` is the scan time.
- Test results (`https://in-toto.io/attestation/test-result/v0.1`): `result` PASSED or WARNED
  (passed with warnings) and an empty `failedTests`.
- Hardening (`https://sccheck.dev/attestation/harden/v1`): `passed`, `threshold`, `findings[]`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from supplychain.policy.model import severity_rank

_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


@dataclass(frozen=True)
class ProvenanceFacts:
    builder_id: str | None
    build_type: str | None
    repositories: tuple[str, ...]
    commits: tuple[str, ...]


def normalize_repository(uri: str) -> str:
    """'git+https://github.com/o/r.git@refs/heads/main' -> 'https://github.com/o/r'."""
    text = uri.strip()
    if text.startswith("git+"):
        text = text[4:]
    scheme, sep, rest = text.partition("://")
    if sep and "@" in rest:
        rest = rest.split("@", 1)[0]
    text = scheme + sep + rest if sep else text.split("@", 1)[0]
    return text.removesuffix("/").removesuffix(".git")


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def provenance_facts(predicate: dict[str, Any]) -> ProvenanceFacts:
    builder = _get(predicate, "runDetails", "builder", "id")
    build_type = _get(predicate, "buildDefinition", "buildType")
    repos: list[str] = []
    commits: list[str] = []
    deps = _get(predicate, "buildDefinition", "resolvedDependencies")
    for dep in deps if isinstance(deps, list) else []:
        if not isinstance(dep, dict) or not isinstance(dep.get("uri"), str):
            continue
        digest: dict[str, Any] = dep["digest"] if isinstance(dep.get("digest"), dict) else {}
        commit = digest.get("gitCommit") or digest.get("sha1")
        if isinstance(commit, str) and _COMMIT.match(commit):
            commits.append(commit)
            repos.append(normalize_repository(dep["uri"]))
        elif dep["uri"].startswith("git+"):
            repos.append(normalize_repository(dep["uri"]))
    ext = _get(predicate, "buildDefinition", "externalParameters")
    for path in (("workflow", "repository"), ("source",), ("repository",)):
        value = _get(ext, *path)
        if isinstance(value, str):
            repos.append(normalize_repository(value))
    # Let a policy say either "https://github.com/o/r" or "o/r" for GitHub-hosted sources.
    extra = [r.removeprefix("https://github.com/") for r in repos if r.startswith("https://github.com/")]
    return ProvenanceFacts(builder if isinstance(builder, str) else None,
                           build_type if isinstance(build_type, str) else None,
                           tuple(dict.fromkeys(repos + extra)), tuple(commits))


@dataclass(frozen=True)
class VulnFinding:
    id: str
    severity: str
    aliases: tuple[str, ...] = ()
    package: str = ""


@dataclass(frozen=True)
class VulnReport:
    findings: tuple[VulnFinding, ...]
    scanned_at: dt.datetime | None


def parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _finding(raw: Any) -> VulnFinding:
    if not isinstance(raw, dict):
        raise ValueError(f"a finding is not an object: {str(raw)[:80]}")
    vid = raw.get("id") or raw.get("ID") or _get(raw, "vulnerability", "id")
    if not isinstance(vid, str) or not vid:
        raise ValueError(f"a finding has no id: {str(raw)[:120]}")
    sev = raw.get("severity") or _get(raw, "vulnerability", "severity") or "unknown"
    aliases: list[Any] = raw["aliases"] if isinstance(raw.get("aliases"), list) else []
    pkg = raw.get("package") or raw.get("module") or ""
    if isinstance(pkg, dict):
        pkg = pkg.get("name") or pkg.get("path") or ""
    return VulnFinding(vid, str(sev).lower(), tuple(str(a) for a in aliases), str(pkg))


def vuln_report(predicate: dict[str, Any]) -> VulnReport:
    result = _get(predicate, "scanner", "result")
    findings: Any = None
    if isinstance(result, list):
        findings = result
    elif isinstance(result, dict):
        for key in ("findings", "vulnerabilities", "matches"):
            if isinstance(result.get(key), list):
                findings = result[key]
                break
    if findings is None:
        raise ValueError("scanner.result has no findings list (findings/vulnerabilities/matches)")
    when = parse_time(_get(predicate, "metadata", "scanFinishedOn")) or parse_time(
        _get(predicate, "metadata", "scanStartedOn"))
    return VulnReport(tuple(_finding(f) for f in findings), when)


def test_failures(predicate: dict[str, Any]) -> list[str]:
    result = predicate.get("result")
    failed = predicate.get("failedTests")
    out = []
    if result not in ("PASSED", "WARNED"):   # WARNED: passed, with non-failing warnings
        out.append(f"test result is {result!r}, expected 'PASSED' (or 'WARNED')")
    if failed is not None and not isinstance(failed, list):
        out.append("failedTests is not a list")
    elif failed:
        names = ", ".join(str(t) for t in failed[:5]) + (" …" if len(failed) > 5 else "")
        out.append(f"{len(failed)} failed test(s): {names}")
    return out


def harden_failures(predicate: dict[str, Any]) -> list[str]:
    out = []
    findings = predicate.get("findings")
    threshold = predicate.get("threshold")
    if not isinstance(findings, list) or not isinstance(threshold, str):
        return ["hardening report is unreadable (needs 'findings' list and 'threshold')"]
    limit = severity_rank(threshold)
    failing = [f for f in findings if not isinstance(f, dict)
               or severity_rank(str(f.get("severity", "unknown"))) >= limit]
    if predicate.get("passed") is not True:
        out.append(f"hardening report says passed={predicate.get('passed')!r}")
    for f in failing[:10]:
        if isinstance(f, dict):
            out.append(f"hardening finding {f.get('rule')} ({f.get('severity')}): {f.get('message')}")
        else:
            out.append("an unreadable hardening finding")
    return out
