"""StatefulSet controller: pets with stable names, network identity and storage (sim-fidelity §1).

A pure decision function plus a thin loop. :func:`decide` takes a StatefulSet, the
pods, PVCs and ControllerRevisions of its namespace, the time and the emulated
version, and returns the :class:`Action` list one sync of kube-controller-manager
would perform; :class:`StatefulSetController` watches statefulsets, pods, PVCs and
controllerrevisions, calls it, and applies the actions through ``ctx.api`` with the
upstream events (component ``statefulset-controller``).

Upstream sources (k/k, read through the code index; nothing copied):

- ``pkg/controller/statefulset/stateful_set.go``: ``sync`` (adopt orphan revisions,
  ``getPodsForStatefulSet`` / ``ClaimPods`` with ``isMemberOf``, requeue after
  ``minReadySeconds`` while not all replicas are available).
- ``stateful_set_control.go``: ``UpdateStatefulSet``, ``getStatefulSetRevisions``,
  ``updateStatefulSet``, ``processReplica``, ``processCondemned``, ``runForAll``,
  ``slowStartBatch`` (``MaxBatchSize`` 500), ``updateStatefulSetAfterInvariantEstablished``
  (maxUnavailable), ``truncateHistory``, ``updateStatefulSetStatus``.
- ``stateful_set_utils.go``: names and ordinals, ``initIdentity``/``updateIdentity``,
  ``getPersistentVolumeClaims``, ``updateStorage``, ``newVersionedStatefulSetPod``,
  ``getPatch``, ``newRevision``, ``isClaimOwnerUpToDate``,
  ``updateClaimOwnerRefForSetAndPod``, ``completeRollingUpdate``, ``inconsistentStatus``,
  ``getStatefulSetMaxUnavailable``.
- ``stateful_pod_control.go``: ``CreateStatefulPod``, ``UpdateStatefulPod``,
  ``PodClaimIsStale``, ``createPersistentVolumeClaims`` (``pvc <name> is being deleted``),
  ``recordPodEvent``/``recordClaimEvent`` (event texts).
- ``stateful_set_status_updater.go``: the status is replaced as a whole.
- ``pkg/controller/controller_utils.go`` ``GetPodFromTemplate`` (``generateName: <sts>-``),
  ``controller_ref_manager.go`` ``ClaimObject`` (adopt/release rules).

Version knobs (``version`` = the emulated minor): ``apps.kubernetes.io/pod-index`` from
1.28 (V7); failed/succeeded pods are deleted with ``RecreatingFailedPod`` /
``RecreatingTerminatedPod`` events and re-created in the same sync before 1.31, and
replaced on a later sync without those events from 1.31 (k/k PR #123809);
``maxUnavailable`` is honoured from 1.35 (V5).
"""

from __future__ import annotations

import copy
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Hashable, Iterable

from .. import clock
from ..api import DeleteOptions, Request
from ..errors import AlreadyExists, ApiError, Conflict, NotFound
from ..selectors import LabelSelector, selector_from_label_selector
from ..store import Event
from . import history
from .base import Controller, ControllerContext

log = logging.getLogger("kubesim.controllers.statefulset")

Obj = dict[str, Any]
Version = tuple[int, int]

COMPONENT = "statefulset-controller"
MANAGER = "kube-controller-manager"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"   # apps.StatefulSetPodNameLabel
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"        # apps.PodIndexLabel
REVISION_LABEL = "controller-revision-hash"             # apps.StatefulSetRevisionLabel
MAX_BATCH_SIZE = 500                                    # stateful_set_control.go MaxBatchSize
SET_API_VERSION, SET_KIND = "apps/v1", "StatefulSet"
POD_API_VERSION, POD_KIND = "v1", "Pod"

_POD_NAME = re.compile(r"^(.*)-([0-9]+)$")  # statefulPodRegex


# -- actions ---------------------------------------------------------------------------
# ``batch`` orders pod work: after a failed action the loop finishes that batch (other
# pods of a Parallel slow-start batch were already in flight upstream) and skips later
# batches and later actions of the same pod. ``pod`` names the replica an action serves.

@dataclass(frozen=True)
class AdoptRevision:
    name: str
    uid: str


@dataclass(frozen=True)
class CreateRevision:
    revision: Obj = field(hash=False)


@dataclass(frozen=True)
class BumpRevision:
    """Re-use an older revision for a reverted template (``UpdateControllerRevision``)."""
    name: str
    revision: int


@dataclass(frozen=True)
class DeleteRevision:
    name: str


@dataclass(frozen=True)
class AdoptPod:
    name: str
    uid: str


@dataclass(frozen=True)
class ReleasePod:
    name: str
    uid: str


@dataclass(frozen=True)
class CreateClaim:
    claim: Obj = field(hash=False)
    pod: str = ""
    batch: int = 0


@dataclass(frozen=True)
class CreatePod:
    pod_obj: Obj = field(hash=False)
    claims: tuple[str, ...] = ()
    batch: int = 0

    @property
    def pod(self) -> str:
        return self.pod_obj["metadata"]["name"]


@dataclass(frozen=True)
class UpdatePod:
    """Identity/storage repair by Update (``UpdateStatefulPod``); ``volumes`` None = unchanged."""
    pod: str
    uid: str
    labels: dict[str, str] = field(hash=False, default_factory=dict)
    volumes: list[Obj] | None = field(hash=False, default=None)
    batch: int = 0


@dataclass(frozen=True)
class SetClaimOwners:
    """Rewrite a PVC's ownerReferences for the retention policy (ST-22)."""
    claim: str
    owner_references: list[Obj] = field(hash=False, default_factory=list)
    pod: str = ""
    batch: int = 0


@dataclass(frozen=True)
class DeletePod:
    pod: str
    uid: str
    why: str = "condemned"  # condemned | update | failed
    batch: int = 0


@dataclass(frozen=True)
class RecordEvent:
    type: str
    reason: str
    message: str
    pod: str = ""
    batch: int = 0


@dataclass(frozen=True)
class SyncError:
    """The sync ends in an error upstream (the set is requeued with back-off)."""
    message: str
    pod: str = ""
    batch: int = 0


@dataclass(frozen=True)
class UpdateStatus:
    status: Obj = field(hash=False)


Action = (AdoptRevision | CreateRevision | BumpRevision | DeleteRevision | AdoptPod | ReleasePod | CreateClaim
          | CreatePod | UpdatePod | SetClaimOwners | DeletePod | RecordEvent | SyncError | UpdateStatus)
POD_ACTIONS = (CreateClaim, CreatePod, UpdatePod, SetClaimOwners, DeletePod, RecordEvent, SyncError)


# -- event texts (recordPodEvent / recordClaimEvent) -------------------------------------

def pod_event(verb: str, set_name: str, pod_name: str, err: str | None = None) -> tuple[str, str, str]:
    """(type, reason, message) of ``recordPodEvent``."""
    if err is None:
        return ("Normal", f"Successful{verb.title()}",
                f"{verb.lower()} Pod {pod_name} in StatefulSet {set_name} successful")
    return ("Warning", f"Failed{verb.title()}",
            f"{verb.lower()} Pod {pod_name} in StatefulSet {set_name} failed error: {err}")


def claim_event(verb: str, set_name: str, pod_name: str, claim_name: str,
                err: str | None = None) -> tuple[str, str, str]:
    """(type, reason, message) of ``recordClaimEvent``."""
    if err is None:
        return ("Normal", f"Successful{verb.title()}",
                f"{verb.lower()} Claim {claim_name} Pod {pod_name} in StatefulSet {set_name} success")
    return ("Warning", f"Failed{verb.title()}",
            f"{verb.lower()} Claim {claim_name} for Pod {pod_name} in StatefulSet {set_name} failed error: {err}")


