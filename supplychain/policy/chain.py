"""The policy's `steps:` rule: the in-toto chain from the checked source to the running image.

Judged for every runnable image on its own, from the verified link statements attached to it and
naming it (the verdict rule of docs/signing.md). For each step of the layout the newest link by
an allowed signer is taken; a step without one fails (missing, or signed by someone the layout
does not allow). The artifact rules are then run by in-toto's own rule engine
(`in_toto.verifylib.verify_item_rules`) over those links plus the image itself, a link named
`image` whose products are the image's digests (`image/index`, `image/<platform>/manifest`,
`image/<platform>/layer/<n>`). A broken rule is explained with the step, the artifact, and both
digests where a MATCH found the other side different.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Mapping
from typing import Any

from supplychain.attest.link import read_link
from supplychain.policy import model as m
from supplychain.policy.evaluate import FAIL, NO_EVIDENCE, PASS, RuleResult
from supplychain.policy.evidence import ImageEvidence, Signer, VerifiedStatement

# in-toto's rule engine keeps its trace in a module-level dict.
_RULES = threading.Lock()


def image_artifacts(ev: ImageEvidence, target: str) -> dict[str, dict[str, str]]:
    """The products of the `image` link for one runnable image: the index (when there is one),
    that image's manifest, its layers, and the binaries of its top layer when they were read."""
    out: dict[str, dict[str, str]] = {}
    if ev.is_index:
        out["image/index"] = _hash(ev.digest)
    for mf in ev.manifests:
        if mf.digest != target:
            continue
        out[f"image/{mf.platform}/manifest"] = _hash(mf.digest)
        for n, layer in enumerate(mf.layers):
            out[f"image/{mf.platform}/layer/{n}"] = _hash(layer)
        for name, sha in mf.binaries:
            out[name] = {"sha256": sha}
    return out


def _hash(digest: str) -> dict[str, str]:
    alg, _, hexpart = digest.partition(":")
    return {alg: hexpart}


def signer_allowed(ident: m.Identity, signer: Signer, policy: m.Policy) -> bool:
    """Whether a verified link's signer is this identity (the forms of `identities`)."""
    if isinstance(ident, m.KeyIdentity):
        known = [k for k in policy.identities.children
                 if isinstance(k, m.KeyIdentity) and k.name == signer.key_name]
        return signer.kind == "key" and any(k.public_key_pem.strip() == ident.public_key_pem.strip()
                                            for k in known)
    if signer.kind != "keyless" or signer.issuer != ident.issuer or not ident.subject.matches(signer.subject):
        return False
    claims = {"repository": "repository", "workflowRef": "workflow_ref", "ref": "ref", "trigger": "trigger"}
    wanted = ident.github.items() if ident.github else []
    return all(p.matches(signer.claims.get(claims[k])) for k, p in wanted)


def _pick(step: m.ChainStep, links: list[VerifiedStatement], policy: m.Policy, signers_judged: bool
          ) -> tuple[VerifiedStatement | None, str]:
    """The newest link of `step` by an allowed signer, or why there is none."""
    own = [s for s in links if s.predicate.get("name") == step.name]
    if not own:
        return None, f"step {step.name}: no verified link"
    if not signers_judged:
        return own[-1], ""
    signers = step.signers or policy.identities.children     # default: whoever the policy trusts
    allowed = [s for s in own if any(signer_allowed(i, s.signer, policy) for i in signers)]
    if not allowed:
        who = ", ".join(sorted({s.signer.describe() for s in own}))
        wants = "; ".join(i.describe() for i in signers)
        return None, f"step {step.name}: the link is signed by {who}, the layout allows only {wants}"
    return max(allowed, key=lambda s: s.signed_at.timestamp() if s.signed_at else 0.0), ""


