"""kubesim controller benchmarks (issue 3 targets), printed and written as JSON.

Targets on a 2-core machine:

- pets: 3 zones x 2 nodes, a 3-replica OrderedReady StatefulSet with volumes,
  profile ``instant``: all pets Ready in under 2 s wall;
- node-loss drill: stop the kubelet of a pet's node through the fault endpoint,
  wait for NotReady, the NoExecute taint, the eviction and the pod left
  Terminating: under 40 s wall with profile ``fast``, under 5 s with ``instant``
  (the floor is the profile's node grace + default toleration: 35 s / 3.5 s);
- scale: 100 nodes (4 zones x 25) and 1,000 pods (10 Parallel StatefulSets of
  100, each with its headless Service), profile ``instant``: all Ready in under
  30 s, LIST of all pods p50 under 100 ms while it runs, RSS under 400 MB.

Every cluster runs as its own process (``python -m kubesim serve --profile``),
the load and the observation come from this one over HTTPS on 127.0.0.1, as a
real client's would.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import psutil
import urllib3
import yaml

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(os.environ.get("KUBEKIT_BENCH_RESULTS") or ROOT / "bench" / "results")
NS = "bench"


class Server:
    """``kubesim serve`` in its own process."""

    def __init__(self, workdir: str, profile: str, zones: list[str], nodes_per_zone: int) -> None:
        self.workdir = workdir
        self.profile = profile
        self.zones = zones
        self.nodes_per_zone = nodes_per_zone
        self.kubeconfig = os.path.join(workdir, "kubeconfig")
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> float:
        os.makedirs(self.workdir, exist_ok=True)
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kubesim", "serve", "--port", "0", "--kubeconfig", self.kubeconfig,
             "--state", os.path.join(self.workdir, "state"), "--zones", ",".join(self.zones),
             "--nodes-per-zone", str(self.nodes_per_zone), "--profile", self.profile],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        elapsed = time.perf_counter() - t0
        if not line.startswith("ready "):
            raise RuntimeError(f"kubesim did not start: {line!r} {self.proc.stderr.read() if self.proc.stderr else ''}")
        self.url = line.split()[1]
        return elapsed

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def rss_mb(self) -> float:
        assert self.proc is not None
        return psutil.Process(self.proc.pid).memory_info().rss / 2**20

    def client(self, maxsize: int = 4) -> "Client":
        cfg = yaml.safe_load(open(self.kubeconfig))
        ca = base64.b64decode(cfg["clusters"][0]["cluster"]["certificate-authority-data"])
        token = cfg["users"][0]["user"]["token"]
        return Client(self.url, ca, token, maxsize)

    def __enter__(self) -> "Server":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class Client:
    def __init__(self, url: str, ca: bytes, token: str, maxsize: int) -> None:
        ctx = ssl.create_default_context(cadata=ca.decode())
        self.url = url
        self.http = urllib3.PoolManager(ssl_context=ctx, maxsize=maxsize)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                        "Accept": "application/json"}

    def req(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        return self.http.request(method, self.url + path, body=data, headers=self.headers, timeout=60)

    def get(self, path: str) -> Any:
        r = self.req("GET", path)
        if r.status == 404:
            return None
        assert r.status == 200, (path, r.status, r.data[:300])
        return json.loads(r.data)

    def create(self, path: str, body: Any) -> Any:
        r = self.req("POST", path, body)
        assert r.status == 201, (path, r.status, r.data[:300])
        return json.loads(r.data)


def _cpu(proc: "psutil.Process") -> float:
    t = proc.cpu_times()
    return t.user + t.system


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]


def wait_for(pred: Callable[[], Any], timeout: float, what: str, interval: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def condition(obj: dict[str, Any] | None, kind: str) -> str | None:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return c.get("status")
    return None


def namespace(c: Client, name: str = NS) -> None:
    c.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def headless(c: Client, name: str, ns: str = NS) -> None:
    c.create(f"/api/v1/namespaces/{ns}/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"clusterIP": "None", "selector": {"app": name}, "ports": [{"name": "http", "port": 80}]}})


def statefulset(name: str, replicas: int, *, parallel: bool, volumes: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "serviceName": name, "replicas": replicas,
        "podManagementPolicy": "Parallel" if parallel else "OrderedReady",
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": {
            "terminationGracePeriodSeconds": 30,
            "containers": [{"name": "app", "image": "registry.k8s.io/nginx-slim:0.27",
                            "ports": [{"name": "http", "containerPort": 80}],
                            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}},
    }
    if volumes:
        spec["template"]["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
        spec["volumeClaimTemplates"] = [{"metadata": {"name": "data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name}, "spec": spec}


def ready_pods(c: Client, ns: str = NS) -> int:
    items = c.get(f"/api/v1/namespaces/{ns}/pods")["items"]
    return sum(1 for p in items if condition(p, "Ready") == "True" and not p["metadata"].get("deletionTimestamp"))


def nodes_ready(c: Client) -> bool:
    nodes = c.get("/api/v1/nodes")["items"]
    return bool(nodes) and all(condition(n, "Ready") == "True" for n in nodes)


ZONES3 = ["us-east-1a", "us-east-1b", "us-east-1c"]


# -- (a) pets ----------------------------------------------------------------------------------------------
def bench_pets(workdir: str, runs: int = 3) -> dict[str, Any]:
    """From the StatefulSet's creation to three Ready pets (each with a bound, zonal volume)."""
    times: list[float] = []
    for i in range(runs):
        with Server(os.path.join(workdir, f"pets{i}"), "instant", ZONES3, 2) as s:
            c = s.client()
            wait_for(lambda: nodes_ready(c), 30, "nodes Ready")
            namespace(c)
            headless(c, "web")
            t0 = time.perf_counter()
            c.create(f"/apis/apps/v1/namespaces/{NS}/statefulsets", statefulset("web", 3, parallel=False, volumes=True))
            wait_for(lambda: ready_pods(c) == 3, 60, "3 pets Ready")
            times.append(time.perf_counter() - t0)
            pods = c.get(f"/api/v1/namespaces/{NS}/pods")["items"]
            zones = set()
            for p in pods:
                node = c.get(f"/api/v1/nodes/{p['spec']['nodeName']}")
                zones.add(node["metadata"]["labels"]["topology.kubernetes.io/zone"])
            pvcs = c.get(f"/api/v1/namespaces/{NS}/persistentvolumeclaims")["items"]
            assert sum(1 for p in pvcs if (p.get("status") or {}).get("phase") == "Bound") == 3
    return {"pets_ordered_ready_s": {"median": statistics.median(times), "all": times, "zones_used": len(zones),
                                     "target": 2.0, "profile": "instant"}}


