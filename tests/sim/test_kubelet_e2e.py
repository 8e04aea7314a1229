"""The simulated kubelet end to end: a real cluster on 127.0.0.1:0 (profile ``instant``), real kubectl.

Pods get ``spec.nodeName`` directly, so these tests do not depend on the scheduler. The
cluster runs its own kubelets with ``kubesim.runtime.node.NodeRuntime``; if that module is
missing the fixture starts the kubelets with the in-memory ``FakeRuntime`` instead and the
tests that need real containers (a command's exit code) are skipped.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

import pytest
import yaml

from kubesim.api import Request
from kubesim.controllers.kubelet import Kubelet
from kubesim.controllers.kubelet_testing import FakeRuntime
from kubesim.testing import Kubectl, running_cluster, eventually

NODES = ["us-east-1a-node-1", "us-east-1a-node-2", "us-east-1b-node-1", "us-east-1b-node-2"]


def wait_for(fn: Callable[[], Any], what: str, timeout: float = 30.0, interval: float = 0.1) -> Any:
    return eventually(what, fn, timeout=timeout, interval=interval)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.mktemp("kubelet")
    with running_cluster(str(d), profile="instant", zones=["us-east-1a", "us-east-1b"], nodes_per_zone=2,
                         seed=7) as c:
        fake = any(k is None for k in c.kubelets.values())
        if fake:  # kubesim.runtime.node not there: drive the kubelets with the in-memory runtime
            for name in list(c.kubelets):
                rt = FakeRuntime(c.ctx, name)
                c.ctx.extra.setdefault("runtimes", {})[name] = rt
                k = Kubelet(c.ctx, name, rt)
                c.kubelets[name] = k
                k.start()
        for k in c.kubelets.values():
            assert k.booted.wait(20), "kubelet did not boot"
        c.fake_runtime = fake  # type: ignore[attr-defined]
        yield c


@pytest.fixture(scope="module")
def kubectl(sim, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(sim.kubeconfig_path, str(tmp_path_factory.mktemp("kubectl-cache")))


@pytest.fixture
def ns(sim, request: pytest.FixtureRequest) -> str:
    name = "k-" + "".join(ch if ch.isalnum() else "-" for ch in request.node.name.lower())[:40].strip("-")
    sim.api.create(sim.api.rt("namespaces"), None, {"apiVersion": "v1", "kind": "Namespace",
                                                    "metadata": {"name": name}}, Request(field_manager="tests"))
    return name


def real_runtime(sim) -> None:
    if sim.fake_runtime:
        pytest.skip("needs kubesim.runtime.node (real container commands); only the fake runtime is available")


def apply_pod(kubectl: Kubectl, ns: str, name: str, node: str, containers: list[dict], **spec: Any) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
           "spec": {"nodeName": node, "containers": containers, **spec}}
    kubectl("apply", "-f", "-", input=yaml.safe_dump(pod))


def get_pod(kubectl: Kubectl, ns: str, name: str) -> dict:
    return kubectl.json("get", "pod", name, "-n", ns)


def pod_row(kubectl: Kubectl, ns: str, name: str) -> list[str]:
    out = kubectl("get", "pod", name, "-n", ns, "--no-headers", check=False)
    return out.split()


def events(kubectl: Kubectl, ns: str, name: str) -> list[dict]:
    out = kubectl.json("get", "events", "-n", ns, "--field-selector", f"involvedObject.name={name}")
    return out["items"]


def messages(kubectl: Kubectl, ns: str, name: str) -> list[tuple[str, str, str]]:
    return [(e["type"], e["reason"], e["message"]) for e in events(kubectl, ns, name)]


# -- nodes and leases -------------------------------------------------------------------------------
def test_nodes_are_ready_with_kubelet_status(sim, kubectl):
    def all_ready() -> list[str]:
        rows = kubectl("get", "nodes", "--no-headers").splitlines()
        return rows if len(rows) == 4 and all(r.split()[1] == "Ready" for r in rows) else []

    wait_for(all_ready, "4 Ready nodes")  # a kubelet's first status can trail its boot on a busy machine
    node = kubectl.json("get", "node", NODES[0])
    st = node["status"]
    ready = [c for c in st["conditions"] if c["type"] == "Ready"][0]
    assert (ready["status"], ready["reason"], ready["message"]) == ("True", "KubeletReady",
                                                                    "kubelet is posting ready status")
    assert ready["lastHeartbeatTime"] and ready["lastTransitionTime"]
    assert {c["type"] for c in st["conditions"]} >= {"MemoryPressure", "DiskPressure", "PIDPressure", "Ready"}
    assert st["nodeInfo"]["kubeletVersion"] == "v1.33.0" and st["nodeInfo"]["bootID"]
    assert [a["type"] for a in st["addresses"]] == ["InternalIP", "Hostname"]
    assert st["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 10250
    assert st["capacity"]["pods"] == "110" and st["allocatable"]["cpu"]
    evs = kubectl.json("get", "events", "-n", "default", "--field-selector",
                       f"involvedObject.kind=Node,involvedObject.name={NODES[0]}")["items"]
    reasons = [e["reason"] for e in evs if e["source"].get("component") == "kubelet"]
    assert reasons[0] == "Starting" and "NodeAllocatableEnforced" in reasons
    if not sim.fake_runtime:  # without the runtime, cluster.py posted a Ready status before the kubelet came
        assert "NodeReady" in reasons and "NodeHasSufficientMemory" in reasons
    starting = [e for e in evs if e["reason"] == "Starting"][0]
    assert starting["message"] == "Starting kubelet." and starting["source"]["host"] == NODES[0]


def lease(kubectl: Kubectl, node: str) -> dict:
    return kubectl.json("get", "lease", node, "-n", "kube-node-lease")


def test_leases_renew(sim, kubectl):
    first = lease(kubectl, NODES[0])
    spec = first["spec"]
    assert spec["holderIdentity"] == NODES[0] and spec["leaseDurationSeconds"] == 40
    owner = first["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"]) == ("Node", NODES[0])
    assert owner["uid"] == kubectl.json("get", "node", NODES[0])["metadata"]["uid"]
    wait_for(lambda: lease(kubectl, NODES[0])["spec"]["renewTime"] != spec["renewTime"], "a lease renewal")


# -- pods -------------------------------------------------------------------------------------------
def test_pod_runs_with_upstream_status(sim, kubectl, ns):
    apply_pod(kubectl, ns, "web", NODES[0], [{"name": "nginx", "image": "nginx:1.25"}])
    wait_for(lambda: pod_row(kubectl, ns, "web")[1:3] == ["1/1", "Running"], "1/1 Running")
    pod = get_pod(kubectl, ns, "web")
    st = pod["status"]
    assert st["phase"] == "Running" and st["qosClass"] == "BestEffort"
    assert [c["type"] for c in st["conditions"]] == ["PodReadyToStartContainers", "Initialized", "Ready",
                                                     "ContainersReady", "PodScheduled"]
    assert all(c["status"] == "True" for c in st["conditions"])
    cs = st["containerStatuses"][0]
    assert cs["ready"] and cs["started"] and cs["restartCount"] == 0 and cs["lastState"] == {}
    assert cs["containerID"].startswith("containerd://") and len(cs["containerID"]) == len("containerd://") + 64
    assert cs["image"] == "docker.io/library/nginx:1.25" and cs["imageID"].startswith("docker.io/library/nginx@sha256:")
    assert "running" in cs["state"] and st["startTime"]
    node = kubectl.json("get", "node", NODES[0])
    assert st["hostIP"] == node["status"]["addresses"][0]["address"]
    cidr = node["spec"]["podCIDR"]
    assert st["podIP"].rsplit(".", 1)[0] == cidr.split("/")[0].rsplit(".", 1)[0]
    assert st["podIPs"] == [{"ip": st["podIP"]}]
    got = messages(kubectl, ns, "web")
    assert ("Normal", "Pulling", 'Pulling image "nginx:1.25"') in got
    pulled = [m for t, r, m in got if r == "Pulled"]
    assert pulled and pulled[0].startswith('Successfully pulled image "nginx:1.25" in ') and "including waiting" in \
        pulled[0] and pulled[0].endswith(" bytes.")
    assert ("Normal", "Created", "Created container: nginx") in got
    assert ("Normal", "Started", "Started container nginx") in got
    kubelet_evs = [e for e in events(kubectl, ns, "web") if e["source"].get("component") == "kubelet"]
    assert all(e["source"]["host"] == NODES[0] for e in kubelet_evs)
    assert [e for e in kubelet_evs if e["reason"] == "Started"][0]["involvedObject"]["fieldPath"] == \
        "spec.containers{nginx}"


def test_every_new_pod_gets_a_new_ip(sim, kubectl, ns):
    for i in range(3):
        apply_pod(kubectl, ns, f"p{i}", NODES[1], [{"name": "c", "image": "nginx:1.25"}])
    ips = wait_for(lambda: [get_pod(kubectl, ns, f"p{i}")["status"].get("podIP") for i in range(3)]
                   if all(get_pod(kubectl, ns, f"p{i}")["status"].get("podIP") for i in range(3)) else None,
                   "pod IPs")
    assert len(set(ips)) == 3
    kubectl("delete", "pod", "p0", "-n", ns)
    apply_pod(kubectl, ns, "p0", NODES[1], [{"name": "c", "image": "nginx:1.25"}])
    new = wait_for(lambda: get_pod(kubectl, ns, "p0")["status"].get("podIP"), "new pod IP")
    assert new not in ips


def test_failing_readiness_probe_keeps_the_pod_running_but_unready(sim, kubectl, ns):
    probe = {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 10}
    apply_pod(kubectl, ns, "probed", NODES[0],
              [{"name": "app", "image": "busybox:1.36", "command": ["sleep", "3600"], "readinessProbe": probe}])
    wait_for(lambda: pod_row(kubectl, ns, "probed")[1:3] == ["0/1", "Running"], "0/1 Running")
    warn = wait_for(lambda: [m for t, r, m in messages(kubectl, ns, "probed") if r == "Unhealthy"], "Unhealthy event")
    assert warn[0].startswith("Readiness probe failed: ") and "/tmp/ready" in warn[0]
    st = get_pod(kubectl, ns, "probed")["status"]
    ready = [c for c in st["conditions"] if c["type"] == "Ready"][0]
    assert (ready["status"], ready["reason"], ready["message"]) == ("False", "ContainersNotReady",
                                                                    "containers with unready status: [app]")
    # Make the probe pass: the pod becomes ready without a restart.
    pod = get_pod(kubectl, ns, "probed")
    rt = sim.kubelets[NODES[0]].runtime
    assert rt.exec(pod, "app", ["sh", "-c", "echo ok > /tmp/ready"]).exit_code == 0
    wait_for(lambda: pod_row(kubectl, ns, "probed")[1:4] == ["1/1", "Running", "0"], "1/1 Running")


def test_failing_liveness_probe_restarts_the_container(sim, kubectl, ns):
    probe = {"exec": {"command": ["cat", "/tmp/alive"]}, "periodSeconds": 5, "failureThreshold": 2}
    apply_pod(kubectl, ns, "live", NODES[0],
              [{"name": "app", "image": "busybox:1.36", "command": ["sleep", "3600"], "livenessProbe": probe}])
    wait_for(lambda: get_pod(kubectl, ns, "live")["status"]["containerStatuses"][0]["restartCount"] >= 1, "a restart")
    got = messages(kubectl, ns, "live")
    assert ("Normal", "Killing", "Container app failed liveness probe, will be restarted") in got
    assert any(r == "Unhealthy" and m.startswith("Liveness probe failed: ") for t, r, m in got)
    cs = get_pod(kubectl, ns, "live")["status"]["containerStatuses"][0]
    assert cs["lastState"]["terminated"]["finishedAt"]


def test_unavailable_image_gives_err_image_pull_then_back_off(sim, kubectl, ns):
    sim.faults.set_unavailable_images(["registry.example/bad:*"])
    try:
        apply_pod(kubectl, ns, "bad", NODES[1], [{"name": "app", "image": "registry.example/bad:1"}])
        seen: set[str] = set()

        def reasons() -> bool:
            row = pod_row(kubectl, ns, "bad")
            if len(row) > 2:
                seen.add(row[2])
            return {"ErrImagePull", "ImagePullBackOff"} <= seen

        wait_for(reasons, "ErrImagePull and ImagePullBackOff in kubectl get pods", interval=0.05)
        cs = get_pod(kubectl, ns, "bad")["status"]["containerStatuses"][0]
        assert cs["state"]["waiting"]["reason"] in ("ErrImagePull", "ImagePullBackOff") and not cs["ready"]
        got = messages(kubectl, ns, "bad")
        failed = [m for t, r, m in got if t == "Warning" and r == "Failed"]
        assert any(m.startswith('Failed to pull image "registry.example/bad:1": ') and m.endswith("not found")
                   for m in failed), failed
        assert "Error: ErrImagePull" in failed and "Error: ImagePullBackOff" in failed
        assert ("Normal", "BackOff", 'Back-off pulling image "registry.example/bad:1"') in got
        assert ("Normal", "Pulling", 'Pulling image "registry.example/bad:1"') in got
    finally:
        sim.faults.set_unavailable_images([])
    # Once the image exists the next retry pulls it (back-offs are short under ``instant``).
    wait_for(lambda: pod_row(kubectl, ns, "bad")[1:3] == ["1/1", "Running"], "the retried pull", timeout=30)


def test_kubectl_delete_pod_completes(sim, kubectl, ns):
    apply_pod(kubectl, ns, "gone", NODES[0], [{"name": "app", "image": "nginx:1.25"}])
    wait_for(lambda: pod_row(kubectl, ns, "gone")[1:3] == ["1/1", "Running"], "1/1 Running")
    uid = get_pod(kubectl, ns, "gone")["metadata"]["uid"]
    t0 = time.monotonic()
    out = kubectl("delete", "pod", "gone", "-n", ns, timeout=60)
    assert 'pod "gone" deleted' in out and time.monotonic() - t0 < 20
    assert kubectl("get", "pod", "gone", "-n", ns, check=False, timeout=30).strip() == ""
    stopping = [e for e in events(kubectl, ns, "gone") if e["reason"] == "Killing"]
    assert stopping and stopping[0]["message"] == "Stopping container app"
    assert stopping[0]["involvedObject"]["uid"] == uid
    rt = sim.kubelets[NODES[0]].runtime
    assert rt.container_state(uid, "app") is None  # removed from the runtime


def test_force_delete_tears_the_pod_down(sim, kubectl, ns):
    apply_pod(kubectl, ns, "forced", NODES[0], [{"name": "app", "image": "nginx:1.25"}])
    wait_for(lambda: pod_row(kubectl, ns, "forced")[1:3] == ["1/1", "Running"], "1/1 Running")
    uid = get_pod(kubectl, ns, "forced")["metadata"]["uid"]
    rt = sim.kubelets[NODES[0]].runtime
    assert rt.container_state(uid, "app").state == "running"
    kubectl("delete", "pod", "forced", "-n", ns, "--force", "--grace-period=0")
    wait_for(lambda: rt.container_state(uid, "app") is None, "the runtime to drop the pod")


def test_job_like_pod_ends_with_its_exit_code(sim, kubectl, ns):
    real_runtime(sim)
    apply_pod(kubectl, ns, "job", NODES[2], [{"name": "work", "image": "busybox:1.36",
                                               "command": ["sh", "-c", "echo working; exit 3"]}],
              restartPolicy="Never")
    wait_for(lambda: pod_row(kubectl, ns, "job")[1:3] == ["0/1", "Error"], "0/1 Error")
    st = get_pod(kubectl, ns, "job")["status"]
    assert st["phase"] == "Failed"
    term = st["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (3, "Error") and term["finishedAt"]
    ready = [c for c in st["conditions"] if c["type"] == "Ready"][0]
    assert (ready["status"], ready["reason"]) == ("False", "PodFailed")


def test_completed_pod_succeeds(sim, kubectl, ns):
    real_runtime(sim)
    apply_pod(kubectl, ns, "done", NODES[2], [{"name": "work", "image": "busybox:1.36",
                                                "command": ["sh", "-c", "exit 0"]}], restartPolicy="OnFailure")
    wait_for(lambda: pod_row(kubectl, ns, "done")[1:3] == ["0/1", "Completed"], "0/1 Completed")
    assert get_pod(kubectl, ns, "done")["status"]["phase"] == "Succeeded"


def test_crashing_container_backs_off(sim, kubectl, ns):
    apply_pod(kubectl, ns, "crash", NODES[2], [{"name": "app", "image": "busybox:1.36",
                                                 "command": ["sh", "-c", "exit 1"]}])
    wait_for(lambda: pod_row(kubectl, ns, "crash")[2] == "CrashLoopBackOff", "CrashLoopBackOff", interval=0.02)
    cs = wait_for(lambda: (s := get_pod(kubectl, ns, "crash")["status"]["containerStatuses"][0])["restartCount"] >= 2
                  and s, "two restarts")
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    got = messages(kubectl, ns, "crash")
    assert any(r == "BackOff" and m.startswith("Back-off restarting failed container app in pod crash_") for t, r, m
               in got)
    assert get_pod(kubectl, ns, "crash")["status"]["phase"] == "Running"


def test_init_containers_run_first(sim, kubectl, ns):
    init = {"name": "setup", "image": "busybox:1.36", "command": ["sh", "-c", "sleep 2"]}
    if sim.fake_runtime:
        init["command"] = ["sh", "-c", "sleep 2; exit 0"]
    apply_pod(kubectl, ns, "inited", NODES[2], [{"name": "app", "image": "nginx:1.25"}], initContainers=[init])
    wait_for(lambda: pod_row(kubectl, ns, "inited")[2] == "Init:0/1", "Init:0/1", interval=0.05)
    st = get_pod(kubectl, ns, "inited")["status"]
    assert st["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"
    wait_for(lambda: pod_row(kubectl, ns, "inited")[1:3] == ["1/1", "Running"], "1/1 Running")
    st = get_pod(kubectl, ns, "inited")["status"]
    assert st["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"


# -- faults -----------------------------------------------------------------------------------------
def test_stopped_kubelet_stops_renewing_and_reboots(sim, kubectl, ns):
    node = NODES[3]  # the fault tests have this node to themselves
    apply_pod(kubectl, ns, "pet", node, [{"name": "app", "image": "nginx:1.25"}])
    wait_for(lambda: pod_row(kubectl, ns, "pet")[1:3] == ["1/1", "Running"], "1/1 Running")
    boot = kubectl.json("get", "node", node)["status"]["nodeInfo"]["bootID"]
    uid = get_pod(kubectl, ns, "pet")["metadata"]["uid"]
    rt = sim.kubelets[node].runtime
    sim.faults.set_kubelet(node, False)
    try:
        wait_for(lambda: (rt.container_state(uid, "app") or type("x", (), {"state": "gone"})).state != "running",
                 "containers killed")
        frozen = lease(kubectl, node)["spec"]["renewTime"]
        time.sleep(0.6)  # several renew periods (0.1 s under instant)
        assert lease(kubectl, node)["spec"]["renewTime"] == frozen
    finally:
        sim.faults.set_kubelet(node, True)
    wait_for(lambda: lease(kubectl, node)["spec"]["renewTime"] != frozen, "renewals again")
    info = wait_for(lambda: (n := kubectl.json("get", "node", node))["status"]["nodeInfo"]["bootID"] != boot and n,
                    "a new bootID")
    assert [c for c in info["status"]["conditions"] if c["type"] == "Ready"][0]["status"] == "True"
    evs = kubectl.json("get", "events", "-n", "default", "--field-selector",
                       f"involvedObject.kind=Node,involvedObject.name={node},reason=Rebooted")["items"]
    assert evs and evs[0]["type"] == "Warning" and evs[0]["message"].startswith(f"Node {node} has been rebooted")
    # The pod's sandbox was re-created: running again, one restart, lastState Unknown.
    cs = wait_for(lambda: (s := get_pod(kubectl, ns, "pet")["status"]["containerStatuses"][0])["restartCount"] >= 1
                  and "running" in s["state"] and s, "the pod back", timeout=30)
    assert cs["lastState"]["terminated"]["reason"] == "Unknown"
    assert ("Normal", "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.") in \
        messages(kubectl, ns, "pet")


def test_partitioned_kubelet_keeps_running_but_writes_nothing(sim, kubectl, ns):
    node = NODES[3]
    apply_pod(kubectl, ns, "cut", node, [{"name": "app", "image": "nginx:1.25"}])
    wait_for(lambda: pod_row(kubectl, ns, "cut")[1:3] == ["1/1", "Running"], "1/1 Running")
    uid = get_pod(kubectl, ns, "cut")["metadata"]["uid"]
    rt = sim.kubelets[node].runtime
    sim.faults.set_partitioned(node, True)
    try:
        frozen = lease(kubectl, node)["spec"]["renewTime"]
        kubectl("delete", "pod", "cut", "-n", ns, "--wait=false")
        time.sleep(0.6)
        assert lease(kubectl, node)["spec"]["renewTime"] == frozen
        assert rt.container_state(uid, "app").state == "running"  # containers keep running
        pod = get_pod(kubectl, ns, "cut")  # nobody issues the final delete: Terminating
        assert pod["metadata"]["deletionTimestamp"]
        assert "Terminating" in kubectl("get", "pod", "cut", "-n", ns)
    finally:
        sim.faults.set_partitioned(node, False)
    wait_for(lambda: kubectl("get", "pod", "cut", "-n", ns, "--ignore-not-found").strip() == "",
             "the pod finalized after the partition healed")
    wait_for(lambda: lease(kubectl, node)["spec"]["renewTime"] != frozen, "renewals again")


def test_control_endpoint_marks_images_unavailable(sim, kubectl):
    """The documented way a drill marks an image bad (PUT /kubesim/v1/images/unavailable)."""
    import ssl
    import urllib.request

    ctx = ssl.create_default_context(cadata=sim.creds.ca_pem.decode())
    body = json.dumps({"images": ["example.invalid/never:*"]}).encode()
    req = urllib.request.Request(sim.url + "/kubesim/v1/images/unavailable", data=body, method="PUT",
                                 headers={"Authorization": f"Bearer {sim.creds.token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            assert json.load(resp)["unavailableImages"] == ["example.invalid/never:*"]
        assert not sim.faults.image_available("example.invalid/never:1")
    finally:
        sim.faults.set_unavailable_images([])


def test_power_blip_faster_than_the_kubelet_is_still_a_reboot(sim, kubectl, ns):
    node = NODES[3]
    apply_pod(kubectl, ns, "blip", node, [{"name": "app", "image": "nginx:1.25"}])
    wait_for(lambda: pod_row(kubectl, ns, "blip")[1:3] == ["1/1", "Running"], "1/1 Running")
    sim.faults.set_kubelet(node, False)
    sim.faults.set_kubelet(node, True)
    cs = wait_for(lambda: (s := get_pod(kubectl, ns, "blip")["status"]["containerStatuses"][0])["restartCount"] >= 1
                  and "running" in s["state"] and s, "the pod restarted after the blip")
    assert cs["lastState"]["terminated"]["reason"] == "Unknown"


def test_zz_nobody_edited_a_shared_view(sim):
    """Kubelets, runtimes and controllers read pods through shared decodings (``Entry.view``): after
    everything above (probes, restarts, init containers, deletions), each still equals its bytes."""
    store = sim.api.store
    time.sleep(2.5)  # a periodic kubelet resync (syncFrequency: 2 s here) reads every pod again
    checked = 0
    for key in store.keys():
        for e in store.list(key)[0]:
            if e.decoded is not None:
                checked += 1
                assert e.decoded == json.loads(e.raw), f"{key} {e.namespace}/{e.name} was edited in place"
    assert checked > 0
