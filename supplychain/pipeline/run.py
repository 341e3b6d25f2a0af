"""`build-and-sign`: the whole chain, one function per step, wired by the table in `STEPS`.

    check ─────────────────────────────┐
    build ─┬─ sbom ───────────────────┤
           ├─ profile ── harden ──────┼── gate ── push ── sign ── attest ── verify ── [promote]

Nothing leaves the machine until check, sbom and harden have passed and the policy's rules hold
on the evidence about to be signed (gate); nothing is signed unless every piece of evidence
exists. Independent steps run concurrently. Each step is a function
`(run, <the results it uses>) -> its typed result` (pipeline/results.py); the runner hands the
results on by name.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supplychain.analyzers.model import TOOLS
from supplychain.attest import vocabulary as v
from supplychain.attest.testresult import TOOL_URIS
from supplychain.errors import CheckFailed, ToolFailed, UsageError, VerificationFailed
from supplychain.gomodule import find_module_root
from supplychain.image.reference import ImageRef, parse_image_ref
from supplychain.pipeline.config import PipelineRequest
from supplychain.pipeline.links import LINKED_STEPS, LinkBook, recorded
from supplychain.pipeline.precheck import (
    Plan,
    PolicyCannotPass,
    forecast,
    plan_signer,
    precheck,
)
from supplychain.pipeline.provenance import SourceFacts, provenance, source_facts
from supplychain.pipeline.report import (
    PipelineFailed,
    PipelineResult,
    report_path,
    to_dict,
    write_github,
    write_report,
)
from supplychain.pipeline.results import (
    Attestation,
    AttestOut,
    BuildOut,
    CheckOut,
    Evidence,
    GateOut,
    HardenOut,
    Pinned,
    ProfileOut,
    PromoteOut,
    PushOut,
    SbomOut,
    SignOut,
    VerifyOut,
)
from supplychain.pipeline.steps import RunFailed, Step, run
from supplychain.policy.model import Policy
from supplychain.progress import Progress, SilentProgress
from supplychain.source import git, go_version
from supplychain.strictdoc import load_json

# Inside the package, so an installed wheel has it (in a checkout: a link to policies/default.yaml).
DEFAULT_POLICY = Path(__file__).resolve().parent.parent / "policies" / "default.yaml"
MAX_ATTEST_WORKERS = 8


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


@dataclass(frozen=True)
class Run:
    """What every step may read: the request, settled once before any work starts."""

    request: PipelineRequest
    repo: ImageRef
    tag: str | None
    policy: Policy
    policy_path: Path
    layout: Path
    profiles: Path                  # where the profile step writes (--profiles-dir, else the work dir)
    source: SourceFacts
    go_version: str
    started: dt.datetime
    progress: Progress
    links: LinkBook = field(default_factory=LinkBook)   # each step's in-toto link, as it finishes

    def inner(self, step: str) -> Progress:
        return _Prefixed(self.progress, step)

    def signing(self) -> dict[str, Any]:
        r = self.request
        return {"trust_config": r.trust_config, "identity_token": r.identity_token, "key": r.key,
                "key_password": r.key_password, "registry_options": r.registry_options}


# --- the steps ---------------------------------------------------------------------------------

def check_step(run: Run) -> CheckOut:
    from supplychain.analyzers import CheckRequest, FailOn, check

    req, cfg = run.request, run.request.check_settings
    root = find_module_root(req.path)[0]          # PATH may be a main package inside the module
    result = check(CheckRequest(path=root, tools=req.check_tools, vuln_db=req.vuln_db,
                                fail_on=FailOn.parse(req.fail_on), packages=cfg.packages,
                                tests=cfg.tests, severities=cfg.severities, suppress=cfg.suppress,
                                baseline=Path(cfg.baseline) if cfg.baseline else None), run.inner("check"))
    for note in result.notes:
        run.progress.info(f"check: note: {note}")
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
    return CheckOut(result)


def build_step(run: Run) -> BuildOut:
    from supplychain.build import BuildRequest, PublishTarget, build, publish
    from supplychain.image.layout import OCILayout

    req = run.request
    result = build(BuildRequest(req.path, base=req.base, platforms=req.platforms, version=req.version,
                                settings=req.build_settings, registry=req.registry_options),
                   run.inner("build"))
    publish(result, PublishTarget(output=f"oci:{run.layout}", tag=run.tag or "latest"))
    ref = parse_image_ref(f"oci:{run.layout}").with_digest(result.digest)
    return BuildOut(result, Pinned(ref, OCILayout(str(run.layout))), dt.datetime.now(dt.UTC))


def sbom_step(run: Run, build: BuildOut) -> SbomOut:
    from supplychain.sbom.generate import image_sboms

    return SbomOut(tuple(image_sboms(build.image.store, build.image.ref, progress=run.inner("sbom"))))


def profile_step(run: Run, build: BuildOut) -> ProfileOut:
    from supplychain.harden.profile import make_profiles

    made = make_profiles(build.image.ref, output_dir=str(run.profiles), store=build.image.store,
                         name=run.repo.repository.rsplit("/", 1)[-1], progress=run.inner("profile"))
    return ProfileOut(made, str(run.profiles) if run.request.profiles_dir else None)


def harden_step(run: Run, build: BuildOut, profile: ProfileOut) -> HardenOut:
    from supplychain.harden.imagecheck import run_check

    report = run_check(build.image.ref, threshold=run.request.harden_threshold,
                       profiles_dir=profile.made.output_dir, store=build.image.store)
    if not report.passed:
        shown = [f"{f.rule} {f.path or ''}: {f.message}" for f in report.failing[:10]]
        raise CheckFailed(f"the image has {len(report.failing)} hardening finding(s) at or above "
                          f"{report.threshold}", expected="a clean image", found="\n".join(shown),
                          fix="run 'sccheck harden check' on the layout; nothing was signed")
    return HardenOut(report)


def push_step(run: Run, build: BuildOut) -> PushOut:
    from supplychain.copy import copy_image
    from supplychain.stores import open_store

    dst = open_store(run.repo, run.request.registry_options)
    copied = copy_image(build.image.store, build.image.digest, dst, run.tag, progress=run.inner("push"))
    return PushOut(Pinned(run.repo.with_digest(build.image.digest), dst), run.tag, copied)


def sign_step(run: Run, push: PushOut) -> SignOut:
    from supplychain.signing import sign_image

    return SignOut(sign_image(push.image.ref, **run.signing()))


Produce = Callable[[Run, CheckOut, BuildOut, SbomOut, HardenOut], list[Evidence]]


@dataclass(frozen=True)
class EvidenceSpec:
    """One kind of attestation build-and-sign makes: `made` says, before any work, whether a run
    with these check tools makes it (the precheck); `produce` makes it from the steps' results."""

    predicate_type: str
    made: Callable[[frozenset[str]], bool]
    produce: Produce


