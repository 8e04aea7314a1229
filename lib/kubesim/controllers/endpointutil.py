"""Pod and Service helpers shared by the endpoints, endpointslice and disruption controllers.

Each function restates one upstream helper (cited), as a pure function over
plain dicts; nothing here does I/O.

- ``is_pod_ready``: k8s.io/kubernetes pkg/api/v1/pod/util.go ``IsPodReady``
  (the Ready condition is True).
- ``is_pod_terminal``: same file, ``IsPodTerminal`` (phase Succeeded or Failed).
- ``should_pod_be_in_endpoints``: staging k8s.io/endpointslice/util/controller_utils.go
  ``ShouldPodBeInEndpoints``: not terminal, has an IP, and not terminating
  unless terminating pods are included.
- ``should_set_hostname``: same file, ``ShouldSetHostname``: the pod has
  ``spec.hostname`` and its ``spec.subdomain`` names the Service (same namespace);
  this is what gives StatefulSet pets DNS names like ``web-0.web.ns.svc.cluster.local``.
- ``find_port``: pkg/api/v1/pod/util.go ``FindPort``: a named targetPort is looked up
  in the containers' (and restartable init containers') ports with the same protocol;
  a number is used as is.
- ``service_selector``/``selects``: a Service selector is a plain equality map
  (``labels.Set(selector).AsSelectorPreValidated()``); a Service without one gets
  no endpoints from the controllers.
- ``PodChangeFilter``: same file, ``GetServicesToUpdateOnPodChange`` and
  ``podEndpointsChanged``: a pod update queues its Services only when its labels,
  hostname/subdomain, deletionTimestamp, readiness or IPs changed.
"""

from __future__ import annotations

import ipaddress
import threading
from typing import Any, Callable, Hashable, Mapping

Obj = dict[str, Any]

# Well-known labels and annotations (k8s.io/api core/v1 well_known_labels.go, annotation_key_constants.go,
# discovery/v1 well_known_labels.go).
LABEL_HEADLESS = "service.kubernetes.io/headless"
LABEL_SERVICE_NAME = "kubernetes.io/service-name"
LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
LABEL_ZONE = "topology.kubernetes.io/zone"
ANN_LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
ANN_OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"


def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def pod_condition(pod: Mapping[str, Any], ctype: str) -> Mapping[str, Any] | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return None


def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    c = pod_condition(pod, "Ready")
    return c is not None and c.get("status") == "True"


