"""Printers for core/v1 kinds (k/k ``pkg/printers/internalversion/printers.go``, Kubernetes 1.33).

Each ``print_*`` returns the full (wide) cell list of one row; column lists sit next to
their printer and follow ``AddHandlers`` exactly (names, types, formats, descriptions,
priorities).
"""

from __future__ import annotations

from typing import Any

from .common import (
    CONTAINERS_TEXT, IMAGES_TEXT, Cells, Obj, age, age_col, col, container_cells, format_labels,
    name_col, parse_time, quantity, since,
)

_E: dict[str, Any] = {}
_L: list[Any] = []

# --- pods ----------------------------------------------------------------------------------

POD_COLUMNS = [
    name_col(),
    col("Ready", text="The aggregate readiness state of this pod for accepting traffic."),
    col("Status", text="The aggregate status of the containers in this pod."),
    col("Restarts", text="The number of times the containers in this pod have been restarted and when "
        "the last container in this pod has restarted."),
    age_col(),
    col("IP", doc="core/v1.PodStatus.podIP", priority=1),
    col("Node", doc="core/v1.PodSpec.nodeName", priority=1),
    col("Nominated Node", doc="core/v1.PodStatus.nominatedNodeName", priority=1),
    col("Readiness Gates", doc="core/v1.PodSpec.readinessGates", priority=1),
]

POD_SUCCEEDED = [{"type": "Completed", "status": "True", "reason": "Succeeded",
                  "message": "The pod has completed successfully."}]
POD_FAILED = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]


def pod_conditions(obj: Obj) -> list[dict[str, str]] | None:
    """printers.go ``printPod`` row conditions (``podSuccessConditions``/``podFailedConditions``)."""
    phase = (obj.get("status") or _E).get("phase")
    if phase == "Succeeded":
        return POD_SUCCEEDED
    if phase == "Failed":
        return POD_FAILED
    return None


def _finished_at(cs: dict[str, Any]) -> str | None:
    term = (cs.get("lastState") or _E).get("terminated")
    return term.get("finishedAt") if term else None


def _later(a: str | None, b: str | None) -> str | None:
    # RFC 3339 UTC texts of the same shape order as strings; fall back to parsing otherwise.
    if not b:
        return a
    if not a:
        return b
    if len(a) == len(b) and a[-1] == b[-1] == "Z":
        return b if b > a else a
    try:
        return b if (parse_time(b) or 0) > (parse_time(a) or 0) else a
    except ValueError:
        return a


def print_pod(obj: Obj, now: float) -> Cells:
    """printers.go ``printPod``."""
    spec = obj.get("spec") or _E
    status = obj.get("status") or _E
    meta = obj.get("metadata") or _E
    containers = spec.get("containers") or _L
    init_specs = spec.get("initContainers") or _L
    total = len(containers)
    ready = 0
    restarts = 0
    restartable_restarts = 0
    last_restart: str | None = None
    last_restartable: str | None = None

    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for cond in status.get("conditions") or _L:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    restartable: set[str] = set()
    for c in init_specs:
        if c.get("restartPolicy") == "Always":  # podutil.IsRestartableInitContainer
            restartable.add(c.get("name", ""))
            total += 1

    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or _L):
        count = cs.get("restartCount") or 0
        restarts += count
        finished = _finished_at(cs)
        last_restart = _later(last_restart, finished)
        is_restartable = cs.get("name") in restartable
        if is_restartable:
            restartable_restarts += count
            last_restartable = _later(last_restartable, finished)
        state = cs.get("state") or _E
        term = state.get("terminated")
        waiting = state.get("waiting")
        if term is not None and (term.get("exitCode") or 0) == 0:
            continue
        if is_restartable and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if term is not None:
            if not term.get("reason"):
                if term.get("signal"):
                    reason = f"Init:Signal:{term['signal']}"
                else:
                    reason = f"Init:ExitCode:{term.get('exitCode') or 0}"
            else:
                reason = "Init:" + term["reason"]
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _initialized(status):
        restarts = restartable_restarts
        last_restart = last_restartable
        has_running = False
        for cs in reversed(status.get("containerStatuses") or _L):
            restarts += cs.get("restartCount") or 0
            last_restart = _later(last_restart, _finished_at(cs))
            state = cs.get("state") or _E
            waiting = state.get("waiting")
            term = state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif term is not None and term.get("reason"):
                reason = term["reason"]
            elif term is not None:
                if term.get("signal"):
                    reason = f"Signal:{term['signal']}"
                else:
                    reason = f"ExitCode:{term.get('exitCode') or 0}"
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _has_condition(status, "Ready") else "NotReady"

    if meta.get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":  # node.NodeUnreachablePodReason
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"

    restarts_cell = str(restarts)
    if restarts != 0 and last_restart:
        restarts_cell = f"{restarts} ({since(last_restart, now)} ago)"

    pod_ips = status.get("podIPs")
    pod_ip = (pod_ips[0].get("ip") if pod_ips else status.get("podIP")) or "<none>"
    gates = spec.get("readinessGates")
    gates_cell = "<none>"
    if gates:
        conds = status.get("conditions") or _L
        true_count = 0
        for gate in gates:
            for cond in conds:
                if cond.get("type") == gate.get("conditionType"):
                    if cond.get("status") == "True":
                        true_count += 1
                    break
        gates_cell = f"{true_count}/{len(gates)}"
    return [meta.get("name", ""), f"{ready}/{total}", reason, restarts_cell, age(obj, now),
            pod_ip, spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>",
            gates_cell]


