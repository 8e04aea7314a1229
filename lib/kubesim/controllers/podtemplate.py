"""Shared pieces of the workload controllers: pods from templates, ownership, pod state, hashing.

What ``pkg/controller/controller_utils.go`` gives every kube-controller-manager
workload controller, in Python and without I/O except the two ``PodControl``
helpers at the bottom:

- ``pod_from_template``: ``GetPodFromTemplate`` (labels, annotations and
  finalizers of the template, a controller ownerReference with
  ``blockOwnerDeletion``, ``generateName`` = ``<owner>-``, ``getPodsPrefix``);
- ``compute_hash``: ``controller.ComputeHash``: an FNV-32a hash of the pod
  template plus the collision count, rendered as ``rand.SafeEncodeString`` of
  its decimal form. Upstream hashes the Go struct dump (``DeepHashObject``);
  kubesim hashes canonical JSON, so the value differs from a real cluster for
  the same template but has the same shape (``5d78f9c6b``: only the characters
  ``4-9bcdf``) and the same properties (stable, changes with the template);
- pod state: ``IsPodActive`` (``FilterActivePods``), ``IsPodReady``,
  ``IsPodAvailable`` (``pkg/api/v1/pod/util.go``), ``CountTerminatingPods``;
- ``slow_start_batch``: ``slowStartBatch`` (1, 2, 4, ... creations, stopping at
  the first error);
- ``int_or_percent``: ``intstr.GetScaledValueFromIntOrPercent``.
"""

from __future__ import annotations

import copy
import json
import logging
import math
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .. import clock
from ..errors import AlreadyExists, ApiError, NotFound
from ..selectors import selector_from_label_selector

if TYPE_CHECKING:
    from ..api import Api
    from ..events import EventRecorder

log = logging.getLogger("kubesim.controllers")

Obj = dict[str, Any]

# apimachinery util/rand alphanums: no vowels, no confusable characters.
_SAFE = "bcdfghjklmnpqrstvwxz2456789"
SLOW_START_INITIAL_BATCH = 1  # controller.SlowStartInitialBatchSize


# -- hashing ------------------------------------------------------------------------------

def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(s: str) -> str:
    """``rand.SafeEncodeString``: each character mapped into the safe alphabet."""
    return "".join(_SAFE[ord(ch) % len(_SAFE)] for ch in s)


def compute_hash(template: Any, collision_count: int | None = None) -> str:
    """``controller.ComputeHash(template, collisionCount)`` (canonical JSON instead of a Go dump)."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count is not None:
        # Upstream writes the count's little-endian 4 bytes into the hasher after the object.
        data += int(collision_count & 0xFFFFFFFF).to_bytes(4, "little")
    return safe_encode(str(fnv32a(data)))


# -- ownership ----------------------------------------------------------------------------

def owner_ref(owner: Obj) -> Obj:
    """``metav1.NewControllerRef``."""
    meta = owner.get("metadata") or {}
    return {"apiVersion": owner.get("apiVersion", ""), "kind": owner.get("kind", ""), "name": meta.get("name", ""),
            "uid": meta.get("uid", ""), "controller": True, "blockOwnerDeletion": True}


def controller_ref(obj: Obj) -> Obj | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            return ref
    return None


def is_controlled_by(obj: Obj, owner: Obj) -> bool:
    ref = controller_ref(obj)
    return ref is not None and ref.get("uid") == (owner.get("metadata") or {}).get("uid")


def meta(obj: Obj) -> Obj:
    m = obj.get("metadata")
    if not isinstance(m, dict):
        m = obj["metadata"] = {}
    return m


def name_of(obj: Obj) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def labels_of(obj: Obj) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def annotations_of(obj: Obj) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def pods_prefix(controller_name: str) -> str:
    """``getPodsPrefix``: ``<name>-`` (a too-long name is cut by the API server's generateName rules)."""
    prefix = controller_name + "-"
    if len(prefix) > 58:  # names.MaxGeneratedNameLength (63 - 5 random characters)
        prefix = prefix[:58]
    return prefix


def pod_from_template(template: Obj, owner: Obj, *, name: str | None = None, generate_name: str | None = None,
                      extra_labels: dict[str, str] | None = None, extra_annotations: dict[str, str] | None = None,
                      finalizers: Iterable[str] = ()) -> Obj:
    """``GetPodFromTemplate``: a Pod body for ``POST pods``."""
    tmeta = template.get("metadata") or {}
    labels = dict(tmeta.get("labels") or {})
    labels.update(extra_labels or {})
    annotations = dict(tmeta.get("annotations") or {})
    annotations.update(extra_annotations or {})
    fins = list(tmeta.get("finalizers") or [])
    for f in finalizers:
        if f not in fins:
            fins.append(f)
    pmeta: Obj = {"labels": labels, "ownerReferences": [owner_ref(owner)]}
    if annotations:
        pmeta["annotations"] = annotations
    if fins:
        pmeta["finalizers"] = fins
    if name:
        pmeta["name"] = name
    else:
        pmeta["generateName"] = generate_name or pods_prefix(name_of(owner))
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pmeta,
            "spec": copy.deepcopy(template.get("spec") or {})}


# -- pod state ----------------------------------------------------------------------------

def phase(pod: Obj) -> str:
    return (pod.get("status") or {}).get("phase") or ""


def is_terminal(pod: Obj) -> bool:
    return phase(pod) in ("Succeeded", "Failed")


def is_deleting(obj: Obj) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def is_active(pod: Obj) -> bool:
    """``IsPodActive``: not terminal and not being deleted."""
    return not is_terminal(pod) and not is_deleting(pod)


