"""Seccomp profiles (the OCI / Docker JSON format) from what reading a binary found.

The profile denies by default (`SCMP_ACT_ERRNO`, errno EPERM) and allows named groups, each an
entry with a `comment` saying where its names came from:

- `static`: the Go runtime's own sites and the program's syscall / x/sys/unix call sites;
- `margin`: what static reading cannot see, always added (see MARGIN);
- `handoff`: what the container runtime (runc) calls after loading the filter and before it
  starts the binary, with no-new-privileges set (Kubernetes sets it for
  `allowPrivilegeEscalation: false`; `docker run --security-opt no-new-privileges`);
- `observed`: names a traced run used (`--observe`) that the other groups lack;
- `extra`: names the user added (`--allow-syscall`).

A conservative profile (a binary whose system calls cannot all be read: cgo or dynamically
linked) allows every call of the architecture except CONSERVATIVE_DENY, and says so.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from supplychain.harden.sysnum import NAMES

SECCOMP_ARCH = {"amd64": "SCMP_ARCH_X86_64", "arm64": "SCMP_ARCH_AARCH64"}
EPERM = 1

# Not visible in the binary, yet made on its behalf: the kernel restarts an interrupted call
# (nanosleep, futex waits) with restart_syscall after a signal handler returns, and a handler
# may return through the kernel's own trampoline in the vDSO (rt_sigreturn; arm64 does).
MARGIN = ("restart_syscall", "rt_sigreturn")

# runc 1.1 with no-new-privileges: it checks /proc/self/fd is procfs (fstatfs), then execs.
HANDOFF = ("execve", "fstatfs")

# Never allowed, not even by a conservative profile: the kernel's administration interfaces.
CONSERVATIVE_DENY = frozenset({
    "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module",
    "finit_module", "fsconfig", "fsmount", "fsopen", "fspick", "get_kernel_syms", "init_module",
    "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mount",
    "mount_setattr", "move_mount", "nfsservctl", "open_by_handle_at", "open_tree", "perf_event_open",
    "personality", "pivot_root", "process_vm_readv", "process_vm_writev", "ptrace", "query_module",
    "quotactl", "quotactl_fd", "reboot", "request_key", "setdomainname", "sethostname", "settimeofday",
    "setns", "swapoff", "swapon", "sysfs", "_sysctl", "umount", "umount2", "unshare", "uselib",
    "userfaultfd", "ustat", "vhangup", "vm86", "vm86old",
})

GROUP_COMMENTS = {
    "static": "read from the binary: the Go runtime's own calls and the syscall / x/sys/unix call sites",
    "margin": "margin for what static reading cannot see (restarted calls, signal return via the vDSO)",
    "handoff": "the container runtime between loading this filter and starting the binary (no-new-privs)",
    "observed": "used by a traced run of the image and not found by reading the binary",
    "extra": "added by the user (--allow-syscall)",
    "conservative": "CONSERVATIVE: every system call of the architecture except kernel administration",
}


def conservative_names(arch: str) -> tuple[str, ...]:
    return tuple(sorted(set(NAMES[arch].values()) - CONSERVATIVE_DENY))


def seccomp_profile(arch: str, groups: Mapping[str, Collection[str]]) -> dict[str, Any]:
    """The profile: one allow entry per non-empty group, a name in the first group it is in."""
    seen: set[str] = set()
    entries = []
    for group, names in groups.items():
        fresh = sorted(set(names) - seen)
        seen.update(fresh)
        if fresh:
            entries.append({"names": fresh, "action": "SCMP_ACT_ALLOW", "comment": GROUP_COMMENTS[group]})
    return {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": EPERM,
            "architectures": [SECCOMP_ARCH[arch]], "syscalls": entries}


def allowed(profile: Mapping[str, Any]) -> set[str]:
    """Names a profile allows (the union of its ALLOW entries)."""
    return {name for entry in profile.get("syscalls") or [] if entry.get("action") == "SCMP_ACT_ALLOW"
            for name in entry.get("names") or []}
