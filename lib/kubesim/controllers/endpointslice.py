"""The EndpointSlice controller: ``discovery.k8s.io/v1`` slices for Services with a selector (PL-10).

Upstream: pkg/controller/endpointslice/endpointslice_controller.go (``syncService``) and
staging k8s.io/endpointslice: reconciler.go (``reconcileByAddressType``: keep, update,
fill, create, delete, placeholder), utils.go (``podToEndpoint``, ``getEndpointPorts``,
``newEndpointSlice``, ``getEndpointSlicePrefix``, ``setEndpointSliceLabels``) and
util/controller_utils.go (``ShouldPodBeInEndpoints`` with terminating pods included).

What a slice looks like, as upstream:

- ``metadata.generateName: <service>-`` (so names are ``<service>-<5 random>``), a
  controller ownerReference to the Service, labels = the Service's labels (reserved keys
  dropped) + ``kubernetes.io/service-name`` + ``endpointslice.kubernetes.io/managed-by:
  endpointslice-controller.k8s.io`` (+ ``service.kubernetes.io/headless`` when headless),
  annotation ``endpoints.kubernetes.io/last-change-trigger-time`` on written slices.
- ``addressType`` from the Service's IP family, ``ports`` resolved per pod from targetPort,
  at most 100 endpoints per slice; pods with different port sets go to different slices.
- Each endpoint: ``addresses``, ``conditions`` (``serving`` = pod Ready, ``terminating`` =
  deletionTimestamp set, ``ready`` = serving and not terminating, or always true with
  ``publishNotReadyAddresses``), ``hostname`` under the headless-Service rule,
  ``targetRef`` to the pod, ``nodeName``, ``zone`` from the node's
  ``topology.kubernetes.io/zone``. Terminating pods stay listed (ready=false) until gone.
- A selector Service with no endpoints keeps one empty placeholder slice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Hashable, Iterable, Mapping

from ..api import Request
from ..errors import AlreadyExists, ApiError, Conflict, NotFound
from ..jsonvalues import copy_json
from ..store import Event
from .base import Controller
from .endpoints import TriggerTimeTracker
from .endpointutil import (
    ANN_LAST_CHANGE_TRIGGER_TIME,
    LABEL_HEADLESS,
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    LABEL_ZONE,
    PodChangeFilter,
    PodMemo,
    PodSelections,
    find_port,
    is_headless,
    is_pod_ready,
    meta,
    pod_ip_for_family,
    selects,
    service_selector,
    services_selecting,
    should_pod_be_in_endpoints,
    should_set_hostname,
)

log = logging.getLogger("kubesim.controllers.endpointslice")

Obj = dict[str, Any]
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
MAX_ENDPOINTS_PER_SLICE = 100  # --max-endpoints-per-slice default
RESERVED_LABELS = (LABEL_SERVICE_NAME, LABEL_MANAGED_BY, LABEL_HEADLESS)
MANAGER = "kube-controller-manager"


# -- pure decisions ------------------------------------------------------------------------
def address_types(svc: Mapping[str, Any]) -> list[str]:
    fams = (svc.get("spec") or {}).get("ipFamilies") or []
    return [f for f in fams if f in ("IPv4", "IPv6")] or ["IPv4"]


def endpoint_ports(svc: Mapping[str, Any], pod: Mapping[str, Any]) -> list[Obj]:
    """``getEndpointPorts``: one port per Service port the pod can serve."""
    spec = svc.get("spec") or {}
    out: list[Obj] = []
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    if not ports and spec.get("clusterIP") == "None":
        return out
    for sp in ports:
        num = find_port(pod, sp)
        if num is None:
            continue
        p: Obj = {"name": sp.get("name") or "", "port": int(num), "protocol": sp.get("protocol") or "TCP"}
        if sp.get("appProtocol"):
            p["appProtocol"] = sp["appProtocol"]
        out.append(p)
    return out


def pod_to_endpoint(svc: Mapping[str, Any], pod: Mapping[str, Any], zone: str | None, address_type: str) -> Obj | None:
    """``podToEndpoint``; None when the pod has no IP of ``address_type``."""
    ip = pod_ip_for_family(pod, address_type)
    if ip is None:
        return None
    serving = is_pod_ready(pod)
    terminating = bool(meta(pod).get("deletionTimestamp"))
    ready = bool((svc.get("spec") or {}).get("publishNotReadyAddresses")) or (serving and not terminating)
    pm = meta(pod)
    ep: Obj = {"addresses": [ip], "conditions": {"ready": ready, "serving": serving, "terminating": terminating}}
    if should_set_hostname(pod, svc):
        ep["hostname"] = (pod.get("spec") or {}).get("hostname")
    ep["targetRef"] = {"kind": "Pod", "namespace": pm.get("namespace", ""), "name": pm.get("name", ""),
                       "uid": pm.get("uid", "")}
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        ep["nodeName"] = node
    if zone:
        ep["zone"] = zone
    return ep


def slice_labels(svc: Mapping[str, Any], controller_name: str = CONTROLLER_NAME) -> dict[str, str]:
    """``setEndpointSliceLabels``: the Service's labels minus reserved keys, plus the reserved ones."""
    labels = {k: v for k, v in (meta(svc).get("labels") or {}).items() if k not in RESERVED_LABELS}
    if is_headless(svc):
        labels[LABEL_HEADLESS] = ""
    labels[LABEL_SERVICE_NAME] = meta(svc).get("name", "")
    labels[LABEL_MANAGED_BY] = controller_name
    return labels


