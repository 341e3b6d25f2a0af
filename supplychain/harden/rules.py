"""The image hardening rule set: every rule has a stable id, a severity, a rationale and a fix.

Ids never change meaning once released; a retired rule keeps its id reserved. Severities are
ordered `info < low < medium < high < critical`; a report fails when any finding is at or above
the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

from supplychain.errors import UsageError

SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")


def severity_rank(severity: str) -> int:
    try:
        return SEVERITIES.index(severity)
    except ValueError:
        raise UsageError(
            f"unknown severity {severity!r}",
            expected=" | ".join(SEVERITIES),
            found=repr(severity),
            fix="pass one of the listed severities (e.g. --threshold high)",
        ) from None


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: str
    rationale: str
    fix: str


_RULES = (
    Rule("SCH001", "image runs as root", "high",
         "A process running as uid 0 owns the container's file system and is one kernel bug away "
         "from the host; Kubernetes' runAsNonRoot refuses it.",
         "set a numeric non-root user in the image config (USER 65532:65532, or "
         "'sccheck build', which does so)"),
    Rule("SCH002", "image user is a name, not a numeric uid", "medium",
         "The kubelet can only prove runAsNonRoot for a numeric uid; a name is resolved inside the "
         "container from /etc/passwd, which the image itself controls.",
         "set the user as numbers (USER 65532:65532)"),
    Rule("SCH003", "a shell is present", "medium",
         "A shell turns any code-execution bug into an interactive foothold and is never needed "
         "by a static Go service.",
         "build FROM scratch or a distroless/static base; remove /bin/sh and busybox"),
    Rule("SCH004", "a package manager is present", "medium",
         "A package manager lets an intruder install tools and marks an image built on a full "
         "distribution with a large attack surface.",
         "use a minimal base (scratch/static) or delete the package manager in the final stage"),
    Rule("SCH005", "setuid or setgid file", "high",
         "setuid/setgid binaries are the classic route from an unprivileged user to root.",
         "remove the file or clear the bits (chmod u-s,g-s) in the build"),
    Rule("SCH006", "world-writable file outside /tmp", "medium",
         "Any process in the container can rewrite a world-writable file or plant files in a "
         "world-writable directory (e.g. replace a binary or a config).",
         "chmod o-w the path in the build; use an emptyDir mounted at /tmp for scratch space"),
    Rule("SCH007", "world-writable directory without the sticky bit", "medium",
         "Without the sticky bit, any user may delete or rename other users' files in /tmp.",
         "set mode 1777 on /tmp (and any shared scratch directory)"),
    Rule("SCH008", "secret in an environment variable", "critical",
         "Environment variables of the image config are readable by anyone who can pull the "
         "image, and are inherited by every process.",
         "remove the variable from the image; inject secrets at run time (Kubernetes Secret, "
         "a secrets manager) and rotate the leaked value"),
    Rule("SCH009", "secret in a label or annotation", "critical",
         "Labels are public metadata of the image config.",
         "remove the label and rotate the leaked value"),
    Rule("SCH010", "secret in the build history", "critical",
         "The history (e.g. a RUN line or build argument) ships inside the image config.",
         "pass secrets with build secrets (RUN --mount=type=secret), never as arguments; "
         "rebuild and rotate the leaked value"),
    Rule("SCH011", "secret in a file of a layer", "critical",
         "Every layer ships, so a secret written in one layer and deleted in a later one is still "
         "readable by anyone who pulls the image.",
         "never copy secrets into the build context; rebuild without the file (a later delete "
         "is not enough) and rotate the leaked value"),
    Rule("SCH012", "base image not pinned by digest", "low",
         "Without org.opencontainers.image.base.digest nobody can tell which base the image was "
         "built on, nor rebuild it reproducibly.",
         "build FROM base@sha256:... and set the label org.opencontainers.image.base.digest; "
         "an image built FROM nothing should say org.opencontainers.image.base.name=scratch"),
    Rule("SCH013", "privileged port exposed", "low",
         "Ports below 1024 need CAP_NET_BIND_SERVICE, a capability the restricted profile "
         "asks you to justify.",
         "listen on a port >= 1024 (e.g. 8080) and map it with a Service"),
    Rule("SCH014", "image larger than the maximum size", "low",
         "Large images carry more code that can be vulnerable and slow every pull.",
         "use a smaller base and a multi-stage build; raise --max-size if the size is expected"),
    Rule("SCH015", "file could not be scanned for secrets", "info",
         "A text file larger than the scan cap was not read, so it may hide a secret.",
         "raise --scan-cap, or allowlist the path if it is known to be safe"),
    Rule("SCH016", "tar entry escapes the image root", "high",
         "An entry with an absolute name, a '..' that climbs above the root, or a link that resolves "
         "outside it writes outside the container's file system when a naive tool extracts the layer "
         "(a path-traversal attack on whoever unpacks the image).",
         "rebuild the layer from a clean directory; never ship archives with such entries"),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _RULES}


def rule(rule_id: str) -> Rule:
    return RULES[rule_id]
