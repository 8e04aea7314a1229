"""API defaulting for the built-in kinds: what ``kubectl get -o yaml`` shows after create.

Three layers, applied in place on the JSON dict:

1. scheme defaulters (``pkg/apis/*/v1/defaults.go`` + ``zz_generated.defaults.go``);
2. mutating admission that every cluster runs (ServiceAccount, DefaultTolerationSeconds,
   Priority) for pods;
3. Go serialization of non-pointer structs: fields without ``omitempty`` and empty
   structs still appear (``status: {}``, ``resources: {}``, ``replicas: 0``), so a client
   comparing against a real server sees the same keys.

The registry-strategy resets (status on create, generation) live in ``strategy``.
"""

from __future__ import annotations

import random
from typing import Any

from ..resources import ResourceType
from . import podspec
from .podspec import set_rng
from .quantity import canonical_list
from .strategy import (generate_job_selector, pod_qos, prepare_for_create, prepare_for_status_update,
                       prepare_for_update, tracks_generation)

__all__ = ["apply_defaults", "prepare_for_create", "prepare_for_update", "prepare_for_status_update",
           "pod_qos", "set_rng", "generate_job_selector", "tracks_generation"]

Obj = dict[str, Any]

# Non-omitempty status fields of each kind's Go type (they serialize as 0 / {}).
_STATUS_ZERO: dict[str, Obj] = {
    "apps/statefulsets": {"replicas": 0, "availableReplicas": 0},
    "apps/replicasets": {"replicas": 0},
    "replicationcontrollers": {"replicas": 0},
    "apps/daemonsets": {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0,
                        "numberReady": 0},
    "policy/poddisruptionbudgets": {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0,
                                    "expectedPods": 0},
    "storage.k8s.io/volumeattachments": {"attached": False},
    "services": {"loadBalancer": {}},
    "apps/deployments": {}, "batch/jobs": {}, "batch/cronjobs": {}, "resourcequotas": {},
    "apiregistration.k8s.io/apiservices": {}, "pods": {}, "persistentvolumes": {},
    "persistentvolumeclaims": {}, "namespaces": {}, "nodes": {},
}
_NODE_INFO = ("architecture", "bootID", "containerRuntimeVersion", "kernelVersion", "kubeProxyVersion",
              "kubeletVersion", "machineID", "operatingSystem", "osImage", "systemUUID")


def apply_defaults(rt: ResourceType, obj: Obj, *, k8s_version: tuple[int, int] = (1, 33),
                   toleration_seconds: int = 300, operation: str | None = None,
                   rng: random.Random | None = None, service_account_automount: bool | None = None) -> None:
    """Default ``obj`` in place as decoding + admission would on a real API server.

    ``operation`` ("create"/"update") gates the create-only pod admission (service account
    token volume, priority); when None it is inferred: an object without ``metadata.uid``
    is being created. ``service_account_automount`` is the pod's ServiceAccount
    ``automountServiceAccountToken`` (None: not set, i.e. mount).
    """
    if rt.crd is not None:
        return
    fn = _BY_KEY.get(rt.key)
    if fn is not None:
        fn(obj, k8s_version)
    if rt.key == "pods":
        spec = obj.setdefault("spec", {})
        creating = operation == "create" if operation else not (obj.get("metadata") or {}).get("uid")
        if creating:
            podspec.service_account(spec, automount=service_account_automount, rng=rng)
            podspec.default_priority(spec)
        podspec.default_tolerations(spec, toleration_seconds)
    zero = _STATUS_ZERO.get(rt.key)
    if zero is not None:
        status = obj.get("status")
        if not isinstance(status, dict):
            status = obj["status"] = {}
        for k, v in zero.items():
            status.setdefault(k, dict(v) if isinstance(v, dict) else v)


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    return spec


def _labels(obj: Obj) -> Obj | None:
    return (obj.get("metadata") or {}).get("labels")


def _pod(obj: Obj, v: tuple[int, int]) -> None:
    podspec.pod_spec(_spec(obj), is_pod=True)


def _pod_template(obj: Obj, v: tuple[int, int]) -> None:
    podspec.template(obj.get("template"), v)


def _rc(obj: Obj, v: tuple[int, int]) -> None:
    # SetDefaults_ReplicationController: selector and labels from the template.
    spec = _spec(obj)
    tmpl = spec.get("template")
    tlabels = ((tmpl or {}).get("metadata") or {}).get("labels") if isinstance(tmpl, dict) else None
    if tlabels is not None:
        if not spec.get("selector"):
            spec["selector"] = dict(tlabels)
        meta = obj.setdefault("metadata", {})
        if not meta.get("labels"):
            meta["labels"] = dict(tlabels)
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if tmpl is not None:
        podspec.template(tmpl, v)


