"""`harden check` on real OCI layouts: a clean static-like image passes with no finding at all;
each deliberately bad image fails exactly the rule of its defect, with the evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from supplychain.attest.harden import harden_document
from supplychain.errors import UsageError
from supplychain.harden.config import CheckOptions, make_options
from supplychain.harden.imagecheck import check_image
from supplychain.harden.report import HardenReport, render_human
from supplychain.harden.secrets import Allowlist
from tests.harden.images import Entry, ImageSpec, build_hello, clean_image, write_image

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"


@pytest.fixture(scope="session")
def hello_binary(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return build_hello(tmp_path_factory.mktemp("hello-bin"))


@pytest.fixture(scope="session")
def private_key_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


@pytest.fixture
def clean(hello_binary: bytes) -> ImageSpec:
    return clean_image(hello_binary)


def _check(tmp_path: Path, spec: ImageSpec, options: CheckOptions | None = None) -> HardenReport:
    layout = tmp_path / "img"
    write_image(layout, spec)
    return check_image(f"oci:{layout}", options or CheckOptions())


def _only(report: HardenReport) -> list[tuple[str, str | None, str]]:
    return [(f.rule, f.path, f.evidence) for f in report.findings]


def test_clean_static_image_has_no_finding(tmp_path: Path, clean: ImageSpec) -> None:
    report = _check(tmp_path, clean)
    assert report.findings == ()
    assert report.passed and report.suppressed == 0
    (stats,) = report.platforms
    assert stats.platform == "linux/amd64" and stats.layers == 2 and stats.files == 11
    assert stats.size > 5_000_000  # the Go binary and the CA bundle
    assert report.digest.startswith("sha256:") and report.reference.endswith("@" + report.digest)
    assert "no findings" in render_human(report) and "PASSED" in render_human(report)


@pytest.mark.parametrize(("user", "rules"), [
    ("", ["SCH001"]), ("root", ["SCH001"]), ("0", ["SCH001"]), ("0:0", ["SCH001"]),
    ("nonroot", ["SCH002"]), ("65532:nonroot", ["SCH002"]),
])
def test_user_rules(tmp_path: Path, clean: ImageSpec, user: str, rules: list[str]) -> None:
    clean.config["User"] = user
    report = _check(tmp_path, clean)
    assert [f.rule for f in report.findings] == rules
    assert report.findings[0].evidence == f"config.User={user!r}"
    assert report.findings[0].path == "config.User"
    assert not report.passed  # medium and high are both at or above the default threshold


def test_named_user_that_is_uid_zero(tmp_path: Path, clean: ImageSpec) -> None:
    clean.layers[0][1] = Entry("etc/passwd", b"toor:x:0:0::/:/sbin/nologin\n")
    clean.config["User"] = "toor"
    assert [f.rule for f in _check(tmp_path, clean).findings] == ["SCH002", "SCH001"]


def test_shell_and_package_manager(tmp_path: Path, clean: ImageSpec) -> None:
    clean.layers.append([Entry("bin", mode=0o755), Entry("bin/busybox", b"\x7fELF\x00", 0o755),
                         Entry("bin/sh", link="/bin/busybox"), Entry("usr", mode=0o755),
                         Entry("usr/bin", mode=0o755), Entry("usr/bin/apt-get", b"\x7fELF\x00", 0o755)])
    report = _check(tmp_path, clean)
    assert _only(report) == [
        ("SCH003", "/bin/busybox", "file /bin/busybox"),
        ("SCH003", "/bin/sh", "symlink /bin/sh -> /bin/busybox"),
        ("SCH004", "/usr/bin/apt-get", "file /usr/bin/apt-get"),
    ]
    assert {f.layer for f in report.findings} == {2}


def test_setuid_and_setgid_files(tmp_path: Path, clean: ImageSpec) -> None:
    clean.layers[1].append(Entry("app/helper", b"\x7fELF\x00", 0o4755))
    clean.layers[1].append(Entry("app/grp", b"\x7fELF\x00", 0o2755, gid=42))
    report = _check(tmp_path, clean)
    assert _only(report) == [("SCH005", "/app/grp", "mode 2755 owner 0:42"),
                             ("SCH005", "/app/helper", "mode 4755 owner 0:0")]
    assert [f.message for f in report.findings] == ["/app/grp is setgid", "/app/helper is setuid"]


def test_world_writable(tmp_path: Path, clean: ImageSpec) -> None:
    clean.layers[0][-1] = Entry("tmp", mode=0o777)                 # /tmp without sticky bit
    clean.layers[1].append(Entry("app/config.yaml", b"port: 8080\n", 0o666))
    clean.layers[1].append(Entry("app/data", mode=0o1777))          # sticky, but outside /tmp
    report = _check(tmp_path, clean)
    assert _only(report) == [("SCH006", "/app/config.yaml", "file mode 0666"),
                             ("SCH006", "/app/data", "dir mode 1777"),
                             ("SCH007", "/tmp", "dir mode 0777")]


def test_aws_key_in_env_is_redacted(tmp_path: Path, clean: ImageSpec) -> None:
    clean.config["Env"].append(f"AWS_ACCESS_KEY_ID={AWS_KEY}")
    report = _check(tmp_path, clean)
    assert _only(report) == [("SCH008", "config.Env[2]", "aws-access-key-id: AKIA**** (16 chars hidden)")]
    assert report.findings[0].severity == "critical"
    assert AWS_KEY not in json.dumps(harden_document(report)) and AWS_KEY not in render_human(report)


def test_secrets_in_labels_and_history(tmp_path: Path, clean: ImageSpec) -> None:
    token = "ghp_" + "A1b2C3d4" * 5
    clean.config["Labels"]["ci.token"] = token
    clean.history.append({"created_by": "RUN curl -H 'x' --data db_password=hunter2hunter2 http://x"})
    report = _check(tmp_path, clean)
    assert _only(report) == [
        ("SCH009", "config.Labels['ci.token']", "github-token: ghp_**** (40 chars hidden)"),
        ("SCH010", "history[2]", "generic-secret-assignment: db_password=**** (14 chars hidden)"),
    ]
    assert token not in json.dumps(harden_document(report))


def test_private_key_in_a_layer(tmp_path: Path, clean: ImageSpec, private_key_pem: bytes) -> None:
    clean.layers[1].append(Entry("app/tls.key", private_key_pem, 0o600))
    report = _check(tmp_path, clean)
    assert _only(report) == [
        ("SCH011", "/app/tls.key", "private-key: -----BEGIN EC PRIVATE KEY----- at line 1")]
    assert report.findings[0].layer == 1
    body = private_key_pem.decode().splitlines()[1]
    assert body not in json.dumps(harden_document(report))


def test_private_key_deleted_by_a_later_layer_still_counts(tmp_path: Path, clean: ImageSpec,
                                                          private_key_pem: bytes) -> None:
    clean.layers[1].append(Entry("app/tls.key", private_key_pem, 0o600))
    clean.layers.append([Entry("app/.wh.tls.key", b"")])
    report = _check(tmp_path, clean)
    assert _only(report) == [
        ("SCH011", "/app/tls.key", "private-key: -----BEGIN EC PRIVATE KEY----- at line 1 (removed or "
         "replaced by a later layer, but layer 1 still ships it)")]
    assert report.platforms[0].files == 11  # the merged view no longer has it


def test_base_not_pinned_and_privileged_port(tmp_path: Path, clean: ImageSpec) -> None:
    clean.config["Labels"]["org.opencontainers.image.base.digest"] = "latest"
    clean.config["ExposedPorts"] = {"80/tcp": {}, "8080/tcp": {}}
    report = _check(tmp_path, clean)
    assert _only(report) == [
        ("SCH013", "config.ExposedPorts", "config.ExposedPorts['80/tcp']"),
        ("SCH012", "config.Labels['org.opencontainers.image.base.digest']",
         "org.opencontainers.image.base.digest='latest'"),
    ]
    assert report.passed  # both are low: below the default threshold (medium)
    assert not HardenReport(**{**report.__dict__, "threshold": "low"}).passed


def test_base_digest_as_manifest_annotation_and_scratch(tmp_path: Path, clean: ImageSpec) -> None:
    del clean.config["Labels"]
    clean.annotations = {"org.opencontainers.image.base.digest": "sha256:" + "cd" * 32}
    assert _check(tmp_path / "a", clean).findings == ()
    clean.annotations = {"org.opencontainers.image.base.name": "scratch"}
    assert _check(tmp_path / "b", clean).findings == ()
    clean.annotations = {}
    assert [f.rule for f in _check(tmp_path / "c", clean).findings] == ["SCH012"]


def test_size_limit_and_allowlist(tmp_path: Path, clean: ImageSpec) -> None:
    clean.config["User"] = "0"
    clean.layers[1].append(Entry("app/helper", b"\x7fELF\x00", 0o4755))
    options = make_options(max_size="1MiB", allow=("rule:SCH001", "path:/app/*"))
    report = _check(tmp_path, clean, options)
    assert [f.rule for f in report.findings] == ["SCH014"]
    assert report.findings[0].evidence.endswith("bytes in 12 entries")
    assert report.suppressed == 2 and report.passed  # SCH014 is low


def test_allowlisted_secret_value_and_unscanned_big_text(tmp_path: Path, clean: ImageSpec) -> None:
    clean.layers[1].append(Entry("app/.env", f"KEY={AWS_KEY}\n".encode()))
    clean.layers[1].append(Entry("app/big.txt", b"a" * 3000))
    options = CheckOptions(scan_cap=2048, allow=Allowlist(values=("EXAMPLE$",)))
    report = _check(tmp_path, clean, options)
    assert _only(report) == [
        ("SCH015", "/etc/ssl/certs/ca-certificates.crt", "text file larger than the scan cap 2048"),
        ("SCH015", "/app/big.txt", "text file larger than the scan cap 2048")]
    assert [f.severity for f in report.findings] == ["info", "info"]


def test_config_file_and_bad_options(tmp_path: Path) -> None:
    cfg = tmp_path / "harden.yaml"
    cfg.write_text("threshold: high\nmax_size: 10MB\nallow:\n  paths: ['/usr/share/*']\n  rules: [SCH012]\n")
    opts = make_options(config=str(cfg), allow=("value:TEST",), threshold="critical")
    assert opts.threshold == "critical" and opts.max_size == 10_000_000
    assert opts.allow == Allowlist(("/usr/share/*",), ("SCH012",), ("TEST",))
    with pytest.raises(UsageError, match="invalid allowlist entry"):
        make_options(allow=("SCH012",))
    with pytest.raises(UsageError, match="unknown severity"):
        make_options(threshold="severe")
    cfg.write_text("treshold: high\n")
    with pytest.raises(UsageError, match="unknown key"):
        make_options(config=str(cfg))
