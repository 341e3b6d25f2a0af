"""A real multi-module open-source service, fetched through the Go module proxy at a pinned
version (tests/helpers/goservice.py), built with `sccheck build --main`, loaded into the Docker
engine and run: it must answer the registry API."""

from __future__ import annotations

import json
import socket
import subprocess
import time

import pytest
import requests

from tests.helpers import goservice

pytestmark = pytest.mark.docker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_real_service_builds_and_runs(sccheck, docker_client,
                                        tmp_path_factory: pytest.TempPathFactory) -> None:
    src = goservice.fetch(tmp_path_factory.mktemp("service") / "go-containerregistry")
    tag = "sccheck-test/registry:" + goservice.VERSION
    out = tmp_path_factory.mktemp("service-out")
    proc = sccheck("--json", "build", str(src), "--main", goservice.MAIN, "--version", goservice.VERSION,
                   "--expose", "1338", "--output", f"oci:{out / 'oci'}", "--load", "--tag", tag)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["entrypoint"] == "registry" and doc["binaries"] == ["/usr/local/bin/registry"]
    # no git in a module from the proxy: said, and no made-up revision
    assert doc["revision"] is None and any("not in a git work tree" in n for n in doc["notes"])
    port = _free_port()
    # the service listens on localhost only: share the host's loopback
    run = subprocess.run(["docker", "run", "-d", "--rm", "--network", "host", tag, goservice.PORT_FLAG,
                          str(port)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    container = run.stdout.strip()
    try:
        deadline, status = time.monotonic() + 30, None
        while time.monotonic() < deadline:
            try:
                status = requests.get(f"http://127.0.0.1:{port}/v2/", timeout=2).status_code
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert status == 200
        inspect = json.loads(subprocess.run(["docker", "inspect", tag], capture_output=True, text=True,
                                            check=True).stdout)[0]["Config"]
        assert inspect["User"] == "65532:65532" and inspect["ExposedPorts"] == {"1338/tcp": {}}
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)