def _deployment(obj: Obj, v: tuple[int, int]) -> None:
    spec = _spec(obj)
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = spec.get("strategy")
    if not isinstance(strategy, dict):
        strategy = spec["strategy"] = {}
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        ru = strategy.get("rollingUpdate")
        if not isinstance(ru, dict):
            ru = strategy["rollingUpdate"] = {}
        ru.setdefault("maxUnavailable", "25%")
        ru.setdefault("maxSurge", "25%")
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    podspec.template(spec.setdefault("template", {}), v)


def _replicaset(obj: Obj, v: tuple[int, int]) -> None:
    spec = _spec(obj)
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    podspec.template(spec.setdefault("template", {}), v)


def _daemonset(obj: Obj, v: tuple[int, int]) -> None:
    spec = _spec(obj)
    us = spec.get("updateStrategy")
    if not isinstance(us, dict):
        us = spec["updateStrategy"] = {}
    if not us.get("type"):
        us["type"] = "RollingUpdate"
    if us["type"] == "RollingUpdate":
        ru = us.get("rollingUpdate")
        if not isinstance(ru, dict):
            ru = us["rollingUpdate"] = {}
        ru.setdefault("maxUnavailable", 1)
        ru.setdefault("maxSurge", 0)
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    podspec.template(spec.setdefault("template", {}), v)


def _statefulset(obj: Obj, v: tuple[int, int]) -> None:
    # SetDefaults_StatefulSet (pkg/apis/apps/v1/defaults.go).
    spec = _spec(obj)
    if not spec.get("podManagementPolicy"):
        spec["podManagementPolicy"] = "OrderedReady"
    us = spec.get("updateStrategy")
    if not isinstance(us, dict):
        us = spec["updateStrategy"] = {}
    if not us.get("type"):
        us["type"] = "RollingUpdate"
        if us.get("rollingUpdate") is None:
            us["rollingUpdate"] = {}
    ru = us.get("rollingUpdate")
    if us["type"] == "RollingUpdate" and isinstance(ru, dict):
        if ru.get("partition") is None:
            ru["partition"] = 0
        # MaxUnavailableStatefulSet is beta (on) from 1.35 only.
        if v >= (1, 35) and ru.get("maxUnavailable") is None:
            ru["maxUnavailable"] = 1
    # StatefulSetAutoDeletePVC: beta (on) since 1.27, GA 1.32.
    pol = spec.get("persistentVolumeClaimRetentionPolicy")
    if not isinstance(pol, dict):
        pol = spec["persistentVolumeClaimRetentionPolicy"] = {}
    if not pol.get("whenDeleted"):
        pol["whenDeleted"] = "Retain"
    if not pol.get("whenScaled"):
        pol["whenScaled"] = "Retain"
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    podspec.template(spec.setdefault("template", {}), v)
    for claim in spec.get("volumeClaimTemplates") or []:
        if isinstance(claim, dict):
            _pvc(claim, v)
            podspec.object_meta_zero(claim.setdefault("metadata", {}), v)


def _job_spec_template(spec: Obj, v: tuple[int, int]) -> None:
    podspec.template(spec.setdefault("template", {}), v)


def _job(obj: Obj, v: tuple[int, int]) -> None:
    # SetDefaults_Job (pkg/apis/batch/v1/defaults.go).
    spec = _spec(obj)
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6
    tlabels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    meta = obj.setdefault("metadata", {})
    if tlabels is not None and not meta.get("labels"):
        meta["labels"] = dict(tlabels)
    if spec.get("completionMode") is None:
        spec["completionMode"] = "NonIndexed"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    pfp = spec.get("podFailurePolicy")
    if isinstance(pfp, dict):
        for rule in pfp.get("rules") or []:
            for pat in (rule.get("onPodConditions") or []) if isinstance(rule, dict) else []:
                if isinstance(pat, dict) and not pat.get("status"):
                    pat["status"] = "True"
    if spec.get("podReplacementPolicy") is None:  # JobPodReplacementPolicy beta (on) since 1.29
        spec["podReplacementPolicy"] = "Failed" if pfp is not None else "TerminatingOrFailed"
    if spec.get("manualSelector") is None:
        spec["manualSelector"] = False
    _job_spec_template(spec, v)