def slice_prefix(service_name: str) -> str:
    """``getEndpointSlicePrefix``: ``<svc>-`` unless that is not a valid generateName prefix."""
    prefix = f"{service_name}-"
    return prefix if len(prefix) <= 253 - 5 else service_name


def _ports_key(ports: list[Mapping[str, Any]]) -> tuple:
    return tuple(sorted((p.get("name", ""), int(p.get("port") or 0), p.get("protocol", ""),
                         p.get("appProtocol", "")) for p in ports))


def _ep_key(ep: Mapping[str, Any]) -> tuple:
    return tuple(ep.get("addresses") or ()), ((ep.get("targetRef") or {}).get("uid") or "")


@dataclass
class SliceActions:
    create: list[Obj] = field(default_factory=list)
    update: list[Obj] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.create or self.update or self.delete)


def new_slice(svc: Mapping[str, Any], ports: list[Obj], address_type: str, endpoints: list[Obj]) -> Obj:
    """``newEndpointSlice``."""
    sm = meta(svc)
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {
            "generateName": slice_prefix(sm.get("name", "")),
            "namespace": sm.get("namespace", ""),
            "labels": slice_labels(svc),
            "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": sm.get("name", ""),
                                 "uid": sm.get("uid", ""), "controller": True, "blockOwnerDeletion": True}],
        },
        "addressType": address_type,
        "endpoints": endpoints,
        "ports": ports,
    }


def pod_endpoint(svc: Mapping[str, Any], pod: Mapping[str, Any], zone: str | None, address_type: str
                 ) -> tuple[tuple, list[Obj], tuple, Obj] | None:
    """What one pod contributes: (ports key, ports, endpoint key, endpoint), or None."""
    if not should_pod_be_in_endpoints(pod, True):
        return None
    ep = pod_to_endpoint(svc, pod, zone, address_type)
    if ep is None:
        return None
    ports = endpoint_ports(svc, pod)
    return _ports_key(ports), ports, _ep_key(ep), ep


def desired_endpoints(svc: Mapping[str, Any], pods: Iterable[Mapping[str, Any]], zones: Mapping[str, str],
                      address_type: str, memo: PodMemo | None = None
                      ) -> dict[tuple, tuple[list[Obj], dict[tuple, Obj]]]:
    """Endpoints grouped by their port set: ports key -> (ports, endpoint key -> endpoint).

    ``memo`` reuses each unchanged pod's endpoint from the last sync (shared: never mutated).
    """
    out: dict[tuple, tuple[list[Obj], dict[tuple, Obj]]] = {}
    for pod in sorted(pods, key=lambda p: meta(p).get("name", "")):
        zone = zones.get((pod.get("spec") or {}).get("nodeName") or "")
        if memo is None:
            got = pod_endpoint(svc, pod, zone, address_type)
        else:
            got = memo.get(svc, pod, lambda: pod_endpoint(svc, pod, zone, address_type),  # noqa: B023
                           (zone, address_type))
        if got is None:
            continue
        pk, ports, ek, ep = got
        group = out.setdefault(pk, (ports, {}))
        group[1].setdefault(ek, ep)
    return out