# -- (b) node-loss drill -----------------------------------------------------------------------------------
def bench_drill(workdir: str, profile: str, target: float) -> dict[str, Any]:
    """Stop the kubelet of web-0's node; time NotReady, the NoExecute taint, eviction, Terminating."""
    with Server(os.path.join(workdir, f"drill-{profile}"), profile, ZONES3, 2) as s:
        c = s.client()
        wait_for(lambda: nodes_ready(c), 60, "nodes Ready")
        timing = c.get("/kubesim/v1/timing")
        namespace(c)
        headless(c, "web")
        c.create(f"/apis/apps/v1/namespaces/{NS}/statefulsets", statefulset("web", 3, parallel=False, volumes=True))
        wait_for(lambda: ready_pods(c) == 3, 120, "3 pets Ready", 0.05)
        victim_pod = c.get(f"/api/v1/namespaces/{NS}/pods/web-0")
        node = victim_pod["spec"]["nodeName"]
        r = c.req("PUT", f"/kubesim/v1/nodes/{node}/kubelet", {"running": False})
        assert r.status == 200, r.data[:300]
        t0 = time.perf_counter()
        marks: dict[str, float] = {}

        def step() -> bool:
            now = time.perf_counter() - t0
            n = c.get(f"/api/v1/nodes/{node}")
            if "not_ready" not in marks and condition(n, "Ready") != "True":
                marks["not_ready"] = now
            taints = {(t["key"], t["effect"]) for t in (n.get("spec") or {}).get("taints") or []}
            if "noexecute_taint" not in marks and ("node.kubernetes.io/unreachable", "NoExecute") in taints:
                marks["noexecute_taint"] = now
            p = c.get(f"/api/v1/namespaces/{NS}/pods/web-0")
            if p is not None and p["metadata"].get("deletionTimestamp") and "evicted" not in marks:
                marks["evicted"] = now
                assert condition(p, "DisruptionTarget") == "True"
            return "evicted" in marks

        wait_for(step, target * 4, "eviction", 0.02)
        # Terminating: the evicted pet stays (nobody on the dead node confirms the deletion).
        time.sleep(min(1.0, target / 10))
        p = c.get(f"/api/v1/namespaces/{NS}/pods/web-0")
        terminating = p is not None and bool(p["metadata"].get("deletionTimestamp"))
        total = time.perf_counter() - t0
        marks["terminating_checked"] = total
        events = c.get(f"/api/v1/namespaces/{NS}/events")["items"]
        evicted_event = any(e.get("reason") == "TaintManagerEviction" for e in events)
    floor = float(timing["node_monitor_grace"]) * timing["scale"] + max(
        1, round(float(timing["default_toleration_seconds"]) * timing["scale"]))
    return {f"drill_node_loss_{profile}_s": {
        "value": marks["evicted"], "marks_s": marks, "pod_left_terminating": terminating,
        "taint_manager_eviction_event": evicted_event, "floor_grace_plus_toleration_s": floor,
        "target": target, "profile": profile}}


