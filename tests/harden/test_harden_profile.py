"""`harden profile`: seccomp and AppArmor profiles read from the binary, tried for real.

The hello image (built by `sccheck build`, two platforms) runs under its own seccomp profile in
the Docker engine and answers; a tiny binary that calls chmod is refused (EPERM) under that
profile and succeeds without it; the AppArmor profile is checked by apparmor_parser; bad input
(not Go, cgo) gives a clear error or a labelled conservative profile.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from supplychain.errors import CheckFailed
from supplychain.harden.binscan import parse_scan, scan_binary
from supplychain.harden.profile import make_profiles
from supplychain.harden.seccomp import (
    CONSERVATIVE_DENY,
    HANDOFF,
    MARGIN,
    allowed,
    conservative_names,
    seccomp_profile,
)
from tests.conftest import EXAMPLES, ROOT, run_sccheck
from tests.harden.images import build_hello, clean_image, write_image

FIXTURES = Path(__file__).parent / "fixtures"
HELLO_TAG = "sccheck-test/profile-hello:amd64"
CHMOD_TAG = "sccheck-test/profile-chmodder:amd64"


def _build(src: Path, out: Path, tag: str, platforms: str) -> str:
    proc = run_sccheck("--json", "build", str(src), "--platform", platforms, "--output", f"oci:{out / 'oci'}",
                       "--tarball", str(out / "image.tar"), "--tag", tag)
    assert proc.returncode == 0, proc.stderr
    loaded = subprocess.run(["docker", "load", "-i", str(out / "image.tar")], capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr
    return f"oci:{out / 'oci'}@{json.loads(proc.stdout)['digest']}"


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory, docker_client: object) -> Iterator[str]:
    out = tmp_path_factory.mktemp("profile-hello")
    ref = _build(EXAMPLES / "hello", out, HELLO_TAG, "linux/amd64,linux/arm64")
    yield ref
    subprocess.run(["docker", "rmi", "-f", HELLO_TAG], capture_output=True, check=False)


@pytest.fixture(scope="module")
def hello_profiles(hello: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("profiles")
    proc = run_sccheck("--json", "harden", "profile", hello, "--output-dir", str(out), "--name", "hello")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc.pop("ok") is True
    assert json.loads((out / "profiles.json").read_text()) == doc
    for p in doc["platforms"]:        # the index names its files relative to itself
        assert not Path(p["seccomp"]).is_absolute()
        assert p["seccomp"].startswith(p["platform"].replace("/", "-") + "/")
        p["seccomp"], p["apparmor"] = str(out / p["seccomp"]), str(out / p["apparmor"])
    return doc


def _docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def test_profiles_per_platform_are_small_and_exclude_what_hello_never_calls(hello_profiles: dict) -> None:
    by_platform = {p["platform"]: p for p in hello_profiles["platforms"]}
    assert sorted(by_platform) == ["linux/amd64", "linux/arm64"]
    for platform, arch in (("linux/amd64", "SCMP_ARCH_X86_64"), ("linux/arm64", "SCMP_ARCH_AARCH64")):
        p = by_platform[platform]
        profile = json.loads(Path(p["seccomp"]).read_text())
        assert profile["defaultAction"] == "SCMP_ACT_ERRNO" and profile["architectures"] == [arch]
        names = allowed(profile)
        assert len(names) == p["allowed"] and 40 < len(names) < 100, sorted(names)
        # what a Go HTTP server needs, read from the binary
        assert {"accept4", "epoll_pwait", "futex", "mmap", "socket", "bind", "listen", "read", "write",
                "openat", "clone", "rt_sigaction", "sched_yield"} <= names
        assert set(MARGIN) | set(HANDOFF) <= names
        assert not names & {"chmod", "fchmodat", "mount", "ptrace", "bpf", "setuid", "chown", "fchown"}
        assert p["conservative"] is None and p["scan"]["goVersion"].startswith("go1.")
        assert p["scan"]["stripped"] is True          # sccheck builds with -s -w; the line table stays
    assert hello_profiles["seccompLocalhostProfile"] == f"sccheck/{hello_profiles['name']}.json"
    assert hello_profiles["name"].startswith("sccheck-hello-")


def test_hello_serves_under_its_seccomp_profile(hello_profiles: dict) -> None:
    [amd64] = [p for p in hello_profiles["platforms"] if p["platform"] == "linux/amd64"]
    name = f"sccheck-test-profile-{os.getpid()}"
    run = _docker("run", "-d", "--name", name, "--security-opt", "no-new-privileges",
                  "--security-opt", f"seccomp={amd64['seccomp']}", "-p", "127.0.0.1::8080", HELLO_TAG)
    try:
        assert run.returncode == 0, run.stderr
        port = _docker("port", name, "8080/tcp").stdout.strip().splitlines()[0].rsplit(":", 1)[1]
        body = None
        for _ in range(50):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/?name=profile", timeout=2) as resp:
                    body = json.loads(resp.read())
                break
            except OSError:
                time.sleep(0.2)
        logs = _docker("logs", name)
        assert body is not None and body["message"] == "hello, profile", logs.stdout + logs.stderr
        inspect = _docker("inspect", name, "--format", "{{json .HostConfig.SecurityOpt}}")
        assert any(opt.startswith("seccomp=") for opt in json.loads(inspect.stdout))
    finally:
        _docker("rm", "-f", name)


def test_a_system_call_outside_the_profile_is_refused_by_the_kernel(hello_profiles: dict,
                                                                   tmp_path: Path) -> None:
    _build(FIXTURES / "chmodder", tmp_path, CHMOD_TAG, "linux/amd64")
    [amd64] = [p for p in hello_profiles["platforms"] if p["platform"] == "linux/amd64"]
    try:
        free = _docker("run", "--rm", "--security-opt", "no-new-privileges", CHMOD_TAG)
        assert (free.returncode, free.stdout.strip()) == (0, "chmod: ok"), free.stderr
        confined = _docker("run", "--rm", "--security-opt", "no-new-privileges",
                           "--security-opt", f"seccomp={amd64['seccomp']}", CHMOD_TAG)
        assert confined.returncode == 1, confined.stdout + confined.stderr
        assert confined.stdout.strip() == "chmod: chmod /tmp/chmodder: operation not permitted"
    finally:
        _docker("rmi", "-f", CHMOD_TAG)


def test_apparmor_profile_parses_and_the_kernel_limit_is_stated(hello_profiles: dict, tmp_path: Path) -> None:
    [amd64] = [p for p in hello_profiles["platforms"] if p["platform"] == "linux/amd64"]
    text = Path(amd64["apparmor"]).read_text()
    name = hello_profiles["name"]
    assert f"profile {name} " in text and "  /** r," in text and "  /tmp/** rwk," in text
    caps = text.split("# capabilities")[1].split("# signals")[0]
    assert "network inet stream," in text and "capability" not in caps.split("\n", 1)[1]
    assert "deny /etc/shadow rwklx," in text and "deny mount," in text
    parse = subprocess.run(["apparmor_parser", "-Q", "-K", amd64["apparmor"]], capture_output=True, text=True)
    assert parse.returncode == 0, parse.stderr
    # the parser really checks: a broken rule is refused
    broken = tmp_path / "broken.apparmor"
    broken.write_text(text.replace("  /** r,", "  /** rq,"))
    bad = subprocess.run(["apparmor_parser", "-Q", "-K", str(broken)], capture_output=True, text=True)
    assert bad.returncode != 0 and "syntax error" in bad.stderr
    if Path("/sys/module/apparmor/parameters/enabled").is_file() and \
            Path("/sys/module/apparmor/parameters/enabled").read_text().strip() == "Y":
        load = subprocess.run(["apparmor_parser", "-r", amd64["apparmor"]], capture_output=True, text=True)
        assert load.returncode == 0, load.stderr
        name_run = f"sccheck-test-aa-{os.getpid()}"
        try:
            denied = _docker("run", "--rm", "--name", name_run, "--security-opt", f"apparmor={name}",
                             "--entrypoint", "/usr/local/bin/hello", HELLO_TAG, "version")
            assert denied.returncode == 0, denied.stderr
        finally:
            subprocess.run(["apparmor_parser", "-R", amd64["apparmor"]], capture_output=True, check=False)
    else:
        # This kernel has no AppArmor (CONFIG_SECURITY_APPARMOR unset): loading must be refused,
        # and the documentation says so. A kernel with AppArmor takes the branch above.
        load = subprocess.run(["apparmor_parser", "-r", amd64["apparmor"]], capture_output=True, text=True)
        assert load.returncode != 0


# -- reading binaries --------------------------------------------------------------------------

def test_stripped_and_unstripped_binaries_give_the_same_calls(tmp_path: Path) -> None:
    stripped = tmp_path / "hello"
    stripped.write_bytes(build_hello(tmp_path))
    full = tmp_path / "hello-full"
    subprocess.run(["go", "build", "-trimpath", "-o", str(full), "."], cwd=EXAMPLES / "hello", check=True,
                   env={**os.environ, "CGO_ENABLED": "0"}, capture_output=True, timeout=600)
    a, b = scan_binary(str(stripped), what="stripped"), scan_binary(str(full), what="full")
    assert a.stripped and not b.stripped
    assert a.calls == b.calls and len(a.calls) > 40


def test_the_chmod_fixture_is_read_as_calling_fchmodat(tmp_path: Path) -> None:
    exe = tmp_path / "chmodder"
    subprocess.run(["go", "build", "-o", str(exe), "."], cwd=FIXTURES / "chmodder", check=True,
                   env={**os.environ, "CGO_ENABLED": "0"}, capture_output=True, timeout=600)
    scan = scan_binary(str(exe), what="chmodder")
    assert "fchmodat" in scan.program_calls


def test_a_binary_that_is_not_go_is_a_clear_error() -> None:
    with pytest.raises(CheckFailed) as err:
        scan_binary("/bin/true", what="/bin/true")
    assert "not a Go binary" in err.value.message and err.value.exit_code == 1


def test_a_cgo_binary_gets_a_labelled_conservative_profile(tmp_path: Path) -> None:
    exe = tmp_path / "cgohello"
    subprocess.run(["go", "build", "-o", str(exe), "."], cwd=FIXTURES / "cgohello", check=True,
                   env={**os.environ, "CGO_ENABLED": "1"}, capture_output=True, timeout=600)
    spec = clean_image(exe.read_bytes())
    digest = write_image(tmp_path / "oci", spec)
    result = make_profiles(f"oci:{tmp_path / 'oci'}@{digest}", output_dir=str(tmp_path / "out"), name="cgo")
    [p] = result.platforms
    assert p.conservative and "cgo" in p.conservative
    profile = json.loads(Path(p.seccomp_file).read_text())
    assert profile["syscalls"][0]["comment"].startswith("CONSERVATIVE")
    names = allowed(profile)
    assert "chmod" in names and not names & CONSERVATIVE_DENY and len(names) > 250
    assert "CONSERVATIVE" in Path(p.apparmor_file).read_text()


def test_scan_names_numbers_per_architecture_from_go_tables() -> None:
    doc = {"arch": "arm64", "goVersion": "go1.26.0", "settings": {"CGO_ENABLED": "0"},
           "sites": [{"func": "runtime.read", "number": 63}, {"func": "syscall.fchmodat", "number": 53},
                     {"func": "main.x", "number": 9999}], "unresolved": [], "symbols": []}
    scan = parse_scan(doc)
    assert scan.runtime_calls == {"read"} and scan.program_calls == {"fchmodat"}
    assert scan.unknown_numbers == (9999,)
    profile = seccomp_profile("arm64", {"static": scan.calls, "margin": MARGIN, "extra": ("read",)})
    assert [e["names"] for e in profile["syscalls"]] == [["fchmodat", "read"], sorted(MARGIN)]


def test_the_tables_come_from_go_sources() -> None:
    text = (ROOT / "supplychain" / "harden" / "sysnum.py").read_text()
    assert "GENERATED by scripts/gen-sysnum" in text
    from supplychain.harden.sysnum import NAMES

    assert NAMES["amd64"][90] == "chmod" and NAMES["amd64"][268] == "fchmodat"
    assert NAMES["arm64"][53] == "fchmodat" and NAMES["arm64"][79] == "newfstatat"


def test_observe_adds_what_only_a_run_shows(tmp_path: Path) -> None:
    exe = tmp_path / "dynsys"
    subprocess.run(["go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(exe), "."],
                   cwd=FIXTURES / "dynsys", check=True, env={**os.environ, "CGO_ENABLED": "0"},
                   capture_output=True, timeout=600)
    spec = clean_image(exe.read_bytes())
    spec.config["Env"].append("DYNSYS_NR=110")          # getppid on amd64
    digest = write_image(tmp_path / "oci", spec)
    ref = f"oci:{tmp_path / 'oci'}@{digest}"
    static = make_profiles(ref, output_dir=str(tmp_path / "static"), name="dynsys").platforms[0]
    assert "getppid" not in static.groups["static"]
    assert any(site.startswith("main.main -> syscall.RawSyscall") for site in static.scan.unresolved)
    observed = make_profiles(ref, output_dir=str(tmp_path / "observed"), name="dynsys", observe=True,
                             observe_seconds=3).platforms[0]
    assert observed.observed is not None and observed.observed["ran"] is True
    added = observed.observed["added"]
    # The run must add getppid. A traced run on a busy machine may show a call or two more than
    # the binary's own code makes (the tracer's view of a stop it raced with); whatever it adds is
    # exactly what the profile gains, no more, and nothing the scan found is listed again.
    assert "getppid" in observed.observed["used"] and "getppid" in added
    assert not set(added) & set(static.groups["static"])
    assert observed.groups["observed"] == tuple(added)
    names = allowed(json.loads(Path(observed.seccomp_file).read_text()))
    assert "getppid" in names and len(names) == static.allowed + len(added)


def test_observe_probes_the_port_of_the_service(hello: str, tmp_path: Path) -> None:
    result = make_profiles(hello, output_dir=str(tmp_path), name="hello", port=8080, observe=True,
                           observe_seconds=3)
    amd64, arm64 = result.platforms
    assert amd64.observed is not None and amd64.observed["ran"] and amd64.observed["probes"] > 0
    assert amd64.observed["user"] == "65532:65532"   # the image's user, never root on this host
    assert {"accept4", "bind", "listen", "epoll_pwait"} <= set(amd64.observed["used"])
    assert amd64.observed["added"] == []            # the run used nothing reading had missed
    assert arm64.observed is not None and arm64.observed["ran"] is False


def test_observe_runs_a_smoke_command_against_the_service(hello: str, tmp_path: Path) -> None:
    smoke = "curl -sf http://127.0.0.1:8080/healthz && curl -sf http://127.0.0.1:8080/"
    proc = run_sccheck("--json", "harden", "profile", hello, "--output-dir", str(tmp_path), "--observe",
                       "--observe-seconds", "4", "--observe-smoke", smoke)
    assert proc.returncode == 0, proc.stderr
    amd64 = json.loads(proc.stdout)["platforms"][0]
    observed = amd64["observed"]
    assert observed["smoke"]["exit"] == 0 and observed["probes"] == 0     # it answered, inside its netns
    assert {"accept4", "write"} <= set(observed["used"])
    failing = run_sccheck("--json", "harden", "profile", hello, "--output-dir", str(tmp_path / "f"),
                          "--observe", "--observe-seconds", "3", "--observe-smoke", "curl -sf http://127.0.0.1:9/")
    assert json.loads(failing.stdout)["platforms"][0]["observed"]["smoke"]["exit"] != 0


def test_the_hardening_report_attests_the_profiles(hello: str, hello_profiles: dict, tmp_path: Path) -> None:
    out = Path(hello_profiles["platforms"][0]["seccomp"]).parent.parent
    predicate = tmp_path / "harden.json"
    proc = run_sccheck("harden", "check", hello, "--profiles", str(out), "--predicate-out", str(predicate))
    assert proc.returncode == 0, proc.stderr
    evidence = json.loads(predicate.read_text())["profiles"]
    assert evidence["name"] == hello_profiles["name"]
    assert evidence["seccompLocalhostProfile"] == hello_profiles["seccompLocalhostProfile"]
    for attested, written in zip(evidence["platforms"], hello_profiles["platforms"], strict=True):
        assert attested["platform"] == written["platform"] and attested["allowed"] == written["allowed"]
        data = Path(written["seccomp"]).read_bytes()
        assert attested["seccomp"]["sha256"] == hashlib.sha256(data).hexdigest()
    # profiles of another image are refused, not attested
    other = tmp_path / "other"
    other.mkdir()
    index = json.loads((out / "profiles.json").read_text())
    (other / "profiles.json").write_text(json.dumps({**index, "digest": "sha256:" + "0" * 64}))
    refused = run_sccheck("harden", "check", hello, "--profiles", str(other))
    assert refused.returncode == 2 and "made for another image" in refused.stderr


def test_syscall_scan_own_tests() -> None:
    """The reader's rules on hand-assembled code: constants, joins, pass-through, ABI0 slots, arm64."""
    proc = subprocess.run(["go", "test", "-count=1", "./..."], cwd=ROOT / "tools" / "syscall-scan",
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("ok ")


def test_the_engine_runs_a_service_under_a_conservative_profile(hello_profiles: dict, tmp_path: Path) -> None:
    """What cgo binaries get must not break a service: the engine accepts every name in it."""
    profile = seccomp_profile("amd64", {"conservative": conservative_names("amd64"), "margin": MARGIN,
                                        "handoff": HANDOFF})
    path = tmp_path / "conservative.json"
    path.write_text(json.dumps(profile))
    run = _docker("run", "--rm", "--security-opt", "no-new-privileges", "--security-opt", f"seccomp={path}",
                  "--entrypoint", "/usr/local/bin/hello", HELLO_TAG, "version")
    assert run.returncode == 0 and run.stdout.strip(), run.stderr
    assert len(allowed(profile)) > 300
