"""Kubernetes manifests at the Pod Security Standards "restricted" level.

`generate_manifests` writes a Deployment for an image pinned by digest, with the numeric user
of the image, the seccomp and AppArmor profiles of `harden profile` when given, and the
workload's network (a NetworkPolicy; with the Istio mesh, mTLS and who may call);
`check_manifests` checks existing (multi-document) YAML with `supplychain.harden.pss` and
reports every workload no NetworkPolicy selects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from supplychain.errors import CheckFailed, UsageError
from supplychain.harden.fileio import atomic_write
from supplychain.harden.imagecheck import resolve_user
from supplychain.harden.netpol import NetworkOptions, network_documents, selecting_policy
from supplychain.harden.profile import exposed_port, load_index
from supplychain.harden.pss import Violation, check_pod, pod_template
from supplychain.image.filesystem import image_filesystem, platform_images
from supplychain.image.reference import parse_image_ref
from supplychain.registry.options import RegistryOptions
from supplychain.stores import open_store
from supplychain.strictdoc import load_yaml

MAX_MANIFEST_FILE = 4 * 1024 * 1024
MAX_DOCUMENTS = 1000
DEFAULT_PORT = 8080
DEFAULT_RESOURCES = {"requests": {"cpu": "100m", "memory": "64Mi"},
                     "limits": {"cpu": "500m", "memory": "128Mi", "ephemeral-storage": "64Mi"}}
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


# -- generation ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class RuntimeProfiles:
    """What `harden profile` wrote, as the manifests reference it."""

    seccomp: str          # localhostProfile, relative to the kubelet's seccomp root
    apparmor: str         # the AppArmor profile name loaded on the nodes


@dataclass(frozen=True)
class GeneratedManifests:
    image: str            # host/repo@sha256:... as written in the manifests
    name: str
    uid: int
    gid: int
    port: int
    yaml: str
    output: str | None
    kinds: tuple[str, ...] = ("Deployment", "NetworkPolicy")
    profiles: RuntimeProfiles | None = None

    def to_dict(self) -> dict[str, Any]:
        profiles = None if self.profiles is None else {"seccomp": self.profiles.seccomp,
                                                       "apparmor": self.profiles.apparmor}
        return {"image": self.image, "name": self.name, "uid": self.uid, "gid": self.gid,
                "port": self.port, "output": self.output, "kinds": list(self.kinds), "profiles": profiles,
                **({} if self.output else {"manifests": self.yaml})}


def _default_name(text: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:63].strip("-")
    return name or "app"


def _profiles(profiles_dir: str, digest: str) -> RuntimeProfiles:
    index = load_index(profiles_dir, digest)
    return RuntimeProfiles(str(index["seccompLocalhostProfile"]), str(index["appArmorProfile"]))


def generate_manifests(ref: str, *, name: str | None = None, port: int | None = None,
                       repository: str | None = None, output: str | None = None,
                       profiles_dir: str | None = None, network: NetworkOptions | None = None,
                       namespace: str | None = None,
                       registry: RegistryOptions | None = None) -> GeneratedManifests:
    image_ref = parse_image_ref(ref)
    if not image_ref.digest:
        raise UsageError(f"{ref} is not pinned by digest",
                         expected="IMAGE@sha256:<digest>: manifests must name exactly one image",
                         found=ref, fix="resolve the tag first (sccheck build prints the digest)")
    if image_ref.is_layout and not repository:
        raise UsageError("an OCI layout has no address a cluster can pull from",
                         expected="--repository host/repo naming where the image is pushed",
                         found=ref, fix=f"add --repository registry.example/team/app to 'harden k8s {ref}'")
    pull_name = (repository or image_ref.name).split("@", 1)[0]
    store = open_store(image_ref, registry)
    images = platform_images(store, image_ref.digest)
    if not images:
        raise UsageError(f"{ref} has no image for any platform")
    users = {str((img.config.get("config") or {}).get("User") or "") for img in images}
    if len(users) != 1:
        raise CheckFailed(f"the platforms of {ref} run as different users: {sorted(users)}",
                          fix="build every platform with the same USER")
    user_spec = users.pop()
    fs = None
    if user_spec and not all(part.isdigit() for part in user_spec.split(":")):
        fs = image_filesystem(store, images[0], lambda p: p in ("/etc/passwd", "/etc/group"), 4 << 20)
    uid, gid = resolve_user(user_spec, fs)
    if uid is None or gid is None:
        raise CheckFailed(f"cannot resolve the image user {user_spec!r} to numbers",
                          expected="a numeric User (uid:gid) or names found in /etc/passwd and /etc/group",
                          found=f"User={user_spec!r}", fix="set USER 65532:65532 in the image")
    if uid == 0 or gid == 0:
        raise CheckFailed("the image runs as root; it cannot run at the restricted level",
                          expected="a non-root numeric user and group", found=f"User={user_spec!r} "
                          f"(uid {uid}, gid {gid})", fix="rebuild with USER 65532:65532 (sccheck build does)")
    if port is None:
        port = exposed_port(images[0]) or DEFAULT_PORT
    if not 0 < port < 65536:
        raise UsageError(f"invalid port {port}", expected="1-65535")
    name = name or _default_name(pull_name.rsplit("/", 1)[-1])
    if not _DNS_LABEL.match(name):
        raise UsageError(f"invalid name {name!r}", expected="a DNS-1123 label: a-z, 0-9, '-', at most 63",
                         fix="pass --name my-service")
    if namespace is not None and not _DNS_LABEL.match(namespace):
        raise UsageError(f"invalid namespace {namespace!r}", expected="a DNS-1123 label")
    runtime_profiles = _profiles(profiles_dir, image_ref.digest) if profiles_dir else None
    image = f"{pull_name}@{image_ref.digest}"
    text = render_manifests(image, name, uid, gid, port, profiles=runtime_profiles,
                            network=network or NetworkOptions(), namespace=namespace)
    if output:
        atomic_write(output, text.encode())
    kinds = tuple(str(d["kind"]) for d in yaml.safe_load_all(text))
    return GeneratedManifests(image, name, uid, gid, port, text, output, kinds, runtime_profiles)


def _profile_refs(profiles: RuntimeProfiles | None) -> dict[str, Any]:
    if profiles is None:
        return {"seccompProfile": {"type": "RuntimeDefault"}}
    return {"seccompProfile": {"type": "Localhost", "localhostProfile": profiles.seccomp},
            "appArmorProfile": {"type": "Localhost", "localhostProfile": profiles.apparmor}}


def pod_spec(image: str, name: str, uid: int, gid: int, port: int,
             profiles: RuntimeProfiles | None = None) -> dict[str, Any]:
    capabilities: dict[str, Any] = {"drop": ["ALL"]}
    if port < 1024:
        capabilities["add"] = ["NET_BIND_SERVICE"]
    return {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": gid, "fsGroup": gid,
                            **_profile_refs(profiles)},
        "containers": [{
            "name": name,
            "image": image,
            "imagePullPolicy": "IfNotPresent",
            "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
            "securityContext": {"allowPrivilegeEscalation": False, "privileged": False,
                                "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                                "runAsUser": uid, "runAsGroup": gid, "capabilities": capabilities,
                                **_profile_refs(profiles)},
            "resources": DEFAULT_RESOURCES,
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - in the container
        }],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
    }


class _PlainDumper(yaml.SafeDumper):
    """No YAML anchors/aliases: every manifest reads on its own."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render_manifests(image: str, name: str, uid: int, gid: int, port: int, *,
                     profiles: RuntimeProfiles | None = None, network: NetworkOptions | None = None,
                     namespace: str | None = None) -> str:
    labels = {"app.kubernetes.io/name": name}
    spec = pod_spec(image, name, uid, gid, port, profiles)
    metadata: dict[str, Any] = {"name": name, "labels": labels}
    if namespace:
        metadata["namespace"] = namespace
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata,
                  "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                           "template": {"metadata": {"labels": labels}, "spec": spec}}}
    docs = [deployment, *network_documents(name, labels, port, namespace, network or NetworkOptions())]
    header = f"# Generated by sccheck harden k8s for {image}: Pod Security Standards 'restricted'.\n"
    body = yaml.dump_all(docs, Dumper=_PlainDumper, sort_keys=False, default_flow_style=False)
    return header + body


