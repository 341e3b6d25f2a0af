"""`build-and-sign`: the whole chain wired on the step runner.

    check ─────────────────────────────┐
    build ─┬─ sbom ───────────────────┤
           ├─ profile ── harden ──────┤
           └─ push ────────────────── sign ── attest ── verify ── [promote]

`sign` needs check, sbom, harden and push: nothing is signed unless the checks passed their
thresholds and every piece of evidence exists. Independent steps run concurrently.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supplychain.analyzers.config import CheckSettings
from supplychain.errors import CheckFailed, ToolFailed, UsageError, VerificationFailed
from supplychain.gomodule import module_root
from supplychain.image.reference import parse_image_ref
from supplychain.pipeline.precheck import (
    Plan,
    PolicyCannotPass,
    forecast,
    plan_signer,
    planned_predicates,
    precheck,
)
from supplychain.pipeline.steps import RunReport, Step, run
from supplychain.progress import Progress, SilentProgress
from supplychain.registry.options import RegistryOptions
from supplychain.strictdoc import load_json
from supplychain.tools import PROJECT_ROOT, child_env, find_tool

DEFAULT_POLICY = PROJECT_ROOT / "policies" / "default.yaml"


MAX_ATTEST_WORKERS = 8


@dataclass(frozen=True)
class PipelineRequest:
    path: str
    repo: str
    platforms: tuple[str, ...] = ()
    base: str = "static"
    version: str | None = None
    tag: str | None = None
    policy: str | None = None
    trust_config: str | None = None
    identity_token: str | None = field(default=None, repr=False)
    key: str | None = None
    key_password: str | None = field(default=None, repr=False)
    vuln_db: str | None = None
    fail_on: str = "medium"
    check_tools: tuple[str, ...] = ()
    check_settings: CheckSettings = field(default_factory=CheckSettings)
    harden_threshold: str | None = None
    profiles_dir: str | None = None      # keep the runtime profiles here (else only attested)
    promote_to: str | None = None
    registry_options: RegistryOptions | None = None
    max_workers: int = 3


@dataclass(frozen=True)
class PipelineResult:
    report: RunReport
    reference: str | None
    digest: str | None

    @property
    def ok(self) -> bool:
        return self.report.ok


class _Prefixed:
    """Inner progress of a step, shown as `step/part`."""

    def __init__(self, outer: Progress, prefix: str) -> None:
        self._outer, self._prefix = outer, prefix

    def step(self, name: str, detail: str = "") -> None:
        self._outer.info(f"{self._prefix}/{name}" + (f": {detail}" if detail else ""))

    def done(self, name: str, detail: str = "") -> None:
        if detail:
            self._outer.info(f"{self._prefix}/{name} ✓ {detail}")

    def info(self, message: str) -> None:
        self._outer.info(f"{self._prefix}: {message}")


def _git(path: Path, *args: str) -> str | None:
    git = shutil.which("git")
    if not git:
        return None
    proc = subprocess.run([git, "-C", str(path), *args], capture_output=True, text=True, timeout=30,
                          check=False, env=child_env())
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def _strip_credentials(url: str) -> str:
    if "://" in url and "@" in url.split("://", 1)[1].split("/", 1)[0]:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://{rest.split('@', 1)[1]}"
    return url


def source_facts(path: Path, env: Mapping[str, str]) -> dict[str, str | None]:
    """Source repository, commit, builder id and invocation id: GitHub Actions' variables when
    running there, else the git checkout."""
    if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        repo = env["GITHUB_REPOSITORY"]
        run_id = env.get("GITHUB_RUN_ID")
        workflow_ref = env.get("GITHUB_WORKFLOW_REF")
        attempt = env.get("GITHUB_RUN_ATTEMPT", "1")
        return {"source": f"{server}/{repo}",
                "commit": env.get("GITHUB_SHA") or _git(path, "rev-parse", "HEAD"),
                "builder": f"{server}/{workflow_ref}" if workflow_ref else None,
                "invocation": f"{server}/{repo}/actions/runs/{run_id}/attempts/{attempt}" if run_id else None}
    remote = _git(path, "remote", "get-url", "origin")
    top = _git(path, "rev-parse", "--show-toplevel")
    source = _strip_credentials(remote) if remote else (f"git+file://{top}" if top else None)
    return {"source": source, "commit": _git(path, "rev-parse", "HEAD"), "builder": None, "invocation": None}


def go_version() -> str | None:
    go = find_tool("go")
    if not go:
        return None
    proc = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, timeout=60, check=False,
                          env=child_env())
    return proc.stdout.strip() or None


def _check_step(req: PipelineRequest, progress: Progress) -> dict[str, Any]:
    from supplychain.analyzers import CheckRequest, FailOn, check

    cfg = req.check_settings
    baseline = Path(cfg.baseline) if cfg.baseline else None
    result = check(CheckRequest(path=Path(req.path), tools=req.check_tools, vuln_db=req.vuln_db,
                                fail_on=FailOn.parse(req.fail_on), packages=cfg.packages,
                                tests=cfg.tests, severities=cfg.severities, suppress=cfg.suppress,
                                baseline=baseline), _Prefixed(progress, "check"))
    counts = {"findings": len(result.findings), "failing": len(result.failing),
              "suppressed": len(result.suppressed),
              "tools": {r.tool: {"status": r.status, "findings": len(r.findings)} for r in result.tools}}
    for note in result.notes:
        progress.info(f"check: note: {note}")
    if result.exit_code == 3:
        broken = [r for r in result.tools if r.status == "failed"]
        raise ToolFailed(f"the checks could not run: {', '.join(result.tools_failed)}",
                         expected="every check tool to run", found=", ".join(result.tools_failed),
                         fix="fix what the tool says below (or run 'sccheck check PATH'); nothing was "
                             "pushed or signed",
                         facts={"diagnostics": "\n".join(r.diagnostics for r in broken)})
    if result.exit_code == 1:
        shown: list[str] = []
        for f in result.failing[:10]:
            shown.append(f"{f.severity.value.upper()} {f.tool} {f.rule} {f.location or '-'}: {f.message}")
            shown += [f"    | {d}" for d in f.details[:5]]
        more = f" ({len(result.failing) - 10} more not shown)" if len(result.failing) > 10 else ""
        raise CheckFailed(f"the checks found {len(result.failing)} finding(s) at or above the threshold",
                          expected=f"no finding at or above {result.fail_on.describe()}",
                          found=f"{len(result.failing)} finding(s), below{more}",
                          fix="fix the findings, or accept them in sccheck.yaml (check.suppress, "
                              "check.baseline, check.severities; docs/check.md); nothing was pushed "
                              "or signed",
                          facts={"findings": "\n".join(shown)})
    return {"summary": f"{counts['findings']} finding(s), none failing", **counts, "_result": result}


def _provenance(req: PipelineRequest, build: Any, started: dt.datetime,
                finished: dt.datetime) -> dict[str, Any]:
    from supplychain.attest.slsa import DEFAULT_BUILDER_ID, ProvenanceInputs, slsa_provenance

    facts = source_facts(Path(req.path), os.environ)
    base_image = None
    extra: dict[str, Any] = {}
    if build.base_digest:
        name = parse_image_ref(build.base).name if ("/" in build.base or ":" in build.base) else build.base
        base_image = f"{name}@{build.base_digest}"
    elif build.base != "scratch":
        extra["base"] = build.base
    commit = facts["commit"] or build.revision or ""
    top = _git(Path(req.path), "rev-parse", "--show-toplevel")
    rel = os.path.relpath(Path(req.path).resolve(), top) if top else "."
    predicate = slsa_provenance(ProvenanceInputs(
        source_repo=facts["source"] or f"file://{Path(req.path).resolve()}", commit=commit,
        base_image=base_image, go_version=go_version(), path=rel, platforms=build.platforms,
        builder_id=facts["builder"] or DEFAULT_BUILDER_ID, invocation_id=facts["invocation"],
        started=started, finished=finished, extra=extra))
    if not commit:
        predicate["buildDefinition"]["resolvedDependencies"][0].pop("digest", None)
    return predicate


def rule_lines(rule: str, status: str, expected: str, found: str, details: tuple[str, ...] = ()) -> str:
    """One policy rule for people: its verdict, what it expected, what it found, why (≤ 5 lines)."""
    lines = [f"{rule}: {status}", f"  expected: {expected}", f"  found:    {found}"]
    return "\n".join(lines + [f"  - {d}" for d in details[:5]])


def plan(req: PipelineRequest, env: Mapping[str, str]) -> Plan:
    """What the run will show the policy, as known before it starts (pipeline/precheck.py)."""
    from supplychain.attest.slsa import DEFAULT_BUILDER_ID, SCCHECK_BUILD_TYPE, normalize_repository

    path = Path(req.path)
    facts = source_facts(path, env)
    source = facts["source"] or f"file://{path.resolve()}"
    repos = [normalize_repository(source)]
    repos += [r.removeprefix("https://github.com/") for r in repos if r.startswith("https://github.com/")]
    return Plan(signer=plan_signer(req.identity_token, req.key, req.key_password),
                commit=facts["commit"], dirty=_git(path, "status", "--porcelain") is not None,
                source_repositories=tuple(repos), builder_id=facts["builder"] or DEFAULT_BUILDER_ID,
                build_type=SCCHECK_BUILD_TYPE, predicate_types=planned_predicates(req.check_tools),
                platforms=req.platforms)


def gate_early(req: PipelineRequest, policy: Any, policy_path: str, progress: Progress) -> None:
    """Stop before any work when the policy cannot pass (PolicyCannotPass, exit 1)."""
    report = precheck(policy, plan(req, os.environ), default_policy=req.policy is None)
    if not report.passed:
        raise PolicyCannotPass(report, policy_path)
    progress.info(f"precheck: {report.summary()}")
    for note in report.notes:
        progress.info(f"precheck: note: {note}")


def build_and_sign(req: PipelineRequest, progress: Progress | None = None) -> PipelineResult:
    """Run the chain. Raises `RunFailed` (from the step runner) with the partial report."""
    from supplychain.policy.loader import load_policy

    progress = progress or SilentProgress()
    repo = parse_image_ref(req.repo)
    if repo.is_layout or repo.digest:
        raise UsageError(f"--repo {req.repo} is not a registry repository",
                         expected="host/repo (a tag is taken from --tag)", found=req.repo,
                         fix="e.g. --repo 127.0.0.1:5000/team/hello")
    tag = req.tag or repo.tag
    policy_path = Path(req.policy) if req.policy else DEFAULT_POLICY
    policy = load_policy(policy_path)              # a bad policy is a usage error before any work
    if req.promote_to:
        parse_image_ref(req.promote_to)
    module_root(req.path)
    gate_early(req, policy, str(policy_path), progress)
    work = Path(tempfile.mkdtemp(prefix="sccheck-pipeline-"))
    layout = work / "oci"
    ctx: dict[str, Any] = {}
    started = dt.datetime.now(dt.UTC)

    def build_step(_: Mapping[str, Any]) -> dict[str, Any]:
        from supplychain.build import BuildRequest, PublishTarget, build, publish

        result = build(BuildRequest(req.path, base=req.base, platforms=req.platforms, version=req.version,
                                    registry=req.registry_options), _Prefixed(progress, "build"))
        publish(result, PublishTarget(output=f"oci:{layout}", tag=tag or "latest"))
        ctx["build"] = result
        ctx["build_finished"] = dt.datetime.now(dt.UTC)
        platforms = {str(i.platform): i.descriptor.digest for i in result.images}
        return {"summary": f"{result.digest[:19]} ({', '.join(platforms)})", "digest": result.digest,
                "platforms": platforms, "base": result.base, "base_digest": result.base_digest,
                "version": result.version, "revision": result.revision, "size": result.size}

    def sbom_step(_: Mapping[str, Any]) -> dict[str, Any]:
        from supplychain.sbom import generate_sbom

        docs = generate_sbom(f"oci:{layout}@{ctx['build'].digest}", progress=_Prefixed(progress, "sbom"))
        ctx["sboms"] = docs
        return {"summary": f"{len(docs)} SBOM(s), "
                           f"{sum(d.go_modules for d in docs)} module(s)",
                "documents": [d.summary() for d in docs]}

    profiles = Path(req.profiles_dir) if req.profiles_dir else work / "profiles"

    def profile_step(_: Mapping[str, Any]) -> dict[str, Any]:
        from supplychain.harden.profile import make_profiles

        made = make_profiles(f"oci:{layout}@{ctx['build'].digest}", output_dir=str(profiles),
                             name=repo.repository.rsplit("/", 1)[-1], progress=_Prefixed(progress, "profile"))
        counts = {p.platform: p.allowed for p in made.platforms}
        return {"summary": ", ".join(f"{k}: {v} system calls" for k, v in counts.items()),
                "name": made.name, "allowed": counts,
                "conservative": [p.platform for p in made.platforms if p.conservative],
                "outputDir": str(profiles) if req.profiles_dir else None}

    def harden_step(_: Mapping[str, Any]) -> dict[str, Any]:
        from supplychain.harden.imagecheck import run_check

        report = run_check(f"oci:{layout}@{ctx['build'].digest}", threshold=req.harden_threshold,
                           profiles_dir=str(profiles))
        ctx["harden"] = report
        summary = report.summary()
        if not report.passed:
            shown = [f"{f.rule} {f.path or ''}: {f.message}" for f in report.failing[:10]]
            raise CheckFailed(f"the image has {len(report.failing)} hardening finding(s) at or above "
                              f"{report.threshold}", expected="a clean image", found="\n".join(shown),
                              fix="run 'sccheck harden check' on the layout; nothing was signed")
        return {"summary": f"{summary['total']} finding(s), passed", "findings": summary["total"],
                "failing": summary["failing"], "bySeverity": summary["bySeverity"]}

    def push_step(_: Mapping[str, Any]) -> dict[str, Any]:
        from supplychain.copy import copy_image
        from supplychain.image.layout import OCILayout
        from supplychain.stores import open_store

        digest = ctx["build"].digest
        dst = open_store(repo, req.registry_options)
        copied = copy_image(OCILayout(str(layout)), digest, dst, tag, progress=_Prefixed(progress, "push"))
        reference = f"{repo.name}@{digest}"
        ctx["reference"] = reference
        return {"summary": reference, "reference": reference, "digest": digest, "tag": tag,
                "blobs_copied": copied.blobs_copied, "bytes": copied.bytes_moved}

    def _signing(predicate_type: str | None, ref: str, predicate: dict[str, Any] | None,
                 platform: str | None = None) -> dict[str, Any]:
        from supplychain.signing import attest_image, sign_image

        kw: dict[str, Any] = {"trust_config": req.trust_config, "identity_token": req.identity_token,
                              "key": req.key, "key_password": req.key_password,
                              "registry_options": req.registry_options}
        if predicate_type is None:
            signed = sign_image(ref, **kw)
        else:
            assert predicate is not None
            signed = attest_image(ref, predicate_type, predicate, platform=platform, **kw)
        return signed.to_dict()

    def sign_step(_: Mapping[str, Any]) -> dict[str, Any]:
        signed = _signing(None, ctx["reference"], None)
        who = signed["identity"] or "key"
        return {"summary": f"{signed['mode']} as {who}, log index {signed['log_index']}", **signed}

    def evidence() -> list[tuple[str, str, dict[str, Any]]]:
        """Every attestation the run will sign, as (name, predicate type, predicate)."""
        from supplychain.attest.check import check_predicates
        from supplychain.attest.harden import harden_predicate
        from supplychain.attest.vocabulary import CYCLONEDX_BOM, OPENVEX, SCCHECK_HARDEN, SLSA_PROVENANCE

        todo = [("provenance", SLSA_PROVENANCE, _provenance(req, ctx["build"], started,
                                                              ctx["build_finished"]))]
        platform_of: dict[str, str | None] = {}
        for doc in ctx["sboms"]:
            # One SBOM per platform: subjects = the index and that platform (docs/signing.md).
            label = f"sbom {doc.subject.platform or ''}".strip()
            platform_of[label] = doc.subject.platform or None
            todo.append((label, CYCLONEDX_BOM, load_json(doc.text, "the SBOM")))
        ctx["platform_of"] = platform_of
        check_result = ctx.get("check")
        if check_result is not None:
            todo += [(p.name, p.predicate_type, p.predicate)
                     for p in check_predicates(check_result) if p.predicate_type != OPENVEX]
        todo.append(("harden", SCCHECK_HARDEN, harden_predicate(ctx["harden"])))
        return todo

    def gate_step(_: Mapping[str, Any]) -> dict[str, Any]:
        """The policy's attestation rules on the evidence about to be signed: a rule that fails
        here would fail verify, so nothing is pushed."""
        ctx["evidence"] = evidence()
        build = ctx["build"]
        platform = str(build.images[0].platform) if build.images else "linux/amd64"
        outlook = forecast(policy, [(t, p) for _, t, p in ctx["evidence"]], build.digest, platform)
        if not outlook.passed:
            raise PolicyCannotPass(outlook, str(policy_path), "nothing was pushed or signed")
        return {"summary": f"policy {policy.name}: "
                           + (", ".join(v.rule for v in outlook.verdicts) or "no attestation rule")
                           + " pass on the evidence to sign",
                "rules": {v.rule: v.status for v in outlook.verdicts}}

    def attest_step(_: Mapping[str, Any]) -> dict[str, Any]:
        reference = ctx["reference"]
        todo = [(name, ptype, reference, predicate) for name, ptype, predicate in ctx["evidence"]]
        platform_of: dict[str, str | None] = ctx["platform_of"]

        def one(item: tuple[str, str, str, dict[str, Any]]) -> dict[str, Any]:
            name, ptype, target, predicate = item
            progress.info(f"attest/{name}: {ptype}")
            return {"name": name, **_signing(ptype, target, predicate, platform_of.get(name))}

        # Each attestation is its own Fulcio/Rekor/TSA round trip, mostly waiting on the log (a
        # Rekor v2 entry returns once a checkpoint covers it): all at once, results in order.
        workers = max(1, min(len(todo), MAX_ATTEST_WORKERS))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sccheck-attest") as pool:
            done = list(pool.map(one, todo))
        return {"summary": f"{len(done)} attestation(s)", "attestations": done}

    def verify_step(_: Mapping[str, Any]) -> dict[str, Any]:
        from supplychain.verify import verify_image

        report = verify_image(ctx["reference"], policy, trust_config=req.trust_config,
                              registry_options=req.registry_options, progress=_Prefixed(progress, "verify"))
        if not report.passed:
            failing = report.failures()
            raise VerificationFailed(
                f"the image fails the policy {policy.name}: " + ", ".join(r.rule for r in failing),
                expected=f"every rule of {policy_path} to pass",
                found=", ".join(f"{r.rule} {r.status}" for r in failing) + " (the rules below)",
                fix=f"run 'sccheck verify {ctx['reference']} --policy {policy_path}' for the details",
                facts={"rules": "\n".join(rule_lines(r.rule, r.status, r.expected, r.found, r.details)
                                          for r in failing)})
        return {"summary": f"policy {policy.name}: {len(report.results)} rule(s) passed",
                "policy": str(policy_path), "passed": True,
                "rules": {r.rule: r.status for r in report.results}}

    def promote_step(_: Mapping[str, Any]) -> dict[str, Any]:
        from supplychain.promote import VsaSigning, promote

        assert req.promote_to is not None
        result = promote(ctx["reference"], req.promote_to, policy, trust_config=req.trust_config,
                         registry_options=req.registry_options,
                         vsa=VsaSigning(identity_token=req.identity_token, key=req.key,
                                        key_password=req.key_password),
                         progress=_Prefixed(progress, "promote"))
        if not result.ok:
            raise VerificationFailed(f"promotion refused: {result.message}", found=result.status,
                                     fix="see the policy report of 'sccheck verify'")
        return {"summary": f"{result.status}: {result.destination}", "status": result.status,
                "destination": result.destination, "vsa": result.vsa_referrer}

    def check_step(_: Mapping[str, Any]) -> dict[str, Any]:
        out = _check_step(req, progress)
        ctx["check"] = out.pop("_result")
        return out

    steps = [
        Step("check", check_step, (), "go vet, staticcheck, govulncheck, race tests"),
        Step("build", build_step, (), f"{req.path} -> {layout}"),
        Step("sbom", sbom_step, ("build",), "CycloneDX per platform"),
        Step("profile", profile_step, ("build",), "seccomp and AppArmor profiles read from the binary"),
        Step("harden", harden_step, ("build", "profile"), "image lint, with the profiles' evidence"),
        # nothing leaves the machine until every local check has passed
        # the policy's rules on the evidence about to be signed, before anything is published
        Step("gate", gate_step, ("check", "sbom", "harden"), "policy on the evidence to sign"),
        Step("push", push_step, ("check", "sbom", "harden", "gate"), repo.name),
        Step("sign", sign_step, ("check", "sbom", "harden", "push"), "Sigstore"),
        Step("attest", attest_step, ("sign",), "provenance, SBOM, vulns, tests, hardening"),
        Step("verify", verify_step, ("attest",), str(policy_path)),
    ]
    if req.promote_to:
        steps.append(Step("promote", promote_step, ("verify",), req.promote_to))
    try:
        report = run(steps, progress=progress, max_workers=req.max_workers)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return PipelineResult(report, ctx.get("reference"), ctx["build"].digest if "build" in ctx else None)


def failed_result(report: RunReport) -> PipelineResult:
    """A result for a run that stopped (from `RunFailed.report`)."""
    reference = None
    push = report.steps.get("push")
    if push is not None and push.status == "ok" and isinstance(push.value, Mapping):
        reference = push.value.get("reference")
    build = report.steps.get("build")
    digest = build.value.get("digest") if build is not None and isinstance(build.value, Mapping) else None
    return PipelineResult(report, reference, digest)
