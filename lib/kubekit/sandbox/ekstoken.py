"""Check EKS bearer tokens the way aws-iam-authenticator does, against the sandbox's STS.

An EKS token is ``k8s-aws-v1.`` + base64url(a presigned STS GetCallerIdentity
URL whose signed headers include ``x-k8s-aws-id: <cluster name>``). The
authenticator replays the URL to STS and maps the caller ARN to a user. Here the
URL must point at the sandbox's own STS endpoint (never anywhere else: only
loopback traffic), the cluster id must be this cluster, and the URL must be
fresh: signed at most 15 minutes ago with ``X-Amz-Expires`` at most 15 minutes
(aws-iam-authenticator's token lifetime; the CLI signs with X-Amz-Expires=60
and the 15 minutes still apply).
Successful checks are cached until the token would expire.
"""

from __future__ import annotations

import base64
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlparse

PREFIX = "k8s-aws-v1."
# Requests to the sandbox go to 127.0.0.1 directly, never through a proxy from the environment.
_LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))
MAX_EXPIRES = 900
LIFETIME = 900


class EksTokenVerifier:
    def __init__(self, sts_endpoint: str, cluster_name: str) -> None:
        self.endpoint = urlparse(sts_endpoint)
        self.cluster = cluster_name
        self._cache: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, token: str) -> bool:
        if not token.startswith(PREFIX):
            return False
        now = time.time()
        with self._lock:
            exp = self._cache.get(token)
            if exp is not None and exp > now:
                return True
        expires_at = self._verify(token)
        if expires_at is None:
            return False
        with self._lock:
            if len(self._cache) > 1024:
                self._cache = {k: v for k, v in self._cache.items() if v > now}
            self._cache[token] = expires_at
        return True

    def _verify(self, token: str) -> float | None:
        raw = token[len(PREFIX):]
        try:
            url = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        parsed = urlparse(url)
        if (parsed.scheme, parsed.hostname, parsed.port) != (self.endpoint.scheme, self.endpoint.hostname,
                                                             self.endpoint.port):
            return None  # only ever ask the sandbox's own STS
        q = {k.lower(): v[0] for k, v in parse_qs(parsed.query).items()}
        if q.get("action") != "GetCallerIdentity":
            return None
        if "x-k8s-aws-id" not in q.get("x-amz-signedheaders", "").split(";"):
            return None
        try:
            expires = int(q.get("x-amz-expires", "0"))
            signed_at = datetime.strptime(q["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
        except (KeyError, ValueError):
            return None
        if not 0 < expires <= MAX_EXPIRES or time.time() > signed_at + LIFETIME:
            return None
        # moto's server picks the service from a SigV4 Authorization header's credential scope, which a
        # presigned URL carries in its query instead: present the same credential and signature there.
        auth = (f"AWS4-HMAC-SHA256 Credential={q.get('x-amz-credential', '')}, "
                f"SignedHeaders={q.get('x-amz-signedheaders', '')}, Signature={q.get('x-amz-signature', '')}")
        req = urllib.request.Request(url, headers={"x-k8s-aws-id": self.cluster, "Authorization": auth})
        try:
            with _LOOPBACK.open(req, timeout=5) as resp:
                body = resp.read()
                if resp.status != 200 or b"GetCallerIdentity" not in body:
                    return None
        except (urllib.error.URLError, OSError):
            return None
        return signed_at + LIFETIME