def _provenance_evidence(run: Run, check: CheckOut, build: BuildOut, sbom: SbomOut,
                         harden: HardenOut) -> list[Evidence]:
    predicate = provenance(Path(run.request.path), run.source, build.result, run.go_version,
                           run.started, build.finished)
    return [Evidence("provenance", v.SLSA_PROVENANCE, predicate)]


def _sbom_evidence(run: Run, check: CheckOut, build: BuildOut, sbom: SbomOut,
                   harden: HardenOut) -> list[Evidence]:
    return [Evidence(f"sbom {doc.subject.platform or ''}".strip(), v.CYCLONEDX_BOM,   # one per platform
                     load_json(doc.text, "the SBOM"), doc.subject.platform or None) for doc in sbom.documents]


def _check_evidence(predicate_type: str) -> Produce:
    def produce(run: Run, check: CheckOut, build: BuildOut, sbom: SbomOut,
                harden: HardenOut) -> list[Evidence]:
        from supplychain.attest.check import check_predicates

        return [Evidence(p.name, p.predicate_type, p.predicate)
                for p in check_predicates(check.result) if p.predicate_type == predicate_type]
    return produce


def _openvex_evidence(run: Run, check: CheckOut, build: BuildOut, sbom: SbomOut,
                      harden: HardenOut) -> list[Evidence]:
    from supplychain.attest.openvex import image_purl, openvex_predicate

    out = []
    for image in build.result.images:    # one per platform image, naming it by purl
        vex = openvex_predicate(check.result, product=image_purl(run.repo.name, image.descriptor.digest))
        if vex is not None:
            out.append(Evidence(f"openvex {image.platform}", v.OPENVEX, vex, str(image.platform)))
    return out


