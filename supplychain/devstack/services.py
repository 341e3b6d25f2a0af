"""Start, watch and stop the dev-stack's servers as background processes on 127.0.0.1.

Each server gets a log in `logs/`, a pid file in `run/` and a readiness probe. They are
started detached (their own session), so they outlive `sccheck dev-stack up`; `down` stops
exactly the processes whose pid files it finds, after checking that each still runs one of
our commands for this state directory.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

from supplychain.devstack.keys import KeyPaths
from supplychain.devstack.state import StateDir
from supplychain.errors import DevStackError
from supplychain.httpclient import new_session
from supplychain.tools import child_env, find_tool

HOST = "127.0.0.1"
TSA_METRICS_PORT = 2112  # fixed inside timestamp-server v2.1.3 (pkg/server/prometheus.go)
PORT_NAMES = ("oidc", "ct", "rekor", "rekor_grpc", "rekor_metrics", "tsa", "fulcio", "fulcio_grpc",
              "fulcio_metrics")
START_ORDER = ("oidc", "ct", "rekor", "tsa", "fulcio")
ALL_NAMES = (*START_ORDER, "tsa_proxy", "registry")  # registry: optional (up --registry)
NETNS_ENV = "SCCHECK_DEV_STACK_TSA_NETNS"


def tsa_socket(state: StateDir) -> Path:
    return state.run / "tsa.sock"


def tsa_isolation_available(state: StateDir) -> bool:
    """Can the TSA run in its own network namespace (`unshare --net`, root or user namespaces)?"""
    if os.environ.get(NETNS_ENV, "1") == "0" or len(str(tsa_socket(state))) > 100:
        return False
    unshare = shutil.which("unshare")
    if not unshare:
        return False
    try:
        return subprocess.run([unshare, "--net", "true"], capture_output=True, timeout=5,
                              env=child_env()).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@dataclass(frozen=True)
class Ports:
    values: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, name: str) -> int:
        return self.values[name]

    def url(self, name: str) -> str:
        return f"http://{HOST}:{self.values[name]}"


@dataclass(frozen=True)
class ServerSpec:
    name: str
    argv: list[str]
    ready_url: str
    env: dict[str, str] = field(default_factory=dict)


def port_free(port: int, host: str = HOST) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        # like the servers themselves: a port left in TIME_WAIT by our last run is free
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def pick_free_port() -> int:
    """A free port below the ephemeral range, so that after `down` no client connection of
    this machine takes it by chance and the next `up` gets the same URLs back."""
    high = _ephemeral_low()
    low = max(1024, min(20000, high - 4000))
    for _ in range(200):
        port = random.randrange(low, high)  # noqa: S311 - not a secret
        if port != TSA_METRICS_PORT and port_free(port):
            return port
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _free_soon(port: int, wait: float) -> bool:
    """A saved port may still be held for a moment by the server that just stopped."""
    deadline = time.monotonic() + wait
    while not port_free(port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def allocate_ports(saved: dict[str, int], wait: float = 3.0) -> Ports:
    """Reuse the saved ports (URLs in the trust config stay the same across restarts), waiting
    briefly for one that is still being released; pick new free ones for the rest."""
    chosen: dict[str, int] = {}
    for name in PORT_NAMES:
        port = saved.get(name)
        if port and port not in chosen.values() and _free_soon(port, wait):
            chosen[name] = port
        else:
            new = pick_free_port()
            while new in chosen.values():
                new = pick_free_port()
            chosen[name] = new
    return Ports(chosen)


def check_tsa_metrics_port() -> None:
    """The timestamp-server binds :2112 on every interface and exits when it is taken."""
    if port_free(TSA_METRICS_PORT, "0.0.0.0") and port_free(TSA_METRICS_PORT, HOST):  # noqa: S104
        return
    raise DevStackError(
        f"port {TSA_METRICS_PORT} is busy, and the timestamp authority cannot run without it",
        expected=f"a free port {TSA_METRICS_PORT} (timestamp-server v2.1.3 serves its metrics there; "
                 "it cannot be moved)",
        found=f"something already listens on :{TSA_METRICS_PORT} (often another dev-stack's "
              "timestamp-server, or a Prometheus exporter)",
        fix=f"stop the other stack ('sccheck dev-stack down --dir OTHER'), or find the owner with "
            f"\"ss -ltnp 'sport = :{TSA_METRICS_PORT}'\"; only one dev-stack can run per machine",
    )


def server_specs(state: StateDir, keys: KeyPaths, ports: Ports, ct_origin: str, *,
                 isolate_tsa: bool = False) -> list[ServerSpec]:
    """What to run. With `isolate_tsa` the timestamp-server runs in a network namespace of its
    own (so its fixed :2112 cannot collide) on a unix socket, and a forwarder serves its URL."""
    tag = hashlib.sha256(str(state.root).encode()).hexdigest()[:12]
    fulcio = ServerSpec("fulcio", [
        find_tool("fulcio") or "fulcio", "serve", "--host", HOST, "--port", str(ports["fulcio"]),
        "--grpc-host", HOST, "--grpc-port", str(ports["fulcio_grpc"]),
        "--metrics-port", str(ports["fulcio_metrics"]),
        "--legacy-unix-domain-socket", f"@sccheck-fulcio-{tag}",
        "--ca", "fileca", "--fileca-cert", str(keys.fulcio_cert), "--fileca-key", str(keys.fulcio_key),
        "--fileca-watch=false", "--config-path", str(state.fulcio_config),
        "--ct-log-url", ports.url("ct"), "--log_type", "prod",
    ], f"{ports.url('fulcio')}/api/v2/configuration",
        # the CA key's password goes through viper's environment binding, not the command line
        env={"FULCIO_SERVE_FILECA-KEY-PASSWD": keys.fulcio_pass.read_text().strip()})
    ct = ServerSpec("ct", [
        find_tool("tesseract-posix") or "tesseract-posix",
        f"--http_endpoint={HOST}:{ports['ct']}", f"--origin={ct_origin}",
        f"--storage_dir={state.data / 'ct'}", f"--private_key={keys.ct_key}",
        f"--roots_pem_file={keys.fulcio_cert}", "--ext_key_usages=CodeSigning",
        "--checkpoint_interval=500ms", "--batch_max_age=50ms",
    ], f"{ports.url('ct')}/ct/v1/get-roots")
    rekor = ServerSpec("rekor", [
        find_tool("rekor-posix") or "rekor-posix", "serve",
        "--http-address", HOST, "--http-port", str(ports["rekor"]),
        "--grpc-address", HOST, "--grpc-port", str(ports["rekor_grpc"]),
        "--http-metrics-port", str(ports["rekor_metrics"]), "--hostname", HOST,
        "--storage-dir", str(state.data / "rekor"), "--signer-filepath", str(keys.rekor_key),
        # rekor-tiles polls for the published checkpoint every second (fixed in v2.3.0): a short
        # interval keeps each entry close to one poll instead of two
        "--checkpoint-interval", "250ms", "--batch-max-age", "20ms",
    ], f"{ports.url('rekor')}/healthz")
    tsa = ServerSpec("tsa", [
        find_tool("timestamp-server") or "timestamp-server", "serve",
        "--host", HOST, "--port", str(ports["tsa"]), "--disable-ntp-monitoring",
        "--timestamp-signer", "file", "--file-signer-key-path", str(keys.tsa_key),
        "--certificate-chain-path", str(keys.tsa_chain), "--log-type", "prod",
    ], f"{ports.url('tsa')}/ping")
    oidc = ServerSpec("oidc", [
        sys.executable, "-m", "supplychain.devstack.oidc", "--key", str(keys.oidc_key),
        "--request-token-file", str(keys.actions_token), "--host", HOST, "--port", str(ports["oidc"]),
    ], f"{ports.url('oidc')}/.well-known/openid-configuration",
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    specs = [oidc, ct, rekor, tsa, fulcio]
    if isolate_tsa:
        sock = str(tsa_socket(state))
        isolated = [shutil.which("unshare") or "unshare", "--net", "--", *tsa.argv[:2],
                    "--scheme", "unix", "--socket-path", sock, *tsa.argv[6:]]
        specs[3] = ServerSpec("tsa", isolated, tsa.ready_url)
        specs.append(ServerSpec("tsa_proxy", [
            sys.executable, "-m", "supplychain.devstack.proxy", "--host", HOST,
            "--listen", str(ports["tsa"]), "--unix", sock], tsa.ready_url, env=oidc.env))
    return specs


def read_pid(state: StateDir, name: str) -> int | None:
    try:
        return int(state.pid_file(name).read_text().strip())
    except (OSError, ValueError):
        return None


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def owned_and_alive(state: StateDir, pid: int) -> bool:
    """True when `pid` runs and its command line mentions this state directory (ours)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return alive(pid) and str(state.root).encode() in cmdline