def aggregate(errs: list[str]) -> str:
    """``utilerrors.NewAggregate(errs).Error()``: one message as is, several as ``[a, b]`` (deduplicated)."""
    seen: list[str] = []
    for e in errs:
        if e not in seen:
            seen.append(e)
    if len(seen) == 1:
        return seen[0]
    return "[" + ", ".join(seen) + "]"


# -- pod predicates (stateful_set_utils.go, podutil) ------------------------------------

def _meta(o: Obj) -> Obj:
    return o.get("metadata") or {}


def parent_and_ordinal(name: str) -> tuple[str, int]:
    """``getParentNameAndOrdinal``: ``web-12`` -> (``web``, 12); no match or > int32 -> ("", -1)."""
    m = _POD_NAME.match(name or "")
    if not m:
        return "", -1
    n = int(m.group(2))
    return m.group(1), (n if n < 2 ** 31 else -1)


def ordinal_of(pod: Obj) -> int:
    return parent_and_ordinal(_meta(pod).get("name", ""))[1]


def phase(pod: Obj) -> str:
    return (pod.get("status") or {}).get("phase") or ""


def is_created(pod: Obj) -> bool:
    return phase(pod) != ""


def is_failed(pod: Obj) -> bool:
    return phase(pod) == "Failed"


def is_succeeded(pod: Obj) -> bool:
    return phase(pod) == "Succeeded"


def is_pending(pod: Obj) -> bool:
    return phase(pod) == "Pending"


def is_terminating(pod: Obj) -> bool:
    return bool(_meta(pod).get("deletionTimestamp"))


def _ready_condition(pod: Obj) -> Obj | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == "Ready":
            return c
    return None


def is_ready(pod: Obj) -> bool:
    c = _ready_condition(pod)
    return c is not None and c.get("status") == "True"


def is_running_and_ready(pod: Obj) -> bool:
    return phase(pod) == "Running" and is_ready(pod)


def is_available(pod: Obj, min_ready_seconds: int, now: datetime) -> bool:
    """``podutil.IsPodAvailable``: Ready, and Ready since more than minReadySeconds."""
    c = _ready_condition(pod)
    if c is None or c.get("status") != "True":
        return False
    if not min_ready_seconds:
        return True
    ltt = clock.parse_time(c.get("lastTransitionTime"))
    return ltt is not None and ltt + timedelta(seconds=min_ready_seconds) < now


def is_healthy(pod: Obj) -> bool:
    return is_running_and_ready(pod) and not is_terminating(pod)


def is_unavailable(pod: Obj, min_ready_seconds: int, now: datetime) -> bool:
    return not is_healthy(pod) or not is_available(pod, min_ready_seconds, now)


def pod_revision(pod: Obj) -> str:
    return (_meta(pod).get("labels") or {}).get(REVISION_LABEL, "")


_MISSING: Any = object()


class _Pod:
    """What one sync reads of a pod, derived once per pod revision (the predicates above, precomputed).

    Pure facts of the pod object alone, so a :class:`SyncMemo` may share them between syncs
    while the pod's uid and resourceVersion are unchanged. ``sel`` caches the selector match
    as ``(selector key, result)``; everything else is fixed at construction.
    """

    __slots__ = ("name", "ns", "uid", "parent", "ordinal", "canonical", "labels", "name_label_ok", "ref",
                 "phase", "terminating", "ready", "running_ready", "ltt_text", "_ltt", "revision", "sel")

    def __init__(self, pod: Obj) -> None:
        pm = _meta(pod)
        self.name = pm.get("name", "")
        self.ns = pm.get("namespace", _MISSING)
        self.uid = pm.get("uid", "")
        self.parent, self.ordinal = parent_and_ordinal(self.name)
        # identity_matches: the name is exactly ``<parent>-<ordinal>`` (no leading zeros, ...).
        self.canonical = self.ordinal >= 0 and pm.get("name") == f"{self.parent}-{self.ordinal}"
        labels = pm.get("labels") or {}
        self.labels = labels
        self.name_label_ok = labels.get(POD_NAME_LABEL) == pm.get("name")
        self.ref = history.controller_of(pod)
        self.phase = phase(pod)
        self.terminating = is_terminating(pod)
        c = _ready_condition(pod)
        self.ready = c is not None and c.get("status") == "True"
        self.running_ready = self.phase == "Running" and self.ready
        self.ltt_text = c.get("lastTransitionTime") if c is not None else None
        self._ltt: Any = _MISSING
        self.revision = labels.get(REVISION_LABEL, "")
        self.sel: tuple[str, bool] | None = None

    @property
    def namespace(self) -> Any:
        """``metadata.get("namespace")``."""
        return None if self.ns is _MISSING else self.ns

    def available(self, min_ready_seconds: int, now: datetime) -> bool:
        """:func:`is_available` (the Ready condition's time parsed once)."""
        if not self.ready:
            return False
        if not min_ready_seconds:
            return True
        ltt = self._ltt
        if ltt is _MISSING:
            ltt = self._ltt = clock.parse_time(self.ltt_text)
        return ltt is not None and ltt + timedelta(seconds=min_ready_seconds) < now

    def unavailable(self, min_ready_seconds: int, now: datetime) -> bool:
        """:func:`is_unavailable`."""
        return not self.running_ready or self.terminating or not self.available(min_ready_seconds, now)


class SyncMemo:
    """What a set's syncs can reuse from the previous one: pod facts and revision derivations.

    Like ``endpointutil.PodMemo``: a pod's :class:`_Pod` is keyed by its namespace/name and
    reused while its uid and resourceVersion are unchanged; so are a stored ControllerRevision's
    ``Data.Raw`` bytes and saved template (both functions of its ``data`` alone, which a changed
    object would carry under a new resourceVersion). Objects without a resourceVersion (unit
    tests' dicts, revisions made in the sync) are never cached. ``rotate`` after each sync keeps
    only what that sync saw. One memo per set; cached values are shared: never mutate them.
    """

    def __init__(self) -> None:
        self._old: dict[tuple[str, str, str], tuple[tuple[Any, Any], Any]] = {}
        self._new: dict[tuple[str, str, str], tuple[tuple[Any, Any], Any]] = {}
        self._candidate: tuple[tuple[Any, ...], Obj, bytes] | None = None

    def _get(self, kind: str, obj: Obj, compute: Any) -> Any:
        m = _meta(obj)
        rv = m.get("resourceVersion")
        if not rv:
            return compute(obj)
        key = (kind, m.get("namespace", ""), m.get("name", ""))
        ver = (m.get("uid"), rv)
        hit = self._new.get(key) or self._old.get(key)
        if hit is not None and hit[0] == ver:
            self._new[key] = hit
            return hit[1]
        value = compute(obj)
        self._new[key] = (ver, value)
        return value

    def pod(self, pod: Obj) -> _Pod:
        """The facts of a pod as stored (not of a copy edited in the sync)."""
        return self._get("pod", pod, _Pod)

    def revision_raw(self, revision: Obj) -> bytes:
        """``history.revision_raw``."""
        return self._get("raw", revision, history.revision_raw)

    def template(self, revision: Obj) -> Obj:
        """:func:`template_of_revision` (shared: ``new_pod`` copies what it takes)."""
        return self._get("template", revision, template_of_revision)

    def candidate(self, s: "SetView", revision: int, collision_count: int) -> tuple[Obj, bytes]:
        """:func:`new_revision` and its ``Data.Raw``, kept while everything it reads is the same."""
        meta = _meta(s.obj)
        # Everything ``new_revision`` reads of the set; repr tells JSON values apart exactly.
        key = (repr(s.spec.get("template")), repr(meta.get("annotations")), repr(meta.get("name", "")),
               repr(meta.get("namespace", "")), repr(meta.get("uid", "")), revision, collision_count)
        hit = self._candidate
        if hit is not None and hit[0] == key:
            return hit[1], hit[2]
        cand = new_revision(s, revision, collision_count)
        raw = history.revision_raw(cand)
        self._candidate = (key, cand, raw)
        return cand, raw

    def rotate(self) -> None:
        self._old, self._new = self._new, {}


