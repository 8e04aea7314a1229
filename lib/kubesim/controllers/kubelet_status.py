"""Pure functions of the simulated kubelet: what a pod's and a node's status *is*.

Nothing here touches the API, the runtime or the clock; every function takes the
observed state and ``now`` and returns plain API dicts, so the table-driven tests
in ``tests/unit/test_kubelet.py`` pin them down without a cluster.

Upstream sources (kubernetes/kubernetes, read for 1.33):
- ``pkg/kubelet/kubelet_pods.go`` ``getPhase`` and ``generateAPIPodStatus`` (condition order);
- ``pkg/kubelet/status/generate.go`` (ContainersReady, Ready, Initialized, PodReadyToStartContainers
  reasons and messages);
- ``pkg/kubelet/status/status_manager.go`` ``mergePodStatus`` / ``updateLastTransitionTime``
  (non-kubelet conditions first, transition times kept while a status holds);
- ``pkg/kubelet/nodestatus/setters.go`` (node conditions, their reasons, messages and events);
- ``pkg/kubelet/images/image_manager.go`` (pull messages), ``kuberuntime_container.go`` (container events).
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import Any, Iterable

Obj = dict[str, Any]

# Condition types the kubelet owns (pkg/kubelet/types/pod_status.go PodConditionByKubelet).
KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


def rfc3339(ts: float | None) -> str | None:
    """metav1.Time wire form of a unix time (second precision, UTC)."""
    if ts is None:
        return None
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


# -- durations and back-off ---------------------------------------------------------------
def go_duration(seconds: float) -> str:
    """Go's time.Duration.String() of a duration truncated to the millisecond ("1.234s", "850ms", "5m0s")."""
    ms = int(seconds * 1000 + 1e-9)
    if ms <= 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s_ms = rem
    sec = f"{s_ms // 1000}" if s_ms % 1000 == 0 else f"{s_ms / 1000:.3f}".rstrip("0").rstrip(".")
    if h:
        return f"{h}h{m}m{sec}s"
    if m:
        return f"{m}m{sec}s"
    return f"{sec}s"


def next_backoff(current: float | None, initial: float, maximum: float) -> float:
    """client-go flowcontrol.Backoff.Next: start at ``initial``, then double, capped at ``maximum``."""
    if current is None or current <= 0:
        return min(initial, maximum)
    return min(current * 2, maximum)


def crash_restart_at(finished_at: float, backoff: float | None, last_update: float | None, now: float,
                     maximum: float) -> float:
    """When a container that exited at ``finished_at`` may start again (kuberuntime ``doBackOff``).

    No back-off entry yet (first exit), or one older than twice the maximum (the container ran long
    enough, flowcontrol ``hasExpired``): restart now. Otherwise wait ``backoff`` after the exit.
    """
    if backoff is None or last_update is None or finished_at - last_update > 2 * maximum:
        return now
    return finished_at + backoff


# -- images -------------------------------------------------------------------------------
def normalize_image(image: str) -> str:
    """containerd's fully qualified reference: ``nginx`` -> ``docker.io/library/nginx:latest``."""
    ref = image.strip()
    if not ref:
        return ref
    name, digest = (ref.split("@", 1) + [""])[:2] if "@" in ref else (ref, "")
    first = name.split("/", 1)[0]
    if "/" not in name or not ("." in first or ":" in first or first == "localhost"):
        name = ("docker.io/library/" + name) if "/" not in name else ("docker.io/" + name)
    last = name.rsplit("/", 1)[-1]
    if not digest and ":" not in last:
        name += ":latest"
    return name + ("@" + digest if digest else "")


def image_id(image: str) -> str:
    """A stable repo digest for an image (``docker.io/library/nginx@sha256:...``)."""
    full = normalize_image(image)
    repo = full.split("@", 1)[0]
    last = repo.rsplit("/", 1)
    if ":" in last[-1]:
        repo = repo[: repo.rfind(":")]
    return f"{repo}@sha256:{hashlib.sha256(full.encode()).hexdigest()}"


def image_size(image: str) -> int:
    """A plausible compressed size (10-250 MB), stable per image."""
    h = int(hashlib.sha256(image.encode()).hexdigest()[:8], 16)
    return 10_000_000 + h % 240_000_000


