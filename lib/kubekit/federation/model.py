"""The federation's objects as plain, frozen values, parsed and checked without any I/O.

``parse_member`` and ``parse_workload`` turn a ``MemberCluster`` / ``FederatedWorkload``
(a dict, as the API returns it or as a user writes it) into the dataclasses below,
applying the same defaults as the CRD schema, so ``plan()`` gives the same answer
before and after the object is stored. ``check_workload`` validates a workload
against the registered members. Every problem raises :class:`InvalidWorkload`
whose ``reason`` becomes the condition reason on the object; the controller then
applies nothing for that workload.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from kubekit.errors import InvalidWorkload

GROUP = "kubekit.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
FIELD_MANAGER = "kubekit-federation"
NAMESPACE = "kubekit-federation"  # where member kubeconfig Secrets and the controller's Lease live

# Labels and annotations on everything the controller creates in a member.
LABEL_WORKLOAD = "kubekit.io/federated-workload"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "kubekit-federation"
ANNOTATION_CLUSTER = "kubekit.io/member-cluster"
ANNOTATION_HOST_UID = "kubekit.io/federated-workload-uid"
REGION_LABEL = "topology.kubernetes.io/region"
ZONE_LABEL = "topology.kubernetes.io/zone"

# Member states: KubeFed/Fed v1 semantics (Ready, NotReady = answered but unhealthy, Offline = no answer).
READY, NOT_READY, OFFLINE, UNKNOWN = "Ready", "NotReady", "Offline", "Unknown"
DUPLICATED, DIVIDED = "Duplicated", "Divided"
DIRECTLY, GRACEFULLY, NEVER = "Directly", "Gracefully", "Never"
PURGE_MODES = (DIRECTLY, GRACEFULLY, NEVER)
SPREAD_FIELDS = ("cluster", "region", "zone")
# Kinds whose spec.replicas the federation divides (group, kind).
REPLICA_KINDS = {("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "StatefulSet")}
# Kinds that can never be federated into a namespace.
CLUSTER_SCOPED = {"Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding", "StorageClass",
                  "CustomResourceDefinition", "PriorityClass", "ValidatingWebhookConfiguration",
                  "MutatingWebhookConfiguration", "IngressClass", "CSIDriver", "RuntimeClass"}

# KubeFed's cluster health check defaults (pkg/apis/core/v1beta1/defaults/defaults.go).
DEFAULT_PERIOD_S = 10
DEFAULT_TIMEOUT_S = 3
DEFAULT_FAILURE_THRESHOLD = 3
DEFAULT_SUCCESS_THRESHOLD = 1
# Karmada's graceful eviction timeout (--graceful-eviction-timeout, 10 min).
DEFAULT_GRACE_PERIOD_S = 600


@dataclass(frozen=True)
class HealthCheck:
    period_s: float = DEFAULT_PERIOD_S
    timeout_s: float = DEFAULT_TIMEOUT_S
    failure_threshold: int = DEFAULT_FAILURE_THRESHOLD
    success_threshold: int = DEFAULT_SUCCESS_THRESHOLD

    @property
    def detection_s(self) -> float:
        """Worst case from the last good probe to Offline: failureThreshold periods plus one timeout."""
        return self.period_s * self.failure_threshold + self.timeout_s


@dataclass(frozen=True)
class Taint:
    key: str
    value: str = ""
    effect: str = "NoSchedule"


@dataclass(frozen=True)
class Toleration:
    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""

    def tolerates(self, taint: Taint) -> bool:
        if self.effect and self.effect != taint.effect:
            return False
        if self.operator == "Exists":
            return not self.key or self.key == taint.key
        return self.key == taint.key and self.value == taint.value


@dataclass(frozen=True)
class Member:
    """A member cluster as the scheduler sees it: where it is, its labels, taints and health."""

    name: str
    region: str = ""
    zone: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    taints: tuple[Taint, ...] = ()
    health_check: HealthCheck = HealthCheck()
    state: str = UNKNOWN
    secret_namespace: str = NAMESPACE
    secret_name: str = ""
    secret_key: str = "kubeconfig"
    context: str = ""

    @property
    def label_map(self) -> dict[str, str]:
        out = dict(self.labels)
        if self.region:
            out.setdefault(REGION_LABEL, self.region)
        if self.zone:
            out.setdefault(ZONE_LABEL, self.zone)
        return out

    @property
    def ready(self) -> bool:
        return self.state == READY

    def group(self, spread_field: str) -> str:
        return {"cluster": self.name, "region": self.region, "zone": self.zone}[spread_field]


@dataclass(frozen=True)
class ClusterPreference:
    """Weight and bounds for one cluster, or for every other cluster when ``name`` is ``*``."""

    name: str
    weight: int = 1
    min_replicas: int = 0
    max_replicas: int | None = None


@dataclass(frozen=True)
class SpreadConstraint:
    field: str = "cluster"
    min_groups: int = 1
    max_groups: int | None = None


@dataclass(frozen=True)
class Placement:
    clusters: tuple[str, ...] | None = None  # None: not restricted by name
    selector: dict[str, Any] | None = None  # a metav1.LabelSelector over member labels
    spread: tuple[SpreadConstraint, ...] = ()
    tolerations: tuple[Toleration, ...] = ()


@dataclass(frozen=True)
class Patch:
    op: str
    path: str
    value: Any = None


@dataclass(frozen=True)
class Override:
    cluster: str
    patches: tuple[Patch, ...] = ()
    image: str | None = None
    args: tuple[str, ...] | None = None
    container: str | None = None
    replicas: int | None = None
    storage_class: str | None = None


@dataclass(frozen=True)
class OrdinalSlice:
    """A StatefulSet's ordinals ``[start, start + replicas)`` pinned to one member (a migration moves these)."""

    cluster: str
    start: int
    replicas: int

    @property
    def stop(self) -> int:
        return self.start + self.replicas