# -- the set ----------------------------------------------------------------------------

@dataclass
class SetView:
    """The fields of a StatefulSet the controller reads, defaulted as the API server would."""

    obj: Obj
    version: Version

    @property
    def name(self) -> str:
        return _meta(self.obj).get("name", "")

    @property
    def namespace(self) -> str:
        return _meta(self.obj).get("namespace", "")

    @property
    def uid(self) -> str:
        return _meta(self.obj).get("uid", "")

    @property
    def spec(self) -> Obj:
        return self.obj.get("spec") or {}

    @property
    def status(self) -> Obj:
        return self.obj.get("status") or {}

    @property
    def replicas(self) -> int:
        r = self.spec.get("replicas")
        return 1 if r is None else int(r)

    @property
    def start(self) -> int:
        return int((self.spec.get("ordinals") or {}).get("start") or 0)

    @property
    def end(self) -> int:
        return self.start + self.replicas - 1

    @property
    def min_ready_seconds(self) -> int:
        return int(self.spec.get("minReadySeconds") or 0)

    @property
    def service_name(self) -> str:
        return self.spec.get("serviceName") or ""

    @property
    def burst(self) -> bool:
        return self.spec.get("podManagementPolicy") == "Parallel"

    @property
    def strategy(self) -> str:
        return (self.spec.get("updateStrategy") or {}).get("type") or "RollingUpdate"

    @property
    def rolling_update(self) -> Obj | None:
        ru = (self.spec.get("updateStrategy") or {}).get("rollingUpdate")
        return ru if isinstance(ru, dict) else None

    @property
    def partition(self) -> int:
        ru = self.rolling_update
        return int((ru or {}).get("partition") or 0)

    @property
    def templates(self) -> list[Obj]:
        return [t for t in self.spec.get("volumeClaimTemplates") or [] if isinstance(t, dict)]

    @property
    def retention(self) -> tuple[str, str]:
        pol = self.spec.get("persistentVolumeClaimRetentionPolicy") or {}
        return pol.get("whenDeleted") or "Retain", pol.get("whenScaled") or "Retain"

    @property
    def deleting(self) -> bool:
        return bool(_meta(self.obj).get("deletionTimestamp"))

    @property
    def selector(self) -> LabelSelector:
        return selector_from_label_selector(self.spec.get("selector"))

    def in_range(self, pod: Obj) -> bool:
        """``podInOrdinalRange``."""
        o = ordinal_of(pod)
        return self.start <= o <= self.end

    def pod_name(self, ordinal: int) -> str:
        return f"{self.name}-{ordinal}"

    def claim_name(self, template: Obj, ordinal: int) -> str:
        """``getPersistentVolumeClaimName``: ``<template>-<set>-<ordinal>``."""
        return f"{_meta(template).get('name', '')}-{self.name}-{ordinal}"

    def controller_ref(self) -> Obj:
        return history.controller_ref(self.obj, SET_API_VERSION, SET_KIND)


def revision_data(template: Obj) -> Obj:
    """``getPatch``: ``{"spec": {"template": <template>, "$patch": "replace"}}`` (template keys plus $patch)."""
    tmpl = copy.deepcopy(template)
    tmpl["$patch"] = "replace"
    return {"spec": {"template": tmpl}}


def template_of_revision(revision: Obj) -> Obj:
    """``ApplyRevision`` for a template-only patch: the saved template, without ``$patch``."""
    tmpl = copy.deepcopy(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    tmpl.pop("$patch", None)
    meta = tmpl.get("metadata")
    if isinstance(meta, dict) and meta.get("creationTimestamp", 0) is None:
        del meta["creationTimestamp"]
    return tmpl


def new_revision(s: SetView, revision: int, collision_count: int) -> Obj:
    """``newRevision``: labels from the template, annotations from the set."""
    tmpl = s.spec.get("template") or {}
    cr = history.new_controller_revision(s.obj, api_version=SET_API_VERSION, kind=SET_KIND,
                                         template_labels=_meta(tmpl).get("labels"),
                                         data=revision_data(tmpl), revision=revision,
                                         collision_count=collision_count)
    ann = _meta(s.obj).get("annotations")
    if ann:
        cr["metadata"]["annotations"] = dict(ann)
    return cr


def claims_for(s: SetView, ordinal: int) -> dict[str, Obj]:
    """``getPersistentVolumeClaims``: template name -> claim to create (labels merged, selector wins)."""
    match_labels = (s.spec.get("selector") or {}).get("matchLabels") or {}
    out: dict[str, Obj] = {}
    for t in s.templates:
        claim = copy.deepcopy(t)
        claim["apiVersion"] = "v1"
        claim["kind"] = "PersistentVolumeClaim"
        claim.pop("status", None)
        meta = claim.setdefault("metadata", {})
        meta.pop("creationTimestamp", None)
        meta["name"] = s.claim_name(t, ordinal)
        meta["namespace"] = s.namespace
        if meta.get("labels") is not None:
            meta["labels"] = {**meta["labels"], **match_labels}
        elif match_labels:
            meta["labels"] = dict(match_labels)
        out[_meta(t).get("name", "")] = claim
    return out


def storage_volumes(s: SetView, ordinal: int, current: list[Obj] | None) -> list[Obj]:
    """``updateStorage``: one PVC volume per claim template, then the other volumes in order."""
    claims = claims_for(s, ordinal)
    vols = [{"name": tname, "persistentVolumeClaim": {"claimName": c["metadata"]["name"]}}
            for tname, c in claims.items()]
    vols += [v for v in current or [] if isinstance(v, dict) and v.get("name") not in claims]
    return vols


def identity_labels(s: SetView, ordinal: int) -> dict[str, str]:
    """The labels ``updateIdentity`` sets."""
    labels = {POD_NAME_LABEL: s.pod_name(ordinal)}
    if s.version >= (1, 28):
        labels[POD_INDEX_LABEL] = str(ordinal)
    return labels


def identity_matches(s: SetView, pod: Obj) -> bool:
    """``identityMatches``."""
    parent, o = parent_and_ordinal(_meta(pod).get("name", ""))
    meta = _meta(pod)
    return (o >= 0 and parent == s.name and meta.get("name") == s.pod_name(o)
            and meta.get("namespace") == s.namespace
            and (meta.get("labels") or {}).get(POD_NAME_LABEL) == meta.get("name"))


def storage_matches(s: SetView, pod: Obj) -> bool:
    """``storageMatches``: every claim template is mounted from the pet's own claim."""
    o = ordinal_of(pod)
    if o < 0:
        return False
    vols = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or [] if isinstance(v, dict)}
    for t in s.templates:
        v = vols.get(_meta(t).get("name"))
        pvc = (v or {}).get("persistentVolumeClaim")
        if not isinstance(pvc, dict) or pvc.get("claimName") != s.claim_name(t, o):
            return False
    return True


def new_pod(s: SetView, template: Obj, ordinal: int, revision_name: str) -> Obj:
    """``newStatefulSetPod`` + ``setPodRevision``: GetPodFromTemplate, initIdentity, updateStorage."""
    tmeta = _meta(template)
    name = s.pod_name(ordinal)
    labels = dict(tmeta.get("labels") or {})
    labels.update(identity_labels(s, ordinal))
    labels[REVISION_LABEL] = revision_name
    meta: Obj = {"name": name, "generateName": f"{s.name}-", "namespace": s.namespace, "labels": labels}
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        meta["finalizers"] = list(tmeta["finalizers"])
    meta["ownerReferences"] = [s.controller_ref()]
    spec = copy.deepcopy(template.get("spec") or {})
    spec["hostname"] = name
    if s.service_name:
        spec["subdomain"] = s.service_name
    else:
        spec.pop("subdomain", None)
    vols = storage_volumes(s, ordinal, spec.get("volumes"))
    if vols:
        spec["volumes"] = vols
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


# -- PVC retention (isClaimOwnerUpToDate / updateClaimOwnerRefForSetAndPod) ---------------