def running(state: StateDir) -> dict[str, int]:
    found = {}
    for name in ALL_NAMES:
        pid = read_pid(state, name)
        if pid is not None and owned_and_alive(state, pid):
            found[name] = pid
    return found


def probe(url: str) -> bool:
    try:
        return new_session().get(url, timeout=1).status_code < 500
    except requests.RequestException:
        return False


def log_tail(path: Path, lines: int = 25) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def start(state: StateDir, spec: ServerSpec) -> int:
    log = state.log_file(spec.name).open("ab")
    try:
        proc = subprocess.Popen(spec.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=state.root, env=child_env(extra=spec.env), start_new_session=True)
    finally:
        log.close()
    state.pid_file(spec.name).write_text(f"{proc.pid}\n")
    return proc.pid


def wait_ready(state: StateDir, spec: ServerSpec, pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.02
    while time.monotonic() < deadline:
        # Only liveness here: we started `pid` ourselves, and while `unshare` execs the TSA its
        # command line is briefly not yet the server's, which an ownership check would misread.
        if not alive(pid):
            raise DevStackError(
                f"{spec.name} exited while starting",
                expected=f"{spec.name} answering on {spec.ready_url}",
                found="the process is gone", fix=f"read {state.log_file(spec.name)}",
                facts={"log": log_tail(state.log_file(spec.name))})
        if probe(spec.ready_url):
            return
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)
    raise DevStackError(
        f"{spec.name} did not become ready in {timeout:.0f}s",
        expected=f"an answer from {spec.ready_url}", found="no answer",
        fix=f"read {state.log_file(spec.name)}", facts={"log": log_tail(state.log_file(spec.name))})