def _cronjob(obj: Obj, v: tuple[int, int]) -> None:
    spec = _spec(obj)
    if not spec.get("concurrencyPolicy"):
        spec["concurrencyPolicy"] = "Allow"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("successfulJobsHistoryLimit") is None:
        spec["successfulJobsHistoryLimit"] = 3
    if spec.get("failedJobsHistoryLimit") is None:
        spec["failedJobsHistoryLimit"] = 1
    jt = spec.get("jobTemplate")
    if not isinstance(jt, dict):
        jt = spec["jobTemplate"] = {}
    podspec.object_meta_zero(jt.setdefault("metadata", {}), v)
    jspec = jt.get("spec")
    if not isinstance(jspec, dict):
        jspec = jt["spec"] = {}
    _job_spec_template(jspec, v)


def _service(obj: Obj, v: tuple[int, int]) -> None:
    # SetDefaults_Service plus the IP family fields the service REST allocator fills.
    spec = _spec(obj)
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        cfg = spec.get("sessionAffinityConfig")
        if not isinstance(cfg, dict) or not isinstance(cfg.get("clientIP"), dict) or \
                cfg["clientIP"].get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    typ = spec["type"]
    for p in spec.get("ports") or []:
        if not isinstance(p, dict):
            continue
        if not p.get("protocol"):
            p["protocol"] = "TCP"
        if p.get("targetPort") in (None, 0, ""):
            p["targetPort"] = p.get("port")
    external = typ in ("NodePort", "LoadBalancer") or bool(spec.get("externalIPs"))
    if external and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and typ in ("ClusterIP", "NodePort", "LoadBalancer"):
        spec["internalTrafficPolicy"] = "Cluster"
    if typ == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    if typ == "ExternalName":
        return
    # initIPFamilyFields (pkg/registry/core/service/storage/alloc.go), single-stack IPv4 cluster.
    headless_no_selector = spec.get("clusterIP") == "None" and not spec.get("selector")
    if spec.get("ipFamilyPolicy") is None:
        spec["ipFamilyPolicy"] = "RequireDualStack" if headless_no_selector else "SingleStack"
    if not spec.get("ipFamilies"):
        spec["ipFamilies"] = ["IPv4"]
    if spec.get("clusterIP") and not spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]]
    if spec.get("clusterIPs") and not spec.get("clusterIP"):
        spec["clusterIP"] = spec["clusterIPs"][0]


def _pvc(obj: Obj, v: tuple[int, int]) -> None:
    podspec.pvc_spec(_spec(obj))
    status = obj.get("status")
    if not isinstance(status, dict):
        status = obj["status"] = {}
    if not status.get("phase"):
        status["phase"] = "Pending"
    canonical_list(status.get("capacity"))
    canonical_list(status.get("allocatedResources"))


def _pv(obj: Obj, v: tuple[int, int]) -> None:
    spec = _spec(obj)
    status = obj.get("status")
    if not isinstance(status, dict):
        status = obj["status"] = {}
    if not status.get("phase"):
        status["phase"] = "Pending"
    if not spec.get("persistentVolumeReclaimPolicy"):
        spec["persistentVolumeReclaimPolicy"] = "Retain"
    if not spec.get("volumeMode"):
        spec["volumeMode"] = "Filesystem"
    canonical_list(spec.get("capacity"))
    hp = spec.get("hostPath")
    if isinstance(hp, dict) and hp.get("type") is None:
        hp["type"] = ""


def _namespace(obj: Obj, v: tuple[int, int]) -> None:
    meta = obj.setdefault("metadata", {})
    if meta.get("name"):
        labels = meta.get("labels")
        if not isinstance(labels, dict):
            labels = meta["labels"] = {}
        labels["kubernetes.io/metadata.name"] = meta["name"]
    status = obj.get("status")
    if not isinstance(status, dict):
        status = obj["status"] = {}
    if not status.get("phase"):
        status["phase"] = "Active"


def _node(obj: Obj, v: tuple[int, int]) -> None:
    status = obj.get("status")
    if not isinstance(status, dict):
        status = obj["status"] = {}
    canonical_list(status.get("capacity"))
    if status.get("allocatable") is None and isinstance(status.get("capacity"), dict):
        status["allocatable"] = dict(status["capacity"])
    canonical_list(status.get("allocatable"))
    de = status.get("daemonEndpoints")
    if not isinstance(de, dict):
        de = status["daemonEndpoints"] = {}
    ke = de.get("kubeletEndpoint")
    if not isinstance(ke, dict):
        ke = de["kubeletEndpoint"] = {}
    ke.setdefault("Port", 0)
    info = status.get("nodeInfo")
    if not isinstance(info, dict):
        info = status["nodeInfo"] = {}
    for k in _NODE_INFO:
        info.setdefault(k, "")