def _refs(o: Obj) -> list[Obj]:
    return [r for r in _meta(o).get("ownerReferences") or [] if isinstance(r, dict)]


def _matches_ref(ref: Obj, name: str, api_version: str, kind: str) -> bool:
    return ref.get("apiVersion") == api_version and ref.get("kind") == kind and ref.get("name") == name


def _has_stale_ref(claim: Obj, name: str, uid: str, api_version: str, kind: str) -> bool:
    for ref in _refs(claim):
        if _matches_ref(ref, name, api_version, kind):
            return ref.get("uid") != uid
    return False


def _has_owner_ref(claim: Obj, uid: str) -> bool:
    return bool(uid) and any(r.get("uid") == uid for r in _refs(claim))


def _has_unexpected_controller(claim: Obj, s: SetView, pod: Obj) -> bool:
    if s.retention == ("Retain", "Retain"):
        return False
    pname, puid = _meta(pod).get("name", ""), _meta(pod).get("uid", "")
    for ref in _refs(claim):
        if _matches_ref(ref, s.name, SET_API_VERSION, SET_KIND):
            if ref.get("uid") != s.uid:
                return True
            continue
        if _matches_ref(ref, pname, POD_API_VERSION, POD_KIND):
            if ref.get("uid") != puid:
                return True
            continue
        if ref.get("controller"):
            return True
    return False


def _has_non_controller_owner(claim: Obj, s: SetView, pod: Obj) -> bool:
    puid = _meta(pod).get("uid", "")
    for ref in _refs(claim):
        if ref.get("uid") == s.uid or (puid and ref.get("uid") == puid):
            if not ref.get("controller"):
                return True
    return False


def claim_owner_up_to_date(claim: Obj, s: SetView, pod: Obj) -> bool:
    """``isClaimOwnerUpToDate``: the claim's refs agree with the retention policy (stale refs: hands off)."""
    pname, puid = _meta(pod).get("name", ""), _meta(pod).get("uid", "")
    if (_has_stale_ref(claim, s.name, s.uid, SET_API_VERSION, SET_KIND)
            or _has_stale_ref(claim, pname, puid, POD_API_VERSION, POD_KIND)):
        return True
    if _has_unexpected_controller(claim, s, pod):
        return not (_has_owner_ref(claim, s.uid) or _has_owner_ref(claim, puid))
    if _has_non_controller_owner(claim, s, pod):
        return False
    when_deleted, when_scaled = s.retention
    set_ref, pod_ref = _has_owner_ref(claim, s.uid), _has_owner_ref(claim, puid)
    scaled_down = not s.in_range(pod)
    if when_scaled == "Delete" and when_deleted == "Delete":
        return scaled_down != set_ref and scaled_down == pod_ref
    if when_scaled == "Delete":
        return not set_ref and scaled_down == pod_ref
    if when_deleted == "Delete":
        return set_ref and not pod_ref
    return not set_ref and not pod_ref


def claim_owner_refs(claim: Obj, s: SetView, pod: Obj) -> list[Obj]:
    """``updateClaimOwnerRefForSetAndPod``: the refs the claim should carry."""
    pname = _meta(pod).get("name", "")
    unexpected = _has_unexpected_controller(claim, s, pod)
    refs = [r for r in _refs(claim)
            if not (_matches_ref(r, s.name, SET_API_VERSION, SET_KIND)
                    or _matches_ref(r, pname, POD_API_VERSION, POD_KIND))]
    if unexpected:
        return refs

    def add(owner_ref: Obj) -> None:
        if not any(r.get("uid") == owner_ref["uid"] for r in refs):
            refs.append(owner_ref)

    when_deleted, when_scaled = s.retention
    scaled_down = not s.in_range(pod)
    if when_scaled == "Delete" and scaled_down:
        add(history.controller_ref(pod, POD_API_VERSION, POD_KIND))
    if when_deleted == "Delete" and (when_scaled != "Delete" or not scaled_down):
        add(s.controller_ref())
    return refs


# -- status -----------------------------------------------------------------------------

def compute_status(s: SetView, pods: Iterable[Obj], current_revision: str, update_revision: str,
                   collision_count: int, now: datetime) -> Obj:
    """``updateStatus``/``computeReplicaStatus`` over ``pods`` (uncreated placeholders are skipped)."""
    return _compute_status(s, [_Pod(p) for p in pods], current_revision, update_revision, collision_count, now)


def _compute_status(s: SetView, facts: Iterable[_Pod], current_revision: str, update_revision: str,
                    collision_count: int, now: datetime) -> Obj:
    """:func:`compute_status` over the pods' facts."""
    mrs = s.min_ready_seconds
    replicas = ready = available = current = updated = 0
    for f in facts:
        created = f.phase != ""
        if created:
            replicas += 1
        if f.running_ready:
            ready += 1
            if f.available(mrs, now):
                available += 1
        if created and not f.terminating:
            rev = f.revision
            if rev == current_revision:
                current += 1
            if rev == update_revision:
                updated += 1
    return {"observedGeneration": int(_meta(s.obj).get("generation") or 0), "replicas": replicas,
            "readyReplicas": ready, "currentReplicas": current, "updatedReplicas": updated,
            "currentRevision": current_revision, "updateRevision": update_revision,
            "collisionCount": int(collision_count), "availableReplicas": available}


def complete_rolling_update(s: SetView, st: Obj) -> None:
    """``completeRollingUpdate``: all spec.replicas updated, ready and present -> current := update."""
    if (s.strategy == "RollingUpdate" and st["updatedReplicas"] == s.replicas
            and st["readyReplicas"] == s.replicas and st["replicas"] == s.replicas):
        st["currentReplicas"] = st["updatedReplicas"]
        st["currentRevision"] = st["updateRevision"]


_STATUS_COMPARED = ("replicas", "currentReplicas", "readyReplicas", "updatedReplicas", "currentRevision",
                    "availableReplicas", "updateRevision")


def inconsistent_status(s: SetView, st: Obj) -> bool:
    """``inconsistentStatus``: a newer generation, or any counted field / revision differs."""
    old = s.status
    if st["observedGeneration"] > int(old.get("observedGeneration") or 0):
        return True
    for f in _STATUS_COMPARED:
        empty: Any = "" if f.endswith("Revision") else 0
        if (old.get(f) or empty) != (st.get(f) or empty):
            return True
    return False


def wire_status(st: Obj) -> Obj:
    """The status as Go serializes ``StatefulSetStatus`` (omitempty fields dropped when zero)."""
    out: Obj = {}
    if st.get("observedGeneration"):
        out["observedGeneration"] = st["observedGeneration"]
    out["replicas"] = st["replicas"]
    for f in ("readyReplicas", "currentReplicas", "updatedReplicas", "currentRevision", "updateRevision"):
        if st.get(f):
            out[f] = st[f]
    out["collisionCount"] = st["collisionCount"]
    out["availableReplicas"] = st["availableReplicas"]
    return out


def max_unavailable(s: SetView) -> int:
    """``getStatefulSetMaxUnavailable``: int or percent of replicas rounded down, at least 1."""
    raw = (s.rolling_update or {}).get("maxUnavailable", 1)
    if raw is None:
        raw = 1
    if isinstance(raw, str) and raw.endswith("%"):
        try:
            n = int(raw[:-1]) * s.replicas // 100
        except ValueError:
            n = 1
    else:
        try:
            n = int(raw)
        except (TypeError, ValueError):
            n = 1
    return max(1, n)


def slow_start_batches(n: int, initial: int = 1) -> list[int]:
    """Batch sizes of ``slowStartBatch``: 1, 2, 4, ... capped at 500, summing to ``n``."""
    out: list[int] = []
    remaining = n
    size = min(remaining, initial)
    while size > 0:
        out.append(size)
        remaining -= size
        size = min(2 * size, remaining, MAX_BATCH_SIZE)
    return out