@dataclass(frozen=True)
class Scheduling:
    type: str = DIVIDED
    preferences: tuple[ClusterPreference, ...] = ()
    rebalance: bool = False
    slices: tuple[OrdinalSlice, ...] = ()  # explicit ordinal slices (StatefulSets): override the division

    def preference_for(self, cluster: str) -> ClusterPreference | None:
        """The cluster's own entry, else ``*``; with no entries at all every cluster weighs 1."""
        if not self.preferences:
            return ClusterPreference(cluster)
        for pref in self.preferences:
            if pref.name == cluster:
                return pref
        for pref in self.preferences:
            if pref.name == "*":
                return ClusterPreference(cluster, pref.weight, pref.min_replicas, pref.max_replicas)
        return None


@dataclass(frozen=True)
class Failover:
    purge_mode: str = GRACEFULLY
    grace_period_s: float = DEFAULT_GRACE_PERIOD_S


@dataclass(frozen=True)
class Workload:
    namespace: str
    name: str
    template: dict[str, Any] = field(compare=False, hash=False)
    placement: Placement = Placement()
    overrides: tuple[Override, ...] = ()
    scheduling: Scheduling = Scheduling()
    failover: Failover = Failover()
    service_export: bool = True
    generation: int = 0
    uid: str = ""
    deleting: bool = False

    @property
    def kind(self) -> str:
        return str(self.template.get("kind", ""))

    @property
    def api_version(self) -> str:
        return str(self.template.get("apiVersion", ""))

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def object_name(self) -> str:
        return str((self.template.get("metadata") or {}).get("name") or self.name)

    @property
    def divisible(self) -> bool:
        """Has spec.replicas the federation may divide."""
        return (self.group, self.kind) in REPLICA_KINDS

    @property
    def stateful(self) -> bool:
        return self.group == "apps" and self.kind == "StatefulSet"

    @property
    def divided(self) -> bool:
        return self.divisible and self.scheduling.type == DIVIDED

    @property
    def replicas(self) -> int:
        value = (self.template.get("spec") or {}).get("replicas")
        return 1 if value is None else int(value)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def override_for(self, cluster: str) -> list[Override]:
        return [o for o in self.overrides if o.cluster == cluster]


# -- parsing ---------------------------------------------------------------------------------


def _int(value: Any, where: str, *, minimum: int = 0, default: int | None = None,
         reason: str = "InvalidSpec") -> int | None:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidWorkload(reason, where, value, "must be an integer")
    if value < minimum:
        raise InvalidWorkload(reason, where, value, f"must be at least {minimum}")
    return value


