"""Reading and writing the live objects: apply, the pets as the API shows them, claims, events, identity."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from kubernetes import client
from kubernetes.client.rest import ApiException

from ..errors import InvalidParameter, KubeError
from ..views import table
from ._spec import (CLAIM_TEMPLATE, CLUSTER_DOMAIN, EBS_ZONE_KEYS, REVISION_LABEL, VERSION_ANNOTATION, ZONE_LABEL,
                    PetSet, storage_class_manifest)

# -- talking to the cluster ------------------------------------------------------------------
def api_client(target: Any) -> client.ApiClient:
    """The official ``ApiClient`` of a :class:`kubekit.cluster.Cluster` (or the client itself)."""
    api = getattr(target, "api", target)
    if not isinstance(api, client.ApiClient):
        raise InvalidParameter("cluster", target, "not a kubekit Cluster or kubernetes ApiClient",
                               "use kubekit.cluster.connect(context)")
    return api


def _call(action: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except ApiException as exc:
        raise KubeError(action, exc) from exc


def _missing(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(...)``, or None on 404."""
    try:
        return fn(*args, **kwargs)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise KubeError(getattr(fn, "__name__", "request"), exc) from exc


def ensure_namespace(target: Any, namespace: str) -> bool:
    """Create the namespace when missing; True if it was created."""
    core = client.CoreV1Api(api_client(target))
    if _missing(core.read_namespace, namespace) is not None:
        return False
    try:
        core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    except ApiException as exc:
        if exc.status != 409:
            raise KubeError(f"create namespace {namespace}", exc) from exc
    return True


def ensure_storage_class(target: Any, name: str) -> bool:
    """Create the EBS gp3 class ``name`` when the cluster has no class of that name; True if created.

    The sandbox has one (its EBS add-on); a new EKS cluster has only ``gp2`` (in-tree) or none at all.
    """
    if not name:
        return False
    storage = client.StorageV1Api(api_client(target))
    if _missing(storage.read_storage_class, name) is not None:
        return False
    try:
        storage.create_storage_class(storage_class_manifest(name))
    except ApiException as exc:
        if exc.status != 409:
            raise KubeError(f"create StorageClass {name}", exc) from exc
    return True


def apply(target: Any, obj: dict[str, Any]) -> str:
    """Create ``obj``, or replace the live one (keeping its resourceVersion); returns created|configured|unchanged.

    Only the kinds :meth:`PetSet.manifests` makes. A StatefulSet field that is
    immutable (selector, serviceName, volumeClaimTemplates, podManagementPolicy)
    cannot change: delete the set first (:func:`teardown` with ``claims=False``).
    """
    api = api_client(target)
    kind, meta = obj["kind"], obj["metadata"]
    name, ns = meta["name"], meta.get("namespace", "")
    core, apps, policy = client.CoreV1Api(api), client.AppsV1Api(api), client.PolicyV1Api(api)
    storage = client.StorageV1Api(api)
    verbs: dict[str, tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any], bool]] = {
        "ConfigMap": (core.read_namespaced_config_map, core.create_namespaced_config_map,
                      core.replace_namespaced_config_map, True),
        "Service": (core.read_namespaced_service, core.create_namespaced_service,
                    core.replace_namespaced_service, True),
        "PodDisruptionBudget": (policy.read_namespaced_pod_disruption_budget,
                                policy.create_namespaced_pod_disruption_budget,
                                policy.replace_namespaced_pod_disruption_budget, True),
        "StatefulSet": (apps.read_namespaced_stateful_set, apps.create_namespaced_stateful_set,
                        apps.replace_namespaced_stateful_set, True),
        "StorageClass": (storage.read_storage_class, storage.create_storage_class, storage.replace_storage_class,
                         False),
    }
    if kind not in verbs:
        raise InvalidParameter("kind", kind, "kubekit.pets applies only the kinds PetSet.manifests makes")
    read, create, replace, namespaced = verbs[kind]
    where = (ns,) if namespaced else ()
    live = _missing(read, name, *where)
    if live is None:
        _call(f"create {kind} {name}", create, *where, obj)
        return "created"
    live_dict = api.sanitize_for_serialization(live)
    if kind == "StorageClass":
        return "unchanged"  # parameters are immutable; an existing class is the cluster's choice
    wanted = dict(obj, metadata={**meta, "resourceVersion": live_dict["metadata"]["resourceVersion"]})
    if kind == "Service":  # the API server owns clusterIP(s) and defaults
        spec = dict(live_dict.get("spec") or {})
        spec.update(obj["spec"])
        wanted["spec"] = spec
    if _same(obj, live_dict):
        return "unchanged"
    try:
        replace(name, *where, wanted)
    except ApiException as exc:
        if exc.status == 422 and kind == "StatefulSet":
            raise KubeError(f"update StatefulSet {name} (a field that cannot change changed: delete the set "
                            f"with pets.teardown(kc, ps, claims=False) and deploy again)", exc) from exc
        raise KubeError(f"replace {kind} {name}", exc) from exc
    return "configured"


