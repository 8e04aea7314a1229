"""Printers for apps/v1, batch/v1 and policy/v1 kinds.

Source: k/k ``pkg/printers/internalversion/printers.go`` (Kubernetes 1.33), ``AddHandlers``
column definitions and the ``print*`` functions named in each docstring.
"""

from __future__ import annotations

from typing import Any

from .common import (
    CONTAINERS_TEXT, IMAGES_TEXT, Cells, Obj, age, age_col, bool_ptr, col, condition_true, container_cells,
    format_label_selector, format_labels, human_duration, int_or_string, name_col, parse_time, selector_string,
    since, template_spec,
)

_E: dict[str, Any] = {}
_L: list[Any] = []


def _replicas(spec: dict[str, Any]) -> int:
    value = spec.get("replicas")
    return 1 if value is None else value  # SetDefaults_{StatefulSet,Deployment,ReplicaSet}


STATEFULSET_COLUMNS = [
    name_col(),
    col("Ready", text="Number of the pod with ready state"),
    age_col(),
    col("Containers", text=CONTAINERS_TEXT, priority=1),
    col("Images", text=IMAGES_TEXT, priority=1),
]


def print_stateful_set(obj: Obj, now: float) -> Cells:
    """printers.go ``printStatefulSet``."""
    spec = obj.get("spec") or _E
    ready = (obj.get("status") or _E).get("readyReplicas") or 0
    names, images = container_cells(template_spec(obj))
    return [obj["metadata"].get("name", ""), f"{ready}/{_replicas(spec)}", age(obj, now), names, images]


DEPLOYMENT_COLUMNS = [
    name_col(),
    col("Ready", text="Number of the pod with ready state"),
    col("Up-to-date", doc="extensions/v1beta1.DeploymentStatus.updatedReplicas"),
    col("Available", doc="extensions/v1beta1.DeploymentStatus.availableReplicas"),
    age_col(),
    col("Containers", text=CONTAINERS_TEXT, priority=1),
    col("Images", text=IMAGES_TEXT, priority=1),
    col("Selector", doc="extensions/v1beta1.DeploymentSpec.selector", priority=1),
]


def print_deployment(obj: Obj, now: float) -> Cells:
    """printers.go ``printDeployment`` (selector via ``LabelSelectorAsSelector(...).String()``)."""
    spec = obj.get("spec") or _E
    status = obj.get("status") or _E
    names, images = container_cells(template_spec(obj))
    return [obj["metadata"].get("name", ""), f"{status.get('readyReplicas') or 0}/{_replicas(spec)}",
            status.get("updatedReplicas") or 0, status.get("availableReplicas") or 0, age(obj, now),
            names, images, selector_string(spec.get("selector"))]


REPLICASET_COLUMNS = [
    name_col(),
    col("Desired", "integer", "extensions/v1beta1.ReplicaSetSpec.replicas"),
    col("Current", "integer", "extensions/v1beta1.ReplicaSetStatus.replicas"),
    col("Ready", "integer", "extensions/v1beta1.ReplicaSetStatus.readyReplicas"),
    age_col(),
    col("Containers", text=CONTAINERS_TEXT, priority=1),
    col("Images", text=IMAGES_TEXT, priority=1),
    col("Selector", doc="extensions/v1beta1.ReplicaSetSpec.selector", priority=1),
]


def print_replica_set(obj: Obj, now: float) -> Cells:
    """printers.go ``printReplicaSet``."""
    spec = obj.get("spec") or _E
    status = obj.get("status") or _E
    names, images = container_cells(template_spec(obj))
    return [obj["metadata"].get("name", ""), _replicas(spec), status.get("replicas") or 0,
            status.get("readyReplicas") or 0, age(obj, now), names, images,
            format_label_selector(spec.get("selector"))]


DAEMONSET_COLUMNS = [
    name_col(),
    col("Desired", "integer", "extensions/v1beta1.DaemonSetStatus.desiredNumberScheduled"),
    col("Current", "integer", "extensions/v1beta1.DaemonSetStatus.currentNumberScheduled"),
    col("Ready", "integer", "extensions/v1beta1.DaemonSetStatus.numberReady"),
    col("Up-to-date", "integer", "extensions/v1beta1.DaemonSetStatus.updatedNumberScheduled"),
    col("Available", "integer", "extensions/v1beta1.DaemonSetStatus.numberAvailable"),
    col("Node Selector", doc="core/v1.PodSpec.nodeSelector"),
    age_col(),
    col("Containers", text=CONTAINERS_TEXT, priority=1),
    col("Images", text=IMAGES_TEXT, priority=1),
    col("Selector", doc="extensions/v1beta1.DaemonSetSpec.selector", priority=1),
]


def print_daemon_set(obj: Obj, now: float) -> Cells:
    """printers.go ``printDaemonSet``."""
    status = obj.get("status") or _E
    pod_spec = template_spec(obj)
    names, images = container_cells(pod_spec)
    return [obj["metadata"].get("name", ""), status.get("desiredNumberScheduled") or 0,
            status.get("currentNumberScheduled") or 0, status.get("numberReady") or 0,
            status.get("updatedNumberScheduled") or 0, status.get("numberAvailable") or 0,
            format_labels(pod_spec.get("nodeSelector")), age(obj, now), names, images,
            format_label_selector((obj.get("spec") or _E).get("selector"))]


