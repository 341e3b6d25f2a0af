"""The `steps:` rule on crafted verified evidence: links recorded with in-toto's recorder from a
real tree, judged with in-toto's rule engine (the signatures are the stack tests' business)."""

# ruff: noqa: E501

from __future__ import annotations

import json
from pathlib import Path

import pytest

from supplychain.attest.link import LinkRecord, as_digest, link_predicate, read_link, record_tree
from supplychain.errors import PolicyError
from supplychain.policy import model as m
from supplychain.policy.evaluate import FAIL, NO_EVIDENCE, PASS, evaluate
from supplychain.policy.evidence import ImageEvidence, ManifestFacts, Signer, VerifiedStatement
from supplychain.policy.export import ExportRefused, export_policy
from supplychain.policy.init import init_policy
from supplychain.policy.loader import parse_policy

ISSUER = "https://issuer.example"
ME = Signer("keyless", ISSUER, "release@example.com")
MALLORY = Signer("keyless", ISSUER, "mallory@example.com")
IMAGE = "sha256:" + "1" * 64
LAYERS = ("sha256:" + "2" * 64, "sha256:" + "3" * 64)
P = "linux/amd64"


def chain_policy(extra: str = "") -> m.Policy:
    text = init_policy("release@example.com", ISSUER, chain=True) + extra
    return parse_policy(text.encode(), "chain policy")


