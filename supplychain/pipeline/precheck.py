"""Will the policy pass? Decided before anything is built, pushed or signed, as far as it can be.

`precheck(policy, plan)` is a pure function: `Plan` holds what is known before the run — who
will sign (the identity token's issuer and the subjects Fulcio can put in the certificate, or
the public key), whether the provenance will name a source commit, which predicate types the
configured steps attest, which platforms are built. Each policy rule gets a verdict:

- "pass": it will hold as far as the plan shows;
- "fail": it cannot hold — the run stops before any work, with nothing pushed or signed;
- "later": it depends on what the steps find (vulnerabilities, test results, the hardening
  report, the base image digest), and is judged after them.

`plan_signer()` reads the signer from the identity token's claims (never verified here: Fulcio
does that) or from the signing key; it is the only part that touches the outside.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from supplychain.errors import VerificationFailed
from supplychain.policy import model as m

Status = Literal["pass", "fail", "later"]
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


@dataclass(frozen=True)
class Signer:
    """Who the signatures will be by. Keyless: the token's issuer, the subjects the certificate
    may carry (e-mail, `sub`, or the GitHub workflow URI), and the GitHub claims Fulcio copies
    into it. Key: the public key (PEM)."""

    mode: Literal["keyless", "key"]
    source: str
    issuer: str = ""
    subjects: tuple[str, ...] = ()
    github: Mapping[str, str] = field(default_factory=dict)   # repository, workflowRef, ref, trigger
    public_key_pem: str = ""

    def describe(self) -> str:
        if self.mode == "key":
            return f"the key from {self.source}"
        return f"{' or '.join(self.subjects) or '?'} from issuer {self.issuer} ({self.source})"


@dataclass(frozen=True)
class Plan:
    signer: Signer | None                 # None: not known before signing
    commit: str | None                    # the commit the provenance will name
    dirty: bool                           # the checkout has uncommitted changes
    source_repositories: tuple[str, ...]  # as the policy sees them (normalised, o/r for GitHub)
    builder_id: str
    build_type: str
    predicate_types: frozenset[str]       # what sign + attest will attach
    platforms: tuple[str, ...]            # () = the build's default (linux/amd64)


@dataclass(frozen=True)
class Verdict:
    rule: str
    status: Status
    expected: str
    found: str
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "status": self.status, "expected": self.expected,
                "found": self.found, "fix": self.fix}


@dataclass(frozen=True)
class PrecheckReport:
    policy: str
    verdicts: tuple[Verdict, ...]
    notes: tuple[str, ...] = ()

    @property
    def failures(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.status == "fail")

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        by: dict[str, list[str]] = {}
        for v in self.verdicts:
            by.setdefault(v.status, []).append(v.rule)
        parts = [f"{', '.join(by[s])} {word}" for s, word in
                 (("fail", "cannot pass"), ("pass", "pass"), ("later", "judged after the steps"))
                 if s in by]
        return f"policy {self.policy}: " + "; ".join(parts)

    def to_dict(self) -> dict[str, object]:
        return {"policy": self.policy, "passed": self.passed,
                "verdicts": [v.to_dict() for v in self.verdicts], "notes": list(self.notes)}


_GITHUB_KEYS = (("repository", "repository"), ("workflowRef", "workflowRef"), ("ref", "ref"),
                ("trigger", "trigger"))


def _keyless_mismatch(ident: m.KeylessIdentity, signer: Signer) -> str | None:
    """None when the identity accepts the signer, else why not (in words)."""
    if ident.issuer != signer.issuer:
        return f"issuer {ident.issuer!r}, not {signer.issuer!r}"
    if not any(ident.subject.matches(s) for s in signer.subjects):
        return f"subject {ident.subject.describe()}, not {' or '.join(signer.subjects) or 'none'}"
    for name, pattern in ident.github.items() if ident.github else []:
        value = signer.github.get(name)
        if not pattern.matches(value):
            return f"GitHub claim {name} {pattern.describe()}, not {value!r}"
    return None


def _same_key(a: str, b: str) -> bool:
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        PublicFormat,
        load_pem_public_key,
    )

    def der(pem: str) -> bytes:
        return load_pem_public_key(pem.encode()).public_bytes(Encoding.DER,
                                                              PublicFormat.SubjectPublicKeyInfo)
    try:
        return der(a) == der(b)
    except ValueError:
        return False


def _identity(policy: m.Policy, signer: Signer | None, default_policy: bool) -> Verdict:
    allowed = "; ".join(i.describe() for i in policy.identities.children)
    if signer is None:
        return Verdict("identity", "later", allowed, "the signer is known only when signing")
    if signer.mode == "key":
        ok = any(isinstance(i, m.KeyIdentity) and _same_key(i.public_key_pem, signer.public_key_pem)
                 for i in policy.identities.children)
        fix = ("add the signing key's public key to the policy's identities "
               "(`- publicKey: |` with the PEM of the .pub file)")
        return Verdict("identity", "pass" if ok else "fail", allowed,
                       signer.describe() + ("" if ok else ", which the policy does not list"), fix)
    reasons = [why for i in policy.identities.children if isinstance(i, m.KeylessIdentity)
               if (why := _keyless_mismatch(i, signer)) is not None]
    keyless = [i for i in policy.identities.children if isinstance(i, m.KeylessIdentity)]
    if keyless and len(reasons) < len(keyless):
        return Verdict("identity", "pass", allowed, signer.describe())
    subject = signer.subjects[0] if signer.subjects else "SUBJECT"
    fix = (f"get a policy for this signer: sccheck policy init --identity '{subject}' --issuer "
           f"'{signer.issuer}' > policy.yaml, review it, and pass --policy policy.yaml")
    found = signer.describe()
    if default_policy and any(i.issuer == GITHUB_ISSUER for i in keyless):
        found += ("; the default policy (policies/default.yaml) expects the GitHub Actions issuer "
                  f"{GITHUB_ISSUER} (sccheck's reusable workflow), so a local or dev-stack "
                  "signature can never pass it")
    elif reasons:
        found += "; the policy wants " + "; or ".join(reasons)
    else:
        found += "; the policy lists only public keys"
    return Verdict("identity", "fail", allowed, found, fix)


def _provenance(rule: m.ProvenanceRule, plan: Plan) -> Verdict:
    wants: list[str] = []
    problems: list[str] = []
    fixes: list[str] = []
    if rule.commit_present:
        wants.append("a source commit")
        if not plan.commit:
            problems.append("the source is not in a git checkout with a commit, so the provenance "
                            "will name no commit")
            fixes.append("build from a git checkout (git init && git add -A && git commit), or drop "
                         "attestations.provenance.commitPresent from the policy")
    checks = (("builder id", rule.builder_id, (plan.builder_id,)),
              ("source repository", rule.source_repository, plan.source_repositories),
              ("build type", rule.build_type, (plan.build_type,)))
    for what, pattern, values in checks:
        if pattern is None:
            continue
        wants.append(f"{what} {pattern.describe()}")
        if not any(pattern.matches(v) for v in values):
            problems.append(f"the {what} will be {' or '.join(values) or 'none'}")
            fixes.append(f"run where the {what} matches, or change the policy's provenance rule")
    if m.PREDICATE_SLSA not in plan.predicate_types:
        problems.append("no provenance will be attested")
    expected = "provenance with " + ", ".join(wants) if wants else "SLSA provenance"
    if problems:
        return Verdict("provenance", "fail", expected, "; ".join(problems), "; ".join(fixes))
    found = f"commit {plan.commit[:12]}" if plan.commit else "provenance"
    return Verdict("provenance", "pass", expected, found)


_LATER = {
    m.VulnerabilityRule: "the vulnerability scan's findings",
    m.TestResultRule: "the test results",
    m.HardenRule: "the hardening report",
}
_PRODUCER = {
    m.PREDICATE_VULN: "the vuln check (check.only must include vuln)",
    m.PREDICATE_TEST: "vet, staticcheck or the race tests (check.only)",
}


def precheck(policy: m.Policy, plan: Plan, *, default_policy: bool = False) -> PrecheckReport:
    """A verdict for every rule of the policy, from the plan alone (no I/O)."""
    verdicts = [_identity(policy, plan.signer, default_policy)]
    for rule in policy.requirements.children:
        if isinstance(rule, m.SignatureRule):
            verdicts.append(Verdict("signature", "pass", "a verified signature"
                                    + (" on every platform" if rule.every_platform else ""),
                                    "signed by the sign step (index and every platform)"))
        elif isinstance(rule, m.ProvenanceRule):
            verdicts.append(_provenance(rule, plan))
        elif isinstance(rule, m.SbomRule):
            made = m.PREDICATE_SBOM in plan.predicate_types
            verdicts.append(Verdict("sbom", "pass" if made else "fail", "a CycloneDX SBOM per platform",
                                    "one per platform" if made else "no SBOM will be attested"))
        elif isinstance(rule, m.VulnerabilityRule | m.TestResultRule | m.HardenRule):
            kind = type(rule)
            if rule.predicate_type in plan.predicate_types:
                verdicts.append(Verdict(rule.name, "later", f"{rule.name} to pass",
                                        f"known after {_LATER[kind]}"))
            else:
                producer = _PRODUCER.get(rule.predicate_type, "a step of this run")
                verdicts.append(Verdict(rule.name, "fail", f"a {rule.predicate_type} attestation",
                                        "the configured steps attest none",
                                        f"enable {producer}, or drop the rule from the policy"))
        elif isinstance(rule, m.PlatformsRule):
            built = plan.platforms or ("linux/amd64",)
            missing = [p for p in rule.required if p not in built]
            verdicts.append(Verdict("platforms", "fail" if missing else "pass",
                                    "platforms " + ", ".join(rule.required), "built: " + ", ".join(built),
                                    f"build --platform {','.join(rule.required)}" if missing else ""))
        elif isinstance(rule, m.BaseImageRule):
            verdicts.append(Verdict("base-image", "later", "an allowed base image",
                                    "known after the build resolves the base"))
    notes = []
    if plan.dirty and plan.commit:
        notes.append(f"the checkout has uncommitted changes: the provenance names commit "
                     f"{plan.commit[:12]}, which is not exactly what is built")
    return PrecheckReport(policy.name, tuple(verdicts), tuple(notes))


def signer_from_claims(claims: Mapping[str, object], source: str) -> Signer:
    """The signer Fulcio will certify for a token with these claims: the e-mail for e-mail
    issuers, the workflow URI for GitHub Actions tokens, else the subject."""
    def text(name: str) -> str:
        value = claims.get(name)
        return value if isinstance(value, str) else ""

    subjects: list[str] = []
    github: dict[str, str] = {}
    if text("job_workflow_ref"):
        server = text("server_url") or "https://github.com"
        subjects.append(f"{server}/{text('job_workflow_ref')}")
        github = {"repository": text("repository"), "workflowRef": text("job_workflow_ref"),
                  "ref": text("ref"), "trigger": text("event_name")}
    for name in ("email", "sub"):
        if text(name) and text(name) not in subjects:
            subjects.append(text(name))
    return Signer("keyless", source, issuer=text("iss"), subjects=tuple(subjects),
                  github={k: v for k, v in github.items() if v})


def plan_signer(identity_token: str | None, key: str | None, key_password: str | None) -> Signer:
    """Who will sign: the key's public half, or the identity token's claims (the token is read
    as signing will read it, and never kept or shown)."""
    if key:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        from supplychain.signing.keys import load_signing_key, password_from_env

        private = load_signing_key(key, key_password if key_password is not None else password_from_env())
        pem = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        return Signer("key", key, public_key_pem=pem.decode())
    from supplychain.signing.tokens import resolve_identity_token

    token = resolve_identity_token(identity_token)
    return signer_from_claims(token.claims, token.source)


class PolicyCannotPass(VerificationFailed):
    """A run stopped before any work because its policy cannot pass (exit 1). `--json` carries
    the whole precheck under `precheck`; people read the rule table."""

    kind = "policy cannot pass"

    def __init__(self, report: PrecheckReport, policy_path: str,
                 nothing: str = "nothing was built, pushed or signed") -> None:
        failures = report.failures
        table = "\n".join(f"{v.rule:<16} {v.status:<5} {v.found}" for v in report.verdicts)
        super().__init__(
            f"the policy {report.policy} cannot pass for this run "
            f"({', '.join(v.rule for v in failures)}): {nothing}",
            expected="every rule of the policy able to pass: " + "; ".join(
                f"{v.rule}: {v.expected}" for v in failures),
            found=", ".join(f"{v.rule} cannot pass" for v in failures) + " (the rules below)",
            fix="; ".join(dict.fromkeys(v.fix for v in failures if v.fix))
            or f"change the run or the policy {policy_path}",
            facts={"policy": policy_path, "rules": table})
        self.report = report

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"precheck": self.report.to_dict()}


_JUDGED_LOCALLY = (m.ProvenanceRule, m.SbomRule, m.VulnerabilityRule, m.TestResultRule, m.HardenRule)
_FIXES = {
    "vulnerabilities": "upgrade the vulnerable modules, or allowlist the ids in the policy "
                       "(attestations.vulnerabilities.allow, with a reason and an expiry); a "
                       "check.suppress entry does not change the policy's verdict",
    "tests": "make the tests pass (a failing check finding is a failed test in the attestation)",
    "harden": "fix the hardening findings of the image",
}


def forecast(policy: m.Policy, predicates: Sequence[tuple[str, Mapping[str, Any]]], digest: str,
             platform: str, now: dt.datetime | None = None) -> PrecheckReport:
    """The policy's attestation rules judged by `verify`'s own evaluation on the predicates the
    run is about to sign (`(predicate type, predicate)` pairs), before anything is pushed.

    Only what the predicates say is judged here (content, not signatures or placement): the
    identity was judged by `precheck`, and `verify` still judges the signed evidence."""
    from supplychain.policy.evaluate import evaluate
    from supplychain.policy.evidence import ImageEvidence, ManifestFacts, VerifiedStatement
    from supplychain.policy.evidence import Signer as EvidenceSigner

    statements = tuple(
        VerifiedStatement(bundle_digest="(not signed yet)", attached_to=digest, predicate_type=ptype,
                          subjects=(digest,), signer=EvidenceSigner("keyless"), predicate=dict(body))
        for ptype, body in predicates)
    evidence = ImageEvidence(reference=digest, digest=digest, is_index=False,
                             manifests=(ManifestFacts(digest, platform),), statements=statements)
    from supplychain.policy.chain import evaluate_chain

    local = [r for r in policy.requirements.children if isinstance(r, _JUDGED_LOCALLY)]
    results = list(evaluate(replace(policy, requirements=m.AllOf(tuple(local)), steps=None), evidence,
                            now).results) if local else []
    if policy.steps is not None:
        # the links and the artifact rules between the steps; who signed them and the pushed
        # image's own artifacts (the `image` step) are verify's to judge
        steps = replace(policy.steps, image=None)
        results.append(evaluate_chain(replace(policy, steps=steps), evidence, signers_judged=False))
    if not results:
        return PrecheckReport(policy.name, ())
    verdicts = tuple(
        Verdict(r.rule, "pass" if r.passed else "fail", r.expected,
                r.found if r.passed else "; ".join(dict.fromkeys([r.found, *r.details]))
                .replace(" (bundle (not signed yet)…)", ""),
                "" if r.passed else _FIXES.get(r.rule, "change the run or the policy"))
        for r in results)
    return PrecheckReport(policy.name, verdicts)
