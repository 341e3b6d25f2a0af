"""`sccheck sign`, `sccheck attest`, `sccheck generate-key-pair`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from supplychain.attest.vocabulary import COSIGN_SIGN, PREDICATE_TYPES
from supplychain.cli._common import Options, emit, identity_token_option, pass_options, run_guarded
from supplychain.cli._registry import referrers_mode_option, registry_options
from supplychain.registry import RegistryOptions


def _signing_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
        click.option("--trust-config", type=click.Path(dir_okay=False),
                     help="Sigstore client trust config (env SCCHECK_TRUST_CONFIG; default: public good)."),
        identity_token_option("OIDC token for keyless signing (else env SIGSTORE_ID_TOKEN / "
                              "SCCHECK_IDENTITY_TOKEN, SCCHECK_DEV_TOKEN_URL, or GitHub Actions)."),
        click.option("--key", type=click.Path(dir_okay=False),
                     help="Sign with this encrypted private key (from generate-key-pair) instead."),
        click.option("--rekor-url", help="With --key: also log the signature in this Rekor v2."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _key_password(key: str | None) -> str | None:
    from supplychain.signing.keys import password_from_env

    if not key:
        return None
    password = password_from_env()
    if password is None and sys.stdin.isatty():
        password = click.prompt(f"Password for {key}", hide_input=True, err=True)
    return password


def _human(result: dict[str, Any]) -> str:
    verb = "signed" if result["predicate_type"] == COSIGN_SIGN else "attested"
    lines = [f"{verb} {result['reference']}",
             f"  predicate: {result['predicate_type']}",
             f"  mode:      {result['mode']}" + (f" ({result['identity']}, {result['issuer']})"
                                                 if result["mode"] == "keyless" else ""),
             f"  bundle:    {result['bundle_digest']}",
             f"  referrer:  {result['referrer_digest']}"]
    if len(result["referrers"]) > 1:
        lines.append(f"  also attached to {len(result['referrers']) - 1} platform manifest(s)"
                     + (f" ({result['platform']})" if result.get("platform") else ""))
    lines.append("  log index: " + (str(result["log_index"]) if result["log_index"] is not None else "none"))
    return "\n".join(lines)


@click.command("sign")
@click.argument("image")
@_signing_options
@registry_options
@referrers_mode_option
@pass_options
def sign_cmd(opts: Options, image: str, trust_config: str | None, identity_token: str | None,
             key: str | None, rekor_url: str | None, registry: RegistryOptions) -> None:
    """Sign IMAGE (IMAGE@DIGEST, or IMAGE:TAG resolved once) keyless or with --key."""
    from supplychain.signing import sign_image

    password = _key_password(key)
    result = run_guarded(opts, lambda: sign_image(
        image, trust_config=trust_config, identity_token=identity_token, key=key, key_password=password,
        rekor_url=rekor_url, registry_options=registry, progress=opts.progress()))
    emit(opts, result.to_dict(), _human)


@click.command("attest")
@click.argument("image")
@click.option("--type", "type_", required=True,
              help=" | ".join(PREDICATE_TYPES) + " | a predicate type URI.")
@click.option("--predicate", required=True, type=click.Path(dir_okay=False),
              help="The predicate as a JSON file.")
@click.option("--platform", default=None, metavar="OS/ARCH[/VARIANT]",
              help="Attest for one platform of an index: subjects = the index and that platform.")
@_signing_options
@registry_options
@referrers_mode_option
@pass_options
def attest_cmd(opts: Options, image: str, type_: str, predicate: str, platform: str | None,
               trust_config: str | None, identity_token: str | None, key: str | None,
               rekor_url: str | None, registry: RegistryOptions) -> None:
    """Attest a predicate about IMAGE: an in-toto statement in a signed DSSE bundle."""
    from supplychain.attest import load_predicate, resolve_predicate_type
    from supplychain.signing import attest_image

    password = _key_password(key)

    def work() -> Any:
        predicate_type = resolve_predicate_type(type_)
        return attest_image(image, predicate_type, load_predicate(predicate), platform=platform,
                            trust_config=trust_config,
                            identity_token=identity_token, key=key, key_password=password,
                            rekor_url=rekor_url, registry_options=registry, progress=opts.progress())

    result = run_guarded(opts, work)
    emit(opts, result.to_dict(), _human)


@click.command("rescan")
@click.argument("image")
@click.option("--vuln-db", required=True,
              help="Go vulnerability database snapshot: a directory, a tar of one, or oci-archive:BUNDLE "
                   "(the snapshot a bundle carries).")
@_signing_options
@registry_options
@referrers_mode_option
@pass_options
def rescan_cmd(opts: Options, image: str, vuln_db: str, trust_config: str | None, identity_token: str | None,
               key: str | None, rekor_url: str | None, registry: RegistryOptions) -> None:
    """Scan the program of each platform of IMAGE against VULN_DB (govulncheck, binary mode) and
    attest a fresh vulnerability result and OpenVEX document, without rebuilding."""
    from supplychain.rescan import Signing, rescan_image

    signing = Signing(trust_config, identity_token, key, _key_password(key), rekor_url)

    def work() -> Any:
        return rescan_image(image, vuln_db, signing=signing, registry_options=registry,
                            progress=opts.progress()).to_dict()

    def human(result: dict[str, Any]) -> str:
        lines = [f"rescanned {result['reference']} against {result['db']}"]
        for p in result["platforms"]:
            made = ", ".join(a[:19] for a in p["attestations"])
            lines.append(f"  {p['platform'] or 'image'}: {p['binary']}: {p['vulnerabilities']} "
                         f"vulnerabilities ({p['reachable']} reachable); attested {made}")
        return "\n".join(lines)

    emit(opts, run_guarded(opts, work), human)


@click.command("generate-key-pair")
@click.option("--output-prefix", default="cosign", show_default=True,
              help="Writes PREFIX.key (encrypted) and PREFIX.pub.")
@pass_options
def generate_key_pair_cmd(opts: Options, output_prefix: str) -> None:
    """An ECDSA P-256 key pair in cosign's encrypted format (password: env
    SCCHECK_KEY_PASSWORD or COSIGN_PASSWORD, else a prompt)."""
    from supplychain.signing import generate_key_pair
    from supplychain.signing.keys import password_from_env

    password = password_from_env()
    if password is None:
        if not sys.stdin.isatty():
            password = None
        else:
            password = click.prompt("Password for the private key", hide_input=True,
                                    confirmation_prompt=True, err=True)
    result = run_guarded(opts, lambda: generate_key_pair(output_prefix, password))  # type: ignore[arg-type]
    emit(opts, {"private_key": result.private_key, "public_key": result.public_key,
                "key_id": result.key_id},
         lambda r: f"wrote {r['private_key']} (encrypted) and {r['public_key']}\n"
                   f"  verify with: cosign verify --key {r['public_key']} --insecure-ignore-tlog IMAGE")


def register(group: click.Group) -> None:
    group.add_command(sign_cmd)
    group.add_command(attest_cmd)
    group.add_command(rescan_cmd)
    group.add_command(generate_key_pair_cmd)

