"""Attach/detach: VolumeAttachments for EBS volumes, Multi-Attach, and the 6-minute force detach.

Three upstream parts, as they meet for a zonal RWO volume:

- **attach/detach controller** (kube-controller-manager ``pkg/controller/volume/attachdetach``):
  the desired state is every (volume, node) used by a pod that is scheduled and not terminated
  (``populator``, ``util.IsPodTerminated``); the actual state is the VolumeAttachments. A wanted,
  missing attachment is created (CSI ``csi_attacher.go`` ``Attach``: name
  ``csi-<sha256(volumeHandle + driver + nodeName)>``, ``getAttachmentName``). A volume that only
  allows ReadWriteOnce and is attached elsewhere is not attached; the pods waiting for it get one
  Warning ``FailedAttachVolume`` (``reconciler.go`` ``reportMultiAttachError``):
  ``Multi-Attach error for volume "pvc-…" Volume is already exclusively attached to one node and
  can't be attached to another`` when no pod on the other node still wants it, else
  ``… Volume is already used by pod(s) web-0``. An unwanted attachment is detached once its node no
  longer has it mounted; if it stays mounted, it is force-detached after
  ``maxWaitForUnmountDuration`` (6 min, ``timings.force_detach_after``) only when the node is not
  Ready (``forceDetach := !isHealthy && timeout``, PR #110721), and at once when the node has the
  ``node.kubernetes.io/out-of-service`` taint (non-graceful node shutdown, NL-11). On a successful
  attach each pod gets Normal ``SuccessfulAttachVolume`` ``AttachVolume.Attach succeeded for volume
  "pvc-…"``; ``node.status.volumesAttached`` lists ``kubernetes.io/csi/ebs.csi.aws.com^vol-…``
  (``statusupdater``).
- **external-attacher** for ``ebs.csi.aws.com`` (kubernetes-csi/external-attacher): marks the
  attachment ``status.attached: true`` after a short, scaled EBS attach delay, with finalizer
  ``external-attacher/ebs-csi-aws-com`` on the VolumeAttachment and on the PV; on delete it detaches
  and drops the finalizers.
- **CSI node registration** (kubelet ``nodeinfomanager`` with the EBS node plugin ``NodeGetInfo``):
  a ``CSINode`` per node with the driver, its node id (the EC2 instance id from
  ``spec.providerID``), topology keys ``kubernetes.io/os``, ``topology.ebs.csi.aws.com/zone``,
  ``topology.kubernetes.io/zone`` and an attach limit, plus the node label
  ``topology.ebs.csi.aws.com/zone``.

"Mounted by node" (what holds a detach back) is upstream's ``node.status.volumesInUse``, which the
kubelet reports; a node whose kubelet is not posting Ready status is treated as still having its
volumes mounted (nobody unmounted them), which is what makes a dead node's volume wait 6 minutes.

**The mount convention for the kubelet/runtime** (see :func:`pod_volume_check`): a pod's PVC
volume may be mounted on node N only when its claim is Bound and, for an attachable PV (EBS, CSI or
migrated in-tree), the VolumeAttachment named ``attachment_name(handle, driver, N)`` exists, is not
being deleted and has ``status.attached: true``. Otherwise the runtime raises
``VolumeError("FailedMount", …)`` and keeps the pod ContainerCreating; it retries on later syncs.
The kubelet reports ``node.status.volumesInUse`` = :func:`unique_volume_name` of every PV it has
mounted and removes a name only after the pod using it is torn down.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Hashable, Iterable, Mapping

import threading
from ..api import DeleteOptions, Request
from ..errors import AlreadyExists, ApiError, NotFound
from ..store import Event as StoreEvent
from .base import Controller
from .volumes import EBS_DRIVER, EBS_ZONE_KEY, OS_KEY, ZONE_KEY, node_zone, pod_claims, pod_terminated

log = logging.getLogger("kubesim.controllers.attachdetach")

Obj = dict[str, Any]

COMPONENT = "attachdetach-controller"
MANAGER = "kube-controller-manager"
ATTACHER_MANAGER = "csi-attacher"
FINALIZER_ATTACHER = "external-attacher/ebs-csi-aws-com"  # external-attacher: "external-attacher/" + driver, dots -> dashes
ANN_NODE_ID = "csi.alpha.kubernetes.io/node-id"
ANN_MANAGED = "volumes.kubernetes.io/controller-managed-attach-detach"
TAINT_OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"
CSI_PLUGIN = "kubernetes.io/csi"
# Upstream-equivalent seconds an EC2 AttachVolume / DetachVolume takes (scaled by the profile).
ATTACH_SECONDS = 2.0
DETACH_SECONDS = 2.0
# EBS attach limit of a Nitro instance with the root volume and one ENI (aws-ebs-csi-driver node.go
# getVolumesLimit: 28 shared attachments - reserved block devices - ENIs). Approximate per type.
EBS_ATTACH_LIMIT = 25

MSG_EXCLUSIVE = "Volume is already exclusively attached to one node and can't be attached to another"


def msg_attached(pv: str) -> str:
    return f"AttachVolume.Attach succeeded for volume \"{pv}\""


def msg_multi_attach(pv: str, suffix: str) -> str:
    """``GenerateMsg("Multi-Attach error", suffix)``: ``<prefix> for volume "<spec name>" <suffix>``."""
    return f"Multi-Attach error for volume \"{pv}\" {suffix}"


def multi_attach_suffix(pod_ns: str, other_pods: list[tuple[str, str]]) -> str:
    """``reportMultiAttachError``: name the blocking pods of the pod's own namespace, count the rest."""
    if not other_pods:
        return MSG_EXCLUSIVE
    local = [name for ns, name in other_pods if ns == pod_ns]
    others = sum(1 for ns, _ in other_pods if ns != pod_ns)
    if local:
        msg = f"Volume is already used by pod(s) {', '.join(local)}"
        if others:
            msg += f" and {others} pod(s) in different namespaces"
        return msg
    return f"Volume is already used by {others} pod(s) in different namespaces"


