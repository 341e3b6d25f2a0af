"""What to build and how: real modules in tests/build/modules (main packages in cmd/, two mains,
build tags, a workspace, a cgo dependency, a vendored module), built with the real Go toolchain;
the binaries are taken out of the image layer and run."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from supplychain.build import BuildRequest, BuildResult, PublishTarget, build, publish
from supplychain.build.gocompile import CompileRequest, compile_binary, locate
from supplychain.build.settings import BuildSettings
from supplychain.errors import UsageError
from supplychain.image.platform import Platform
from supplychain.pipeline.config import parse_config

MODULES = Path(__file__).parent / "modules"
MULTI = MODULES / "multi"


def _files(result: BuildResult) -> dict[str, bytes]:
    """The files of the image's own layer (the binaries)."""
    data = gzip.decompress(result.images[0].app_layer.data)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {"/" + m.name.lstrip("/"): tar.extractfile(m).read()  # type: ignore[union-attr]
                for m in tar.getmembers() if m.isfile()}


def _run(result: BuildResult, tmp_path: Path, path: str, *args: str,
         env: dict[str, str] | None = None) -> str:
    exe = tmp_path / Path(path).name
    exe.write_bytes(_files(result)[path])
    exe.chmod(0o755)
    proc = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=30, env=env or {})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def _config(result: BuildResult) -> dict:
    return json.loads(result.images[0].config)["config"]


def _build(path: Path, **settings: object) -> BuildResult:
    return build(BuildRequest(str(path), base="scratch", version=str(settings.pop("version", "1.2.3")),
                              settings=BuildSettings(**settings)))  # type: ignore[arg-type]


def test_the_module_root_is_found_from_a_package_directory(tmp_path: Path) -> None:
    module, package = locate(MULTI / "cmd" / "server")
    assert (module.root, module.path, package) == (MULTI.resolve(), "example.com/multi", "./cmd/server")
    result = _build(MULTI / "cmd" / "server", version_var="example.com/multi/internal/version.Version")
    assert result.name == "server" and result.binaries == ("/usr/local/bin/server",)
    assert _config(result)["Entrypoint"] == ["/usr/local/bin/server"]
    assert _run(result, tmp_path, "/usr/local/bin/server") == "server version=1.2.3 extra=off greeting= args="


def test_a_module_without_a_main_at_its_root_names_the_main_packages() -> None:
    with pytest.raises(UsageError) as err:
        _build(MULTI)
    assert err.value.message == ". in example.com/multi is not a main package"
    assert err.value.found is not None
    assert err.value.found.endswith("main packages: ./cmd/server, ./cmd/worker")
    assert err.value.fix == f"sccheck build {MULTI.resolve()} --main ./cmd/server"
    with pytest.raises(UsageError, match=r"internal/version in example\.com/multi is not a main package"):
        _build(MULTI, mains=("./internal/version",))


def test_two_mains_in_one_image_and_the_entrypoint_chosen(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="several main packages and no --entrypoint") as err:
        _build(MULTI, mains=("./cmd/server", "./cmd/worker"))
    assert err.value.found == "binaries server, worker"
    with pytest.raises(UsageError, match="--entrypoint nope is none of the binaries built"):
        _build(MULTI, mains=("./cmd/server", "./cmd/worker"), entrypoint="nope")
    result = _build(MULTI, mains=("./cmd/server", "./cmd/worker"), entrypoint="worker")
    assert result.binaries == ("/usr/local/bin/server", "/usr/local/bin/worker")
    assert _config(result)["Entrypoint"] == ["/usr/local/bin/worker"]
    assert _run(result, tmp_path, "/usr/local/bin/worker") == "worker"
    assert _run(result, tmp_path, "/usr/local/bin/server").startswith("server version=")


def test_tags_ldflags_and_x_settings_reach_the_linker(tmp_path: Path) -> None:
    result = _build(MULTI / "cmd" / "server", tags=("extra",), version="2.0.0",
                    version_var="example.com/multi/internal/version.Version")
    assert "extra=on" in _run(result, tmp_path, "/usr/local/bin/server")
    other = _build(MULTI / "cmd" / "server",
                   xvars=("example.com/multi/internal/version.Version=from-x",))
    assert "version=from-x" in _run(other, tmp_path, "/usr/local/bin/server")
    with pytest.raises(UsageError, match="invalid build tag"):
        _build(MULTI / "cmd" / "server", tags=("a b",))


