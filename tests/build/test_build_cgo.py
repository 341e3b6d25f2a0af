"""`--cgo`: the cgodep module (a dependency with import "C" that links libm) built against a
glibc base and a musl base made here from this machine's own C libraries (no image can be
pulled), loaded into the Docker engine and run; a base that lacks a library, a static base and a
cross build are refused with the reason. The sqlite module uses github.com/mattn/go-sqlite3 from
the Go module proxy at a pinned version: gcc compiles SQLite once (about 1.5 CPU minutes cold,
seconds from go's build cache)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from supplychain.build import BuildRequest, build
from supplychain.build.bases import resolve_base
from supplychain.build.cgo import GLIBC, MUSL, c_compiler, cgo_targets, missing
from supplychain.build.elfcheck import Linkage, read_linkage
from supplychain.build.layers import Entry, file, make_layer
from supplychain.build.settings import BuildSettings
from supplychain.errors import UsageError
from supplychain.image.descriptor import Descriptor, MediaType, canonical_json
from supplychain.image.layout import OCILayout
from supplychain.image.platform import Platform
from supplychain.pipeline.config import parse_config
from tests.build.conftest import make_base_layout

CGODEP = Path(__file__).parent / "modules" / "cgodep"
SQLITE = Path(__file__).parent / "modules" / "sqlite"
HOST = Platform.host()
ETC = [file("/etc/passwd", b"root:x:0:0:root:/root:/sbin/nologin\n"
                           b"nonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n"),
       file("/etc/group", b"root:x:0:\nnonroot:x:65532:\n")]


def _layout(path: Path, entries: list[Entry], tag: str = "1") -> str:
    """A one-platform (the host's) base image of one layer, as an OCI layout; returns oci:DIR:TAG."""
    with OCILayout.transaction(path) as layout:
        layer = make_layer(entries, 0)
        layout.write_blob(layer.data, layer.descriptor)
        config = canonical_json({"architecture": HOST.architecture, "os": HOST.os,
                                 "config": {"Env": ["PATH=/usr/bin:/bin"]},
                                 "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]}})
        config_desc = layout.write_blob(config, Descriptor.for_bytes(MediaType.OCI_CONFIG, config))
        manifest = canonical_json({"schemaVersion": 2, "mediaType": MediaType.OCI_MANIFEST,
                                   "config": config_desc.to_dict(), "layers": [layer.descriptor.to_dict()]})
        layout.write_manifest(manifest, MediaType.OCI_MANIFEST, tag)
    return f"oci:{path}:{tag}"


def _host_glibc() -> tuple[str, Path]:
    """The host's glibc loader as programs name it (/lib64/ld-linux-x86-64.so.2 here) and the
    directory that really holds it and libc.so.6 (/usr/lib/x86_64-linux-gnu)."""
    linkage = read_linkage(Path(os.path.realpath(shutil.which("true") or "/bin/true")))
    assert linkage.interpreter and "libc.so.6" in linkage.needed
    return linkage.interpreter, Path(os.path.realpath(linkage.interpreter)).parent


def glibc_base(path: Path, libs: tuple[str, ...] = ("libc.so.6", "libm.so.6")) -> str:
    """A Debian-like base: merged /usr (/lib -> usr/lib, /lib64 -> usr/lib64), the loader a
    symbolic link into the multiarch directory, and the host's copies of `libs` there."""
    loader, libdir = _host_glibc()
    multiarch = "/usr/lib/" + libdir.name
    real = Path(os.path.realpath(loader))
    entries = [*ETC, Entry("/lib", 0o777, link="usr/lib"), Entry("/lib64", 0o777, link="usr/lib64"),
               file(f"{multiarch}/{real.name}", real.read_bytes(), 0o755),
               *(file(f"{multiarch}/{lib}", (libdir / lib).read_bytes(), 0o755) for lib in libs)]
    if loader != f"/lib/{libdir.name}/{real.name}":      # e.g. /lib64/ld-linux-x86-64.so.2
        entries.append(Entry("/usr" + loader, 0o777, link=f"/lib/{libdir.name}/{real.name}"))
    return _layout(path, entries)


def musl_base(path: Path) -> str:
    """An Alpine-like base: musl's loader (which is its libc) in /lib, and its libc name linked to it."""
    loader = next(Path("/lib").glob("ld-musl-*.so.1"), None)
    assert loader is not None, "musl is not installed (scripts/bootstrap installs musl-tools)"
    arch = loader.name.removeprefix("ld-musl-").removesuffix(".so.1")
    real = Path(os.path.realpath(loader)).read_bytes()
    return _layout(path, [*ETC, file(f"/lib/{loader.name}", real, 0o755),
                          Entry(f"/lib/libc.musl-{arch}.so.1", 0o777, link=loader.name)])


def _cgo(base: str, **kwargs: object) -> object:
    return build(BuildRequest(str(CGODEP), base=base, version="1.0.0", source_date_epoch=1,
                              settings=BuildSettings(cgo=True), **kwargs))  # type: ignore[arg-type]


def _build_and_run(sccheck, tmp_path: Path, base: str, name: str, module: Path = CGODEP,
                   prints: str = "42") -> dict:
    tag = f"sccheck-test/{module.name}-{name}:1.0.0"
    proc = sccheck("--json", "build", str(module), "--cgo", "--base", base, "--version", "1.0.0",
                   "--source-date-epoch", "1", "--output", f"oci:{tmp_path / 'oci'}", "--load", "--tag", tag,
                   timeout=1200)
    assert proc.returncode == 0, proc.stderr
    try:
        run = subprocess.run(["docker", "run", "--rm", "--network", "none", tag], capture_output=True,
                             text=True, timeout=120)
        assert (run.returncode, run.stdout.strip()) == (0, prints), run.stderr
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)
    return json.loads(proc.stdout)


@pytest.mark.docker
def test_cgo_against_a_glibc_base_builds_and_runs(sccheck, docker_client, tmp_path: Path) -> None:
    base = glibc_base(tmp_path / "glibc")
    doc = _build_and_run(sccheck, tmp_path, base, "glibc")
    assert doc["base"] == base and doc["entrypoint"] == "cgodep"
    # reproducible: the same inputs give the same image
    assert _cgo(base).digest == doc["digest"]  # type: ignore[attr-defined]


@pytest.mark.docker
def test_cgo_against_a_musl_base_builds_and_runs(sccheck, docker_client, tmp_path: Path) -> None:
    base = musl_base(tmp_path / "musl")
    doc = _build_and_run(sccheck, tmp_path, base, "musl")
    linkage = read_linkage_of(tmp_path / "oci", doc["digest"])
    assert linkage.interpreter is not None and linkage.interpreter.startswith("/lib/ld-musl-")


@pytest.mark.docker
def test_go_sqlite3_from_the_module_proxy_builds_against_glibc_and_runs(sccheck, docker_client,
                                                                         tmp_path: Path) -> None:
    with pytest.raises(UsageError) as err:          # without --cgo: named before compiling
        build(BuildRequest(str(SQLITE), base="scratch"))
    assert err.value.message == "github.com/mattn/go-sqlite3 needs cgo, which a static build leaves out"
    assert "--cgo" in (err.value.fix or "")
    doc = _build_and_run(sccheck, tmp_path, glibc_base(tmp_path / "glibc", libs=("libc.so.6",)), "glibc",
                         SQLITE, "sqlite 3.45.1")
    assert doc["entrypoint"] == "sqlite"


def read_linkage_of(layout: Path, digest: str) -> object:
    """The entrypoint binary's linkage, read from the image's top layer in the layout."""
    import gzip
    import io
    import tarfile

    store = OCILayout(str(layout))
    manifest = json.loads(store.read_blob(store.resolve(digest)))
    top = manifest["layers"][-1]
    data = gzip.decompress(store.read_blob(Descriptor(top["mediaType"], top["digest"], top["size"])))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.extractfile("usr/local/bin/cgodep")
        assert member is not None
        exe = layout.parent / "cgodep.bin"
        exe.write_bytes(member.read())
    return read_linkage(exe)


def test_a_base_without_a_needed_library_is_refused_naming_it(sccheck, tmp_path: Path) -> None:
    base = glibc_base(tmp_path / "nolibm", libs=("libc.so.6",))
    out = tmp_path / "out"
    proc = sccheck("build", str(CGODEP), "--cgo", "--base", base, "--output", f"oci:{out}")
    assert proc.returncode == 2, proc.stderr
    assert f"the {HOST} binary cgodep needs libm.so.6, which the base {base} does not have" in proc.stderr
    assert "fix:      use a base that has libm.so.6" in proc.stderr
    assert not out.exists()


def test_the_libraries_own_dependencies_are_followed(tmp_path: Path) -> None:
    """libm.so.6 needs libc.so.6 (and the loader): a base with libm alone lacks libc for it."""
    loader, _ = _host_glibc()
    base = resolve_base(glibc_base(tmp_path / "libm-only", libs=("libm.so.6",)), [HOST], 0)
    target = cgo_targets(base, [HOST])[HOST]
    assert target.libc == GLIBC
    assert missing(Linkage(loader, ("libm.so.6",)), target) == ["libc.so.6 (needed by libm.so.6)"]
    assert missing(Linkage(loader, ("libc.so.6",)), target) == ["libc.so.6"]
    full = cgo_targets(resolve_base(glibc_base(tmp_path / "full"), [HOST], 0), [HOST])[HOST]
    assert missing(Linkage(loader, ("libm.so.6", "libc.so.6")), full) == []
    assert missing(Linkage("/lib/ld-musl-x86_64.so.1", ("libz.so.1",)), full) == ["/lib/ld-musl-x86_64.so.1",
                                                                                 "libz.so.1"]


def test_a_static_base_or_one_without_a_c_library_is_refused_before_compiling(tmp_path: Path) -> None:
    for base in ("static", "scratch"):
        with pytest.raises(UsageError) as err:
            _cgo(base)
        assert err.value.message == f"--cgo needs a base with a C library, and the {base} base has none"
        assert err.value.fix is not None and "musl base" in err.value.fix
    make_base_layout(tmp_path / "mini", (str(HOST),))
    with pytest.raises(UsageError, match=r"--cgo needs a base with a C library, and oci:\S+ \(linux/\w+\) "
                                         r"has none"):
        _cgo(f"oci:{tmp_path / 'mini'}:3.20")
    with pytest.raises(UsageError, match="--cgo builds with the daemonless builder only"):
        _cgo(glibc_base(tmp_path / "glibc"), builder="docker")


def test_without_cgo_the_error_names_the_flag() -> None:
    with pytest.raises(UsageError) as err:
        build(BuildRequest(str(CGODEP), base="scratch"))
    assert err.value.message == "example.com/cdep needs cgo, which a static build leaves out"
    assert (err.value.fix or "").startswith("build with --cgo against a glibc or musl base")


def test_cross_compiling_c_needs_a_named_compiler() -> None:
    other = Platform("linux", "arm64" if HOST.architecture != "arm64" else "amd64")
    with pytest.raises(UsageError) as err:
        c_compiler(other, GLIBC, env={})
    assert err.value.message == f"--cgo for {other} needs a C compiler for {other}"
    assert f"CC_FOR_linux_{other.architecture}=" in (err.value.fix or "")
    assert c_compiler(other, GLIBC, env={f"CC_FOR_linux_{other.architecture}": "gcc"}) == "gcc"
    with pytest.raises(UsageError, match="is not an installed program"):
        c_compiler(other, MUSL, env={f"CC_FOR_linux_{other.architecture}": "no-such-cc"})
    assert c_compiler(HOST, GLIBC, env={}) == "gcc"
    assert c_compiler(HOST, MUSL, env={}) == "musl-gcc"


def test_sccheck_yaml_takes_build_cgo(tmp_path: Path) -> None:
    cfg = parse_config({"build": {"base": "oci:base", "cgo": True}}, "sccheck.yaml", tmp_path)
    assert cfg.build.cgo is True
    assert cfg.merged(build=BuildSettings()).build.cgo is True       # a flag left unset keeps it
    with pytest.raises(UsageError, match=r"\$\.build: \$\.build\.cgo must be true or false"):
        parse_config({"build": {"cgo": "yes"}}, "sccheck.yaml", tmp_path)


def test_build_and_sign_refuses_what_cgo_cannot_build_before_any_step(sccheck, tmp_path: Path) -> None:
    module = tmp_path / "cgodep"
    shutil.copytree(CGODEP, module)
    (module / "sccheck.yaml").write_text("repo: 127.0.0.1:1/team/cgodep\nbuild:\n  cgo: true\n")
    proc = sccheck("build-and-sign", str(module))           # build.cgo on the default static base
    assert proc.returncode == 2, proc.stderr
    assert "usage error: --cgo needs a base with a C library, and the static base has none" in proc.stderr
    other = "linux/arm64" if HOST.architecture != "arm64" else "linux/amd64"
    proc = sccheck("build-and-sign", str(module), "--cgo", "--base", "oci:base", "--platform", other,
                   env={f"CC_FOR_{other.replace('/', '_')}": ""})
    assert proc.returncode == 2, proc.stderr
    assert f"usage error: --cgo for {other} needs a C compiler for {other}" in proc.stderr