# -- (c) scale ---------------------------------------------------------------------------------------------
def bench_scale(workdir: str, sets: int = 10, replicas: int = 100, zones: int = 4, per_zone: int = 25
                ) -> dict[str, Any]:
    zone_names = [f"us-east-1{chr(ord('a') + i)}" for i in range(zones)]
    s = Server(os.path.join(workdir, "scale"), "instant", zone_names, per_zone)
    serve_s = s.start()
    try:
        c = s.client()
        t_nodes = time.perf_counter()
        wait_for(lambda: nodes_ready(c), 120, "nodes Ready", 0.1)
        nodes_s = time.perf_counter() - t_nodes
        idle_rss = s.rss_mb()
        namespace(c)
        for i in range(sets):
            headless(c, f"s{i}")
        total = sets * replicas
        lister = s.client()
        lists: list[float] = []
        rss: list[float] = []
        progress: list[tuple[float, int]] = []
        proc = psutil.Process(s.proc.pid)  # type: ignore[union-attr]
        load0 = os.getloadavg()[0]
        cpu_start = _cpu(proc)
        t0 = time.perf_counter()
        for i in range(sets):
            c.create(f"/apis/apps/v1/namespaces/{NS}/statefulsets",
                     statefulset(f"s{i}", replicas, parallel=True, volumes=False))
        created_s = time.perf_counter() - t0
        done = None
        cpu_done = None
        deadline = t0 + 240
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            r = lister.req("GET", "/api/v1/pods")
            lists.append(time.perf_counter() - t)
            assert r.status == 200
            items = json.loads(r.data)["items"]
            ready = sum(1 for p in items if p["metadata"].get("namespace") == NS and condition(p, "Ready") == "True")
            progress.append((round(time.perf_counter() - t0, 2), ready))
            rss.append(s.rss_mb())
            if ready >= total:
                done = time.perf_counter() - t0
                cpu_done = _cpu(proc) - cpu_start
                break
            time.sleep(0.2)
        # A few LISTs of the settled cluster too.
        settled = []
        for _ in range(10):
            t = time.perf_counter()
            r = lister.req("GET", "/api/v1/pods")
            settled.append(time.perf_counter() - t)
        rss.append(s.rss_mb())
        # Lease/status write load when idle: count resourceVersion advance over 2 s.
        rv0 = int(c.get("/api/v1/namespaces/default/configmaps")["metadata"]["resourceVersion"])
        time.sleep(2.0)
        rv1 = int(c.get("/api/v1/namespaces/default/configmaps")["metadata"]["resourceVersion"])
        load1 = os.getloadavg()[0]
        cpu0 = _cpu(proc)
        time.sleep(2.0)
        idle_cpu = (_cpu(proc) - cpu0) / 2.0
    finally:
        s.stop()
    return {"scale": {
        "nodes": zones * per_zone, "pods": total, "statefulsets": sets, "profile": "instant",
        "serve_to_ready_s": serve_s, "nodes_ready_s": nodes_s, "create_statefulsets_s": created_s,
        "all_ready_s": done, "target_all_ready_s": 30.0,
        # The server's CPU seconds from the first create to all Ready: comparable on a loaded machine
        # (the server is one process bound by one GIL, so on an idle machine wall ~ this).
        "all_ready_server_cpu_s": None if cpu_done is None else round(cpu_done, 2),
        "load_1m": {"start": round(load0, 2), "end": round(load1, 2)},
        "machine_loaded": max(load0, load1) > (os.cpu_count() or 1),
        "list_pods_during_ms": {"p50": 1000 * pct(lists, 0.5), "p95": 1000 * pct(lists, 0.95), "n": len(lists),
                                "target_p50": 100},
        "list_pods_settled_ms": {"p50": 1000 * pct(settled, 0.5)},
        "rss_mb": {"max": max(rss), "idle_before": idle_rss, "target": 400},
        "settled_writes_per_s": (rv1 - rv0) / 2.0,
        "settled_cpu_cores": idle_cpu,
        "progress": progress[:: max(1, len(progress) // 20)],
    }}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["pets", "drill", "scale"], action="append",
                    help="run only these parts (repeatable)")
    ap.add_argument("--skip-fast-drill", action="store_true", help="skip the ~40 s drill with profile fast")
    args = ap.parse_args(argv)
    only = set(args.only or ["pets", "drill", "scale"])
    out: dict[str, Any] = {"benchmark": "kubesim-controllers", "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as work:
        if "pets" in only:
            out.update(bench_pets(work))
        if "drill" in only:
            out.update(bench_drill(work, "instant", 5.0))
            if not args.skip_fast_drill:
                out.update(bench_drill(work, "fast", 40.0))
        if "scale" in only:
            out.update(bench_scale(work))
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "controllers.json" if only == {"pets", "drill", "scale"} and not args.skip_fast_drill \
        else f"controllers-{'-'.join(sorted(only))}.json"
    (RESULTS / name).write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
