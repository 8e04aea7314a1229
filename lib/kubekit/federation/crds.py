"""The federation's CustomResourceDefinitions (``kubekit.io/v1alpha1``) and their installation.

``MemberCluster`` (cluster-scoped, short name ``mc``) and ``FederatedWorkload``
(namespaced, short name ``fw``), both with a structural ``openAPIV3Schema`` with the
defaults :mod:`kubekit.federation.model` also applies, a ``status`` subresource and
printer columns, so ``kubectl get mc,fw -A`` is a useful overview.
"""

from __future__ import annotations

import time
from typing import Any

from kubekit.errors import NotReady

from .model import GROUP, NAMESPACE, VERSION
from .rest import Rest

CRD_API = "apiextensions.k8s.io/v1"
_LABELS = {"app.kubernetes.io/part-of": "kubekit", "app.kubernetes.io/managed-by": "kubekit-federation"}


def _int(minimum: int = 0, default: int | None = None, desc: str = "") -> dict[str, Any]:
    s: dict[str, Any] = {"type": "integer", "format": "int32", "minimum": minimum}
    if default is not None:
        s["default"] = default
    if desc:
        s["description"] = desc
    return s


def _str(desc: str = "", enum: list[str] | None = None, default: str | None = None) -> dict[str, Any]:
    s: dict[str, Any] = {"type": "string"}
    if desc:
        s["description"] = desc
    if enum:
        s["enum"] = enum
    if default is not None:
        s["default"] = default
    return s


_CONDITIONS = {
    "type": "array",
    "description": "Current conditions (Ready, Offline for members; Accepted, Propagated, Ready for workloads).",
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
    "items": {
        "type": "object", "required": ["type", "status"],
        "properties": {
            "type": _str(), "status": _str(enum=["True", "False", "Unknown"]), "reason": _str(),
            "message": _str(), "lastTransitionTime": {"type": "string", "format": "date-time"},
            "lastProbeTime": {"type": "string", "format": "date-time"},
            "observedGeneration": {"type": "integer", "format": "int64"},
        },
    },
}

_TAINT = {"type": "object", "required": ["key", "effect"], "properties": {
    "key": _str(), "value": _str(), "effect": _str(enum=["NoSchedule", "PreferNoSchedule", "NoExecute"])}}

_SELECTOR = {
    "type": "object", "description": "A label selector over MemberCluster labels (region/zone labels included).",
    "properties": {
        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "matchExpressions": {"type": "array", "items": {
            "type": "object", "required": ["key", "operator"],
            "properties": {"key": _str(), "operator": _str(enum=["In", "NotIn", "Exists", "DoesNotExist"]),
                           "values": {"type": "array", "items": {"type": "string"}}}}},
    },
    "x-kubernetes-map-type": "atomic",
}

