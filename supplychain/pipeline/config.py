"""`sccheck.yaml`: the optional per-project settings of `sccheck build-and-sign`.

Every key is optional; flags override the file. Unknown keys are errors naming their path
(`$.build.platfrom`), so a typo never silently falls back to a default. Schema (docs/pipeline.md):

    apiVersion: sccheck.dev/v1         # optional; if present, exactly this
    kind: Pipeline                     # optional; if present, exactly this
    repo: registry.example.com/team/app
    build:  {platforms: [linux/amd64], base: static, version: v1.2.3, tag: v1.2.3,
             main: [./cmd/server], entrypoint, args, tags, ldflags, versionVar, x, env, labels,
             expose}                           # the build settings of `sccheck build` (docs/build.md)
    check:  {vulnDb: URL|DIR, failOn: medium, only: [vet, staticcheck, vuln, race], packages,
             severities, suppress, baseline, tests}       # docs/check.md: also read by `check`
    harden: {threshold: medium, profiles: DIR}   # DIR: keep the seccomp/AppArmor profiles
    sign:   {trustConfig: FILE, key: FILE}
    verify: {policy: FILE}
    promote: {to: registry.example.com/prod/app:v1.2.3}

Relative file paths (vulnDb directory, harden profiles, trustConfig, key, policy) are relative
to the file.
`pipeline_request` merges defaults < the file < flags into the `PipelineRequest` the run takes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from supplychain.analyzers.config import CheckSettings, parse_check_settings, resolve_path
from supplychain.build.settings import YAML_KEYS, BuildSettings, settings_from_yaml
from supplychain.errors import UsageError
from supplychain.image.platform import parse_platforms
from supplychain.registry.options import RegistryOptions
from supplychain.strictdoc import load_yaml

CONFIG_NAME = "sccheck.yaml"
MAX_CONFIG_BYTES = 256 * 1024
API_VERSION = "sccheck.dev/v1"
KIND = "Pipeline"

# section -> key -> (python field, kind); kind: "str", "path", "list", "platforms"
SCHEMA: dict[str, dict[str, tuple[str, str]]] = {
    "build": {"platforms": ("platforms", "platforms"), "base": ("base", "str"),
              "version": ("version", "str"), "tag": ("tag", "str")},
    "harden": {"threshold": ("harden_threshold", "str"), "profiles": ("profiles_dir", "path")},
    "sign": {"trustConfig": ("trust_config", "path"), "key": ("key", "path")},
    "verify": {"policy": ("policy", "path")},
    "promote": {"to": ("promote_to", "str")},
}
TOP_LEVEL = {"apiVersion", "kind", "repo", "check", *SCHEMA}
BUILD_KEYS = (*SCHEMA["build"], *YAML_KEYS)
DEFAULT_BASE = "static"
DEFAULT_FAIL_ON = "medium"


@dataclass(frozen=True)
class PipelineRequest:
    """Everything one run of build-and-sign needs, settled before any work starts."""

    path: str
    repo: str
    platforms: tuple[str, ...] = ()
    base: str = DEFAULT_BASE
    version: str | None = None
    build_settings: BuildSettings = field(default_factory=BuildSettings)   # docs/build.md
    tag: str | None = None
    policy: str | None = None
    trust_config: str | None = None
    identity_token: str | None = field(default=None, repr=False)
    key: str | None = None
    key_password: str | None = field(default=None, repr=False)
    vuln_db: str | None = None
    fail_on: str = DEFAULT_FAIL_ON
    check_tools: tuple[str, ...] = ()
    check_settings: CheckSettings = field(default_factory=CheckSettings)
    harden_threshold: str | None = None
    profiles_dir: str | None = None      # keep the runtime profiles here (else only attested)
    promote_to: str | None = None
    registry_options: RegistryOptions | None = None
    report_file: str | None = None      # where the full JSON report goes (always on failure)
    max_workers: int = 3


@dataclass(frozen=True)
class PipelineConfig:
    """Settings from the file (None/empty = not set there)."""

    source: str | None = None
    repo: str | None = None
    platforms: tuple[str, ...] = ()
    base: str | None = None
    version: str | None = None
    tag: str | None = None
    vuln_db: str | None = None
    fail_on: str | None = None
    check_tools: tuple[str, ...] = ()
    harden_threshold: str | None = None
    profiles_dir: str | None = None
    trust_config: str | None = None
    key: str | None = None
    policy: str | None = None
    promote_to: str | None = None
    check: CheckSettings = field(default_factory=CheckSettings)
    build: BuildSettings = field(default_factory=BuildSettings)
    extra: dict[str, Any] = field(default_factory=dict)

    def merged(self, **flags: Any) -> PipelineConfig:
        """Flags win: every flag that is set (not None, not empty) replaces the file's value;
        `build=BuildSettings(...)` from the flags wins setting by setting."""
        given = {k: (tuple(v) if isinstance(v, list) else v) for k, v in flags.items()
                 if v is not None and v != () and v != ""}
        flagged = given.get("build")
        if isinstance(flagged, BuildSettings):
            given["build"] = self.build.merged(flagged)
        return replace(self, **given)  # type: ignore[arg-type]

    def request(self, path: str, *, identity_token: str | None = None,
                key_password: Callable[[str], str | None] | None = None,
                registry_options: RegistryOptions | None = None,
                report_file: str | None = None) -> PipelineRequest:
        """The run's request: these settings over the defaults. `key_password(key)` is asked
        only when a key is set."""
        if not self.repo:
            raise UsageError("no repository to push to",
                             expected="--repo host/repo or `repo:` in sccheck.yaml",
                             found="neither", fix="e.g. --repo 127.0.0.1:5000/team/hello")
        return PipelineRequest(
            path=path, repo=self.repo, platforms=self.platforms, base=self.base or DEFAULT_BASE,
            version=self.version, build_settings=self.build, tag=self.tag, policy=self.policy,
            trust_config=self.trust_config,
            identity_token=identity_token, key=self.key,
            key_password=key_password(self.key) if self.key and key_password else None,
            vuln_db=self.vuln_db, fail_on=self.fail_on or DEFAULT_FAIL_ON, check_tools=self.check_tools,
            check_settings=self.check, harden_threshold=self.harden_threshold,
            profiles_dir=self.profiles_dir, promote_to=self.promote_to,
            registry_options=registry_options, report_file=report_file)


def _bad(source: str, path: str, message: str, expected: str, found: str) -> UsageError:
    return UsageError(f"{source}: {path}: {message}", expected=expected, found=found,
                      fix=f"correct {path} in {source} (schema in docs/pipeline.md)")


def _string(value: Any, source: str, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(source, path, "must be a non-empty string", "a string", repr(value))
    return value


def _convert(kind: str, value: Any, source: str, path: str, base: Path) -> Any:
    if kind == "platforms":
        # The one platform parser: empty entries, duplicates and two spellings of one platform
        # are usage errors here, as for `build --platform`.
        texts = [value] if isinstance(value, str) else value
        if not isinstance(texts, list) or not texts:
            raise _bad(source, path, "must be a non-empty list of strings", "[a, b]", repr(value))
        strings = [_string(v, source, f"{path}[{i}]") for i, v in enumerate(texts)]
        return tuple(str(p) for p in parse_platforms(strings))
    if kind == "list":
        if not isinstance(value, list) or not value:
            raise _bad(source, path, "must be a non-empty list of strings", "[a, b]", repr(value))
        return tuple(_string(v, source, f"{path}[{i}]") for i, v in enumerate(value))
    text = _string(value, source, path)
    if kind == "path":
        return resolve_path(text, base)
    return text


def parse_config(doc: Any, source: str, base: Path) -> PipelineConfig:
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise _bad(source, "$", "must be a mapping", "keys such as repo, build, check", type(doc).__name__)
    values: dict[str, Any] = {"source": source}
    for key, value in doc.items():
        if key not in TOP_LEVEL:
            raise _bad(source, f"$.{key}", "unknown key", "one of " + ", ".join(sorted(TOP_LEVEL)), str(key))
        if key == "apiVersion" and value != API_VERSION:
            raise _bad(source, "$.apiVersion", "unsupported version", API_VERSION, repr(value))
        if key == "kind" and value != KIND:
            raise _bad(source, "$.kind", "wrong kind", KIND, repr(value))
        if key == "repo":
            values["repo"] = _string(value, source, "$.repo")
        if key == "check":
            settings = parse_check_settings(value, source, base)
            values.update(check=settings, vuln_db=settings.vuln_db, fail_on=settings.fail_on,
                          check_tools=settings.only)
        if key in SCHEMA:
            known = BUILD_KEYS if key == "build" else tuple(SCHEMA[key])
            if not isinstance(value, dict):
                raise _bad(source, f"$.{key}", "must be a mapping",
                           "keys " + ", ".join(known), type(value).__name__)
            for sub, subvalue in value.items():
                if sub not in known:
                    raise _bad(source, f"$.{key}.{sub}", "unknown key",
                               "one of " + ", ".join(known), str(sub))
                if sub in SCHEMA[key]:
                    name, kind = SCHEMA[key][sub]
                    values[name] = _convert(kind, subvalue, source, f"$.{key}.{sub}", base)
            if key == "build":
                wanted = {k: v for k, v in value.items() if k in YAML_KEYS}
                try:
                    values["build"] = settings_from_yaml(wanted, "$.build", base)
                except UsageError as exc:
                    raise _bad(source, "$.build", exc.message, exc.expected or "see docs/build.md",
                               exc.found or "") from None
    return PipelineConfig(**values)


def load_config(path: str | Path | None, project: str | Path) -> PipelineConfig:
    """`path` if given (must exist), else PROJECT/sccheck.yaml if present, else empty settings."""
    file = Path(path) if path else Path(project) / CONFIG_NAME
    if not file.exists():
        if path:
            raise UsageError(f"the config file {file} does not exist", expected="a readable sccheck.yaml",
                             found="no such file", fix="pass an existing file to --config, or leave it out")
        return PipelineConfig()
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise UsageError(f"{file} is too large", expected=f"at most {MAX_CONFIG_BYTES} bytes",
                         found=f"{len(raw)} bytes")
    doc = load_yaml(raw, str(file), max_bytes=MAX_CONFIG_BYTES)
    return parse_config(doc, str(file), file.resolve().parent)


def split_platforms(text: str | None) -> tuple[str, ...]:
    """`--platform a,b` with the one platform parser (empty entries, duplicates are errors)."""
    return tuple(str(p) for p in parse_platforms(text)) if text else ()


def pipeline_request(path: str, *, config_file: str | None = None, identity_token: str | None = None,
                     key_password: Callable[[str], str | None] | None = None,
                     registry_options: RegistryOptions | None = None, platforms: str | None = None,
                     report_file: str | None = None, build: BuildSettings | None = None,
                     **flags: str | None) -> PipelineRequest:
    """Defaults < `sccheck.yaml` (PATH's, or `config_file`) < flags (`platforms` comma-separated;
    `build` the build-setting flags; the other flags named as PipelineConfig's fields)."""
    merged = load_config(config_file, path).merged(platforms=split_platforms(platforms), build=build,
                                                   **flags)
    return merged.request(path, identity_token=identity_token, key_password=key_password,
                          registry_options=registry_options, report_file=report_file)