CONTROLLER_REVISION_COLUMNS = [
    name_col(),
    col("Controller", text="Controller of the object"),
    col("Revision", doc="apps/v1beta1.ControllerRevision.revision"),
    age_col(),
]


def print_controller_revision(obj: Obj, now: float) -> Cells:
    """printers.go ``printControllerRevision`` (+ ``formatResourceName``)."""
    controller = "<none>"
    for ref in obj["metadata"].get("ownerReferences") or _L:
        if ref.get("controller"):  # metav1.GetControllerOf
            api_version = ref.get("apiVersion") or ""
            group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
            kind = ref.get("kind") or ""
            group_kind = f"{kind}.{group}" if group else kind
            controller = f"{group_kind.lower()}/{ref.get('name', '')}" if group_kind else ref.get("name", "")
            break
    return [obj["metadata"].get("name", ""), controller, obj.get("revision") or 0, age(obj, now)]


JOB_COLUMNS = [
    name_col(),
    col("Status", text="Status of the job."),
    col("Completions", doc="batch/v1.JobStatus.succeeded"),
    col("Duration", text="Time required to complete the job."),
    age_col(),
    col("Containers", text=CONTAINERS_TEXT, priority=1),
    col("Images", text=IMAGES_TEXT, priority=1),
    col("Selector", doc="batch/v1.JobSpec.selector", priority=1),
]


def print_job(obj: Obj, now: float) -> Cells:
    """printers.go ``printJob``."""
    spec = obj.get("spec") or _E
    status = obj.get("status") or _E
    succeeded = status.get("succeeded") or 0
    completions = spec.get("completions")
    parallelism = spec.get("parallelism")
    if completions is None and parallelism is None:
        completions = 1  # SetDefaults_Job: both unset -> both 1
    if completions is not None:
        completions_cell = f"{succeeded}/{completions}"
    elif (parallelism or 0) > 1:
        completions_cell = f"{succeeded}/1 of {parallelism}"
    else:
        completions_cell = f"{succeeded}/1"
    duration = ""
    try:
        start = parse_time(status.get("startTime"))
        end = parse_time(status.get("completionTime"))
    except ValueError:
        start = end = None
    if start is not None:
        duration = human_duration((now if end is None else end) - start)
    conditions = status.get("conditions")
    if condition_true(conditions, "Complete"):
        state = "Complete"
    elif condition_true(conditions, "Failed"):
        state = "Failed"
    elif obj["metadata"].get("deletionTimestamp"):
        state = "Terminating"
    elif condition_true(conditions, "Suspended"):
        state = "Suspended"
    elif condition_true(conditions, "FailureTarget"):
        state = "FailureTarget"
    else:
        state = "Running"
    names, images = container_cells(template_spec(obj))
    return [obj["metadata"].get("name", ""), state, completions_cell, duration, age(obj, now), names, images,
            format_label_selector(spec.get("selector"))]


CRONJOB_COLUMNS = [
    name_col(),
    col("Schedule", doc="batch/v1beta1.CronJobSpec.schedule"),
    col("Timezone", doc="batch/v1beta1.CronJobSpec.timeZone"),
    col("Suspend", "boolean", "batch/v1beta1.CronJobSpec.suspend"),
    col("Active", "integer", "batch/v1beta1.CronJobStatus.active"),
    col("Last Schedule", doc="batch/v1beta1.CronJobStatus.lastScheduleTime"),
    age_col(),
    col("Containers", text=CONTAINERS_TEXT, priority=1),
    col("Images", text=IMAGES_TEXT, priority=1),
    col("Selector", doc="batch/v1.JobSpec.selector", priority=1),
]


def print_cron_job(obj: Obj, now: float) -> Cells:
    """printers.go ``printCronJob`` (suspend defaults to false: SetDefaults_CronJob)."""
    spec = obj.get("spec") or _E
    status = obj.get("status") or _E
    last = status.get("lastScheduleTime")
    job_spec = ((spec.get("jobTemplate") or _E).get("spec")) or _E
    names, images = container_cells((job_spec.get("template") or _E).get("spec"))
    suspend = spec.get("suspend")
    return [obj["metadata"].get("name", ""), spec.get("schedule") or "", spec.get("timeZone") or "<none>",
            bool_ptr(False if suspend is None else suspend), len(status.get("active") or _L),
            since(last, now) if last else "<none>", age(obj, now), names, images,
            format_label_selector(job_spec.get("selector"))]


PDB_COLUMNS = [
    name_col(),
    col("Min Available", text="The minimum number of pods that must be available."),
    col("Max Unavailable", text="The maximum number of pods that may be unavailable."),
    col("Allowed Disruptions", "integer", text="Calculated number of pods that may be disrupted at this time."),
    age_col(),
]


def print_pod_disruption_budget(obj: Obj, now: float) -> Cells:
    """printers.go ``printPodDisruptionBudget``."""
    spec = obj.get("spec") or _E
    min_available = spec.get("minAvailable")
    max_unavailable = spec.get("maxUnavailable")
    return [obj["metadata"].get("name", ""),
            "N/A" if min_available is None else int_or_string(min_available),
            "N/A" if max_unavailable is None else int_or_string(max_unavailable),
            (obj.get("status") or _E).get("disruptionsAllowed") or 0, age(obj, now)]
