#!/usr/bin/env python3
"""Generate the kubeconform schemas the harden tests validate against (standalone, strict).

Sources, fetched through the Go module proxy (`go mod download`), never typed by hand:
  - k8s.io/kubernetes@K8S: api/openapi-spec/v3/*.json, the API server's own OpenAPI v3 spec;
  - istio.io/api@ISTIO: kubernetes/customresourcedefinitions.gen.yaml, Istio's CRDs.
Each schema has its $refs inlined, descriptions dropped, and `additionalProperties: false` on
every object that lists its properties (what kubeconform calls -strict). Files are named for
kubeconform's `-schema-location DIR/{{ .ResourceKind }}{{ .KindSuffix }}.json`.
Usage: tests/harden/schemas/generate.py   (writes next to itself)
"""
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

K8S = "k8s.io/kubernetes@v1.37.2"
ISTIO = "istio.io/api@v1.32.0"
HERE = Path(__file__).resolve().parent
K8S_KINDS = {  # file name -> (spec file, schema name)
    "deployment-apps-v1": ("apis__apps__v1_openapi.json", "io.k8s.api.apps.v1.Deployment"),
    "service-v1": ("api__v1_openapi.json", "io.k8s.api.core.v1.Service"),
    "networkpolicy-networking-v1": ("apis__networking.k8s.io__v1_openapi.json",
                                    "io.k8s.api.networking.v1.NetworkPolicy"),
}
ISTIO_KINDS = {"peerauthentication-security-v1": ("PeerAuthentication", "v1"),
               "authorizationpolicy-security-v1": ("AuthorizationPolicy", "v1")}
DROP = {"description", "x-kubernetes-group-version-kind", "x-kubernetes-list-map-keys",
        "x-kubernetes-list-type", "x-kubernetes-patch-merge-key", "x-kubernetes-patch-strategy",
        "x-kubernetes-map-type", "x-kubernetes-validations", "default"}


def module_dir(spec: str) -> Path:
    out = subprocess.run(["go", "mod", "download", "-json", spec], check=True, capture_output=True,
                         text=True, cwd="/")
    return Path(json.loads(out.stdout)["Dir"])


def strict(node: Any, schemas: dict[str, Any], stack: tuple[str, ...] = ()) -> Any:
    if isinstance(node, list):
        return [strict(n, schemas, stack) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in stack:
            return {}
        return strict(schemas[name], schemas, (*stack, name))
    if node.get("allOf") and len(node["allOf"]) == 1 and set(node) <= {"allOf", "description", "default"}:
        return strict(node["allOf"][0], schemas, stack)
    out = {k: strict(v, schemas, stack) for k, v in node.items() if k not in DROP}
    if out.pop("x-kubernetes-int-or-string", False) or out.get("format") == "int-or-string":
        out.pop("format", None)
        out.pop("type", None)
        out["oneOf"] = [{"type": "string"}, {"type": "integer"}]
        out.pop("anyOf", None)
    preserve = out.pop("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    return out


def main() -> int:
    k8s = module_dir(K8S) / "api" / "openapi-spec" / "v3"
    for name, (spec_file, schema) in K8S_KINDS.items():
        schemas = json.loads((k8s / spec_file).read_text())["components"]["schemas"]
        doc = strict(schemas[schema], schemas, (schema,))
        doc["$comment"] = f"from {K8S} api/openapi-spec/v3/{spec_file} {schema}"
        (HERE / f"{name}.json").write_text(json.dumps(doc, sort_keys=True) + "\n")
    crds = list(yaml.safe_load_all((module_dir(ISTIO) / "kubernetes" / "customresourcedefinitions.gen.yaml")
                                   .read_text()))
    for name, (kind, version) in ISTIO_KINDS.items():
        [crd] = [c for c in crds if c and c["spec"]["names"]["kind"] == kind]
        [ver] = [v for v in crd["spec"]["versions"] if v["name"] == version]
        root = ver["schema"]["openAPIV3Schema"]
        root.setdefault("properties", {}).update({"apiVersion": {"type": "string"},
                                                 "kind": {"type": "string"}, "metadata": {"type": "object"}})
        doc = strict(root, {})
        doc["$comment"] = f"from {ISTIO} kubernetes/customresourcedefinitions.gen.yaml {kind} {version}"
        (HERE / f"{name}.json").write_text(json.dumps(doc, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
