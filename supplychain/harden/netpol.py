"""The workload's network in the generated manifests: a NetworkPolicy that denies all ingress
and egress except the exposed port in and the egress the user names, and with the Istio mesh a
PeerAuthentication (STRICT mTLS) and an AuthorizationPolicy admitting only named service
accounts. Also: which NetworkPolicy of a manifest file selects a workload (for `--check`)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from supplychain.errors import UsageError

MESHES = ("istio",)
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_PROTOCOLS = ("TCP", "UDP", "SCTP")
DNS_PEER = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
ISTIOD_PEER = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "istio-system"}},
               "podSelector": {"matchLabels": {"app": "istiod"}}}
ISTIOD_XDS_PORT = 15012


@dataclass(frozen=True)
class EgressRule:
    cidr: str
    port: int | None
    protocol: str

    def to_rule(self) -> dict[str, Any]:
        rule: dict[str, Any] = {"to": [{"ipBlock": {"cidr": self.cidr}}]}
        if self.port is not None:
            rule["ports"] = [{"protocol": self.protocol, "port": self.port}]
        return rule


@dataclass(frozen=True)
class NetworkOptions:
    egress: tuple[EgressRule, ...] = ()
    dns: bool = False
    mesh: str | None = None
    allow_from: tuple[str, ...] = ()        # "namespace/serviceaccount"
    trust_domain: str = "cluster.local"


def parse_egress(spec: str) -> EgressRule:
    """`CIDR[:PORT[/PROTOCOL]]`: `10.0.0.0/8:5432`, `0.0.0.0/0:443/TCP`; IPv6 in brackets when a
    port follows (`[2001:db8::/32]:443`)."""
    bad = UsageError(f"bad --egress {spec!r}", expected="CIDR[:PORT[/TCP|UDP|SCTP]], e.g. 10.0.0.0/8:5432",
                     found=spec, fix="name a network block, and optionally a port: --egress 10.1.0.0/16:443")
    if spec.startswith("["):
        cidr, _, rest = spec[1:].partition("]")
        port_part = rest.removeprefix(":") if rest.startswith(":") else ("" if not rest else "?")
    elif spec.count(":") == 1:
        cidr, _, port_part = spec.partition(":")
    else:
        cidr, port_part = spec, ""
    try:
        network = ipaddress.ip_network(cidr, strict=True)
    except ValueError:
        raise bad from None
    port, protocol = None, "TCP"
    if port_part:
        number, _, proto = port_part.partition("/")
        if not number.isdigit():
            raise bad
        port, protocol = int(number), (proto.upper() or "TCP")
        if not 0 < port < 65536 or protocol not in _PROTOCOLS:
            raise bad
    return EgressRule(str(network), port, protocol)


def parse_allow_from(spec: str) -> str:
    namespace, sep, account = spec.partition("/")
    if not sep or not _LABEL.match(namespace) or not _LABEL.match(account):
        raise UsageError(f"bad --allow-from {spec!r}", expected="NAMESPACE/SERVICEACCOUNT (DNS labels)",
                         found=spec, fix="name who may call the service: --allow-from shop/frontend")
    return spec


def network_documents(name: str, labels: Mapping[str, str], port: int, namespace: str | None,
                      options: NetworkOptions) -> list[dict[str, Any]]:
    meta: dict[str, Any] = {"name": name, "labels": dict(labels)}
    if namespace:
        meta["namespace"] = namespace
    egress: list[dict[str, Any]] = []
    if options.dns:
        egress.append({"to": [DNS_PEER], "ports": [{"protocol": "UDP", "port": 53},
                                                  {"protocol": "TCP", "port": 53}]})
    if options.mesh == "istio":
        egress.append({"to": [ISTIOD_PEER], "ports": [{"protocol": "TCP", "port": ISTIOD_XDS_PORT}]})
    egress.extend(rule.to_rule() for rule in options.egress)
    docs: list[dict[str, Any]] = [{
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta,
        "spec": {"podSelector": {"matchLabels": dict(labels)}, "policyTypes": ["Ingress", "Egress"],
                 "ingress": [{"ports": [{"protocol": "TCP", "port": port}]}], "egress": egress}}]
    if options.mesh == "istio":
        if not options.allow_from:
            raise UsageError("--mesh istio needs at least one --allow-from NAMESPACE/SERVICEACCOUNT",
                             expected="the service accounts that may call the service",
                             fix="add --allow-from shop/frontend (repeatable)")
        principals = [f"{options.trust_domain}/ns/{ns}/sa/{sa}"
                      for ns, _, sa in (a.partition("/") for a in options.allow_from)]
        selector = {"matchLabels": dict(labels)}
        docs.append({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": meta,
                     "spec": {"selector": selector, "mtls": {"mode": "STRICT"}}})
        docs.append({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": meta,
                     "spec": {"selector": selector, "action": "ALLOW",
                              "rules": [{"from": [{"source": {"principals": principals}}],
                                         "to": [{"operation": {"ports": [str(port)]}}]}]}})
    elif options.mesh is not None:
        raise UsageError(f"unknown --mesh {options.mesh!r}", expected=" or ".join(MESHES))
    elif options.allow_from:
        raise UsageError("--allow-from needs --mesh istio: only the mesh knows who the caller is",
                         fix="add --mesh istio, or leave out --allow-from")
    return docs


# -- which policy selects a workload ------------------------------------------------------------

def _matches(selector: Any, labels: Mapping[str, str]) -> bool:
    if not isinstance(selector, dict):
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != str(value):
            return False
    for expr in selector.get("matchExpressions") or []:
        if not isinstance(expr, dict):
            return False
        key, op, values = expr.get("key"), expr.get("operator"), [str(v) for v in expr.get("values") or []]
        present = key in labels
        if (op == "In" and labels.get(str(key)) not in values) or (op == "NotIn" and present
                                                                   and labels[str(key)] in values) \
                or (op == "Exists" and not present) or (op == "DoesNotExist" and present) \
                or op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def selecting_policy(policies: list[dict[str, Any]], namespace: str | None,
                     labels: Mapping[str, str]) -> str | None:
    """The name of the first NetworkPolicy in the same namespace whose podSelector matches."""
    for policy in policies:
        meta = policy.get("metadata") if isinstance(policy.get("metadata"), dict) else {}
        spec = policy.get("spec") if isinstance(policy.get("spec"), dict) else {}
        assert isinstance(meta, dict) and isinstance(spec, dict)
        if (meta.get("namespace") or None) != (namespace or None):
            continue
        if _matches(spec.get("podSelector"), labels):
            return str(meta.get("name") or "")
    return None