def _same(wanted: Any, live: Any) -> bool:
    """True when every field of ``wanted`` has the same value in ``live`` (defaults in live are ignored)."""
    if isinstance(wanted, dict):
        return isinstance(live, dict) and all(_same(v, live.get(k)) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(live, list) and len(wanted) == len(live) and all(map(_same, wanted, live))
    return bool(wanted == live or str(wanted) == str(live))


# -- snapshots of the live state ---------------------------------------------------------------
@dataclass(frozen=True)
class PetState:
    """One pet as the API shows it right now."""

    name: str
    ordinal: int
    uid: str
    phase: str
    ready: bool
    terminating: bool
    node: str
    ip: str
    revision: str
    restarts: int
    hostname: str
    subdomain: str
    claim: str
    version: str = ""  # the pod's kubekit.io/version annotation


def _ordinal(name: str, set_name: str) -> int | None:
    prefix = set_name + "-"
    if not name.startswith(prefix) or not name[len(prefix):].isdigit():
        return None
    return int(name[len(prefix):])


def pets_now(target: Any, ps: PetSet) -> dict[int, PetState]:
    """The set's pods by ordinal (whatever their phase), as the API shows them now."""
    core = client.CoreV1Api(api_client(target))
    selector = ",".join(f"{k}={v}" for k, v in ps.selector.items())
    pods = _call("list pods", core.list_namespaced_pod, ps.namespace, label_selector=selector).items
    out = {}
    for pod in pods:
        ordinal = _ordinal(pod.metadata.name, ps.name)
        if ordinal is None:
            continue
        status = pod.status
        ready = any(c.type == "Ready" and c.status == "True" for c in status.conditions or [])
        restarts = sum(cs.restart_count or 0 for cs in status.container_statuses or [])
        claim = next((v.persistent_volume_claim.claim_name for v in pod.spec.volumes or []
                      if v.name == CLAIM_TEMPLATE and v.persistent_volume_claim), "")
        out[ordinal] = PetState(pod.metadata.name, ordinal, pod.metadata.uid, status.phase or "Pending", ready,
                                pod.metadata.deletion_timestamp is not None, pod.spec.node_name or "",
                                status.pod_ip or "", (pod.metadata.labels or {}).get(REVISION_LABEL, ""),
                                restarts, pod.spec.hostname or "", pod.spec.subdomain or "", claim,
                                (pod.metadata.annotations or {}).get(VERSION_ANNOTATION, ""))
    return dict(sorted(out.items()))


def phase_of(p: PetState) -> str:
    """A short state for progress and pictures: Running/Ready, ContainerCreating-like Pending, Terminating."""
    if p.terminating:
        return "Terminating"
    if p.phase == "Running" and p.ready:
        return "Ready"
    return p.phase if p.phase != "Running" else "NotReady"


def warnings(target: Any, ps: PetSet) -> list[str]:
    """Warning events of the set's pods and claims, oldest first, as ``<object>: <reason>: <message>``."""
    core = client.CoreV1Api(api_client(target))
    items = _missing(core.list_namespaced_event, ps.namespace)
    out = []
    for e in sorted(items.items if items else [], key=lambda e: str(e.last_timestamp or e.event_time or "")):
        obj = e.involved_object.name or ""
        if e.type == "Warning" and (obj.startswith(ps.name + "-") or obj.startswith(f"{CLAIM_TEMPLATE}-{ps.name}-")):
            out.append(f"{obj}: {e.reason}: {e.message}")
    return out


def claims(target: Any, ps: PetSet) -> dict[str, str]:
    """The set's claims (``data-<name>-<ordinal>``), name -> phase, sorted by ordinal."""
    core = client.CoreV1Api(api_client(target))
    items = _call("list claims", core.list_namespaced_persistent_volume_claim, ps.namespace).items
    prefix = f"{CLAIM_TEMPLATE}-{ps.name}-"
    found = {c.metadata.name: ("Terminating" if c.metadata.deletion_timestamp else c.status.phase or "Pending")
             for c in items if c.metadata.name.startswith(prefix) and c.metadata.name[len(prefix):].isdigit()}
    return dict(sorted(found.items(), key=lambda kv: int(kv[0][len(prefix):])))


# -- identity -----------------------------------------------------------------------------
IDENTITY_COLUMNS = ["pet", "ordinal", "uid", "node", "zone", "ip", "dns", "pvc", "pv", "volume_zone", "keys",
                    "checksum", "restarts"]


@dataclass(frozen=True)
class PetIdentity:
    """Everything that makes a pet that pet, and what it holds."""

    pet: str
    ordinal: int
    uid: str
    node: str
    zone: str
    ip: str
    dns: str
    pvc: str
    pv: str
    volume_zone: str
    keys: int | None
    checksum: str
    restarts: int
    phase: str = ""
    revision: str = ""
    starts: int | None = None  # petkv's starts on this volume
    version: str = ""  # the pod template version the pet runs (kubekit.io/version)

    def row(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {k: ("-" if v is None or v == "" else v) for k, v in d.items()}


@dataclass(frozen=True)
class IdentityTable:
    """The set's pets, one row each, sorted by ordinal; ``str()`` is a plain table."""

    rows: tuple[PetIdentity, ...]

    def __iter__(self) -> Any:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, pet: str | int) -> PetIdentity:
        for r in self.rows:
            if r.pet == pet or r.ordinal == pet:
                return r
        raise KeyError(pet)

    def show(self, *columns: str) -> str:
        """A table of the chosen columns (default: all of :data:`IDENTITY_COLUMNS`)."""
        return table([r.row() for r in self.rows], list(columns or IDENTITY_COLUMNS))

    def __str__(self) -> str:
        return self.show()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def _zone_of_pv(pv: Any) -> str:
    labels = pv.metadata.labels or {}
    for key in EBS_ZONE_KEYS:
        if labels.get(key):
            return str(labels[key])
    affinity = pv.spec.node_affinity
    terms = affinity.required.node_selector_terms if affinity and affinity.required else []
    for term in terms or []:
        for expr in term.match_expressions or []:
            if expr.key in EBS_ZONE_KEYS and expr.operator == "In" and expr.values:
                return str(expr.values[0])
    return ""


def identity(target: Any, ps: PetSet, *, data: bool = True) -> IdentityTable:
    """Each pet's identity: pod uid, node, zone, IP, DNS name, claim, volume and its zone, and (petkv) its data."""
    api = api_client(target)
    core = client.CoreV1Api(api)
    pets = pets_now(target, ps)
    nodes = {n.metadata.name: (n.metadata.labels or {}).get(ZONE_LABEL, "") for n in
             _call("list nodes", core.list_node).items}
    claims = {c.metadata.name: c for c in
              _call("list claims", core.list_namespaced_persistent_volume_claim, ps.namespace).items}
    pvs = {pv.metadata.name: pv for pv in _call("list volumes", core.list_persistent_volume).items}
    info: dict[str, dict[str, Any]] = {}
    if data and ps.is_petkv:
        from ._data import kv

        info = kv(target, ps).identities([p.name for p in pets.values() if p.ready and not p.terminating])
    rows = []
    for ordinal, p in pets.items():
        claim = claims.get(p.claim or ps.claim(ordinal))
        pv_name = (claim.spec.volume_name or "") if claim else ""
        pv = pvs.get(pv_name)
        about = info.get(p.name) or {}
        rows.append(PetIdentity(
            pet=p.name, ordinal=ordinal, uid=p.uid, node=p.node, zone=nodes.get(p.node, ""), ip=p.ip,
            dns=f"{p.hostname or p.name}.{p.subdomain}.{ps.namespace}.svc.{CLUSTER_DOMAIN}" if p.subdomain else "",
            pvc=claim.metadata.name if claim else "", pv=pv_name, volume_zone=_zone_of_pv(pv) if pv else "",
            keys=about.get("keys"), checksum=about.get("checksum", ""), restarts=p.restarts, phase=phase_of(p),
            revision=p.revision, starts=about.get("starts"), version=p.version))
    return IdentityTable(tuple(rows))