def _initialized(status: dict[str, Any]) -> bool:
    """printers.go ``isPodInitializedConditionTrue``."""
    for cond in status.get("conditions") or _L:
        if cond.get("type") == "Initialized":
            return cond.get("status") == "True"
    return False


def _has_condition(status: dict[str, Any], ctype: str) -> bool:
    """printers.go ``hasPodReadyCondition`` (any matching condition that is True)."""
    return any(c.get("type") == ctype and c.get("status") == "True" for c in status.get("conditions") or _L)


# --- pod templates, replication controllers ------------------------------------------------

POD_TEMPLATE_COLUMNS = [
    name_col(),
    col("Containers", text="Names of each container in the template."),
    col("Images", text="Images referenced by each container in the template."),
    col("Pod Labels", text="The labels for the pod template."),
]


def print_pod_template(obj: Obj, now: float) -> Cells:
    """printers.go ``printPodTemplate``."""
    template = obj.get("template") or _E
    names, images = container_cells(template.get("spec"))
    labels = (template.get("metadata") or _E).get("labels")
    return [obj["metadata"].get("name", ""), names, images, format_labels(labels)]


RC_COLUMNS = [
    name_col(),
    col("Desired", "integer", "core/v1.ReplicationControllerSpec.replicas"),
    col("Current", "integer", "core/v1.ReplicationControllerStatus.replicas"),
    col("Ready", "integer", "core/v1.ReplicationControllerStatus.readyReplicas"),
    age_col(),
    col("Containers", text=CONTAINERS_TEXT, priority=1),
    col("Images", text=IMAGES_TEXT, priority=1),
    col("Selector", doc="core/v1.ReplicationControllerSpec.selector", priority=1),
]


def print_replication_controller(obj: Obj, now: float) -> Cells:
    """printers.go ``printReplicationController``."""
    spec = obj.get("spec") or _E
    status = obj.get("status") or _E
    replicas = spec.get("replicas")
    names, images = container_cells((spec.get("template") or _E).get("spec"))
    return [obj["metadata"].get("name", ""), 1 if replicas is None else replicas,
            status.get("replicas") or 0, status.get("readyReplicas") or 0, age(obj, now),
            names, images, format_labels(spec.get("selector"))]


# --- services and endpoints ----------------------------------------------------------------

SERVICE_COLUMNS = [
    name_col(),
    col("Type", doc="core/v1.ServiceSpec.type"),
    col("Cluster-IP", doc="core/v1.ServiceSpec.clusterIP"),
    col("External-IP", doc="core/v1.ServiceSpec.externalIPs"),
    col("Port(s)", doc="core/v1.ServiceSpec.ports"),
    age_col(),
    col("Selector", doc="core/v1.ServiceSpec.selector", priority=1),
]