def default_pull_policy(image: str) -> str:
    """PL-01: Always for ``:latest`` or no tag, else IfNotPresent (API defaulting; used if unset)."""
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    if "@" in image:
        return "IfNotPresent"
    if ":" not in last or last.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def pull_error(image: str) -> str:
    """containerd's answer for an image that does not exist (what ``Failed to pull image`` quotes)."""
    full = normalize_image(image)
    return (f'rpc error: code = NotFound desc = failed to pull and unpack image "{full}": failed to resolve '
            f'reference "{full}": {full}: not found')


def pulled_message(image: str, seconds: float, size: int) -> str:
    """image_manager.go EnsureImageExists, 1.33 wording."""
    d = go_duration(seconds)
    return f'Successfully pulled image "{image}" in {d} ({d} including waiting). Image size: {size} bytes.'


def pod_ref(pod: Obj) -> str:
    """format.Pod: ``name_namespace(uid)``, as kubelet messages print a pod."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('name', '')}_{meta.get('namespace', '')}({meta.get('uid', '')})"


def container_id(seed: str) -> str:
    return "containerd://" + hashlib.sha256(seed.encode()).hexdigest()


def qualify_container_id(cid: str, seed: str) -> str:
    if not cid:
        return container_id(seed)
    if "://" in cid:
        return cid
    if len(cid) < 64:
        cid = hashlib.sha256(cid.encode()).hexdigest()
    return "containerd://" + cid


# -- one container's observed state ---------------------------------------------------------
@dataclass
class ContainerView:
    """What the kubelet knows about the newest instance of one container (spec name)."""

    name: str
    init: bool = False
    sidecar: bool = False  # init container with restartPolicy Always
    state: str = "waiting"  # waiting | running | terminated
    reason: str = "ContainerCreating"  # waiting reason, or terminated reason
    message: str = ""
    exit_code: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    container_id: str = ""
    image: str = ""  # resolved image once pulled
    image_id: str = ""
    restart_count: int = 0
    last_terminated: Obj | None = None  # API form of lastState.terminated
    ready: bool = False
    started: bool = False  # startup probe passed (or none) and running
    created: bool = False  # an instance exists (volumeMounts are reported from then on)


def terminated_dict(cv: ContainerView) -> Obj:
    out: Obj = {"exitCode": int(cv.exit_code or 0), "reason": cv.reason or ("Completed" if not cv.exit_code
                                                                         else "Error")}
    if cv.message:
        out["message"] = cv.message
    out["startedAt"] = rfc3339(cv.started_at)
    out["finishedAt"] = rfc3339(cv.finished_at)
    if cv.container_id:
        out["containerID"] = cv.container_id
    return out


def container_status(spec_c: Obj, cv: ContainerView) -> Obj:
    """One v1.ContainerStatus (PL-04)."""
    if cv.state == "running":
        state: Obj = {"running": {"startedAt": rfc3339(cv.started_at)}}
    elif cv.state == "terminated":
        state = {"terminated": terminated_dict(cv)}
    else:
        waiting: Obj = {"reason": cv.reason or "ContainerCreating"}
        if cv.message:
            waiting["message"] = cv.message
        state = {"waiting": waiting}
    out: Obj = {
        "name": cv.name,
        "state": state,
        "lastState": {"terminated": dict(cv.last_terminated)} if cv.last_terminated else {},
        "ready": bool(cv.ready and cv.state == "running"),
        "restartCount": int(cv.restart_count),
        "image": cv.image or spec_c.get("image", ""),
        "imageID": cv.image_id or "",
        "started": bool(cv.started and cv.state == "running"),
    }
    cid = cv.container_id if cv.state != "waiting" else (cv.last_terminated or {}).get("containerID", "")
    if cid:
        out["containerID"] = cid
    if cv.created:
        mounts = []
        for m in spec_c.get("volumeMounts") or []:
            vm: Obj = {"name": m.get("name", ""), "mountPath": m.get("mountPath", "")}
            if m.get("readOnly"):
                vm["readOnly"] = True
                vm["recursiveReadOnly"] = "Disabled"
            mounts.append(vm)
        if mounts:
            out["volumeMounts"] = mounts
    return out


def _is_sidecar(c: Obj) -> bool:
    return (c.get("restartPolicy") or "") == "Always"


# -- phase (kubelet_pods.go getPhase) ---------------------------------------------------------
def pod_phase(spec: Obj, init_statuses: list[Obj], statuses: list[Obj], *, terminal: bool = False,
              initialized: bool = False) -> str:
    by_init = {s["name"]: s for s in init_statuses}
    by_main = {s["name"]: s for s in statuses}
    pending_init = pending_sidecar = failed_init = 0
    unknown = running = waiting = stopped = succeeded = 0
    for c in spec.get("initContainers") or []:
        s = by_init.get(c.get("name"))
        st = (s or {}).get("state") or {}
        last_t = ((s or {}).get("lastState") or {}).get("terminated")
        if _is_sidecar(c):
            if s is None:
                unknown += 1
            elif "running" in st:
                if not s.get("started"):
                    pending_sidecar += 1
                running += 1
            elif "terminated" in st:
                pass
            elif "waiting" in st:
                if not last_t:
                    pending_sidecar += 1
                    waiting += 1
            else:
                pending_sidecar += 1
                unknown += 1
            continue
        if s is None:
            pending_init += 1
        elif "running" in st:
            pending_init += 1
        elif "terminated" in st:
            if st["terminated"].get("exitCode", 0) != 0:
                failed_init += 1
        elif "waiting" in st:
            if last_t:
                if last_t.get("exitCode", 0) != 0:
                    failed_init += 1
            else:
                pending_init += 1
        else:
            pending_init += 1
    for c in spec.get("containers") or []:
        s = by_main.get(c.get("name"))
        if s is None:
            unknown += 1
            continue
        st = s.get("state") or {}
        if "running" in st:
            running += 1
        elif "terminated" in st:
            stopped += 1
            if st["terminated"].get("exitCode", 0) == 0:
                succeeded += 1
        elif "waiting" in st:
            if (s.get("lastState") or {}).get("terminated"):
                stopped += 1
            else:
                waiting += 1
        else:
            unknown += 1
    policy = spec.get("restartPolicy") or "Always"
    if failed_init > 0 and policy == "Never":
        return "Failed"
    if pending_init > 0 or (pending_sidecar > 0 and not initialized) or waiting > 0:
        return "Pending"
    if running > 0 and unknown == 0:
        return "Running"
    if running == 0 and stopped > 0 and unknown == 0:
        if terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


# -- conditions (status/generate.go) ----------------------------------------------------------
def _names(names: list[str]) -> str:
    """Go's %s of a []string: ``[a b]``."""
    return "[" + " ".join(names) + "]"