def start_all(state: StateDir, specs: Sequence[ServerSpec], timeout: float = 30.0,
              on_ready: Callable[[str], None] | None = None) -> dict[str, int]:
    """Launch every server at once, then wait for all; on any failure stop them all."""
    pids: dict[str, int] = {}
    try:
        for spec in specs:
            pids[spec.name] = start(state, spec)

        def wait(spec: ServerSpec) -> None:
            wait_ready(state, spec, pids[spec.name], timeout)
            if on_ready:
                on_ready(spec.name)

        with ThreadPoolExecutor(len(specs)) as pool:
            for future in [pool.submit(wait, s) for s in specs]:
                future.result()
    except BaseException:
        stop_all(state)
        raise
    return pids


def stop_all(state: StateDir, timeout: float = 10.0, keep: Sequence[str] = ()) -> list[str]:
    """Stop our servers (SIGTERM, then SIGKILL after `timeout`); return the names stopped."""
    stopped = []
    targets = {k: v for k, v in running(state).items() if k not in keep}
    for pid in targets.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for name, pid in targets.items():
        while owned_and_alive(state, pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.05)
        if owned_and_alive(state, pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _reap(pid)
        stopped.append(name)
    for name in ALL_NAMES:
        if name in keep:
            continue
        with contextlib.suppress(FileNotFoundError):
            state.pid_file(name).unlink()
    return stopped


def _reap(pid: int) -> None:
    """Collect the exit status when the server is our own child (up and down in one process)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    except OSError as exc:
        if exc.errno != errno.ECHILD:
            raise
