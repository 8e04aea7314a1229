"""Decision functions of the simulated kubelet, table-driven (no cluster, no threads)."""

from __future__ import annotations

import http.server
import socket
import threading

import pytest

from kubesim.controllers import kubelet_probes as probes
from kubesim.controllers.kubelet_pods import (CState, Timing, init_cursor, next_action, pod_action, pull_failed,
                                              restartable, restarted)
from kubesim.controllers.kubelet_status import (ContainerView, PodView, allocate_ip, compute_pod_status,
                                                container_status, containers_ready_condition, crash_restart_at,
                                                default_pull_policy, go_duration, image_id, initialized_condition,
                                                merge_conditions, next_backoff, node_conditions, node_status,
                                                node_status_differs, normalize_image, pod_phase, pulled_message,
                                                ready_condition, status_differs)
from kubesim.controllers.kubelet_testing import FakeRuntime

NOW = "2026-01-01T00:00:10Z"
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


# -- small helpers ---------------------------------------------------------------------------
def running(name, ready=True, restarts=0, last=None):
    return {"name": name, "ready": ready, "restartCount": restarts, "started": True,
            "state": {"running": {"startedAt": NOW}}, "lastState": {"terminated": last} if last else {}}


def waiting(name, reason="ContainerCreating", last=None):
    return {"name": name, "ready": False, "restartCount": 0, "started": False,
            "state": {"waiting": {"reason": reason}}, "lastState": {"terminated": last} if last else {}}


