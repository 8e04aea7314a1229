"""HTTP for ``POST pods/<name>/binding`` and the legacy ``POST namespaces/<ns>/bindings``.

Both are kube-apiserver's ``BindingREST`` (``pkg/registry/core/pod/storage/storage.go``;
the collection form is ``LegacyBindingREST``, which takes the pod name from the
Binding): the body is a ``v1 Binding``; its ``metadata.name`` must equal the
URL's pod name (400 ``name in URL does not match name in Binding object``); the
semantics are :func:`kubesim.scheduler.binding.bind_pod`; success answers
``201`` with a ``Status`` of ``Success`` (the create handler fills in the code).
The scheduler calls ``bind_pod`` directly, with the same semantics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..errors import BadRequest, MethodNotAllowed
from ..resources import ResourceType
from ..scheduler.binding import bind_pod, validate_binding

if TYPE_CHECKING:
    from .app import ApiServer
    from .routing import Target

__all__ = ["bind_pod", "register", "BINDINGS"]

# The legacy top-level resource: discovery lists it (namespaced, verbs [create]) so that
# `kubectl create -f binding.yaml` maps kind Binding to it, as on a real cluster.
BINDINGS = ResourceType("", "v1", "Binding", "bindings", True, verbs=("create",))

_SUCCESS = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


def _check_body(body: Any, namespace: str | None) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("the body of a Binding request must be a JSON object")
    kind = body.get("kind")
    api_version = body.get("apiVersion")
    if kind and kind != "Binding":
        raise BadRequest(f'{kind} in version "v1" cannot be handled as a Binding: no kind "{kind}" is registered '
                         f'for version "v1" in scheme "pkg/api/legacyscheme/scheme.go:30"')
    if api_version and api_version != "v1":
        raise BadRequest(f"the API version in the data ({api_version}) does not match the expected API version (v1)")
    meta = body.get("metadata") or {}
    if namespace and meta.get("namespace") and meta["namespace"] != namespace:
        raise BadRequest("the namespace of the provided object does not match the namespace sent on the request")
    return body


async def _create(request: web.Request, server: "ApiServer", namespace: str, url_name: str | None
                  ) -> web.StreamResponse:
    if request.method != "POST":
        raise MethodNotAllowed(request.method, "binding")
    req = server._request_options(request)
    body = _check_body(server._decode_body(request, await server._body(request), ("v1", "Binding")), namespace)
    meta = body.get("metadata") or {}
    name = meta.get("name") or ""
    if url_name is not None and name != url_name:
        raise BadRequest("name in URL does not match name in Binding object")
    validate_binding(body)
    bind_pod(server.api, namespace, url_name if url_name is not None else name, body["target"]["name"],
             annotations=meta.get("annotations") or None, uid=meta.get("uid") or None,
             resource_version=meta.get("resourceVersion") or None, dry_run=req.dry_run)
    return server._json(_SUCCESS, 201)


async def pod_binding(request: web.Request, t: "Target", server: "ApiServer") -> web.StreamResponse:
    """``POST /api/v1/namespaces/<ns>/pods/<name>/binding``."""
    return await _create(request, server, t.namespace or "default", t.name or "")


async def legacy_bindings(request: web.Request, t: "Target", server: "ApiServer") -> web.StreamResponse:
    """``POST /api/v1/namespaces/<ns>/bindings`` (the pod is the Binding's ``metadata.name``)."""
    if t.namespace is None or t.name is not None:
        raise MethodNotAllowed(request.method, "bindings")
    return await _create(request, server, t.namespace, None)


def register(cluster: Any) -> None:
    server = cluster.server
    server.subresource_handlers["pods/binding"] = pod_binding
    registry = cluster.registry
    if registry.get("", "v1", "bindings") is None:
        registry.add(BINDINGS)
    server.collection_handlers["bindings"] = legacy_bindings