# -- decide -----------------------------------------------------------------------------

class _Plan:
    def __init__(self) -> None:
        self.actions: list[Action] = []
        self.batch = 0

    def add(self, a: Action) -> None:
        self.actions.append(a)


class _Sync:
    """One ``UpdateStatefulSet`` pass; methods mirror the upstream functions they are named after."""

    def __init__(self, s: SetView, pvcs: dict[str, Obj], now: datetime, plan: _Plan,
                 current: Obj, update: Obj, memo: SyncMemo | None = None) -> None:
        self.s = s
        self.pvcs = pvcs
        self.now = now
        self.plan = plan
        self.current = current
        self.update = update
        tmpl = template_of_revision if memo is None else memo.template
        self.current_tmpl = tmpl(current)
        self.update_tmpl = tmpl(update)
        # Read on every replica: taken from the set once per sync.
        self.templates = s.templates
        self.min_ready_seconds = s.min_ready_seconds
        self.name, self.namespace = s.name, s.namespace
        self._facts: dict[int, tuple[Obj, _Pod]] = {}

    # facts ------------------------------------------------------------------------------
    def fact(self, pod: Obj) -> _Pod:
        """The facts of ``pod`` (an object of this sync: ``decide`` never edits one it has looked at)."""
        hit = self._facts.get(id(pod))
        if hit is not None and hit[0] is pod:
            return hit[1]
        f = _Pod(pod)
        self.know(pod, f)
        return f

    def know(self, pod: Obj, f: _Pod) -> None:
        # The object is kept with its facts, so its id is not reused while this sync runs.
        self._facts[id(pod)] = (pod, f)

    def identity_matches(self, f: _Pod) -> bool:
        """:func:`identity_matches` on facts."""
        return f.canonical and f.parent == self.name and f.namespace == self.namespace and f.name_label_ok

    def storage_matches(self, pod: Obj, f: _Pod) -> bool:
        """:func:`storage_matches` (without claim templates: any pod with an ordinal)."""
        if f.ordinal < 0:
            return False
        if not self.templates:
            return True
        return storage_matches(self.s, pod)

    # pods --------------------------------------------------------------------------------
    def versioned_pod(self, ordinal: int) -> Obj:
        """``newVersionedStatefulSetPod``: below the partition at the current revision, else the update one."""
        s = self.s
        ru = s.rolling_update
        cur_replicas = int(s.status.get("currentReplicas") or 0)
        # Go precedence: (RollingUpdate && ru == nil && ord < start+currentReplicas)
        #              || (ru != nil && ord < start+partition)
        if ((s.strategy == "RollingUpdate" and ru is None and ordinal < s.start + cur_replicas)
                or (ru is not None and ordinal < s.start + s.partition)):
            return new_pod(s, self.current_tmpl, ordinal, _meta(self.current)["name"])
        return new_pod(s, self.update_tmpl, ordinal, _meta(self.update)["name"])

    def _event(self, kind: tuple[str, str, str], pod: str) -> None:
        self.plan.add(RecordEvent(*kind, pod=pod, batch=self.plan.batch))

    def create_claims(self, pod: Obj) -> list[str]:
        """``createPersistentVolumeClaims``: create the missing ones; errors for claims being deleted."""
        errs: list[str] = []
        pname = _meta(pod)["name"]
        for claim in claims_for(self.s, self.fact(pod).ordinal).values():
            cname = claim["metadata"]["name"]
            existing = self.pvcs.get(cname)
            if existing is None:
                self.plan.add(CreateClaim(claim, pod=pname, batch=self.plan.batch))
            elif _meta(existing).get("deletionTimestamp"):
                errs.append(f"pvc {cname} is being deleted")
        return errs

    def claims_match_policy(self, pod: Obj) -> bool:
        """``ClaimsMatchRetentionPolicy`` over the claims that exist."""
        for t in self.templates:
            claim = self.pvcs.get(self.s.claim_name(t, self.fact(pod).ordinal))
            if claim is not None and not claim_owner_up_to_date(claim, self.s, pod):
                return False
        return True

    def fix_claims_for_policy(self, pod: Obj) -> None:
        """``UpdatePodClaimForRetentionPolicy``."""
        for t in self.templates:
            claim = self.pvcs.get(self.s.claim_name(t, self.fact(pod).ordinal))
            if claim is None or claim_owner_up_to_date(claim, self.s, pod):
                continue
            refs = claim_owner_refs(claim, self.s, pod)
            if refs != _refs(claim):
                self.plan.add(SetClaimOwners(_meta(claim)["name"], refs, pod=_meta(pod)["name"],
                                             batch=self.plan.batch))

    def claim_is_stale(self, pod: Obj) -> bool:
        """``PodClaimIsStale``: with whenScaled=Delete a claim still owned by an old pod blocks creation."""
        if self.s.retention[1] == "Retain":
            return False
        pname, puid = _meta(pod)["name"], _meta(pod).get("uid", "")
        for claim in claims_for(self.s, ordinal_of(pod)).values():
            existing = self.pvcs.get(claim["metadata"]["name"])
            if existing is not None and _has_stale_ref(existing, pname, puid, POD_API_VERSION, POD_KIND):
                return True
        return False

    def create_pod(self, pod: Obj) -> bool:
        """``CreateStatefulPod``; False when it fails (a claim being deleted)."""
        pname = _meta(pod)["name"]
        errs = self.create_claims(pod)
        if errs:
            self._event(pod_event("create", self.s.name, pname, aggregate(errs)), pname)
            self.plan.add(SyncError(aggregate(errs), pod=pname, batch=self.plan.batch))
            return False
        claims = tuple(c["metadata"]["name"] for c in claims_for(self.s, ordinal_of(pod)).values())
        self.plan.add(CreatePod(pod, claims=claims, batch=self.plan.batch))
        self.fix_claims_for_policy(pod)
        return True

    def update_pod(self, pod: Obj) -> bool:
        """``UpdateStatefulPod``: restore identity labels / storage, fix claim refs."""
        s = self.s
        pname = _meta(pod)["name"]
        o = ordinal_of(pod)
        consistent = True
        labels: dict[str, str] = {}
        volumes = None
        if not identity_matches(s, pod):
            labels = identity_labels(s, o)
            consistent = False
        if not storage_matches(s, pod):
            volumes = storage_volumes(s, o, (pod.get("spec") or {}).get("volumes"))
            consistent = False
            errs = self.create_claims(pod)
            if errs:
                self._event(pod_event("update", s.name, pname, aggregate(errs)), pname)
                self.plan.add(SyncError(aggregate(errs), pod=pname, batch=self.plan.batch))
                return False
        if not self.claims_match_policy(pod):
            self.fix_claims_for_policy(pod)
            consistent = False
        if not consistent:
            self.plan.add(UpdatePod(pname, _meta(pod).get("uid", ""), labels, volumes, batch=self.plan.batch))
        return True

    def delete_pod(self, pod: Obj, why: str) -> None:
        self.plan.add(DeletePod(_meta(pod)["name"], _meta(pod).get("uid", ""), why, batch=self.plan.batch))

    # processReplica / processCondemned ---------------------------------------------------------
    def process_replica(self, replicas: list[Obj], i: int, monotonic: bool) -> tuple[bool, bool]:
        """Returns (stop, error)."""
        s = self.s
        pod = replicas[i]
        f = self.fact(pod)
        pname = _meta(pod)["name"]
        if f.phase == "Failed" or f.phase == "Succeeded":
            if s.version < (1, 31):
                if f.phase == "Failed":
                    self._event(("Warning", "RecreatingFailedPod",
                                 f"StatefulSet {s.namespace}/{s.name} is recreating failed Pod {pname}"), pname)
                else:
                    self._event(("Normal", "RecreatingTerminatedPod",
                                 f"StatefulSet {s.namespace}/{s.name} is recreating terminated Pod {pname}"), pname)
                self.delete_pod(pod, "failed")
                pod = replicas[i] = self.versioned_pod(i + s.start)
                f = self.fact(pod)
            else:
                if not f.terminating:
                    self.delete_pod(pod, "failed")
                # The new pod is made on a later sync, once the old object is gone.
                return True, False
        if f.phase == "":  # not created
            if self.claim_is_stale(pod):
                return True, False
            if not self.create_pod(pod):
                return True, True
            if monotonic:
                return True, False
            # Burst: the object just sent is not observed yet; nothing more to check for it.
            return False, False
        if f.phase == "Pending":
            errs = self.create_claims(pod)
            if errs:
                self.plan.add(SyncError(aggregate(errs), pod=pname, batch=self.plan.batch))
                return True, True
            self.fix_claims_for_policy(pod)
        if monotonic:
            if f.terminating:
                return True, False  # waiting for Pod to Terminate
            if not f.running_ready:
                return True, False  # waiting for Pod to be Running and Ready
            if not f.available(self.min_ready_seconds, self.now):
                return True, False  # waiting for Pod to be Available
        if self.identity_matches(f) and self.storage_matches(pod, f) and self.claims_match_policy(pod):
            return False, False
        if not self.update_pod(pod):
            return True, True
        return False, False

    def process_condemned(self, condemned: list[Obj], i: int, first_unavailable: Obj | None,
                          monotonic: bool) -> tuple[bool, bool]:
        pod = condemned[i]
        f = self.fact(pod)
        if f.terminating:
            return monotonic, False  # waiting for Pod to Terminate prior to scale down
        if monotonic and pod is not first_unavailable:
            if not f.running_ready or not f.available(self.min_ready_seconds, self.now):
                return True, False
        self.delete_pod(pod, "condemned")
        return True, False

    def run_for_all(self, items: list[Obj], fn: Any, monotonic: bool) -> bool:
        """``runForAll``: sequential and stopping when monotonic, slow-start batches when bursting."""
        if monotonic:
            for i in range(len(items)):
                self.plan.batch += 1
                stop, err = fn(i)
                if stop or err:
                    return True
            return False
        i = 0
        for size in slow_start_batches(len(items)):
            self.plan.batch += 1
            failed = False
            for _ in range(size):
                _, err = fn(i)
                failed = failed or err
                i += 1
            if failed:
                return True
        return False