def reconcile(svc: Mapping[str, Any], pods: list[Mapping[str, Any]], zones: Mapping[str, str],
              existing: list[Mapping[str, Any]], trigger_time: str | None = None,
              max_per_slice: int = MAX_ENDPOINTS_PER_SLICE, memo: PodMemo | None = None) -> SliceActions:
    """``Reconciler.Reconcile`` without I/O: which slices to create, update (full objects) and delete.

    ``existing`` are the slices this controller manages for the Service. Kept slices
    keep their order and are refreshed in place; new endpoints first fill slices that are
    already being updated, then new slices; slices left without endpoints are deleted,
    except that one empty placeholder always remains.
    """
    acts = SliceActions()
    labels = slice_labels(svc)
    selector = service_selector(svc) or {}
    selected = [p for p in pods if selects(selector, meta(p).get("labels"))]
    types = address_types(svc)
    kept_total = 0
    for s in existing:
        if s.get("addressType") not in types:
            acts.delete.append(meta(s).get("name", ""))
    for at in types:
        desired = desired_endpoints(svc, selected, zones, at, memo)
        placed: set[tuple] = set()
        kept: list[list[Any]] = []  # [slice body, changed]
        for s in existing:
            if s.get("addressType") != at:
                continue
            name = meta(s).get("name", "")
            pk = _ports_key(s.get("ports") or [])
            group = desired.get(pk)
            if group is None:
                acts.delete.append(name)
                continue
            new_eps = []
            for ep in s.get("endpoints") or []:
                k = _ep_key(ep)
                want = group[1].get(k)
                if want is not None and k not in placed:
                    new_eps.append(want)
                    placed.add(k)
            if not new_eps:
                acts.delete.append(name)
                continue
            kept_total += 1
            changed = new_eps != list(s.get("endpoints") or []) or (meta(s).get("labels") or {}) != labels
            kept.append([_refreshed(s, labels, new_eps), changed])
        # Leftovers fill slices already being updated, then unchanged ones, then new slices.
        for pk, (ports, eps) in desired.items():
            rest = [ep for k, ep in eps.items() if k not in placed]
            for entry in sorted(kept, key=lambda e: not e[1]):
                if not rest:
                    break
                body = entry[0]
                if _ports_key(body.get("ports") or []) != pk:
                    continue
                room = max_per_slice - len(body["endpoints"])
                if room > 0:
                    body["endpoints"] = body["endpoints"] + rest[:room]
                    rest = rest[room:]
                    entry[1] = True
            while rest:
                acts.create.append(new_slice(svc, ports, at, rest[:max_per_slice]))
                rest = rest[max_per_slice:]
        acts.update.extend(body for body, changed in kept if changed)
    if kept_total == 0 and not acts.create:
        # Keep (or make) the placeholder: an empty slice for the Service's first family.
        placeholder = next((s for s in existing if not (s.get("endpoints") or []) and not (s.get("ports") or [])
                            and s.get("addressType") == types[0]), None)
        if placeholder is not None:
            acts.delete.remove(meta(placeholder).get("name", ""))
            if (meta(placeholder).get("labels") or {}) != labels:
                acts.update.append(_refreshed(placeholder, labels, []))
        else:
            acts.create.append(new_slice(svc, [], types[0], []))
    for body in acts.create + acts.update:
        ann = dict((body["metadata"].get("annotations") or {}))
        if trigger_time:
            ann[ANN_LAST_CHANGE_TRIGGER_TIME] = trigger_time
        else:
            ann.pop(ANN_LAST_CHANGE_TRIGGER_TIME, None)
        if ann:
            body["metadata"]["annotations"] = ann
        else:
            body["metadata"].pop("annotations", None)
    return acts


def _refreshed(s: Mapping[str, Any], labels: dict[str, str], endpoints: list[Obj]) -> Obj:
    body = {k: v for k, v in s.items() if k not in ("endpoints", "metadata")}
    body["metadata"] = dict(meta(s))
    body["metadata"]["labels"] = dict(labels)
    body["endpoints"] = list(endpoints)
    return body


def owned_by(slice_obj: Mapping[str, Any], service_name: str) -> bool:
    labels = meta(slice_obj).get("labels") or {}
    return labels.get(LABEL_SERVICE_NAME) == service_name and labels.get(LABEL_MANAGED_BY) == CONTROLLER_NAME


