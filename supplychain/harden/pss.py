"""Check Kubernetes workloads against the Pod Security Standards "restricted" level.

The controls and their pod- vs container-level inheritance follow the upstream
pod-security-admission checks at its `latest` version (baseline controls included, since
restricted is cumulative). Every violation names the exact path of the offending (or missing)
field in its document, e.g. `spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

BASELINE, RESTRICTED = "baseline", "restricted"

CAPABILITIES_ALLOWED_ADD = frozenset({"NET_BIND_SERVICE"})
VOLUME_TYPES_ALLOWED = frozenset({"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
                                  "persistentVolumeClaim", "projected", "secret"})
SYSCTLS_ALLOWED = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"})
SELINUX_TYPES_ALLOWED = frozenset({"", "container_t", "container_init_t", "container_kvm_t",
                                   "container_engine_t"})
SECCOMP_ALLOWED = frozenset({"RuntimeDefault", "Localhost"})
APPARMOR_ALLOWED = frozenset({"RuntimeDefault", "Localhost"})
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"

# Where each workload kind keeps its pod template (metadata, spec).
POD_PATHS: dict[str, tuple[str, str]] = {
    "Pod": ("metadata", "spec"),
    "PodTemplate": ("template.metadata", "template.spec"),
    "Deployment": ("spec.template.metadata", "spec.template.spec"),
    "StatefulSet": ("spec.template.metadata", "spec.template.spec"),
    "DaemonSet": ("spec.template.metadata", "spec.template.spec"),
    "ReplicaSet": ("spec.template.metadata", "spec.template.spec"),
    "ReplicationController": ("spec.template.metadata", "spec.template.spec"),
    "Job": ("spec.template.metadata", "spec.template.spec"),
    "CronJob": ("spec.jobTemplate.spec.template.metadata", "spec.jobTemplate.spec.template.spec"),
}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


@dataclass(frozen=True)
class Violation:
    control: str     # upstream check id: runAsNonRoot, allowPrivilegeEscalation, ...
    level: str       # baseline | restricted
    path: str        # path of the field in its document
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"control": self.control, "level": self.level, "path": self.path, "message": self.message}


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _get(doc: dict[str, Any], dotted: str) -> Any:
    node: Any = doc
    for part in dotted.split("."):
        node = _obj(node).get(part)
    return node


def check_pod(metadata: dict[str, Any], spec: dict[str, Any], meta_path: str,
              spec_path: str) -> list[Violation]:
    """All violations of one pod template (metadata + spec)."""
    return list(_check(_obj(metadata), _obj(spec), meta_path, spec_path))


def _containers(spec: dict[str, Any], spec_path: str) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(path, container, its securityContext) in upstream order: init, regular, ephemeral."""
    for field in CONTAINER_LISTS:
        for i, container in enumerate(_list(spec.get(field))):
            c = _obj(container)
            yield f"{spec_path}.{field}[{i}]", c, _obj(c.get("securityContext"))