# -- names ------------------------------------------------------------------------------------------------
def attachment_name(handle: str, driver: str, node: str) -> str:
    """``getAttachmentName`` (pkg/volume/csi/csi_attacher.go): ``csi-<sha256(handle+driver+node)>``."""
    return "csi-" + hashlib.sha256(f"{handle}{driver}{node}".encode()).hexdigest()


def attach_source(pv: Obj) -> tuple[str, str] | None:
    """(driver, volume handle) of an attachable PV: EBS CSI, or in-tree EBS (CSI-migrated)."""
    spec = pv.get("spec") or {}
    csi = spec.get("csi") or {}
    if csi.get("driver") == EBS_DRIVER and csi.get("volumeHandle"):
        return EBS_DRIVER, csi["volumeHandle"]
    ebs = spec.get("awsElasticBlockStore") or {}
    if ebs.get("volumeID"):
        # csi-translation-lib: aws://<zone>/vol-… -> vol-…
        return EBS_DRIVER, ebs["volumeID"].rsplit("/", 1)[-1]
    return None


def unique_volume_name(pv: Obj) -> str | None:
    """``GetUniqueVolumeNameFromSpec`` for CSI: ``kubernetes.io/csi/<driver>^<handle>``."""
    src = attach_source(pv)
    return f"{CSI_PLUGIN}/{src[0]}^{src[1]}" if src else None


def multi_attach_forbidden(pv: Obj) -> bool:
    """``isMultiAttachAllowed`` inverted: no RWX/ROX mode (and at least one mode) -> exclusive."""
    modes = (pv.get("spec") or {}).get("accessModes") or []
    return bool(modes) and not any(m in ("ReadWriteMany", "ReadOnlyMany") for m in modes)


