"""`sccheck verify`, `sccheck promote` (+ `--batch`), `sccheck policy init|export`."""

from __future__ import annotations

import sys
from typing import Any

import click

from supplychain.cli._common import (
    Options,
    emit,
    identity_token_option,
    pass_options,
    run_guarded,
    usage_failure,
)
from supplychain.cli._registry import referrers_mode_option, registry_options
from supplychain.cli.bundle import make_pins, pin_options
from supplychain.errors import EXIT_TOOL_FAILED
from supplychain.registry import RegistryOptions

_STATUS = {"pass": "PASS", "fail": "FAIL", "no-evidence": "NO EVIDENCE"}


def render_report(report: dict[str, Any]) -> str:
    lines = [f"image   {report['reference']}",
             f"policy  {report['policy']} ({report['policyDigest'][:19]}…)", ""]
    width = max([len(r["rule"]) for r in report["results"]] + [4])
    lines.append(f"{'RULE':<{width}}  {'RESULT':<11}  EXPECTED / FOUND")
    for r in report["results"]:
        status = _STATUS.get(r["status"], r["status"])
        lines.append(f"{r['rule']:<{width}}  {status:<11}  expected: {r['expected']}")
        lines.append(f"{'':<{width}}  {'':<11}  found:    {r['found']}")
        for d in r["details"][:20] if r["status"] != "pass" else []:
            lines.append(f"{'':<{width}}  {'':<11}    - {d}")
    if report["rejected"]:
        lines.append("")
        lines.append(f"{len(report['rejected'])} bundle(s) rejected:")
        for b in report["rejected"][:20]:
            lines.append(f"  {b['bundle'][:19]}… ({b['predicateType'] or 'unknown type'}) [{b['stage']}]: "
                         f"{b['reason']}")
    failed = [r["rule"] for r in report["results"] if r["status"] != "pass"]
    lines.append("")
    lines.append("PASSED: every rule holds" if report["ok"] else
                 f"FAILED: {', '.join(failed)} - fix the evidence or the policy, then verify again")
    return "\n".join(lines)


def _finish(opts: Options, payload: dict[str, Any], human: Any) -> None:
    emit(opts, payload, human)
    if not payload["ok"]:
        sys.exit(1)


def _render_verify_batch(result: dict[str, Any]) -> str:
    lines = [f"{'STATUS':<7} IMAGE"]
    for r in result["results"]:
        lines.append(f"{r['status'].upper():<7} {r['image']}")
        if r["status"] == "fail":
            failed = [x["rule"] for x in r["report"]["results"] if x["status"] != "pass"]
            lines.append(f"{'':<7}   failed: {', '.join(failed)}")
        elif r["status"] == "error":
            lines.append(f"{'':<7}   {r['error']['message']}")
    s = result["summary"]
    lines.append(f"\n{s['total']} image(s): {s['pass']} passed, {s['fail']} failed, "
                 f"{s['error']} not verified")
    return "\n".join(lines)


@click.command("verify")
@click.argument("image", required=False)
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False),
              help="Policy file (YAML, see policies/); for a bundle, or --policy-digest.")
@click.option("--batch", "batch_file", type=click.Path(dir_okay=False),
              help="Verify every image this file lists (images: [REF, ...] in YAML/JSON, or one "
                   "reference a line) in one run.")
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 16),
              help="Batch: images verified at once.")