# -- checking -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class WorkloadResult:
    document: int           # 0-based index of the YAML document in the file
    kind: str
    name: str
    violations: tuple[Violation, ...]
    network_policy: str | None = None    # the NetworkPolicy of the file that selects its pods

    @property
    def passed(self) -> bool:
        return not self.violations and self.network_policy is not None

    def to_dict(self) -> dict[str, Any]:
        return {"document": self.document, "kind": self.kind, "name": self.name,
                "passed": self.passed, "violations": [v.to_dict() for v in self.violations],
                "networkPolicy": self.network_policy}


@dataclass(frozen=True)
class ManifestCheck:
    file: str
    workloads: tuple[WorkloadResult, ...]
    skipped: tuple[str, ...]          # "Service/web": documents that hold no pod

    @property
    def passed(self) -> bool:
        return all(w.passed for w in self.workloads)

    def unprotected(self) -> list[WorkloadResult]:
        """Workloads that no NetworkPolicy in the file selects."""
        return [w for w in self.workloads if w.network_policy is None]

    def violations(self) -> list[tuple[WorkloadResult, Violation]]:
        return [(w, v) for w in self.workloads for v in w.violations]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.passed, "file": self.file, "level": "restricted",
                "violations": len(self.violations()), "withoutNetworkPolicy": len(self.unprotected()),
                "workloads": [w.to_dict() for w in self.workloads], "skipped": list(self.skipped)}


