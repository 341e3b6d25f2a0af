"""Load a policy file: strict YAML → JSON Schema → the frozen model.

Strict means: an unknown field, a duplicate key, a YAML alias or custom tag, a regex that does
not compile, an impossible date or a malformed key is an error that names its place in the
document (`$.attestations.vulnerabilities.allow[0].expires`). Nothing is silently ignored.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supplychain.errors import PolicyError
from supplychain.policy import model as m
from supplychain.policy.schemacheck import conforms
from supplychain.strictdoc import load_yaml

if TYPE_CHECKING:
    import jsonschema

MAX_POLICY_BYTES = 256 * 1024


@functools.cache
def policy_schema() -> dict[str, Any]:
    text = resources.files("supplychain.policy").joinpath("schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def _path(parts: Any) -> str:
    text = "$"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _schema_error(err: jsonschema.ValidationError, source: str) -> PolicyError:
    where = _path(err.absolute_path)
    schema: dict[str, Any] = dict(err.schema) if isinstance(err.schema, dict) else {}
    if err.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed)) if isinstance(err.instance, dict) else []
        return PolicyError(
            f"{source}: unknown field {', '.join(repr(e) for e in extra)} at {where}",
            expected=f"only these fields: {', '.join(allowed)}",
            found=", ".join(extra),
            fix="remove or correct the field; unknown fields are never ignored",
            facts={"path": where},
        )
    if err.validator == "oneOf" and where.endswith(tuple("]")) and "identities" in where:
        return PolicyError(
            f"{source}: identity at {where} is neither a keyless identity nor a public key",
            expected="{issuer, subject[, github]} or {publicKey[, name, UnsafeNoTransparencyLog]}",
            found=json.dumps(err.instance, default=str)[:300],
            facts={"path": where},
        )
    return PolicyError(
        f"{source}: invalid value at {where}: {err.message}",
        expected=json.dumps({k: v for k, v in schema.items() if k != "description"}, default=str)[:300],
        found=json.dumps(err.instance, default=str)[:300],
        facts={"path": where},
    )


def _schema_errors(doc: dict[str, Any]) -> list[jsonschema.ValidationError]:
    from supplychain._jsonschema import jsonschema

    validator = jsonschema.Draft202012Validator(policy_schema())
    return sorted(validator.iter_errors(doc), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))


def _match(raw: Any, where: str) -> m.Pattern:
    if isinstance(raw, str):
        return m.Pattern(raw)
    try:
        return m.Pattern(raw["regexp"], regex=True)
    except PolicyError as err:
        raise PolicyError(f"{err.message} at {where}", expected=err.expected, found=err.found,
                          fix=err.fix, facts={"path": where}) from None


def _opt_match(raw: dict[str, Any], key: str, where: str) -> m.Pattern | None:
    return _match(raw[key], f"{where}.{key}") if key in raw else None


_DURATION = re.compile(r"^([1-9][0-9]*)(m|h|d)$")


def parse_duration(text: str) -> dt.timedelta:
    found = _DURATION.match(text)
    if not found:
        raise PolicyError(f"bad duration {text!r}", expected="e.g. 30m, 24h, 7d")
    n = int(found.group(1))
    units = {"m": dt.timedelta(minutes=1), "h": dt.timedelta(hours=1), "d": dt.timedelta(days=1)}
    return n * units[found.group(2)]


def _identity(raw: dict[str, Any], where: str) -> m.Identity:
    if "publicKey" in raw:
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        try:
            load_pem_public_key(raw["publicKey"].encode())
        except ValueError as exc:
            raise PolicyError(f"public key at {where}.publicKey does not parse: {exc}",
                              expected="a PEM 'PUBLIC KEY' (ECDSA P-256 or Ed25519)",
                              facts={"path": f"{where}.publicKey"}) from None
        return m.KeyIdentity(raw["publicKey"], raw.get("name", "key"),
                             bool(raw.get("UnsafeNoTransparencyLog", False)))
    github = None
    if "github" in raw:
        g = raw["github"]
        gw = f"{where}.github"
        github = m.GitHubClaims(_opt_match(g, "repository", gw), _opt_match(g, "workflowRef", gw),
                                _opt_match(g, "ref", gw), _opt_match(g, "trigger", gw))
    return m.KeylessIdentity(raw["issuer"], _match(raw["subject"], f"{where}.subject"), github)


def _date(text: str, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise PolicyError(f"{where}: {text!r} is not a real date", expected="YYYY-MM-DD",
                          facts={"path": where}) from None


def _attestations(raw: dict[str, Any]) -> list[m.Rule]:
    rules: list[m.Rule] = []
    w = "$.attestations"
    if "provenance" in raw:
        p = raw["provenance"]
        pw = f"{w}.provenance"
        rules.append(m.ProvenanceRule(_opt_match(p, "builderId", pw), _opt_match(p, "sourceRepository", pw),
                                      bool(p.get("commitPresent", True)), _opt_match(p, "buildType", pw)))
    if "sbom" in raw:
        rules.append(m.SbomRule(every_platform=bool(raw["sbom"].get("everyPlatform", True))))
    if "vulnerabilities" in raw:
        v = raw["vulnerabilities"]
        allow = []
        ids: set[str] = set()
        for i, a in enumerate(v.get("allow", [])):
            aw = f"{w}.vulnerabilities.allow[{i}]"
            if a["id"] in ids:
                raise PolicyError(f"{aw}: vulnerability {a['id']!r} is allowed twice", facts={"path": aw})
            ids.add(a["id"])
            allow.append(m.AllowedVulnerability(a["id"], a["reason"], _date(a["expires"], f"{aw}.expires")))
        max_age = parse_duration(v["maxAge"]) if "maxAge" in v else None
        rules.append(m.VulnerabilityRule(v.get("maxSeverity", "medium"), tuple(allow), max_age))
    if "tests" in raw:
        rules.append(m.TestResultRule())
    if "harden" in raw:
        rules.append(m.HardenRule())
    return rules


def _rules(raw: list[str], where: str) -> tuple[str, ...]:
    from in_toto.rulelib import unpack_rule
    from securesystemslib.exceptions import FormatError

    for i, rule in enumerate(raw):
        try:
            unpack_rule(rule.split())
        except FormatError as exc:
            raise PolicyError(f"{where}[{i}]: {rule!r} is not an in-toto artifact rule: {exc}",
                              expected="e.g. 'MATCH src/* WITH MATERIALS FROM check', 'ALLOW bin/*', "
                                       "'DISALLOW *'", facts={"path": f"{where}[{i}]"}) from None
    return tuple(raw)


def _chain(raw: dict[str, Any]) -> m.ChainLayout:
    steps: list[m.ChainStep] = []
    image = None
    for name, body in raw.items():
        w = f"$.steps.{name}"
        signers = tuple(_identity(r, f"{w}.signers[{i}]") for i, r in enumerate(body.get("signers", [])))
        step = m.ChainStep(name, signers, _rules(body.get("materials", []), f"{w}.materials"),
                           _rules(body.get("products", []), f"{w}.products"))
        if name == m.IMAGE_STEP:
            if signers:
                raise PolicyError(f"{w}.signers: the image is not a step anyone performs",
                                  fix="put signers on the steps whose links are signed",
                                  facts={"path": f"{w}.signers"})
            image = step
        else:
            steps.append(step)
    return m.ChainLayout(tuple(steps), image)


def build_policy(doc: dict[str, Any], raw: bytes = b"", source: str = "policy") -> m.Policy:
    """Validate a parsed document against the schema, then build the model. A document the
    quick check vouches for skips jsonschema (and its import); any other is judged, and its
    error worded, by jsonschema."""
    errors = [] if conforms(policy_schema(), doc) else _schema_errors(doc)
    if errors:
        # The deepest error is the most specific one for a person to fix.
        deepest = max(errors, key=lambda e: len(e.absolute_path))
        if deepest.context:
            deepest = max(deepest.context, key=lambda e: len(e.absolute_path))
        raise _schema_error(deepest, source)
    identities = tuple(_identity(r, f"$.identities[{i}]") for i, r in enumerate(doc["identities"]))
    rules: list[m.Rule] = []
    if "signature" in doc:
        rules.append(m.SignatureRule(every_platform=bool(doc["signature"].get("everyPlatform", True))))
    rules += _attestations(doc.get("attestations", {}))
    if "baseImages" in doc:
        rules.append(m.BaseImageRule(tuple(m.BaseImage(b.get("digest"), b.get("repository"))
                                           for b in doc["baseImages"])))
    if "platforms" in doc:
        rules.append(m.PlatformsRule(tuple(doc["platforms"])))
    if not rules:
        raise PolicyError(f"{source}: the policy requires nothing",
                          expected="at least one of signature, attestations, baseImages, platforms",
                          fix="add 'signature: {}' to require a verified signature")
    limits = doc.get("limits", {})
    return m.Policy(
        name=doc["name"], identities=m.AnyOf(identities), requirements=m.AllOf(tuple(rules)),
        description=doc.get("description", ""), max_bundles=limits.get("maxBundles", 64),
        max_bundle_bytes=limits.get("maxBundleBytes", 1 << 20),
        signature_formats=tuple(doc.get("signatureFormats", m.SIGNATURE_FORMATS)),
        max_trusted_root_age=parse_duration(limits["maxTrustedRootAge"]) if "maxTrustedRootAge" in limits
        else None,
        steps=_chain(doc["steps"]) if "steps" in doc else None,
        source_digest="sha256:" + hashlib.sha256(raw).hexdigest(), raw=raw,
    )


def parse_policy(raw: bytes, source: str = "policy") -> m.Policy:
    if len(raw) > MAX_POLICY_BYTES:
        raise PolicyError(f"{source} is too large", expected=f"at most {MAX_POLICY_BYTES} bytes",
                          found=f"{len(raw)} bytes")
    doc = load_yaml(raw, source, max_bytes=MAX_POLICY_BYTES, error=PolicyError)
    if not isinstance(doc, dict):
        raise PolicyError(f"{source} is not a YAML mapping",
                          expected="apiVersion, kind, name, identities, ...", found=type(doc).__name__)
    return build_policy(doc, raw, source)


def load_policy(path: str | Path) -> m.Policy:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise PolicyError(f"cannot read policy {p}: {exc.strerror}",
                          fix="pass an existing file to --policy") from None
    return parse_policy(raw, str(p))
