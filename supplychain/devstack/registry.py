"""The dev-stack's optional OCI registry: Debian's `docker-registry` (distribution) on 127.0.0.1,
storage and config in the state directory (`sccheck dev-stack up --registry`)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import yaml

from supplychain.devstack import services
from supplychain.devstack.state import StateDir, write_atomic
from supplychain.errors import ToolMissing

NAME = "registry"
PORT_KEY = "registry_port"


def config_path(state: StateDir) -> Path:
    return state.root / "registry.yml"


def registry_spec(state: StateDir, port: int) -> services.ServerSpec:
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    if not Path(binary).exists():
        raise ToolMissing("the dev-stack registry needs Debian's docker-registry",
                          expected="docker-registry on PATH", found="not installed",
                          fix="apt-get install docker-registry (or start without --registry)")
    config = {
        "version": 0.1,
        "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(state.data / "registry")},
                    "delete": {"enabled": True}},
        "http": {"addr": f"{services.HOST}:{port}", "secret": "sccheck-dev-stack"},
    }
    write_atomic(config_path(state), yaml.safe_dump(config))
    return services.ServerSpec(NAME, [binary, "serve", str(config_path(state))],
                               f"http://{services.HOST}:{port}/v2/")


def registry_port(state: StateDir) -> int | None:
    port = state.read_stack().get(PORT_KEY)
    return int(port) if isinstance(port, int) else None


def ensure_registry(state: StateDir, timeout: float = 30.0) -> int:
    """Start the registry unless it already runs; its port is kept in stack.json."""
    port = registry_port(state)
    pid = services.read_pid(state, NAME)
    if port and pid and services.owned_and_alive(state, pid) and services.probe(f"http://{services.HOST}:{port}/v2/"):
        return port
    if not port or not services.port_free(port):
        port = services.pick_free_port()
    spec = registry_spec(state, port)
    (state.data / "registry").mkdir(parents=True, exist_ok=True)
    pid = services.start(state, spec)
    deadline = time.monotonic() + 2
    while not services.owned_and_alive(state, pid) and time.monotonic() < deadline:
        time.sleep(0.02)  # between fork and exec the child still shows our command line
    try:
        services.wait_ready(state, spec, pid, timeout)
    except BaseException:
        services.stop_all(state, keep=tuple(n for n in services.ALL_NAMES if n != NAME))
        raise
    stack = state.read_stack()
    stack[PORT_KEY] = port
    state.write_stack(stack)
    return port