def node_id(node: Obj) -> str:
    """The EBS node plugin's NodeId: the instance id from ``aws:///zone/i-…`` (else the node name)."""
    pid = (node.get("spec") or {}).get("providerID") or ""
    tail = pid.rsplit("/", 1)[-1]
    return tail if tail.startswith("i-") else (node.get("metadata") or {}).get("name", "")


def is_ready(node: Obj) -> bool:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def out_of_service(node: Obj) -> bool:
    return any(t.get("key") == TAINT_OUT_OF_SERVICE for t in (node.get("spec") or {}).get("taints") or [])


# -- the decision --------------------------------------------------------------------------------------------
Key = tuple[str, str]  # (pv name, node name)
PodKey = tuple[str, str]  # (namespace, name)


@dataclass(frozen=True)
class NodeState:
    exists: bool = True
    healthy: bool = True  # Ready=True
    out_of_service: bool = False
    in_use: frozenset[str] = frozenset()  # node.status.volumesInUse


@dataclass(frozen=True)
class AttachmentState:
    name: str
    attached: bool = False
    deleting: bool = False


@dataclass(frozen=True)
class Attach:
    pv: str
    node: str


@dataclass(frozen=True)
class Detach:
    pv: str
    node: str
    forced: bool = False


@dataclass(frozen=True)
class MultiAttachError:
    pv: str
    node: str
    pod: PodKey
    message: str


@dataclass
class Plan:
    actions: list[Attach | Detach | MultiAttachError] = field(default_factory=list)
    recheck: float | None = None  # seconds until a timer (force detach) may fire


def decide(desired: Mapping[Key, list[PodKey]], attachments: Mapping[Key, AttachmentState],
           exclusive: Mapping[str, bool], unique: Mapping[str, str], nodes: Mapping[str, NodeState],
           detach_waited: Mapping[Key, float], reported: set[Key], max_wait: float) -> Plan:
    """One pass of the attach/detach reconciler (``reconciler.go`` ``reconcile``).

    ``exclusive[pv]``: multi-attach forbidden; ``unique[pv]``: its unique volume name (volumesInUse);
    ``detach_waited[key]``: seconds since the attachment stopped being wanted.
    """
    plan = Plan()
    # Detach what no scheduled, running pod wants.
    for key, att in sorted(attachments.items()):
        if key in desired or att.deleting:
            continue
        pv, node = key
        st = nodes.get(node, NodeState(exists=False, healthy=False))
        mounted = (unique.get(pv, "") in st.in_use) or not st.healthy
        waited = detach_waited.get(key, 0.0)
        force = not st.healthy and waited > max_wait
        if mounted and not force and not st.out_of_service:
            if not st.healthy:
                left = max_wait - waited
                plan.recheck = left if plan.recheck is None else min(plan.recheck, left)
            continue
        plan.actions.append(Detach(pv, node, forced=mounted))
    # Attach what is wanted and missing, unless the volume is exclusively attached elsewhere.
    for key, pods in sorted(desired.items()):
        if key in attachments and not attachments[key].deleting:
            continue
        if key in attachments:
            continue  # being detached from this very node: attach again once it is gone
        pv, node = key
        elsewhere = sorted(n for (p, n) in attachments if p == pv and n != node)
        if exclusive.get(pv) and elsewhere:
            if key not in reported:
                blockers = sorted(pk for n in elsewhere for pk in desired.get((pv, n), []))
                for pod in sorted(pods):
                    plan.actions.append(MultiAttachError(pv, node, pod, msg_multi_attach(
                        pv, multi_attach_suffix(pod[0], blockers))))
            continue
        plan.actions.append(Attach(pv, node))
    return plan


