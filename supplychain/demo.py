"""The README's demo: the main job on embedded defaults, on examples/hello.

It grows as features land; each stage it cannot run yet is named, not faked.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from supplychain.tools import PROJECT_ROOT, find_tool


def main() -> int:
    hello = PROJECT_ROOT / "examples" / "hello"
    go = find_tool("go")
    assert go
    with tempfile.TemporaryDirectory(prefix="sccheck-demo-") as tmp:
        binary = Path(tmp) / "hello"
        env = {**os.environ, "CGO_ENABLED": "0"}
        print("demo: go build (static, -trimpath) of examples/hello", file=sys.stderr)
        subprocess.run([go, "build", "-trimpath", "-ldflags", "-s -w -X main.version=demo",
                        "-o", str(binary), "."], cwd=hello, env=env, check=True)
        out = subprocess.run([str(binary), "version"], capture_output=True, text=True, check=True)
        print(f"demo: built examples/hello, version {out.stdout.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
