"""The Endpoints controller: one ``v1/Endpoints`` per Service with a selector (PL-10).

Upstream: pkg/controller/endpoint/endpoints_controller.go (``syncService``,
``podToEndpointAddressForService``, ``addEndpointSubset``, ``truncateEndpoints``,
``capacityAnnotationSetCorrectly``), pkg/api/v1/endpoints/util.go (``RepackSubsets``,
``SortSubsets``), pkg/controller/util/endpoint/trigger_time_tracker.go
(``ComputeEndpointLastChangeTriggerTime``) and staging k8s.io/endpointslice/util
(``ShouldPodBeInEndpoints``, ``ShouldSetHostname``; see :mod:`.endpointutil`).

The rules, as upstream:

- Services of type ExternalName, and Services without a selector, are left alone
  (their Endpoints are written by someone else). A deleted Service loses its Endpoints.
- A selected pod is listed when it has an IP of the Service's family, is not terminal
  (Succeeded/Failed) and, unless ``publishNotReadyAddresses``, is not terminating.
  It goes to ``addresses`` when Ready (or when ``publishNotReadyAddresses``), else to
  ``notReadyAddresses``.
- ``hostname`` is set when the pod has ``spec.hostname`` and ``spec.subdomain`` is the
  Service's name: that is how a headless Service gives StatefulSet pets DNS names
  (``web-0.web.<ns>.svc.cluster.local``); the sandbox's DNS resolver reads these objects.
- Ports come from each Service port's ``targetPort``: a number as is, a name looked up in
  the pod's container ports with the same protocol (pods without it are skipped for
  that port). A headless Service may have no ports.
- Subsets are repacked: addresses offering the same set of ports share one subset.
- Labels are the Service's labels plus ``service.kubernetes.io/headless`` for a
  headless Service; ``endpoints.kubernetes.io/last-change-trigger-time`` carries the
  earliest change (pod Ready transition or Service creation) not yet reflected;
  more than 1000 addresses are truncated and annotated
  ``endpoints.kubernetes.io/over-capacity: truncated``.
- No write when nothing but the trigger time would change.

The API server's own Service (``default/kubernetes``, no selector) is reconciled by
kube-apiserver itself (pkg/controlplane/reconcilers): Endpoints and the EndpointSlice
``kubernetes`` pointing at the API server. kubesim has no separate reconciler loop, so
this controller does it when the cluster registers the server's address as
``ctx.extra["apiserver_endpoint"]`` (a ``(ip, port)`` tuple or a callable returning one).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Hashable, Iterable, Mapping

from .. import clock
from ..api import Request
from ..errors import AlreadyExists, ApiError, Conflict, NotFound
from ..store import Event
from .base import Controller
from .endpointutil import (
    ANN_LAST_CHANGE_TRIGGER_TIME,
    ANN_OVER_CAPACITY,
    LABEL_HEADLESS,
    LABEL_SERVICE_NAME,
    find_port,
    is_headless,
    is_pod_ready,
    meta,
    PodChangeFilter,
    PodMemo,
    PodSelections,
    pod_condition,
    pod_ip_for_family,
    selects,
    service_ip_family,
    service_selector,
    services_selecting,
    should_pod_be_in_endpoints,
    should_set_hostname,
)

log = logging.getLogger("kubesim.controllers.endpoints")

Obj = dict[str, Any]
MAX_CAPACITY = 1000  # endpoints_controller.go maxCapacity
TRUNCATED = "truncated"
LABEL_SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"
MANAGER = "kube-controller-manager"


# -- pure decisions ------------------------------------------------------------------------
def pod_to_address(svc: Mapping[str, Any], pod: Mapping[str, Any]) -> Obj | None:
    """``podToEndpointAddressForService`` plus the hostname rule; None without an IP of the family."""
    ip = pod_ip_for_family(pod, service_ip_family(svc, pod))
    if ip is None:
        return None
    pm = meta(pod)
    addr: Obj = {"ip": ip}
    if should_set_hostname(pod, svc):
        addr["hostname"] = (pod.get("spec") or {}).get("hostname")
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        addr["nodeName"] = node
    addr["targetRef"] = {"kind": "Pod", "namespace": pm.get("namespace", ""), "name": pm.get("name", ""),
                         "uid": pm.get("uid", "")}
    return addr


def _endpoint_port(svc_port: Mapping[str, Any], num: int) -> Obj:
    p: Obj = {}
    if svc_port.get("name"):
        p["name"] = svc_port["name"]
    p["port"] = int(num)
    p["protocol"] = svc_port.get("protocol") or "TCP"
    if svc_port.get("appProtocol"):
        p["appProtocol"] = svc_port["appProtocol"]
    return p


def pod_subsets(svc: Mapping[str, Any], pod: Mapping[str, Any]) -> list[Obj]:
    """The one-address subsets ``pod`` contributes to ``svc`` (the body of syncService's pod loop)."""
    spec = svc.get("spec") or {}
    publish = bool(spec.get("publishNotReadyAddresses"))
    if not should_pod_be_in_endpoints(pod, publish):
        return []
    addr = pod_to_address(svc, pod)
    if addr is None:
        return []
    ready = publish or is_pod_ready(pod)
    key = "addresses" if ready else "notReadyAddresses"
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    if not ports:
        # headless without ports is allowed
        return [{key: [addr], "ports": []}] if spec.get("clusterIP") == "None" else []
    out: list[Obj] = []
    for sp in ports:
        num = find_port(pod, sp)
        if num is not None:
            out.append({key: [addr], "ports": [_endpoint_port(sp, num)]})
    return out


def desired_subsets(svc: Mapping[str, Any], pods: Iterable[Mapping[str, Any]], memo: PodMemo | None = None
                    ) -> list[Obj]:
    """The repacked, sorted subsets for the selected ``pods`` (syncService's loop).

    ``memo`` reuses each unchanged pod's contribution from the last sync (repacking copies it).
    """
    raw: list[Obj] = []
    for pod in pods:
        if memo is None:
            raw.extend(pod_subsets(svc, pod))
        else:
            raw.extend(memo.get(svc, pod, lambda: pod_subsets(svc, pod)))  # noqa: B023 - called at once
    return repack_subsets(raw)


def _addr_key(a: Mapping[str, Any]) -> tuple[str, str]:
    return a.get("ip", ""), ((a.get("targetRef") or {}).get("uid") or "")


def _port_key(p: Mapping[str, Any]) -> tuple[str, int, str, str]:
    return p.get("name", ""), int(p.get("port", -1)), p.get("protocol", ""), p.get("appProtocol", "")


def repack_subsets(subsets: Iterable[Mapping[str, Any]]) -> list[Obj]:
    """``RepackSubsets``: map each port to its addresses, then group ports by identical address sets.

    An address ready for a port in any input subset is ready for it (a not-ready entry
    never downgrades a ready one). Ordering follows ``SortSubsets`` for addresses
    (IP bytes, then target UID); ports and subsets, which upstream orders by hash, are
    ordered by value here.
    """
    sentinel: Obj = {"port": -1}
    all_addrs: dict[tuple[str, str], Obj] = {}
    port_addrs: dict[tuple[str, int, str, str], tuple[Obj, dict[tuple[str, str], bool]]] = {}
    for ss in subsets:
        for port in ss.get("ports") or [sentinel]:
            pk = _port_key(port)
            entry = port_addrs.setdefault(pk, (dict(port), {}))
            for ready, kind in ((True, "addresses"), (False, "notReadyAddresses")):
                for a in ss.get(kind) or []:
                    ak = _addr_key(a)
                    all_addrs.setdefault(ak, dict(a))
                    prev = entry[1].get(ak)
                    if prev is None or not prev:
                        entry[1][ak] = ready
    groups: dict[tuple[tuple[tuple[str, str], bool], ...], list[Obj]] = {}
    for pk, (port, addrs) in port_addrs.items():
        gk = tuple(sorted(addrs.items()))
        ports = groups.setdefault(gk, [])
        if port.get("port", -1) > 0:
            ports.append(port)
    out: list[Obj] = []
    for gk, ports in groups.items():
        ready = sorted((all_addrs[ak] for ak, r in gk if r), key=lambda a: (a.get("ip", "").encode(), _addr_key(a)[1]))
        not_ready = sorted((all_addrs[ak] for ak, r in gk if not r),
                           key=lambda a: (a.get("ip", "").encode(), _addr_key(a)[1]))
        ss: Obj = {}
        if ready:
            ss["addresses"] = ready
        if not_ready:
            ss["notReadyAddresses"] = not_ready
        if ports:
            ss["ports"] = sorted(ports, key=_port_key)
        if ready or not_ready:
            out.append(ss)
    out.sort(key=lambda s: [_addr_key(a) for a in (s.get("addresses") or []) + (s.get("notReadyAddresses") or [])]
             + [("", str(_port_key(p))) for p in s.get("ports") or []])
    return out


def truncate(subsets: list[Obj]) -> tuple[list[Obj], bool]:
    """``truncateEndpoints``: keep at most 1000 addresses, ready ones first, proportionally per subset."""
    total_ready = sum(len(s.get("addresses") or []) for s in subsets)
    total_not_ready = sum(len(s.get("notReadyAddresses") or []) for s in subsets)
    if total_ready + total_not_ready <= MAX_CAPACITY:
        return subsets, False
    truncate_ready = total_ready > MAX_CAPACITY
    limit = MAX_CAPACITY if truncate_ready else MAX_CAPACITY - total_ready
    num_total = total_ready if truncate_ready else total_not_ready
    can_add = limit
    out = []
    for s in subsets:
        s = dict(s)
        n = len(s.get("addresses") or []) if truncate_ready else len(s.get("notReadyAddresses") or [])
        to_add = -(-n * limit // num_total) if num_total else 0  # ceil
        to_add = min(to_add, can_add)
        if truncate_ready:
            s["addresses"] = (s.get("addresses") or [])[:to_add]
            s.pop("notReadyAddresses", None)
            can_add -= len(s["addresses"])
            if not s["addresses"]:
                s.pop("addresses")
        else:
            nr = (s.get("notReadyAddresses") or [])[:to_add]
            if nr:
                s["notReadyAddresses"] = nr
            else:
                s.pop("notReadyAddresses", None)
            can_add -= len(nr)
        out.append(s)
    return out, True


def _count(subsets: list[Obj]) -> int:
    return sum(len(s.get("addresses") or []) + len(s.get("notReadyAddresses") or []) for s in subsets)


@dataclass
class Decision:
    """What to do with one Service's Endpoints: ``op`` is create | update | delete | none."""

    op: str
    body: Obj | None = None


def decide(svc: Mapping[str, Any] | None, pods: list[Mapping[str, Any]], current: Mapping[str, Any] | None,
           trigger_time: str | None, *, namespace: str = "", name: str = "", memo: PodMemo | None = None
           ) -> Decision:
    """``syncService`` without I/O: the Endpoints object to write, if any (``memo``: see desired_subsets)."""
    if svc is None:
        return Decision("delete") if current is not None else Decision("none")
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return Decision("none")
    selector = service_selector(svc)
    if selector is None:
        return Decision("none")
    selected = [p for p in pods if selects(selector, meta(p).get("labels"))]
    subsets = desired_subsets(svc, selected, memo)
    svc_labels = dict(meta(svc).get("labels") or {})
    if current is not None:
        cur_labels = {k: v for k, v in (meta(current).get("labels") or {}).items() if k != LABEL_HEADLESS}
        cur_ann = meta(current).get("annotations") or {}
        cur_subsets = current.get("subsets") or []
        capacity_ok = (_count(cur_subsets) <= MAX_CAPACITY) and ANN_OVER_CAPACITY not in cur_ann
        if _strip_rv(cur_subsets) == subsets and cur_labels == svc_labels and capacity_ok:
            return Decision("none")
    body: Obj = {"apiVersion": "v1", "kind": "Endpoints"}
    md: Obj = {"name": meta(svc).get("name", name), "namespace": meta(svc).get("namespace", namespace)}
    if current is not None:
        cm = meta(current)
        for k in ("resourceVersion", "uid"):
            if cm.get(k):
                md[k] = cm[k]
        annotations = dict(cm.get("annotations") or {})
    else:
        annotations = {}
    if trigger_time:
        annotations[ANN_LAST_CHANGE_TRIGGER_TIME] = trigger_time
    else:
        annotations.pop(ANN_LAST_CHANGE_TRIGGER_TIME, None)
    subsets, truncated = truncate(subsets)
    if truncated:
        annotations[ANN_OVER_CAPACITY] = TRUNCATED
    else:
        annotations.pop(ANN_OVER_CAPACITY, None)
    labels = dict(svc_labels)
    if is_headless(svc):
        labels[LABEL_HEADLESS] = ""
    else:
        labels.pop(LABEL_HEADLESS, None)
    if labels:
        md["labels"] = labels
    if annotations:
        md["annotations"] = annotations
    body["metadata"] = md
    if subsets:
        body["subsets"] = subsets
    return Decision("update" if current is not None else "create", body)


def _strip_rv(subsets: list[Mapping[str, Any]]) -> list[Obj]:
    """Subsets as compared upstream: target refs without resourceVersion."""
    out = []
    for s in subsets:
        s2 = dict(s)
        for kind in ("addresses", "notReadyAddresses"):
            if kind in s2:
                s2[kind] = [_addr_no_rv(a) for a in s2[kind] or []]
                if not s2[kind]:
                    s2.pop(kind)
        if "ports" in s2 and not s2["ports"]:
            s2.pop("ports")
        out.append(s2)
    return out


def _addr_no_rv(a: Mapping[str, Any]) -> Obj:
    a2 = dict(a)
    if "targetRef" in a2:
        a2["targetRef"] = {k: v for k, v in (a2["targetRef"] or {}).items() if k != "resourceVersion"}
    return a2


# Every sync reads every selected pod's Ready transition time; most are the same strings as last time.
_parse_time = functools.lru_cache(maxsize=8192)(clock.parse_time)


@dataclass
class TriggerTimeTracker:
    """``TriggerTimeTracker``: the earliest not-yet-reflected change per Service.

    A pod's trigger time is its Ready condition's lastTransitionTime, the Service's is
    its creationTimestamp. The first computation for a Service returns its creation
    time; later ones the minimum of the trigger times that moved since the last call
    (None when none did).
    """

    states: dict[tuple[str, str], tuple[dict[str, datetime], datetime | None]] = field(default_factory=dict)
    # Per Service: pod name -> (resourceVersion, its trigger time), so an unchanged pod is not read again.
    _seen: dict[tuple[str, str], dict[str, tuple[str, datetime | None]]] = field(default_factory=dict)

    @staticmethod
    def _pod_time(pod: Mapping[str, Any]) -> datetime | None:
        cond = pod_condition(pod, "Ready")
        return _parse_time((cond or {}).get("lastTransitionTime"))

    def compute(self, namespace: str, svc: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> str | None:
        key = (namespace, meta(svc).get("name", ""))
        state = self.states.get(key)
        last_pods, last_svc = state if state is not None else ({}, None)
        changed: datetime | None = None
        pod_times: dict[str, datetime] = {}
        seen = self._seen.get(key) or {}
        now_seen: dict[str, tuple[str, datetime | None]] = {}
        for pod in pods:
            pm = meta(pod)
            pname = pm.get("name", "")
            rv = pm.get("resourceVersion") or ""
            hit = seen.get(pname)
            if hit is not None and rv and hit[0] == rv:
                t = hit[1]
            else:
                t = self._pod_time(pod)
            now_seen[pname] = (rv, t)
            if t is None:
                continue
            pod_times[pname] = t
            prev = last_pods.get(pname)
            if prev is None or t > prev:
                changed = t if changed is None or t < changed else changed
        svc_time = clock.parse_time(meta(svc).get("creationTimestamp"))
        if svc_time is not None and (last_svc is None or svc_time > last_svc):
            changed = svc_time if changed is None or svc_time < changed else changed
        self.states[key] = (pod_times, svc_time)
        self._seen[key] = now_seen
        if state is None:
            return clock.rfc3339(svc_time) if svc_time is not None else None
        return clock.rfc3339(changed) if changed is not None else None

    def forget(self, namespace: str, name: str) -> None:
        self.states.pop((namespace, name), None)
        self._seen.pop((namespace, name), None)


def apiserver_endpoints(ip: str, port: int) -> tuple[Obj, Obj]:
    """The Endpoints and EndpointSlice kube-apiserver keeps for ``default/kubernetes``.

    pkg/controlplane/reconcilers (endpointsadapter.go): one address, port ``https``,
    Endpoints labelled ``endpointslice.kubernetes.io/skip-mirror: "true"``, the slice named
    ``kubernetes`` labelled with the service name only.
    """
    ep = {"apiVersion": "v1", "kind": "Endpoints",
          "metadata": {"name": "kubernetes", "namespace": "default", "labels": {LABEL_SKIP_MIRROR: "true"}},
          "subsets": [{"addresses": [{"ip": ip}], "ports": [{"name": "https", "port": int(port), "protocol": "TCP"}]}]}
    family = "IPv6" if ":" in ip else "IPv4"
    es = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
          "metadata": {"name": "kubernetes", "namespace": "default", "labels": {LABEL_SERVICE_NAME: "kubernetes"}},
          "addressType": family,
          "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}],
          "ports": [{"name": "https", "port": int(port), "protocol": "TCP"}]}
    return ep, es


def _same_content(cur: Mapping[str, Any], want: Mapping[str, Any], fields: tuple[str, ...]) -> bool:
    if any(cur.get(f) != want.get(f) for f in fields):
        return False
    return (meta(cur).get("labels") or {}) == (meta(want).get("labels") or {})


# -- the loop ------------------------------------------------------------------------------
APISERVER_ITEM = ("apiserver",)


class EndpointsController(Controller):
    name = "endpoint-controller"
    watches = ("services", "pods", "endpoints")
    resync_seconds = 30.0

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.tracker = TriggerTimeTracker()
        self.pod_changes = PodChangeFilter()
        self.selections = PodSelections(self.pod_changes)
        self._memos: dict[tuple[str, str], PodMemo] = {}  # per Service: its pods' contributions
        self.recorder = self.ctx.recorder(self.name)

    # work items: ("svc", ns, name) or APISERVER_ITEM
    def items_for(self, ev: Event) -> Iterable[Hashable]:
        e = ev.entry
        if e.key == "services":
            out: list[Hashable] = [("svc", e.namespace, e.name)]
            if e.namespace == "default" and e.name == "kubernetes":
                out.append(APISERVER_ITEM)
            return out
        if e.key == "endpoints":
            if e.namespace == "default" and e.name == "kubernetes":
                return [APISERVER_ITEM]
            return [("svc", e.namespace, e.name)] if ev.type == "DELETED" else []
        if e.key == "pods":
            return self.pod_changes.services(ev.type, e.namespace, e.name, e.labels, e.view(),
                                             lambda labels: services_selecting(self.api.store, e.namespace, labels))
        return []

    def all_items(self) -> Iterable[Hashable]:
        entries, _ = self.api.store.list("services")
        out: list[Hashable] = [("svc", e.namespace, e.name) for e in entries]
        out.append(APISERVER_ITEM)
        return out

    def reconcile(self, item: Hashable) -> float | None:
        if item == APISERVER_ITEM:
            return self._reconcile_apiserver()
        _, ns, name = item  # type: ignore[misc]
        store = self.api.store
        svc_entry = store.get("services", ns, name)
        cur_entry = store.get("endpoints", ns, name)
        svc = svc_entry.view() if svc_entry is not None else None
        current = cur_entry.view() if cur_entry is not None else None  # read-only: decide copies what it keeps
        if svc is None:
            self.tracker.forget(ns, name)
            pods: list[Obj] = []
            trigger = None
        else:
            if ns == "default" and name == "kubernetes" and service_selector(svc) is None:
                return None  # kube-apiserver's own (see _reconcile_apiserver)
            sel = service_selector(svc)
            # Read-only views: ``decide`` builds the Endpoints from fresh dicts.
            pods = self.selections.views(store, ns, name, sel) if sel is not None else []
            trigger = self.tracker.compute(ns, svc, pods) if sel is not None else None
        if svc is None:
            self._memos.pop((ns, name), None)
            self.selections.forget(ns, name)
            memo = None
        else:
            memo = self._memos.setdefault((ns, name), PodMemo())
        d = decide(svc, pods, current, trigger, namespace=ns, name=name, memo=memo)
        if memo is not None:
            memo.rotate()
        rt = self.api.rt("endpoints")
        try:
            # ``decide`` builds its body from fresh dicts (repacking copies every address): it is
            # handed to the write as decoded, as a typed client's object would be.
            if d.op == "delete":
                self.api.delete(rt, ns, name)
            elif d.op == "create":
                assert d.body is not None
                self.api.create(rt, ns, d.body, Request(field_manager=MANAGER), decoded=True)
            elif d.op == "update":
                assert d.body is not None
                self.api.update(rt, ns, name, d.body, Request(field_manager=MANAGER), decoded=True,
                                want_result=False)
        except NotFound:
            return None
        except (AlreadyExists, Conflict):
            return 0.05
        except ApiError as exc:
            if svc is not None and d.body is not None:
                if d.op == "create":
                    self.recorder.event(d.body, "Warning", "FailedToCreateEndpoint",
                                        f"Failed to create endpoint for service {ns}/{name}: {exc.message}")
                else:
                    self.recorder.event(d.body, "Warning", "FailedToUpdateEndpoint",
                                        f"Failed to update endpoint {ns}/{name}: {exc.message}")
            return 1.0
        return None

    def _apiserver_address(self) -> tuple[str, int] | None:
        val = self.ctx.extra.get("apiserver_endpoint")
        if callable(val):
            val = val()
        if not val:
            return None
        ip, port = val
        return (str(ip), int(port)) if port else None

    def _reconcile_apiserver(self) -> float | None:
        addr = self._apiserver_address()
        if addr is None or self.api.store.get("services", "default", "kubernetes") is None:
            return None
        ep, es = apiserver_endpoints(*addr)
        req = Request(field_manager="kube-apiserver")
        for key, body, fields in (("endpoints", ep, ("subsets",)),
                                  ("discovery.k8s.io/endpointslices", es, ("addressType", "endpoints", "ports"))):
            rt = self.api.rt(key)
            cur = self.api.store.get(key, "default", "kubernetes")
            try:
                if cur is None:
                    self.api.create(rt, "default", body, req)
                else:
                    obj = cur.obj()
                    if not _same_content(obj, body, fields):
                        body = {**body, "metadata": {**body["metadata"],
                                                     "resourceVersion": obj["metadata"]["resourceVersion"]}}
                        self.api.update(rt, "default", "kubernetes", body, req)
            except (AlreadyExists, Conflict):
                return 0.05
            except ApiError as exc:
                log.debug("apiserver endpoints: %s", exc)
                return 1.0
        return None


def register_apiserver(ctx: Any, address: Callable[[], tuple[str, int]] | tuple[str, int]) -> None:
    """How a cluster tells the controller where its API server listens."""
    ctx.extra["apiserver_endpoint"] = address
