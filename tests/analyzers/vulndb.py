"""Build a Go vulnerability database directory (govulncheck's `-db file://` layout) from OSV files.

The layout govulncheck v1.9.0 reads (golang.org/x/vuln internal/client): `index/db.json`
({"modified"}), `index/modules.json` ([{"path", "vulns": [{"id", "modified", "fixed"}]}]),
`index/vulns.json` ([{"id", "modified", "aliases"}]) and `ID/<GO-ID>.json` (the OSV entry).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

SOURCE = Path(__file__).resolve().parent / "vulndb-src"


def _fixed(affected: dict) -> str | None:
    fixed = [e["fixed"] for r in affected.get("ranges", []) for e in r.get("events", []) if "fixed" in e]
    return fixed[-1] if fixed else None


def build_vulndb(dest: Path, source: Path = SOURCE) -> Path:
    (dest / "ID").mkdir(parents=True)
    (dest / "index").mkdir()
    modules: dict[str, dict] = {}
    vulns = []
    newest = ""
    for osv_file in sorted(source.glob("GO-*.json")):
        entry = json.loads(osv_file.read_text())
        shutil.copyfile(osv_file, dest / "ID" / f"{entry['id']}.json")
        modified = entry["modified"]
        newest = max(newest, modified, entry.get("published", ""))
        vulns.append({"id": entry["id"], "modified": modified, "aliases": entry.get("aliases", [])})
        for affected in entry["affected"]:
            path = affected["package"]["name"]
            item = {"id": entry["id"], "modified": modified}
            if _fixed(affected):
                item["fixed"] = _fixed(affected)
            modules.setdefault(path, {"path": path, "vulns": []})["vulns"].append(item)
    (dest / "index" / "db.json").write_text(json.dumps({"modified": newest}))
    index = sorted(modules.values(), key=lambda m: m["path"])
    (dest / "index" / "modules.json").write_text(json.dumps(index))
    (dest / "index" / "vulns.json").write_text(json.dumps(vulns))
    return dest
