"""What every benchmark area shares: tools, the sccheck CLI, local registries, the dev-stack.

Everything binds to 127.0.0.1; every service started here is stopped by `Bench.close()`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.harness import ROOT, WORK, sh
from supplychain.tools import find_tool


def tool(name: str) -> str:
    path = find_tool(name) or shutil.which(name)
    if not path:
        raise RuntimeError(f"benchmarks need `{name}`; run benchmarks/run (it installs the peers)")
    return path


@dataclass
class Bench:
    repeat: int
    work: Path = WORK
    _services: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _cache: dict[str, Any] = field(default_factory=dict)
    _n: itertools.count[int] = field(default_factory=itertools.count)

    def unique(self, prefix: str) -> str:
        return f"{prefix}{next(self._n)}"

    def sccheck(self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
                input: str | None = None) -> subprocess.CompletedProcess[str]:
        """The real CLI in a subprocess, like a user runs it (this checkout first on the path)."""
        # sccheck's layer cache lives in this run's work directory, emptied when the run starts:
        # a source that changed never meets an entry left by an earlier run
        return sh([sys.executable, "-m", "supplychain", *args], cwd=cwd, input=input,
                  env={"PYTHONPATH": str(ROOT), "SCCHECK_CACHE_DIR": str(self._layer_cache()),
                       **(env or {})})

    def _layer_cache(self) -> Path:
        def start() -> Path:
            path = self.work / "sccheck-cache"
            shutil.rmtree(path, ignore_errors=True)
            return path
        path: Path = self._once("layer-cache", start)
        return path

    def _once(self, key: str, start: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = start()
        return self._cache[key]

    def registry(self, name: str, kind: str = "distribution") -> Any:
        """A registry on 127.0.0.1 (`distribution` = Debian's 2.8, `referrers` = OCI 1.1 API)."""
        from tests.helpers.registries import start_distribution, start_referrers_registry

        def start() -> Any:
            d = self.work / "services" / f"registry-{name}"
            shutil.rmtree(d, ignore_errors=True)
            reg = start_distribution(d) if kind == "distribution" else start_referrers_registry(d)
            self._services.callback(reg.service.stop)
            return reg
        return self._once(f"registry-{name}", start)

    def dev_stack(self) -> Any:
        from tests.helpers.devstack import start_dev_stack

        def start() -> Any:
            d = self.work / "services" / "devstack"
            shutil.rmtree(d, ignore_errors=True)
            stack = start_dev_stack(d)
            self._services.callback(stack.stop)
            return stack
        return self._once("devstack", start)

    def sigstore_env(self) -> dict[str, str]:
        stack = self.dev_stack()
        return {"SCCHECK_TRUST_CONFIG": str(stack.trust_config), "SCCHECK_DEV_TOKEN_URL": stack.token_url}

    def on_close(self, fn: Callable[[], object]) -> None:
        self._services.callback(fn)

    def close(self) -> None:
        self._services.close()


def quiet_env() -> dict[str, str]:
    """Peer tools: no update checks, no telemetry."""
    return {"SYFT_CHECK_FOR_APP_UPDATE": "false", "COSIGN_EXPERIMENTAL": "1",
            "DOCKER_CLI_HINTS": "false", "HOME": os.environ.get("HOME", "/root")}
