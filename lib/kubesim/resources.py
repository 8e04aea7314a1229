"""The kinds kubesim serves, as small declarative records.

Discovery, routing, the OpenAPI documents and the Table printers are all
generated from this registry, so adding a kind here is what makes it exist.
Short names and categories are what kubectl resolves (it has no built-in list:
client-go ``restmapper/shortcut.go``), so they follow ``kubectl api-resources``
output of a 1.33 cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
READ_VERBS = ("get", "list", "watch")


@dataclass(frozen=True)
class ResourceType:
    """One served resource (group/version/plural), built in or from a CRD."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()
    # Which kinds of names upstream validation accepts (ValidateObjectMeta's nameFn):
    # "subdomain" (DNS-1123 subdomain), "label" (DNS-1123 label), "path" (path segment only).
    name_rule: str = "subdomain"
    # False for kinds whose update must carry metadata.resourceVersion (AllowUnconditionalUpdate).
    unconditional_update: bool = True
    # True when the kind has a status subresource, so main-resource writes ignore status
    # and metadata.generation follows spec changes.
    status_split: bool = False
    # Storage shared between versions/groups (events.k8s.io/v1 reads core/v1 events).
    storage: str = ""
    # For custom resources: the CRD version entry this type was built from.
    crd: dict[str, Any] | None = field(default=None, compare=False, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def key(self) -> str:
        """The storage key: one per group+plural (shared by versions)."""
        if self.storage:
            return self.storage
        return f"{self.group}/{self.plural}" if self.group else self.plural

    @property
    def group_resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
        return base


def _rt(group: str, version: str, kind: str, plural: str, namespaced: bool = True, **kw: Any) -> ResourceType:
    return ResourceType(group, version, kind, plural, namespaced, **kw)


_ALL = ("all",)

BUILTIN: tuple[ResourceType, ...] = (
    # core/v1
    _rt("", "v1", "Namespace", "namespaces", False, short_names=("ns",), subresources=("finalize", "status"),
        name_rule="label", status_split=True,
        verbs=("create", "delete", "get", "list", "patch", "update", "watch")),
    _rt("", "v1", "Pod", "pods", short_names=("po",), categories=_ALL, status_split=True,
        subresources=("attach", "binding", "ephemeralcontainers", "eviction", "exec", "log", "portforward",
                      "proxy", "resize", "status")),
    _rt("", "v1", "Service", "services", short_names=("svc",), categories=_ALL, name_rule="label",
        status_split=True, subresources=("proxy", "status"),
        verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")),
    _rt("", "v1", "Endpoints", "endpoints", short_names=("ep",)),
    _rt("", "v1", "ConfigMap", "configmaps", short_names=("cm",)),
    _rt("", "v1", "Secret", "secrets"),
    _rt("", "v1", "ServiceAccount", "serviceaccounts", short_names=("sa",), subresources=("token",)),
    _rt("", "v1", "Node", "nodes", False, short_names=("no",), status_split=True, subresources=("proxy", "status")),
    _rt("", "v1", "PersistentVolume", "persistentvolumes", False, short_names=("pv",), status_split=True,
        subresources=("status",)),
    _rt("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short_names=("pvc",), status_split=True,
        subresources=("status",)),
    _rt("", "v1", "Event", "events", short_names=("ev",), storage="events", name_rule="event"),
    _rt("", "v1", "ReplicationController", "replicationcontrollers", short_names=("rc",), categories=_ALL,
        status_split=True, subresources=("scale", "status")),
    _rt("", "v1", "LimitRange", "limitranges", short_names=("limits",)),
    _rt("", "v1", "ResourceQuota", "resourcequotas", short_names=("quota",), status_split=True,
        subresources=("status",)),
    _rt("", "v1", "PodTemplate", "podtemplates"),
    # apps/v1
    _rt("apps", "v1", "StatefulSet", "statefulsets", short_names=("sts",), categories=_ALL, status_split=True,
        subresources=("scale", "status")),
    _rt("apps", "v1", "Deployment", "deployments", short_names=("deploy",), categories=_ALL, status_split=True,
        subresources=("scale", "status")),
    _rt("apps", "v1", "ReplicaSet", "replicasets", short_names=("rs",), categories=_ALL, status_split=True,
        subresources=("scale", "status")),
    _rt("apps", "v1", "DaemonSet", "daemonsets", short_names=("ds",), categories=_ALL, status_split=True,
        subresources=("status",)),
    _rt("apps", "v1", "ControllerRevision", "controllerrevisions"),
    # batch/v1
    _rt("batch", "v1", "Job", "jobs", categories=_ALL, status_split=True, subresources=("status",)),
    _rt("batch", "v1", "CronJob", "cronjobs", short_names=("cj",), categories=_ALL, status_split=True,
        subresources=("status",)),
    # policy/v1
    _rt("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short_names=("pdb",), status_split=True,
        subresources=("status",)),
    # storage.k8s.io/v1
    _rt("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, short_names=("sc",)),
    _rt("storage.k8s.io", "v1", "CSIDriver", "csidrivers", False),
    _rt("storage.k8s.io", "v1", "CSINode", "csinodes", False),
    _rt("storage.k8s.io", "v1", "VolumeAttachment", "volumeattachments", False, status_split=True,
        subresources=("status",)),
    # coordination.k8s.io/v1
    _rt("coordination.k8s.io", "v1", "Lease", "leases"),
    # discovery.k8s.io/v1
    _rt("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    # events.k8s.io/v1 (a second view of the core events)
    _rt("events.k8s.io", "v1", "Event", "events", short_names=("ev",), storage="events", name_rule="event"),
    # rbac.authorization.k8s.io/v1
    _rt("rbac.authorization.k8s.io", "v1", "Role", "roles", name_rule="path"),
    _rt("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", name_rule="path"),
    _rt("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False, name_rule="path"),
    _rt("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False, name_rule="path"),
    # apiregistration.k8s.io/v1
    _rt("apiregistration.k8s.io", "v1", "APIService", "apiservices", False, status_split=True,
        subresources=("status",)),
    # apiextensions.k8s.io/v1
    _rt("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False,
        short_names=("crd", "crds"), status_split=True, subresources=("status",)),
)

# Group preference order as a real API server lists them in /apis.
GROUP_ORDER = (
    "apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io", "authorization.k8s.io",
    "autoscaling", "batch", "certificates.k8s.io", "networking.k8s.io", "policy", "rbac.authorization.k8s.io",
    "storage.k8s.io", "admissionregistration.k8s.io", "apiextensions.k8s.io", "scheduling.k8s.io",
    "coordination.k8s.io", "node.k8s.io", "discovery.k8s.io", "flowcontrol.apiserver.k8s.io",
)


class Registry:
    """The set of served resource types; CRDs add and remove entries at run time."""

    def __init__(self, types: Iterable[ResourceType] = BUILTIN) -> None:
        self._by_path: dict[tuple[str, str, str], ResourceType] = {}
        self._custom: set[tuple[str, str, str]] = set()
        self.generation = 0
        for rt in types:
            self.add(rt)

    def add(self, rt: ResourceType, custom: bool = False) -> None:
        k = (rt.group, rt.version, rt.plural)
        self._by_path[k] = rt
        if custom:
            self._custom.add(k)
        self.generation += 1

    def remove(self, group: str, version: str, plural: str) -> None:
        self._by_path.pop((group, version, plural), None)
        self._custom.discard((group, version, plural))
        self.generation += 1

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def is_custom(self, rt: ResourceType) -> bool:
        return (rt.group, rt.version, rt.plural) in self._custom

    def all(self) -> list[ResourceType]:
        return list(self._by_path.values())

    def for_kind(self, group: str, version: str, kind: str) -> ResourceType | None:
        for rt in self._by_path.values():
            if rt.group == group and rt.version == version and rt.kind == kind:
                return rt
        return None

    def by_key(self, key: str) -> ResourceType | None:
        """The preferred served type for a storage key (the first registered)."""
        cache = self.__dict__.get("_key_cache")
        if cache is None or cache[0] != self.generation:  # rebuilt when types come and go (CRDs)
            index: dict[str, ResourceType] = {}
            for rt in list(self._by_path.values()):
                index.setdefault(rt.key, rt)
            cache = self.__dict__["_key_cache"] = (self.generation, index)
        return cache[1].get(key)

    def groups(self) -> dict[str, list[str]]:
        """group -> served versions, in preferred order."""
        out: dict[str, list[str]] = {}
        for rt in self._by_path.values():
            versions = out.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        for g, versions in out.items():
            versions.sort(key=_version_priority, reverse=True)
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for rt in self._by_path.values() if rt.group == group and rt.version == version]


def _version_priority(version: str) -> tuple[int, int, int]:
    """Order versions as Kubernetes does: GA > beta > alpha, then by number."""
    import re

    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (-1, 0, 0)
    major = int(m.group(1))
    stage = {"alpha": 0, "beta": 1, None: 2}[m.group(2)]
    minor = int(m.group(3) or 0)
    return (stage, major, minor)


def selectable_fields(rt: ResourceType, obj: dict[str, Any]) -> dict[str, str]:
    """Field-selector values for one object (upstream ``*ToSelectableFields``)."""
    meta = obj.get("metadata") or {}
    fields = {"metadata.name": meta.get("name", "")}
    if rt.namespaced:
        fields["metadata.namespace"] = meta.get("namespace", "")
    key = rt.key
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    if key == "pods":
        fields.update({
            "spec.nodeName": spec.get("nodeName", "") or "",
            "spec.restartPolicy": spec.get("restartPolicy", "") or "",
            "spec.schedulerName": spec.get("schedulerName", "") or "",
            "spec.serviceAccountName": spec.get("serviceAccountName", "") or "",
            "spec.hostNetwork": "true" if spec.get("hostNetwork") else "false",
            "status.phase": status.get("phase", "") or "",
            "status.podIP": status.get("podIP", "") or "",
            "status.nominatedNodeName": status.get("nominatedNodeName", "") or "",
        })
    elif key == "events":
        inv = obj.get("involvedObject") or obj.get("regarding") or {}
        source = (obj.get("source") or {}).get("component") or obj.get("reportingController") or \
            obj.get("reportingComponent") or ""
        for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"):
            fields[f"involvedObject.{f}"] = str(inv.get(f, "") or "")
            fields[f"regarding.{f}"] = str(inv.get(f, "") or "")
        fields["reason"] = obj.get("reason", "") or ""
        fields["reportingComponent"] = obj.get("reportingComponent", "") or obj.get("reportingController", "") or ""
        fields["reportingController"] = fields["reportingComponent"]
        fields["source"] = source
        fields["type"] = obj.get("type", "") or ""
    elif key == "nodes":
        fields["spec.unschedulable"] = "true" if spec.get("unschedulable") else "false"
    elif key == "namespaces":
        fields["status.phase"] = status.get("phase", "") or ""
    elif key == "secrets":
        fields["type"] = obj.get("type", "") or ""
    elif key == "replicationcontrollers":
        fields["status.replicas"] = str(status.get("replicas", 0))
    elif key == "apps/replicasets":
        fields["status.replicas"] = str(status.get("replicas", 0))
    elif key == "batch/jobs":
        fields["status.successful"] = str(status.get("succeeded", 0))
    elif key == "persistentvolumeclaims" or key == "persistentvolumes":
        pass
    elif rt.crd is not None:
        for sf in (rt.crd.get("selectableFields") or []):
            path = sf.get("jsonPath", "").lstrip(".")
            cur: Any = obj
            for part in path.split("."):
                cur = cur.get(part) if isinstance(cur, dict) else None
            fields[path] = "" if cur is None else (str(cur).lower() if isinstance(cur, bool) else str(cur))
    return fields
