"""OpenVEX v0.2.0 (OPENVEX) from a vulnerability scan: reachable vulnerabilities are
`affected`, the others `not_affected` because the vulnerable code is not in the execute path
(source mode) or not present in the binary (binary mode)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from supplychain import __version__
from supplychain.analyzers.model import CheckResult, ToolRun
from supplychain.attest.vocabulary import OPENVEX


def _product(result: CheckResult, run: ToolRun) -> str:
    module = result.module
    if not module and run.output:
        mods = run.output.facts.get("modules") or []
        module = next((m["path"] for m in mods if m.get("path") and m["path"] != "stdlib"), "")
    return f"pkg:golang/{module}" if module else Path(result.path).name


def openvex_predicate(result: CheckResult, product: str | None = None) -> dict[str, Any] | None:
    """An OpenVEX v0.2.0 document, or None when the vulnerability scan did not run.

    `product` names what the statements are about (default: the main module's purl; the
    signing layer may pass the image reference instead).
    """
    run = result.run("vuln")
    if run is None or run.status != "ok" or run.output is None:
        return None
    product_id = product or _product(result, run)
    statements = []
    for f in run.findings:
        v = f.vulnerability
        if v is None:
            continue
        component = f"pkg:golang/{v.module}@{v.version}" if v.module != "stdlib" else \
            f"pkg:golang/stdlib@{v.version}"
        statement: dict[str, Any] = {
            "vulnerability": {"@id": v.url or f"https://pkg.go.dev/vuln/{v.id}", "name": v.id,
                              "aliases": list(v.aliases)},
            "products": [{"@id": product_id, "subcomponents": [{"@id": component}]}],
        }
        if v.reachable:
            statement["status"] = "affected"
            statement["action_statement"] = (
                f"upgrade {v.module} to {v.fixed_version} or later" if v.fixed_version
                else f"no fixed version of {v.module} yet: stop calling {', '.join(v.symbols)}")
        elif result.mode == "binary":
            statement["status"] = "not_affected"
            statement["justification"] = "vulnerable_code_not_present"
            statement["impact_statement"] = "govulncheck found none of the vulnerable symbols " \
                "in the binary"
        else:
            statement["status"] = "not_affected"
            statement["justification"] = "vulnerable_code_not_in_execute_path"
            statement["impact_statement"] = (
                "govulncheck call-graph analysis: the vulnerable package is imported but no "
                "vulnerable symbol is reachable" if v.scan_level == "package" else
                "govulncheck: the module is required but no vulnerable package is imported")
        statements.append(statement)
    body = {"@context": OPENVEX, "author": "sccheck", "role": "automated analysis",
            "timestamp": result.finished, "version": 1,
            "tooling": f"sccheck {__version__} (govulncheck {run.output.version})",
            "statements": statements}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return {"@id": f"https://sccheck.dev/vex/{digest}", **body}