def _harden_evidence(run: Run, check: CheckOut, build: BuildOut, sbom: SbomOut,
                     harden: HardenOut) -> list[Evidence]:
    from supplychain.attest.harden import harden_predicate

    return [Evidence("harden", v.SCCHECK_HARDEN, harden_predicate(harden.report))]


def _link_evidence(run: Run, check: CheckOut, build: BuildOut, sbom: SbomOut,
                   harden: HardenOut) -> list[Evidence]:
    from supplychain.attest.link import link_predicate

    # the chain: one in-toto link per step that has run (check, build, sbom, harden)
    return [Evidence(f"link {r.name}", v.INTOTO_LINK, link_predicate(r))
            for r in run.links.records(LINKED_STEPS)]


def _always(tools: frozenset[str]) -> bool:
    return True


def _with_vuln(tools: frozenset[str]) -> bool:
    return "vuln" in tools


# Every attestation build-and-sign makes, in order: `evidence()` makes them and
# `planned_predicates()` tells the precheck which types a run will attach.
EVIDENCE: tuple[EvidenceSpec, ...] = (
    EvidenceSpec(v.SLSA_PROVENANCE, _always, _provenance_evidence),
    EvidenceSpec(v.CYCLONEDX_BOM, _always, _sbom_evidence),
    EvidenceSpec(v.COSIGN_VULN, _with_vuln, _check_evidence(v.COSIGN_VULN)),
    EvidenceSpec(v.TEST_RESULT, lambda tools: bool(tools & set(TOOL_URIS)), _check_evidence(v.TEST_RESULT)),
    EvidenceSpec(v.OPENVEX, _with_vuln, _openvex_evidence),
    EvidenceSpec(v.SCCHECK_HARDEN, _always, _harden_evidence),
    EvidenceSpec(v.INTOTO_LINK, _always, _link_evidence),
)


def evidence(run: Run, check: CheckOut, build: BuildOut, sbom: SbomOut, harden: HardenOut) -> list[Evidence]:
    """Every attestation build-and-sign makes, in order (the rows of EVIDENCE)."""
    return [e for spec in EVIDENCE for e in spec.produce(run, check, build, sbom, harden)]


def planned_predicates(check_tools: tuple[str, ...]) -> frozenset[str]:
    """The predicate types build-and-sign attaches, given the check tools it runs (() = all):
    the signature, and each row of EVIDENCE that such a run makes."""
    tools = frozenset(check_tools or TOOLS)
    return frozenset({v.COSIGN_SIGN, *(spec.predicate_type for spec in EVIDENCE if spec.made(tools))})


def gate_step(run: Run, check: CheckOut, build: BuildOut, sbom: SbomOut, harden: HardenOut) -> GateOut:
    """The policy's attestation rules on the evidence about to be signed, judged by verify's own
    evaluation: a rule that fails here would fail verify, so nothing is pushed."""
    todo = tuple(evidence(run, check, build, sbom, harden))
    images = build.result.images
    platform = str(images[0].platform) if images else "linux/amd64"
    outlook = forecast(run.policy, [(e.predicate_type, e.predicate) for e in todo], build.result.digest,
                       platform)
    if not outlook.passed:
        raise PolicyCannotPass(outlook, str(run.policy_path), "nothing was pushed or signed")
    return GateOut(todo, outlook, run.policy.name)


def attest_step(run: Run, gate: GateOut, push: PushOut) -> AttestOut:
    from supplychain.signing import attest_image

    def one(item: Evidence) -> Attestation:
        run.progress.info(f"attest/{item.name}: {item.predicate_type}")
        return Attestation(item.name, attest_image(push.image.ref, item.predicate_type, item.predicate,
                                                   platform=item.platform, **run.signing()))

    # Each attestation is its own Fulcio/Rekor/TSA round trip, mostly waiting on the log (a
    # Rekor v2 entry returns once a checkpoint covers it): all at once, results in order.
    workers = max(1, min(len(gate.evidence), MAX_ATTEST_WORKERS))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sccheck-attest") as pool:
        return AttestOut(tuple(pool.map(one, gate.evidence)))