def decide(sts: Obj, pods: Iterable[Obj], pvcs: Iterable[Obj], revisions: Iterable[Obj],
           now: datetime | None = None, version: Version = (1, 33), memo: SyncMemo | None = None) -> list[Action]:
    """One sync of the StatefulSet controller.

    ``pods``, ``pvcs`` and ``revisions`` are the objects of the set's namespace (others
    are ignored); ``now`` decides minReadySeconds availability. The returned actions are
    to be applied in order; see the module docstring for what each stands for. ``memo``
    (optional, one per set, rotated by the caller after the sync) reuses per-object
    derivations of earlier syncs; the result is the same without it.
    """
    now = now or clock.now()
    s = SetView(sts, version)
    ns = s.namespace
    plan = _Plan()
    sel = s.selector
    revisions = [r for r in revisions if _meta(r).get("namespace", ns) == ns]

    # adoptOrphanRevisions + ListRevisions + getStatefulSetRevisions
    owned = history.owned_revisions(sts, revisions, sel)
    if not s.deleting:
        for r in owned:
            if history.controller_of(r) is None:
                plan.add(AdoptRevision(_meta(r)["name"], _meta(r).get("uid", "")))
    owned = history.sort_controller_revisions(owned)
    collision = int(s.status.get("collisionCount") or 0)
    if memo is None:
        candidate = new_revision(s, history.next_revision(owned), collision)
        cand_raw = history.revision_raw(candidate)
    else:
        candidate, cand_raw = memo.candidate(s, history.next_revision(owned), collision)
    stored_raw = history.revision_raw if memo is None else memo.revision_raw

    def raw_of(r: Obj) -> bytes:
        return cand_raw if r is candidate else stored_raw(r)

    equal = history.find_equal_revisions(owned, candidate, raw=raw_of)
    if equal and history.equal_revision(owned[-1], equal[-1], raw=raw_of):
        update = owned[-1]
    elif equal:
        update = copy.deepcopy(equal[-1])
        update["revision"] = candidate["revision"]
        plan.add(BumpRevision(_meta(update)["name"], candidate["revision"]))
    else:
        existing = {_meta(r).get("name", ""): r for r in revisions}
        update, collision, exists = history.resolve_collisions(
            candidate, sts, existing, collision, revision_data(s.spec.get("template") or {}))
        if not exists:
            plan.add(CreateRevision(update))
    current = next((r for r in owned if _meta(r).get("name") == s.status.get("currentRevision")), update)
    cur_name, upd_name = _meta(current)["name"], _meta(update)["name"]

    # getPodsForStatefulSet (ClaimPods with the isMemberOf filter)
    claimed: list[Obj] = []
    known: list[tuple[Obj, _Pod]] = []
    facts_of = _Pod if memo is None else memo.pod
    # The selector's match is kept with a pod's facts while the selector is the same.
    sel_key = None if memo is None else repr(s.spec.get("selector"))
    set_name, set_uid, deleting = s.name, s.uid, s.deleting
    for p in pods:
        f = facts_of(p)
        if (ns if f.ns is _MISSING else f.ns) != ns:
            continue
        member = f.parent == set_name
        cached = f.sel
        if sel_key is not None and cached is not None and cached[0] == sel_key:
            matches = cached[1]
        else:
            matches = sel.matches(f.labels)
            if sel_key is not None:
                f.sel = (sel_key, matches)
        ref = f.ref
        if ref is not None:
            if ref.get("uid") != set_uid:
                continue
            if matches and member:
                claimed.append(p)
                known.append((p, f))
            elif not deleting:
                plan.add(ReleasePod(f.name, f.uid))
            continue
        if deleting or not matches or not member or f.terminating:
            continue
        plan.add(AdoptPod(f.name, f.uid))
        adopted = copy.deepcopy(p)
        adopted["metadata"].setdefault("ownerReferences", []).append(s.controller_ref())
        claimed.append(adopted)

    claims = {_meta(c).get("name", ""): c for c in pvcs if _meta(c).get("namespace", ns) == ns}
    sync = _Sync(s, claims, now, plan, current, update, memo)
    for p, f in known:
        sync.know(p, f)
    status = _update_stateful_set(sync, claimed, cur_name, upd_name, collision)

    # updateStatefulSetStatus
    complete_rolling_update(s, status)
    if inconsistent_status(s, status):
        plan.add(UpdateStatus(wire_status(status)))

    # truncateHistory
    live = {cur_name, upd_name} | {sync.fact(p).revision for p in claimed}
    old = [r for r in owned if _meta(r).get("name") not in live]
    limit = s.spec.get("revisionHistoryLimit")
    limit = 10 if limit is None else int(limit)
    if limit >= 0 and len(old) > limit:
        for r in old[:len(old) - limit]:
            plan.add(DeleteRevision(_meta(r)["name"]))
    return plan.actions