def _check(meta: dict[str, Any], spec: dict[str, Any], meta_path: str, spec_path: str) -> Iterator[Violation]:
    psc = _obj(spec.get("securityContext"))
    psc_path = f"{spec_path}.securityContext"
    windows = _obj(spec.get("os")).get("name") == "windows"
    user_namespace = spec.get("hostUsers") is False
    containers = list(_containers(spec, spec_path))

    # -- baseline -------------------------------------------------------------------------------
    if _obj(psc.get("windowsOptions")).get("hostProcess") is True:
        yield Violation("hostProcess", BASELINE, f"{psc_path}.windowsOptions.hostProcess", "must not be true")
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field) is True:
            yield Violation("hostNamespaces", BASELINE, f"{spec_path}.{field}", "must not be true")
    for cpath, c, sc in containers:
        scp = f"{cpath}.securityContext"
        if _obj(sc.get("windowsOptions")).get("hostProcess") is True:
            yield Violation("hostProcess", BASELINE, f"{scp}.windowsOptions.hostProcess", "must not be true")
        if sc.get("privileged") is True:
            yield Violation("privileged", BASELINE, f"{scp}.privileged", "must not be true")
        for j, port in enumerate(_list(c.get("ports"))):
            if _obj(port).get("hostPort") not in (None, 0):
                yield Violation("hostPorts", BASELINE, f"{cpath}.ports[{j}].hostPort",
                                f"must be unset or 0, found {_shown(_obj(port).get('hostPort'))}")
        if sc.get("procMount") not in (None, "Default"):
            yield Violation("procMount", RESTRICTED if user_namespace else BASELINE, f"{scp}.procMount",
                            f"must be unset or Default, found {_shown(sc.get('procMount'))}")
        yield from _selinux(sc, scp)
        yield from _apparmor(sc, scp)
        yield from _probe_hosts(c, cpath)
    yield from _selinux(psc, psc_path)
    yield from _apparmor(psc, psc_path)
    for key, value in sorted(_obj(meta.get("annotations")).items()):
        if str(key).startswith(APPARMOR_ANNOTATION) and value and value != "runtime/default" \
                and not str(value).startswith("localhost/"):
            yield Violation("appArmorProfile", BASELINE, f"{meta_path}.annotations[{key!r}]",
                            f"must be runtime/default or localhost/*, found {_shown(value)}")
    for j, sysctl in enumerate(_list(psc.get("sysctls"))):
        name = _obj(sysctl).get("name")
        if name not in SYSCTLS_ALLOWED:
            yield Violation("sysctls", BASELINE, f"{psc_path}.sysctls[{j}].name",
                            f"sysctl {_shown(name)} is not in the safe set")

    # -- restricted -----------------------------------------------------------------------------
    for j, volume in enumerate(_list(spec.get("volumes"))):
        kinds = [k for k in _obj(volume) if k != "name"]
        bad = [k for k in kinds if k not in VOLUME_TYPES_ALLOWED]
        for kind in bad:
            yield Violation("restrictedVolumes", RESTRICTED, f"{spec_path}.volumes[{j}].{kind}",
                            f"volume {_shown(_obj(volume).get('name'))} uses the restricted type {kind}")
    if not user_namespace:
        yield from _run_as(psc, psc_path, containers)
    if not windows:
        yield from _seccomp(psc, psc_path, containers)
        for cpath, _c, sc in containers:
            scp = f"{cpath}.securityContext"
            if sc.get("allowPrivilegeEscalation") is not False:
                yield Violation("allowPrivilegeEscalation", RESTRICTED, f"{scp}.allowPrivilegeEscalation",
                                f"must be false, found {_shown(sc.get('allowPrivilegeEscalation'))}")
            caps = _obj(sc.get("capabilities"))
            if "ALL" not in _list(caps.get("drop")):
                yield Violation("capabilities", RESTRICTED, f"{scp}.capabilities.drop",
                                f"must include ALL, found {_shown(caps.get('drop'))}")
            for j, cap in enumerate(_list(caps.get("add"))):
                if cap not in CAPABILITIES_ALLOWED_ADD:
                    yield Violation("capabilities", RESTRICTED, f"{scp}.capabilities.add[{j}]",
                                    f"only NET_BIND_SERVICE may be added, found {_shown(cap)}")


def _shown(value: Any) -> str:
    """A value as YAML/JSON writes it (false, "Unmasked", ["NET_RAW"]), or unset."""
    return "unset" if value is None else json.dumps(value)


def _selinux(sc: dict[str, Any], scp: str) -> Iterator[Violation]:
    opts = _obj(sc.get("seLinuxOptions"))
    if opts.get("type", "") not in SELINUX_TYPES_ALLOWED:
        yield Violation("seLinuxOptions", BASELINE, f"{scp}.seLinuxOptions.type",
                        f"must be one of container_t, container_init_t, container_kvm_t, "
                        f"container_engine_t; found {_shown(opts.get('type'))}")
    for field in ("user", "role"):
        if opts.get(field):
            yield Violation("seLinuxOptions", BASELINE, f"{scp}.seLinuxOptions.{field}", "must not be set")