def tree(tmp_path: Path) -> Path:
    (tmp_path / "go.mod").write_text("module example.com/hello\n\ngo 1.22\n")
    (tmp_path / "main.go").write_text("package main\n\nfunc main() {}\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return tmp_path


def image_products() -> dict[str, dict[str, str]]:
    out = {f"image/{P}/manifest": as_digest(IMAGE)}
    out |= {f"image/{P}/layer/{n}": as_digest(d) for n, d in enumerate(LAYERS)}
    return out


def links(check_src: dict[str, dict[str, str]], build_src: dict[str, dict[str, str]]) -> list[LinkRecord]:
    env = {"GOVERSION": "go1.26.0", "GOFLAGS": ""}
    manifest = {f"image/{P}/manifest": as_digest(IMAGE)}
    return [LinkRecord("check", ("sccheck", "check", "."), check_src, {}, env),
            LinkRecord("build", ("sccheck", "build", "."), build_src,
                       {f"bin/{P}/hello": {"sha256": "4" * 64}, **image_products()}, env),
            LinkRecord("sbom", ("sccheck", "sbom"), manifest, {f"sbom/{P}": {"sha256": "5" * 64}}, env),
            LinkRecord("harden", ("sccheck", "harden"), manifest, {"harden/report": {"sha256": "6" * 64}}, env)]


def evidence(records: list[LinkRecord], signer: dict[str, Signer] | None = None,
             layers: tuple[str, ...] = LAYERS, binaries: tuple[tuple[str, str], ...] = ()) -> ImageEvidence:
    statements = tuple(
        VerifiedStatement(f"sha256:{n + 1:064x}", IMAGE, m.PREDICATE_LINK, (IMAGE,),
                          (signer or {}).get(r.name, ME), link_predicate(r))
        for n, r in enumerate(records))
    return ImageEvidence(f"reg.example/app@{IMAGE}", IMAGE, False,
                         (ManifestFacts(IMAGE, P, layers=layers, binaries=binaries),), statements)


def chain_result(policy: m.Policy, ev: ImageEvidence):  # type: ignore[no-untyped-def]
    report = evaluate(policy, ev)
    return next(r for r in report.results if r.rule == "steps")


def test_the_recorder_names_the_tree_after_the_same_exclusions(tmp_path: Path) -> None:
    src = record_tree(tree(tmp_path))
    assert sorted(src) == ["src/go.mod", "src/main.go"]          # .git is never a material
    link = read_link(link_predicate(links(src, src)[1]))
    assert link.materials == src and link.products[f"bin/{P}/hello"] == {"sha256": "4" * 64}


def test_an_unbroken_chain_passes(tmp_path: Path) -> None:
    src = record_tree(tree(tmp_path))
    result = chain_result(chain_policy(), evidence(links(src, src)))
    assert result.status == PASS, result.details
    assert len(result.evidence) == 4


def test_a_file_edited_between_check_and_build_names_the_step_and_the_file(tmp_path: Path) -> None:
    root = tree(tmp_path)
    checked = record_tree(root)
    (root / "main.go").write_text("package main\n\nfunc main() { println(1) }\n")
    built = record_tree(root)
    result = chain_result(chain_policy(), evidence(links(checked, built)))
    assert result.status == FAIL
    assert "step build" in result.found and "src/main.go" in result.found, result.found
    assert checked["src/main.go"]["sha256"] in result.found and built["src/main.go"]["sha256"] in result.found
    assert not any("go.mod" in d for d in result.details)       # the unchanged file is not blamed


def test_a_layer_the_build_did_not_make_fails(tmp_path: Path) -> None:
    src = record_tree(tree(tmp_path))
    planted = (LAYERS[0], "sha256:" + "9" * 64)
    result = chain_result(chain_policy(), evidence(links(src, src), layers=planted))
    assert result.status == FAIL
    assert "step image" in result.found and f"image/{P}/layer/1" in result.found


def test_a_link_signed_by_someone_the_layout_does_not_allow_fails(tmp_path: Path) -> None:
    src = record_tree(tree(tmp_path))
    result = chain_result(chain_policy(), evidence(links(src, src), signer={"build": MALLORY}))
    assert result.status == FAIL
    assert "step build" in result.found and "mallory@example.com" in result.found
    # the layout may narrow who performs a step to fewer identities than the policy trusts
    narrowed = chain_policy().steps
    assert narrowed is not None
    only_ci = m.KeylessIdentity(ISSUER, m.Pattern("ci@example.com"))
    steps = tuple(m.ChainStep(s.name, (only_ci,), s.materials, s.products) if s.name == "check" else s
                  for s in narrowed.steps)
    policy = chain_policy()
    object.__setattr__(policy, "steps", m.ChainLayout(steps, narrowed.image))
    result = chain_result(policy, evidence(links(src, src)))
    assert result.status == FAIL and "step check" in result.found and "ci@example.com" in result.found


def test_a_missing_step_fails(tmp_path: Path) -> None:
    src = record_tree(tree(tmp_path))
    without_sbom = [r for r in links(src, src) if r.name != "sbom"]
    result = chain_result(chain_policy(), evidence(without_sbom))
    assert result.status == FAIL and result.found == "step sbom: no verified link"
    assert chain_result(chain_policy(), evidence([])).status == NO_EVIDENCE


def test_the_layout_is_loaded_strictly() -> None:
    with pytest.raises(PolicyError, match="not an in-toto artifact rule"):
        chain_policy().steps  # noqa: B018 - the valid one loads
        parse_policy((init_policy("a@b.c", ISSUER) + "steps:\n  build:\n    materials: ['MATCH src/*']\n"
                      ).encode())
    with pytest.raises(PolicyError, match="unknown field"):
        parse_policy((init_policy("a@b.c", ISSUER) + "steps:\n  build:\n    expected: []\n").encode())
    with pytest.raises(PolicyError, match="the image is not a step"):
        parse_policy((init_policy("a@b.c", ISSUER) + "steps:\n  build: {}\n  image:\n    signers:\n"
                      f"      - issuer: {ISSUER}\n        subject: a@b.c\n").encode())


def _refused(policy: m.Policy, fmt: str) -> list[str]:
    try:
        export_policy(policy, fmt)
    except ExportRefused as exc:
        return list(exc.facts["rules"])
    return []


@pytest.mark.parametrize("fmt", ["kyverno", "kyverno-clusterpolicy", "policy-controller"])
def test_the_exports_refuse_the_chain_by_name(fmt: str) -> None:
    plain = parse_policy(init_policy("a@b.c", ISSUER).encode())
    assert "steps" not in _refused(plain, fmt)
    assert "steps" in _refused(chain_policy(), fmt)


def test_each_runnable_child_needs_its_own_links(tmp_path: Path) -> None:
    src = record_tree(tree(tmp_path))
    index, arm = "sha256:" + "7" * 64, "sha256:" + "8" * 64
    records = links(src, src)
    # links attached to the index and the amd64 child only, as if the arm64 child came later
    statements = tuple(
        VerifiedStatement(f"sha256:{n + 1:064x}", where, m.PREDICATE_LINK, (index, IMAGE), ME, link_predicate(r))
        for n, r in enumerate(records) for where in (index, IMAGE))
    ev = ImageEvidence(f"reg.example/app@{index}", index, True,
                       (ManifestFacts(IMAGE, P, layers=LAYERS), ManifestFacts(arm, "linux/arm64")), statements)
    result = chain_result(chain_policy(), ev)
    assert result.status == FAIL and result.found.startswith(f"linux/arm64 {arm}: step check: no verified link")
    assert not any(d.startswith(f"linux/amd64 {IMAGE}: step check") for d in result.details)


def test_policy_init_chain_prints_a_policy_with_the_starter_layout() -> None:
    from tests.conftest import run_sccheck

    proc = run_sccheck("--json", "policy", "init", "--identity", "a@b.c", "--issuer", ISSUER, "--chain")
    assert proc.returncode == 0, proc.stderr
    policy = parse_policy(json.loads(proc.stdout)["policy"].encode())
    assert policy.steps is not None and [s.name for s in policy.steps.steps] == ["check", "build", "sbom", "harden"]
    assert policy.steps.image is not None and policy.steps.image.products[-1] == "DISALLOW *"
    plain = run_sccheck("--json", "policy", "init", "--identity", "a@b.c", "--issuer", ISSUER)
    assert parse_policy(json.loads(plain.stdout)["policy"].encode()).steps is None


def test_too_big_a_tree_is_refused_with_the_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from supplychain.attest import link
    from supplychain.errors import UsageError

    monkeypatch.setattr(link, "MAX_ARTIFACTS", 1)
    with pytest.raises(UsageError, match="has 2 files, too many"):
        record_tree(tree(tmp_path))


def test_a_binary_in_the_image_that_build_did_not_make_fails(tmp_path: Path) -> None:
    src = record_tree(tree(tmp_path))
    same = ((f"bin/{P}/hello", "4" * 64),)
    assert chain_result(chain_policy(), evidence(links(src, src), binaries=same)).status == PASS
    other = ((f"bin/{P}/hello", "e" * 64),)
    result = chain_result(chain_policy(), evidence(links(src, src), binaries=other))
    assert result.status == FAIL
    assert result.found == (f"step image, products bin/{P}/hello: sha256:{'e' * 64}; expected sha256:{'4' * 64} "
                            "from the products of build")