@pin_options
@registry_options
@pass_options
def verify_cmd(opts: Options, image: str | None, policy_file: str | None, batch_file: str | None,
               concurrency: int, trust_config: str | None, trusted_root_digest: str | None,
               policy_digest: str | None, registry: RegistryOptions) -> None:
    """Verify IMAGE's signatures and attestations against a policy (exit 1 when it fails).
    With --batch FILE, many images in one run (exit 1 if any fails, 3 if any could not be checked).
    IMAGE may be a bundle, oci-archive:FILE: verified with no network, against the trusted root
    and policy you pin."""
    from supplychain.image.archive import is_archive
    from supplychain.policy import load_policy
    from supplychain.policy.trustroot import freshness_warnings, read_trust_file
    from supplychain.signing.keyless import trust_config_path
    from supplychain.verify import batch_report, load_verify_batch, verify_batch, verify_image

    if bool(image) == bool(batch_file):
        usage_failure(opts.json, "verify needs IMAGE or --batch FILE (one of them)")
    archive = bool(image) and is_archive(image or "")
    if not archive and (not policy_file or trusted_root_digest or policy_digest):
        usage_failure(opts.json, "verify needs --policy FILE (--trusted-root-digest and --policy-digest pin "
                                 "what an oci-archive: bundle carries)")

    def work() -> dict[str, Any]:
        if archive:
            from supplychain.bundle import verify_archive

            pins = make_pins(policy_file, trust_config, trusted_root_digest, policy_digest)
            report, facts = verify_archive(image or "", pins, progress=opts.progress())
            return {**report.to_dict(), "bundle": facts.to_dict(), "warnings": list(facts.warnings)}
        policy = load_policy(policy_file or "")
        if not batch_file:
            out = verify_image(image or "", policy, trust_config=trust_config, registry_options=registry,
                               progress=opts.progress()).to_dict()
            path = trust_config_path(trust_config)
            entries = read_trust_file(path).entries if path else ()
            out["warnings"] = freshness_warnings(entries, None, policy.max_trusted_root_age)
            return out
        images = load_verify_batch(batch_file)
        return batch_report(verify_batch(images, policy, trust_config=trust_config, registry_options=registry,
                                         concurrency=concurrency, progress=opts.progress()))

    result = run_guarded(opts, work)
    for w in result.get("warnings", []):
        click.echo(f"warning: {w}", err=True)
    if batch_file:
        emit(opts, result, _render_verify_batch)
        if result["summary"]["error"]:
            sys.exit(EXIT_TOOL_FAILED)
        if not result["ok"]:
            sys.exit(1)
        return
    _finish(opts, result, render_report)


def _render_promotion(result: dict[str, Any]) -> str:
    lines = [f"{result['status'].upper()}: {result['message']}"]
    if result.get("vsa"):
        lines.append(f"  verification summary: {result['vsa']}")
    for key in ("sourceReport", "destinationReport"):
        report = result.get(key)
        if report and not report["ok"]:
            lines += ["", f"{'source' if key == 'sourceReport' else 'destination'}:", render_report(report)]
    return "\n".join(lines)


def _render_batch(result: dict[str, Any]) -> str:
    lines = [f"{'STATUS':<10} SOURCE -> DESTINATION"]
    for r in result["results"]:
        lines.append(f"{r['status']:<10} {r['source']} -> {r['destination']}")
        if not r["ok"]:
            lines.append(f"{'':<10}   {r['message']}")
    s = result["summary"]
    lines.append(f"\n{s['total']} promotion(s): {s['promoted']} promoted, {s['unchanged']} unchanged, "
                 f"{s['refused']} refused, {s['error']} failed")
    return "\n".join(lines)


@click.command("promote")
@click.argument("src", required=False)
@click.argument("dst", required=False)
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False), help="Policy file (YAML).")
@click.option("--batch", "batch_file", type=click.Path(dir_okay=False),
              help="YAML/JSON file listing promotions: "
                   "{promotions: [{source, destination, policy?, force?}]}.")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 16),
              help="Batch: promotions run at once (they mostly wait on the registries).")
@click.option("--shard", help="Batch: promote only share I of N (e.g. 2/4), a fixed disjoint part of the "
                              "batch, for a CI matrix or fan-out.")
@click.option("--journal", type=click.Path(dir_okay=False),
              help="Batch: record each promotion in this JSON file; a rerun with it skips what is done.")
@click.option("--force", is_flag=True, help="Move DST's tag even when it names another image.")
@click.option("--trust-config", type=click.Path(dir_okay=False), help="Sigstore client trust config.")
@click.option("--no-vsa", is_flag=True, help="Do not attach a signed verification summary.")
@identity_token_option("OIDC token to sign the verification summary keyless.")
@click.option("--key", type=click.Path(dir_okay=False), help="Sign the verification summary with this key.")
@click.option("--rekor-url", help="With --key: log the summary's signature in this Rekor v2.")
@registry_options
@referrers_mode_option
@pass_options
def promote_cmd(opts: Options, src: str | None, dst: str | None, policy_file: str | None,
                batch_file: str | None, concurrency: int, shard: str | None, journal: str | None,
                force: bool, trust_config: str | None, no_vsa: bool,
                identity_token: str | None, key: str | None, rekor_url: str | None,
                registry: RegistryOptions) -> None:
    """Verify SRC, copy it by digest with its referrers to DST, re-verify there, sign a
    verification summary, then move DST's tag. Or run many with --batch FILE."""
    from supplychain.errors import UsageError
    from supplychain.policy import load_policy
    from supplychain.promote import (
        Journal,
        VsaSigning,
        batch_key,
        load_batch,
        parse_shard,
        promote,
        promote_batch,
        shard_of,
    )
    from supplychain.signing.keys import password_from_env

    vsa = VsaSigning(identity_token, key, password_from_env() if key else None, rekor_url, not no_vsa)
    common: dict[str, Any] = {"trust_config": trust_config, "registry_options": registry, "vsa": vsa}

    def work() -> dict[str, Any]:
        policy = load_policy(policy_file) if policy_file else None
        if batch_file:
            if src or dst:
                raise UsageError("--batch and SRC DST exclude each other")
            items = load_batch(batch_file)
            share = parse_shard(shard) if shard else None
            if share:
                items = shard_of(items, *share)
            book = Journal(journal, batch_key(batch_file, share)) if journal else None
            out = promote_batch(items, policy, concurrency=concurrency, journal=book,
                                progress=opts.progress(), **common).to_dict()
            out["shard"] = shard
            return out
        if shard or journal:
            raise UsageError("--shard and --journal go with --batch FILE")
        if not (src and dst and policy):
            raise UsageError("promote needs SRC, DST and --policy (or --batch FILE)",
                             fix="sccheck promote reg/staging/app:v1 reg/prod/app:v1 "
                                 "--policy policies/default.yaml")
        return promote(src, dst, policy, force=force, progress=opts.progress(), **common).to_dict()

    result = run_guarded(opts, work)
    _finish(opts, result, _render_batch if batch_file else _render_promotion)