def _apparmor(sc: dict[str, Any], scp: str) -> Iterator[Violation]:
    profile = sc.get("appArmorProfile")
    if profile is not None and _obj(profile).get("type") not in APPARMOR_ALLOWED:
        yield Violation("appArmorProfile", BASELINE, f"{scp}.appArmorProfile.type",
                        f"must be RuntimeDefault or Localhost, found {_shown(_obj(profile).get('type'))}")


def _probe_hosts(c: dict[str, Any], cpath: str) -> Iterator[Violation]:
    handlers = [(p, _obj(c.get(p))) for p in ("livenessProbe", "readinessProbe", "startupProbe")]
    lifecycle = _obj(c.get("lifecycle"))
    handlers += [(f"lifecycle.{h}", _obj(lifecycle.get(h))) for h in ("postStart", "preStop")]
    for where, handler in handlers:
        for action in ("httpGet", "tcpSocket"):
            if _obj(handler.get(action)).get("host"):
                yield Violation("hostProbesAndHostLifecycle", BASELINE, f"{cpath}.{where}.{action}.host",
                                "must not be set (probes and hooks may only target the pod)")


def _run_as(psc: dict[str, Any], psc_path: str,
            containers: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> Iterator[Violation]:
    pod_non_root = psc.get("runAsNonRoot")
    if pod_non_root is not None and pod_non_root is not True:
        yield Violation("runAsNonRoot", RESTRICTED, f"{psc_path}.runAsNonRoot",
                        f"must be true, found {_shown(pod_non_root)}")
    if psc.get("runAsUser") == 0:
        yield Violation("runAsUser", RESTRICTED, f"{psc_path}.runAsUser", "must not be 0")
    for cpath, _c, sc in containers:
        scp = f"{cpath}.securityContext"
        value = sc.get("runAsNonRoot")
        if value is None and pod_non_root is not True:
            yield Violation("runAsNonRoot", RESTRICTED, f"{scp}.runAsNonRoot",
                            f"must be true (here or at {psc_path}.runAsNonRoot), found unset")
        elif value is not None and value is not True:
            yield Violation("runAsNonRoot", RESTRICTED, f"{scp}.runAsNonRoot",
                            f"must be true, found {_shown(value)}")
        if sc.get("runAsUser") == 0:
            yield Violation("runAsUser", RESTRICTED, f"{scp}.runAsUser", "must not be 0")


def _seccomp(psc: dict[str, Any], psc_path: str,
             containers: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> Iterator[Violation]:
    pod_profile = psc.get("seccompProfile")
    pod_ok = False
    if pod_profile is not None:
        pod_type = _obj(pod_profile).get("type")
        pod_ok = pod_type in SECCOMP_ALLOWED
        if not pod_ok:
            yield Violation("seccompProfile", RESTRICTED, f"{psc_path}.seccompProfile.type",
                            f"must be RuntimeDefault or Localhost, found {_shown(pod_type)}")
    for cpath, _c, sc in containers:
        path = f"{cpath}.securityContext.seccompProfile.type"
        profile = sc.get("seccompProfile")
        if profile is None:
            if not pod_ok:
                yield Violation("seccompProfile", RESTRICTED, path,
                                f"must be RuntimeDefault or Localhost (here or at {psc_path}"
                                ".seccompProfile.type), found unset")
        elif _obj(profile).get("type") not in SECCOMP_ALLOWED:
            yield Violation("seccompProfile", RESTRICTED, path,
                            f"must be RuntimeDefault or Localhost, found {_shown(_obj(profile).get('type'))}")


def pod_template(doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], str, str] | None:
    """(metadata, spec, metadata path, spec path) of a workload document, or None for other kinds."""
    paths = POD_PATHS.get(str(doc.get("kind")))
    if paths is None:
        return None
    meta_path, spec_path = paths
    return _obj(_get(doc, meta_path)), _obj(_get(doc, spec_path)), meta_path, spec_path
