"""`sccheck build-and-sign PATH --repo REF`: the whole chain (docs/pipeline.md)."""

from __future__ import annotations

import sys

import click

from supplychain.build.settings import BuildSettings
from supplychain.cli._build import build_settings_options
from supplychain.cli._common import Options, emit, identity_token_option, pass_options, run_guarded
from supplychain.cli._registry import referrers_mode_option, registry_options
from supplychain.registry import RegistryOptions


def _key_password(key: str) -> str | None:
    from supplychain.signing.keys import password_from_env

    password = password_from_env()
    if password is None and sys.stdin.isatty():
        password = click.prompt(f"Password for {key}", hide_input=True, err=True)
    return password


@click.command("build-and-sign")
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--repo", help="Registry repository to push to (host/repo); or `repo:` in sccheck.yaml.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="Settings file (default PATH/sccheck.yaml when present). Flags win.")
@click.option("--platform", "platforms", help="Comma-separated platforms, e.g. linux/amd64,linux/arm64.")
@click.option("--base", help="scratch | static (default) | alpine | REF.")
@click.option("--policy", type=click.Path(dir_okay=False), help="Policy the result must pass "
              "(default policies/default.yaml).")
@click.option("--trust-config", type=click.Path(dir_okay=False),
              help="Sigstore client trust config (else $SCCHECK_TRUST_CONFIG, else public Sigstore).")
@identity_token_option("OIDC token for keyless signing (else env / dev-stack / GitHub Actions).")
@click.option("--key", type=click.Path(dir_okay=False), help="Sign with this cosign-format key instead.")
@click.option("--vuln-db", help="Go vulnerability database: https:// URL, file:// URL or directory.")
@click.option("--fail-on", help="Check threshold: LEVEL[,TOOL=LEVEL...] (default medium).")
@click.option("--promote-to", help="After verification, promote to this host/repo:tag.")
@click.option("--tag", help="Tag the pushed image (it is always referred to by digest).")
@click.option("--version", "version", help="Version stamped into the binary (default git describe).")
@click.option("--profiles-dir", type=click.Path(file_okay=False),
              help="Keep the seccomp and AppArmor profiles made for the image here (they are attested "
                   "in the hardening report either way).")
@click.option("--report", "report_file", type=click.Path(dir_okay=False),
              help="Write the full JSON report here (on failure it is always written; default "
                   "$TMPDIR/sccheck/build-and-sign-TIME-PID.json).")
@build_settings_options
@registry_options
@referrers_mode_option
@pass_options
def build_and_sign_cmd(opts: Options, path: str, repo: str | None, config_file: str | None,
                       platforms: str | None, base: str | None, policy: str | None,
                       trust_config: str | None, identity_token: str | None, key: str | None,
                       vuln_db: str | None, fail_on: str | None, promote_to: str | None, tag: str | None,
                       version: str | None, profiles_dir: str | None, report_file: str | None,
                       settings: BuildSettings, registry: RegistryOptions) -> None:
    """Check, build, SBOM, push, sign, attest and verify a Go module in one go."""
    from supplychain.pipeline import report
    from supplychain.pipeline.config import pipeline_request
    from supplychain.pipeline.run import build_and_sign

    req = run_guarded(opts, lambda: pipeline_request(
        path, config_file=config_file, identity_token=identity_token, key_password=_key_password,
        registry_options=registry, platforms=platforms, report_file=report_file, repo=repo, base=base,
        policy=policy, trust_config=trust_config, key=key, vuln_db=vuln_db, fail_on=fail_on,
        promote_to=promote_to, tag=tag, version=version, profiles_dir=profiles_dir, build=settings))
    result = run_guarded(opts, lambda: build_and_sign(req, opts.progress()))
    if opts.json:
        emit(opts, report.to_dict(result))
        if not opts.quiet:
            click.echo(report.summary_table(result), err=True)
    else:
        click.echo(report.summary_table(result))


def register(group: click.Group) -> None:
    group.add_command(build_and_sign_cmd)