@click.group("policy")
def policy_group() -> None:
    """Write and export policies."""


@policy_group.command("init")
@click.option("--identity", required=True,
              help="Signer identity (e-mail or workflow URI in the certificate).")
@click.option("--issuer", required=True, help="OIDC issuer URL of that identity.")
@click.option("--name", default="starter", show_default=True, help="Policy name.")
@click.option("--chain", is_flag=True,
              help="Also check the in-toto chain of build-and-sign's steps (steps: check, build, sbom, "
                   "harden and the artifact rules between them).")
@pass_options
def policy_init_cmd(opts: Options, identity: str, issuer: str, name: str, chain: bool) -> None:
    """Print a starter policy for one signer."""
    from supplychain.policy.init import init_policy

    text = run_guarded(opts, lambda: init_policy(identity, issuer, name, chain=chain))
    emit(opts, {"ok": True, "policy": text}, lambda r: r["policy"].rstrip("\n"))


@policy_group.command("export")
@click.option("--policy", "policy_file", required=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", required=True,
              type=click.Choice(["kyverno", "kyverno-clusterpolicy", "policy-controller"]),
              help="kyverno: ImageValidatingPolicy (Kyverno 1.17+); kyverno-clusterpolicy: the legacy "
                   "ClusterPolicy; policy-controller: TrustRoot + ClusterImagePolicy.")
@click.option("--image", "images", multiple=True,
              help="Image glob the cluster policy applies to (default *).")
@click.option("--trusted-root", "--trust-config", "trusted_root", type=click.Path(dir_okay=False),
              help="Trusted root (or ClientTrustConfig) of a private Sigstore, exported into the policy.")
@click.option("--tuf-mirror", help="TUF repository serving trusted_root.json (Kyverno initialises TUF).")
@click.option("--tuf-root", type=click.Path(dir_okay=False), help="Initial root.json of --tuf-mirror.")
@click.option("--allow-partial", is_flag=True,
              help="Export even what the engine cannot fully enforce; the gaps are printed and commented.")
@pass_options
def policy_export_cmd(opts: Options, policy_file: str, fmt: str, images: tuple[str, ...],
                      trusted_root: str | None, tuf_mirror: str | None, tuf_root: str | None,
                      allow_partial: bool) -> None:
    """Export a policy for admission control (YAML); refused (exit 2) if the engine would weaken it."""
    from supplychain.policy import load_policy
    from supplychain.policy.export import ExportOptions, export_policy, load_trust_material, load_tuf_source

    def work() -> dict[str, Any]:
        policy = load_policy(policy_file)
        trust = load_trust_material(trusted_root) if trusted_root else None
        tuf = load_tuf_source(tuf_mirror, tuf_root)
        result = export_policy(policy, fmt, ExportOptions(images or ("*",), trust, tuf, allow_partial))
        for gap in result.gaps:
            click.echo(f"warning: {gap}", err=True)
        return {"ok": True, "format": fmt, "documents": list(result.documents), "gaps": list(result.gaps),
                "notes": list(result.notes), "yaml": result.to_yaml()}

    emit(opts, run_guarded(opts, work), lambda r: r["yaml"].rstrip("\n"))


def register(group: click.Group) -> None:
    group.add_command(verify_cmd)
    group.add_command(promote_cmd)
    group.add_command(policy_group)