def is_terminating(pod: Obj) -> bool:
    """``CountTerminatingPods``: being deleted and not yet terminal."""
    return is_deleting(pod) and not is_terminal(pod)


def condition(obj: Obj, ctype: str) -> Obj | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return None


def is_ready(pod: Obj) -> bool:
    c = condition(pod, "Ready")
    return c is not None and c.get("status") == "True"


def ready_since(pod: Obj) -> float | None:
    c = condition(pod, "Ready")
    if c is None or c.get("status") != "True":
        return None
    t = clock.parse_time(c.get("lastTransitionTime"))
    return t.timestamp() if t else None


def is_available(pod: Obj, min_ready_seconds: float, now: float) -> bool:
    """``IsPodAvailable``: Ready for at least minReadySeconds (already scaled by the caller)."""
    if not is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = ready_since(pod)
    return since is not None and since + min_ready_seconds <= now


def created_at(obj: Obj) -> float:
    t = clock.parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
    return t.timestamp() if t else 0.0


def restart_count(pod: Obj) -> int:
    st = pod.get("status") or {}
    return sum(int(c.get("restartCount") or 0) for key in ("initContainerStatuses", "containerStatuses")
               for c in st.get(key) or [] if isinstance(c, dict))


def finish_time(pod: Obj) -> float | None:
    """The latest container termination time (the Job controller's ``getFinishedTime``)."""
    best = None
    st = pod.get("status") or {}
    for key in ("initContainerStatuses", "containerStatuses"):
        for c in st.get(key) or []:
            term = ((c or {}).get("state") or {}).get("terminated") or {}
            t = clock.parse_time(term.get("finishedAt"))
            if t and (best is None or t.timestamp() > best):
                best = t.timestamp()
    return best


def matches_selector(obj: Obj, selector: Obj | None) -> bool:
    return selector_from_label_selector(selector).matches(labels_of(obj))


def now_rfc3339(ts: float | None = None) -> str:
    return clock.rfc3339(datetime.fromtimestamp(ts, timezone.utc) if ts is not None else None)


# -- numbers ------------------------------------------------------------------------------

def int_or_percent(value: Any, total: int, round_up: bool) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ValueError(f"invalid value for IntOrString: {value!r}")
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.endswith("%"):
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"invalid value for IntOrString: invalid type: string is not a percentage")
    pct = int(text[:-1])
    raw = pct * total / 100
    return int(math.ceil(raw)) if round_up else int(math.floor(raw))


def omit_zero(status: Obj, keep: Iterable[str] = ()) -> Obj:
    """Go ``omitempty``: zero ints, empty lists and None disappear, except the ``keep`` fields."""
    keep = set(keep)
    return {k: v for k, v in status.items() if k in keep or v not in (0, None, [], {}, "") or v is False}


# -- PodControl (the only I/O here) --------------------------------------------------------

def slow_start_batch(count: int, fn: Callable[[], None], initial: int = SLOW_START_INITIAL_BATCH) -> int:
    """Call ``fn`` ``count`` times in batches 1, 2, 4 ...; stop at the first failing batch; return successes."""
    remaining = count
    successes = 0
    batch = min(remaining, initial)
    while batch > 0:
        failed = False
        for _ in range(batch):
            try:
                fn()
                successes += 1
            except Exception as exc:  # noqa: BLE001 - one failure ends the batch run, as upstream
                log.debug("slow start batch: %s", exc)
                failed = True
        if failed:
            break
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes


def create_pod(api: "Api", recorder: "EventRecorder", owner: Obj, pod: Obj, manager: str) -> Obj:
    """``RealPodControl.CreatePods``: POST, then ``SuccessfulCreate``/``FailedCreate`` on the owner."""
    from ..api import Request

    ns = (owner.get("metadata") or {}).get("namespace")
    try:
        created = api.create(api.rt("pods"), ns, pod, Request(field_manager=manager))
    except ApiError as exc:
        recorder.event(owner, "Warning", "FailedCreate", f"Error creating: {exc.message}")
        raise
    recorder.event(owner, "Normal", "SuccessfulCreate", f"Created pod: {name_of(created)}")
    return created


def delete_pod(api: "Api", recorder: "EventRecorder", owner: Obj, pod_name: str) -> bool:
    """``RealPodControl.DeletePod``: DELETE, then ``SuccessfulDelete``/``FailedDelete`` on the owner."""
    ns = (owner.get("metadata") or {}).get("namespace")
    try:
        api.delete(api.rt("pods"), ns, pod_name)
    except NotFound:
        return False
    except ApiError as exc:
        recorder.event(owner, "Warning", "FailedDelete", f"Error deleting: {exc.message}")
        raise
    recorder.event(owner, "Normal", "SuccessfulDelete", f"Deleted pod: {pod_name}")
    return True


def remove_finalizer(api: "Api", namespace: str, pod_name: str, finalizer: str, manager: str) -> None:
    def strip(cur: Obj) -> Obj:
        fins = [f for f in (cur.get("metadata") or {}).get("finalizers") or [] if f != finalizer]
        cur["metadata"]["finalizers"] = fins
        if not fins:
            del cur["metadata"]["finalizers"]
        return cur

    try:
        api.mutate(api.rt("pods"), namespace, pod_name, strip, manager=manager)
    except NotFound:
        pass


__all__ = ["AlreadyExists", "compute_hash", "controller_ref", "create_pod", "delete_pod", "fnv32a", "int_or_percent",
           "is_active", "is_available", "is_controlled_by", "is_ready", "is_terminal", "is_terminating",
           "owner_ref", "pod_from_template", "safe_encode", "slow_start_batch"]