def verify_step(run: Run, push: PushOut) -> VerifyOut:
    from supplychain.verify import verify_image

    req = run.request
    report = verify_image(push.image.ref, run.policy, trust_config=req.trust_config,
                          registry_options=req.registry_options, progress=run.inner("verify"))
    if not report.passed:
        failing = report.failures()
        raise VerificationFailed(
            f"the image fails the policy {run.policy.name}: " + ", ".join(r.rule for r in failing),
            expected=f"every rule of {run.policy_path} to pass",
            found=", ".join(f"{r.rule} {r.status}" for r in failing) + " (the rules below)",
            fix=f"run 'sccheck verify {push.image.reference} --policy {run.policy_path}' for the details",
            facts={"rules": "\n".join(rule_lines(r.rule, r.status, r.expected, r.found, r.details)
                                      for r in failing)})
    return VerifyOut(report, str(run.policy_path))


def promote_step(run: Run, push: PushOut) -> PromoteOut:
    from supplychain.promote import VsaSigning, promote

    req = run.request
    assert req.promote_to is not None
    result = promote(push.image.reference, req.promote_to, run.policy, trust_config=req.trust_config,
                     registry_options=req.registry_options,
                     vsa=VsaSigning(identity_token=req.identity_token, key=req.key,
                                    key_password=req.key_password),
                     progress=run.inner("promote"))
    if not result.ok:
        raise VerificationFailed(f"promotion refused: {result.message}", found=result.status,
                                 fix="see the policy report of 'sccheck verify'")
    return PromoteOut(result)


# --- the table ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class StepSpec:
    """One row: the step's function, the results it is handed (`uses`), and what must have
    finished before it starts (`after`, besides what it uses)."""

    name: str
    fn: Callable[..., Any]
    uses: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    title: Callable[[Run], str] = lambda _run: ""

    @property
    def needs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.uses + self.after))


_LOCAL_CHECKS = ("check", "sbom", "harden")
STEPS: tuple[StepSpec, ...] = (
    StepSpec("check", check_step, title=lambda r: "go vet, staticcheck, govulncheck, race tests"),
    StepSpec("build", build_step, title=lambda r: f"{r.request.path} -> {r.layout}"),
    StepSpec("sbom", sbom_step, ("build",), title=lambda r: "CycloneDX per platform"),
    StepSpec("profile", profile_step, ("build",),
             title=lambda r: "seccomp and AppArmor profiles read from the binary"),
    StepSpec("harden", harden_step, ("build", "profile"),
             title=lambda r: "image lint, with the profiles' evidence"),
    # the policy's rules on the evidence about to be signed, before anything is published
    StepSpec("gate", gate_step, ("check", "build", "sbom", "harden"),
             title=lambda r: "policy on the evidence to sign"),
    # nothing leaves the machine until every local check and the gate have passed
    StepSpec("push", push_step, ("build",), (*_LOCAL_CHECKS, "gate"), title=lambda r: r.repo.name),
    StepSpec("sign", sign_step, ("push",), _LOCAL_CHECKS, title=lambda r: "Sigstore"),
    StepSpec("attest", attest_step, ("gate", "push"), ("sign",),
             title=lambda r: "provenance, SBOM, vulns, tests, hardening"),
    StepSpec("verify", verify_step, ("push",), ("attest",), title=lambda r: str(r.policy_path)),
    StepSpec("promote", promote_step, ("push",), ("verify",), title=lambda r: r.request.promote_to or ""),
)


def steps_for(run: Run, table: tuple[StepSpec, ...] | None = None) -> list[Step]:
    """The runner's steps for this run: each row's function bound to the run and handed the
    results it uses, its in-toto link recorded around it (pipeline/links.py); `promote` only
    when there is somewhere to promote to."""

    def bind(spec: StepSpec) -> Callable[[Mapping[str, Any]], Any]:
        return lambda values: recorded(spec.name, run, spec.fn, tuple(values[u] for u in spec.uses))

    return [Step(s.name, bind(s), s.needs, s.title(run)) for s in (STEPS if table is None else table)
            if s.name != "promote" or run.request.promote_to]


# --- the run -----------------------------------------------------------------------------------

