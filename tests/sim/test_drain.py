"""End to end: headless Service endpoints, PDB status and `kubectl drain` under a PDB, with real kubectl.

A 3-pet StatefulSet behind a headless Service and a PDB (maxUnavailable 1) on two
schedulable nodes; the node holding two pets is drained: drain evicts both at once,
the API answers 429 for the second until the first pet's replacement is Ready on the
other node, kubectl retries every 5 s (its own interval, not scaled), and the drain
completes. Then uncordon.

The scheduler, kubelet and StatefulSet controller are kubesim's own.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from kubesim.api import Request
from kubesim.testing import Kubectl, running_cluster, eventually

pytestmark = pytest.mark.timeout(240)


def wait_for(what: str, fn: Any, timeout: float = 30.0, interval: float = 0.1) -> Any:
    return eventually(what, fn, timeout=timeout, interval=interval)


MANIFESTS = """
apiVersion: v1
kind: Service
metadata: {name: web, labels: {app: web}}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app: web}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 3
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions:
              - {key: kubernetes.io/hostname, operator: In, values: [%(n1)s, %(n2)s]}
      containers:
      - name: web
        image: nginx
        ports: [{name: http, containerPort: 8080}]
        volumeMounts: [{name: scratch, mountPath: /scratch}]
      volumes: [{name: scratch, emptyDir: {}}]
