"""Our own logic without services: deterministic tar/gzip, ELF linkage, flags, platforms."""

from __future__ import annotations

import gzip
import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from supplychain.build.elfcheck import read_linkage, require_static
from supplychain.build.gocompile import go_env, ldflags, require_buildable
from supplychain.build.layers import directory, file, make_layer, tar_bytes
from supplychain.errors import BuildError, UsageError
from supplychain.image.platform import Platform
from supplychain.source import strip_credentials


def test_tar_is_sorted_owned_by_root_with_fixed_times_and_parents() -> None:
    entries = [file("/usr/local/bin/app", b"\x7fELF", 0o755), directory("/tmp", 0o1777),
               file("/etc/passwd", b"root\n")]
    raw, paths = tar_bytes(entries, 1234)
    again, _ = tar_bytes(list(reversed(entries)), 1234)
    assert raw == again
    assert paths == ("/etc", "/etc/passwd", "/tmp", "/usr", "/usr/local", "/usr/local/bin",
                     "/usr/local/bin/app")
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == [p.lstrip("/") for p in paths]
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in members} == {(0, 0, "", "", 1234)}
    modes = {m.name: m.mode for m in members}
    assert modes["tmp"] == 0o1777 and modes["usr/local/bin/app"] == 0o755 and modes["usr"] == 0o755


def test_gzip_header_has_no_time_and_no_name() -> None:
    layer = make_layer([file("/a", b"x" * 1000)], 0)
    assert layer.data[:4] == b"\x1f\x8b\x08\x00"          # no FNAME flag
    assert layer.data[4:8] == b"\x00\x00\x00\x00"          # mtime 0
    assert make_layer([file("/a", b"x" * 1000)], 0).descriptor == layer.descriptor
    assert gzip.decompress(layer.data)[:2] == b"a\x00"
    assert make_layer([file("/a", b"x" * 1000)], 1).descriptor != layer.descriptor


def test_bad_layer_paths_are_refused() -> None:
    with pytest.raises(BuildError, match="added twice"):
        tar_bytes([file("/a", b"1"), file("a", b"2")], 0)
    with pytest.raises(BuildError, match="bad path"):
        tar_bytes([file("/", b"1")], 0)


def test_elf_check_names_interpreter_and_libraries(tmp_path: Path) -> None:
    src = tmp_path / "dyn.c"
    src.write_text('#include <stdio.h>\nint main(void){puts("hi");return 0;}\n')
    subprocess.run(["gcc", "-o", str(tmp_path / "dyn"), str(src)], check=True)
    linkage = read_linkage(tmp_path / "dyn")
    assert linkage.interpreter is not None and linkage.interpreter.startswith("/lib")
    assert "libc.so.6" in linkage.needed
    with pytest.raises(BuildError) as info:
        require_static(tmp_path / "dyn", "linux/amd64")
    assert "dynamically linked" in info.value.message
    assert "libc.so.6" in (info.value.found or "") and "CGO_ENABLED=0" in (info.value.fix or "")
    subprocess.run(["gcc", "-static", "-o", str(tmp_path / "stat"), str(src)], check=True)
    assert read_linkage(tmp_path / "stat").is_static
    (tmp_path / "text").write_text("#!/bin/sh\n")
    with pytest.raises(BuildError, match="not an ELF"):
        read_linkage(tmp_path / "text")


def test_go_binaries_built_with_and_without_cgo(tmp_path: Path) -> None:
    """A real Go program: static with CGO_ENABLED=0, dynamic with cgo + external linking."""
    (tmp_path / "go.mod").write_text("module example.com/dyn\n\ngo 1.26\n")
    (tmp_path / "main.go").write_text('package main\n\nimport "os/user"\n\nfunc main() { _, _ = '
                                      'user.Current() }\n')
    env_base = {"PATH": "/usr/local/go/bin:/usr/bin:/bin", "HOME": "/root", "GOFLAGS": ""}
    subprocess.run(["go", "build", "-o", "static", "."], cwd=tmp_path, check=True,
                   env={**env_base, "CGO_ENABLED": "0"})
    assert read_linkage(tmp_path / "static").is_static
    subprocess.run(["go", "build", "-ldflags", "-linkmode external", "-o", "dynamic", "."], cwd=tmp_path,
                   check=True, env={**env_base, "CGO_ENABLED": "1"})
    linkage = read_linkage(tmp_path / "dynamic")
    assert not linkage.is_static and "libc.so.6" in linkage.needed


