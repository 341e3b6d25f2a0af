"""Bad input through the real CLI: each a clear error and nothing left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.build.conftest import make_base_layout

CGO_MAIN = 'package main\n\n// #include <stdio.h>\nimport "C"\n\nfunc main() { C.puts(C.CString("hi")) }\n'
BROKEN_MAIN = "package main\n\nfunc main() {\n\tundefinedThing()\n}\n"


def _module(root: Path, name: str, main: str) -> Path:
    root.mkdir(parents=True)
    (root / "go.mod").write_text(f"module example.com/{name}\n\ngo 1.26\n")
    (root / "main.go").write_text(main)
    return root


@pytest.fixture
def run_clean(sccheck, tmp_path: Path):
    """Run `sccheck build` with a private TMPDIR; afterwards assert the output and every
    temporary file are gone."""
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    out_parent = tmp_path / "out"
    out_parent.mkdir()

    def run(*args: str, output: str | None = None):
        output = output or f"oci:{out_parent / 'oci'}"
        result = sccheck("build", *args, "--output", output, "--tarball", str(out_parent / "img.tar"),
                         env={"TMPDIR": str(tmpdir)})
        assert sorted(os.listdir(out_parent)) == []
        assert sorted(os.listdir(tmpdir)) == []
        return result

    return run


def test_not_a_go_module(run_clean, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_clean(str(empty))
    assert result.returncode == 2
    assert result.stderr.splitlines()[-4:] == [
        f"usage error: {empty} is not a Go module",
        f"  expected: a go.mod file in {empty}",
        "  found:    no go.mod",
        "  fix:      run 'go mod init <module path>' there, or pass the directory that holds go.mod",
    ]


def test_compile_error_shows_the_compiler_output(run_clean, tmp_path: Path) -> None:
    src = _module(tmp_path / "broken", "broken", BROKEN_MAIN)
    result = run_clean(str(src))
    assert result.returncode == 3
    assert "build error: go build failed for linux/amd64" in result.stderr
    assert "  expected: example.com/broken to compile" in result.stderr
    assert "      ./main.go:4:2: undefined: undefinedThing" in result.stderr
    assert "fix:      fix the errors shown" in result.stderr


def test_cgo_is_named_as_the_reason(run_clean, tmp_path: Path) -> None:
    src = _module(tmp_path / "cgoapp", "cgoapp", CGO_MAIN)
    result = run_clean(str(src))
    assert result.returncode == 2          # found before compiling: a usage error with the choices
    assert "usage error: example.com/cgoapp needs cgo, which a static build leaves out" in result.stderr
    assert '  found:    import "C" in example.com/cgoapp (main.go)' in result.stderr
    assert "modernc.org/sqlite" in result.stderr


def test_unknown_base(run_clean, hello_repo: Path) -> None:
    result = run_clean(str(hello_repo), "--base", "distroless")
    assert result.returncode == 2
    assert "usage error: unknown base 'distroless'" in result.stderr
    assert "expected: scratch, static, alpine, or an image reference" in result.stderr


def test_missing_base_layout(run_clean, hello_repo: Path, tmp_path: Path) -> None:
    result = run_clean(str(hello_repo), "--base", f"oci:{tmp_path / 'nothing'}")
    assert result.returncode == 3
    assert f"build error: cannot read the base image oci:{tmp_path / 'nothing'}" in result.stderr
    assert f"found:    {tmp_path / 'nothing'} is not an OCI layout (no such directory)" in result.stderr


def test_base_without_the_platform(run_clean, hello_repo: Path, tmp_path: Path) -> None:
    make_base_layout(tmp_path / "amd64only", platforms=("linux/amd64",))
    result = run_clean(str(hello_repo), "--base", f"oci:{tmp_path / 'amd64only'}:3.20",
                       "--platform", "linux/amd64,linux/arm64")
    assert result.returncode == 3
    base = f"oci:{tmp_path / 'amd64only'}:3.20"
    assert f"build error: the base {base} has no image for linux/arm64" in result.stderr
    assert "  found:    platforms: linux/amd64" in result.stderr


def test_unwritable_output(run_clean, hello_repo: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run_clean(str(hello_repo), "--base", "scratch", output=f"oci:{blocker}/oci")
    assert result.returncode == 2
    assert f"usage error: cannot create the OCI layout at {blocker}/oci: Not a directory" in result.stderr
    assert blocker.read_text() == "not a directory"


def test_failed_tarball_leaves_no_layout(sccheck, hello_repo: Path, tmp_path: Path) -> None:
    """Outputs are checked before building: a bad --tarball directory stops everything."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = sccheck("build", str(hello_repo), "--base", "scratch", "--output", f"oci:{tmp_path / 'oci'}",
                     "--tarball", str(blocker / "sub" / "img.tar"))
    assert result.returncode == 2
    expected = f"usage error: cannot write the tarball {blocker / 'sub' / 'img.tar'}: Not a directory"
    assert expected in result.stderr
    assert not (tmp_path / "oci").exists() and blocker.read_text() == "not a directory"


def test_tarball_directories_are_created(sccheck, hello_repo: Path, tmp_path: Path) -> None:
    tarball = tmp_path / "new" / "dir" / "img.tar"
    result = sccheck("build", str(hello_repo), "--base", "scratch", "--tarball", str(tarball))
    assert result.returncode == 0, result.stderr
    assert tarball.is_file() and [p.name for p in tarball.parent.iterdir()] == ["img.tar"]
