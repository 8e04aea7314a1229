"""The kubesim control endpoint: fault injection that is not part of the Kubernetes API.

Same listener, same bearer token, under ``/kubesim/v1``::

    GET  /kubesim/v1/faults                         current faults
    PUT  /kubesim/v1/nodes/{node}/kubelet           {"running": false}   power a node's kubelet off/on
    PUT  /kubesim/v1/nodes/{node}/network           {"partitioned": true} cut a node off the API server
    PUT  /kubesim/v1/images/unavailable             {"images": ["repo/bad:*"]}  pulls fail
    GET  /kubesim/v1/timing                         the timing profile (also ConfigMap kube-system/kubesim-timing)

Answers are JSON; errors are Kubernetes ``Status`` objects like the rest of the API.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..errors import BadRequest, MethodNotAllowed, NotFound, PathNotFound

if TYPE_CHECKING:
    from ..faults import Faults
    from ..timings import Timings
    from .app import ApiServer

PREFIX = "/kubesim/v1"


def _flag(body: Any, key: str) -> bool:
    if not isinstance(body, dict) or not isinstance(body.get(key), bool):
        raise BadRequest(f'the body must be a JSON object like {{"{key}": true}}')
    return body[key]


def make_handler(faults: "Faults", timings: "Timings"):
    async def handle(request: web.Request, server: "ApiServer") -> web.Response:
        parts = request.path[len(PREFIX):].strip("/").split("/")
        method = request.method

        async def body() -> Any:
            data = await server._body(request)
            try:
                return json.loads(data or b"null")
            except ValueError:
                raise BadRequest("the body must be JSON")

        if parts == ["faults"]:
            if method != "GET":
                raise MethodNotAllowed(method, "faults")
            return server._json(faults.snapshot())
        if parts == ["timing"]:
            return server._json(timings.describe())
        if parts == ["images", "unavailable"]:
            if method == "GET":
                return server._json({"images": faults.snapshot()["unavailableImages"]})
            if method != "PUT":
                raise MethodNotAllowed(method, "images")
            b = await body()
            images = b.get("images") if isinstance(b, dict) else None
            if not isinstance(images, list) or not all(isinstance(i, str) and i for i in images):
                raise BadRequest('the body must be {"images": ["<image or pattern>", ...]}')
            faults.set_unavailable_images(images)
            return server._json(faults.snapshot())
        if len(parts) == 3 and parts[0] == "nodes" and parts[2] in ("kubelet", "network"):
            node = parts[1]
            if server.api.store.get("nodes", "", node) is None:
                raise NotFound("nodes", "", node)
            if method != "PUT":
                raise MethodNotAllowed(method, parts[2])
            b = await body()
            if parts[2] == "kubelet":
                faults.set_kubelet(node, _flag(b, "running"))
            else:
                faults.set_partitioned(node, _flag(b, "partitioned"))
            return server._json(faults.snapshot())
        raise PathNotFound(request.path)

    return handle