def test_platforms_and_flags() -> None:
    assert str(Platform.parse("linux/arm")) == "linux/arm/v7"
    assert go_env(Platform.parse("linux/arm/v6")) == {"GOOS": "linux", "GOARCH": "arm", "GOARM": "6"}
    assert Platform.parse("linux/arm64").matches({"os": "linux", "architecture": "arm64", "variant": "v8"})
    assert not Platform.parse("linux/amd64").matches({"os": "linux", "architecture": "arm64"})
    with pytest.raises(UsageError, match="unsupported platform 'windows/amd64'"):
        require_buildable(Platform.parse("windows/amd64"))
    assert ldflags("1.2.3", "main.version") == "-s -w -buildid= -X main.version=1.2.3"
    assert ldflags("v1", "github.com/x/y/internal/v.Version", "-X main.commit=abc").endswith(
        "-X github.com/x/y/internal/v.Version=v1 -X main.commit=abc")
    with pytest.raises(UsageError, match="invalid --version"):
        ldflags("1.0 -X main.evil=1", "main.version")
    with pytest.raises(UsageError, match="invalid --version-var"):
        ldflags("1", "version")
    assert strip_credentials("https://user:tok@github.com/a/b.git") == "https://github.com/a/b.git"


def test_parallel_gzip_is_deterministic_valid_and_compact(monkeypatch: pytest.MonkeyPatch) -> None:
    """Layers compress in fixed blocks on every core: the bytes never depend on the core count,
    every gzip reader takes them as one stream, and splitting costs at most 0.3%."""
    import gzip as stdlib_gzip
    import random
    import zlib

    from supplychain.build import compress, layers

    rng = random.Random(7)
    words = [bytes(rng.choices(range(97, 123), k=rng.randint(2, 9))) for _ in range(400)]
    data = b" ".join(rng.choice(words) for _ in range(700_000))    # ~4 MiB, compressible
    monkeypatch.setattr(compress.os, "cpu_count", lambda: 1)
    one_core = layers.deterministic_gzip(data, 6)
    monkeypatch.setattr(compress.os, "cpu_count", lambda: 8)
    many_cores = layers.deterministic_gzip(data, 6)
    assert one_core == many_cores
    assert stdlib_gzip.decompress(one_core) == data
    assert one_core[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"    # mtime 0, no name
    single_stream = stdlib_gzip.compress(data, 6, mtime=0)
    assert len(one_core) <= len(single_stream) * 1.003
    # one member per block, each holding GZIP_BLOCK bytes but the last
    held, rest = [], one_core
    while rest:
        inflater = zlib.decompressobj(31)
        held.append(len(inflater.decompress(rest)))
        assert inflater.eof
        rest = inflater.unused_data
    assert held == compress.member_sizes(len(data)) and len(held) == -(-len(data) // layers.GZIP_BLOCK)
    assert layers.deterministic_gzip(data, 9) != one_core
    assert len(layers.deterministic_gzip(data, 12)) < len(one_core)
    for small in (b"", b"x"):
        assert stdlib_gzip.decompress(layers.deterministic_gzip(small)) == small
    for bad in (0, 13):
        with pytest.raises(BuildError, match="invalid gzip level"):
            layers.deterministic_gzip(data, bad)


def test_layer_cache_reuses_identical_bytes_and_never_a_wrong_entry(tmp_path: Path) -> None:
    """A rebuild of an unchanged binary reuses the gzip bytes; the image digest is the one
    compressing gives, and a damaged or foreign entry is compressed again, not used."""
    import os

    from supplychain.build.layercache import LayerCache
    from supplychain.build.layers import GZIP_BLOCK

    entries = [file("/usr/local/bin/app", os.urandom(3 << 20) + b"\0" * (2 << 20), 0o755)]
    plain = make_layer(entries, 7)
    cache = LayerCache(tmp_path / "layers")
    first = make_layer(entries, 7, cache=cache)
    second = make_layer(entries, 7, cache=cache)
    assert (first.reused, second.reused) == (False, True)
    assert first.descriptor == second.descriptor == plain.descriptor and second.data == plain.data
    assert make_layer(entries, 7, 9, cache=cache).reused is False      # the level is in the key

    (entry,) = [p for p in (tmp_path / "layers").iterdir()
                if p.name == LayerCache.key(plain.diff_id, 6, GZIP_BLOCK) + ".gz"]
    for bad in (plain.data[:-9] + b"\0" * 9,                          # damaged
                gzip.compress(b"another tar", mtime=0),                # another layer's bytes
                plain.data + gzip.compress(b"", mtime=0),              # a second member after it
                gzip.compress(tar_bytes(entries, 7)[0], 6, mtime=0)):  # the same tar, other blocks
        entry.write_bytes(bad)
        again = make_layer(entries, 7, cache=cache)
        assert not again.reused and again.data == plain.data
        assert entry.read_bytes() == plain.data                        # replaced by the right one
    small = LayerCache(tmp_path / "small", max_bytes=1)
    make_layer(entries, 7, cache=small)
    make_layer([file("/b", b"b")], 7, cache=small)
    assert len(list((tmp_path / "small").glob("*.gz"))) == 1            # the oldest went
