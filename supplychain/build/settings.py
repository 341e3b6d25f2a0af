"""What to build and how the image runs it: one set of build settings, read from `build` flags,
`build-and-sign` flags and the `build:` section of sccheck.yaml alike (flags win per setting)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from supplychain.errors import UsageError

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_LABEL_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,254}")
_PORT = re.compile(r"(\d{1,5})(?:/(tcp|udp|sctp))?")
_GO_VAR = re.compile(r"[A-Za-z0-9_./-]+\.[A-Za-z_][A-Za-z0-9_]*")
_TAG = re.compile(r"[A-Za-z0-9_.!-]{1,64}")
MAX_ITEMS = 64
RESERVED_LABEL_PREFIX = "org.opencontainers.image."
DATA_PATH = "/var/run/sccheck"             # where --data lands; $SCCHECK_DATA_PATH says so
DEFAULT_BIN_DIR = "/usr/local/bin"
DEFAULT_USER = "65532:65532"      # nonroot, as distroless images run
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_ABS_DIR = re.compile(r"(/[A-Za-z0-9._-]+)+")


@dataclass(frozen=True)
class BuildSettings:
    """Empty/None means "not set" (so a file's value or the default applies)."""

    mains: tuple[str, ...] = ()            # main packages inside the module, e.g. ./cmd/server
    entrypoint: str | None = None          # which binary runs (its name), when several are built
    args: tuple[str, ...] = ()             # the image's Cmd (arguments after the entrypoint)
    tags: tuple[str, ...] = ()             # go build -tags
    ldflags: str = ""                      # appended to the reproducible defaults
    version_var: str | None = None         # -X target of the version (default main.version)
    xvars: tuple[str, ...] = ()            # more -X settings: IMPORTPATH.NAME=VALUE
    env: tuple[str, ...] = ()              # NAME=VALUE in the image config
    labels: tuple[str, ...] = ()           # KEY=VALUE on the image config
    expose: tuple[str, ...] = ()           # PORT[/tcp|udp|sctp]
    data: str | None = None                # a directory copied to DATA_PATH (like ko's kodata)
    bin_dir: str | None = None             # where the binaries go (default /usr/local/bin)
    binary_name: str | None = None         # the entrypoint binary's name (default: go's)
    cgo: bool | None = None                # CGO_ENABLED=1 against a glibc or musl base (build/cgo.py)

    def merged(self, other: BuildSettings) -> BuildSettings:
        """`other` (the flags) wins for every setting it sets."""
        given = {f.name: getattr(other, f.name) for f in fields(other)
                 if getattr(other, f.name) not in (None, (), "")}
        return replace(self, **given)

    @property
    def version_variable(self) -> str:
        return self.version_var or "main.version"

    @property
    def binary_dir(self) -> str:
        return self.bin_dir or DEFAULT_BIN_DIR

    def env_pairs(self) -> dict[str, str]:
        return dict(_pair(e, "--env", "NAME=VALUE", _ENV_NAME) for e in self.env)

    def label_pairs(self) -> dict[str, str]:
        pairs = dict(_pair(e, "--label", "KEY=VALUE", _LABEL_KEY) for e in self.labels)
        for key in pairs:
            if key.startswith(RESERVED_LABEL_PREFIX):
                raise UsageError(f"--label {key} is set by sccheck build",
                                 expected=f"a label outside {RESERVED_LABEL_PREFIX}* (those record "
                                          "the version, revision, source and base)",
                                 found=key, fix="--version, --source-date-epoch or another label key")
        return pairs

    def exposed_ports(self) -> list[str]:
        out = []
        for value in self.expose:
            m = _PORT.fullmatch(value.strip())
            if not m or not 1 <= int(m.group(1)) <= 65535:
                raise UsageError(f"invalid --expose {value!r}", expected="PORT[/tcp|udp|sctp], e.g. 8080/tcp",
                                 found=value)
            out.append(f"{int(m.group(1))}/{m.group(2) or 'tcp'}")
        return sorted(set(out), key=lambda p: (int(p.split("/")[0]), p))

    def x_settings(self) -> list[str]:
        out = []
        for value in self.xvars:
            name, sep, val = value.partition("=")
            if not sep or not _GO_VAR.fullmatch(name) or any(c.isspace() or c in "'\"" for c in val):
                raise UsageError(f"invalid -X setting {value!r}",
                                 expected="IMPORTPATH.NAME=VALUE without spaces or quotes, "
                                          "e.g. github.com/acme/app/internal/build.Commit=abc123",
                                 found=value)
            out.append(f"{name}={val}")
        return out

    def validate(self) -> None:
        """Every setting checked before any compile (usage errors, exit 2)."""
        for name in ("mains", "args", "tags", "xvars", "env", "labels", "expose"):
            if len(getattr(self, name)) > MAX_ITEMS:
                raise UsageError(f"too many {name}", expected=f"at most {MAX_ITEMS}",
                                 found=str(len(getattr(self, name))))
        for tag in self.tags:
            if not _TAG.fullmatch(tag):
                raise UsageError(f"invalid build tag {tag!r}", expected="letters, digits, _ . ! -",
                                 fix="--tags a,b (comma-separated) or repeat --tags")
        if self.version_var is not None and not _GO_VAR.fullmatch(self.version_var):
            raise UsageError(f"invalid --version-var {self.version_var!r}",
                             expected="an import path and a variable name, e.g. main.version")
        for main in self.mains:
            if not main or main.startswith("/") or ".." in main.split("/") or any(c.isspace() for c in main):
                raise UsageError(f"invalid --main {main!r}",
                                 expected="a package directory inside the module, e.g. ./cmd/server")
        try:
            shlex.split(self.ldflags)
        except ValueError as exc:
            raise UsageError(f"invalid --ldflags {self.ldflags!r}: {exc}") from None
        if self.bin_dir is not None and (not _ABS_DIR.fullmatch(self.bin_dir)
                                         or ".." in self.bin_dir.split("/")):
            raise UsageError(f"invalid --bin-dir {self.bin_dir!r}",
                             expected="an absolute directory, e.g. /app")
        if self.binary_name is not None and (not _NAME.fullmatch(self.binary_name)
                                             or self.binary_name in (".", "..")):
            raise UsageError(f"invalid --binary-name {self.binary_name!r}",
                             expected="letters, digits, . _ - (at most 64)")
        self.env_pairs()
        self.label_pairs()
        self.exposed_ports()
        self.x_settings()


def _pair(value: str, flag: str, expected: str, key_re: re.Pattern[str]) -> tuple[str, str]:
    key, sep, val = value.partition("=")
    if not sep or not key_re.fullmatch(key):
        raise UsageError(f"invalid {flag} {value!r}", expected=expected, found=value)
    return key, val


def split_list(values: tuple[str, ...]) -> tuple[str, ...]:
    """Repeated flags and comma-separated values alike: ("a,b", "c") -> ("a", "b", "c")."""
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


# sccheck.yaml `build:` keys -> (BuildSettings field, kind); kind "list" also takes one string,
# "pairs" a mapping or a list of KEY=VALUE strings, "bool" true or false.
YAML_KEYS: dict[str, tuple[str, str]] = {
    "main": ("mains", "list"), "entrypoint": ("entrypoint", "str"), "args": ("args", "list"),
    "tags": ("tags", "list"), "ldflags": ("ldflags", "str"), "versionVar": ("version_var", "str"),
    "x": ("xvars", "pairs"), "env": ("env", "pairs"), "labels": ("labels", "pairs"),
    "expose": ("expose", "list"), "data": ("data", "str"), "binDir": ("bin_dir", "str"),
    "binaryName": ("binary_name", "str"), "cgo": ("cgo", "bool"),
}


def settings_from_yaml(values: Mapping[str, Any], where: str, base: Path | None = None) -> BuildSettings:
    """`values`: the build-setting keys of sccheck.yaml's `build:` section (already known keys);
    `data` is relative to `base` (the file's directory)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        name, kind = YAML_KEYS[key]
        path = f"{where}.{key}"
        if kind == "bool":
            if not isinstance(value, bool):
                raise UsageError(f"{path} must be true or false", found=repr(value))
            out[name] = value
        elif kind == "str":
            if not isinstance(value, str) or not value.strip():
                raise UsageError(f"{path} must be a non-empty string", found=repr(value))
            out[name] = value
        elif kind == "pairs" and isinstance(value, dict):
            out[name] = tuple(f"{k}={_scalar(v, f'{path}.{k}')}" for k, v in value.items())
        else:
            items = [value] if isinstance(value, (str, int)) and not isinstance(value, bool) else value
            if not isinstance(items, list) or not items:
                raise UsageError(f"{path} must be a string or a non-empty list", found=repr(value))
            out[name] = tuple(_scalar(v, f"{path}[{i}]") for i, v in enumerate(items))
    if "data" in out and base is not None:
        out["data"] = str(base / out["data"]) if not Path(out["data"]).is_absolute() else out["data"]
    settings = BuildSettings(**out)
    settings.validate()
    return settings


MAX_DATA_FILES = 10_000
MAX_DATA_BYTES = 256 << 20


def data_files(directory: str) -> list[tuple[str, bytes, int]]:
    """(path in the image, content, mode) of every file under `directory`, bounded; a symbolic
    link or a special file is refused (the image must hold what the directory shows)."""
    root = Path(directory)
    if not root.is_dir():
        raise UsageError(f"--data {directory} is not a directory", expected="a directory of files to ship",
                         found="no such directory" if not root.exists() else "a file")
    out: list[tuple[str, bytes, int]] = []
    total = 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            raise UsageError(f"--data {directory}: {rel} is not a regular file or directory",
                             expected="regular files and directories only", found=rel,
                             fix="copy what the link points to into the directory")
        if path.is_dir():
            continue
        data = path.read_bytes()
        total += len(data)
        if len(out) >= MAX_DATA_FILES or total > MAX_DATA_BYTES:
            raise UsageError(f"--data {directory} is too large",
                             expected=f"at most {MAX_DATA_FILES} files and {MAX_DATA_BYTES >> 20} MiB")
        out.append((f"{DATA_PATH}/{rel}", data, 0o755 if path.stat().st_mode & 0o111 else 0o644))
    return out


def _scalar(value: Any, path: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value) == "":
        raise UsageError(f"{path} must be a string", found=repr(value))
    return str(value)
