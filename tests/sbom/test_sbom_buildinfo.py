"""Go build info read in pure Python, cross-checked against `go version -m`; bad binaries fail clearly."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from supplychain.errors import SbomError
from supplychain.sbom.buildinfo import MAGIC, Module, parse_go_version_m, parse_modinfo, read_buildinfo
from supplychain.sbom.model import main_version, pseudo_version
from tests.sbom.conftest import COBRA_VERSION, HELLO_VERSION, LOGTEXT_TAG, Built


def _go_version_m(path: Path) -> str:
    return subprocess.run(["go", "version", "-m", str(path)], check=True, capture_output=True,
                          text=True).stdout


@pytest.mark.parametrize("name", ["hello", "cobrayaml", "logtext", "logtext_arm64"])
def test_buildinfo_equals_go_version_m(built: Built, name: str) -> None:
    path: Path = getattr(built, name)
    ours = read_buildinfo(path.read_bytes())
    theirs = parse_go_version_m(_go_version_m(path))
    assert ours == theirs
    assert ours.go_version.startswith("go1.")
    assert ours.setting("CGO_ENABLED") == "0"


def test_modules_and_replacement(built: Built) -> None:
    info = read_buildinfo(built.logtext.read_bytes())
    assert info.main.path == "example.com/sccheck/logtext"
    deps = {d.path: d for d in info.deps}
    assert set(deps) == {"github.com/sirupsen/logrus", "golang.org/x/sys", "golang.org/x/text"}
    text = deps["golang.org/x/text"]
    assert (text.version, text.sum) == ("v0.38.0", "")
    assert text.replace is not None
    assert (text.replace.path, text.replace.version) == ("golang.org/x/text", "v0.37.0")
    assert text.replace.sum.startswith("h1:")
    assert deps["github.com/sirupsen/logrus"].version == "v1.9.4"


def test_main_version_sources(built: Built) -> None:
    hello = built.hello.read_bytes()
    version, where = main_version(read_buildinfo(hello), hello)
    assert version == f"v{HELLO_VERSION}"
    assert where == f'the string variable main.version in the binary ("{HELLO_VERSION}")'
    cobra = built.cobrayaml.read_bytes()  # stripped (-s -w): only the recorded -ldflags tell
    info = read_buildinfo(cobra)
    assert info.setting("-ldflags") == f"-s -w -X main.version={COBRA_VERSION}"
    assert main_version(info, cobra) == (COBRA_VERSION, "-ldflags -X main.version")
    logtext = built.logtext.read_bytes()
    info = read_buildinfo(logtext)
    assert info.main.version == LOGTEXT_TAG
    assert main_version(info, logtext)[0] == LOGTEXT_TAG
    assert info.setting("vcs") == "git" and info.setting("vcs.modified") == "false"
    assert info.setting("vcs.time") == "2026-01-02T03:04:05Z"


def test_pseudo_version_when_only_vcs_is_known() -> None:
    info = parse_modinfo("go1.26.0", "path\tex.com/a\nmod\tex.com/a\t(devel)\t\n"
                         "build\tvcs.revision=0123456789abcdef0123\nbuild\tvcs.time=2026-03-04T05:06:07Z\n"
                         "build\tvcs.modified=true\n")
    assert main_version(info, None) == ("v0.0.0-20260304050607-0123456789ab+dirty",
                                        "pseudo-version from vcs.revision and vcs.time")
    assert pseudo_version("abc", "not a time") is None
    bare = parse_modinfo("go1.26.0", "path\tex.com/a\nmod\tex.com/a\t(devel)\t\n")
    assert main_version(bare, None)[0] == "(devel)"


def test_quoted_build_settings_and_main_replacement() -> None:
    text = ('path\tex.com/a\nmod\tex.com/a\t(devel)\t\n=>\t../a\t\t\n'
            'dep\tex.com/b\tv1.0.0\th1:x=\n'
            'build\t-ldflags="-X \\"main.version=1.0.0\\" -s"\n'
            'build\t"we=ird"="tab\\there"\n')
    info = parse_modinfo("go1.26.0", text)
    assert info.main.replace == Module("../a", "", "")
    assert info.setting("-ldflags") == '-X "main.version=1.0.0" -s'
    assert info.setting("we=ird") == "tab\there"
    assert main_version(info, None) == ("v1.0.0", '-ldflags -X main.version ("1.0.0")')


def test_not_a_go_binary(tmp_path: Path) -> None:
    with pytest.raises(SbomError, match="is not an ELF executable") as err:
        read_buildinfo(b"#!/bin/sh\necho hi\n", "run.sh")
    assert err.value.fix
    true = Path("/bin/true").read_bytes()  # a real C program: ELF, no Go build info
    with pytest.raises(SbomError, match="has no Go build info"):
        read_buildinfo(true, "/bin/true")


def test_corrupt_and_old_buildinfo(built: Built) -> None:
    data = bytearray(built.hello.read_bytes())
    at = data.find(MAGIC)
    pointer_based = bytearray(data)
    pointer_based[at + 15] = 0  # Go < 1.18 layout: strings behind pointers
    with pytest.raises(SbomError, match=r"Go < 1\.18"):
        read_buildinfo(bytes(pointer_based))
    huge = bytearray(data)
    huge[at + 32:at + 37] = b"\xff\xff\xff\xff\x0f"  # a version length past the end of the file
    with pytest.raises(SbomError, match="build info of the file is corrupt"):
        read_buildinfo(bytes(huge))
    garbage = bytearray(data)
    garbage[at + 32] = 8
    garbage[at + 33:at + 41] = b"notgo!!!"
    with pytest.raises(SbomError, match="corrupt") as err:
        read_buildinfo(bytes(garbage))
    assert "notgo" in str(err.value.found)
    stripped = bytes(data[:at]) + b"\0" * len(MAGIC) + bytes(data[at + len(MAGIC):])
    with pytest.raises(SbomError, match="has no Go build info"):
        read_buildinfo(stripped)


def test_without_section_headers_a_decoy_magic_is_skipped(built: Built) -> None:
    data = bytearray(built.hello.read_bytes())
    data[0x28:0x30] = b"\0" * 8  # e_shoff = 0: no section headers, so the file is scanned
    data[0x1000:0x1000 + 32] = MAGIC + b"\x08\x00" + b"\0" * 16  # a 16-aligned copy of the magic, as a
    info = read_buildinfo(bytes(data))                          # string constant would be
    assert info == read_buildinfo(built.hello.read_bytes())


def test_a_main_package_below_the_module_root_is_the_purl_subpath(tmp_path: Path) -> None:
    """purl spec: pkg:golang/<module>@<version>#<package subpath>, as syft writes it; scanners
    match the module, not a made-up module named after the package."""
    import json
    import os
    import sys

    module = tmp_path / "svc"
    (module / "cmd" / "server").mkdir(parents=True)
    (module / "go.mod").write_text("module example.com/svc\n\ngo 1.22\n")
    (module / "cmd" / "server" / "main.go").write_text('package main\n\nfunc main() { println("up") }\n')
    binary = tmp_path / "server"
    subprocess.run(["go", "build", "-trimpath", "-o", str(binary), "./cmd/server"], cwd=module, check=True,
                   env={**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"})
    out = tmp_path / "bom.json"
    proc = subprocess.run([sys.executable, "-m", "supplychain", "-q", "sbom", str(binary),
                           "--output", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    bom = json.loads(out.read_text())
    main = bom["metadata"]["component"] if bom["metadata"].get("component", {}).get("type") == "application" \
        else next(c for c in bom["components"] if c["type"] == "application")
    assert main["purl"].startswith("pkg:golang/example.com/svc@") and main["purl"].endswith("#cmd/server")
