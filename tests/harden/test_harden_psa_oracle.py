"""Cross-check `harden k8s --check` with the upstream Pod Security Admission library.

tests/harden/psacheck is a small Go program over k8s.io/pod-security-admission (the code the
API server runs), built with the real Go toolchain. For every workload of every manifest, and
for generated manifests, upstream and sccheck must agree on the verdict and on which controls fail.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from supplychain.harden.k8s import check_manifests, render_manifests

HERE = Path(__file__).parent
UPSTREAM_CONTROL = {
    "privileged": "privileged", "host namespaces": "hostNamespaces", "hostPort": "hostPorts",
    "allowPrivilegeEscalation != false": "allowPrivilegeEscalation",
    "unrestricted capabilities": "capabilities", "runAsNonRoot != true": "runAsNonRoot",
    "runAsUser=0": "runAsUser", "seccompProfile": "seccompProfile",
    "forbidden AppArmor profile": "appArmorProfile", "forbidden AppArmor profiles": "appArmorProfile",
    "seLinuxOptions": "seLinuxOptions", "forbidden sysctls": "sysctls", "procMount": "procMount",
    "probe or lifecycle host": "hostProbesAndHostLifecycle",
    "restricted volume types": "restrictedVolumes", "hostProcess": "hostProcess",
}


@pytest.fixture(scope="session")
def psacheck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    binary = tmp_path_factory.mktemp("psacheck") / "psacheck"
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false -mod=readonly"}
    proc = subprocess.run(["go", "build", "-o", str(binary), "."], cwd=HERE / "psacheck", env=env,
                          capture_output=True, text=True, timeout=850)
    assert proc.returncode == 0, proc.stderr
    return binary


def _upstream(psacheck: Path, files: list[Path]) -> dict[tuple[str, str, str], set[str]]:
    proc = subprocess.run([str(psacheck), *map(str, files)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out: dict[tuple[str, str, str], set[str]] = {}
    for line in proc.stdout.splitlines():
        row = json.loads(line)
        controls = {UPSTREAM_CONTROL[reason.split(":", 1)[0]] for reason in row["reasons"]}
        out[(Path(row["file"]).name, row["kind"], row["name"])] = controls
    return out


def test_sccheck_agrees_with_pod_security_admission(psacheck: Path, tmp_path: Path) -> None:
    generated = tmp_path / "generated.yaml"
    generated.write_text(render_manifests("registry.example/app@sha256:" + "1" * 64, "app", 65532, 65532, 80))
    files = [*sorted((HERE / "manifests").glob("*.yaml")), generated]
    upstream = _upstream(psacheck, files)
    ours: dict[tuple[str, str, str], set[str]] = {}
    for path in files:
        for w in check_manifests(str(path)).workloads:
            ours[(path.name, w.kind, w.name)] = {v.control for v in w.violations}
    assert ours == upstream
    assert upstream[("generated.yaml", "Deployment", "app")] == set()
    assert sum(1 for controls in upstream.values() if controls) == 15
