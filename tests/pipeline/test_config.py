"""sccheck.yaml: strict parsing, paths relative to the file, flags win (unit tests of our logic)."""

from __future__ import annotations

from pathlib import Path

import pytest

from supplychain.analyzers.config import CheckSettings
from supplychain.errors import UsageError
from supplychain.pipeline.config import PipelineConfig, load_config


def test_full_file_and_flags_override(tmp_path: Path) -> None:
    (tmp_path / "sccheck.yaml").write_text(
        "apiVersion: sccheck.dev/v1\nkind: Pipeline\nrepo: reg.example/team/app\n"
        "build: {platforms: [linux/amd64, linux/arm64], base: scratch, tag: v1}\n"
        "check: {vulnDb: db, failOn: high, only: [vet, vuln]}\nharden: {threshold: high, profiles: prof}\n"
        "sign: {trustConfig: tc.json}\nverify: {policy: p.yaml}\npromote: {to: reg.example/prod/app:v1}\n")
    cfg = load_config(None, tmp_path)
    assert cfg == PipelineConfig(
        source=str(tmp_path / "sccheck.yaml"), repo="reg.example/team/app",
        platforms=("linux/amd64", "linux/arm64"), base="scratch", tag="v1",
        vuln_db=str(tmp_path.resolve() / "db"), fail_on="high", check_tools=("vet", "vuln"),
        harden_threshold="high", profiles_dir=str(tmp_path.resolve() / "prof"),
        trust_config=str(tmp_path.resolve() / "tc.json"),
        policy=str(tmp_path.resolve() / "p.yaml"), promote_to="reg.example/prod/app:v1",
        check=CheckSettings(vuln_db=str(tmp_path.resolve() / "db"), fail_on="high",
                            only=("vet", "vuln")))
    merged = cfg.merged(repo="other/x", platforms=(), base=None, fail_on="low")
    assert (merged.repo, merged.platforms, merged.base, merged.fail_on) == \
        ("other/x", ("linux/amd64", "linux/arm64"), "scratch", "low")


def test_no_file_gives_empty_settings(tmp_path: Path) -> None:
    assert load_config(None, tmp_path) == PipelineConfig()


@pytest.mark.parametrize(("text", "message"), [
    ("repo: a/b\nbuild:\n  platfrom: x\n", "$.build.platfrom: unknown key"),
    ("rep: a/b\n", "$.rep: unknown key"),
    ("apiVersion: v2\n", "$.apiVersion: unsupported version"),
    ("build: [1]\n", "$.build: must be a mapping"),
    ("check: {only: []}\n", "$.check.only: must be a non-empty list of strings"),
    ("check: {only: [vet, 3]}\n", "$.check.only[1]: must be a non-empty string"),
    ("repo: a/b\nrepo: c/d\n", "duplicate key 'repo' (line 2)"),
    ("- a\n", "$: must be a mapping"),
])
def test_bad_files_name_the_path(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "sccheck.yaml").write_text(text)
    with pytest.raises(UsageError) as info:
        load_config(None, tmp_path)
    assert message in info.value.message
    assert info.value.exit_code == 2


def test_missing_explicit_config(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_config(tmp_path / "nope.yaml", tmp_path)


@pytest.mark.parametrize(("platforms", "message"), [
    ("'linux/amd64,,'", "empty entry in the platform list"),
    ("[linux/amd64, linux/amd64]", "'linux/amd64' is listed twice"),
    ("[linux/arm64, linux/arm64/v8]", "name the same platform"),
    ("[linux]", "invalid platform 'linux'"),
])
def test_platforms_go_through_the_one_strict_parser(tmp_path: Path, platforms: str, message: str) -> None:
    (tmp_path / "sccheck.yaml").write_text(f"repo: a/b\nbuild: {{platforms: {platforms}}}\n")
    with pytest.raises(UsageError, match=message):
        load_config(None, tmp_path)