def containers_ready_condition(spec: Obj, init_statuses: list[Obj], statuses: list[Obj], phase: str) -> Obj:
    known = {s["name"] for s in statuses}
    all_known = all(c.get("name") in known for c in spec.get("containers") or [])
    if (phase == "Succeeded" and all_known) or phase == "Failed":
        return {"type": "ContainersReady", "status": "False",
                "reason": "PodCompleted" if phase == "Succeeded" else "PodFailed"}
    by_init = {s["name"]: s for s in init_statuses}
    by_main = {s["name"]: s for s in statuses}
    unknown: list[str] = []
    unready: list[str] = []
    for c in spec.get("initContainers") or []:
        if not _is_sidecar(c):
            continue
        s = by_init.get(c.get("name"))
        if s is None:
            unknown.append(c["name"])
        elif not s.get("ready"):
            unready.append(c["name"])
    for c in spec.get("containers") or []:
        s = by_main.get(c.get("name"))
        if s is None:
            unknown.append(c["name"])
        elif not s.get("ready"):
            unready.append(c["name"])
    msgs = []
    if unknown:
        msgs.append(f"containers with unknown status: {_names(unknown)}")
    if unready:
        msgs.append(f"containers with unready status: {_names(unready)}")
    if msgs:
        return {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady",
                "message": ", ".join(msgs)}
    return {"type": "ContainersReady", "status": "True"}


def ready_condition(spec: Obj, containers_ready: Obj, other_conditions: list[Obj]) -> Obj:
    if containers_ready["status"] != "True":
        out = {"type": "Ready", "status": containers_ready["status"]}
        for k in ("reason", "message"):
            if containers_ready.get(k):
                out[k] = containers_ready[k]
        return out
    by_type = {c.get("type"): c for c in other_conditions}
    msgs = []
    for gate in spec.get("readinessGates") or []:
        t = gate.get("conditionType", "")
        c = by_type.get(t)
        if c is None:
            msgs.append(f'corresponding condition of pod readiness gate "{t}" does not exist.')
        elif c.get("status") != "True":
            msgs.append(f'the status of pod readiness gate "{t}" is not "True", but {c.get("status")}')
    if msgs:
        return {"type": "Ready", "status": "False", "reason": "ReadinessGatesNotReady", "message": ", ".join(msgs)}
    return {"type": "Ready", "status": "True"}