def terminated(name, code=0):
    return {"name": name, "ready": False, "restartCount": 0, "started": False,
            "state": {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error"}},
            "lastState": {}}


def spec(*names, policy="Always", inits=(), sidecars=()):
    s = {"restartPolicy": policy, "containers": [{"name": n, "image": "busybox"} for n in names]}
    init = [{"name": n, "image": "busybox"} for n in inits] + \
        [{"name": n, "image": "busybox", "restartPolicy": "Always"} for n in sidecars]
    if init:
        s["initContainers"] = init
    return s


# -- durations, images, IPs --------------------------------------------------------------------
@pytest.mark.parametrize("seconds,want", [
    (0, "0s"), (0.0004, "0s"), (0.01, "10ms"), (0.85, "850ms"), (1.0, "1s"), (1.2345, "1.234s"),
    (10, "10s"), (80, "1m20s"), (160, "2m40s"), (300, "5m0s"), (3725.5, "1h2m5.5s"),
])
def test_go_duration(seconds, want):
    assert go_duration(seconds) == want


@pytest.mark.parametrize("image,want", [
    ("nginx", "docker.io/library/nginx:latest"),
    ("nginx:1.25", "docker.io/library/nginx:1.25"),
    ("bitnami/redis:7", "docker.io/bitnami/redis:7"),
    ("registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9"),
    ("localhost:5000/app", "localhost:5000/app:latest"),
    ("public.ecr.aws/eks/pause@sha256:abc", "public.ecr.aws/eks/pause@sha256:abc"),
])
def test_normalize_image(image, want):
    assert normalize_image(image) == want


def test_image_id_is_a_stable_repo_digest():
    a = image_id("nginx:1.25")
    assert a.startswith("docker.io/library/nginx@sha256:") and len(a.split(":")[-1]) == 64
    assert a == image_id("docker.io/library/nginx:1.25") and a != image_id("nginx:1.26")


@pytest.mark.parametrize("image,policy", [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.25", "IfNotPresent"),
    ("localhost:5000/app", "Always"), ("repo/app@sha256:abc", "IfNotPresent"),
])
def test_default_pull_policy(image, policy):
    assert default_pull_policy(image) == policy


def test_pulled_message_has_the_1_33_wording():
    assert pulled_message("nginx", 1.2, 1234) == \
        'Successfully pulled image "nginx" in 1.2s (1.2s including waiting). Image size: 1234 bytes.'


@pytest.mark.parametrize("cidr,used,last,want", [
    ("10.244.0.0/24", [], None, "10.244.0.2"),
    ("10.244.0.0/24", ["10.244.0.2"], None, "10.244.0.3"),
    ("10.244.0.0/24", [], "10.244.0.7", "10.244.0.8"),  # never hands the last one out again at once
    ("10.244.0.0/24", ["10.244.0.2"], "10.244.0.254", "10.244.0.3"),  # wraps, skips what is in use
    ("10.244.0.0/30", ["10.244.0.2"], None, None),  # .0 net, .1 gateway, .3 broadcast: full
    ("bogus", [], None, None),
])
def test_allocate_ip(cidr, used, last, want):
    assert allocate_ip(cidr, used, last) == want


# -- back-off -----------------------------------------------------------------------------------
@pytest.mark.parametrize("cur,want", [(None, 10), (10, 20), (160, 300), (300, 300)])
def test_next_backoff(cur, want):
    assert next_backoff(cur, 10, 300) == want


@pytest.mark.parametrize("finished,backoff,updated,now,want", [
    (100, None, None, 101, 101),  # first exit: restart at once
    (100, 10, 95, 101, 110),  # in back-off: ten seconds after the exit
    (100, 40, 95, 101, 140),
    (1000, 40, 200, 1001, 1001),  # last restart longer than 2 x max ago: back-off expired
])
def test_crash_restart_at(finished, backoff, updated, now, want):
    assert crash_restart_at(finished, backoff, updated, now, 300) == want


# -- phase ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("s,inits,mains,terminal,want", [
    (spec("a"), [], [], False, "Pending"),
    (spec("a"), [], [waiting("a")], False, "Pending"),
    (spec("a"), [], [running("a")], False, "Running"),
    (spec("a", "b"), [], [running("a"), waiting("b")], False, "Pending"),
    (spec("a"), [], [terminated("a", 0)], False, "Running"),  # Always: restarting
    (spec("a", policy="Never"), [], [terminated("a", 0)], False, "Succeeded"),
    (spec("a", policy="Never"), [], [terminated("a", 3)], False, "Failed"),
    (spec("a", policy="OnFailure"), [], [terminated("a", 3)], False, "Running"),
    (spec("a", policy="OnFailure"), [], [terminated("a", 0)], False, "Succeeded"),
    (spec("a"), [], [waiting("a", "CrashLoopBackOff", last={"exitCode": 1})], False, "Running"),
    (spec("a"), [], [terminated("a", 0)], True, "Succeeded"),  # deleted: terminal phase by exit codes
    (spec("a"), [], [terminated("a", 137)], True, "Failed"),
    (spec("a", inits=["i"]), [running("i")], [waiting("a", "PodInitializing")], False, "Pending"),
    (spec("a", inits=["i"]), [terminated("i", 0)], [running("a")], False, "Running"),
    (spec("a", policy="Never", inits=["i"]), [terminated("i", 1)], [waiting("a", "PodInitializing")], False,
     "Failed"),
    (spec("a", inits=["i"]), [terminated("i", 1)], [waiting("a", "PodInitializing")], False, "Pending"),
    (spec("a", sidecars=["s"]), [running("s")], [running("a")], False, "Running"),
])
def test_pod_phase(s, inits, mains, terminal, want):
    assert pod_phase(s, inits, mains, terminal=terminal) == want


# -- conditions -----------------------------------------------------------------------------------
@pytest.mark.parametrize("s,mains,phase,want", [
    (spec("a"), [running("a")], "Running", {"status": "True"}),
    (spec("a", "b"), [running("a", ready=False), running("b", ready=False)], "Running",
     {"status": "False", "reason": "ContainersNotReady", "message": "containers with unready status: [a b]"}),
    (spec("a", "b"), [running("a")], "Running",
     {"status": "False", "reason": "ContainersNotReady", "message": "containers with unknown status: [b]"}),
    (spec("a"), [terminated("a", 0)], "Succeeded", {"status": "False", "reason": "PodCompleted"}),
    (spec("a"), [terminated("a", 1)], "Failed", {"status": "False", "reason": "PodFailed"}),
])
def test_containers_ready_condition(s, mains, phase, want):
    got = containers_ready_condition(s, [], mains, phase)
    assert got == {"type": "ContainersReady", **want}


