"""`harden k8s`: the runtime profiles referenced (Localhost), the workload's network written
(NetworkPolicy; Istio PeerAuthentication and AuthorizationPolicy), every document validated by
kubeconform against the real Kubernetes and Istio schemas (offline, tests/harden/schemas), and
`--check` reporting workloads no NetworkPolicy selects."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from supplychain.errors import UsageError
from supplychain.harden.k8s import check_manifests, generate_manifests
from supplychain.harden.netpol import NetworkOptions, parse_allow_from, parse_egress
from supplychain.harden.profile import make_profiles
from supplychain.tools import find_tool
from tests.conftest import run_sccheck
from tests.harden.images import build_hello, clean_image, write_image
from tests.harden.test_harden_psa_oracle import _upstream, psacheck  # noqa: F401 - the fixture

HERE = Path(__file__).parent
SCHEMAS = HERE / "schemas"
REPO = "registry.example/team/hello"


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("net-image")
    digest = write_image(out / "oci", clean_image(build_hello(out)))
    return f"oci:{out / 'oci'}@{digest}"


@pytest.fixture(scope="module")
def profiles_dir(image: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("net-profiles")
    make_profiles(image, output_dir=str(out), name="hello")
    return out


def kubeconform(path: Path) -> subprocess.CompletedProcess[str]:
    tool = find_tool("kubeconform")
    assert tool is not None
    return subprocess.run([tool, "-strict", "-summary", "-output", "json", "-schema-location",
                           f"{SCHEMAS}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json", str(path)],
                          capture_output=True, text=True, timeout=120)


def _valid(path: Path, kinds: int) -> None:
    proc = kubeconform(path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads(proc.stdout)["summary"]
    assert (summary["valid"], summary["invalid"], summary["errors"], summary["skipped"]) == (kinds, 0, 0, 0)


def test_profiles_are_referenced_as_localhost_and_the_restricted_level_holds(
        image: str, profiles_dir: Path, tmp_path: Path, psacheck: Path) -> None:  # noqa: F811
    out = tmp_path / "app.yaml"
    gen = generate_manifests(image, repository=REPO, output=str(out), profiles_dir=str(profiles_dir))
    index = json.loads((profiles_dir / "profiles.json").read_text())
    assert gen.profiles is not None and gen.profiles.seccomp == index["seccompLocalhostProfile"]
    deployment, _policy = yaml.safe_load_all(out.read_text())
    spec = deployment["spec"]["template"]["spec"]
    seccomp = {"type": "Localhost", "localhostProfile": f"sccheck/{index['name']}.json"}
    apparmor = {"type": "Localhost", "localhostProfile": index["name"]}
    for ctx in (spec["securityContext"], spec["containers"][0]["securityContext"]):
        assert ctx["seccompProfile"] == seccomp and ctx["appArmorProfile"] == apparmor
    assert check_manifests(str(out)).passed
    assert _upstream(psacheck, [out]) == {("app.yaml", "Deployment", "hello"): set()}
    _valid(out, 2)


def test_profiles_of_another_image_are_refused(image: str, profiles_dir: Path, tmp_path: Path) -> None:
    spec = clean_image(b"\x7fELF not the same binary")
    other = write_image(tmp_path / "other", spec)
    with pytest.raises(UsageError, match="made for another image"):
        generate_manifests(f"oci:{tmp_path / 'other'}@{other}", repository=REPO,
                           profiles_dir=str(profiles_dir))


def test_network_policy_denies_by_default_and_allows_what_is_named(image: str, tmp_path: Path) -> None:
    out = tmp_path / "net.yaml"
    network = NetworkOptions(egress=(parse_egress("10.20.0.0/16:5432"), parse_egress("[2001:db8::/32]:443")),
                             dns=True)
    generate_manifests(image, repository=REPO, output=str(out), network=network, namespace="shop")
    deployment, policy = yaml.safe_load_all(out.read_text())
    assert policy["metadata"] == {"name": "hello", "namespace": "shop",
                                  "labels": {"app.kubernetes.io/name": "hello"}}
    spec = policy["spec"]
    assert spec["podSelector"] == {"matchLabels": deployment["spec"]["selector"]["matchLabels"]}
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"] == [{"ports": [{"protocol": "TCP", "port": 8080}]}]
    assert spec["egress"] == [
        {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                 "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
         "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
        {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 5432}]},
        {"to": [{"ipBlock": {"cidr": "2001:db8::/32"}}], "ports": [{"protocol": "TCP", "port": 443}]}]
    _valid(out, 2)
    # without --egress nothing leaves the pod: an empty egress list under policyTypes Egress
    bare = tmp_path / "bare.yaml"
    generate_manifests(image, repository=REPO, output=str(bare))
    assert list(yaml.safe_load_all(bare.read_text()))[1]["spec"]["egress"] == []
    _valid(bare, 2)


def test_istio_mesh_strict_mtls_and_only_named_callers(image: str, tmp_path: Path) -> None:
    out = tmp_path / "mesh.yaml"
    proc = run_sccheck("--json", "harden", "k8s", image, "--repository", REPO, "--output", str(out),
                       "--mesh", "istio", "--allow-from", "shop/frontend", "--allow-from", "ops/prober",
                       "--namespace", "shop")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["kinds"] == ["Deployment", "NetworkPolicy", "PeerAuthentication",
                                                "AuthorizationPolicy"]
    _deployment, policy, peer, authz = yaml.safe_load_all(out.read_text())
    labels = {"app.kubernetes.io/name": "hello"}
    assert peer["apiVersion"] == "security.istio.io/v1"
    assert peer["spec"] == {"selector": {"matchLabels": labels}, "mtls": {"mode": "STRICT"}}
    assert authz["spec"] == {"selector": {"matchLabels": labels}, "action": "ALLOW", "rules": [
        {"from": [{"source": {"principals": ["cluster.local/ns/shop/sa/frontend",
                                             "cluster.local/ns/ops/sa/prober"]}}],
         "to": [{"operation": {"ports": ["8080"]}}]}]}
    # the sidecar reaches istiod; nothing else is opened
    assert policy["spec"]["egress"] == [
        {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "istio-system"}},
                 "podSelector": {"matchLabels": {"app": "istiod"}}}],
         "ports": [{"protocol": "TCP", "port": 15012}]}]
    _valid(out, 4)


def test_kubeconform_schemas_are_real_and_strict(image: str, tmp_path: Path) -> None:
    out = tmp_path / "mesh.yaml"
    generate_manifests(image, repository=REPO, output=str(out),
                       network=NetworkOptions(mesh="istio", allow_from=("shop/frontend",)))
    text = out.read_text()
    for broken in (text.replace("mode: STRICT", "mode: STRICTEST"),          # not in Istio's enum
                   text.replace("policyTypes:", "policyKinds:"),             # unknown field (strict)
                   text.replace("containerPort: 8080", "containerPort: eighty")):
        bad = tmp_path / "bad.yaml"
        bad.write_text(broken)
        proc = kubeconform(bad)
        assert proc.returncode == 1 and json.loads(proc.stdout)["summary"]["invalid"] == 1, proc.stdout
    for schema in SCHEMAS.glob("*.json"):
        assert json.loads(schema.read_text())["$comment"].startswith("from "), schema.name


def test_check_reports_a_workload_without_a_network_policy(sccheck, tmp_path: Path) -> None:
    manifest = tmp_path / "lonely.yaml"
    manifest.write_text(yaml.safe_dump_all([
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "lonely"},
         "spec": {"selector": {"matchLabels": {"app": "lonely"}}, "template": {
             "metadata": {"labels": {"app": "lonely"}},
             "spec": {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                      "containers": [{"name": "a", "image": "r.example/a@sha256:" + "1" * 64,
                                      "securityContext": {"allowPrivilegeEscalation": False,
                                                          "capabilities": {"drop": ["ALL"]}}}]}}}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "other"},
         "spec": {"podSelector": {"matchLabels": {"app": "other"}}, "policyTypes": ["Ingress"]}}]))
    result = check_manifests(str(manifest))
    assert result.violations() == [] and not result.passed
    assert [w.name for w in result.unprotected()] == ["lonely"]
    human = sccheck("harden", "k8s", "--check", str(manifest))
    assert human.returncode == 1
    assert "no NetworkPolicy in the file selects this workload's pods" in human.stdout
    assert "1 without a NetworkPolicy" in human.stdout
    doc = json.loads(sccheck("--json", "harden", "k8s", "--check", str(manifest)).stdout)
    assert doc["ok"] is False and doc["withoutNetworkPolicy"] == 1
    assert doc["workloads"][0]["networkPolicy"] is None
    # matchExpressions select too
    deployment, policy = yaml.safe_load_all(manifest.read_text())
    policy["spec"]["podSelector"] = {"matchExpressions": [{"key": "app", "operator": "In",
                                                           "values": ["lonely", "other"]}]}
    manifest.write_text(yaml.safe_dump_all([deployment, policy]))
    assert check_manifests(str(manifest)).passed
    policy["metadata"]["namespace"] = "elsewhere"            # another namespace selects nothing here
    manifest.write_text(yaml.safe_dump_all([deployment, policy]))
    assert not check_manifests(str(manifest)).passed


@pytest.mark.parametrize("args, message", [
    (["--egress", "10.0.0.1/8"], "bad --egress"),
    (["--egress", "10.0.0.0/8:99999"], "bad --egress"),
    (["--mesh", "istio"], "needs at least one --allow-from"),
    (["--allow-from", "shop/frontend"], "needs --mesh istio"),
    (["--mesh", "istio", "--allow-from", "Shop"], "bad --allow-from"),
])
def test_bad_network_flags_are_usage_errors(sccheck, image: str, args: list[str], message: str) -> None:
    proc = sccheck("harden", "k8s", image, "--repository", REPO, *args)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_parsers_directly() -> None:
    assert parse_egress("0.0.0.0/0:443/udp").protocol == "UDP"
    assert parse_egress("2001:db8::/32").port is None
    assert parse_allow_from("a/b") == "a/b"