def _update_stateful_set(sync: _Sync, pods: list[Obj], cur_name: str, upd_name: str, collision: int) -> Obj:
    """``updateStatefulSet``: the status it returns, actions into ``sync.plan``."""
    s, now = sync.s, sync.now
    fact = sync.fact
    mrs = s.min_ready_seconds
    status = _compute_status(s, [fact(p) for p in pods], cur_name, upd_name, collision, now)
    replicas: list[Obj | None] = [None] * max(0, s.replicas)
    condemned: list[Obj] = []
    start, end = s.start, s.end
    for p in pods:
        o = fact(p).ordinal
        if start <= o <= end:  # s.in_range(p)
            replicas[o - start] = p
        elif o >= 0:
            condemned.append(p)
    for idx in range(len(replicas)):
        if replicas[idx] is None:
            replicas[idx] = sync.versioned_pod(idx + start)
    reps: list[Obj] = [r for r in replicas if r is not None]
    condemned.sort(key=lambda p: fact(p).ordinal, reverse=True)

    first_unavailable: Obj | None = None
    for p in reps:
        if fact(p).unavailable(mrs, now):
            first_unavailable = p
            break
    if first_unavailable is None:
        for p in reversed(condemned):
            if fact(p).unavailable(mrs, now):
                first_unavailable = p
                break

    if s.deleting:
        return status

    monotonic = not s.burst

    def recount() -> Obj:
        return _compute_status(s, [fact(p) for p in reps + condemned], cur_name, upd_name, collision, now)

    if sync.run_for_all(reps, lambda i: sync.process_replica(reps, i, monotonic), monotonic):
        return recount()

    def fix_claim(i: int) -> tuple[bool, bool]:
        if not sync.claims_match_policy(condemned[i]):
            sync.fix_claims_for_policy(condemned[i])
        return False, False

    if sync.run_for_all(condemned, fix_claim, monotonic):
        return recount()
    if sync.run_for_all(condemned, lambda i: sync.process_condemned(condemned, i, first_unavailable, monotonic),
                        monotonic):
        return recount()
    status = recount()

    if s.strategy == "OnDelete":
        return status
    sync.plan.batch += 1
    if s.version >= (1, 35):
        # updateStatefulSetAfterInvariantEstablished (MaxUnavailableStatefulSet)
        limit = max_unavailable(s)
        unavailable = sum(1 for p in reps if fact(p).unavailable(mrs, now))
        if unavailable > limit:
            return status
        budget = limit - unavailable
        for target in range(len(reps) - 1, s.partition - 1, -1):
            if budget <= 0:
                break
            p = reps[target]
            f = fact(p)
            if f.revision != upd_name and not f.terminating:
                sync.delete_pod(p, "update")
                budget -= 1
                status["currentReplicas"] = max(0, status["currentReplicas"] - 1)
        return status
    for target in range(len(reps) - 1, s.partition - 1, -1):
        p = reps[target]
        f = fact(p)
        if f.revision != upd_name and not f.terminating:
            sync.delete_pod(p, "update")
            # Upstream decrements unconditionally; kept >= 0 so the status stays valid.
            status["currentReplicas"] = max(0, status["currentReplicas"] - 1)
            return status
        if f.unavailable(mrs, now):
            return status  # waiting for Pod to update
    return status


def requeue_after(sts: Obj, actions: list[Action]) -> float | None:
    """``sync``: with minReadySeconds, look again after it while not all replicas are available."""
    s = SetView(sts, (1, 33))
    if not s.min_ready_seconds:
        return None
    status = next((a.status for a in actions if isinstance(a, UpdateStatus)), s.status)
    if int(status.get("availableReplicas") or 0) != s.replicas:
        return float(s.min_ready_seconds)
    return None


# -- the loop ---------------------------------------------------------------------------

