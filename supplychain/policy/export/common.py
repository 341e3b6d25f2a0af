"""What every export shares: options, the result, the refusal of what a target cannot say, and
the trust material of a private Sigstore read from its trusted root.

An export either says everything the sccheck policy says, or it is refused naming each rule
the target cannot enforce (`ExportRefused`, exit 2). `allow_partial` turns the refusal into
`ExportResult.gaps`: printed as a warning and written as `# PARTIAL:` comments on top of the
YAML, so a reader of the cluster object sees what the cluster does not check.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from supplychain.errors import PolicyError, UsageError
from supplychain.image.reference import check_image_glob
from supplychain.policy import model as m
from supplychain.strictdoc import load_json, read_config_file

MAX_TRUSTED_ROOT_BYTES = 1 << 20           # what Kyverno accepts inline, and plenty


class ExportRefused(PolicyError):
    """The target engine cannot enforce some rule of the policy (exit 2)."""

    kind = "export refused"


@dataclass(frozen=True)
class Gap:
    rule: str                 # the sccheck rule (or identity) that the target cannot enforce
    reason: str

    def describe(self, engine: str) -> str:
        return f"{engine} cannot enforce rule {self.rule!r}: {self.reason}"


@dataclass(frozen=True)
class TrustMaterial:
    """A private Sigstore's trusted root (`trusted_root.json`, or the `trustedRoot` of a
    ClientTrustConfig), kept as parsed JSON with the PEM/URL views the engines ask for."""

    root: dict[str, Any]
    rekor_major: int | None = None     # from a ClientTrustConfig's signing config; None = not known

    @property
    def json_text(self) -> str:
        return json.dumps(self.root, indent=1, sort_keys=True)

    def _first(self, key: str) -> dict[str, Any]:
        items = self.root.get(key) or []
        if not items or not isinstance(items[0], dict):
            raise UsageError(f"the trusted root lists no {key}",
                             fix="pass the trusted root of the Sigstore that signs these images")
        item: dict[str, Any] = items[0]
        return item

    def items(self, key: str) -> list[dict[str, Any]]:
        return [i for i in self.root.get(key) or [] if isinstance(i, dict)]

    @staticmethod
    def pem(kind: str, raw_b64: str) -> str:
        body = base64.b64encode(base64.b64decode(raw_b64)).decode()
        lines = [body[i:i + 64] for i in range(0, len(body), 64)]
        return f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----\n"

    def chain_pem(self, authority: dict[str, Any]) -> str:
        certs = (authority.get("certChain") or {}).get("certificates") or []
        return "".join(self.pem("CERTIFICATE", c["rawBytes"]) for c in certs)

    def key_pem(self, log: dict[str, Any]) -> str:
        return self.pem("PUBLIC KEY", log["publicKey"]["rawBytes"])

    @property
    def rekor(self) -> dict[str, Any]:
        return self._first("tlogs")

    @property
    def fulcio(self) -> dict[str, Any]:
        return self._first("certificateAuthorities")

    @property
    def ctlog(self) -> dict[str, Any]:
        return self._first("ctlogs")

    @property
    def tsa(self) -> dict[str, Any] | None:
        items = self.items("timestampAuthorities")
        return items[0] if items else None


def load_trust_material(path: str | Path) -> TrustMaterial:
    """Read a trusted root or a ClientTrustConfig (its `trustedRoot` is taken)."""
    file = Path(path)
    try:
        if file.stat().st_size > MAX_TRUSTED_ROOT_BYTES:
            raise UsageError(f"the trusted root {file} is too large",
                             expected=f"at most {MAX_TRUSTED_ROOT_BYTES} bytes")
        data = file.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the trusted root {file}: {exc.strerror}") from None
    doc = load_json(data, f"the trusted root {file}", max_bytes=MAX_TRUSTED_ROOT_BYTES, error=UsageError)
    rekor_major = None
    if isinstance(doc, dict) and isinstance(doc.get("trustedRoot"), dict):
        urls = (doc.get("signingConfig") or {}).get("rekorTlogUrls") or []
        majors = {u.get("majorApiVersion") for u in urls if isinstance(u, dict)}
        rekor_major = max((v for v in majors if isinstance(v, int)), default=None)
        doc = doc["trustedRoot"]
    if not isinstance(doc, dict) or not str(doc.get("mediaType", "")).startswith(
            "application/vnd.dev.sigstore.trustedroot+json"):
        raise UsageError(f"{file} is not a Sigstore trusted root",
                         expected="mediaType application/vnd.dev.sigstore.trustedroot+json;version=0.1 "
                                  "(or a ClientTrustConfig holding one)",
                         fix="pass the dev stack's trusted_root.json or trust_config.json")
    material = TrustMaterial(doc, rekor_major)
    for key in ("tlogs", "certificateAuthorities", "ctlogs"):
        material._first(key)
    return material


@dataclass(frozen=True)
class TufSource:
    """A TUF repository that serves `trusted_root.json` (Kyverno always initialises TUF)."""

    mirror: str
    root_json: bytes            # the trusted initial root.json


def load_tuf_source(mirror: str | None, root: str | Path | None) -> TufSource | None:
    if not mirror and not root:
        return None
    if not (mirror and root):
        raise UsageError("a TUF repository needs both its mirror URL and its initial root.json",
                         fix="pass --tuf-mirror URL and --tuf-root FILE together")
    data = read_config_file(str(root), "the TUF root", max_bytes=MAX_TRUSTED_ROOT_BYTES)
    load_json(data, f"the TUF root {root}", max_bytes=MAX_TRUSTED_ROOT_BYTES, error=UsageError)
    return TufSource(mirror, data)


@dataclass(frozen=True)
class ExportOptions:
    images: tuple[str, ...] = ("*",)
    trust: TrustMaterial | None = None
    tuf: TufSource | None = None
    allow_partial: bool = False

    def __post_init__(self) -> None:
        if not self.images:
            raise UsageError("no --image pattern to apply the policy to",
                             fix="give --image, or leave it out for '*'")
        for glob in self.images:
            check_image_glob(glob)


@dataclass(frozen=True)
class ExportResult:
    format: str
    documents: tuple[dict[str, Any], ...]
    gaps: tuple[str, ...] = field(default=())     # what the target does not enforce (allow_partial)
    notes: tuple[str, ...] = field(default=())    # how the target enforces something, for readers

    @property
    def document(self) -> dict[str, Any]:
        """The policy object itself (the last document; a TrustRoot, if any, comes first)."""
        return self.documents[-1]

    def to_yaml(self) -> str:
        head = "".join(f"# PARTIAL: {g}\n" for g in self.gaps)
        head += "".join(f"# NOTE: {n}\n" for n in self.notes)
        body = "---\n".join(yaml.dump(d, Dumper=_BlockDumper, sort_keys=False, width=1000)
                            for d in self.documents)
        return head + body


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (PEM, JSON, Rego) as literal blocks, so the object reads as written."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and not any(c in value for c in "\t\r") and value == value.rstrip(" ") \
        and not any(line != line.rstrip(" ") for line in value.split("\n")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


class Gaps:
    """Collects what a target cannot enforce; `finish` refuses or records them."""

    def __init__(self, engine: str) -> None:
        self.engine = engine
        self.items: list[Gap] = []

    def add(self, rule: str, reason: str) -> None:
        gap = Gap(rule, reason)
        if gap not in self.items:
            self.items.append(gap)

    def finish(self, opts: ExportOptions) -> tuple[str, ...]:
        lines = tuple(g.describe(self.engine) for g in self.items)
        if lines and not opts.allow_partial:
            rules = ", ".join(dict.fromkeys(g.rule for g in self.items))
            raise ExportRefused(
                f"the policy cannot be exported to {self.engine} without weakening it: rule(s) {rules}",
                expected=f"rules that {self.engine} can enforce as sccheck does",
                found="; ".join(lines),
                fix="change those rules, export to another engine, or pass --allow-partial to export "
                    "the rest (the gaps are then written as comments in the output)",
                facts={"rules": list(dict.fromkeys(g.rule for g in self.items)), "engine": self.engine})
        return lines


def chain_gaps(policy: m.Policy, gaps: Gaps) -> None:
    """No admission engine runs in-toto's artifact rules over link attestations: the `steps` rule
    is refused by name (or, with --allow-partial, written down as a gap)."""
    if policy.steps is not None:
        names = ", ".join(s.name for s in policy.steps.steps)
        gaps.add(policy.steps.name, f"the in-toto chain ({names}: signed links and the artifact rules "
                                    "between them) has no equivalent in this engine; run 'sccheck verify' "
                                    "or 'sccheck promote' as the gate for it")


def resource_name(policy: m.Policy) -> str:
    return f"sccheck-{policy.name}".replace("_", "-").replace(".", "-")[:63].rstrip("-")


def policy_annotations(policy: m.Policy) -> dict[str, str]:
    return {"sccheck.dev/policy": policy.name, "sccheck.dev/policy-digest": policy.source_digest}


def identity_match(ident: m.KeylessIdentity) -> dict[str, str]:
    """The issuer (always) and the subject: exact, or as an anchored `subjectRegExp`. Kyverno,
    its legacy kind and policy-controller name these fields alike."""
    match = {"issuer": ident.issuer}
    if ident.subject.regex:
        match["subjectRegExp"] = anchored(ident.subject)
    else:
        match["subject"] = ident.subject.value
    return match


def anchored(pattern: m.Pattern) -> str:
    """An RE2 regex for engines that search (Go's MatchString): anchored to cover the value."""
    if pattern.regex:
        return f"^(?:{pattern.value})$"
    return "^" + re2_escape(pattern.value) + "$"


def re2_escape(text: str) -> str:
    """Escape a literal for RE2: every ASCII punctuation character gets a backslash."""
    return "".join("\\" + c if (not c.isalnum() and c.isascii() and c not in " _") else c for c in text)