def initialized_condition(spec: Obj, init_statuses: list[Obj], statuses: list[Obj], phase: str) -> Obj:
    inits = spec.get("initContainers") or []
    if not inits:
        return {"type": "Initialized", "status": "True"}
    by_init = {s["name"]: s for s in init_statuses}
    unknown: list[str] = []
    incomplete: list[str] = []
    for c in inits:
        s = by_init.get(c.get("name"))
        if s is None:
            unknown.append(c["name"])
            continue
        if _is_sidecar(c) and s.get("started"):
            continue
        term = (s.get("state") or {}).get("terminated")
        if term is None or term.get("exitCode", 0) != 0:
            incomplete.append(c["name"])
    if phase == "Succeeded" and not unknown:
        return {"type": "Initialized", "status": "True", "reason": "PodCompleted"}
    # A regular container that has run means initialisation happened before (HasAnyRegularContainerStarted).
    for s in statuses:
        st = s.get("state") or {}
        if "running" in st or "terminated" in st or (s.get("lastState") or {}).get("terminated"):
            return {"type": "Initialized", "status": "True"}
    msgs = []
    if unknown:
        msgs.append(f"containers with unknown status: {_names(unknown)}")
    if incomplete:
        msgs.append(f"containers with incomplete status: {_names(incomplete)}")
    if msgs:
        return {"type": "Initialized", "status": "False", "reason": "ContainersNotInitialized",
                "message": ", ".join(msgs)}
    return {"type": "Initialized", "status": "True"}


def merge_conditions(old: list[Obj], new: list[Obj], now: str) -> list[Obj]:
    """status_manager mergePodStatus: others' conditions first, then the kubelet's, transition times kept."""
    old_by_type = {c.get("type"): c for c in old or []}
    out = [dict(c) for c in old or [] if c.get("type") not in KUBELET_CONDITIONS]
    for c in new:
        prev = old_by_type.get(c["type"])
        cond: Obj = {"type": c["type"], "status": c["status"], "lastProbeTime": None}
        if prev is not None and prev.get("status") == c["status"] and prev.get("lastTransitionTime"):
            cond["lastTransitionTime"] = prev["lastTransitionTime"]
        else:
            cond["lastTransitionTime"] = now
        for k in ("reason", "message"):
            if c.get(k):
                cond[k] = c[k]
        if "observedGeneration" in c:
            cond["observedGeneration"] = c["observedGeneration"]
        out.append(cond)
    return out


@dataclass
class PodView:
    """The kubelet's view of one pod, from which its status is computed."""

    uid: str
    sandbox_ready: bool = False
    pod_ip: str = ""
    host_ip: str = ""
    start_time: float | None = None
    init: dict[str, ContainerView] = field(default_factory=dict)
    main: dict[str, ContainerView] = field(default_factory=dict)
    terminal: bool = False  # the kubelet decided the pod is done (deleted, or all containers finished)
    reason: str = ""  # status.reason / message (e.g. for rejected pods)
    message: str = ""


