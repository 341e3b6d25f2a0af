"""Validate an exported object against a CustomResourceDefinition's schema, as the API server
does: types, enums and required fields (jsonschema), and no unknown field anywhere unless the
schema preserves unknown fields. The CRDs come from the engines' own module sources (the Go
module cache; `go mod download` fetches them through the module proxy once)."""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from supplychain._jsonschema import jsonschema


@functools.cache
def module_dir(module: str, version: str) -> Path:
    proc = subprocess.run(["go", "mod", "download", "-json", f"{module}@{version}"], capture_output=True,
                          text=True, timeout=600, check=False)
    info = json.loads(proc.stdout or "{}")
    if proc.returncode != 0 or "Dir" not in info:
        raise AssertionError(f"cannot download {module}@{version}: {proc.stderr or info.get('Error')}")
    return Path(info["Dir"])


def crd_schema(module: str, version: str, path: str, served: str) -> dict[str, Any]:
    doc = yaml.safe_load((module_dir(module, version) / path).read_text())
    for v in doc["spec"]["versions"]:
        if v["name"] == served:
            schema: dict[str, Any] = v["schema"]["openAPIV3Schema"]
            return schema
    raise AssertionError(f"{path} serves no version {served}")


def _unknown_fields(schema: dict[str, Any], value: Any, where: str) -> list[str]:
    out: list[str] = []
    if isinstance(value, dict):
        if schema.get("x-kubernetes-preserve-unknown-fields"):
            return out
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if props is not None and key in props:
                out += _unknown_fields(props[key], item, f"{where}.{key}")
            elif isinstance(extra, dict):
                out += _unknown_fields(extra, item, f"{where}.{key}")
            elif props is not None or extra is False:
                out.append(f"{where}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            out += _unknown_fields(schema["items"], item, f"{where}[{i}]")
    return out


def problems(schema: dict[str, Any], obj: dict[str, Any]) -> list[str]:
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    top = {**schema, "properties": {k: v for k, v in schema.get("properties", {}).items()
                                    if k not in ("apiVersion", "kind", "metadata")}}
    found = [f"unknown field {f}" for f in _unknown_fields(top, body, "$")]
    validator = jsonschema.Draft7Validator(top)
    for err in validator.iter_errors(body):
        found.append(".".join(str(p) for p in err.absolute_path) + f": {err.message}")
    return found
