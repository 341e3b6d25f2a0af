"""`sccheck harden`: lint an image (`check`), write runtime profiles (`profile`), emit or check
restricted Kubernetes manifests (`k8s`)."""

from __future__ import annotations

import sys

import click

from supplychain.attest.harden import harden_document, write_harden_predicate
from supplychain.cli._common import Options, emit, pass_options, run_guarded
from supplychain.cli._registry import registry_options
from supplychain.errors import EXIT_CHECK_FAILED
from supplychain.harden.imagecheck import run_check
from supplychain.harden.k8s import (
    GeneratedManifests,
    ManifestCheck,
    check_manifests,
    generate_manifests,
    render_check,
)
from supplychain.harden.netpol import MESHES, NetworkOptions, parse_allow_from, parse_egress
from supplychain.harden.profile import ProfileSet, make_profiles, render_profiles
from supplychain.harden.report import HardenReport, render_human
from supplychain.harden.rules import SEVERITIES
from supplychain.registry import RegistryOptions


@click.group("harden")
def harden_group() -> None:
    """Lint an image and run it at the Pod Security Standards "restricted" level."""


@harden_group.command("check")
@click.argument("image")
@click.option("--threshold", type=click.Choice(SEVERITIES), default=None,
              help="Fail (exit 1) on findings at or above this severity [default: medium].")
@click.option("--allow", "allow", multiple=True, metavar="path:GLOB|rule:ID|value:REGEX",
              help="Allowlist a path, a whole rule, or secret values (repeatable).")
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="YAML/JSON file with threshold, max_size, scan_cap and allow.")
@click.option("--max-size", default=None, help="Largest acceptable image (e.g. 100MiB) [default: 250MiB].")
@click.option("--scan-cap", default=None, help="Largest text file scanned for secrets [default: 1MiB].")
@click.option("--predicate-out", type=click.Path(dir_okay=False), default=None,
              help="Write the harden predicate (for 'sccheck attest --type harden') to this file.")
@click.option("--profiles", "profiles_dir", type=click.Path(file_okay=False), default=None,
              help="Put the evidence of the profiles 'harden profile' wrote here into the report.")
@registry_options
@pass_options
def check_cmd(opts: Options, image: str, threshold: str | None, allow: tuple[str, ...],
              config: str | None, max_size: str | None, scan_cap: str | None,
              predicate_out: str | None, profiles_dir: str | None, registry: RegistryOptions) -> None:
    """Lint IMAGE (host/repo:tag, host/repo@sha256:..., oci:DIR[:tag]) for hardening problems."""

    def work() -> HardenReport:
        from supplychain.image.archive import archive_as_layout

        with archive_as_layout(image) as local:
            return run_check(local, threshold=threshold, allow=allow, config=config, max_size=max_size,
                             scan_cap=scan_cap, progress=opts.progress(), registry=registry,
                             profiles_dir=profiles_dir)

    report: HardenReport = run_guarded(opts, work)
    if predicate_out:
        run_guarded(opts, lambda: write_harden_predicate(report, predicate_out))
    emit(opts, harden_document(report), lambda _r: render_human(report), ok=report.passed)
    if not report.passed:
        sys.exit(EXIT_CHECK_FAILED)


@harden_group.command("k8s")
@click.argument("image", required=False)
@click.option("--check", "check_file", type=click.Path(dir_okay=False), default=None,
              help="Check this manifest file against the restricted level instead of generating.")
@click.option("--name", default=None, help="Workload name [default: the repository's last part].")
@click.option("--port", type=int, default=None, help="Container port [default: first exposed, else 8080].")
@click.option("--repository", default=None,
              help="Where the cluster pulls the image from (required for an oci: layout).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Write the manifests to this file instead of stdout.")
@click.option("--profiles", "profiles_dir", type=click.Path(file_okay=False), default=None,
              help="Reference the seccomp and AppArmor profiles 'harden profile' wrote to this directory.")
@click.option("--namespace", default=None, help="Namespace of every object [default: none written].")
@click.option("--egress", multiple=True, metavar="CIDR[:PORT[/PROTO]]",
              help="Allow egress to this network block (and port); everything else is denied (repeatable).")
@click.option("--egress-dns", is_flag=True, help="Allow DNS (UDP and TCP 53) to kube-dns in kube-system.")
@click.option("--mesh", type=click.Choice(MESHES), default=None,
              help="Also write the mesh's policies: STRICT mTLS and who may call (--allow-from).")