MEMBER_CLUSTER: dict[str, Any] = {
    "apiVersion": CRD_API, "kind": "CustomResourceDefinition",
    "metadata": {"name": f"memberclusters.{GROUP}", "labels": _LABELS},
    "spec": {
        "group": GROUP, "scope": "Cluster",
        "names": {"plural": "memberclusters", "singular": "membercluster", "kind": "MemberCluster",
                  "listKind": "MemberClusterList", "shortNames": ["mc"], "categories": ["kubekit"]},
        "versions": [{
            "name": VERSION, "served": True, "storage": True,
            "subresources": {"status": {}},
            "additionalPrinterColumns": [
                {"name": "State", "type": "string", "jsonPath": ".status.state"},
                {"name": "Region", "type": "string", "jsonPath": ".spec.region"},
                {"name": "Zone", "type": "string", "jsonPath": ".spec.zone"},
                {"name": "Version", "type": "string", "jsonPath": ".status.kubernetesVersion"},
                {"name": "Nodes", "type": "integer", "jsonPath": ".status.nodes"},
                {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
            ],
            "schema": {"openAPIV3Schema": {
                "type": "object",
                "description": "A Kubernetes cluster the federation places workloads in.",
                "properties": {
                    "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
                    "spec": {
                        "type": "object", "required": ["secretRef"],
                        "properties": {
                            "secretRef": {
                                "type": "object", "required": ["name"],
                                "description": "The Secret holding this member's kubeconfig.",
                                "properties": {"namespace": _str(default=NAMESPACE), "name": _str(),
                                               "key": _str(default="kubeconfig")}},
                            "context": _str("Context in that kubeconfig; empty: its current-context."),
                            "region": _str("Region of the member (also the topology.kubernetes.io/region label)."),
                            "zone": _str("Zone of a single-zone member (also the topology.kubernetes.io/zone label)."),
                            "healthCheck": {
                                "type": "object", "default": {},
                                "description": "Probe settings; defaults are KubeFed's.",
                                "properties": {
                                    "periodSeconds": _int(1, 10, "How often to probe /readyz."),
                                    "timeoutSeconds": _int(1, 3, "How long a probe may take."),
                                    "failureThreshold": _int(1, 3, "Bad probes in a row before Offline/NotReady."),
                                    "successThreshold": _int(1, 1, "Good probes in a row before Ready again."),
                                }},
                            "taints": {"type": "array", "items": _TAINT},
                        },
                    },
                    "status": {
                        "type": "object",
                        "properties": {
                            "state": _str(enum=["Ready", "NotReady", "Offline", "Unknown"]),
                            "conditions": _CONDITIONS,
                            "lastProbeTime": {"type": "string", "format": "date-time"},
                            "kubernetesVersion": _str(),
                            "nodes": {"type": "integer"},
                            "zones": {"type": "array", "items": {"type": "object", "properties": {
                                "name": _str(), "nodes": {"type": "integer"}}}},
                            "consecutiveFailures": {"type": "integer"},
                            "consecutiveSuccesses": {"type": "integer"},
                            "message": _str(),
                        },
                    },
                },
            }},
        }],
    },
}

_PATCH = {"type": "object", "required": ["path"], "properties": {
    "op": _str(enum=["add", "remove", "replace"], default="replace"), "path": _str("A JSON pointer."),
    "value": {"x-kubernetes-preserve-unknown-fields": True}}}

FEDERATED_WORKLOAD: dict[str, Any] = {
    "apiVersion": CRD_API, "kind": "CustomResourceDefinition",
    "metadata": {"name": f"federatedworkloads.{GROUP}", "labels": _LABELS},
    "spec": {
        "group": GROUP, "scope": "Namespaced",
        "names": {"plural": "federatedworkloads", "singular": "federatedworkload", "kind": "FederatedWorkload",
                  "listKind": "FederatedWorkloadList", "shortNames": ["fw"], "categories": ["kubekit"]},
        "versions": [{
            "name": VERSION, "served": True, "storage": True,
            "subresources": {"status": {}},
            "additionalPrinterColumns": [
                {"name": "Kind", "type": "string", "jsonPath": ".spec.template.kind"},
                {"name": "Scheduling", "type": "string", "jsonPath": ".spec.replicaScheduling.type"},
                {"name": "Placement", "type": "string", "jsonPath": ".status.placementSummary"},
                {"name": "Ready", "type": "string", "jsonPath": ".status.ready"},
                {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
            ],
            "schema": {"openAPIV3Schema": {
                "type": "object",
                "description": "A namespaced object placed in member clusters: template + placement + overrides.",
                "properties": {
                    "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
                    "spec": {
                        "type": "object", "required": ["template"],
                        "properties": {
                            "template": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                                         "x-kubernetes-embedded-resource": True,
                                         "description": "The object to place (Deployment, StatefulSet, Service ...)."},
                            "placement": {
                                "type": "object",
                                "properties": {
                                    "clusters": {"type": "array", "items": {"type": "string"},
                                                 "description": "Member names; absent: every member."},
                                    "clusterSelector": _SELECTOR,
                                    "spreadConstraints": {"type": "array", "items": {
                                        "type": "object", "properties": {
                                            "spreadByField": _str(enum=["cluster", "region", "zone"],
                                                                  default="cluster"),
                                            "minGroups": _int(0, 1), "maxGroups": _int(1)}}},
                                    "clusterTolerations": {"type": "array", "items": {
                                        "type": "object", "properties": {
                                            "key": _str(), "operator": _str(enum=["Equal", "Exists"], default="Equal"),
                                            "value": _str(), "effect": _str()}}},
                                },
                            },
                            "overrides": {"type": "array", "items": {
                                "type": "object", "required": ["clusterName"],
                                "properties": {
                                    "clusterName": _str(),
                                    "clusterOverrides": {"type": "array", "items": _PATCH},
                                    "image": _str("Image for every container (or `container`)."),
                                    "args": {"type": "array", "items": {"type": "string"}},
                                    "container": _str("Container the image/args helpers apply to."),
                                    "replicas": _int(0),
                                    "storageClassName": _str(),
                                }}},
                            "replicaScheduling": {
                                "type": "object", "default": {},
                                "properties": {
                                    "type": _str(enum=["Duplicated", "Divided"], default="Divided"),
                                    "clusters": {"type": "array", "items": {
                                        "type": "object", "required": ["name"],
                                        "properties": {"name": _str("A member name, or * for every other."),
                                                       "weight": _int(0, 1), "minReplicas": _int(0, 0),
                                                       "maxReplicas": _int(0)}}},
                                    "rebalance": {"type": "boolean", "default": False,
                                                  "description": "Move replicas back when a member recovers."},
                                    "ordinalSlices": {"type": "array", "description": (
                                        "StatefulSets: pinned ordinal slices per member (start, replicas); "
                                        "written by a fenced migration (kubekit.federation.migrate)."),
                                        "items": {"type": "object", "required": ["cluster"], "properties": {
                                            "cluster": _str("A member name."), "start": _int(0, 0),
                                            "replicas": _int(0, 0)}}},
                                },
                            },
                            "failover": {
                                "type": "object", "default": {},
                                "properties": {
                                    "purgeMode": _str(enum=["Directly", "Gracefully", "Never"], default="Gracefully"),
                                    "gracePeriodSeconds": _int(1, 600),
                                },
                            },
                            "serviceExport": {"type": "boolean", "default": True,
                                              "description": "Export a federated Service (MCS ServiceExport)."},
                        },
                    },
                    "status": {
                        "type": "object",
                        "properties": {
                            "observedGeneration": {"type": "integer", "format": "int64"},
                            "phase": _str(),
                            "conditions": _CONDITIONS,
                            "replicas": {"type": "integer"}, "readyReplicas": {"type": "integer"},
                            "ready": _str(), "placementSummary": _str(),
                            "placement": {"type": "array", "items": {"type": "object", "properties": {
                                "cluster": _str(), "replicas": {"type": "integer"},
                                "ordinalStart": {"type": "integer"}}}},
                            "clusters": {"type": "array", "items": {"type": "object", "properties": {
                                "name": _str(), "state": _str(), "replicas": {"type": "integer"},
                                "readyReplicas": {"type": "integer"}, "revision": _str(),
                                "drift": {"type": "array", "items": {"type": "string"}}, "message": _str()}}},
                            "evictions": {"type": "array", "items": {"type": "object", "properties": {
                                "cluster": _str(), "replicas": {"type": "integer"}, "purgeMode": _str(),
                                "reason": _str(), "since": {"type": "number"}, "deadline": {"type": "number"}}}},
                        },
                    },
                },
            }},
        }],
    },
}

CRDS = (MEMBER_CLUSTER, FEDERATED_WORKLOAD)

# The Multi-Cluster Services API's ServiceExport (kubernetes-sigs/mcs-api), installed in a member that
# lacks it, so a federated Service can be exported there.
SERVICE_EXPORT_CRD: dict[str, Any] = {
    "apiVersion": CRD_API, "kind": "CustomResourceDefinition",
    "metadata": {"name": "serviceexports.multicluster.x-k8s.io", "labels": _LABELS},
    "spec": {
        "group": "multicluster.x-k8s.io", "scope": "Namespaced",
        "names": {"plural": "serviceexports", "singular": "serviceexport", "kind": "ServiceExport",
                  "listKind": "ServiceExportList", "shortNames": ["svcex"]},
        "versions": [{
            "name": "v1alpha1", "served": True, "storage": True, "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {
                "type": "object",
                "description": "ServiceExport declares that the Service with the same name and namespace "
                               "as this export should be consumable from other clusters.",
                "properties": {
                    "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
                    "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            }},
        }],
    },
}


def install(rest: Rest, crds: tuple[dict[str, Any], ...] = CRDS, timeout: float = 30.0) -> list[str]:
    """Apply the CRDs (server-side apply, idempotent) and wait until they are Established."""
    names = []
    for crd in crds:
        rest.apply(crd)
        names.append(crd["metadata"]["name"])
    deadline = time.monotonic() + timeout
    for name in names:
        while True:
            live = rest.get(CRD_API, "CustomResourceDefinition", None, name) or {}
            conds = (live.get("status") or {}).get("conditions") or []
            if any(c.get("type") == "Established" and c.get("status") == "True" for c in conds):
                break
            if time.monotonic() > deadline:
                raise NotReady(f"CRD {name} not Established after {timeout:.0f} s")
            time.sleep(0.1)
    for crd in crds:
        rest.forget(f"{crd['spec']['group']}/{crd['spec']['versions'][0]['name']}")
    return names


def ensure(rest: Rest, crd: dict[str, Any]) -> bool:
    """Create ``crd`` if the cluster lacks it (never changes one that exists); True if created."""
    if rest.get(CRD_API, "CustomResourceDefinition", None, crd["metadata"]["name"]) is not None:
        return False
    install(rest, (crd,))
    return True