@pytest.mark.parametrize("gates,others,want", [
    ([], [], {"status": "True"}),
    ([{"conditionType": "x/ok"}], [], {"status": "False", "reason": "ReadinessGatesNotReady",
                                       "message": 'corresponding condition of pod readiness gate "x/ok" does not '
                                                  'exist.'}),
    ([{"conditionType": "x/ok"}], [{"type": "x/ok", "status": "False"}],
     {"status": "False", "reason": "ReadinessGatesNotReady",
      "message": 'the status of pod readiness gate "x/ok" is not "True", but False'}),
    ([{"conditionType": "x/ok"}], [{"type": "x/ok", "status": "True"}], {"status": "True"}),
])
def test_ready_condition_readiness_gates(gates, others, want):
    s = dict(spec("a"), readinessGates=gates)
    assert ready_condition(s, {"type": "ContainersReady", "status": "True"}, others) == {"type": "Ready", **want}


def test_ready_condition_copies_containers_ready_when_not_ready():
    cr = {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady",
          "message": "containers with unready status: [a]"}
    assert ready_condition(spec("a"), cr, []) == {**cr, "type": "Ready"}


@pytest.mark.parametrize("s,inits,mains,phase,want", [
    (spec("a"), [], [], "Pending", {"status": "True"}),
    (spec("a", inits=["i", "j"]), [running("i")], [waiting("a", "PodInitializing")], "Pending",
     {"status": "False", "reason": "ContainersNotInitialized",
      "message": "containers with unknown status: [j], containers with incomplete status: [i]"}),
    (spec("a", inits=["i"]), [terminated("i", 0)], [waiting("a")], "Pending", {"status": "True"}),
    (spec("a", inits=["i"]), [terminated("i", 0)], [terminated("a", 0)], "Succeeded",
     {"status": "True", "reason": "PodCompleted"}),
])
def test_initialized_condition(s, inits, mains, phase, want):
    assert initialized_condition(s, inits, mains, phase) == {"type": "Initialized", **want}