def test_goflags_are_honoured_or_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GOFLAGS", "-tags=extra -mod=readonly")
    result = _build(MULTI / "cmd" / "server")
    assert "extra=on" in _run(result, tmp_path, "/usr/local/bin/server")   # -tags is not dropped
    for refused in ("-buildvcs=false", "-race", "-buildmode=pie", "-frobnicate"):
        monkeypatch.setenv("GOFLAGS", refused)
        with pytest.raises(UsageError, match=f"GOFLAGS='{refused}' has {refused}"):
            _build(MULTI / "cmd" / "server")


def test_a_version_without_its_variable_is_a_warning_naming_the_fix() -> None:
    result = _build(MULTI / "cmd" / "server", version="9.9.9")     # no main.version in server
    assert any("has no variable main.version" in n and "--version-var" in n for n in result.notes)
    fixed = _build(MULTI / "cmd" / "server", version="9.9.9",
                   version_var="example.com/multi/internal/version.Version")
    assert not [n for n in fixed.notes if "has no variable" in n]


def test_image_config_env_labels_ports_and_args(tmp_path: Path) -> None:
    result = _build(MULTI / "cmd" / "server", env=("GREETING=hi", "PATH=/usr/local/bin"),
                    labels=("team=payments",), expose=("9090", "53/udp"), args=("--listen", ":9090"))
    config = _config(result)
    assert config["Env"] == ["GREETING=hi", "PATH=/usr/local/bin"]      # ours replace the base PATH
    assert config["Labels"]["team"] == "payments"
    assert config["ExposedPorts"] == {"53/udp": {}, "9090/tcp": {}}
    assert config["Cmd"] == ["--listen", ":9090"]
    out = _run(result, tmp_path, "/usr/local/bin/server", *config["Cmd"], env={"GREETING": "hi"})
    assert out.endswith("greeting=hi args=--listen,:9090")
    with pytest.raises(UsageError, match=r"--label org\.opencontainers\.image\.revision is set by"):
        _build(MULTI / "cmd" / "server", labels=("org.opencontainers.image.revision=x",))
    for bad in ("70000", "80/icmp"):
        with pytest.raises(UsageError, match="invalid --expose"):
            _build(MULTI / "cmd" / "server", expose=(bad,))


def test_a_cgo_dependency_is_found_before_compiling() -> None:
    with pytest.raises(UsageError) as err:
        _build(MODULES / "cgodep")
    assert err.value.exit_code == 2
    assert err.value.message == "example.com/cdep needs cgo, which a static build leaves out"
    assert err.value.found == 'import "C" in example.com/cdep (cdep.go)'


def test_a_workspace_module_builds_with_the_workspace(tmp_path: Path) -> None:
    result = _build(MODULES / "work" / "app")
    assert _run(result, tmp_path, "/usr/local/bin/app") == "app lib-from-workspace"


def test_a_vendored_module_builds_from_vendor(tmp_path: Path) -> None:
    result = _build(MODULES / "vendored")
    assert _run(result, tmp_path, "/usr/local/bin/vendored") == "vendored from-vendor"


class _Recorder:
    def __init__(self) -> None:
        self.infos: list[str] = []

    def step(self, name: str, detail: str = "") -> None: ...
    def done(self, name: str, detail: str = "") -> None: ...

    def info(self, message: str) -> None:
        self.infos.append(message)


