"""Watch streams: chunked newline-delimited JSON events (API-07).

``resourceVersion`` unset or ``0`` replays the current state as ADDED events;
``N`` resumes after N from the store's history (410 Expired as an ERROR event
when N is older than it); ``allowWatchBookmarks`` adds periodic BOOKMARKs;
``sendInitialEvents`` ends the initial replay with the
``k8s.io/initial-events-end`` bookmark. Label and field selectors are applied
to the old and new state, so an object leaving a selector is a DELETED event
and one entering it an ADDED event (the watch cache's behaviour).
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..errors import BadRequest, Gone
from ..store import Entry, Event, TooOld
from .negotiation import Negotiated

if TYPE_CHECKING:
    from .app import ApiServer
    from .routing import Target

DEFAULT_TIMEOUT = 1800.0  # --min-request-timeout; upstream randomises 30-60 min


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


async def serve_watch(server: "ApiServer", request: web.Request, t: "Target", neg: Negotiated) -> web.StreamResponse:
    api = server.api
    rt = t.rt
    q = request.query
    labels, fields = api.selectors(rt, q.get("labelSelector"), q.get("fieldSelector"))
    if t.name:
        fields = api.selectors(rt, None, f"metadata.name={t.name}")[1] if fields.empty else fields
    rv_text = q.get("resourceVersion") or ""
    send_initial = (q.get("sendInitialEvents") or "").lower() == "true"
    bookmarks = (q.get("allowWatchBookmarks") or "").lower() in ("true", "1")
    if send_initial and not bookmarks:
        raise BadRequest("sendInitialEvents is forbidden for watch unless allowWatchBookmarks=true")
    timeout = DEFAULT_TIMEOUT
    if q.get("timeoutSeconds"):
        try:
            timeout = float(q["timeoutSeconds"])
        except ValueError:
            raise BadRequest(f"invalid value for timeoutSeconds: {q['timeoutSeconds']}")
    try:
        since = int(rv_text) if rv_text else 0
    except ValueError:
        raise BadRequest(f"invalid resource version: {rv_text}")
    initial = since == 0 or send_initial
    ns = t.namespace if rt.namespaced else None

    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Event | None] = asyncio.Queue()

    def deliver(ev: Event) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, ev)

    def match(entry: Entry | None) -> bool:
        return entry is not None and labels.matches(entry.labels) and fields.matches(entry.fields)

    resp = web.StreamResponse(status=200)
    resp.headers["Content-Type"] = "application/json"
    resp.headers["Cache-Control"] = "no-cache, private"
    resp.enable_chunked_encoding()

    first_table = [True]

    def encode(kind: str, entry_obj: dict[str, Any]) -> bytes:
        if neg.table:
            from .. import clock, tables

            table = tables.table(rt, [entry_obj], resource_version=entry_obj["metadata"].get("resourceVersion", ""),
                                 now=clock.now(), include_object=q.get("includeObject") or neg.include_object)
            if not first_table[0]:
                table["columnDefinitions"] = []
            first_table[0] = False
            return _dumps({"type": kind, "object": table}) + b"\n"
        if neg.partial:
            entry_obj = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                         "metadata": entry_obj.get("metadata", {})}
        return _dumps({"type": kind, "object": entry_obj}) + b"\n"

    def bookmark(rv: int, initial_end: bool = False) -> bytes:
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return _dumps({"type": "BOOKMARK", "object": {"kind": rt.kind, "apiVersion": rt.api_version,
                                                      "metadata": meta}}) + b"\n"

    with api.store._lock:  # list and subscribe atomically: nothing falls between them
        try:
            if initial:
                entries, list_rv = api.list_entries(rt, ns)
                sub = api.store.subscribe(rt.key, ns, None, deliver)
            else:
                entries, list_rv = [], since
                sub = api.store.subscribe(rt.key, ns, since, deliver)
        except TooOld as old:
            entries, list_rv, sub = [], 0, None
            too_old = old
        else:
            too_old = None
    try:
        await resp.prepare(request)
        if too_old is not None:
            err = Gone(f"too old resource version: {too_old.requested} ({too_old.oldest})")
            await resp.write(_dumps({"type": "ERROR", "object": err.status()}) + b"\n")
            await resp.write_eof()
            return resp
        if entries:
            await server.durable(list_rv)
        for e in entries:
            if match(e):
                await resp.write(encode("ADDED", api._entry_obj(rt, e)))
        if send_initial:
            await resp.write(bookmark(list_rv, initial_end=True))
        deadline = loop.time() + timeout
        last_rv = list_rv
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            wait = min(remaining, server.bookmark_interval) if bookmarks else remaining
            try:
                ev = await asyncio.wait_for(queue.get(), wait)
            except asyncio.TimeoutError:
                if bookmarks and deadline - loop.time() > 0:
                    await resp.write(bookmark(max(last_rv, api.store.resource_version)))
                continue
            if ev is None:
                break
            if ev.rv > api.store.durable_rv:
                await server.durable(ev.rv)  # only committed changes leave the server
            last_rv = ev.rv
            now_match = ev.type != "DELETED" and match(ev.entry)
            was_match = match(ev.prev) if ev.prev is not None else False
            if ev.type == "DELETED":
                if match(ev.prev or ev.entry):
                    await resp.write(encode("DELETED", api._entry_obj(rt, ev.entry)))
            elif ev.type == "ADDED":
                if now_match:
                    await resp.write(encode("ADDED", api._entry_obj(rt, ev.entry)))
            else:
                if now_match and was_match:
                    await resp.write(encode("MODIFIED", api._entry_obj(rt, ev.entry)))
                elif now_match:
                    await resp.write(encode("ADDED", api._entry_obj(rt, ev.entry)))
                elif was_match:
                    await resp.write(encode("DELETED", api._entry_obj(rt, ev.entry)))
        await resp.write_eof()
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        if sub is not None:
            sub.close()
    return resp