"""


def pods_by_node(k: Kubectl) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in k.json("get", "pods", "-l", "app=web")["items"]:
        if p["metadata"].get("deletionTimestamp"):
            continue
        out.setdefault(p["spec"].get("nodeName") or "", []).append(p["metadata"]["name"])
    return out


def all_ready(k: Kubectl, n: int = 3) -> bool:
    items = [p for p in k.json("get", "pods", "-l", "app=web")["items"] if not p["metadata"].get("deletionTimestamp")]
    ready = [p for p in items if any(c["type"] == "Ready" and c["status"] == "True"
                                     for c in (p.get("status") or {}).get("conditions") or [])]
    return len(ready) == n and len(items) == n


def test_headless_endpoints_pdb_and_drain(tmp_path):
    with running_cluster(str(tmp_path), profile="instant", zones=["us-east-1a", "us-east-1b", "us-east-1c"],
                         nodes_per_zone=1) as c:
        k = Kubectl(c.kubeconfig_path, str(tmp_path / "cache"))  # type: ignore[attr-defined]
        nodes = sorted(e.name for e in c.store.list("nodes")[0])
        n1, n2 = nodes[0], nodes[1]
        k("apply", "-f", "-", input=MANIFESTS % {"n1": n1, "n2": n2})
        wait_for("3 Ready pets", lambda: all_ready(k), 60)

        # Endpoints: hostnames give each pet its DNS name.
        def endpoints_ready() -> Any:
            ep = k.json("get", "endpoints", "web")
            addrs = [a for s in ep.get("subsets") or [] for a in s.get("addresses") or []]
            return ep if len(addrs) == 3 else None

        ep = wait_for("3 ready addresses", endpoints_ready)
        assert ep["metadata"]["labels"] == {"app": "web", "service.kubernetes.io/headless": ""}
        subset = ep["subsets"][0]
        assert sorted(a["hostname"] for a in subset["addresses"]) == ["web-0", "web-1", "web-2"]
        assert all(a["targetRef"]["kind"] == "Pod" and a["nodeName"] in (n1, n2) for a in subset["addresses"])
        assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
        out = k("get", "endpoints", "web")
        assert out.splitlines()[0].split() == ["NAME", "ENDPOINTS", "AGE"]
        assert ":8080" in out.splitlines()[1]

        # the pods' resolver reads these Endpoints: each pet has a DNS name
        ip1 = next(a["ip"] for a in subset["addresses"] if a["hostname"] == "web-1")
        out = k("exec", "web-0", "--", "getent", "hosts", "web-1.web.default.svc.cluster.local")
        assert out.split()[0] == ip1, out

        slices = k.json("get", "endpointslices", "-l", "kubernetes.io/service-name=web")["items"]
        assert len(slices) == 1
        es = slices[0]
        assert es["metadata"]["name"].startswith("web-") and len(es["metadata"]["name"]) == len("web-") + 5
        assert es["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == \
            "endpointslice-controller.k8s.io"
        assert es["metadata"]["ownerReferences"][0]["kind"] == "Service"
        assert sorted(e["hostname"] for e in es["endpoints"]) == ["web-0", "web-1", "web-2"]
        assert all(e["conditions"] == {"ready": True, "serving": True, "terminating": False}
                   for e in es["endpoints"])
        assert {e["zone"] for e in es["endpoints"]} <= {"us-east-1a", "us-east-1b"}
        out = k("get", "endpointslices", "-l", "kubernetes.io/service-name=web")
        assert out.splitlines()[0].split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
        assert out.splitlines()[1].split()[1:3] == ["IPv4", "8080"]

        # PDB: maxUnavailable 1 of the StatefulSet's 3 -> 1 disruption allowed.
        def pdb_allows(n: int) -> Any:
            p = k.json("get", "pdb", "web")
            return p if p.get("status", {}).get("disruptionsAllowed") == n else None

        pdb = wait_for("PDB allowing 1", lambda: pdb_allows(1))
        st = pdb["status"]
        assert (st["currentHealthy"], st["desiredHealthy"], st["expectedPods"]) == (3, 2, 3)
        assert st["observedGeneration"] == 1
        cond = st["conditions"][0]
        assert (cond["type"], cond["status"], cond["reason"]) == ("DisruptionAllowed", "True", "SufficientPods")
        out = k("get", "pdb", "web")
        assert out.splitlines()[0].split() == ["NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED",
                                               "DISRUPTIONS", "AGE"]
        assert out.splitlines()[1].split()[:4] == ["web", "N/A", "1", "1"]

        # Drain the node with two pets: one at a time, 429 for the second until the first is replaced.
        placement = pods_by_node(k)
        busy = n1 if len(placement.get(n1, [])) == 2 else n2
        other = n2 if busy == n1 else n1
        evicted = sorted(placement[busy])
        assert len(evicted) == 2, placement
        # Without --delete-emptydir-data kubectl refuses (the pets mount an emptyDir); the node stays cordoned.
        refused = k.run("drain", busy, "--ignore-daemonsets", "--timeout=10s", check=False)
        assert refused.returncode != 0
        assert "cannot delete Pods with local storage" in refused.stderr, refused.stderr
        assert "--delete-emptydir-data" in refused.stderr
        assert k.json("get", "node", busy)["spec"]["unschedulable"] is True
        t0 = time.monotonic()
        proc = k.run("drain", busy, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=90s",
                     timeout=120, check=False)
        took = time.monotonic() - t0
        text = proc.stdout + proc.stderr
        print(f"kubectl drain ({took:.1f} s):\n{text}")
        assert proc.returncode == 0, text
        assert f"node/{busy} already cordoned" in text
        for name in evicted:
            assert f"evicting pod default/{name}" in text
            assert f"pod/{name} evicted" in text
        assert ("(will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget."
                in text), text
        assert any(f'error when evicting pods/"{name}" -n "default" (will retry after 5s)' in text
                   for name in evicted), text
        assert f"node/{busy} drained" in text
        assert took >= 5, took  # at least one 5 s retry
        assert pods_by_node(k).get(busy) is None
        wait_for("3 Ready pets again", lambda: all_ready(k), 60)
        assert sorted(pods_by_node(k)[other]) == ["web-0", "web-1", "web-2"]
        node = k.json("get", "node", busy)
        assert node["spec"]["unschedulable"] is True

        # The evictions spent the budget through the API: events and the DisruptionTarget condition.
        wait_for("PDB back to 1", lambda: pdb_allows(1))
        k("uncordon", busy)
        assert not k.json("get", "node", busy)["spec"].get("unschedulable")


def test_eviction_api_answers(tmp_path):
    """The wire answers of pods/eviction through the official client: 201, 429 with causes, 404, 500."""
    from kubernetes import client as kc
    from kubernetes import config

    with running_cluster(str(tmp_path), profile="instant", zones=["us-east-1a"], nodes_per_zone=1) as c:
        api = c.api
        node = c.store.list("nodes")[0][0].name
        k = Kubectl(c.kubeconfig_path, str(tmp_path / "cache"))  # type: ignore[attr-defined]
        k("apply", "-f", "-", input="""
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: solo}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: solo}}
""")
        # A bare pod (no controller) that is Running and Ready: minAvailable 1 of 1 -> 0 allowed.
        api.create(api.rt("pods"), "default", {"apiVersion": "v1", "kind": "Pod",
                                               "metadata": {"name": "solo", "labels": {"app": "solo"}},
                                               "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0,
                                                        "containers": [{"name": "c", "image": "nginx"}]}},
                   Request(field_manager="test"))
        wait_for("PDB synced", lambda: (api.get(api.rt("policy/poddisruptionbudgets"), "default", "solo")
                                        .get("status", {}).get("currentHealthy") == 1))
        cli = config.new_client_from_config(config_file=c.kubeconfig_path)  # type: ignore[attr-defined]
        try:
            core = kc.CoreV1Api(cli)
            body = kc.V1Eviction(metadata=kc.V1ObjectMeta(name="solo", namespace="default"))
            with pytest.raises(kc.ApiException) as exc:
                core.create_namespaced_pod_eviction("solo", "default", body)
            assert exc.value.status == 429
            st = json.loads(exc.value.body)
            assert st["reason"] == "TooManyRequests"
            assert st["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
            assert st["details"]["causes"] == [{"reason": "DisruptionBudget",
                                                "message": "The disruption budget solo needs 1 healthy pods and has "
                                                           "1 currently"}]
            assert "Retry-After" not in exc.value.headers

            with pytest.raises(kc.ApiException) as exc:
                core.create_namespaced_pod_eviction("nope", "default",
                                                    kc.V1Eviction(metadata=kc.V1ObjectMeta(name="nope")))
            assert exc.value.status == 404
            assert json.loads(exc.value.body)["message"] == 'pods "nope" not found'

            # A second PDB over the same pod: 500, no reason.
            k("apply", "-f", "-", input="""
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: solo-2}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app: solo}}
""")
            with pytest.raises(kc.ApiException) as exc:
                core.create_namespaced_pod_eviction("solo", "default", body)
            assert exc.value.status == 500
            st = json.loads(exc.value.body)
            assert st["message"] == ("This pod has more than one PodDisruptionBudget, which the eviction subresource "
                                     "does not support.")
            assert "reason" not in st
            k("delete", "pdb", "solo-2")

            # kubectl drain's typed client may send the Eviction as protobuf: same answer.
            status, answer = post_protobuf_eviction(c, tmp_path, "default", "solo", grace=5)
            assert status == 429 and answer["message"] == ev_msg()

            # Relax the budget: the eviction goes through (201) and marks the pod.
            k("patch", "pdb", "solo", "--type=merge", "-p", '{"spec":{"minAvailable":0}}')
            wait_for("1 disruption allowed",
                     lambda: (api.get(api.rt("policy/poddisruptionbudgets"), "default", "solo")
                              .get("status", {}).get("disruptionsAllowed") == 1))
            got = core.create_namespaced_pod_eviction("solo", "default", body, _preload_content=False)
            assert got.status == 201
            assert json.loads(got.data) == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                            "status": "Success", "code": 201}
            with pytest.raises(kc.ApiException) as exc:
                core.read_namespaced_pod("solo", "default")  # grace 0: gone at once
            assert exc.value.status == 404
        finally:
            cli.close()


def ev_msg() -> str:
    return "Cannot evict pod as it would violate the pod's disruption budget."


def _pb_field(num: int, wire: int, payload: bytes | int) -> bytes:
    def varint(n: int) -> bytes:
        out = b""
        while True:
            b = n & 0x7F
            n >>= 7
            out += bytes([b | (0x80 if n else 0)])
            if not n:
                return out
    if wire == 0:
        return varint(num << 3) + varint(int(payload))
    assert isinstance(payload, bytes)
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def post_protobuf_eviction(c: Any, tmp_path: Any, ns: str, name: str, grace: int) -> tuple[int, Any]:
    """POST a policy/v1 Eviction encoded as Kubernetes protobuf (runtime.Unknown envelope)."""
    import urllib3

    meta = _pb_field(1, 2, name.encode()) + _pb_field(3, 2, ns.encode())
    eviction = _pb_field(1, 2, meta) + _pb_field(2, 2, _pb_field(1, 0, grace))
    type_meta = _pb_field(1, 2, b"policy/v1") + _pb_field(2, 2, b"Eviction")
    body = b"k8s\x00" + _pb_field(1, 2, type_meta) + _pb_field(2, 2, eviction)
    ca = tmp_path / "ca.pem"
    ca.write_bytes(c.creds.ca_pem)
    http = urllib3.PoolManager(ca_certs=str(ca))
    r = http.request("POST", f"{c.url}/api/v1/namespaces/{ns}/pods/{name}/eviction", body=body,
                     headers={"Authorization": f"Bearer {c.creds.token}",
                              "Content-Type": "application/vnd.kubernetes.protobuf",
                              "Accept": "application/json"})
    return r.status, json.loads(r.data)


def test_kubernetes_service_endpoints(tmp_path):
    """default/kubernetes points at this API server once the cluster registers its address."""
    from kubesim.controllers.endpoints import APISERVER_ITEM, EndpointsController, register_apiserver

    with running_cluster(str(tmp_path), profile="instant", zones=["us-east-1a"], nodes_per_zone=1) as c:
        k = Kubectl(c.kubeconfig_path, str(tmp_path / "cache"))  # type: ignore[attr-defined]
        if "apiserver_endpoint" not in c.ctx.extra:  # until cluster.py registers it itself
            register_apiserver(c.ctx, lambda: (c.server.host, c.server.port))
            for ctrl in c.controllers:
                if isinstance(ctrl, EndpointsController):
                    ctrl.enqueue(APISERVER_ITEM)
        port = c.server.port
        wait_for("kubernetes endpoints", lambda: c.store.get("endpoints", "default", "kubernetes"))
        out = k("get", "endpoints", "kubernetes")
        assert out.splitlines()[1].split()[:2] == ["kubernetes", f"127.0.0.1:{port}"]
        es = k.json("get", "endpointslice", "kubernetes")
        assert es["endpoints"] == [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]
        assert es["ports"] == [{"name": "https", "port": port, "protocol": "TCP"}]