def test_a_long_compile_reports_progress(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import supplychain.build.gocompile as gocompile

    monkeypatch.setattr(gocompile, "PROGRESS_EVERY", 0.05)
    module, _ = locate(MULTI)
    recorder = _Recorder()
    # -a: rebuild everything, so the compile takes longer than a few progress intervals
    monkeypatch.setenv("GOFLAGS", "")
    req = CompileRequest(module, package="./cmd/worker", goflags="-a")
    compile_binary(req, Platform.host(), tmp_path / "worker", recorder)
    assert recorder.infos and all("still compiling" in i for i in recorder.infos)


def test_sccheck_yaml_build_settings_and_flags_win(tmp_path: Path) -> None:
    doc = {"build": {"base": "scratch", "main": ["./cmd/server", "./cmd/worker"], "entrypoint": "server",
                     "tags": "extra", "env": {"GREETING": "yaml"}, "expose": [8080], "labels": ["a=b"]}}
    cfg = parse_config(doc, "sccheck.yaml", tmp_path)
    assert cfg.build == BuildSettings(mains=("./cmd/server", "./cmd/worker"), entrypoint="server",
                                      tags=("extra",), env=("GREETING=yaml",), expose=("8080",),
                                      labels=("a=b",))
    merged = cfg.merged(build=BuildSettings(entrypoint="worker", env=("GREETING=flag",)))
    assert (merged.build.entrypoint, merged.build.env, merged.build.tags) == ("worker", ("GREETING=flag",),
                                                                            ("extra",))
    with pytest.raises(UsageError, match=r"\$\.build\.mian: unknown key"):
        parse_config({"build": {"mian": "./cmd/x"}}, "sccheck.yaml", tmp_path)
    with pytest.raises(UsageError, match=r"\$\.build: invalid --expose"):
        parse_config({"build": {"expose": "http"}}, "sccheck.yaml", tmp_path)


def test_cli_builds_a_package_directory_with_json(sccheck, tmp_path: Path) -> None:
    out = tmp_path / "oci"
    proc = sccheck("--json", "build", str(MULTI / "cmd" / "server"), "--base", "scratch",
                   "--output", f"oci:{out}", "--version", "1.2.3", "--tags", "extra", "--expose", "8080",
                   "--version-var", "example.com/multi/internal/version.Version")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["version"] == "1.2.3" and doc["entrypoint"] == "server"
    assert doc["images"][0]["digest"] == doc["digest"]
    assert doc["binaries"] == ["/usr/local/bin/server"]


@pytest.mark.docker
def test_the_two_binary_image_runs_in_the_engine(docker_client, tmp_path: Path) -> None:
    result = _build(MULTI, mains=("./cmd/server", "./cmd/worker"), entrypoint="server",
                    env=("GREETING=engine",), args=("a", "b"),
                    version_var="example.com/multi/internal/version.Version")
    tag = "sccheck-test/multi:settings"
    publish(result, PublishTarget(output=None, load=True, tag=tag))
    try:
        run = subprocess.run(["docker", "run", "--rm", "--network", "none", tag], capture_output=True,
                             text=True, timeout=120)
        assert run.stdout.strip() == "server version=1.2.3 extra=off greeting=engine args=a,b", run.stderr
        other = subprocess.run(["docker", "run", "--rm", "--network", "none", "--entrypoint",
                                "/usr/local/bin/worker", tag], capture_output=True, text=True, timeout=120)
        assert other.stdout.strip() == "worker", other.stderr
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)


def test_sbom_of_a_workspace_module_reads_the_workspace_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    from supplychain.sbom import generate_sbom

    # GOPROXY=off: a local module path sent to a proxy would fail the run instead of leaking
    monkeypatch.setenv("GOPROXY", "off")
    (doc,) = generate_sbom(str(MODULES / "work" / "app"))
    components = {c["name"]: c.get("version") for c in json.loads(doc.text)["components"]}
    assert components.get("example.com/lib") == "(devel)"


def test_data_files_binary_name_and_directory(tmp_path: Path) -> None:
    data = tmp_path / "kodata"
    (data / "static").mkdir(parents=True)
    (data / "static" / "index.html").write_text("<h1>hi</h1>\n")
    (data / "run.sh").write_text("#!/bin/sh\n")
    (data / "run.sh").chmod(0o755)
    result = _build(MULTI / "cmd" / "server", data=str(data), bin_dir="/app", binary_name="svc")
    files = _files(result)
    assert files["/var/run/sccheck/static/index.html"] == b"<h1>hi</h1>\n"
    assert files["/var/run/sccheck/run.sh"] == b"#!/bin/sh\n"
    assert "/app/svc" in files and result.binaries == ("/app/svc",)
    config = _config(result)
    assert config["Entrypoint"] == ["/app/svc"] and "SCCHECK_DATA_PATH=/var/run/sccheck" in config["Env"]
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(result.images[0].app_layer.data))) as tar:
        modes = {"/" + m.name: m.mode for m in tar.getmembers()}
    assert modes["/var/run/sccheck/run.sh"] == 0o755 and modes["/var/run/sccheck/static/index.html"] == 0o644
    (data / "link").symlink_to("/etc/passwd")
    with pytest.raises(UsageError, match="link is not a regular file or directory"):
        _build(MULTI / "cmd" / "server", data=str(data))
    for bad in ({"bin_dir": "relative"}, {"bin_dir": "/a/../b"}, {"binary_name": "a/b"}):
        with pytest.raises(UsageError, match="invalid --bin"):
            _build(MULTI / "cmd" / "server", **bad)


def test_sccheck_yaml_data_is_relative_to_the_file(tmp_path: Path) -> None:
    cfg = parse_config({"build": {"data": "kodata", "binDir": "/app", "binaryName": "svc"}}, "sccheck.yaml",
                       tmp_path)
    assert cfg.build == BuildSettings(data=str(tmp_path / "kodata"), bin_dir="/app", binary_name="svc")