def _explain(step: str, kind: str, rules: tuple[str, ...], links: Mapping[str, Any], error: str,
             left: list[str]) -> list[str]:
    """Each artifact a rule left unmatched: which step, which artifact, and for a MATCH what the
    other step recorded under that name (expected) against this step's digest (found)."""
    own = getattr(links[step], kind)
    out = [f"step {step}, {kind}: {error}"]
    for name in sorted(left)[:20]:
        found = own.get(name, {}).get("sha256", "?")
        line = f"step {step}, {kind} {name}: sha256:{found}"
        for rule in rules:
            parts = rule.split()
            if (parts[0] == "MATCH" and len(parts) >= 6 and parts[-2] == "FROM"
                    and fnmatch.fnmatchcase(name, parts[1])):
                other, other_kind = parts[-1], parts[-3].lower()
                theirs = getattr(links[other], other_kind, {}).get(name) if other in links else None
                if theirs is not None:
                    line += f"; expected sha256:{theirs.get('sha256', '?')} from the {other_kind} of {other}"
                elif other in links:
                    line += f"; {other}'s {other_kind} have no {name}"
        out.append(line)
    return out


def _run_rules(layout: m.ChainLayout, links: dict[str, Any]) -> list[str]:
    from in_toto.exceptions import RuleVerificationError
    from in_toto.verifylib import RULE_TRACE, verify_item_rules

    problems: list[str] = []
    items = list(layout.steps) + ([layout.image] if layout.image else [])
    for item in items:
        for kind, rules in (("materials", item.materials), ("products", item.products)):
            if not rules or item.name not in links:
                continue
            with _RULES:
                try:
                    verify_item_rules(item.name, kind, [r.split() for r in rules], links)
                    continue
                except RuleVerificationError as exc:
                    # the queue before the rule that failed: what no earlier rule consumed
                    trace = RULE_TRACE.get("trace") or []
                    left = list(trace[-1]["queue"]) if trace else list(getattr(links[item.name], kind))
                    error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            problems += _explain(item.name, kind, rules, links, error, left)
    return problems


def _one(layout: m.ChainLayout, policy: m.Policy, ev: ImageEvidence, target: str, signers_judged: bool
         ) -> tuple[list[str], list[str], set[str]]:
    """(missing-step problems, rule problems, bundles used) for one runnable image."""
    from in_toto.models.link import Link

    mine = [s for s in ev.statements if s.predicate_type == layout.predicate_type and s.covers(target)]
    label = f"{ev.label(target)}: " if ev.is_index else ""
    missing: list[str] = []
    links: dict[str, Any] = {}
    used: set[str] = set()
    for step in layout.steps:
        chosen, why = _pick(step, mine, policy, signers_judged)
        if chosen is None:
            missing.append(label + why)
            continue
        try:
            links[step.name] = read_link(chosen.predicate)
        except ValueError as exc:
            missing.append(f"{label}step {step.name}: the link is unreadable: {exc}")
            continue
        used.add(chosen.bundle_digest)
    links[m.IMAGE_STEP] = Link(name=m.IMAGE_STEP, products=image_artifacts(ev, target))
    problems = [] if missing else [label + p for p in _run_rules(layout, links)]
    return missing, problems, used


def evaluate_chain(policy: m.Policy, ev: ImageEvidence, signers_judged: bool = True) -> RuleResult:
    """The `steps` rule. `signers_judged=False` is the gate's forecast on links not signed yet:
    every other part of the chain is judged as verify judges it."""
    layout = policy.steps
    assert layout is not None
    names = ", ".join(s.name for s in layout.steps)
    expected = (f"a verified in-toto link of each step ({names}) by an allowed signer, attached to "
                "every runnable image, and every artifact rule of the layout holding")
    if ev.is_index and not ev.manifests:
        return RuleResult(layout.name, FAIL, expected, f"the index {ev.digest} has no runnable image")
    missing: list[str] = []
    problems: list[str] = []
    used: set[str] = set()
    for target in ev.platform_digests:
        gone, broken, bundles = _one(layout, policy, ev, target, signers_judged)
        missing += gone
        problems += broken
        used |= bundles
    evidence = tuple(sorted(used))
    if missing:
        links = [s for s in ev.statements if s.predicate_type == layout.predicate_type]
        status = NO_EVIDENCE if not links else FAIL
        return RuleResult(layout.name, status, expected, missing[0], tuple(missing + problems), evidence)
    if problems:
        first = next((p for p in problems if ":" in p and " sha256:" in p), problems[0])
        return RuleResult(layout.name, FAIL, expected, first, tuple(problems), evidence)
    return RuleResult(layout.name, PASS, expected,
                      f"{len(used)} verified link(s); every artifact rule holds"
                      + (f" for each of {len(ev.platform_digests)} images" if ev.is_index else ""),
                      evidence=evidence)
