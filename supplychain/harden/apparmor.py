"""AppArmor profiles for one image: read-only root, writes only where the image declares,
the network families the binary uses, no capability beyond what the config needs, and the usual
sensitive paths denied."""

from __future__ import annotations

import re
from dataclasses import dataclass

from supplychain.harden.binscan import BinaryScan

# Marker symbols (see tools/syscall-scan) -> the AppArmor network rules they need.
_FAMILIES = (
    (("net.socket", "net.(*TCPListener).", "net.(*TCPConn)."), ("inet stream", "inet6 stream")),
    (("net.(*UDPConn).",), ("inet dgram", "inet6 dgram")),
    (("net.(*UnixConn).", "net.(*UnixListener)."), ("unix stream", "unix dgram")),
    (("syscall.NetlinkRIB",), ("netlink raw",)),
)

# Denied even though `/** r` would allow reading them; writes are never granted outside the
# writable paths, and the denies also refuse them explicitly.
SENSITIVE = (
    "/proc/kcore", "/proc/kmem", "/proc/mem", "/proc/sysrq-trigger", "/proc/kallsyms",
    "/proc/*/mem", "/proc/*/environ", "/proc/sys/kernel/**", "/proc/sys/vm/**", "/sys/firmware/**",
    "/sys/kernel/security/**", "/sys/kernel/debug/**", "/dev/mem", "/dev/kmem",
    "/dev/port", "/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/root/**",
    "/var/run/secrets/kubernetes.io/**", "/run/secrets/kubernetes.io/**",
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/@+-]*$")


@dataclass(frozen=True)
class AppArmorRules:
    network: tuple[str, ...]
    capabilities: tuple[str, ...]
    writable: tuple[str, ...]


def network_rules(scan: BinaryScan) -> tuple[str, ...]:
    if "socket" not in scan.calls:
        return ()
    rules: list[str] = []
    for markers, needed in _FAMILIES:
        if any(m in scan.symbols for m in markers):
            rules.extend(r for r in needed if r not in rules)
    return tuple(rules)


def rules_for(scan: BinaryScan, *, port: int | None, writable: tuple[str, ...]) -> AppArmorRules:
    caps = ("net_bind_service",) if port is not None and port < 1024 else ()
    return AppArmorRules(network_rules(scan), caps, writable)


def safe_path(path: str) -> bool:
    return bool(_SAFE_PATH.match(path)) and ".." not in path.split("/")


def apparmor_profile(name: str, binary: str, rules: AppArmorRules, *, header: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"bad AppArmor profile name {name!r}")
    for path in (binary, *rules.writable):
        if not safe_path(path):
            raise ValueError(f"path {path!r} cannot be written into an AppArmor rule")
    lines = [f"# {line}" for line in header.splitlines()]
    lines += ["abi <abi/3.0>,", "", "include <tunables/global>", "",
              f"profile {name} flags=(attach_disconnected,mediate_deleted) {{",
              "  # files: the whole root file system is read-only",
              "  / r,", "  /** r,",
              f"  {binary} mrix,"]
    if rules.writable:
        lines.append("  # writable only where the image declares it")
        for path in rules.writable:
            base = path.rstrip("/") or "/"
            lines += [f"  {base}/ rw,", f"  {base}/** rwk,"]
    lines.append("  # network: the families the binary uses")
    lines += [f"  network {rule}," for rule in rules.network] or ["  # (none: the binary opens no socket)"]
    lines.append("  # capabilities: only what the configuration needs")
    lines += [f"  capability {cap}," for cap in rules.capabilities] or ["  # (none)"]
    lines += ["  # signals: from the container runtime, and within the workload",
              "  signal (receive) peer=unconfined,",
              f"  signal (send,receive) peer={name},",
              "  # never: mounts, tracing, the kernel's sensitive files",
              "  deny mount,", "  deny umount,", "  deny pivot_root,", "  deny ptrace,"]
    lines += [f"  deny {path} rwklx," for path in SENSITIVE]
    lines += ["  deny /sys/** w,", "  deny /proc/** w,", "}", ""]
    return "\n".join(lines)