# -- what the kubelet/runtime asks before mounting ----------------------------------------------------------
@dataclass
class PodVolumeCheck:
    """The state of a pod's PVC volumes on one node.

    ``paths``: pod volume name -> PV (for ``kubesim.storage.volume_dir``) of every mountable PVC volume;
    ``unattached``: pod volume names whose VolumeAttachment is not attached on this node yet;
    ``errors``: messages for volumes that cannot be set up at all yet (claim missing, unbound ...).
    """

    pvs: dict[str, Obj] = field(default_factory=dict)
    unattached: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.unattached and not self.errors

    def failed_mount(self) -> tuple[str, str] | None:
        """(reason, message) for ``VolumeError``, or None when every PVC volume can be mounted.

        The message follows the kubelet volume manager's wait timeout text
        (``Unable to attach or mount volumes: unmounted volumes=[…], unattached volumes=[…]: …``);
        a kubelet that also tracks its other volumes may add them to both lists.
        """
        if self.ready:
            return None
        waiting = sorted(set(self.unattached) | {e.split(":", 1)[0] for e in self.errors})
        why = "; ".join(e.split(": ", 1)[1] for e in self.errors) or "timed out waiting for the condition"
        return ("FailedMount", f"Unable to attach or mount volumes: unmounted volumes=[{' '.join(waiting)}], "
                               f"unattached volumes=[{' '.join(sorted(self.unattached) or waiting)}]: {why}")


def pod_volume_check(api: Any, pod: Obj, node: str) -> PodVolumeCheck:
    """Whether ``pod``'s PVC volumes may be mounted on ``node`` now (the attach/mount convention)."""
    out = PodVolumeCheck()
    store = api.store
    ns = (pod.get("metadata") or {}).get("namespace", "")
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        src = vol.get("persistentVolumeClaim") if isinstance(vol, dict) else None
        if not isinstance(src, dict) or not src.get("claimName"):
            continue
        vname, cname = vol.get("name", ""), src["claimName"]
        ce = store.get("persistentvolumeclaims", ns, cname)
        if ce is None:
            out.errors.append(f"{vname}: error processing PVC {ns}/{cname}: PVC not found")
            continue
        claim = ce.obj()
        pv_name = (claim.get("spec") or {}).get("volumeName")
        if not pv_name or (claim.get("status") or {}).get("phase") != "Bound":
            out.errors.append(f"{vname}: error processing PVC {ns}/{cname}: PVC is not bound")
            continue
        pe = store.get("persistentvolumes", "", pv_name)
        if pe is None:
            out.errors.append(f"{vname}: error processing PVC {ns}/{cname}: failed to fetch PV {pv_name} from API "
                              "server: persistentvolumes \"" + pv_name + "\" not found")
            continue
        pv = pe.obj()
        src2 = attach_source(pv)
        if src2 is not None:
            va = store.get("storage.k8s.io/volumeattachments", "", attachment_name(src2[1], src2[0], node))
            vobj = va.obj() if va is not None else None
            if vobj is None or (vobj.get("metadata") or {}).get("deletionTimestamp") or \
                    not (vobj.get("status") or {}).get("attached"):
                out.unattached.append(vname)
                continue
        out.pvs[vname] = pv
    return out


def volume_attached(api: Any, pv: Obj, node: str) -> bool:
    """True when ``pv`` may be used on ``node``: not attachable, or its VolumeAttachment there is attached."""
    src = attach_source(pv)
    if src is None:
        return True
    e = api.store.get("storage.k8s.io/volumeattachments", "", attachment_name(src[1], src[0], node))
    if e is None:
        return False
    va = e.obj()
    return bool((va.get("status") or {}).get("attached")) and not (va.get("metadata") or {}).get("deletionTimestamp")


def csinode_for(node: Obj) -> Obj | None:
    """The CSINode the kubelet registers once the EBS node plugin is up (None until the node has a zone)."""
    meta = node.get("metadata") or {}
    if not node_zone(node):
        return None
    return {
        "apiVersion": "storage.k8s.io/v1", "kind": "CSINode",
        "metadata": {"name": meta.get("name", ""), "annotations": {
            "storage.alpha.kubernetes.io/migrated-plugins": "kubernetes.io/aws-ebs,kubernetes.io/azure-disk,"
                                                            "kubernetes.io/azure-file,kubernetes.io/cinder,"
                                                            "kubernetes.io/gce-pd,kubernetes.io/vsphere-volume"},
                     "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": meta.get("name", ""),
                                          "uid": meta.get("uid", "")}]},
        "spec": {"drivers": [{"name": EBS_DRIVER, "nodeID": node_id(node),
                              "topologyKeys": [OS_KEY, EBS_ZONE_KEY, ZONE_KEY],
                              "allocatable": {"count": EBS_ATTACH_LIMIT}}]},
    }