def _secret(obj: Obj, v: tuple[int, int]) -> None:
    if not obj.get("type"):
        obj["type"] = "Opaque"


def _endpoints(obj: Obj, v: tuple[int, int]) -> None:
    for ss in obj.get("subsets") or []:
        for p in (ss.get("ports") or []) if isinstance(ss, dict) else []:
            if isinstance(p, dict) and not p.get("protocol"):
                p["protocol"] = "TCP"


def _endpointslice(obj: Obj, v: tuple[int, int]) -> None:
    # SetDefaults_EndpointPort (pkg/apis/discovery/v1/defaults.go).
    for p in obj.get("ports") or []:
        if isinstance(p, dict):
            if p.get("name") is None:
                p["name"] = ""
            if not p.get("protocol"):
                p["protocol"] = "TCP"


def _storageclass(obj: Obj, v: tuple[int, int]) -> None:
    # SetDefaults_StorageClass (pkg/apis/storage/v1/defaults.go).
    if not obj.get("reclaimPolicy"):
        obj["reclaimPolicy"] = "Delete"
    if not obj.get("volumeBindingMode"):
        obj["volumeBindingMode"] = "Immediate"


def _csidriver(obj: Obj, v: tuple[int, int]) -> None:
    spec = _spec(obj)
    for k, d in (("attachRequired", True), ("podInfoOnMount", False), ("storageCapacity", False),
                 ("fsGroupPolicy", "ReadWriteOnceWithFSType"), ("requiresRepublish", False),
                 ("seLinuxMount", False)):
        if spec.get(k) is None:
            spec[k] = d
    if not spec.get("volumeLifecycleModes"):
        spec["volumeLifecycleModes"] = ["Persistent"]


def _rbac_binding(obj: Obj, v: tuple[int, int]) -> None:
    # SetDefaults_RoleBinding / SetDefaults_Subject (pkg/apis/rbac/v1/defaults.go).
    ref = obj.get("roleRef")
    if isinstance(ref, dict) and not ref.get("apiGroup"):
        ref["apiGroup"] = "rbac.authorization.k8s.io"
    for s in obj.get("subjects") or []:
        if isinstance(s, dict) and not s.get("apiGroup") and s.get("kind") in ("User", "Group"):
            s["apiGroup"] = "rbac.authorization.k8s.io"


def _resourcequota(obj: Obj, v: tuple[int, int]) -> None:
    canonical_list((obj.get("spec") or {}).get("hard"))
    st = obj.get("status") or {}
    canonical_list(st.get("hard"))
    canonical_list(st.get("used"))


def _limitrange(obj: Obj, v: tuple[int, int]) -> None:
    for item in (obj.get("spec") or {}).get("limits") or []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "Container":
            # SetDefaults_LimitRangeItem: default <- max, defaultRequest <- default <- min.
            default = item.setdefault("default", {})
            dreq = item.setdefault("defaultRequest", {})
            for k, q in (item.get("max") or {}).items():
                default.setdefault(k, q)
            for k, q in default.items():
                dreq.setdefault(k, q)
            for k, q in (item.get("min") or {}).items():
                dreq.setdefault(k, q)
            if not default:
                del item["default"]
            if not dreq:
                del item["defaultRequest"]
        for k in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            canonical_list(item.get(k))


_BY_KEY = {
    "pods": _pod,
    "podtemplates": _pod_template,
    "replicationcontrollers": _rc,
    "apps/deployments": _deployment,
    "apps/replicasets": _replicaset,
    "apps/daemonsets": _daemonset,
    "apps/statefulsets": _statefulset,
    "batch/jobs": _job,
    "batch/cronjobs": _cronjob,
    "services": _service,
    "persistentvolumeclaims": _pvc,
    "persistentvolumes": _pv,
    "namespaces": _namespace,
    "nodes": _node,
    "secrets": _secret,
    "endpoints": _endpoints,
    "discovery.k8s.io/endpointslices": _endpointslice,
    "storage.k8s.io/storageclasses": _storageclass,
    "storage.k8s.io/csidrivers": _csidriver,
    "rbac.authorization.k8s.io/rolebindings": _rbac_binding,
    "rbac.authorization.k8s.io/clusterrolebindings": _rbac_binding,
    "resourcequotas": _resourcequota,
    "limitranges": _limitrange,
}
