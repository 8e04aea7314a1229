"""ServiceAccount tokens (``serviceaccounts/<name>/token``, TokenRequest) that the server accepts.

Like kube-apiserver's bound tokens these are JWTs naming the account, audience
and expiry; kubesim signs them with HMAC-SHA256 under a per-cluster key (the
key never leaves the state directory) and accepts them as bearer tokens while
they are unexpired and the ServiceAccount with that uid still exists.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any, Callable

from . import clock
from .errors import BadRequest, Invalid, invalid

DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600  # upstream: "may not specify a duration less than 10 minutes"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    def __init__(self, key: bytes, issuer: str = "https://kubernetes.default.svc.cluster.local") -> None:
        self.key = key
        self.issuer = issuer

    def mint(self, namespace: str, sa_name: str, sa_uid: str, audiences: list[str], seconds: int,
             bound: dict[str, Any] | None = None) -> tuple[str, int]:
        now = int(time.time())
        exp = now + seconds
        claims: dict[str, Any] = {
            "aud": audiences or [self.issuer], "exp": exp, "iat": now, "nbf": now, "iss": self.issuer,
            "sub": f"system:serviceaccount:{namespace}:{sa_name}",
            "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": sa_name, "uid": sa_uid}},
        }
        if bound:
            claims["kubernetes.io"][bound.get("kind", "").lower() or "object"] = {
                "name": bound.get("name", ""), "uid": bound.get("uid", "")}
        header = _b64(json.dumps({"alg": "HS256", "kid": "kubesim", "typ": "JWT"}).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        sig = _b64(hmac.new(self.key, f"{header}.{body}".encode(), hashlib.sha256).digest())
        return f"{header}.{body}.{sig}", exp

    def verify(self, token: str, account_uid: Callable[[str, str], str | None]) -> bool:
        """True for an unexpired token of a ServiceAccount that still exists with the same uid."""
        parts = token.split(".")
        if len(parts) != 3:
            return False
        expected = _b64(hmac.new(self.key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected, parts[2]):
            return False
        try:
            claims = json.loads(_unb64(parts[1]))
        except ValueError:
            return False
        if int(claims.get("exp", 0)) < time.time():
            return False
        k8s = claims.get("kubernetes.io") or {}
        sa = k8s.get("serviceaccount") or {}
        return account_uid(k8s.get("namespace", ""), sa.get("name", "")) == sa.get("uid")


def token_request(issuer: TokenIssuer, sa: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Answer a TokenRequest for ServiceAccount ``sa`` (a dict from the store)."""
    if not isinstance(body, dict):
        raise BadRequest("the body of a token request must be an authentication.k8s.io/v1 TokenRequest")
    spec = body.get("spec") or {}
    name = sa["metadata"]["name"]
    seconds = spec.get("expirationSeconds", DEFAULT_EXPIRATION)
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise BadRequest("TokenRequest in version \"v1\" cannot be handled as a TokenRequest: json: cannot "
                         "unmarshal into Go struct field TokenRequestSpec.spec.expirationSeconds of type int64")
    if seconds < MIN_EXPIRATION:
        raise Invalid("TokenRequest", "authentication.k8s.io", name, [invalid(
            "spec.expirationSeconds", seconds, "may not specify a duration less than 10 minutes")])
    if seconds > 2 ** 32:
        raise Invalid("TokenRequest", "authentication.k8s.io", name, [invalid(
            "spec.expirationSeconds", seconds, "may not specify a duration larger than 2^32 seconds")])
    audiences = [a for a in spec.get("audiences") or [] if isinstance(a, str)]
    token, exp = issuer.mint(sa["metadata"].get("namespace", ""), name, sa["metadata"].get("uid", ""), audiences,
                             seconds, spec.get("boundObjectRef"))
    return {
        "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": sa["metadata"].get("namespace", ""),
                     "creationTimestamp": None},
        "spec": {"audiences": audiences or [issuer.issuer], "expirationSeconds": seconds,
                 "boundObjectRef": spec.get("boundObjectRef")},
        "status": {"token": token, "expirationTimestamp": clock.rfc3339(
            clock.now().fromtimestamp(exp, clock.now().tzinfo))},
    }