def compute_pod_status(pod: Obj, view: PodView, now: float, *, k8s_version: tuple[int, int] = (1, 33)) -> Obj:
    """The full status the kubelet posts for ``pod`` (kubelet_pods.go generateAPIPodStatus)."""
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    now_s = rfc3339(now) or ""
    default_reason = "PodInitializing" if spec.get("initContainers") else "ContainerCreating"

    def shown(c: Obj, cv: ContainerView | None, init: bool) -> Obj:
        if cv is None:
            cv = ContainerView(c["name"], init=init, reason=default_reason)
        elif cv.state == "waiting" and cv.reason == "ContainerCreating" and default_reason != cv.reason:
            cv = ContainerView(**{**cv.__dict__, "reason": default_reason})
        return container_status(c, cv)

    init_statuses = [shown(c, view.init.get(c["name"]), True) for c in spec.get("initContainers") or []]
    statuses = [shown(c, view.main.get(c["name"]), False) for c in spec.get("containers") or []]
    initialized_before = any(cv.created for cv in view.main.values())
    phase = pod_phase(spec, init_statuses, statuses, terminal=view.terminal, initialized=initialized_before)
    if old.get("phase") in ("Succeeded", "Failed"):
        phase = old["phase"]  # a terminal phase never changes (status manager)
    other = [c for c in old.get("conditions") or [] if c.get("type") not in KUBELET_CONDITIONS]
    cready = containers_ready_condition(spec, init_statuses, statuses, phase)
    kubelet_conds = [
        {"type": "PodReadyToStartContainers",
         "status": "True" if view.sandbox_ready and phase not in ("Succeeded", "Failed") else "False"},
        initialized_condition(spec, init_statuses, statuses, phase),
        ready_condition(spec, cready, other),
        cready,
        {"type": "PodScheduled", "status": "True"},
    ]
    if k8s_version < (1, 29):  # PodReadyToStartContainers beta from 1.29 (V9)
        kubelet_conds = kubelet_conds[1:]
    status: Obj = {}
    for k, v in old.items():  # fields others own (nominatedNodeName, resize, qosClass ...)
        if k not in ("phase", "conditions", "containerStatuses", "initContainerStatuses", "hostIP", "hostIPs",
                     "podIP", "podIPs", "startTime", "reason", "message", "observedGeneration"):
            status[k] = v
    status["phase"] = phase
    status["conditions"] = merge_conditions(old.get("conditions") or [], kubelet_conds, now_s)
    if view.host_ip:
        status["hostIP"] = view.host_ip
        status["hostIPs"] = [{"ip": view.host_ip}]
    if view.pod_ip:
        status["podIP"] = view.pod_ip
        status["podIPs"] = [{"ip": view.pod_ip}]
    elif old.get("podIP") and phase in ("Succeeded", "Failed"):
        status["podIP"] = old["podIP"]
        status["podIPs"] = old.get("podIPs") or [{"ip": old["podIP"]}]
    start = view.start_time
    if old.get("startTime"):
        status["startTime"] = old["startTime"]
    elif start is not None:
        status["startTime"] = rfc3339(start)
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    status["containerStatuses"] = statuses
    if view.reason:
        status["reason"] = view.reason
    if view.message:
        status["message"] = view.message
    if k8s_version >= (1, 34):  # PodObservedGenerationTracking beta
        gen = (pod.get("metadata") or {}).get("generation")
        if gen:
            status["observedGeneration"] = gen
    return status


def status_differs(old: Obj, new: Obj) -> bool:
    """Would posting ``new`` change anything (a no-op status write is skipped)?"""
    return _norm(old) != _norm(new)


def _norm(st: Obj) -> Obj:
    return {k: v for k, v in (st or {}).items() if v not in (None, [], {}, "") or k == "phase"}


# -- IPs -------------------------------------------------------------------------------------
def allocate_ip(cidr: str, in_use: Iterable[str], last: str | None) -> str | None:
    """host-local IPAM: the next free address after the last one handed out, wrapping around.

    ``.0`` (network), ``.1`` (the bridge gateway) and the broadcast address are never handed out,
    and an address is only reused after the whole range went round.
    """
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None
    used = set(in_use)
    first = int(net.network_address) + 2
    end = int(net.broadcast_address) - 1
    if end < first:
        return None
    try:
        start = int(ipaddress.ip_address(last)) + 1 if last else first
    except ValueError:
        start = first
    if start < first or start > end:
        start = first
    size = end - first + 1
    for i in range(size):
        cand = first + (start - first + i) % size
        ip = str(ipaddress.ip_address(cand))
        if ip not in used:
            return ip
    return None


def fallback_cidr(node: str) -> str:
    h = int(hashlib.sha256(node.encode()).hexdigest()[:4], 16)
    return f"10.244.{128 + h % 120}.0/24"


def fallback_internal_ip(node: str) -> str:
    h = int(hashlib.sha256(b"ip:" + node.encode()).hexdigest()[:6], 16)
    return f"10.0.{1 + (h >> 8) % 250}.{4 + h % 250}"


# -- node status (nodestatus/setters.go) -----------------------------------------------------
NODE_CONDITIONS = [
    # type, status when healthy, reason, message, event on transition to healthy
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available",
     "NodeHasSufficientMemory"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", "NodeHasNoDiskPressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available",
     "NodeHasSufficientPID"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status", "NodeReady"),
]