def test_merge_conditions_keeps_transition_times_and_others_first():
    old = [{"type": "PodScheduled", "status": "True", "lastTransitionTime": "T-sched"},
           {"type": "Ready", "status": "False", "lastTransitionTime": "T-old"},
           {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager"}]
    new = [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]
    got = merge_conditions(old, new, NOW)
    assert [c["type"] for c in got] == ["DisruptionTarget", "Ready", "PodScheduled"]
    assert got[1]["lastTransitionTime"] == NOW and got[2]["lastTransitionTime"] == "T-sched"
    assert all(c.get("lastProbeTime", "x") is None for c in got[1:])


# -- container and pod status -------------------------------------------------------------------
def test_container_status_shapes():
    c = {"name": "app", "image": "nginx", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}
    st = container_status(c, ContainerView("app"))
    assert st["state"] == {"waiting": {"reason": "ContainerCreating"}} and st["imageID"] == ""
    assert "containerID" not in st and st["lastState"] == {} and st["started"] is False
    cv = ContainerView("app", state="running", started_at=T0, container_id="containerd://" + "a" * 64,
                       image="docker.io/library/nginx:latest", image_id="x", ready=True, started=True,
                       created=True, restart_count=2,
                       last_terminated={"exitCode": 1, "reason": "Error"})
    st = container_status(c, cv)
    assert st["state"] == {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
    assert st["ready"] and st["started"] and st["restartCount"] == 2
    assert st["lastState"] == {"terminated": {"exitCode": 1, "reason": "Error"}}
    assert st["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]
    cv.state, cv.exit_code, cv.reason, cv.finished_at = "terminated", 3, "Error", T0 + 5
    st = container_status(c, cv)
    assert st["state"]["terminated"]["exitCode"] == 3 and st["state"]["terminated"]["reason"] == "Error"
    assert st["ready"] is False and st["started"] is False


def pod(s, status=None, **meta):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns", "uid": "u", **meta},
            "spec": s, "status": status or {"phase": "Pending", "qosClass": "BestEffort"}}


def test_compute_pod_status_new_pod_is_container_creating():
    st = compute_pod_status(pod(spec("a")), PodView("u", host_ip="10.0.0.1", start_time=T0), T0)
    assert st["phase"] == "Pending" and st["qosClass"] == "BestEffort"
    assert [c["type"] for c in st["conditions"]] == ["PodReadyToStartContainers", "Initialized", "Ready",
                                                     "ContainersReady", "PodScheduled"]
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert st["hostIP"] == "10.0.0.1" and st["hostIPs"] == [{"ip": "10.0.0.1"}] and "podIP" not in st
    assert st["startTime"] == "2026-01-01T00:00:00Z"


def test_compute_pod_status_with_init_containers_shows_pod_initializing():
    view = PodView("u", sandbox_ready=True, pod_ip="10.244.0.5",
                   init={"i": ContainerView("i", init=True, state="running", started_at=T0, created=True)})
    st = compute_pod_status(pod(spec("a", inits=["i"])), view, T0)
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert st["initContainerStatuses"][0]["state"]["running"]
    assert st["podIPs"] == [{"ip": "10.244.0.5"}] and st["phase"] == "Pending"
    init_cond = [c for c in st["conditions"] if c["type"] == "Initialized"][0]
    assert init_cond["message"] == "containers with incomplete status: [i]"


def test_compute_pod_status_keeps_a_terminal_phase_and_others_fields():
    old = {"phase": "Succeeded", "qosClass": "Burstable", "nominatedNodeName": "n2",
           "conditions": [{"type": "DisruptionTarget", "status": "True"}]}
    view = PodView("u", main={"a": ContainerView("a", state="running", started_at=T0, created=True)})
    st = compute_pod_status(pod(spec("a"), old), view, T0)
    assert st["phase"] == "Succeeded" and st["nominatedNodeName"] == "n2" and st["qosClass"] == "Burstable"
    assert st["conditions"][0]["type"] == "DisruptionTarget"


def test_status_differs_ignores_nothing_that_matters():
    a = compute_pod_status(pod(spec("a")), PodView("u", start_time=T0), T0)
    again = compute_pod_status(pod(spec("a"), a), PodView("u", start_time=T0), T0 + 30)
    assert not status_differs(a, again)  # transition times carried over: no write
    b = compute_pod_status(pod(spec("a"), a), PodView("u", start_time=T0, sandbox_ready=True, pod_ip="1.2.3.4"),
                           T0 + 30)
    assert status_differs(a, b)


# -- node status ----------------------------------------------------------------------------------
def test_node_conditions_first_post_records_events():
    conds, events = node_conditions([], NOW)
    assert [c["type"] for c in conds] == ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
    ready = conds[-1]
    assert ready == {"type": "Ready", "status": "True", "lastHeartbeatTime": NOW, "lastTransitionTime": NOW,
                     "reason": "KubeletReady", "message": "kubelet is posting ready status"}
    assert events == ["NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID", "NodeReady"]


@pytest.mark.parametrize("old_status,want_events,keeps_transition", [
    ("True", [], True),
    ("Unknown", ["NodeReady"], False),  # back after the node controller marked it Unknown
    ("False", ["NodeReady"], False),
])
def test_node_conditions_transitions(old_status, want_events, keeps_transition):
    old, _ = node_conditions([], "T-first")
    for c in old:
        if c["type"] == "Ready":
            c["status"] = old_status
    old.insert(0, {"type": "NetworkUnavailable", "status": "False", "reason": "RouteCreated"})
    conds, events = node_conditions(old, NOW)
    assert events == want_events
    assert conds[0]["type"] == "NetworkUnavailable"
    ready = [c for c in conds if c["type"] == "Ready"][0]
    assert ready["lastHeartbeatTime"] == NOW
    assert (ready["lastTransitionTime"] == "T-first") is keeps_transition


def node_obj(status=None):
    return {"metadata": {"name": "n1", "labels": {"node.kubernetes.io/instance-type": "m5.xlarge"}},
            "status": status or {}}


def test_node_status_fields_and_reboot():
    st, events = node_status(node_obj(), now=NOW, internal_ip="10.0.1.10", boot_id="b1", kubelet_version="v1.33.0",
                             machine_id="m", system_uuid="s")
    assert st["capacity"]["cpu"] == "4" and st["allocatable"]["pods"] == "110"
    assert st["addresses"] == [{"type": "InternalIP", "address": "10.0.1.10"}, {"type": "Hostname", "address": "n1"}]
    assert st["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert st["nodeInfo"]["kubeletVersion"] == "v1.33.0" and st["nodeInfo"]["bootID"] == "b1"
    assert "Rebooted" not in events
    again, events = node_status(node_obj(st), now="2026-01-01T00:01:00Z", internal_ip="10.0.1.10", boot_id="b1",
                                kubelet_version="v1.33.0", machine_id="m2", system_uuid="s2")
    assert events == [] and not node_status_differs(st, again)  # only heartbeats moved: no write needed
    assert again["nodeInfo"]["machineID"] == "m"  # kept
    _, events = node_status(node_obj(st), now=NOW, internal_ip="10.0.1.10", boot_id="b2", kubelet_version="v1.33.0",
                            machine_id="m", system_uuid="s")
    assert events == ["Rebooted"]


# -- container decisions ---------------------------------------------------------------------------
T = Timing(container_start=1, restart_initial=10, restart_max=300, pull_initial=10, pull_max=300, worker_period=10)
C = {"name": "a", "image": "nginx"}


def cs(**kw):
    s = CState()
    for k, v in kw.items():
        setattr(s, k, v)
    return s


@pytest.mark.parametrize("state,policy,exit_code,finished,now,want", [
    (cs(), "Always", None, None, 0, ("pull", None)),
    (cs(stage="pulling", pull_since=10), "Always", None, None, 10.5, ("wait", 11)),
    (cs(stage="pulling", pull_since=10), "Always", None, None, 11, ("pull_done", None)),
    (cs(stage="pulled"), "Always", None, None, 0, ("start", None)),
    (cs(stage="running"), "Always", None, None, 0, ("poll", None)),
    (cs(stage="running", kill_deadline=50), "Always", None, None, 40, ("poll_killing", 50)),
    (cs(stage="running", kill_deadline=50), "Always", None, None, 50, ("poll", None)),
    (cs(stage="exited"), "Always", 0, 100, 100, ("restart", None)),  # first exit: at once
    (cs(stage="exited", crash_backoff=10, crash_updated=95), "Always", 1, 100, 101, ("crash_backoff", 110)),
    (cs(stage="exited", crash_backoff=10, crash_updated=95), "Always", 1, 100, 110, ("restart", None)),
    (cs(stage="exited"), "Never", 3, 100, 101, ("done", None)),
    (cs(stage="exited"), "OnFailure", 0, 100, 101, ("done", None)),
    (cs(stage="exited"), "OnFailure", 2, 100, 101, ("restart", None)),
    (cs(stage="cancelled"), "Always", None, None, 0, ("done", None)),
    # image pull failure 1 (back-off 10 s): ErrImagePull for 5 s, then ImagePullBackOff, then pull again
    (cs(pull_failed_at=100, pull_backoff=10), "Always", None, None, 101, ("image_error", 105)),
    (cs(pull_failed_at=100, pull_backoff=10), "Always", None, None, 106, ("image_backoff", 110)),
    (cs(pull_failed_at=100, pull_backoff=10), "Always", None, None, 110, ("pull", None)),
    # failure 4 (80 s): ErrImagePull at most one worker period (10 s)
    (cs(pull_failed_at=100, pull_backoff=80), "Always", None, None, 101, ("image_error", 110)),
    (cs(pull_failed_at=100, pull_backoff=80), "Always", None, None, 150, ("image_backoff", 180)),
])
def test_next_action(state, policy, exit_code, finished, now, want):
    act = next_action(C, state, init=False, policy=policy, exit_code=exit_code, finished_at=finished, now=now, t=T)
    assert (act.kind, act.at) == want


@pytest.mark.parametrize("container,init,policy,code,want", [
    ({}, False, "Always", 0, True), ({}, False, "Always", 1, True),
    ({}, False, "OnFailure", 0, False), ({}, False, "OnFailure", 1, True),
    ({}, False, "Never", 1, False),
    ({}, True, "Always", 0, False), ({}, True, "Always", 1, True), ({}, True, "Never", 1, False),
    ({"restartPolicy": "Always"}, True, "Never", 0, True),  # sidecar
])
def test_restartable(container, init, policy, code, want):
    assert restartable(container, init=init, policy=policy, exit_code=code) is want


def test_pull_back_off_doubles_to_the_max():
    s = CState(stage="pulling")
    seen = []
    for i in range(7):
        pull_failed(s, 100.0 * i, "boom", T)
        seen.append(s.pull_backoff)
    assert seen == [10, 20, 40, 80, 160, 300, 300] and s.stage == "new" and s.pull_failures == 7


def test_crash_back_off_doubles_and_expires():
    s = CState(stage="exited")
    seen = []
    t = 0.0
    for _ in range(7):
        restarted(s, t, t, T)
        seen.append(s.crash_backoff)
        t += 1
    assert seen == [10, 20, 40, 80, 160, 300, 300]
    restarted(s, t + 601, t + 601, T)  # ran for more than 2 x max since the last restart
    assert s.crash_backoff == 10


@pytest.mark.parametrize("meta,phase,has_running,now,deadline,want", [
    (None, None, False, 0, None, "teardown"),
    ({}, "Running", True, 0, None, "run"),
    ({}, "Succeeded", False, 0, None, "terminal"),
    ({"deletionTimestamp": "x"}, "Running", True, 0, None, "terminate"),
    ({"deletionTimestamp": "x"}, "Running", True, 5, 10, "terminate"),
    ({"deletionTimestamp": "x"}, "Running", True, 10, 10, "finalize"),  # grace is over
    ({"deletionTimestamp": "x"}, "Pending", False, 0, None, "finalize"),  # nothing runs
])
def test_pod_action(meta, phase, has_running, now, deadline, want):
    p = None if meta is None else {"metadata": meta, "status": {"phase": phase}}
    assert pod_action(p, has_running=has_running, now=now, grace_deadline=deadline) == want


@pytest.mark.parametrize("inits,stages,codes,started,want", [
    ([], {}, {}, {}, (None, True)),
    ([{"name": "i"}, {"name": "j"}], {}, {}, {}, (0, False)),
    ([{"name": "i"}, {"name": "j"}], {"i": "exited"}, {"i": 0}, {}, (1, False)),
    ([{"name": "i"}, {"name": "j"}], {"i": "exited"}, {"i": 2}, {}, (0, False)),  # failed: retried/blocked
    ([{"name": "i"}, {"name": "j"}], {"i": "exited", "j": "exited"}, {"i": 0, "j": 0}, {}, (None, True)),
    ([{"name": "s", "restartPolicy": "Always"}, {"name": "j"}], {"s": "running"}, {}, {"s": True}, (1, False)),
    ([{"name": "s", "restartPolicy": "Always"}, {"name": "j"}], {"s": "running"}, {}, {"s": False}, (0, False)),
])
def test_init_cursor(inits, stages, codes, started, want):
    assert init_cursor(inits, stages, codes, started) == want


# -- probes -----------------------------------------------------------------------------------------
def test_probe_defaults():
    assert probes.settings({}) == {"initialDelaySeconds": 0, "periodSeconds": 10, "timeoutSeconds": 1,
                                   "successThreshold": 1, "failureThreshold": 3}
    assert probes.timeout_of({"timeoutSeconds": 1}, 0.01) == 1.0  # never below 1 s of wall time


@pytest.mark.parametrize("kind,outcomes,want_results", [
    ("readiness", [False, False, False], ["failure", "failure", "failure"]),  # starts unready
    ("readiness", [True], ["success"]),
    ("readiness", [True, False, False, False], ["success", "success", "success", "failure"]),
    ("readiness", [True, False, False, True, False, False, False],
     ["success", "success", "success", "success", "success", "success", "failure"]),
    ("liveness", [False, False, False], ["success", "success", "failure"]),
    ("startup", [False, True], ["unknown", "success"]),
])
def test_probe_thresholds(kind, outcomes, want_results):
    st = probes.initial(kind, {}, 0.0, 1.0)
    got = []
    for i, ok in enumerate(outcomes):
        st, _ = probes.record(st, ok, {}, float(i), 1.0)
        got.append(st.result)
    assert got == want_results


def test_probe_timing_is_scaled():
    st = probes.initial("readiness", {"initialDelaySeconds": 5, "periodSeconds": 10}, 100.0, 0.1)
    assert st.next_at == pytest.approx(100.5)
    st, _ = probes.record(st, True, {"periodSeconds": 10}, 101.0, 0.1)
    assert st.next_at == pytest.approx(102.0)


def test_probes_wait_for_startup():
    states = {"startup": probes.ProbeState("startup", "unknown", next_at=0),
              "readiness": probes.ProbeState("readiness", "failure", next_at=0),
              "liveness": probes.ProbeState("liveness", "success", next_at=0)}
    assert probes.due(states, False, 1) == ["startup"]
    states["startup"] = probes.ProbeState("startup", "success", next_at=50)
    assert probes.due(states, True, 1) == ["liveness", "readiness"]
    assert probes.next_due(states) == 0


@pytest.mark.parametrize("port,container,want", [
    (8080, {}, 8080), ("http", {"ports": [{"name": "http", "containerPort": 80}]}, 80),
    ("9000", {}, 9000), ("nope", {}, None), (0, {}, None),
])
def test_resolve_port(port, container, want):
    assert probes.resolve_port(port, container) == want


def test_exec_probe_output_is_the_command_output():
    rt = FakeRuntime()
    p = {"metadata": {"uid": "u1"}}
    ok, out = probes.exec_probe(rt, p, "app", ["cat", "/tmp/ready"], 1.0)
    assert not ok and out == "cat: /tmp/ready: No such file or directory\n"
    rt.set_file("u1", "/tmp/ready", "yes")
    assert probes.exec_probe(rt, p, "app", ["cat", "/tmp/ready"], 1.0) == (True, "yes")


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(200 if self.path == "/ok" else 503)
        self.end_headers()

    def log_message(self, *a):
        pass


def test_http_and_tcp_probes_really_connect():
    srv = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        port = srv.server_address[1]
        assert probes.http_probe("127.0.0.1", port, {"path": "/ok"}, 1.0, "10.244.0.5:80") == (True, "")
        assert probes.http_probe("127.0.0.1", port, {"path": "/bad"}, 1.0, "10.244.0.5:80") == \
            (False, "HTTP probe failed with statuscode: 503")
        assert probes.tcp_probe("127.0.0.1", port, 1.0, "10.244.0.5:80") == (True, "")
    finally:
        srv.shutdown()
        srv.server_close()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    closed = s.getsockname()[1]
    s.close()
    ok, out = probes.http_probe("127.0.0.1", closed, {"path": "/healthz"}, 1.0, "10.244.0.5:8080")
    assert not ok and out == 'Get "http://10.244.0.5:8080/healthz": dial tcp 10.244.0.5:8080: connect: connection refused'
    assert probes.tcp_probe("127.0.0.1", closed, 1.0, "10.244.0.5:8080") == \
        (False, "dial tcp 10.244.0.5:8080: connect: connection refused")


def test_network_probes_succeed_without_a_real_endpoint():
    rt = FakeRuntime()
    p = {"metadata": {"uid": "u1"}}
    assert probes.run(rt, p, {"name": "a"}, {"httpGet": {"port": 80, "path": "/"}}, "10.244.0.5", 0.01) == (True, "")
    assert probes.run(rt, p, {"name": "a"}, {"tcpSocket": {"port": 80}}, "10.244.0.5", 0.01) == (True, "")


# -- FailedMount timing (volume_manager.go WaitForAttachAndMount) -------------------------------
def test_failed_mount_waits_for_the_attach_timeout_but_not_for_populator_errors():
    """An attach still in progress leaves no event until podAttachAndMountTimeout (2m3s, scaled) has
    passed ("timed out waiting for the condition"); an error the desired-state populator records (an
    unbound claim) is reported once it outlasts one populator period (100 ms), so a claim bound a
    moment after the pod was scheduled never shows a FailedMount (kubelet.go SyncPod)."""
    from kubesim.api import Api
    from kubesim.controllers.base import ControllerContext
    from kubesim.controllers.kubelet import POD_ATTACH_AND_MOUNT_TIMEOUT, Kubelet, PodRecord
    from kubesim.resources import Registry
    from kubesim.runtime import VolumeError
    from kubesim.schemas import SchemaSet
    from kubesim.store import Store
    from kubesim.timings import for_profile

    from kubesim.api import Request

    api = Api(Store(), Registry(), SchemaSet("1.33"))
    api.create(api.rt("namespaces"), None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}},
               Request(field_manager="t"))
    t = for_profile("fast")
    rt = FakeRuntime()
    k = Kubelet(ControllerContext(api=api, timings=t), "n1", rt)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-0", "namespace": "default", "uid": "u1"},
           "spec": {"nodeName": "n1", "containers": [{"name": "web", "image": "nginx"}]}}

    def failed_mounts():
        return [e.obj()["message"] for e in api.store.list("events")[0] if e.obj()["reason"] == "FailedMount"]

    timeout_msg = ("Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[data], "
                   "failed to process volumes=[]: timed out waiting for the condition")
    rt.volume_errors["u1"] = VolumeError("FailedMount", timeout_msg)
    rec = PodRecord("u1", "default", "web-0", pod, PodView("u1"))
    wait = t.s(POD_ATTACH_AND_MOUNT_TIMEOUT)  # 12.3 s at 1/10
    assert not k._sandbox(rec, pod, T0)
    assert not k._sandbox(rec, pod, T0 + wait - 0.5)
    assert failed_mounts() == []
    assert not k._sandbox(rec, pod, T0 + wait + 0.01)
    assert failed_mounts() == [timeout_msg]
    assert not k._sandbox(rec, pod, T0 + wait + 1.0)  # the next wait starts over
    assert len(failed_mounts()) == 1
    del rt.volume_errors["u1"]
    k._sandbox(rec, pod, T0 + wait + 2.0)  # volumes ready (the rest of the sandbox is not this test's)
    assert rec.mount_wait_since is None and rec.mount_recheck_at is None

    unbound = ("Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[], failed to "
               "process volumes=[data]: error processing PVC default/data-web-1: PVC default/data-web-1 has "
               'non-bound phase ("Pending") or empty pvc.Spec.VolumeName ("pvc-1")')
    pod2 = {**pod, "metadata": {**pod["metadata"], "name": "web-1", "uid": "u2"}}
    rec2 = PodRecord("u2", "default", "web-1", pod2, PodView("u2"))
    rt.volume_errors["u2"] = VolumeError("FailedMount", unbound)
    assert not k._sandbox(rec2, pod2, T0)
    assert rec2.mount_recheck_at == pytest.approx(T0 + 0.1)  # looked at again after one populator period
    del rt.volume_errors["u2"]  # bound meanwhile: no event
    k._sandbox(rec2, pod2, T0 + 0.05)
    assert rec2.mount_wait_since is None
    assert len(failed_mounts()) == 1
    rt.volume_errors["u3"] = VolumeError("FailedMount", unbound)
    pod3 = {**pod, "metadata": {**pod["metadata"], "name": "web-2", "uid": "u3"}}
    rec3 = PodRecord("u3", "default", "web-2", pod3, PodView("u3"))
    assert not k._sandbox(rec3, pod3, T0)
    assert not k._sandbox(rec3, pod3, T0 + 0.11)
    assert sorted(failed_mounts()) == sorted([timeout_msg, unbound])


def test_a_rebooted_kubelet_records_new_events_not_count_bumps():
    """A kubelet that comes back after a power loss is a new process: client-go's EventCorrelator cache
    is empty, so "Starting kubelet." of the second boot is a second Event, not count 2 of the first."""
    from kubesim.api import Api, Request
    from kubesim.controllers.base import ControllerContext
    from kubesim.controllers.kubelet import Kubelet
    from kubesim.resources import Registry
    from kubesim.schemas import SchemaSet
    from kubesim.store import Store
    from kubesim.timings import for_profile

    api = Api(Store(), Registry(), SchemaSet("1.33"))
    api.create(api.rt("namespaces"), None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}},
               Request(field_manager="t"))
    ctx = ControllerContext(api=api, timings=for_profile("instant"))
    k = Kubelet(ctx, "n1", FakeRuntime())
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "uid": "node-uid"}}
    k._power()
    k.recorder.event(node, "Normal", "Starting", "Starting kubelet.")
    k.recorder.event(node, "Normal", "Starting", "Starting kubelet.")  # same process: aggregated
    ctx.faults.set_kubelet("n1", False)
    k._power()
    ctx.faults.set_kubelet("n1", True)
    k._power()
    k.recorder.event(node, "Normal", "Starting", "Starting kubelet.")
    counts = sorted(e.obj()["count"] for e in api.store.list("events")[0] if e.obj()["reason"] == "Starting")
    assert counts == [1, 2]