class StatefulSetController(Controller):
    """Watches statefulsets, pods, PVCs and controllerrevisions; one sync per set, one worker."""

    name = "statefulset"
    watches = ("apps/statefulsets", "pods", "persistentvolumeclaims", "apps/controllerrevisions")

    def __init__(self, ctx: "ControllerContext | Any") -> None:
        super().__init__(ctx)
        self.resync_seconds = max(0.05, self.timings.get("controller_resync"))
        self.version: Version = tuple(self.ctx.k8s_version)  # type: ignore[assignment]
        self.recorder = self.ctx.recorder(COMPONENT)
        self._failures: dict[Hashable, int] = {}
        self._memos: dict[Hashable, SyncMemo] = {}  # per set: what its next sync can reuse
        self._rt_sts = self.api.rt("apps/statefulsets")
        self._rt_pods = self.api.rt("pods")
        self._rt_pvcs = self.api.rt("persistentvolumeclaims")
        self._rt_revs = self.api.rt("apps/controllerrevisions")

    # -- mapping events to sets ----------------------------------------------------------------
    def all_items(self) -> Iterable[Hashable]:
        entries, _ = self.api.store.list("apps/statefulsets")
        return [(e.namespace, e.name) for e in entries]

    def items_for(self, ev: Event) -> Iterable[Hashable]:
        e = ev.entry
        if e.key == "apps/statefulsets":
            return [(e.namespace, e.name)]
        out: set[tuple[str, str]] = set()
        for entry in (ev.entry, ev.prev):
            if entry is None:
                continue
            if e.key == "persistentvolumeclaims":
                out.update(self._sets_for_claim(entry.namespace, entry.name))
                continue
            raw = entry.raw
            if b'"controller":true' in raw and b'"kind":"StatefulSet"' not in raw:
                continue  # another controller's object (the common case for Deployment pods)
            ref = history.controller_of(entry.view()) if b'"ownerReferences"' in raw else None
            if ref is not None:
                if ref.get("kind") == SET_KIND and str(ref.get("apiVersion", "")).startswith("apps/"):
                    out.add((entry.namespace, ref.get("name", "")))
                continue
            # An orphan: every set whose selector matches may adopt it.
            for sts in self.api.store.list("apps/statefulsets", entry.namespace)[0]:
                spec = (sts.view().get("spec") or {})
                if selector_from_label_selector(spec.get("selector")).matches(entry.labels):
                    out.add((sts.namespace, sts.name))
        return sorted(out)

    def _sets_for_claim(self, namespace: str, claim: str) -> list[tuple[str, str]]:
        out = []
        for sts in self.api.store.list("apps/statefulsets", namespace)[0]:
            for t in (sts.view().get("spec") or {}).get("volumeClaimTemplates") or []:
                prefix = f"{_meta(t).get('name', '')}-{sts.name}-"
                if claim.startswith(prefix) and claim[len(prefix):].isdigit():
                    out.append((sts.namespace, sts.name))
                    break
        return out

    # -- one sync ---------------------------------------------------------------------------------
    def observe(self, namespace: str, name: str) -> tuple[Obj, list[Obj], list[Obj], list[Obj]] | None:
        """The set and the objects of its namespace a sync looks at (decoded only when relevant)."""
        store = self.api.store
        entry = store.get("apps/statefulsets", namespace, name)
        if entry is None:
            return None
        sts = entry.obj()
        # Shared read-only views (Entry.view): ``decide`` never edits a pod (it deep-copies the one it
        # adopts), and a set's every sync would otherwise decode all its pods again. A member's name
        # is ``<name>-<ordinal>``: the prefix test skips the regex for the namespace's other pods.
        prefix = name + "-"
        pods = [e.view() for e in store.list("pods", namespace)[0]
                if e.name.startswith(prefix) and parent_and_ordinal(e.name)[0] == name]
        prefixes = tuple(f"{_meta(t).get('name', '')}-{name}-"
                         for t in (sts.get("spec") or {}).get("volumeClaimTemplates") or [])
        # PVCs and revisions are only read too (actions carry copies or names; ``apply`` copies again).
        pvcs = [e.view() for e in store.list("persistentvolumeclaims", namespace)[0]
                if prefixes and e.name.startswith(prefixes)]
        sel = selector_from_label_selector((sts.get("spec") or {}).get("selector"))
        revs = [e.view() for e in store.list("apps/controllerrevisions", namespace)[0]
                if sel.matches(e.labels) or e.name.startswith(prefix)]
        return sts, pods, pvcs, revs

    def reconcile(self, item: Hashable) -> float | None:
        namespace, name = item  # type: ignore[misc]
        seen = self.observe(namespace, name)
        if seen is None:
            self._failures.pop(item, None)
            self._memos.pop(item, None)
            return None
        sts, pods, pvcs, revs = seen
        memo = self._memos.get(item)
        if memo is None:
            memo = self._memos[item] = SyncMemo()
        try:
            actions = decide(sts, pods, pvcs, revs, clock.now(), self.version, memo)
        finally:
            memo.rotate()
        ok = self.apply(sts, actions)
        if not ok:
            n = self._failures.get(item, 0)
            self._failures[item] = n + 1
            # workqueue's per-item exponential back-off: 5 ms doubling, capped at 1000 s.
            return min(0.005 * (2 ** n), 1000.0) * max(self.timings.scale, 0.01)
        self._failures.pop(item, None)
        return requeue_after(sts, actions)

    # -- applying actions ------------------------------------------------------------------------
    def apply(self, sts: Obj, actions: list[Action]) -> bool:
        """Apply in order with upstream's failure semantics; False if the sync ended in an error."""
        s = SetView(sts, self.version)
        ok = True
        aborted = False
        failed_batch: int | None = None
        failed_pods: set[str] = set()
        claim_errors: dict[str, list[str]] = {}
        for a in actions:
            if isinstance(a, POD_ACTIONS):
                if failed_batch is not None and (a.batch != failed_batch or a.pod in failed_pods):
                    continue
            elif aborted or (not ok and not isinstance(a, (UpdateStatus, DeleteRevision))):
                continue
            try:
                good = self._do(s, a, claim_errors)
            except ApiError as exc:
                log.debug("statefulset %s/%s: %s failed: %s", s.namespace, s.name, type(a).__name__, exc)
                good = False
            except Exception:  # pragma: no cover - a bug must not kill the worker
                log.exception("statefulset %s/%s: %s", s.namespace, s.name, type(a).__name__)
                good = False
            if not good:
                ok = False
                if isinstance(a, POD_ACTIONS):
                    failed_batch = a.batch
                    failed_pods.add(a.pod)
                elif not isinstance(a, (UpdateStatus, DeleteRevision)):
                    # Revisions or adoption failed: upstream returns before pods, status and history.
                    failed_batch = -1
                    aborted = True
        return ok

    def _event(self, s: SetView, kind: tuple[str, str, str]) -> None:
        self.recorder.event(s.obj, *kind)

    def _req(self) -> Request:
        return Request(field_manager=MANAGER, user_agent=MANAGER)

    def _do(self, s: SetView, a: Action, claim_errors: dict[str, list[str]]) -> bool:
        api, ns = self.api, s.namespace
        if isinstance(a, RecordEvent):
            self._event(s, (a.type, a.reason, a.message))
            return True
        if isinstance(a, SyncError):
            return False
        if isinstance(a, CreateClaim):
            cname = a.claim["metadata"]["name"]
            try:
                api.create(self._rt_pvcs, ns, copy.deepcopy(a.claim), self._req())
            except AlreadyExists as exc:
                claim_errors.setdefault(a.pod, []).append(f"failed to create PVC {cname}: {exc.message}")
                return True
            except ApiError as exc:
                claim_errors.setdefault(a.pod, []).append(f"failed to create PVC {cname}: {exc.message}")
                self._event(s, claim_event("create", s.name, a.pod, cname, exc.message))
                return True
            self._event(s, claim_event("create", s.name, a.pod, cname))
            return True
        if isinstance(a, CreatePod):
            errs = claim_errors.get(a.pod)
            if errs:
                self._event(s, pod_event("create", s.name, a.pod, aggregate(errs)))
                return False
            try:
                api.create(self._rt_pods, ns, copy.deepcopy(a.pod_obj), self._req())
            except AlreadyExists:
                return False  # sunk without an event, as upstream
            except ApiError as exc:
                self._event(s, pod_event("create", s.name, a.pod, exc.message))
                return False
            self._event(s, pod_event("create", s.name, a.pod))
            return True
        if isinstance(a, DeletePod):
            try:
                api.delete(self._rt_pods, ns, a.pod, DeleteOptions())
            except ApiError as exc:
                self._event(s, pod_event("delete", s.name, a.pod, exc.message))
                return a.why == "update" and isinstance(exc, NotFound)
            self._event(s, pod_event("delete", s.name, a.pod))
            return True
        if isinstance(a, UpdatePod):
            def fix(cur: Obj) -> Obj:
                if a.uid and _meta(cur).get("uid") != a.uid:
                    raise Conflict("pods", "", a.pod, "the pod was replaced")
                cur["metadata"].setdefault("labels", {}).update(a.labels)
                if a.volumes is not None:
                    cur.setdefault("spec", {})["volumes"] = copy.deepcopy(a.volumes)
                return cur
            try:
                api.mutate(self._rt_pods, ns, a.pod, fix, manager=MANAGER)
            except ApiError as exc:
                self._event(s, pod_event("update", s.name, a.pod, exc.message))
                return False
            self._event(s, pod_event("update", s.name, a.pod))
            return True
        if isinstance(a, SetClaimOwners):
            def owners(cur: Obj) -> Obj:
                if a.owner_references:
                    cur["metadata"]["ownerReferences"] = copy.deepcopy(a.owner_references)
                else:
                    cur["metadata"].pop("ownerReferences", None)
                return cur
            try:
                api.mutate(self._rt_pvcs, ns, a.claim, owners, manager=MANAGER)
            except NotFound:
                return True  # "Expected claim missing, continuing to pick up in next iteration"
            except ApiError as exc:
                self._event(s, pod_event("update", s.name, a.pod, f"Could not update claim {a.claim} for delete "
                                                                   f"policy ownerRefs: {exc.message}"))
                return False
            return True
        if isinstance(a, UpdateStatus):
            def put(cur: Obj) -> Obj:
                cur["status"] = copy.deepcopy(a.status)
                return cur
            api.update_status(self._rt_sts, ns, s.name, put, manager=MANAGER)
            return True
        if isinstance(a, CreateRevision):
            try:
                api.create(self._rt_revs, ns, copy.deepcopy(a.revision), self._req())
            except AlreadyExists:
                return False  # a collision appeared since we looked: the next sync renames
            return True
        if isinstance(a, BumpRevision):
            def bump(cur: Obj) -> Obj:
                cur["revision"] = a.revision
                return cur
            api.mutate(self._rt_revs, ns, a.name, bump, manager=MANAGER)
            return True
        if isinstance(a, DeleteRevision):
            try:
                api.delete(self._rt_revs, ns, a.name, DeleteOptions())
            except NotFound:
                pass
            return True
        if isinstance(a, (AdoptRevision, AdoptPod)):
            rt = self._rt_revs if isinstance(a, AdoptRevision) else self._rt_pods
            ref = s.controller_ref()

            def adopt(cur: Obj) -> Obj:
                if a.uid and _meta(cur).get("uid") != a.uid:
                    raise Conflict(rt.plural, rt.group, a.name, "the object was replaced")
                if history.controller_of(cur) is not None:
                    raise Conflict(rt.plural, rt.group, a.name, "already has a controller")
                cur["metadata"].setdefault("ownerReferences", []).append(copy.deepcopy(ref))
                return cur
            api.mutate(rt, ns, a.name, adopt, manager=MANAGER)
            return True
        if isinstance(a, ReleasePod):
            def release(cur: Obj) -> Obj:
                refs = [r for r in _refs(cur) if r.get("uid") != s.uid]
                if refs:
                    cur["metadata"]["ownerReferences"] = refs
                else:
                    cur["metadata"].pop("ownerReferences", None)
                return cur
            try:
                api.mutate(self._rt_pods, ns, a.name, release, manager=MANAGER)
            except NotFound:
                pass
            return True
        raise TypeError(f"unknown action {a!r}")  # pragma: no cover


__all__ = [
    "Action", "AdoptPod", "AdoptRevision", "BumpRevision", "CreateClaim", "CreatePod", "CreateRevision",
    "DeletePod", "DeleteRevision", "RecordEvent", "ReleasePod", "SetClaimOwners", "SetView",
    "StatefulSetController", "SyncError", "UpdatePod", "UpdateStatus", "aggregate", "claim_event",
    "claim_owner_refs", "claim_owner_up_to_date", "compute_status", "decide", "new_pod", "new_revision",
    "pod_event", "requeue_after", "revision_data", "slow_start_batches",
]