def is_pod_terminal(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def pod_ips(pod: Mapping[str, Any]) -> list[str]:
    status = pod.get("status") or {}
    ips = [p.get("ip") for p in status.get("podIPs") or [] if isinstance(p, dict) and p.get("ip")]
    if not ips and status.get("podIP"):
        ips = [status["podIP"]]
    return ips


def should_pod_be_in_endpoints(pod: Mapping[str, Any], include_terminating: bool) -> bool:
    if is_pod_terminal(pod):
        return False
    if not pod_ips(pod):
        return False
    if not include_terminating and meta(pod).get("deletionTimestamp"):
        return False
    return True


def should_set_hostname(pod: Mapping[str, Any], svc: Mapping[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    return bool(spec.get("hostname")) and spec.get("subdomain") == meta(svc).get("name") and \
        meta(svc).get("namespace") == meta(pod).get("namespace")


def is_ipv6(ip: str) -> bool:
    if ":" not in ip:
        return False  # every IPv6 text form has a colon (and parsing is the hot part of endpoints)
    try:
        return ipaddress.ip_address(ip).version == 6
    except ValueError:
        return False


def find_port(pod: Mapping[str, Any], svc_port: Mapping[str, Any]) -> int | None:
    target = svc_port.get("targetPort")
    if target is None or target == "" or target == 0:
        target = svc_port.get("port")
    if isinstance(target, bool):
        return None
    if isinstance(target, int):
        return target
    proto = svc_port.get("protocol") or "TCP"
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or [])
    containers += [c for c in spec.get("initContainers") or [] if (c or {}).get("restartPolicy") == "Always"]
    for c in containers:
        for p in (c or {}).get("ports") or []:
            if p.get("name") == target and (p.get("protocol") or "TCP") == proto:
                return int(p.get("containerPort") or 0)
    return None


def service_selector(svc: Mapping[str, Any]) -> dict[str, str] | None:
    """The selector, or None when the controllers must leave the Service alone."""
    sel = (svc.get("spec") or {}).get("selector")
    if not sel:  # nil (and {} once stored) means "endpoints managed out of band"
        return None
    return {str(k): str(v) for k, v in sel.items()}


def selects(selector: Mapping[str, str], labels: Mapping[str, str] | None) -> bool:
    """Every ``key: value`` of ``selector`` is in ``labels`` (an empty selector selects all).

    The item views compare in C: controllers run this over every pod of a namespace per change.
    """
    if not labels:
        return not selector
    return selector.items() <= labels.items()


class PodSelections:
    """Which pods each Service selects, recomputed only when ``PodChangeFilter`` saw the set change.

    A sync used to test the selector against every pod of the namespace (1,000 at scale) although
    the selection only changes when a pod comes, goes or is relabelled; in between the names are
    reused and only their current revisions are read.
    """

    def __init__(self, changes: PodChangeFilter) -> None:
        self._changes = changes
        self._names: dict[tuple[str, str], tuple[int, tuple[tuple[str, str], ...], list[str]]] = {}

    def views(self, store: Any, namespace: str, service: str, selector: Mapping[str, str]
              ) -> list[Mapping[str, Any]]:
        gen = self._changes.generation(namespace)
        sel = tuple(sorted(selector.items()))
        hit = self._names.get((namespace, service))
        if hit is not None and hit[0] == gen and hit[1] == sel:
            out = []
            for name in hit[2]:
                e = store.get("pods", namespace, name)
                if e is not None:
                    out.append(e.view())
            return out
        want = selector.items()
        entries = [e for e in store.list("pods", namespace)[0] if e.labels and want <= e.labels.items()]
        self._names[(namespace, service)] = (gen, sel, [e.name for e in entries])
        return [e.view() for e in entries]

    def forget(self, namespace: str, service: str) -> None:
        self._names.pop((namespace, service), None)


def services_selecting(store: Any, namespace: str, labels: Mapping[str, str] | None) -> set[Hashable]:
    """``GetPodServiceMemberships``: work items ``("svc", ns, name)`` of the Services whose selector matches."""
    entries, _ = store.list("services", namespace)
    out: set[Hashable] = set()
    for s in entries:
        sel = service_selector(s.view())
        if sel is not None and selects(sel, labels):
            out.add(("svc", s.namespace, s.name))
    return out


class PodMemo:
    """Per-pod results of a pure function, reused while neither the pod nor the Service changes.

    Endpoint controllers rebuild a Service's whole endpoint list on every sync, from every
    selected pod; at 100 pods per Service nearly all of them are unchanged since the last sync.
    A result is keyed by the pod's and the Service's uid and resourceVersion (plus ``extra``,
    e.g. the node's zone), so a changed object is always recomputed. Objects without a
    resourceVersion (unit tests' dicts) are never cached. ``rotate`` after each sync keeps only
    the pods that sync saw (deleted pods drop out). Results are shared: callers must not
    mutate them.
    """

    def __init__(self) -> None:
        self._old: dict[tuple[str, str], tuple[tuple[Any, ...], Any]] = {}
        self._new: dict[tuple[str, str], tuple[tuple[Any, ...], Any]] = {}

    def get(self, svc: Mapping[str, Any], pod: Mapping[str, Any], compute: Callable[[], Any],
            extra: Any = None) -> Any:
        pm, sm = meta(pod), meta(svc)
        prv, srv = pm.get("resourceVersion"), sm.get("resourceVersion")
        if not prv or not srv:
            return compute()
        key = (pm.get("namespace", ""), pm.get("name", ""))
        ver = (pm.get("uid"), prv, sm.get("uid"), srv, extra)
        hit = self._new.get(key) or self._old.get(key)
        if hit is not None and hit[0] == ver:
            self._new[key] = hit
            return hit[1]
        value = compute()
        self._new[key] = (ver, value)
        return value

    def rotate(self) -> None:
        self._old, self._new = self._new, {}


def is_headless(svc: Mapping[str, Any]) -> bool:
    """``!helper.IsServiceIPSet``: clusterIP is empty or "None"."""
    ip = (svc.get("spec") or {}).get("clusterIP")
    return not ip or ip == "None"


def service_ip_family(svc: Mapping[str, Any], pod: Mapping[str, Any] | None = None) -> str:
    """The family endpoints use (endpoints_controller.go ``podToEndpointAddressForService``)."""
    spec = svc.get("spec") or {}
    fams = spec.get("ipFamilies") or []
    if fams:
        return fams[0]
    ip = spec.get("clusterIP") or ""
    if ip and ip != "None":
        return "IPv6" if is_ipv6(ip) else "IPv4"
    if pod is not None:
        ips = pod_ips(pod)
        if ips and is_ipv6(ips[0]):
            return "IPv6"
    return "IPv4"


def pod_ip_for_family(pod: Mapping[str, Any], family: str) -> str | None:
    for ip in pod_ips(pod):
        if is_ipv6(ip) == (family == "IPv6"):
            return ip
    return None


def _endpoint_facts(pod: Mapping[str, Any]) -> tuple[Any, ...]:
    """What ``podEndpointsChanged`` compares for "the pod changed": deletionTimestamp, readiness, IPs."""
    status = pod.get("status") or {}
    ips = tuple(p.get("ip") for p in status.get("podIPs") or [] if isinstance(p, dict))
    return meta(pod).get("deletionTimestamp"), is_pod_ready(pod), ips


def _membership_facts(labels: Mapping[str, str] | None, pod: Mapping[str, Any]) -> tuple[Any, ...]:
    """... and for "which Services it matches may have changed": labels, hostname and subdomain."""
    spec = pod.get("spec") or {}
    return dict(labels or {}), spec.get("hostname"), spec.get("subdomain")


class PodChangeFilter:
    """``GetServicesToUpdateOnPodChange`` for a controller fed by store events.

    An informer hands the update handler the old object; a store event only has the old
    revision's bytes, so the filter remembers, per pod, the few facts ``podEndpointsChanged``
    compares (not the objects). A pod it has not seen counts as changed. Upstream queues a
    pod's Services on add and delete always, and on update only when the pod changed in a
    way endpoints show (deletionTimestamp, readiness, IPs: all of the matching Services) or
    its labels, hostname or subdomain changed (the symmetric difference of the old and new
    memberships, or their union when the pod changed too). A binding, or a status write that
    moves none of those, queues nothing: at 1,000 pods that halves the endpoint syncs.
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], tuple[tuple[Any, ...], tuple[Any, ...]]] = {}
        self._lock = threading.Lock()
        # Per namespace: bumped whenever a pod comes, goes or changes its labels (PodSelections).
        self._generations: dict[str, int] = {}

    def generation(self, namespace: str) -> int:
        """Changes whenever the namespace's set of pods or any pod's labels may have changed."""
        return self._generations.get(namespace, 0)

    def services(self, ev_type: str, namespace: str, name: str, labels: Mapping[str, str] | None,
                 pod: Mapping[str, Any], memberships: Callable[[Mapping[str, str] | None], set[Hashable]]
                 ) -> set[Hashable]:
        """The Services to queue for this pod event; ``memberships(labels)``: Services selecting ``labels``."""
        key = (namespace, name)
        facts = (_endpoint_facts(pod), _membership_facts(labels, pod))
        with self._lock:
            before = self._seen.pop(key, None) if ev_type == "DELETED" else self._seen.get(key)
            if ev_type != "DELETED":
                self._seen[key] = facts
            if before is None or ev_type != "MODIFIED" or before[1][0] != facts[1][0]:
                self._generations[namespace] = self._generations.get(namespace, 0) + 1
        now = memberships(labels)
        if ev_type != "MODIFIED" or before is None:
            return now
        pod_changed = before[0] != facts[0]
        labels_changed = before[1] != facts[1]
        if not pod_changed and not labels_changed:
            return set()
        if not labels_changed:
            return now
        old = memberships(before[1][0])
        return now | old if pod_changed else now ^ old
