"""Source-tree mode: go.mod/go.sum alone, and the real module graph from `go list` / `go mod graph`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from supplychain.errors import SbomError, UsageError
from supplychain.sbom.generate import generate_sbom
from supplychain.sbom.gomod import parse_go_mod
from tests.sbom.conftest import FIXTURES, ROOT


def _bom(target: Path, **kw: Any) -> dict[str, Any]:
    [doc] = generate_sbom(str(target), validate=True, **kw)
    assert doc.subject.kind == "source"
    data: dict[str, Any] = json.loads(doc.text)
    return data


def _modules(bom: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["version"] for c in bom["components"]}


def _props(bom: dict[str, Any], name: str) -> dict[str, str]:
    comp = next(c for c in bom["components"] if c["name"] == name)
    return {p["name"]: p["value"] for p in comp.get("properties", [])}


def test_module_graph_with_go() -> None:
    bom = _bom(FIXTURES / "cobrayaml")
    go_version = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True,
                                check=True).stdout.strip()
    assert _modules(bom) == {
        "github.com/cpuguy83/go-md2man/v2": "v2.0.6", "github.com/inconshreveable/mousetrap": "v1.1.0",
        "github.com/russross/blackfriday/v2": "v2.1.0", "github.com/spf13/cobra": "v1.10.2",
        "github.com/spf13/pflag": "v1.0.9", "go.yaml.in/yaml/v3": "v3.0.4",
        "gopkg.in/check.v1": "v0.0.0-20161208181325-20d25e280405", "gopkg.in/yaml.v3": "v3.0.1",
        "stdlib": go_version}
    main = bom["metadata"]["component"]
    assert (main["name"], main["version"], main["type"]) == ("example.com/sccheck/cobrayaml", "(devel)",
                                                             "application")
    deps = {d["ref"]: sorted(d.get("dependsOn", [])) for d in bom["dependencies"]}
    assert deps[main["bom-ref"]] == sorted([
        "pkg:golang/github.com/inconshreveable/mousetrap@v1.1.0", "pkg:golang/github.com/spf13/cobra@v1.10.2",
        "pkg:golang/github.com/spf13/pflag@v1.0.9", "pkg:golang/gopkg.in/yaml.v3@v3.0.1",
        f"pkg:golang/stdlib@{go_version[2:]}"])
    assert deps["pkg:golang/github.com/spf13/cobra@v1.10.2"] == sorted([
        "pkg:golang/github.com/cpuguy83/go-md2man/v2@v2.0.6",
        "pkg:golang/github.com/inconshreveable/mousetrap@v1.1.0",
        "pkg:golang/github.com/spf13/pflag@v1.0.9", "pkg:golang/go.yaml.in/yaml/v3@v3.0.4"])
    assert _props(bom, "github.com/spf13/pflag")["sccheck:go:indirect"] == "true"
    assert "sccheck:go:indirect" not in _props(bom, "github.com/spf13/cobra")
    assert _props(bom, "github.com/spf13/cobra")["sccheck:go:module:h1"].startswith("h1:")


def test_go_mod_only_with_replacement() -> None:
    bom = _bom(FIXTURES / "logtext", use_go=False)
    assert _modules(bom) == {"github.com/sirupsen/logrus": "v1.9.4", "golang.org/x/text": "v0.37.0",
                             "golang.org/x/sys": "v0.13.0", "stdlib": "go1.26"}
    text = _props(bom, "golang.org/x/text")
    assert text["sccheck:go:replaces"] == "golang.org/x/text@v0.38.0"
    gosum = (FIXTURES / "logtext" / "go.sum").read_text()
    assert f"golang.org/x/text v0.37.0 {text['sccheck:go:module:h1']}" in gosum


def test_examples_hello_source_matches_binary_modules(sccheck: Any, tmp_path: Path) -> None:
    out = tmp_path / "src.cdx.json"
    done = sccheck("--json", "sbom", str(ROOT / "examples" / "hello"), "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sboms"][0]["go_modules"] == 1
    bom = json.loads(out.read_text())
    assert _modules(bom)["github.com/google/uuid"] == "v1.6.0"


def test_bad_source_trees(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is not a Go module") as err:   # as build and check say
        generate_sbom(str(tmp_path))
    assert err.value.found == "no go.mod" and err.value.exit_code == 2
    (tmp_path / "go.mod").write_text("module ex.com/a\n\nrequire (\n\tex.com/b\n)\n")
    with pytest.raises(SbomError, match=r"go\.mod line 4 is malformed"):
        generate_sbom(str(tmp_path), use_go=False)
    (tmp_path / "go.mod").write_text("go 1.26\n")
    with pytest.raises(UsageError, match="has no module line"):
        generate_sbom(str(tmp_path))
    (tmp_path / "go.mod").write_text("module ex.com/a\n\ngo 1.26\n\nrequire ex.com/not/in/sum v1.0.0\n")
    with pytest.raises(SbomError, match="'go list -m -json all' failed") as err:
        generate_sbom(str(tmp_path), use_go=True)
    assert "stderr" in err.value.facts


def test_go_mod_parser_details() -> None:
    mod = parse_go_mod('module "ex.com/q"  // quoted\ngo 1.22\ntoolchain go1.26.1\n'
                       "require ex.com/x v1.2.3 // indirect; reason\n"
                       "replace (\n\tex.com/x => ../x\n\tex.com/y v1.0.0 => ex.com/z v2.0.0\n)\n")
    assert (mod.module, mod.go, mod.toolchain) == ("ex.com/q", "1.22", "go1.26.1")
    assert mod.requires == (("ex.com/x", "v1.2.3", True),)
    assert mod.replaces == (("ex.com/x", "", "../x", ""), ("ex.com/y", "v1.0.0", "ex.com/z", "v2.0.0"))