def prepare(req: PipelineRequest, progress: Progress, layout: Path) -> Run:
    """Every usage error before any work: the repository, the policy, the module."""
    from supplychain.policy.loader import load_policy

    repo = parse_image_ref(req.repo)
    if repo.is_layout or repo.digest:
        raise UsageError(f"--repo {req.repo} is not a registry repository",
                         expected="host/repo (a tag is taken from --tag)", found=req.repo,
                         fix="e.g. --repo 127.0.0.1:5000/team/hello")
    policy_path = Path(req.policy) if req.policy else DEFAULT_POLICY
    policy = load_policy(policy_path)
    if req.promote_to:
        parse_image_ref(req.promote_to)
    find_module_root(req.path)
    req.build_settings.validate()
    if req.build_settings.cgo:       # refused now, not after the check step has run
        from supplychain.build.cgo import cgo_precheck
        from supplychain.build.daemonless import build_platforms

        cgo_precheck(req.base, build_platforms(req.platforms))
    source = source_facts(Path(req.path), os.environ)
    gate_early(req, source, policy, str(policy_path), progress)
    profiles = Path(req.profiles_dir) if req.profiles_dir else layout.parent / "profiles"
    return Run(req, repo, req.tag or repo.tag, policy, policy_path, layout, profiles, source,
               go_version(req.path), dt.datetime.now(dt.UTC), progress)


def rule_lines(rule: str, status: str, expected: str, found: str, details: tuple[str, ...] = ()) -> str:
    """One policy rule for people: its verdict, what it expected, what it found, why (≤ 5 lines)."""
    lines = [f"{rule}: {status}", f"  expected: {expected}", f"  found:    {found}"]
    return "\n".join(lines + [f"  - {d}" for d in details[:5]])


def plan(req: PipelineRequest, facts: SourceFacts) -> Plan:
    """What the run will show the policy, as known before it starts (pipeline/precheck.py)."""
    from supplychain.attest.slsa import DEFAULT_BUILDER_ID, SCCHECK_BUILD_TYPE, normalize_repository

    path = Path(req.path)
    repos = [normalize_repository(facts.source or f"file://{path.resolve()}")]
    repos += [r.removeprefix("https://github.com/") for r in repos if r.startswith("https://github.com/")]
    return Plan(signer=plan_signer(req.identity_token, req.key, req.key_password),
                commit=facts.commit, dirty=git(path, "status", "--porcelain") is not None,
                source_repositories=tuple(repos), builder_id=facts.builder or DEFAULT_BUILDER_ID,
                build_type=SCCHECK_BUILD_TYPE, predicate_types=planned_predicates(req.check_tools),
                platforms=req.platforms)


def gate_early(req: PipelineRequest, facts: SourceFacts, policy: Policy, policy_path: str,
               progress: Progress) -> None:
    """Stop before any work when the policy cannot pass (PolicyCannotPass, exit 1)."""
    report = precheck(policy, plan(req, facts), default_policy=req.policy is None)
    if not report.passed:
        raise PolicyCannotPass(report, policy_path)
    progress.info(f"precheck: {report.summary()}")
    for note in report.notes:
        progress.info(f"precheck: note: {note}")


def build_and_sign(req: PipelineRequest, progress: Progress | None = None) -> PipelineResult:
    """Run the chain. A step that fails stops it: raises `PipelineFailed` (an `Error`) carrying
    the partial result, its JSON report saved (`request.report_file`, else a new file under the
    temporary directory). GitHub Actions outputs are written either way; the report of a run
    that passed is saved when `report_file` is given."""
    progress = progress or SilentProgress()
    work = Path(tempfile.mkdtemp(prefix="sccheck-pipeline-"))
    try:
        run_ = prepare(req, progress, work / "oci")
        try:
            result = PipelineResult(run(steps_for(run_), progress=progress, max_workers=req.max_workers))
        except RunFailed as stopped:
            failed = PipelineResult(stopped.report, stopped.error)
            write_github(failed)
            error = PipelineFailed(failed)
            error.saved = write_report(error.to_dict(), report_path(req.report_file))
            raise error from None
        write_github(result)
        if req.report_file:
            write_report(to_dict(result), report_path(req.report_file))
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)