def node_conditions(old: list[Obj], now: str) -> tuple[list[Obj], list[str]]:
    """The kubelet's node conditions (healthy node) and the events their transitions record.

    Conditions owned by others (NetworkUnavailable ...) are kept in place. A condition whose status
    changes (first post, or back from the node controller's Unknown) gets ``lastTransitionTime = now``
    and records ``NodeHasSufficientMemory`` / ... / ``NodeReady`` as upstream's setters do.
    """
    by_type = {c.get("type"): c for c in old or []}
    out = [dict(c) for c in old or [] if c.get("type") not in {t for t, *_ in NODE_CONDITIONS}]
    events = []
    for t, status, reason, message, event in NODE_CONDITIONS:
        prev = by_type.get(t)
        cond = {"type": t, "status": status, "lastHeartbeatTime": now, "reason": reason, "message": message}
        if prev is not None and prev.get("status") == status and prev.get("lastTransitionTime"):
            cond["lastTransitionTime"] = prev["lastTransitionTime"]
        else:
            cond["lastTransitionTime"] = now
            events.append(event)
        out.append(cond)
    return out, events


# Capacity per EC2 instance type (vCPU, memory Ki); allocatable as EKS's bootstrap reserves.
INSTANCE_TYPES = {
    "m5.large": (2, 7910348), "m5.xlarge": (4, 15928104), "m5.2xlarge": (8, 32010444),
    "t3.medium": (2, 3955348), "t3.large": (2, 7910348), "t3.xlarge": (4, 15928104),
    "c5.large": (2, 3795260), "c5.xlarge": (4, 7733104), "r5.large": (2, 15928104),
}


def node_resources(instance_type: str) -> tuple[Obj, Obj]:
    cpu, mem_ki = INSTANCE_TYPES.get(instance_type, INSTANCE_TYPES["m5.large"])
    capacity = {"cpu": str(cpu), "ephemeral-storage": "20959212Ki", "hugepages-1Gi": "0", "hugepages-2Mi": "0",
                "memory": f"{mem_ki}Ki", "pods": "110"}
    reserved_m = 70 + 10 * cpu  # EKS kube-reserved cpu, roughly
    allocatable = {"cpu": f"{cpu * 1000 - reserved_m}m", "ephemeral-storage": "18242267924",
                   "hugepages-1Gi": "0", "hugepages-2Mi": "0",
                   "memory": f"{max(0, mem_ki - 690176)}Ki", "pods": "110"}
    return capacity, allocatable


def node_status(node: Obj, *, now: str, internal_ip: str, boot_id: str, kubelet_version: str,
                machine_id: str, system_uuid: str) -> tuple[Obj, list[str]]:
    """The node status the kubelet posts, merged over what is stored; returns (status, events)."""
    old = node.get("status") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    name = (node.get("metadata") or {}).get("name", "")
    status = dict(old)
    capacity, allocatable = node_resources(labels.get("node.kubernetes.io/instance-type", "m5.large"))
    status["capacity"] = old.get("capacity") or capacity
    status["allocatable"] = old.get("allocatable") or allocatable
    status["conditions"], events = node_conditions(old.get("conditions") or [], now)
    addrs = [a for a in old.get("addresses") or [] if a.get("type") not in ("InternalIP", "Hostname")]
    status["addresses"] = [{"type": "InternalIP", "address": internal_ip}] + addrs + \
        [{"type": "Hostname", "address": name}]
    status["daemonEndpoints"] = {"kubeletEndpoint": {"Port": 10250}}
    info = dict(old.get("nodeInfo") or {})
    rebooted = bool(info.get("bootID")) and info.get("bootID") != boot_id
    info.update({"architecture": "amd64", "bootID": boot_id, "containerRuntimeVersion": "containerd://1.7.27",
                 "kernelVersion": "6.1.0-kubesim", "kubeProxyVersion": "", "kubeletVersion": kubelet_version,
                 "machineID": info.get("machineID") or machine_id, "operatingSystem": "linux",
                 "osImage": "Amazon Linux 2023.7.20250512", "systemUUID": info.get("systemUUID") or system_uuid})
    status["nodeInfo"] = info
    status.setdefault("images", [])
    if rebooted:
        events.insert(0, "Rebooted")
    return status, events


def node_status_differs(old: Obj, new: Obj) -> bool:
    """Changed in anything but heartbeat times (kubelet_node_status.go: report only on change)."""
    def strip(st: Obj) -> Obj:
        st = dict(st or {})
        st["conditions"] = [{k: v for k, v in c.items() if k != "lastHeartbeatTime"}
                            for c in st.get("conditions") or []]
        return st
    return strip(old) != strip(new)
