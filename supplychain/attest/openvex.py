"""OpenVEX v0.2.0 (OPENVEX) from a vulnerability scan, as scanners (grype, trivy, Docker Scout)
can apply it to the image they scan.

Per vulnerability govulncheck found, by how far the code reaches it:
- a vulnerable function is called (source) or linked in (binary): `affected`, with what to do;
- the vulnerable package is imported but no vulnerable function is reachable (source):
  `not_affected`, `vulnerable_code_not_in_execute_path`;
- the module is required but the vulnerable package is not imported (source), or the vulnerable
  code is not in the binary (binary): `not_affected`, `vulnerable_code_not_present`.

The product is what the document is about: in build-and-sign, each platform image by its purl
with digest (`pkg:oci/hello@sha256%3A...?repository_url=registry/team/hello`), with the Go
module as subcomponent (`pkg:golang/golang.org/x/text@v0.3.6`, as the SBOM names it). A scan
that found nothing gives no document: OpenVEX requires at least one statement.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from packageurl import PackageURL

from supplychain import __version__
from supplychain.analyzers.model import CheckResult, ToolRun
from supplychain.attest.vocabulary import OPENVEX


def image_purl(repository: str, digest: str) -> str:
    """The image's purl as scanners match it: `pkg:oci/NAME@DIGEST?repository_url=REPO`."""
    repo = repository.split("@", 1)[0]
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:                                # drop a tag, keep a registry port
        repo = repo[: len(repo) - len(last)] + last.split(":", 1)[0]
    name = repo.rsplit("/", 1)[-1].lower()
    return PackageURL(type="oci", name=name, version=digest,
                      qualifiers={"repository_url": repo}).to_string()


def module_purl(module: str, version: str) -> str:
    """The Go module as the SBOM names it (`pkg:golang/stdlib@1.26.8` for the standard library)."""
    if module == "stdlib":
        bare = version.removeprefix("v").removeprefix("go")
        return PackageURL(type="golang", name="stdlib", version=bare).to_string()
    namespace, _, name = module.rpartition("/")
    purl = PackageURL(type="golang", namespace=namespace or None, name=name, version=version or None)
    return purl.to_string()


def _status(scan_level: str, binary: bool, fixed: str | None, module: str,
            symbols: tuple[str, ...]) -> dict[str, str]:
    if scan_level == "symbol":
        return {"status": "affected", "action_statement": (
            f"upgrade {module} to {fixed} or later" if fixed
            else f"no fixed version of {module} yet: stop calling {', '.join(symbols) or 'it'}")}
    if scan_level == "package" and not binary:
        return {"status": "not_affected", "justification": "vulnerable_code_not_in_execute_path",
                "impact_statement": "govulncheck's call graph: the vulnerable package is imported, but no "
                                    "vulnerable function is reachable"}
    return {"status": "not_affected", "justification": "vulnerable_code_not_present",
            "impact_statement": "govulncheck: the vulnerable code is not in the binary" if binary else
            "govulncheck: the module is required, but the vulnerable package is not imported"}


def _product(result: CheckResult, run: ToolRun) -> str:
    module = result.module
    if not module and run.output:
        mods = run.output.facts.get("modules") or []
        module = next((m["path"] for m in mods if m.get("path") and m["path"] != "stdlib"), "")
    return f"pkg:golang/{module}" if module else Path(result.path).name


def openvex_predicate(result: CheckResult, product: str | None = None) -> dict[str, Any] | None:
    """An OpenVEX v0.2.0 document, or None when the vulnerability scan did not run or found
    nothing to state (a document without statements is not valid OpenVEX).

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
        statement: dict[str, Any] = {
            "vulnerability": {"@id": v.url or f"https://pkg.go.dev/vuln/{v.id}", "name": v.id,
                              "aliases": list(v.aliases)},
            "products": [{"@id": product_id, "subcomponents": [{"@id": module_purl(v.module, v.version)}]}],
            **_status(v.scan_level, result.mode == "binary", v.fixed_version, v.module, v.symbols),
        }
        statements.append(statement)
    if not statements:
        return None
    body = {"@context": OPENVEX, "author": "sccheck", "role": "automated analysis",
            "timestamp": result.finished, "version": 1,
            "tooling": f"sccheck {__version__} (govulncheck {run.output.version})",
            "statements": statements}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return {"@id": f"https://sccheck.dev/vex/{digest}", **body}
