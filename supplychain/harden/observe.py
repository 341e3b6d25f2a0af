"""`harden profile --observe`: run the image's binary under strace on this machine and list the
system calls it used.

The binary runs in a network namespace of its own (`unshare -n`, loopback only), so it binds
its usual port without touching the host's, as the image's numeric user (or nobody, 65534,
when that is root or a name), with no-new-privileges and no supplementary groups (`setpriv`);
while it runs, its port is probed with HTTP GETs from inside that namespace (`nsenter --net`,
curl). After `seconds` the whole run is stopped. Only the host's architecture can be run.
Needs root (for the namespace), strace, unshare, setpriv, nsenter and curl.
"""

from __future__ import annotations

import contextlib
import os
import platform as host
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from supplychain.errors import ToolFailed, UsageError
from supplychain.harden.imagecheck import resolve_user
from supplychain.image.filesystem import PlatformImage
from supplychain.tools import child_env, find_tool

_HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}
_CALL = re.compile(r"^\d+\s+(?:<\.\.\. )?([a-z_][a-z0-9_]*)(?:\(| resumed>)", re.M)
MAX_TRACE = 256 * 1024 * 1024
NOBODY = 65534


def run_as(image: PlatformImage) -> tuple[int, int]:
    """The image's numeric user and group, or nobody's when that is root or a name."""
    uid, gid = resolve_user(str((image.config.get("config") or {}).get("User") or ""), None)
    if not uid or not gid:
        return NOBODY, NOBODY
    return uid, gid


def _tool(name: str) -> str:
    path = find_tool(name)
    assert path is not None
    return path


def observe_run(exe: Path, image: PlatformImage, platform: str, *, port: int | None, seconds: float,
                args: tuple[str, ...], smoke: str | None = None) -> dict[str, Any]:
    arch = platform.split("/")[1] if "/" in platform else ""
    if _HOST_ARCH.get(host.machine()) != arch:
        return {"ran": False, "why": f"this machine runs {host.machine()}, not {arch}", "used": [],
                "probes": 0}
    if os.geteuid() != 0:
        raise UsageError("--observe needs root: the run gets a network namespace of its own",
                         fix="run as root, or leave out --observe")
    strace, unshare, setpriv, nsenter, curl = (_tool(n) for n in ("strace", "unshare", "setpriv", "nsenter",
                                                                  "curl"))
    uid, gid = run_as(image)
    config = image.config.get("config") or {}
    argv = list(args) if args else [str(a) for a in (config.get("Cmd") or [])]
    if config.get("Entrypoint") and not args:
        argv = [str(a) for a in (config.get("Entrypoint") or [])[1:]] + argv
    env = {k: v for k, _, v in (str(e).partition("=") for e in config.get("Env") or [])}
    with tempfile.TemporaryDirectory(prefix="sccheck-observe-") as tmp:
        work = Path(tmp) / "run"          # the run's own directory: its binary, cwd and trace
        work.mkdir()
        binary = work / "binary"
        shutil.copyfile(exe, binary)
        binary.chmod(0o755)
        os.chown(work, uid, gid)
        Path(tmp).chmod(0o755)
        trace = work / "trace"
        script = (f'ip link set lo up && exec "{setpriv}" --reuid={uid} --regid={gid} --clear-groups '
                  f'--no-new-privs -- "{strace}" -f -qq -o "{trace}" -- "$0" "$@"')
        errors = Path(tmp) / "stderr"      # a file, not a pipe: a chatty service never blocks on it
        with errors.open("wb") as err_out:
            proc = subprocess.Popen([unshare, "-n", "sh", "-c", script, str(binary), *argv], cwd=work,
                                    env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **env},
                                    stdout=subprocess.DEVNULL, stderr=err_out, start_new_session=True)
        probes = 0
        smoke_exit: int | None = None
        started = time.monotonic()
        deadline = started + seconds
        netns = f"--net=/proc/{proc.pid}/ns/net"
        try:
            while time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.3)
                if smoke is not None:
                    if smoke_exit is None and time.monotonic() - started >= 1.0:
                        smoke_exit = _smoke(nsenter, netns, smoke, max(1.0, deadline - time.monotonic()))
                elif port is not None:
                    subprocess.run([nsenter, netns, curl, "-s", "-o", "/dev/null",
                                    "-m", "1", f"http://127.0.0.1:{port}/"], capture_output=True, check=False,
                                   env=child_env())
                    probes += 1
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if not trace.is_file() or trace.stat().st_size > MAX_TRACE:
            raise ToolFailed("the observed run left no usable strace output",
                             facts={"stderr": errors.read_bytes()[-2000:].decode(errors="replace")})
        used = sorted(set(_CALL.findall(trace.read_text(errors="replace"))))
    return {"ran": True, "seconds": seconds, "argv": argv, "port": port, "probes": probes,
            "smoke": None if smoke is None else {"command": smoke, "exit": smoke_exit},
            "user": f"{uid}:{gid}", "used": used}


def _smoke(nsenter: str, netns: str, command: str, timeout: float) -> int:
    """Run the user's smoke command once, in the run's network namespace; its exit code."""
    try:
        return subprocess.run([nsenter, netns, "sh", "-c", command], capture_output=True, check=False,
                              timeout=timeout, env=child_env()).returncode
    except subprocess.TimeoutExpired:
        return -1
