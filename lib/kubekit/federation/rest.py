"""Any kind, any cluster: a few REST verbs over the official client's ApiClient.

The federation carries arbitrary namespaced objects, so it resolves kinds to
resources through discovery (``/api/v1``, ``/apis/<group>/<version>``, cached per
cluster) and speaks plain REST: GET, LIST with a label selector, server-side
apply (``application/apply-patch+yaml`` with ``fieldManager`` and ``force``),
merge patch, DELETE. Errors become :class:`kubekit.errors.KubeError` (the API
answered) or :class:`kubekit.errors.MemberUnreachable` (it did not).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubekit.errors import KubeError, KubeNotFound, MemberUnreachable

from .model import FIELD_MANAGER

DEFAULT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Resource:
    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(self, namespace: str | None = None, name: str | None = None, sub: str | None = None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace)}"
        base += f"/{self.plural}"
        if name:
            base += f"/{quote(name)}"
        if sub:
            base += f"/{sub}"
        return base


NotFound = KubeNotFound  # 404 from the API (a KubeError)


class Rest:
    """REST verbs for one cluster; ``name`` is used in messages."""

    def __init__(self, api: client.ApiClient, name: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.api = api
        self.name = name
        self.timeout = timeout
        self._resources: dict[tuple[str, str], Resource] = {}
        self._groups: dict[str, list[dict[str, Any]] | None] = {}
        self._lock = threading.Lock()

    # -- raw -----------------------------------------------------------------------------------
    def request(self, method: str, path: str, *, query: list[tuple[str, Any]] | None = None, body: Any = None,
                content_type: str | None = None, timeout: float | None = None, action: str = "") -> Any:
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        elif body is not None:
            headers["Content-Type"] = "application/json"
        what = action or f"{method} {path} on {self.name}"
        try:
            m, url, h, b, p = self.api.param_serialize(method, path, query_params=query or [], header_params=headers,
                                                       body=body, auth_settings=["BearerToken"])
            resp = self.api.call_api(m, url, header_params=h, body=b, post_params=p,
                                     _request_timeout=timeout if timeout is not None else self.timeout)
            resp.read()
        except ApiException as exc:
            raise KubeError(what, exc) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise MemberUnreachable(self.name, f"{type(exc).__name__}: {exc}"[:300]) from exc
        data = resp.data or b""
        if not 200 <= resp.status <= 299:
            exc = ApiException(status=resp.status, reason=resp.reason)
            exc.body = data.decode(errors="replace")
            cls = NotFound if resp.status == 404 else KubeError
            raise cls(what, exc)
        if not data:
            return None
        if data[:1] in (b"{", b"["):
            return json.loads(data)
        return data.decode(errors="replace")

    # -- discovery ------------------------------------------------------------------------------
    def resource(self, api_version: str, kind: str) -> Resource:
        key = (api_version, kind)
        with self._lock:
            if key in self._resources:
                return self._resources[key]
        path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        try:
            doc = self.request("GET", path, action=f"discover {api_version} on {self.name}")
        except NotFound as exc:
            raise NotFound(f"find {kind} ({api_version}) on {self.name}",
                           ApiException(status=404, reason=f"the API {api_version} is not served")) from exc
        found = None
        for r in (doc or {}).get("resources") or []:
            if "/" in r.get("name", ""):
                continue
            res = Resource(api_version, r["kind"], r["name"], bool(r.get("namespaced")))
            with self._lock:
                self._resources[(api_version, r["kind"])] = res
            if r["kind"] == kind:
                found = res
        if found is None:
            raise NotFound(f"find {kind} ({api_version}) on {self.name}",
                           ApiException(status=404, reason=f"{api_version} has no kind {kind}"))
        return found

    def forget(self, api_version: str) -> None:
        with self._lock:
            for k in [k for k in self._resources if k[0] == api_version]:
                del self._resources[k]

    # -- verbs ----------------------------------------------------------------------------------
    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        res = self.resource(api_version, kind)
        try:
            return self.request("GET", res.path(namespace, name))  # type: ignore[no-any-return]
        except NotFound:
            return None

    def list(self, api_version: str, kind: str, namespace: str | None = None,
             selector: str | None = None) -> list[dict[str, Any]]:
        res = self.resource(api_version, kind)
        query = [("labelSelector", selector)] if selector else []
        doc = self.request("GET", res.path(namespace), query=query)
        return list((doc or {}).get("items") or [])

    def apply(self, obj: dict[str, Any], *, manager: str = FIELD_MANAGER, force: bool = True,
              subresource: str | None = None) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        res = self.resource(obj["apiVersion"], obj["kind"])
        query: list[tuple[str, Any]] = [("fieldManager", manager)]
        if force:
            query.append(("force", "true"))
        return self.request("PATCH", res.path(meta.get("namespace"), meta["name"], subresource), query=query,
                            body=obj, content_type="application/apply-patch+yaml",
                            action=f"apply {obj['kind']} {meta.get('namespace', '')}/{meta['name']} on {self.name}")

    def merge_patch(self, api_version: str, kind: str, namespace: str | None, name: str, patch: dict[str, Any],
                    subresource: str | None = None) -> dict[str, Any]:
        res = self.resource(api_version, kind)
        return self.request("PATCH", res.path(namespace, name, subresource), body=patch,
                            content_type="application/merge-patch+json",
                            query=[("fieldManager", FIELD_MANAGER)])

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        res = self.resource(obj["apiVersion"], obj["kind"])
        return self.request("POST", res.path(meta.get("namespace")), body=obj,
                            query=[("fieldManager", FIELD_MANAGER)])

    def delete(self, api_version: str, kind: str, namespace: str | None, name: str,
               propagation: str = "Background") -> bool:
        """True if it was there."""
        res = self.resource(api_version, kind)
        try:
            self.request("DELETE", res.path(namespace, name),
                         body={"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation})
            return True
        except NotFound:
            return False