@click.option("--allow-from", "allow_from", multiple=True, metavar="NAMESPACE/SERVICEACCOUNT",
              help="With --mesh: a service account that may call the service (repeatable).")
@click.option("--trust-domain", default="cluster.local", show_default=True,
              help="With --mesh: the mesh's trust domain in the callers' identities.")
@registry_options
@pass_options
def k8s_cmd(opts: Options, image: str | None, check_file: str | None, name: str | None,
            port: int | None, repository: str | None, output: str | None, profiles_dir: str | None,
            namespace: str | None, egress: tuple[str, ...], egress_dns: bool, mesh: str | None,
            allow_from: tuple[str, ...], trust_domain: str, registry: RegistryOptions) -> None:
    """Generate a Deployment and its NetworkPolicy for IMAGE@DIGEST at the restricted level, or
    --check FILE."""
    if check_file:
        if image:
            raise click.UsageError("give either IMAGE@DIGEST or --check FILE, not both")
        result: ManifestCheck = run_guarded(opts, lambda: check_manifests(check_file))
        emit(opts, result.to_dict(), lambda _r: render_check(result), ok=result.passed)
        if not result.passed:
            sys.exit(EXIT_CHECK_FAILED)
        return
    if not image:
        raise click.UsageError("missing IMAGE@DIGEST (or --check FILE)")

    def generate() -> GeneratedManifests:
        network = NetworkOptions(tuple(parse_egress(e) for e in egress), egress_dns, mesh,
                                 tuple(parse_allow_from(a) for a in allow_from), trust_domain)
        return generate_manifests(image, name=name, port=port, repository=repository, output=output,
                                  profiles_dir=profiles_dir, network=network, namespace=namespace,
                                  registry=registry)

    generated: GeneratedManifests = run_guarded(opts, generate)
    if opts.json:
        emit(opts, generated.to_dict())
    elif output:
        click.echo(f"wrote {', '.join(generated.kinds)} {generated.name} for {generated.image} to {output}",
                   err=True)
    else:
        click.echo(generated.yaml, nl=False)


@harden_group.command("profile")
@click.argument("image")
@click.option("--output-dir", "-o", type=click.Path(file_okay=False), default="profiles", show_default=True,
              help="Where to write profiles.json and <os>-<arch>/<name>.json / .apparmor.")
@click.option("--name", default=None, help="Base of the profile name [default: the repository's last part].")
@click.option("--port", type=int, default=None,
              help="The port the service listens on [default: first exposed].")
@click.option("--writable", multiple=True, metavar="PATH",
              help="Another path the service may write (besides the image's /tmp and volumes; repeatable).")
@click.option("--allow-syscall", "allow_syscalls", multiple=True, metavar="NAME",
              help="Allow this system call as well (repeatable).")
@click.option("--observe", is_flag=True,
              help="Also run the binary under strace (host architecture only) and add what it used.")
@click.option("--observe-seconds", type=float, default=5.0, show_default=True,
              help="How long the observed run lasts.")
@click.option("--observe-arg", "observe_args", multiple=True, metavar="ARG",
              help="Arguments for the observed run instead of the image's Cmd (repeatable).")
@click.option("--observe-smoke", metavar="COMMAND", default=None,
              help="A shell command run once against the service (in its network namespace) instead "
                   "of the HTTP probes, e.g. 'curl -sf http://127.0.0.1:8080/healthz'.")
@registry_options
@pass_options
def profile_cmd(opts: Options, image: str, output_dir: str, name: str | None, port: int | None,
                writable: tuple[str, ...], allow_syscalls: tuple[str, ...], observe: bool,
                observe_seconds: float, observe_args: tuple[str, ...], observe_smoke: str | None,
                registry: RegistryOptions) -> None:
    """Write seccomp and AppArmor profiles for IMAGE@DIGEST, per platform, by reading its binary."""
    result: ProfileSet = run_guarded(opts, lambda: make_profiles(
        image, output_dir=output_dir, name=name, port=port, writable=writable, allow_syscalls=allow_syscalls,
        observe=observe, observe_seconds=observe_seconds, observe_args=observe_args,
        observe_smoke=observe_smoke,
        progress=opts.progress(), registry=registry))
    emit(opts, result.to_dict(), lambda _r: render_profiles(result))


def register(group: click.Group) -> None:
    group.add_command(harden_group)
