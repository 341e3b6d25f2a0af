"""Go module source trees: go.mod / go.sum, and with `go` at hand the real module graph.

Without `go` (or with `use_go=False`) the SBOM lists the requirements written in go.mod, with
their replacements and go.sum hashes, and main -> each requirement as the graph. With `go` it
lists the build list (`go list -m -json all`) and the edges of `go mod graph` between the
selected versions.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from supplychain.errors import SbomError
from supplychain.gomodule import module_root
from supplychain.sbom.buildinfo import Module
from supplychain.sbom.model import DEVEL, GoProgram
from supplychain.source import exact_tag
from supplychain.source import go_version as probe_go_version
from supplychain.tools import child_env, find_tool

MAX_GOMOD_BYTES = 4 * 1024 * 1024
_GO_TIMEOUT = 300


@dataclass(frozen=True)
class GoMod:
    module: str
    go: str
    toolchain: str
    requires: tuple[tuple[str, str, bool], ...]         # (path, version, indirect)
    replaces: tuple[tuple[str, str, str, str], ...]     # (old path, old version or "", new path, new version)


def _strip_comment(line: str) -> tuple[str, str]:
    code, _, comment = line.partition("//")
    return code.strip(), comment.strip()


def _unquote(word: str) -> str:
    return word[1:-1] if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"`" else word


def parse_go_mod(text: str, where: str = "go.mod") -> GoMod:
    module = go = toolchain = ""
    requires: list[tuple[str, str, bool]] = []
    replaces: list[tuple[str, str, str, str]] = []
    block = ""
    for number, raw in enumerate(text.splitlines(), 1):
        code, comment = _strip_comment(raw)
        if not code:
            continue
        if block:
            if code == ")":
                block = ""
                continue
            verb, rest = block, code
        else:
            verb, _, rest = code.partition(" ")
            rest = rest.strip()
            if rest == "(":
                block = verb
                continue
        words = [_unquote(w) for w in rest.split()]
        try:
            if verb == "module":
                module = words[0]
            elif verb == "go":
                go = words[0]
            elif verb == "toolchain":
                toolchain = words[0]
            elif verb == "require":
                requires.append((words[0], words[1], "indirect" in comment.split(";")[0].split()))
            elif verb == "replace":
                arrow = words.index("=>")
                old, new = words[:arrow], words[arrow + 1:]
                replaces.append((old[0], old[1] if len(old) > 1 else "",
                                 new[0], new[1] if len(new) > 1 else ""))
        except (IndexError, ValueError):
            raise SbomError(
                f"{where} line {number} is malformed",
                expected=f"a '{verb}' directive as 'go mod edit' writes it",
                found=raw.strip()[:200],
                fix="run 'go mod tidy' and try again",
            ) from None
    if not module:
        raise SbomError(f"{where} has no module directive", expected="'module <path>'",
                        fix="run 'go mod init <path>'")
    return GoMod(module, go, toolchain, tuple(requires), tuple(replaces))


def parse_go_sum(text: str) -> dict[tuple[str, str], str]:
    sums = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and not parts[1].endswith("/go.mod"):
            sums[(parts[0], parts[1])] = parts[2]
    return sums


def _read(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_GOMOD_BYTES:
            raise SbomError(f"{path} is larger than {MAX_GOMOD_BYTES} bytes")
        return path.read_text()
    except OSError as exc:
        raise SbomError(f"cannot read {path}: {exc.strerror}", fix="check the path and permissions") from None


def _replace_for(mod: GoMod, path: str, version: str) -> Module | None:
    for old, old_version, new, new_version in mod.replaces:
        if old == path and old_version in ("", version):
            return Module(new, new_version or DEVEL)
    return None


def _from_go_mod(directory: Path, mod: GoMod, sums: dict[tuple[str, str], str]) -> GoProgram:
    deps = []
    for path, version, _indirect in mod.requires:
        repl = _replace_for(mod, path, version)
        if repl is not None:
            repl = Module(repl.path, repl.version, sums.get((repl.path, repl.version), ""))
        deps.append(Module(path, version, sums.get((path, version), ""), repl))
    indirect = frozenset(p for p, _v, ind in mod.requires if ind)
    go_version = f"go{mod.toolchain.removeprefix('go') or mod.go}" if (mod.toolchain or mod.go) else ""
    return GoProgram("source", str(directory), Module(mod.module, DEVEL), "go.mod has no version",
                     tuple(deps), go_version, graph=None, indirect=indirect)


def _run_go(go: str, args: list[str], directory: Path) -> str:
    # GOWORK is left as it is: a go.work above the module is what `go build` uses too, and with
    # it off the workspace's other modules would be looked up on the module proxy by path.
    env = child_env(extra={"GOFLAGS": "-mod=readonly"})
    try:
        done = subprocess.run([go, *args], cwd=directory, env=env, capture_output=True, text=True,
                              timeout=_GO_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise SbomError(f"'go {' '.join(args)}' took longer than {_GO_TIMEOUT}s") from None
    if done.returncode != 0:
        raise SbomError(
            f"'go {' '.join(args)}' failed in {directory}",
            expected="a module whose dependencies are in go.sum and reachable (module cache or proxy)",
            found=f"exit code {done.returncode}",
            fix="run 'go mod download' (or 'go mod tidy') in the module, or pass --no-go",
            facts={"stderr": done.stderr[-4000:]},
        )
    return done.stdout


def _json_stream(text: str) -> list[dict[str, object]]:
    decoder = json.JSONDecoder()
    out: list[dict[str, object]] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return out
        obj, pos = decoder.raw_decode(text, pos)
        out.append(obj)


def _from_go(directory: Path, go: str, mod: GoMod, sums: dict[tuple[str, str], str]) -> GoProgram:
    listed = _json_stream(_run_go(go, ["list", "-m", "-json", "all"], directory))
    selected: dict[str, str] = {}
    deps: list[Module] = []
    indirect = set()
    for entry in listed:
        path, version = str(entry.get("Path", "")), str(entry.get("Version", ""))
        if entry.get("Main"):
            if path != mod.module:      # another module of the go.work workspace: local source
                selected[path] = ""
                deps.append(Module(path, DEVEL))
            continue
        selected[path] = version
        repl = None
        raw_repl = entry.get("Replace")
        if isinstance(raw_repl, dict):
            rpath, rversion = str(raw_repl.get("Path", "")), str(raw_repl.get("Version", "") or DEVEL)
            repl = Module(rpath, rversion, str(raw_repl.get("Sum", "")) or sums.get((rpath, rversion), ""))
        deps.append(Module(path, version, str(entry.get("Sum", "")) or sums.get((path, version), ""), repl))
        if entry.get("Indirect"):
            indirect.add(path)
    graph: dict[str, list[str]] = {mod.module: []}
    for line in _run_go(go, ["mod", "graph"], directory).splitlines():
        parts = line.split()
        if len(parts) != 2:
            continue
        src, dst = parts
        spath, _, sversion = src.partition("@")
        dpath = dst.partition("@")[0]
        if dpath not in selected:
            continue  # go@, toolchain@ and modules pruned from the build list
        if spath == mod.module or (spath in selected and selected[spath] == sversion):
            edges = graph.setdefault(spath, [])
            if dpath not in edges:
                edges.append(dpath)
    go_version = probe_go_version(directory)
    version = _source_version(directory)
    return GoProgram("source", str(directory), Module(mod.module, version),
                     "the git tag of the source tree" if version != DEVEL else "go.mod has no version",
                     tuple(deps), go_version, graph={k: tuple(v) for k, v in graph.items()},
                     indirect=frozenset(indirect))


_TAG_RE = re.compile(r"^v\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]*)?$")


def _source_version(directory: Path) -> str:
    """The exact semver tag of HEAD when the tree is a clean git checkout at a tag."""
    if not (directory / ".git").exists():
        return DEVEL
    tag = exact_tag(directory)
    return tag if tag and _TAG_RE.match(tag) else DEVEL


def program_from_source(directory: str | Path, *, use_go: bool = True) -> GoProgram:
    module_root(directory)       # not a module: the same usage error as build and check
    root = Path(directory)
    gomod_path = root / "go.mod"
    mod = parse_go_mod(_read(gomod_path), str(gomod_path))
    sums = parse_go_sum(_read(root / "go.sum")) if (root / "go.sum").is_file() else {}
    go = find_tool("go", required=False) if use_go else None
    if go is None:
        return _from_go_mod(root, mod, sums)
    return _from_go(root, go, mod, sums)