def _external_ip(spec: dict[str, Any], status: dict[str, Any]) -> str:
    """printers.go ``getServiceExternalIP`` with wide=true (the server never clips)."""
    svc_type = spec.get("type") or ""
    external = spec.get("externalIPs") or _L
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if svc_type == "LoadBalancer":
        ingress = ((status.get("loadBalancer") or _E).get("ingress")) or _L
        lb = sorted({i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")})
        if external:
            return ",".join(lb + list(external))
        return ",".join(lb) if lb else "<pending>"
    if svc_type == "ExternalName":
        return spec.get("externalName") or ""
    return "<unknown>"


def print_service(obj: Obj, now: float) -> Cells:
    """printers.go ``printService`` (+ ``makePortString``)."""
    spec = obj.get("spec") or _E
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else _L)
    pieces = []
    for p in spec.get("ports") or _L:
        proto = p.get("protocol") or "TCP"  # SetDefaults_ServicePort
        if p.get("nodePort"):
            pieces.append(f"{p.get('port', 0)}:{p['nodePort']}/{proto}")
        else:
            pieces.append(f"{p.get('port', 0)}/{proto}")
    return [obj["metadata"].get("name", ""), spec.get("type") or "", cluster_ips[0] if cluster_ips else "<none>",
            _external_ip(spec, obj.get("status") or _E), ",".join(pieces) or "<none>", age(obj, now),
            format_labels(spec.get("selector"))]


ENDPOINTS_COLUMNS = [name_col(), col("Endpoints", doc="core/v1.Endpoints.subsets"), age_col()]


def _join_host_port(ip: str, port: Any) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"  # net.JoinHostPort


def format_endpoints(obj: Obj) -> str:
    """printers.go ``formatEndpoints`` (ports=nil: all ports)."""
    subsets = obj.get("subsets") or _L
    if not subsets:
        return "<none>"
    out: list[str] = []
    limit, more, count = 3, False, 0
    for ss in subsets:
        addresses = ss.get("addresses") or _L
        ports = ss.get("ports") or _L
        if not ports:
            count += len(addresses)
            for a in addresses:
                if len(out) == limit:
                    more = True
                    break
                out.append(a.get("ip", ""))
            continue
        for port in ports:
            count += len(addresses)
            for a in addresses:
                if len(out) == limit:
                    more = True
                    break
                out.append(_join_host_port(a.get("ip", ""), port.get("port", 0)))
    text = ",".join(out)
    return f"{text} + {count - limit} more..." if more else text


def print_endpoints(obj: Obj, now: float) -> Cells:
    """printers.go ``printEndpoints``."""
    return [obj["metadata"].get("name", ""), format_endpoints(obj), age(obj, now)]


# --- nodes ---------------------------------------------------------------------------------

NODE_COLUMNS = [
    name_col(),
    col("Status", text="The status of the node"),
    col("Roles", text="The roles of the node"),
    age_col(),
    col("Version", doc="core/v1.NodeSystemInfo.kubeletVersion"),
    col("Internal-IP", doc="core/v1.NodeStatus.addresses", priority=1),
    col("External-IP", doc="core/v1.NodeStatus.addresses", priority=1),
    col("OS-Image", doc="core/v1.NodeSystemInfo.osImage", priority=1),
    col("Kernel-Version", doc="core/v1.NodeSystemInfo.kernelVersion", priority=1),
    col("Container-Runtime", doc="core/v1.NodeSystemInfo.containerRuntimeVersion", priority=1),
]


def node_roles(labels: dict[str, str] | None) -> list[str]:
    """printers.go ``findNodeRoles``: ``node-role.kubernetes.io/<role>`` keys, ``kubernetes.io/role`` values."""
    roles: set[str] = set()
    for k, v in (labels or _E).items():
        if k.startswith("node-role.kubernetes.io/"):
            role = k[len("node-role.kubernetes.io/"):]
            if role:
                roles.add(role)
        elif k == "kubernetes.io/role" and v:
            roles.add(v)
    return sorted(roles)


def _address(addresses: list[dict[str, Any]], kind: str) -> str:
    for a in addresses:
        if a.get("type") == kind:
            return a.get("address", "")
    return "<none>"


def print_node(obj: Obj, now: float) -> Cells:
    """printers.go ``printNode`` (+ ``getNodeInternalIP``/``getNodeExternalIP``)."""
    spec = obj.get("spec") or _E
    status = obj.get("status") or _E
    ready = None
    for cond in status.get("conditions") or _L:
        if cond.get("type") == "Ready":
            ready = cond  # conditionMap keeps the last one of a type
    states = [] if ready is None else ["Ready" if ready.get("status") == "True" else "NotReady"]
    if not states:
        states.append("Unknown")
    if spec.get("unschedulable"):
        states.append("SchedulingDisabled")
    info = status.get("nodeInfo") or _E
    addresses = status.get("addresses") or _L
    return [obj["metadata"].get("name", ""), ",".join(states),
            ",".join(node_roles(obj["metadata"].get("labels"))) or "<none>", age(obj, now),
            info.get("kubeletVersion", ""), _address(addresses, "InternalIP"), _address(addresses, "ExternalIP"),
            info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


# --- namespaces, config ----------------------------------------------------------------------

NAMESPACE_COLUMNS = [name_col(), col("Status", text="The status of the namespace"), age_col()]


def print_namespace(obj: Obj, now: float) -> Cells:
    """printers.go ``printNamespace``."""
    return [obj["metadata"].get("name", ""), (obj.get("status") or _E).get("phase") or "", age(obj, now)]


SECRET_COLUMNS = [name_col(), col("Type", doc="core/v1.Secret.type"), col("Data", doc="core/v1.Secret.data"),
                  age_col()]


def print_secret(obj: Obj, now: float) -> Cells:
    """printers.go ``printSecret`` (type defaults to Opaque: SetDefaults_Secret)."""
    return [obj["metadata"].get("name", ""), obj.get("type") or "Opaque", len(obj.get("data") or _E), age(obj, now)]


CONFIGMAP_COLUMNS = [name_col(), col("Data", doc="core/v1.ConfigMap.data"), age_col()]


def print_config_map(obj: Obj, now: float) -> Cells:
    """printers.go ``printConfigMap``."""
    return [obj["metadata"].get("name", ""), len(obj.get("data") or _E) + len(obj.get("binaryData") or _E),
            age(obj, now)]


SERVICE_ACCOUNT_COLUMNS = [name_col(), col("Secrets", doc="core/v1.ServiceAccount.secrets"), age_col()]


def print_service_account(obj: Obj, now: float) -> Cells:
    """printers.go ``printServiceAccount``."""
    return [obj["metadata"].get("name", ""), len(obj.get("secrets") or _L), age(obj, now)]


RESOURCE_QUOTA_COLUMNS = [
    name_col(),
    col("Request", text="Request represents a minimum amount of cpu/memory that a container may consume."),
    col("Limit", text="Limits control the maximum amount of cpu/memory that a container may use independent "
        "of contention on the node."),
    age_col(),
]


def print_resource_quota(obj: Obj, now: float) -> Cells:
    """printers.go ``printResourceQuota``."""
    status = obj.get("status") or _E
    hard = status.get("hard") or _E
    used = status.get("used") or _E
    requests: list[str] = []
    limits: list[str] = []
    for name in sorted(hard):
        parts = name.split(".")
        target = limits if len(parts) > 1 and parts[0] == "limits" else requests
        target.append(f"{name}: {quantity(used.get(name))}/{quantity(hard[name])}")
    return [obj["metadata"].get("name", ""), ", ".join(requests), ", ".join(limits), age(obj, now)]


# --- storage -------------------------------------------------------------------------------

def access_modes(modes: list[str] | None) -> str:
    """core helper ``GetAccessModesAsString``."""
    modes = modes or _L
    out = []
    for mode, short in (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
                        ("ReadWriteOncePod", "RWOP")):
        if mode in modes:
            out.append(short)
    return ",".join(out)


_BETA_CLASS = "volume.beta.kubernetes.io/storage-class"

PV_COLUMNS = [
    name_col(),
    col("Capacity", doc="core/v1.PersistentVolumeSpec.capacity"),
    col("Access Modes", doc="core/v1.PersistentVolumeSpec.accessModes"),
    col("Reclaim Policy", doc="core/v1.PersistentVolumeSpec.persistentVolumeReclaimPolicy"),
    col("Status", doc="core/v1.PersistentVolumeStatus.phase"),
    col("Claim", doc="core/v1.PersistentVolumeSpec.claimRef"),
    col("StorageClass", text="StorageClass of the pv"),
    col("VolumeAttributesClass", text="VolumeAttributesClass of the pv"),
    col("Reason", doc="core/v1.PersistentVolumeStatus.reason"),
    age_col(),
    col("VolumeMode", doc="core/v1.PersistentVolumeSpec.volumeMode", priority=1),
]


def print_persistent_volume(obj: Obj, now: float) -> Cells:
    """printers.go ``printPersistentVolume`` (+ helper ``GetPersistentVolumeClass``)."""
    meta = obj["metadata"]
    spec = obj.get("spec") or _E
    status = obj.get("status") or _E
    ref = spec.get("claimRef")
    claim = f"{ref.get('namespace', '')}/{ref.get('name', '')}" if ref else ""
    phase = "Terminating" if meta.get("deletionTimestamp") else status.get("phase") or ""
    annotations = meta.get("annotations") or _E
    sc = annotations[_BETA_CLASS] if _BETA_CLASS in annotations else spec.get("storageClassName") or ""
    vac = spec.get("volumeAttributesClassName")
    return [meta.get("name", ""), quantity((spec.get("capacity") or _E).get("storage")),
            access_modes(spec.get("accessModes")), spec.get("persistentVolumeReclaimPolicy") or "", phase, claim,
            sc, "<unset>" if vac is None else vac, status.get("reason") or "", age(obj, now),
            spec.get("volumeMode") or "<unset>"]


PVC_COLUMNS = [
    name_col(),
    col("Status", doc="core/v1.PersistentVolumeClaimStatus.phase"),
    col("Volume", doc="core/v1.PersistentVolumeClaimSpec.volumeName"),
    col("Capacity", doc="core/v1.PersistentVolumeClaimStatus.capacity"),
    col("Access Modes", doc="core/v1.PersistentVolumeClaimStatus.accessModes"),
    col("StorageClass", text="StorageClass of the pvc"),
    col("VolumeAttributesClass", text="VolumeAttributesClass of the pvc"),
    age_col(),
    col("VolumeMode", doc="core/v1.PersistentVolumeClaimSpec.volumeMode", priority=1),
]


def print_persistent_volume_claim(obj: Obj, now: float) -> Cells:
    """printers.go ``printPersistentVolumeClaim`` (+ helper ``GetPersistentVolumeClaimClass``)."""
    meta = obj["metadata"]
    spec = obj.get("spec") or _E
    status = obj.get("status") or _E
    phase = "Terminating" if meta.get("deletionTimestamp") else status.get("phase") or ""
    capacity = modes = ""
    if spec.get("volumeName"):
        modes = access_modes(status.get("accessModes"))
        capacity = quantity((status.get("capacity") or _E).get("storage"))
    annotations = meta.get("annotations") or _E
    sc = annotations[_BETA_CLASS] if _BETA_CLASS in annotations else spec.get("storageClassName") or ""
    vac = spec.get("volumeAttributesClassName")
    return [meta.get("name", ""), phase, spec.get("volumeName") or "", capacity, modes, sc,
            "<unset>" if vac is None else vac, age(obj, now), spec.get("volumeMode") or "<unset>"]


# --- events --------------------------------------------------------------------------------

EVENT_COLUMNS = [
    col("Last Seen", doc="core/v1.Event.lastTimestamp"),
    col("Type", doc="core/v1.Event.type"),
    col("Reason", doc="core/v1.Event.reason"),
    col("Object", doc="core/v1.Event.involvedObject"),
    col("Subobject", doc="core/v1.ObjectReference.fieldPath", priority=1),
    col("Source", doc="core/v1.Event.source", priority=1),
    col("Message", doc="core/v1.Event.message"),
    col("First Seen", doc="core/v1.Event.firstTimestamp", priority=1),
    col("Count", doc="core/v1.Event.count", priority=1),
    name_col(priority=1),
]


def print_event(obj: Obj, now: float) -> Cells:
    """printers.go ``printEvent`` (+ ``formatEventSource``).

    Reads both shapes the shared event storage can hold: core/v1 and events.k8s.io/v1
    (whose fields map onto the internal Event: regarding, note, deprecated*).
    """
    involved = obj.get("involvedObject")
    if involved is None:
        involved = obj.get("regarding") or _E
    source = obj.get("source")
    if source is None:
        source = obj.get("deprecatedSource") or _E
    first_ts = obj.get("firstTimestamp", obj.get("deprecatedFirstTimestamp"))
    last_ts = obj.get("lastTimestamp", obj.get("deprecatedLastTimestamp"))
    count = obj.get("count", obj.get("deprecatedCount")) or 0
    message = obj.get("message", obj.get("note")) or ""

    first = since(first_ts, now) if first_ts else since(obj.get("eventTime"), now)
    last = since(last_ts, now) if last_ts else first
    series = obj.get("series")
    if series is not None:
        last = since(series.get("lastObservedTime"), now)
        count = series.get("count") or 0
    elif count == 0:
        count = 1  # singleton events carry no count in the new API
    kind = (involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    component = source.get("component") or obj.get("reportingController") or obj.get("reportingComponent") or ""
    instance = source.get("host") or obj.get("reportingInstance") or ""
    source_cell = f"{component}, {instance}" if instance else component
    return [last, obj.get("type") or "", obj.get("reason") or "", target, involved.get("fieldPath") or "",
            source_cell, message.strip(), first, count, obj["metadata"].get("name", "")]