def _condition_state(status: dict[str, Any]) -> str:
    state = status.get("state")
    if state in (READY, NOT_READY, OFFLINE):
        return str(state)
    return UNKNOWN


def parse_member(obj: dict[str, Any]) -> Member:
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    name = meta.get("name") or ""
    hc = spec.get("healthCheck") or {}
    where = f"MemberCluster {name} spec.healthCheck"
    health = HealthCheck(
        period_s=float(hc.get("periodSeconds") or DEFAULT_PERIOD_S),
        timeout_s=float(hc.get("timeoutSeconds") or DEFAULT_TIMEOUT_S),
        failure_threshold=_int(hc.get("failureThreshold"), f"{where}.failureThreshold", minimum=1,
                               default=DEFAULT_FAILURE_THRESHOLD) or DEFAULT_FAILURE_THRESHOLD,
        success_threshold=_int(hc.get("successThreshold"), f"{where}.successThreshold", minimum=1,
                               default=DEFAULT_SUCCESS_THRESHOLD) or DEFAULT_SUCCESS_THRESHOLD,
    )
    ref = spec.get("secretRef") or {}
    labels = dict(meta.get("labels") or {})
    return Member(
        name=name,
        region=spec.get("region") or labels.get(REGION_LABEL, ""),
        zone=spec.get("zone") or labels.get(ZONE_LABEL, ""),
        labels=tuple(sorted(labels.items())),
        taints=tuple(Taint(t.get("key", ""), t.get("value", "") or "", t.get("effect", "NoSchedule"))
                     for t in spec.get("taints") or []),
        health_check=health,
        state=_condition_state(status),
        secret_namespace=ref.get("namespace") or NAMESPACE,
        secret_name=ref.get("name") or "",
        secret_key=ref.get("key") or "kubeconfig",
        context=spec.get("context") or "",
    )


def _selector(sel: Any, where: str) -> dict[str, Any] | None:
    if sel is None:
        return None
    if not isinstance(sel, dict):
        raise InvalidWorkload("InvalidPlacement", where, sel, "must be a label selector (matchLabels, matchExpressions)")
    for i, expr in enumerate(sel.get("matchExpressions") or []):
        op = expr.get("operator")
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise InvalidWorkload("InvalidPlacement", f"{where}.matchExpressions[{i}].operator", op,
                                  "must be In, NotIn, Exists or DoesNotExist")
        if op in ("In", "NotIn") and not expr.get("values"):
            raise InvalidWorkload("InvalidPlacement", f"{where}.matchExpressions[{i}].values", expr.get("values"),
                                  f"must be non-empty for {op}")
    return sel


