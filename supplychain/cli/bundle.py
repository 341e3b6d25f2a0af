"""`sccheck bundle export|import` (air-gapped releases) and `sccheck trust show`."""

from __future__ import annotations

import sys
from typing import Any

import click

from supplychain.cli._common import Options, emit, pass_options, run_guarded
from supplychain.cli._registry import referrers_mode_option, registry_options
from supplychain.registry import RegistryOptions


def pin_options(fn: Any) -> Any:
    """--trust-config/--trusted-root, --trusted-root-digest, --policy-digest: what a user pins to
    verify a bundle (the trusted root and policy inside count only when their digest is pinned)."""
    fn = click.option("--policy-digest", help="Use the policy inside the bundle, if its digest is this.")(fn)
    fn = click.option(
        "--trusted-root-digest", help="Use the trusted root inside the bundle, if its digest is this."
    )(fn)
    return click.option(
        "--trust-config",
        "--trusted-root",
        "trust_config",
        type=click.Path(dir_okay=False),
        help="Sigstore client trust config (or trusted root) to verify with (env SCCHECK_TRUST_CONFIG).",
    )(fn)


def make_pins(
    policy_file: str | None,
    trust_config: str | None,
    trusted_root_digest: str | None,
    policy_digest: str | None,
) -> Any:
    from supplychain.bundle import Pins
    from supplychain.policy import load_policy
    from supplychain.signing.keyless import trust_config_path

    return Pins(
        trust_file=trust_config_path(trust_config) if not trusted_root_digest or trust_config else None,
        trusted_root_digest=trusted_root_digest,
        policy=load_policy(policy_file) if policy_file else None,
        policy_digest=policy_digest,
    )


def _render_export(result: dict[str, Any]) -> str:
    from supplychain.cli.verify import render_report

    if not result["ok"]:
        return f"REFUSED: {result['message']}\n\n{render_report(result['report'])}"
    lines = [
        f"EXPORTED: {result['message']}",
        f"  {result['bytes']} bytes, release {result['releaseDigest']}",
        f"  trusted root {result['contents']['trustedRoot']}",
        f"  policy       {result['contents']['policy']}",
    ]
    if result["contents"].get("vulnDb"):
        lines.append(f"  vuln db      {result['contents']['vulnDb']}")
    return "\n".join(lines + [f"  warning: {w}" for w in result["warnings"]])


@click.group("bundle")
def bundle_group() -> None:
    """Air-gapped releases: one archive that verifies with no network."""


@bundle_group.command("export")
@click.argument("image")
@click.option(
    "--policy",
    "policy_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="Policy the image must pass (it goes into the bundle).",
)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Archive to write.")
@click.option(
    "--trust-config",
    type=click.Path(dir_okay=False),
    help="Sigstore client trust config to verify with (goes into the bundle; env SCCHECK_TRUST_CONFIG).",
)
@click.option(
    "--vuln-db",
    type=click.Path(exists=True),
    help="A Go vulnerability database directory (or a snapshot file) to carry along, for sccheck rescan.",
)
@registry_options
@pass_options
def export_cmd(
    opts: Options,
    image: str,
    policy_file: str,
    output: str,
    trust_config: str | None,
    vuln_db: str | None,
    registry: RegistryOptions,
) -> None:
    """Verify IMAGE, then write it with every referrer, the trusted root and the policy to one archive."""
    from supplychain.bundle import export_bundle
    from supplychain.policy import load_policy

    def work() -> dict[str, Any]:
        return export_bundle(
            image,
            load_policy(policy_file),
            output,
            trust_config=trust_config,
            vuln_db=vuln_db,
            registry_options=registry,
            progress=opts.progress(),
        ).to_dict()

    payload = run_guarded(opts, work)
    _warn(opts, payload["warnings"])
    emit(opts, payload, _render_export)
    if not payload["ok"]:
        sys.exit(1)


@bundle_group.command("import")
@click.argument("archive")
@click.argument("destination")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False), help="Policy file (YAML).")
@pin_options
@registry_options
@referrers_mode_option
@pass_options
def import_cmd(
    opts: Options,
    archive: str,
    destination: str,
    policy_file: str | None,
    trust_config: str | None,
    trusted_root_digest: str | None,
    policy_digest: str | None,
    registry: RegistryOptions,
) -> None:
    """Push the bundle's image and referrers to DESTINATION (REGISTRY/REPO[:TAG]) and verify them there."""
    from supplychain.bundle import import_bundle
    from supplychain.cli.verify import _render_promotion

    def work() -> dict[str, Any]:
        pins = make_pins(policy_file, trust_config, trusted_root_digest, policy_digest)
        result, facts = import_bundle(
            archive, destination, pins, registry_options=registry, progress=opts.progress()
        )
        return {**result.to_dict(), "bundle": facts.to_dict()}

    payload = run_guarded(opts, work)
    _warn(opts, payload["bundle"]["warnings"])
    emit(opts, payload, _render_promotion)
    if not payload["ok"]:
        sys.exit(1)


def _warn(opts: Options, warnings: list[str]) -> None:
    for w in warnings:
        click.echo(f"warning: {w}", err=True)


def _render_trust(doc: dict[str, Any]) -> str:
    lines = [
        f"{doc['path']} ({doc['format']}, {doc['digest']})",
        f"{'KIND':<22} {'VALID FROM':<12} {'VALID UNTIL':<12} NAME",
    ]
    for e in doc["entries"]:
        lines.append(
            f"{e['kind']:<22} {(e['validFrom'] or '-')[:10]:<12} {(e['validUntil'] or 'open')[:10]:<12} "
            f"{e['name']}"
        )
    return "\n".join(lines + [f"warning: {w}" for w in doc["warnings"]])


@click.group("trust")
def trust_group() -> None:
    """Inspect a Sigstore trusted root."""


@trust_group.command("show")
@click.option(
    "--trust-config",
    "--trusted-root",
    "trust_config",
    type=click.Path(dir_okay=False),
    help="Client trust config or trusted root (env SCCHECK_TRUST_CONFIG).",
)
@pass_options
def trust_show_cmd(opts: Options, trust_config: str | None) -> None:
    """What the trusted root holds, each entry's validity window, and what expires soon."""
    from supplychain.errors import UsageError
    from supplychain.policy.trustroot import read_trust_file
    from supplychain.signing.keyless import trust_config_path

    def work() -> dict[str, Any]:
        path = trust_config_path(trust_config)
        if path is None:
            raise UsageError(
                "no trusted root named", fix="pass --trust-config FILE (or set SCCHECK_TRUST_CONFIG)"
            )
        return read_trust_file(path).to_dict()

    emit(opts, run_guarded(opts, work), _render_trust)


def register(group: click.Group) -> None:
    group.add_command(bundle_group)
    group.add_command(trust_group)