def _documents(docs: list[Any]) -> list[tuple[int, str, dict[str, Any]]]:
    out: list[tuple[int, str, dict[str, Any]]] = []
    for index, doc in enumerate(docs):
        if not isinstance(doc, dict):
            continue
        if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            out.extend((index, f"items[{i}].", item) for i, item in enumerate(doc["items"])
                       if isinstance(item, dict))
        else:
            out.append((index, "", doc))
    return out


def check_manifests(path: str) -> ManifestCheck:
    """Check every workload of a (multi-document) YAML file against the restricted level."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}",
                         fix="pass an existing manifest file") from None
    if len(data) > MAX_MANIFEST_FILE:
        raise UsageError(f"{path} is larger than {MAX_MANIFEST_FILE} bytes")
    docs = load_yaml(data, path, multi=True, max_bytes=MAX_MANIFEST_FILE)
    if len(docs) > MAX_DOCUMENTS:
        raise UsageError(f"{path} has more than {MAX_DOCUMENTS} documents")
    results: list[WorkloadResult] = []
    skipped: list[str] = []
    documents = _documents(docs)
    policies = [doc for _i, _p, doc in documents if doc.get("kind") == "NetworkPolicy"
                and str(doc.get("apiVersion", "")).startswith("networking.k8s.io/")]
    for index, prefix, doc in documents:
        metadata = doc.get("metadata")
        name = str(metadata.get("name", "")) if isinstance(metadata, dict) else ""
        template = pod_template(doc)
        if template is None:
            skipped.append(f"{doc.get('kind')}/{name}")
            continue
        meta, spec, meta_path, spec_path = template
        violations = check_pod(meta, spec, prefix + meta_path, prefix + spec_path)
        namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
        labels = meta.get("labels") if isinstance(meta, dict) else None
        labels = labels if isinstance(labels, dict) else {}
        policy = selecting_policy(policies, str(namespace) if namespace else None,
                                  {str(k): str(v) for k, v in labels.items()})
        results.append(WorkloadResult(index, str(doc.get("kind")), name, tuple(violations), policy))
    if not results:
        raise UsageError(f"{path} has no workload to check",
                         expected="a Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, "
                                  "ReplicationController, Job, CronJob or PodTemplate",
                         found=", ".join(skipped) or "no Kubernetes documents")
    return ManifestCheck(path, tuple(results), tuple(skipped))


def render_check(result: ManifestCheck) -> str:
    lines = []
    for w in result.workloads:
        status = "ok" if not w.violations else f"{len(w.violations)} violation(s)"
        lines.append(f"{result.file}: {w.kind}/{w.name} (document {w.document + 1}): {status}")
        for v in w.violations:
            lines.append(f"  [{v.level}] {v.control}: {v.path}")
            lines.append(f"      {v.message}")
        if w.network_policy is None:
            lines.append("  [network] no NetworkPolicy in the file selects this workload's pods")
            lines.append("      add one that denies by default (sccheck harden k8s IMAGE@DIGEST writes it)")
    total = len(result.violations())
    verdict = "PASSED" if result.passed else "FAILED"
    unprotected = len(result.unprotected())
    lines.append(f"{verdict}: {total} violation(s) of the restricted level in {len(result.workloads)} "
                 f"workload(s)" + (f", {unprotected} without a NetworkPolicy" if unprotected else "")
                 + (f"; skipped {', '.join(result.skipped)}" if result.skipped else ""))
    return "\n".join(lines)
