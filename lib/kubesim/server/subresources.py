"""HTTP handlers for subresources that are not plain object views.

Each handler is registered on :class:`ApiServer` under ``"<storage key>/<subresource>"``
(``ApiServer.subresource_handlers``); the cluster wires them in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..errors import MethodNotAllowed
from ..tokens import TokenIssuer, token_request

if TYPE_CHECKING:
    from .app import ApiServer
    from .routing import Target


def token_handler(issuer: TokenIssuer):
    """``POST serviceaccounts/<name>/token``: mint a bound token (kubectl create token)."""

    async def handle(request: web.Request, t: "Target", server: "ApiServer") -> web.StreamResponse:
        if request.method != "POST":
            raise MethodNotAllowed(request.method, "token")
        sa = server.api.get(t.rt, t.namespace, t.name or "")
        body = server._decode_body(request, await server._body(request),
                                   ("authentication.k8s.io/v1", "TokenRequest"))
        return server._json(token_request(issuer, sa, body), 201)

    return handle


def register(cluster: Any) -> None:
    cluster.server.subresource_handlers["serviceaccounts/token"] = token_handler(cluster.tokens)