def parse_workload(obj: dict[str, Any]) -> Workload:
    """The workload with the CRD's defaults applied; raises InvalidWorkload on a malformed spec."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    name = meta.get("name") or ""
    namespace = meta.get("namespace") or "default"
    template = copy.deepcopy(spec.get("template") or {})
    if not template.get("apiVersion") or not template.get("kind"):
        raise InvalidWorkload("InvalidTemplate", "spec.template", "", "needs apiVersion and kind",
                              "Put the whole object (Deployment, StatefulSet, Service ...) under spec.template")
    if template["kind"] in CLUSTER_SCOPED:
        raise InvalidWorkload("InvalidTemplate", "spec.template.kind", template["kind"],
                              "is cluster-scoped; a FederatedWorkload carries namespaced objects only")
    tmeta = template.get("metadata") or {}
    if tmeta.get("namespace") not in (None, "", namespace):
        raise InvalidWorkload("InvalidTemplate", "spec.template.metadata.namespace", tmeta.get("namespace"),
                              f"must be empty or {namespace!r}: members get the object in the workload's namespace")

    pl = spec.get("placement") or {}
    clusters = pl.get("clusters")
    spread = []
    for i, sc in enumerate(pl.get("spreadConstraints") or []):
        where = f"spec.placement.spreadConstraints[{i}]"
        by = sc.get("spreadByField", "cluster")
        if by not in SPREAD_FIELDS:
            raise InvalidWorkload("InvalidPlacement", f"{where}.spreadByField", by, "must be cluster, region or zone")
        lo = _int(sc.get("minGroups"), f"{where}.minGroups", default=1, reason="InvalidPlacement")
        hi = _int(sc.get("maxGroups"), f"{where}.maxGroups", minimum=1, reason="InvalidPlacement")
        if hi is not None and lo is not None and lo > hi:
            raise InvalidWorkload("InvalidPlacement", f"{where}.minGroups", lo, f"is greater than maxGroups {hi}")
        spread.append(SpreadConstraint(by, lo or 0, hi))
    placement = Placement(
        clusters=tuple(clusters) if clusters is not None else None,
        selector=_selector(pl.get("clusterSelector"), "spec.placement.clusterSelector"),
        spread=tuple(spread),
        tolerations=tuple(Toleration(t.get("key", ""), t.get("operator", "Equal"), t.get("value", "") or "",
                                     t.get("effect", "") or "") for t in pl.get("clusterTolerations") or []),
    )

    overrides = []
    for i, o in enumerate(spec.get("overrides") or []):
        where = f"spec.overrides[{i}]"
        if not o.get("clusterName"):
            raise InvalidWorkload("InvalidOverride", f"{where}.clusterName", o.get("clusterName"), "is required")
        patches = []
        for j, p in enumerate(o.get("clusterOverrides") or []):
            op = p.get("op") or "replace"
            if op not in ("add", "remove", "replace"):
                raise InvalidWorkload("InvalidOverride", f"{where}.clusterOverrides[{j}].op", op,
                                      "must be add, remove or replace")
            path = p.get("path") or ""
            if not path.startswith("/"):
                raise InvalidWorkload("InvalidOverride", f"{where}.clusterOverrides[{j}].path", path,
                                      "must be a JSON pointer such as /spec/template/spec/containers/0/image")
            patches.append(Patch(op, path, p.get("value")))
        args = o.get("args")
        overrides.append(Override(
            cluster=o["clusterName"], patches=tuple(patches), image=o.get("image"),
            args=tuple(args) if args is not None else None, container=o.get("container"),
            replicas=_int(o.get("replicas"), f"{where}.replicas", reason="InvalidOverride"),
            storage_class=o.get("storageClassName"),
        ))

    rs = spec.get("replicaScheduling") or {}
    stype = rs.get("type") or DIVIDED
    if stype not in (DUPLICATED, DIVIDED):
        raise InvalidWorkload("InvalidScheduling", "spec.replicaScheduling.type", stype, "must be Duplicated or Divided")
    prefs = []
    seen = set()
    for i, c in enumerate(rs.get("clusters") or []):
        where = f"spec.replicaScheduling.clusters[{i}]"
        cname = c.get("name") or ""
        if not cname:
            raise InvalidWorkload("InvalidScheduling", f"{where}.name", cname, "is required (a member name or *)")
        if cname in seen:
            raise InvalidWorkload("InvalidScheduling", f"{where}.name", cname, "appears twice")
        seen.add(cname)
        lo = _int(c.get("minReplicas"), f"{where}.minReplicas", default=0, reason="InvalidScheduling") or 0
        hi = _int(c.get("maxReplicas"), f"{where}.maxReplicas", reason="InvalidScheduling")
        if hi is not None and lo > hi:
            raise InvalidWorkload("MinGreaterThanMax", f"{where}.minReplicas", lo,
                                  f"is greater than maxReplicas {hi} for {cname}", "Lower minReplicas or raise maxReplicas")
        weight = _int(c.get("weight"), f"{where}.weight", default=1, reason="InvalidScheduling")
        prefs.append(ClusterPreference(cname, 1 if weight is None else weight, lo, hi))
    scheduling = Scheduling(stype, tuple(prefs), bool(rs.get("rebalance", False)), _slices(rs.get("ordinalSlices")))

    fo = spec.get("failover") or {}
    mode = fo.get("purgeMode") or GRACEFULLY
    if mode not in PURGE_MODES:
        raise InvalidWorkload("InvalidFailover", "spec.failover.purgeMode", mode, "must be Directly, Gracefully or Never")
    grace = fo.get("gracePeriodSeconds")
    failover = Failover(mode, float(DEFAULT_GRACE_PERIOD_S if grace is None else
                                    _int(grace, "spec.failover.gracePeriodSeconds", minimum=1,
                                         reason="InvalidFailover") or 1))

    wl = Workload(namespace=namespace, name=name, template=template, placement=placement,
                  overrides=tuple(overrides), scheduling=scheduling, failover=failover,
                  service_export=bool(spec.get("serviceExport", True)), generation=int(meta.get("generation") or 0),
                  uid=meta.get("uid") or "", deleting=bool(meta.get("deletionTimestamp")))
    if wl.divisible and (template.get("spec") or {}).get("replicas") is not None:
        _int(template["spec"]["replicas"], "spec.template.spec.replicas", reason="InvalidTemplate")
    if scheduling.slices and not (wl.stateful and wl.divided):
        raise InvalidWorkload("InvalidScheduling", "spec.replicaScheduling.ordinalSlices", len(scheduling.slices),
                              "only a Divided StatefulSet has ordinal slices")
    if wl.stateful:
        for o in wl.overrides:
            bad = [p.path for p in o.patches if p.path.startswith(("/spec/replicas", "/spec/ordinals"))]
            if o.replicas is not None or bad:
                raise InvalidWorkload("InvalidOverride", f"spec.overrides[{o.cluster}]", bad or o.replicas,
                                      "a StatefulSet's replicas and ordinals come from its ordinal slices",
                                      "Change spec.replicaScheduling instead; moving pets is an explicit migration")
    return wl


def _slices(raw: Any) -> tuple[OrdinalSlice, ...]:
    """``spec.replicaScheduling.ordinalSlices``: pinned, disjoint slices (what ``kubekit.federation.migrate`` writes)."""
    out: list[OrdinalSlice] = []
    for i, item in enumerate(raw or []):
        where = f"spec.replicaScheduling.ordinalSlices[{i}]"
        cluster = (item or {}).get("cluster") or ""
        if not cluster:
            raise InvalidWorkload("InvalidScheduling", f"{where}.cluster", cluster, "is required")
        if any(s.cluster == cluster for s in out):
            raise InvalidWorkload("InvalidScheduling", f"{where}.cluster", cluster, "appears twice")
        start = _int(item.get("start"), f"{where}.start", default=0, reason="InvalidScheduling") or 0
        replicas = _int(item.get("replicas"), f"{where}.replicas", default=0, reason="InvalidScheduling") or 0
        out.append(OrdinalSlice(cluster, start, replicas))
    held = sorted((s for s in out if s.replicas), key=lambda s: s.start)
    for a, b in zip(held, held[1:]):
        if b.start < a.stop:
            raise InvalidWorkload("OrdinalConflict", "spec.replicaScheduling.ordinalSlices", f"{a.cluster}, {b.cluster}",
                                  f"ordinals {b.start}..{min(a.stop, b.stop) - 1} would be in two clusters",
                                  "Pet names must stay unique across the federation")
    return tuple(out)


def check_workload(wl: Workload, members: dict[str, Member]) -> None:
    """What can only be checked against the registered members; raises InvalidWorkload."""
    for name in wl.placement.clusters or ():
        if name not in members:
            raise InvalidWorkload("UnknownCluster", "spec.placement.clusters", name, "is not a registered MemberCluster",
                                  f"Registered: {', '.join(sorted(members)) or 'none'}")
    for o in wl.overrides:
        if o.cluster not in members:
            raise InvalidWorkload("UnknownCluster", "spec.overrides.clusterName", o.cluster,
                                  "is not a registered MemberCluster", f"Registered: {', '.join(sorted(members)) or 'none'}")
    for sl in wl.scheduling.slices:
        if sl.cluster not in members:
            raise InvalidWorkload("UnknownCluster", "spec.replicaScheduling.ordinalSlices.cluster", sl.cluster,
                                  "is not a registered MemberCluster", f"Registered: {', '.join(sorted(members)) or 'none'}")
    for p in wl.scheduling.preferences:
        if p.name != "*" and p.name not in members:
            raise InvalidWorkload("UnknownCluster", "spec.replicaScheduling.clusters.name", p.name,
                                  "is not a registered MemberCluster", f"Registered: {', '.join(sorted(members)) or 'none'}")
