"""Restricted manifests: generated ones pass our Pod Security Standards check; every known-violating
manifest in tests/harden/manifests fails with exactly the paths its `# expect:` lines name."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from supplychain.errors import CheckFailed, UsageError
from supplychain.harden.k8s import check_manifests, generate_manifests
from tests.harden.images import ImageSpec, build_hello, clean_image, write_image

MANIFESTS = Path(__file__).parent / "manifests"
ALL_MANIFESTS = sorted(MANIFESTS.glob("*.yaml"))


def _expected(path: Path) -> list[tuple[str, str]]:
    out = []
    for line in path.read_text().splitlines():
        if line.startswith("# expect: "):
            control, where = line[len("# expect: "):].split(" ", 1)
            out.append((control, where))
    return sorted(out)


def test_every_violating_manifest_declares_its_failures() -> None:
    assert len(ALL_MANIFESTS) == 16
    for path in ALL_MANIFESTS:
        assert bool(_expected(path)) != path.name.startswith("restricted_"), path.name


@pytest.mark.parametrize("path", ALL_MANIFESTS, ids=[p.stem for p in ALL_MANIFESTS])
def test_known_manifests_fail_with_exact_paths(path: Path) -> None:
    result = check_manifests(str(path))
    found = sorted((v.control, v.path) for _w, v in result.violations())
    assert found == _expected(path)
    assert result.passed == (not found)


def test_workload_kinds_documents_and_skips() -> None:
    result = check_manifests(str(MANIFESTS / "restricted_inherited_from_pod_level.yaml"))
    assert [(w.document, w.kind, w.name) for w in result.workloads] == [(1, "Deployment", "app"),
                                                                       (2, "Pod", "userns")]
    assert result.skipped == ("Service/app", "NetworkPolicy/default-deny")
    assert [w.network_policy for w in result.workloads] == ["default-deny", "default-deny"]
    listed = check_manifests(str(MANIFESTS / "list_second_item_privileged.yaml"))
    assert [(w.name, len(w.violations)) for w in listed.workloads] == [("good", 0), ("bad", 1)]


def test_bad_manifest_files(tmp_path: Path) -> None:
    only_service = tmp_path / "svc.yaml"
    only_service.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n")
    with pytest.raises(UsageError, match="no workload to check"):
        check_manifests(str(only_service))
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: Pod\nspec: [\n")
    with pytest.raises(UsageError, match="not valid YAML"):
        check_manifests(str(broken))
    with pytest.raises(UsageError, match="cannot read"):
        check_manifests(str(tmp_path / "missing.yaml"))


# -- generation from real OCI layouts ------------------------------------------------------------

@pytest.fixture(scope="module")
def clean_spec(tmp_path_factory: pytest.TempPathFactory) -> ImageSpec:
    return clean_image(build_hello(tmp_path_factory.mktemp("hello-bin-k8s")))


def _layout(tmp_path: Path, spec: ImageSpec) -> str:
    digest = write_image(tmp_path / "img", spec)
    return f"oci:{tmp_path / 'img'}@{digest}"


def test_generated_manifests_pass_the_restricted_check(tmp_path: Path, clean_spec: ImageSpec) -> None:
    ref = _layout(tmp_path, clean_spec)
    digest = ref.rsplit("@", 1)[1]
    out = tmp_path / "k8s" / "hello.yaml"
    gen = generate_manifests(ref, repository="registry.example/team/hello", output=str(out))
    assert (gen.name, gen.uid, gen.gid, gen.port) == ("hello", 65532, 65532, 8080)
    assert gen.image == f"registry.example/team/hello@{digest}"
    deployment, policy = yaml.safe_load_all(out.read_text())
    assert (deployment["kind"], policy["kind"]) == ("Deployment", "NetworkPolicy")
    assert gen.kinds == ("Deployment", "NetworkPolicy")
    spec = deployment["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"] == {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                                       "fsGroup": 65532, "seccompProfile": {"type": "RuntimeDefault"}}
    (container,) = spec["containers"]
    assert container["image"] == gen.image
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["limits"]["memory"] == "128Mi"
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert spec["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
    result = check_manifests(str(out))
    assert result.passed and [w.kind for w in result.workloads] == ["Deployment"]
    assert result.workloads[0].network_policy == "hello"


def test_named_user_and_privileged_port(tmp_path: Path, clean_spec: ImageSpec) -> None:
    spec = clean_spec.copy()
    spec.config["User"] = "nonroot"
    spec.config["ExposedPorts"] = {"443/tcp": {}}
    gen = generate_manifests(_layout(tmp_path, spec), repository="registry.example/web", name="web")
    assert (gen.uid, gen.gid, gen.port) == (65532, 65532, 443)
    deployment, policy = yaml.safe_load_all(gen.yaml)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"] == {
        "drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}
    assert policy["spec"]["ingress"] == [{"ports": [{"protocol": "TCP", "port": 443}]}]
    out = tmp_path / "web.yaml"
    out.write_text(gen.yaml)
    assert check_manifests(str(out)).passed


@pytest.mark.parametrize("user", ["", "root", "0", "65532:0"])
def test_refuses_root_images(tmp_path: Path, clean_spec: ImageSpec, user: str) -> None:
    spec = clean_spec.copy()
    spec.config["User"] = user
    with pytest.raises(CheckFailed, match="runs as root"):
        generate_manifests(_layout(tmp_path, spec), repository="registry.example/x")


def test_refuses_tags_layouts_without_repository_and_bad_names(tmp_path: Path,
                                                               clean_spec: ImageSpec) -> None:
    ref = _layout(tmp_path, clean_spec)
    with pytest.raises(UsageError, match="not pinned by digest"):
        generate_manifests(f"oci:{tmp_path / 'img'}:latest", repository="registry.example/x")
    with pytest.raises(UsageError, match="no address a cluster can pull from"):
        generate_manifests(ref)
    with pytest.raises(UsageError, match="invalid name"):
        generate_manifests(ref, repository="registry.example/x", name="Bad_Name")
    assert not (tmp_path / "never.yaml").exists()
