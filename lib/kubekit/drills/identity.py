"""The cross-cluster identity auditor: never two pods for one pet identity, in any cluster, at any moment.

A pet's identity is (namespace, StatefulSet name, ordinal): the pod ``<set>-<ordinal>``, its
hostname and DNS name, its claim. Within one cluster the API server guarantees one pod of a
name; across clusters nothing does, and that is what federated failover and migrations can
break (federation-drills.md §6(c) 5; Karmada #4581, #4386). The auditor polls the pods of every
member cluster (official client) and keeps, per cluster and pod uid, the interval in which it
was seen (Terminating pods still count: they may still run). Two sightings of one identity
from different pods whose intervals overlap are a violation::

    aud = IdentityAuditor({"a": api_a, "b": api_b}, namespace="fed", sets=["kv"], timeline=tl).start()
    ...                                           # the drill
    aud.stop(); aud.violations                    # [] when at most one pod held each identity
    aud.check()                                   # a drills Check

A cluster that does not answer keeps its last known pods (a lost cluster's pets still run):
they keep holding their identities until the cluster answers again and says otherwise.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .base import Check

_PET = re.compile(r"^(.+)-([0-9]+)$")
Identity = tuple[str, str, int]       # namespace, set name, ordinal


@dataclass(frozen=True)
class Sighting:
    """One pod of one identity in one cluster, seen from ``first`` to ``last`` (wall clock)."""

    identity: Identity
    cluster: str
    pod: str
    uid: str
    first: float
    last: float

    @property
    def name(self) -> str:
        return f"{self.identity[1]}-{self.identity[2]}"


@dataclass(frozen=True)
class Violation:
    """Two pods holding one identity at the same time (``start``..``end``)."""

    identity: Identity
    a: Sighting
    b: Sighting
    start: float
    end: float

    def describe(self) -> str:
        ns, name, o = self.identity
        return (f"{ns}/{name}-{o} held by {self.a.cluster}/{self.a.uid[:8]} and {self.b.cluster}/{self.b.uid[:8]} "
                f"for {max(0.0, self.end - self.start):.2f} s")


def identity_of(pod: Mapping[str, Any], sets: Iterable[str] | None = None) -> Identity | None:
    """The pet identity a pod holds: owned by a StatefulSet, or named ``<set>-<n>`` for a watched set."""
    meta = pod.get("metadata") or {}
    m = _PET.match(meta.get("name") or "")
    if not m:
        return None
    owner = next((r.get("name") for r in meta.get("ownerReferences") or [] if r.get("kind") == "StatefulSet"), None)
    wanted = set(sets) if sets is not None else None
    name = owner or m.group(1)
    if owner and owner != m.group(1):
        return None
    if not owner and (wanted is None or name not in wanted):
        return None
    if wanted is not None and name not in wanted:
        return None
    return (meta.get("namespace") or "default", name, int(m.group(2)))


def overlaps(sightings: Sequence[Sighting], *, grace: float = 0.0) -> list[Violation]:
    """Pairs of sightings of one identity, from different pods, whose intervals overlap (pure).

    ``grace``: overlaps shorter than this are ignored (0: every overlap counts).
    """
    by_id: dict[Identity, list[Sighting]] = {}
    for s in sightings:
        by_id.setdefault(s.identity, []).append(s)
    out = []
    for ident, group in sorted(by_id.items()):
        group = sorted(group, key=lambda s: (s.first, s.cluster))
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if (a.cluster, a.uid) == (b.cluster, b.uid):
                    continue
                start, end = max(a.first, b.first), min(a.last, b.last)
                if start <= end and end - start >= grace:
                    out.append(Violation(ident, a, b, start, end))
    return out


class IdentityAuditor:
    """Polls pods in every cluster every ``interval`` s; see the module docstring."""

    def __init__(self, clusters: Mapping[str, Any], *, namespace: str | None = None,
                 sets: Sequence[str] | None = None, interval: float = 0.1, timeline: Any = None,
                 request_timeout: float = 2.0) -> None:
        self.clusters = dict(clusters)            # name -> kubernetes ApiClient
        self.namespace = namespace
        self.sets = list(sets) if sets is not None else None
        self.interval = interval
        self.timeline = timeline
        self.request_timeout = request_timeout
        self._seen: dict[tuple[str, str], Sighting] = {}     # (cluster, uid) -> sighting
        self._current: dict[str, dict[str, Sighting]] = {}    # cluster -> uid -> open sighting
        self._reported: set[tuple[str, str, str, str]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.polls = 0
        self.unreachable: dict[str, int] = {}

    def _list(self, name: str) -> list[dict[str, Any]]:
        api = self.clusters[name]
        path = f"/api/v1/namespaces/{self.namespace}/pods" if self.namespace else "/api/v1/pods"
        m, url, h, b, _ = api.param_serialize("GET", path, header_params={"Accept": "application/json"},
                                              auth_settings=["BearerToken"])
        resp = api.call_api(m, url, header_params=h, body=b, _request_timeout=self.request_timeout)
        import json

        return list(json.loads(resp.read() or b"{}").get("items") or [])

    def poll(self) -> None:
        """One round over every cluster (tests may call this; the auditor's threads poll each cluster)."""
        for name in self.clusters:
            self.poll_cluster(name)
        self.polls += 1
        self._report()

    def poll_cluster(self, name: str) -> None:
        try:
            pods = self._list(name)
        except Exception:  # noqa: BLE001 - a lost cluster keeps its last known pods
            self.unreachable[name] = self.unreachable.get(name, 0) + 1
            now = time.time()
            with self._lock:
                for uid, s in list(self._current.get(name, {}).items()):
                    self._current[name][uid] = self._seen[(name, uid)] = _extend(s, now)
            return
        now = time.time()
        live: dict[str, Sighting] = {}
        for pod in pods:
            ident = identity_of(pod, self.sets)
            if ident is None:
                continue
            uid = pod["metadata"].get("uid") or pod["metadata"]["name"]
            with self._lock:
                old = self._seen.get((name, uid))
            live[uid] = _extend(old, now) if old else Sighting(ident, name, pod["metadata"]["name"], uid, now, now)
        with self._lock:
            self._current[name] = live
            for uid, s in live.items():
                self._seen[(name, uid)] = s

    def _report(self) -> None:
        if self.timeline is None:
            return
        for v in self.violations:
            key = (v.a.cluster, v.a.uid, v.b.cluster, v.b.uid)
            with self._lock:
                if key in self._reported:
                    continue
                self._reported.add(key)
            try:
                self.timeline.add("identity-auditor", "identity-duplicated", v.describe(), cluster=v.b.cluster,
                                  object=f"pod/{v.identity[0]}/{v.identity[1]}-{v.identity[2]}", time=v.start,
                                  clusters=f"{v.a.cluster},{v.b.cluster}")
            except Exception:  # noqa: BLE001
                pass

    def start(self) -> "IdentityAuditor":
        """Poll once, then one thread per cluster (a cluster that hangs never delays the others)."""
        if self._threads:
            return self
        self._stop.clear()
        self.poll()

        def loop(name: str) -> None:
            while not self._stop.wait(self.interval):
                try:
                    self.poll_cluster(name)
                    if name == next(iter(self.clusters)):
                        self.polls += 1
                    self._report()
                except Exception:  # noqa: BLE001 - keep auditing
                    pass
        for name in self.clusters:
            t = threading.Thread(target=loop, args=(name,), name=f"kubekit-identity-auditor-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        end = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, end - time.monotonic()))
        self._threads = []
        self._report()

    @property
    def sightings(self) -> list[Sighting]:
        with self._lock:
            return list(self._seen.values())

    @property
    def violations(self) -> list[Violation]:
        return overlaps(self.sightings)

    def holders(self) -> dict[str, list[str]]:
        """``{"<set>-<n>": [cluster, ...]}`` right now (as of the last poll)."""
        out: dict[str, list[str]] = {}
        with self._lock:
            for cluster, pods in self._current.items():
                for s in pods.values():
                    out.setdefault(s.name, []).append(cluster)
        return {k: sorted(v) for k, v in sorted(out.items())}

    def check(self, name: str = "identity: at most one pod per pet, across clusters") -> Check:
        vs = self.violations
        if vs:
            return Check(name, False, "; ".join(v.describe() for v in vs[:3]) + (" ..." if len(vs) > 3 else ""))
        ids = {s.identity for s in self.sightings}
        return Check(name, self.polls > 0, f"{len(ids)} identities in {len(self.clusters)} clusters, "
                                           f"{self.polls} polls, no overlap")

    def __enter__(self) -> "IdentityAuditor":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _extend(s: Sighting, now: float) -> Sighting:
    return Sighting(s.identity, s.cluster, s.pod, s.uid, s.first, max(s.last, now))


__all__ = ["IdentityAuditor", "Sighting", "Violation", "identity_of", "overlaps"]
