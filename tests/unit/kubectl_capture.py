"""A throwaway HTTP API server that records the request bodies real kubectl sends.

Used by ``test_protobuf.py``: kubectl's typed commands (``create configmap``,
``create deployment``, ``run`` …) encode the object as Kubernetes protobuf; this
server answers just enough discovery for kubectl to build its REST mapping,
records every write (method, path, Content-Type, body), and replies with the
object it was sent (decoded by the callback given, so kubectl can print
``configmap/x created``). Objects written are kept, and ``seed()`` adds more, so
commands that read first (``expose``, ``create job --from``) find them.

Plain HTTP: the kubeconfig points at ``http://127.0.0.1:<port>`` with no
credentials, which kubectl accepts; nothing leaves the loopback interface.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

KUBECTL = Path(sys.executable).parent / "kubectl"

_ALL = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

# group/version -> [(plural, kind, namespaced, verbs, (group, version) of a subresource's kind)]
RESOURCES: dict[str, list[tuple[str, str, bool, list[str], tuple[str, str] | None]]] = {
    "v1": [
        ("configmaps", "ConfigMap", True, _ALL, None),
        ("secrets", "Secret", True, _ALL, None),
        ("namespaces", "Namespace", False, _ALL, None),
        ("serviceaccounts", "ServiceAccount", True, _ALL, None),
        ("serviceaccounts/token", "TokenRequest", True, ["create"], ("authentication.k8s.io", "v1")),
        ("services", "Service", True, _ALL, None),
        ("pods", "Pod", True, _ALL, None),
        ("pods/eviction", "Eviction", True, ["create"], ("policy", "v1")),
        ("resourcequotas", "ResourceQuota", True, _ALL, None),
    ],
    "apps/v1": [
        ("deployments", "Deployment", True, _ALL, None),
        ("statefulsets", "StatefulSet", True, _ALL, None),
    ],
    "batch/v1": [
        ("jobs", "Job", True, _ALL, None),
        ("cronjobs", "CronJob", True, _ALL, None),
    ],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True, _ALL, None)],
    "rbac.authorization.k8s.io/v1": [
        ("roles", "Role", True, _ALL, None),
        ("rolebindings", "RoleBinding", True, _ALL, None),
        ("clusterroles", "ClusterRole", False, _ALL, None),
        ("clusterrolebindings", "ClusterRoleBinding", False, _ALL, None),
    ],
}


@dataclass
class Captured:
    method: str
    path: str
    query: str
    content_type: str
    body: bytes


def _resource_list(gv: str) -> dict[str, Any]:
    out = []
    for plural, kind, namespaced, verbs, sub_gv in RESOURCES[gv]:
        r: dict[str, Any] = {"name": plural, "singularName": "" if "/" in plural else kind.lower(),
                             "namespaced": namespaced, "kind": kind, "verbs": verbs}
        if sub_gv:
            r["group"], r["version"] = sub_gv
        out.append(r)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}


def _group_list() -> dict[str, Any]:
    groups = []
    for gv in RESOURCES:
        if "/" not in gv:
            continue
        g, v = gv.split("/")
        ver = {"groupVersion": gv, "version": v}
        groups.append({"name": g, "versions": [ver], "preferredVersion": ver})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


class CaptureServer:
    """Start with ``with CaptureServer(decode) as srv:``; ``srv.kubectl(...)`` runs kubectl against it."""

    def __init__(self, decode: Callable[[str, bytes], dict[str, Any]], workdir: Path) -> None:
        self.decode = decode
        self.workdir = workdir
        self.captured: list[Captured] = []
        self.objects: dict[str, dict[str, Any]] = {}
        self.errors: list[str] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, code: int, obj: Any) -> None:
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _not_found(self) -> None:
                self._send(404, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                 "message": "the server could not find the requested resource",
                                 "reason": "NotFound", "code": 404})

            def do_GET(self) -> None:
                path = urlsplit(self.path).path.rstrip("/")
                if path == "/api":
                    return self._send(200, {"kind": "APIVersions", "versions": ["v1"],
                                            "serverAddressByClientCIDRs": []})
                if path == "/apis":
                    return self._send(200, _group_list())
                if path == "/api/v1":
                    return self._send(200, _resource_list("v1"))
                if path.startswith("/apis/") and path.count("/") == 3 and path[6:] in RESOURCES:
                    return self._send(200, _resource_list(path[6:]))
                if path == "/version":
                    return self._send(200, {"major": "1", "minor": "37", "gitVersion": "v1.37.0",
                                            "platform": "linux/amd64"})
                with server._lock:
                    obj = server.objects.get(path)
                if obj is None:
                    return self._not_found()
                return self._send(200, obj)

            def _write(self) -> None:
                u = urlsplit(self.path)
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                with server._lock:
                    server.captured.append(Captured(self.command, u.path, u.query, ctype, body))
                try:
                    obj = server.decode(ctype, body)
                except Exception as exc:  # reported to the test, and to kubectl as a 400
                    server.errors.append(f"{self.command} {u.path}: {exc!r}")
                    return self._send(400, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                            "status": "Failure", "message": str(exc), "reason": "BadRequest",
                                            "code": 400})
                reply = json.loads(json.dumps(obj))
                if reply.get("kind") == "TokenRequest":
                    reply["status"] = {"token": "captured-token", "expirationTimestamp": "2030-01-01T00:00:00Z"}
                name = (reply.get("metadata") or {}).get("name")
                if name and not u.path.endswith(("/token", "/eviction")):
                    with server._lock:
                        server.objects[f"{u.path}/{name}" if self.command == "POST" else u.path] = reply
                self._send(201 if self.command == "POST" else 200, reply)

            do_POST = _write
            do_PUT = _write

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self.kubeconfig = workdir / "kubeconfig"
        self.kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "capture",
            "clusters": [{"name": "capture", "cluster": {"server": self.url}}],
            "users": [{"name": "capture", "user": {}}],
            "contexts": [{"name": "capture", "context": {"cluster": "capture", "user": "capture",
                                                          "namespace": "default"}}],
        }))
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> "CaptureServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def seed(self, path: str, obj: dict[str, Any]) -> None:
        """Make ``GET path`` return ``obj``."""
        with self._lock:
            self.objects[path] = obj

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["HOME"] = str(self.workdir)
        proc = subprocess.run(
            [str(KUBECTL), "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.workdir / "cache"),
             "--request-timeout", "20s", *args],
            capture_output=True, text=True, env=env, timeout=60,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    def take(self) -> list[Captured]:
        """The writes recorded since the last call."""
        with self._lock:
            out, self.captured = self.captured, []
        return out