def test_harden_k8s_takes_the_exposed_port(sccheck, tmp_path: Path) -> None:
    result = _build(MULTI / "cmd" / "server", expose=("9090",))
    publish(result, PublishTarget(output=f"oci:{tmp_path / 'oci'}"))
    proc = sccheck("harden", "k8s", f"oci:{tmp_path / 'oci'}@{result.digest}", "--name", "server",
                   "--repository", "registry.example/team/server")
    assert proc.returncode == 0, proc.stderr
    assert "containerPort: 9090" in proc.stdout and "8080" not in proc.stdout
    assert [line for line in proc.stdout.splitlines() if line.startswith("kind:")] == \
        ["kind: Deployment", "kind: NetworkPolicy"]


def test_one_go_list_names_the_mains_in_the_order_asked_and_finds_cgo() -> None:
    """The build asks go list once for the main packages and their cgo dependencies: the answer
    is the one the two separate questions give, in the order the packages were named."""
    from supplychain.build.gocompile import GoModule, cgo_packages, mains_and_cgo, resolve_mains

    module = GoModule(MULTI.resolve(), "example.com/multi")
    names = sorted(p.name for p in (MULTI / "cmd").iterdir() if p.is_dir())
    assert len(names) >= 2
    for wanted in (tuple(f"./cmd/{n}" for n in names), tuple(f"./cmd/{n}" for n in reversed(names)),
                   tuple(f"example.com/multi/cmd/{n}" for n in reversed(names))):
        mains, cgo = mains_and_cgo(module, wanted)
        assert mains == resolve_mains(module, wanted)
        assert [m.package for m in mains] == list(wanted)
        assert cgo == cgo_packages(module, wanted) == []
    cmod = GoModule((MODULES / "cgodep").resolve(), "example.com/cgodep")
    assert mains_and_cgo(cmod, (".",))[1] == cgo_packages(cmod, (".",)) == ["example.com/cdep (cdep.go)"]


def test_the_go_list_answer_is_reused_only_while_no_import_file_or_dependency_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The build's go list (main packages, cgo dependencies) is kept under the heads of the .go
    files: an edit inside a function reuses it, a changed import or a new file asks go list."""
    import shutil

    from supplychain.build import gocompile
    from supplychain.build.gocompile import GoModule, mains_and_cgo

    monkeypatch.setenv("SCCHECK_RESULT_CACHE", "1")
    monkeypatch.setenv("SCCHECK_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "cgodep"
    shutil.copytree(MODULES / "cgodep", root)
    module = GoModule(root, "example.com/cgodep")
    real = gocompile.go_list
    calls: list[list[str]] = []

    def counting(*args: object, **kw: object) -> object:
        calls.append(list(args[1]))  # type: ignore[call-overload]
        return real(*args, **kw)     # type: ignore[arg-type]

    monkeypatch.setattr(gocompile, "go_list", counting)
    cdep = ["example.com/cdep (cdep.go)"]
    assert mains_and_cgo(module, (".",))[1] == cdep and len(calls) == 1
    main = root / "main.go"
    main.write_text(main.read_text().replace("cdep.Answer())", "cdep.Answer(), 1)"))   # a body edit
    assert mains_and_cgo(module, (".",))[1] == cdep and len(calls) == 1                # reused
    c_file = root / "cdep" / "cdep.go"
    c_file.write_text(c_file.read_text().replace('import "C"', 'import "C"\nimport _ "os"'))
    assert mains_and_cgo(module, (".",))[1] == cdep and len(calls) == 2                # asked again
    c_file.unlink()                                                                      # cgo gone
    assert mains_and_cgo(module, (".",))[1] == [] and len(calls) == 3
    (root / "cdep" / "cdep.go").write_text(
        "//go:build cgo\n\npackage cdep\n\n/*\nconst int x = 1;\nfunc nothing\n*/\nimport \"C\"\n\n"
        "func Answer() int { return int(C.x) }\n")
    assert mains_and_cgo(module, (".",))[1] == cdep and len(calls) == 4
    monkeypatch.setenv("SCCHECK_RESULT_CACHE", "0")
    mains_and_cgo(module, (".",))
    assert len(calls) == 5


def test_a_go_file_head_holds_everything_before_its_first_declaration() -> None:
    from supplychain.build.gocompile import go_file_head

    src = (b"//go:build linux\n\npackage x\n\n/*\nconst char *s;\nfunc in_comment\n*/\nimport \"C\"\n"
           b"import (\n\t\"os\" /* a comment */\n)\n\nconst A = 1\n\nfunc f() {}\n")
    head = go_file_head(src)
    assert head.endswith(b")\n\n") and b"import \"C\"" in head and b"const A" not in head
    unclosed = b"package x\n/* never closed\nfunc f() {}\n"
    assert go_file_head(unclosed) == unclosed
    assert go_file_head(b"package x\n\nvar v = 1\n") == b"package x\n\n"
