"""Alpine apk and Debian dpkg databases: exact packages, purls, dependencies, malformed input."""

from __future__ import annotations

import pytest

from supplychain.errors import SbomError
from supplychain.sbom.ospkgs import os_packages, parse_apk_installed, parse_dpkg_status
from tests.sbom.images import (
    ALPINE_INSTALLED,
    ALPINE_OS_RELEASE,
    DEBIAN_OS_RELEASE,
    DPKG_STATUS,
    DPKG_STATUS_D_BASE_FILES,
)


def test_alpine_packages_and_purls() -> None:
    files = {"/lib/apk/db/installed": ALPINE_INSTALLED.encode(),
             "/etc/os-release": ALPINE_OS_RELEASE.encode()}
    pkgs = os_packages(list(files), files.get)
    assert [(p.name, p.version, p.arch) for p in pkgs] == [
        ("musl", "1.2.5-r0", "x86_64"), ("busybox", "1.36.1-r29", "x86_64"),
        ("ca-certificates-bundle", "20240705-r0", "x86_64")]
    assert pkgs[1].purl.to_string() == "pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64&distro=alpine-3.20.3"
    assert pkgs[1].depends == ("so:libc.musl-x86_64.so.1", "musl")
    assert (pkgs[2].license, pkgs[2].source) == ("MPL-2.0 AND MIT", "ca-certificates")


def test_alpine_without_os_release_defaults_to_alpine_namespace() -> None:
    pkgs = parse_apk_installed(ALPINE_INSTALLED)
    assert pkgs[0].purl.to_string() == "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64"


def test_debian_status_and_status_d() -> None:
    files = {"/var/lib/dpkg/status": DPKG_STATUS.encode(),
             "/var/lib/dpkg/status.d/base-files": DPKG_STATUS_D_BASE_FILES.encode(),
             "/var/lib/dpkg/status.d/base-files.md5sums": b"x  /etc/debian_version\n",
             "/usr/lib/os-release": DEBIAN_OS_RELEASE.encode()}
    pkgs = os_packages(list(files), files.get)
    assert [(p.name, p.version, p.arch, p.db_path) for p in pkgs] == [
        ("libc6", "2.36-9+deb12u8", "amd64", "/var/lib/dpkg/status"),
        ("libgcc-s1", "12.2.0-14", "amd64", "/var/lib/dpkg/status"),
        ("tzdata", "2024a-0+deb12u1", "all", "/var/lib/dpkg/status"),
        ("base-files", "12.4+deb12u7", "amd64", "/var/lib/dpkg/status.d/base-files")]
    assert pkgs[0].purl.to_string() == "pkg:deb/debian/libc6@2.36-9%2Bdeb12u8?arch=amd64&distro=debian-12"
    assert pkgs[1].source == "gcc-12"
    assert pkgs[1].depends == ("gcc-12-base", "libc6")


def test_epoch_versions_and_removed_packages() -> None:
    pkgs = parse_dpkg_status("Package: perl\nStatus: install ok installed\nVersion: 1:5.36.0-7\n"
                             "Architecture: amd64\n\nPackage: gone\nStatus: purge ok not-installed\n"
                             "Version: 1\n")
    assert [p.name for p in pkgs] == ["perl"]
    assert pkgs[0].purl.to_string() == "pkg:deb/debian/perl@1:5.36.0-7?arch=amd64"


def test_malformed_databases_fail_clearly() -> None:
    with pytest.raises(SbomError, match=r"apk database .* is malformed") as err:
        parse_apk_installed("P:musl\nA:x86_64\n")
    assert "V:" in str(err.value.expected)
    with pytest.raises(SbomError, match=r"dpkg status file .* is malformed"):
        parse_dpkg_status("Package: libc6\nStatus: install ok installed\n")
