"""The judges of the parity matrix: the real engines at their pinned versions, run offline.

Each runner returns a `Verdict`: "admit", "deny", or an engine failure that fails the test (an
engine that cannot judge is never counted as agreeing). Every engine runs with a private HOME
(TUF caches, docker config), without proxies, and talks only to 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
TOOLS = ROOT / ".tools" / "bin"
ADMIT, DENY = "admit", "deny"


class EngineFailed(AssertionError):
    """The engine could not judge (crash, bad policy, unreachable registry): never a verdict."""


@dataclass(frozen=True)
class Verdict:
    verdict: str                 # admit | deny
    detail: str = ""


def tool(name: str) -> str:
    path = TOOLS / name
    if not path.exists():
        raise EngineFailed(f"{name} is not built: run scripts/interop (it builds the admission engines "
                           f"of scripts/engines.txt into .tools/bin)")
    return str(path)


def engine_version(name: str) -> str:
    stamp = TOOLS / f"{name}.version"
    return stamp.read_text().split()[0] if stamp.exists() else "?"


def _env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TMPDIR")}
    return {**keep, "HOME": str(home), "TUF_ROOT": str(home / "tuf"), "NO_PROXY": "*",
            "DOCKER_CONFIG": str(home / "docker"), "KUBECONFIG": str(home / "no-kubeconfig")}


def _run(argv: list[str], home: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, env=_env(home), timeout=timeout, cwd=home)


def pod(image: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "parity", "namespace": "default"},
            "spec": {"containers": [{"name": "app", "image": image}]}}


def kyverno_apply(policy_yaml: str, image: str, work: Path, metadata: dict[str, Any]) -> Verdict:
    """`kyverno apply POLICY --resource POD --registry --context-file CTX`: the admission path of
    the CLI. Signatures and attestations are fetched and verified from the registry; only what
    `image.GetMetadata()` returns comes from the context file (the CLI reads it there, a cluster
    from the registry): `metadata` is what the registry serves for the image (its index)."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "policy.yaml").write_text(policy_yaml)
    (work / "pod.yaml").write_text(yaml.safe_dump(pod(image)))
    context = {"apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Context", "metadata": {"name": "parity"},
               "spec": {"images": [metadata]}}
    (work / "context.yaml").write_text(yaml.safe_dump(context))
    proc = _run([tool("kyverno"), "apply", "policy.yaml", "--resource", "pod.yaml", "--registry",
                 "--context-file", "context.yaml", "--policy-report", "--output-format", "json",
                 "--remove-color"], work)
    start = proc.stdout.find("{")
    try:
        report = json.loads(proc.stdout[start:]) if start >= 0 else None
    except ValueError:
        report = None
    if not isinstance(report, dict) or "summary" not in report:
        raise EngineFailed(f"kyverno apply gave no report (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n"
                           f"{proc.stderr[-3000:]}")
    summary = report["summary"]
    results = report.get("results") or []
    detail = "; ".join(f"{r.get('result')}: {r.get('message', '')}"[:400] for r in results)
    if summary.get("error"):
        raise EngineFailed(f"kyverno could not evaluate the policy: {detail}\n{proc.stderr[-2000:]}")
    if summary.get("fail"):
        return Verdict(DENY, detail)
    if summary.get("pass"):
        return Verdict(ADMIT, detail)
    raise EngineFailed(f"kyverno neither passed nor failed the Pod: {summary}; {detail}")


def policy_tester(documents: list[dict[str, Any]], image: str, work: Path) -> Verdict:
    """policy-controller's `tester --policy CIP --trustroot TR --image REF`."""
    work.mkdir(parents=True, exist_ok=True)
    argv = [tool("policy-tester")]
    for doc in documents:
        name = "trustroot.yaml" if doc["kind"] == "TrustRoot" else "policy.yaml"
        (work / name).write_text(yaml.safe_dump(doc, sort_keys=False))
        argv += ["--trustroot" if doc["kind"] == "TrustRoot" else "--policy", name]
    proc = _run([*argv, "--image", image, "--log-level", "warn"], work)
    if proc.returncode == 0:
        return Verdict(ADMIT, "")
    out = proc.stdout.strip().splitlines()
    try:
        errors = json.loads(out[-1]).get("errors", []) if out else None
    except ValueError:
        errors = None
    if proc.returncode == 1 and errors:
        return Verdict(DENY, "; ".join(errors)[:800])
    raise EngineFailed(f"policy-controller tester failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n"
                       f"{proc.stderr[-2000:]}")


def opa_eval(rego: str, statement: dict[str, Any], work: Path, query: str) -> bool:
    """OPA evaluates the exported Rego on one statement: True only for a defined `true`."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "policy.rego").write_text(rego)
    (work / "input.json").write_text(json.dumps(statement))
    # --v0-compatible: policy-controller (through cosign) parses policies as Rego v0 + `import rego.v1`
    proc = _run([tool("opa"), "eval", "--v0-compatible", "--format", "json", "--data", "policy.rego",
                 "--input", "input.json", query], work, timeout=60)
    if proc.returncode != 0:
        raise EngineFailed(f"opa eval failed (exit {proc.returncode}): "
                           f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout).get("result") or []
    values = [e.get("value") for r in result for e in r.get("expressions", [])]
    return values == [True]


def clean(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