# -- the loop ------------------------------------------------------------------------------
class EndpointSliceController(Controller):
    name = "endpointslice-controller"
    watches = ("services", "pods", "discovery.k8s.io/endpointslices", "nodes")
    resync_seconds = 30.0

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.tracker = TriggerTimeTracker()
        self.pod_changes = PodChangeFilter()
        self.selections = PodSelections(self.pod_changes)
        self._memos: dict[tuple[str, str], PodMemo] = {}  # per Service: its pods' endpoints

    def items_for(self, ev: Event) -> Iterable[Hashable]:
        e = ev.entry
        if e.key == "services":
            return [("svc", e.namespace, e.name)]
        if e.key == "discovery.k8s.io/endpointslices":
            labels = e.labels or {}
            if labels.get(LABEL_MANAGED_BY) == CONTROLLER_NAME and labels.get(LABEL_SERVICE_NAME):
                return [("svc", e.namespace, labels[LABEL_SERVICE_NAME])]
            return []
        if e.key == "pods":
            return self.pod_changes.services(ev.type, e.namespace, e.name, e.labels, e.view(),
                                             lambda labels: services_selecting(self.api.store, e.namespace, labels))
        if e.key == "nodes":
            # A node's zone label feeds endpoint zones: only a zone change matters.
            old_zone = (ev.prev.labels or {}).get(LABEL_ZONE) if ev.prev is not None else None
            if ev.type == "MODIFIED" and (e.labels or {}).get(LABEL_ZONE) != old_zone:
                return self.all_items()
            return []
        return []

    def all_items(self) -> list[Hashable]:
        entries, _ = self.api.store.list("services")
        return [("svc", e.namespace, e.name) for e in entries]

    def _zones(self) -> dict[str, str]:
        entries, _ = self.api.store.list("nodes")
        return {e.name: (e.labels or {}).get(LABEL_ZONE, "") for e in entries}

    def reconcile(self, item: Hashable) -> float | None:
        _, ns, name = item  # type: ignore[misc]
        store = self.api.store
        rt = self.api.rt("discovery.k8s.io/endpointslices")
        svc_entry = store.get("services", ns, name)
        if svc_entry is None:
            # The slices are owned by the Service: the garbage collector removes them (as upstream).
            self.tracker.forget(ns, name)
            self._memos.pop((ns, name), None)
            self.selections.forget(ns, name)
            return None
        svc = svc_entry.view()  # read-only: what the slices keep of it is copied
        if (svc.get("spec") or {}).get("type") == "ExternalName":
            return None  # receives no endpoints from this controller (issues.k8s.io/105986)
        sel = service_selector(svc)
        if sel is None:
            return None
        # Read-only views: endpoints are built from fresh dicts.
        pods = self.selections.views(store, ns, name, sel)
        # owned_by reads only labels: the entries' label index decides before anything is decoded.
        # Read-only views: the bodies built from them are copied before they are written.
        mine = [e.view() for e in store.list(rt.key, ns)[0] if owned_by({"metadata": {"labels": e.labels}}, name)]
        uid = meta(svc).get("uid")
        # Slices of an earlier Service of the same name (another uid) are replaced (``ownedBy``).
        stale = [s for s in mine if not any(r.get("controller") and r.get("uid") == uid
                                            for r in meta(s).get("ownerReferences") or [])]
        mine = [s for s in mine if s not in stale]
        trigger = self.tracker.compute(ns, svc, pods)
        memo = self._memos.setdefault((ns, name), PodMemo())
        acts = reconcile(svc, pods, self._zones(), mine, trigger, memo=memo)
        memo.rotate()
        acts.delete.extend(meta(s).get("name", "") for s in stale)
        req = Request(field_manager=MANAGER)
        try:
            # The bodies share endpoints with the memo: each write gets its own copy, handed over
            # as decoded (a typed client's object), without a schema walk.
            for body in acts.create:
                self.api.create(rt, ns, copy_json(body), req, decoded=True)
            for body in acts.update:
                self.api.update(rt, ns, meta(body).get("name", ""), copy_json(body), req, decoded=True,
                                want_result=False)
        except (Conflict, AlreadyExists):
            return 0.05
        except NotFound:
            return 0.05
        except ApiError as exc:
            log.debug("endpointslices for %s/%s: %s", ns, name, exc)
            return 1.0
        for slice_name in acts.delete:
            self._delete(rt, ns, slice_name)
        return None

    def _delete(self, rt: Any, ns: str, name: str) -> None:
        try:
            self.api.delete(rt, ns, name)
        except NotFound:
            pass
