"""An event recorder as client-go's: core/v1 Events with upstream fields, deduplicated.

Controllers call ``recorder.event(obj, "Normal", "SuccessfulCreate", "create Pod web-0 in StatefulSet web
successful")``. A repeat of the same (object, type, reason, message, source) within
10 minutes bumps ``count`` and ``lastTimestamp`` on the existing Event instead of
creating a new one (client-go ``tools/record/events_cache.go`` EventCorrelator).
Cluster-scoped objects get their Events in ``default``, as upstream.
Recording never raises: losing an event must not break a controller.

``events_api=True`` records as components on the events.k8s.io/v1 library do
(client-go ``tools/events``; kube-scheduler since 1.19): read through core/v1 such
an Event has ``eventTime`` (micro), ``action``, ``reportingComponent`` and
``reportingInstance`` (``<component>-<host>``), but ``source: {}``, no ``count`` and
null ``firstTimestamp``/``lastTimestamp``. A repeat of an isomorphic event (same
type, action, reason, reporter and regarding object, resourceVersion included: the
note is not part of the key) within 6 minutes becomes a ``series`` (count from 2,
``lastObservedTime``) on the first Event, whose note stays the first one
(``event_broadcaster.go`` ``recordToSink``/``getKey``). kubesim writes every
increment; upstream writes the count of 2 at once and later ones with its
30-minute heartbeat.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from . import clock

if TYPE_CHECKING:
    from .api import Api

log = logging.getLogger("kubesim.events")
DEDUP_WINDOW = 600.0
SERIES_WINDOW = 360.0  # tools/events finishTime: a series not seen for 6 minutes is finished
MAX_NOTE_LENGTH = 1024  # events.k8s.io validation: note at most 1 kB


class EventRecorder:
    def __init__(self, api: "Api", component: str, host: str | None = None, *, events_api: bool = False,
                 instance: str | None = None) -> None:
        self.api = api
        self.component = component
        self.host = host
        self.events_api = events_api
        self.instance = instance or (f"{component}-{host}" if host else component)
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, ...], tuple[str, str, float]] = {}  # key -> (ns, name, first seen)

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str, *,
              action: str | None = None, field_path: str | None = None) -> None:
        try:
            self._record(obj, type_, reason, message, action, field_path)
        except Exception as exc:  # pragma: no cover - defensive
            log.debug("dropping event %s %s: %s", reason, message, exc)

    def _record(self, obj: dict[str, Any], type_: str, reason: str, message: str, action: str | None,
                field_path: str | None) -> None:
        from .api import Request

        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") or "default"
        involved = {"kind": obj.get("kind", ""), "namespace": meta.get("namespace") or "", "name": meta.get("name", ""),
                    "uid": meta.get("uid", ""), "apiVersion": obj.get("apiVersion", ""),
                    "resourceVersion": meta.get("resourceVersion", "")}
        if not involved["namespace"]:
            involved.pop("namespace")
        if field_path:
            involved["fieldPath"] = field_path
        if self.events_api:
            self._record_series(involved, ns, type_, reason, message, action or "")
            return
        key = (involved["uid"], involved.get("fieldPath", ""), type_, reason, message, self.component)
        now = clock.rfc3339()
        rt = self.api.rt("events")
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and time.monotonic() - seen[2] < DEDUP_WINDOW:
                ev_ns, ev_name, _ = seen

                def bump(cur: dict[str, Any]) -> dict[str, Any]:
                    cur["count"] = int(cur.get("count") or 1) + 1
                    cur["lastTimestamp"] = now
                    return cur

                try:
                    self.api.mutate(rt, ev_ns, ev_name, bump, manager=self.component)
                    return
                except Exception:
                    pass  # the event was removed: record a new one
            name = f"{involved['name']}.{time.time_ns():x}"
            body: dict[str, Any] = {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": name, "namespace": ns},
                "involvedObject": involved, "reason": reason, "message": message, "type": type_,
                "source": {"component": self.component, **({"host": self.host} if self.host else {})},
                "firstTimestamp": now, "lastTimestamp": now, "count": 1,
                "reportingComponent": self.component, "reportingInstance": self.host or "",
            }
            if action:
                body["action"] = action
            # Built here from fresh values: handed over as decoded (no schema walk).
            self.api.create(rt, ns, body, Request(field_manager=self.component), decoded=True)
            self._seen[key] = (ns, name, time.monotonic())
            if len(self._seen) > 4096:
                cutoff = time.monotonic() - DEDUP_WINDOW
                self._seen = {k: v for k, v in self._seen.items() if v[2] > cutoff}

    def _record_series(self, involved: dict[str, Any], ns: str, type_: str, reason: str, message: str,
                       action: str) -> None:
        """The events.k8s.io/v1 library's recordToSink: a new Event, or the series of an isomorphic one."""
        from .api import Request

        key = ("series", involved["uid"], involved.get("resourceVersion", ""), involved.get("fieldPath", ""),
               type_, action, reason, self.component, self.instance)
        now_micro = clock.rfc3339_micro()
        rt = self.api.rt("events")
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and time.monotonic() - seen[2] < SERIES_WINDOW:
                ev_ns, ev_name, _ = seen

                def bump(cur: dict[str, Any]) -> dict[str, Any]:
                    series = cur.get("series") or {}
                    cur["series"] = {"count": int(series.get("count") or 1) + 1, "lastObservedTime": now_micro}
                    return cur

                try:
                    self.api.mutate(rt, ev_ns, ev_name, bump, manager=self.component)
                    self._seen[key] = (ev_ns, ev_name, time.monotonic())
                    return
                except Exception:
                    pass  # the event was removed: record a new one
            if len(message) > MAX_NOTE_LENGTH:
                message = message[:MAX_NOTE_LENGTH]
            name = f"{involved['name']}.{time.time_ns():x}"
            body: dict[str, Any] = {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": name, "namespace": ns},
                "involvedObject": involved, "reason": reason, "message": message, "type": type_,
                "source": {}, "firstTimestamp": None, "lastTimestamp": None, "eventTime": now_micro,
                "action": action, "reportingComponent": self.component, "reportingInstance": self.instance,
            }
            # Built here from fresh values: handed over as decoded (the schema walk drops nulls).
            body = {k: v for k, v in body.items() if v is not None}
            self.api.create(rt, ns, body, Request(field_manager=self.component), decoded=True)
            self._seen[key] = (ns, name, time.monotonic())
