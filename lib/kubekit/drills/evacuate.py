"""Evacuate a zone on purpose: cordon its nodes, drain them through the Eviction API (PDBs respected),
and bring the zone back; what the ``zone-evacuation`` runbook runs.

A drain is ``kubectl drain`` semantics (k8s.io/kubectl/pkg/drain): cordon, then evict every pod
that is not a DaemonSet's or a mirror pod, retrying evictions the API refuses with 429 (a
PodDisruptionBudget allows no more disruptions now) until ``timeout``. The Eviction API
(policy/v1) decrements the PDB's ``disruptionsAllowed`` for each eviction it grants, so a
drain never takes a budgeted workload below its budget. A pet whose volume is in the drained
zone cannot be rescheduled elsewhere (EBS is zonal): it stays Pending until the zone is back,
and the PDB then refuses any further pet disruption elsewhere (quorum is kept).

:func:`watch_unavailable` samples how many pods of a selector are not Ready during the
evacuation, the evidence that the budget was respected.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from ..errors import KubeError
from .base import until

ZONE = "topology.kubernetes.io/zone"


def _core(api: Any) -> Any:
    return api if isinstance(api, k8s.CoreV1Api) else k8s.CoreV1Api(api)


def _ready(obj: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (obj.status.conditions or []))


def zone_nodes(api: Any, zone: str) -> list[str]:
    """The nodes labelled with ``zone`` (sorted)."""
    items = _core(api).list_node(label_selector=f"{ZONE}={zone}").items
    return sorted(n.metadata.name for n in items)


def cordon(api: Any, nodes: list[str], unschedulable: bool = True) -> None:
    core = _core(api)
    for n in nodes:
        try:
            core.patch_node(n, {"spec": {"unschedulable": unschedulable}})
        except ApiException as exc:
            raise KubeError(f"{'cordon' if unschedulable else 'uncordon'} {n}", exc) from exc


def _drainable(pod: Any) -> bool:
    owners = pod.metadata.owner_references or []
    if any(o.kind == "DaemonSet" for o in owners):
        return False
    if "kubernetes.io/config.mirror" in (pod.metadata.annotations or {}):
        return False
    return not pod.metadata.deletion_timestamp and pod.status.phase not in ("Succeeded", "Failed")


@dataclass
class Drain:
    """What a drain did: evicted pods, how often a PDB said "not now", and what was left."""

    nodes: list[str]
    evicted: list[str] = field(default_factory=list)          # namespace/name, in order
    refused: dict[str, int] = field(default_factory=dict)     # namespace/name -> 429 answers
    left: list[str] = field(default_factory=list)             # still there at the timeout
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return not self.left

    def __str__(self) -> str:
        lines = [f"drained {len(self.nodes)} node(s) in {self.seconds:.1f} s: {len(self.evicted)} pod(s) evicted"]
        lines += [f"  evicted {p}" + (f" (after {self.refused[p]} PDB refusal(s))" if self.refused.get(p) else "")
                  for p in self.evicted]
        lines += [f"  NOT evicted {p}" for p in self.left]
        return "\n".join(lines)


def evict(api: Any, namespace: str, name: str, *, dry_run: bool = False) -> int:
    """One eviction through policy/v1; returns the HTTP status (201 granted, 429 refused by a PDB, 404 gone)."""
    body = k8s.V1Eviction(metadata=k8s.V1ObjectMeta(name=name, namespace=namespace),
                          delete_options=k8s.V1DeleteOptions(dry_run=["All"]) if dry_run else None)
    try:
        _core(api).create_namespaced_pod_eviction(name, namespace, body)
        return 201
    except ApiException as exc:
        if exc.status in (404, 429):
            return int(exc.status)
        raise KubeError(f"evict {namespace}/{name}", exc) from exc


def drain(api: Any, nodes: list[str], *, namespaces: list[str] | None = None, timeout: float = 120.0,
          interval: float = 0.2, say: Callable[[str], None] | None = None) -> Drain:
    """Cordon ``nodes`` and evict their pods (optionally only in ``namespaces``), PDBs respected."""
    core = _core(api)
    t0 = time.monotonic()
    cordon(api, nodes)
    out = Drain(list(nodes))
    end = t0 + timeout
    while True:
        pending = [p for n in nodes for p in core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={n}").items
                   if _drainable(p) and (namespaces is None or p.metadata.namespace in namespaces)]
        if not pending:
            break
        for p in pending:
            key = f"{p.metadata.namespace}/{p.metadata.name}"
            code = evict(api, p.metadata.namespace, p.metadata.name)
            if code == 201:
                if key not in out.evicted:
                    out.evicted.append(key)
                    if say is not None:
                        say(f"evicted {key}")
            elif code == 429:
                out.refused[key] = out.refused.get(key, 0) + 1
        if time.monotonic() > end:
            out.left = sorted(f"{p.metadata.namespace}/{p.metadata.name}" for p in pending)
            break
        time.sleep(interval)
    out.seconds = time.monotonic() - t0
    return out


class Unavailability:
    """Background sampler: the most pods of ``selector`` in ``namespace`` not Ready at one moment."""

    def __init__(self, api: Any, namespace: str, selector: str, expected: int, interval: float = 0.05) -> None:
        self.core, self.namespace, self.selector, self.expected = _core(api), namespace, selector, expected
        self.interval = interval
        self.worst = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="unavailability", daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                pods = self.core.list_namespaced_pod(self.namespace, label_selector=self.selector).items
                ready = sum(1 for p in pods if _ready(p) and not p.metadata.deletion_timestamp)
                self.worst = max(self.worst, self.expected - ready)
                self.samples += 1
            except ApiException:
                pass
            self._stop.wait(self.interval)

    def __enter__(self) -> "Unavailability":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def watch_unavailable(api: Any, namespace: str, selector: str, expected: int) -> Unavailability:
    """``with watch_unavailable(...) as u: ...``; then ``u.worst`` is the most pods down at once."""
    return Unavailability(api, namespace, selector, expected)


def unschedulable_reason(api: Any, namespace: str, pod: str) -> str:
    """The scheduler's latest FailedScheduling message for ``pod`` ('' if none)."""
    events = _core(api).list_namespaced_event(namespace, field_selector=f"involvedObject.name={pod}").items
    def when(e: Any) -> str:
        t = e.last_timestamp or e.event_time or e.metadata.creation_timestamp
        return t.isoformat() if t is not None else ""

    failed = sorted((e for e in events if e.reason == "FailedScheduling"), key=when)
    return str(failed[-1].message) if failed else ""


def wait_for(what: str, fn: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    return until(what, fn, timeout, interval)


__all__ = ["Drain", "Unavailability", "cordon", "drain", "evict", "unschedulable_reason", "wait_for",
           "watch_unavailable", "zone_nodes"]