# -- the loop -------------------------------------------------------------------------------------------------
class AttachDetachController(Controller):
    """Attach/detach controller, EBS external-attacher and CSINode registration for one cluster.

    One work item ("world"): every change recomputes the desired and actual state, as upstream's
    reconciler loop does every 100 ms.
    """

    name = "attachdetach-controller"
    watches = ("pods", "persistentvolumeclaims", "persistentvolumes", "nodes", "storage.k8s.io/volumeattachments")

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.resync_seconds = max(1.0, self.timings.s(60.0))
        self.events = self.ctx.recorder(COMPONENT)
        self._detach_since: dict[Key, float] = {}  # (pv, node) -> monotonic time it became unwanted
        self._reported: set[Key] = set()
        self._announced: set[str] = set()  # VolumeAttachment uids whose success was reported
        self._created: dict[str, float] = {}  # VolumeAttachment name -> monotonic time first seen
        self._deleted: dict[str, float] = {}  # VolumeAttachment name -> monotonic time deletion seen
        self._lock = threading.Lock()
        self._pods: dict[PodKey, Obj] = {}  # pods that reference claims (the only ones that matter)

    def start(self) -> None:
        for e in self.api.store.list("pods")[0]:
            self._index_pod(e.namespace, e.name, e.obj())
        super().start()

    def _index_pod(self, ns: str, name: str, pod: Obj | None) -> bool:
        with self._lock:
            had = (ns, name) in self._pods
            if pod is not None and pod_claims(pod):
                self._pods[(ns, name)] = pod
                return True
            self._pods.pop((ns, name), None)
            return had

    def items_for(self, ev: StoreEvent) -> Iterable[Hashable]:
        e = ev.entry
        if e.key == "pods":
            # Only pods with claim volumes are indexed: the others are not even decoded.
            pod = None if ev.type == "DELETED" or b'"persistentVolumeClaim"' not in e.raw else e.obj()
            return ["world"] if self._index_pod(e.namespace, e.name, pod) else []
        if e.key == "nodes" and ev.type == "MODIFIED" and ev.prev is not None:
            return ["world"] if _node_view(e.view()) != _node_view(ev.prev.view()) else []
        return ["world"]

    def all_items(self) -> Iterable[Hashable]:
        return ["world"]

    def _objs(self, key: str) -> list[Obj]:
        """Shared read-only views (see ``Entry.view``): nothing here edits them, writes go through mutate."""
        return [e.view() for e in self.api.store.list(key)[0]]

    def reconcile(self, item: Hashable) -> float | None:
        now = time.monotonic()
        nodes_raw = {(n.get("metadata") or {}).get("name", ""): n for n in self._objs("nodes")}
        self._register_nodes(nodes_raw)
        pvs = {(p.get("metadata") or {}).get("name", ""): p for p in self._objs("persistentvolumes")}
        vas = self._objs("storage.k8s.io/volumeattachments")
        desired = self._desired(pvs, nodes_raw)
        attachments: dict[Key, AttachmentState] = {}
        for va in vas:
            spec = va.get("spec") or {}
            if spec.get("attacher") != EBS_DRIVER:
                continue
            pv = (spec.get("source") or {}).get("persistentVolumeName") or ""
            attachments[(pv, spec.get("nodeName") or "")] = AttachmentState(
                (va.get("metadata") or {}).get("name", ""), bool((va.get("status") or {}).get("attached")),
                bool((va.get("metadata") or {}).get("deletionTimestamp")))
        # Timers: when did each attachment stop being wanted?
        unwanted = {k for k, a in attachments.items() if k not in desired and not a.deleting}
        for k in list(self._detach_since):
            if k not in unwanted:
                del self._detach_since[k]
        for k in unwanted:
            self._detach_since.setdefault(k, now)
        self._reported &= set(desired)
        nodes = {name: NodeState(True, is_ready(n), out_of_service(n),
                                 frozenset((n.get("status") or {}).get("volumesInUse") or []))
                 for name, n in nodes_raw.items()}
        unique = {name: unique_volume_name(pv) or "" for name, pv in pvs.items()}
        exclusive = {name: multi_attach_forbidden(pv) for name, pv in pvs.items()}
        max_wait = self.timings.get("force_detach_after")
        plan = decide(desired, attachments, exclusive, unique, nodes,
                      {k: now - t for k, t in self._detach_since.items()}, self._reported, max_wait)
        again: list[float] = [plan.recheck] if plan.recheck is not None else []
        for act in plan.actions:
            try:
                if isinstance(act, Attach):
                    self._attach(pvs[act.pv], nodes_raw.get(act.node), act.node)
                elif isinstance(act, Detach):
                    if act.forced:
                        log.info("attacherDetacher.DetachVolume started: this volume is not safe to detach, but "
                                 "maxWaitForUnmountDuration %ss expired, force detaching volume %s from node %s",
                                 max_wait, act.pv, act.node)
                    self._detach(attachments[(act.pv, act.node)].name)
                elif isinstance(act, MultiAttachError):
                    pod = self._pod(act.pod)
                    if pod is not None:
                        self.events.event(pod, "Warning", "FailedAttachVolume", act.message)
                    self._reported.add((act.pv, act.node))
            except ApiError as exc:
                log.debug("attach/detach %s: %s", act, exc)
                again.append(1.0)
        again += self._external_attacher(now, pvs, desired)
        self._update_node_status(nodes_raw, pvs)
        return max(0.01, min(again)) if again else None

    # -- desired state ------------------------------------------------------------------------
    def _desired(self, pvs: dict[str, Obj], nodes: dict[str, Obj]) -> dict[Key, list[PodKey]]:
        out: dict[Key, list[PodKey]] = {}
        claims: dict[tuple[str, str], Obj | None] = {}
        with self._lock:
            pods = list(self._pods.values())
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName")
            if not node or pod_terminated(pod):
                continue
            ann = ((nodes.get(node) or {}).get("metadata") or {}).get("annotations") or {}
            if node in nodes and ann.get(ANN_MANAGED) not in (None, "true"):
                continue  # the kubelet attaches its own volumes
            ns = (pod.get("metadata") or {}).get("namespace", "")
            for cname in pod_claims(pod):
                if (ns, cname) not in claims:
                    e = self.api.store.get("persistentvolumeclaims", ns, cname)
                    claims[(ns, cname)] = e.obj() if e is not None else None
                claim = claims[(ns, cname)]
                if claim is None or (claim.get("status") or {}).get("phase") != "Bound":
                    continue
                pv_name = (claim.get("spec") or {}).get("volumeName") or ""
                pv = pvs.get(pv_name)
                if pv is None or attach_source(pv) is None:
                    continue
                out.setdefault((pv_name, node), []).append((ns, (pod.get("metadata") or {}).get("name", "")))
        return out

    def _pod(self, key: PodKey) -> Obj | None:
        e = self.api.store.get("pods", key[0], key[1])
        return None if e is None else e.obj()

    # -- actions --------------------------------------------------------------------------------
    def _attach(self, pv: Obj, node: Obj | None, node_name: str) -> None:
        driver, handle = attach_source(pv) or (EBS_DRIVER, "")
        name = attachment_name(handle, driver, node_name)
        body = {"apiVersion": "storage.k8s.io/v1", "kind": "VolumeAttachment", "metadata": {"name": name},
                "spec": {"attacher": driver, "nodeName": node_name,
                         "source": {"persistentVolumeName": (pv.get("metadata") or {}).get("name", "")}}}
        try:
            self.api.create(self.api.rt("storage.k8s.io/volumeattachments"), None, body,
                            Request(field_manager=MANAGER))
        except AlreadyExists:
            pass

    def _detach(self, name: str) -> None:
        try:
            self.api.delete(self.api.rt("storage.k8s.io/volumeattachments"), None, name, DeleteOptions())
        except NotFound:
            pass

    def _external_attacher(self, now: float, pvs: dict[str, Obj], desired: dict[Key, list[PodKey]]) -> list[float]:
        """external-attacher: attach after a delay, detach (drop finalizers) after a delay."""
        again: list[float] = []
        rt = self.api.rt("storage.k8s.io/volumeattachments")
        attach_delay = self.timings.s(ATTACH_SECONDS)
        detach_delay = self.timings.s(DETACH_SECONDS)
        live: set[str] = set()
        for va in self._objs("storage.k8s.io/volumeattachments"):
            meta, spec = va.get("metadata") or {}, va.get("spec") or {}
            name = meta.get("name", "")
            if spec.get("attacher") != EBS_DRIVER:
                continue
            live.add(name)
            pv_name = (spec.get("source") or {}).get("persistentVolumeName") or ""
            if meta.get("deletionTimestamp"):
                since = self._deleted.setdefault(name, now)
                if now - since < detach_delay:
                    again.append(detach_delay - (now - since))
                    continue
                self._mutate(rt, name, _drop_finalizer)
                continue
            if (va.get("status") or {}).get("attached"):
                uid = meta.get("uid", "")
                if uid not in self._announced:
                    self._announced.add(uid)
                    for pod_key in desired.get((pv_name, spec.get("nodeName") or ""), []):
                        pod = self._pod(pod_key)
                        if pod is not None:
                            self.events.event(pod, "Normal", "SuccessfulAttachVolume", msg_attached(pv_name))
                continue
            since = self._created.setdefault(name, now)
            if now - since < attach_delay:
                again.append(attach_delay - (now - since))
                continue
            pv = pvs.get(pv_name)
            node_e = self.api.store.get("nodes", "", spec.get("nodeName") or "")
            if pv is None or node_e is None:
                continue  # ControllerPublishVolume fails: nothing to attach to
            nid = node_id(node_e.obj())
            self._ensure_pv_finalizer(pv_name, add=True)

            def mark(cur: Obj, nid: str = nid) -> Obj:
                m = cur.setdefault("metadata", {})
                fins = list(m.get("finalizers") or [])
                if FINALIZER_ATTACHER not in fins:
                    fins.append(FINALIZER_ATTACHER)
                m["finalizers"] = fins
                m.setdefault("annotations", {})[ANN_NODE_ID] = nid
                return cur
            self._mutate(rt, name, mark)
            try:
                self.api.update_status(rt, None, name, _mark_attached, ATTACHER_MANAGER)
            except NotFound:
                pass
            again.append(0.01)  # report the success on the next pass
        for gone in set(self._created) - live:
            del self._created[gone]
        for gone in set(self._deleted) - live:
            del self._deleted[gone]
        # The PV keeps the attacher's finalizer while any attachment references it.
        referenced = set()
        for va in self._objs("storage.k8s.io/volumeattachments"):
            referenced.add(((va.get("spec") or {}).get("source") or {}).get("persistentVolumeName"))
        for pv_name, pv in pvs.items():
            if pv_name not in referenced and FINALIZER_ATTACHER in ((pv.get("metadata") or {}).get("finalizers") or []):
                self._ensure_pv_finalizer(pv_name, add=False)
        return again

    def _ensure_pv_finalizer(self, pv_name: str, add: bool) -> None:
        def fin(cur: Obj) -> Obj:
            m = cur.setdefault("metadata", {})
            fins = [f for f in (m.get("finalizers") or []) if f != FINALIZER_ATTACHER]
            if add:
                fins.append(FINALIZER_ATTACHER)
            m["finalizers"] = fins
            return cur
        try:
            self.api.mutate(self.api.rt("persistentvolumes"), None, pv_name, fin, ATTACHER_MANAGER)
        except NotFound:
            pass

    def _mutate(self, rt: Any, name: str, fn: Any) -> None:
        try:
            self.api.mutate(rt, None, name, fn, ATTACHER_MANAGER)
        except NotFound:
            pass

    def _update_node_status(self, nodes: dict[str, Obj], pvs: dict[str, Obj]) -> None:
        """statusupdater: node.status.volumesAttached = the attached, not detaching, volumes."""
        want: dict[str, list[Obj]] = {n: [] for n in nodes}
        for va in self._objs("storage.k8s.io/volumeattachments"):
            meta, spec = va.get("metadata") or {}, va.get("spec") or {}
            if meta.get("deletionTimestamp") or not (va.get("status") or {}).get("attached"):
                continue
            pv = pvs.get((spec.get("source") or {}).get("persistentVolumeName") or "")
            uname = unique_volume_name(pv) if pv else None
            if uname and spec.get("nodeName") in want:
                want[spec["nodeName"]].append({"name": uname, "devicePath": ""})
        for name, node in nodes.items():
            vols = sorted(want[name], key=lambda v: v["name"])
            if ((node.get("status") or {}).get("volumesAttached") or []) == vols:
                continue

            def st(cur: Obj, vols: list[Obj] = vols) -> Obj:
                s = cur.setdefault("status", {})
                if vols:
                    s["volumesAttached"] = vols
                else:
                    s.pop("volumesAttached", None)
                return cur
            try:
                self.api.update_status(self.api.rt("nodes"), None, name, st, MANAGER)
            except ApiError as exc:
                log.debug("node %s volumesAttached: %s", name, exc)

    def _register_nodes(self, nodes: dict[str, Obj]) -> None:
        """The EBS node plugin's registration: CSINode + the driver's zone label on the Node."""
        rt = self.api.rt("storage.k8s.io/csinodes")
        for name, node in nodes.items():
            body = csinode_for(node)
            if body is None:
                continue
            if self.api.store.get("storage.k8s.io/csinodes", "", name) is None:
                try:
                    self.api.create(rt, None, body, Request(field_manager="kubelet"))
                except (AlreadyExists, ApiError) as exc:
                    log.debug("csinode %s: %s", name, exc)
            zone = node_zone(node)
            if ((node.get("metadata") or {}).get("labels") or {}).get(EBS_ZONE_KEY) != zone:
                def label(cur: Obj, zone: str = zone) -> Obj:
                    cur.setdefault("metadata", {}).setdefault("labels", {})[EBS_ZONE_KEY] = zone
                    return cur
                try:
                    self.api.mutate(self.api.rt("nodes"), None, name, label, "kubelet")
                except ApiError as exc:
                    log.debug("node %s label: %s", name, exc)


def _drop_finalizer(cur: Obj) -> Obj:
    m = cur.setdefault("metadata", {})
    m["finalizers"] = [f for f in (m.get("finalizers") or []) if f != FINALIZER_ATTACHER]
    return cur


def _mark_attached(cur: Obj) -> Obj:
    cur["status"] = {"attached": True, "attachmentMetadata": {"devicePath": "/dev/xvdaa"}}
    return cur


def _node_view(node: Obj) -> tuple[Any, ...]:
    """What of a Node matters here (heartbeats alone do not wake the controller)."""
    meta, spec, st = node.get("metadata") or {}, node.get("spec") or {}, node.get("status") or {}
    return (node_zone(node), (meta.get("labels") or {}).get(EBS_ZONE_KEY), (meta.get("annotations") or {}).get(ANN_MANAGED),
            spec.get("providerID"), repr(spec.get("taints")), is_ready(node), repr(st.get("volumesInUse")),
            repr(st.get("volumesAttached")))


__all__ = ["AttachDetachController", "attachment_name", "unique_volume_name", "pod_volume_check",
           "volume_attached", "PodVolumeCheck", "decide", "csinode_for"]
