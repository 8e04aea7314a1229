"""What kube-scheduler says when a pod does not fit: reasons, statuses and the FailedScheduling text.

Every string here is upstream's, with the file it comes from; the few that
changed between releases take the emulated version (``k8s_version``):

- V2 (sim-fidelity §0): VolumeBinding ``ErrReasonNodeConflict`` was
  ``node(s) had volume node affinity conflict`` and is
  ``node(s) didn't match PersistentVolume's node affinity`` from 1.33
  (k/k PR #129887, ``pkg/scheduler/framework/plugins/volumebinding/binder.go``).
- V3: TaintToleration ``node(s) had untolerated taint {KEY: VALUE}`` became
  ``node(s) had untolerated taint(s)`` in 1.35 (k/k PR #134740;
  ``plugins/tainttoleration/taint_toleration.go`` ``Filter``). The 1.34.x
  cherry-pick is ignored: 1.34 keeps the old text here.
- V12: from 1.34 the DynamicResources plugin runs as a PostFilter before
  DefaultPreemption and contributes ``no new claims to deallocate`` to the
  PostFilter message (observed in 1.34+ events; the framework joins PostFilter
  reasons with ``", "`` in ``runtime/framework.go`` ``RunPostFilterPlugins``).

The message layout is ``FitError.Error`` (``pkg/scheduler/framework/types.go``):
``0/N nodes are available: <prefilter msg>.`` when a PreFilter plugin rejected
the pod, otherwise ``0/N nodes are available: <histogram>.`` where the
histogram is ``"<count> <reason>"`` for every reason of every node, sorted with
Go's ``sort.Strings`` (byte order, so ``"10 ..."`` sorts before ``"2 ..."``),
joined with ``", "``; then ``" " + <PostFilter msg>``. DefaultPreemption's
message is ``preemption: `` + a nested FitError over its own per-node statuses:
nodes whose filter status was UnschedulableAndUnresolvable get
``Preemption is not helpful for scheduling``; the others, where no
lower-priority victim exists, ``No preemption victims found for incoming pod``
(``plugins/defaultpreemption/default_preemption.go`` ``SelectVictimsOnNode``,
``framework/preemption/preemption.go`` ``nodesWherePreemptionMightHelp``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

Version = tuple[int, int]

# Status codes (framework/interface.go). Only these two reach a FitError.
UNSCHEDULABLE = "Unschedulable"
UNRESOLVABLE = "UnschedulableAndUnresolvable"

# plugins/nodeunschedulable/node_unschedulable.go
NODE_UNSCHEDULABLE = "node(s) were unschedulable"
# plugins/nodename/node_name.go
NODE_NAME = "node(s) didn't match the requested node name"
# plugins/nodeaffinity/node_affinity.go ErrReasonPod
NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
# plugins/nodeports/node_ports.go
NODE_PORTS = "node(s) didn't have free ports for the requested pod ports"
# plugins/noderesources/fit.go fitsRequest
TOO_MANY_PODS = "Too many pods"
# plugins/volumebinding/binder.go
VOLUME_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
VOLUME_NODE_CONFLICT = "node(s) didn't match PersistentVolume's node affinity"
VOLUME_NODE_CONFLICT_OLD = "node(s) had volume node affinity conflict"
VOLUME_NOT_ENOUGH_SPACE = "node(s) did not have enough free storage"
VOLUME_PV_NOT_EXIST = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
UNBOUND_IMMEDIATE_PVC = "pod has unbound immediate PersistentVolumeClaims"
# plugins/volumezone/volume_zone.go ErrReasonConflict
VOLUME_ZONE_CONFLICT = "node(s) had no available volume zone"
# plugins/podtopologyspread/filtering.go / plugin.go
SPREAD_CONSTRAINTS = "node(s) didn't match pod topology spread constraints"
SPREAD_MISSING_LABEL = SPREAD_CONSTRAINTS + " (missing required label)"
# plugins/interpodaffinity/filtering.go
POD_AFFINITY = "node(s) didn't match pod affinity rules"
POD_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
# preemption (framework/preemption/preemption.go, plugins/defaultpreemption/default_preemption.go)
PREEMPTION_NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_PREEMPTION_VICTIMS = "No preemption victims found for incoming pod"
PREEMPTION_NEVER = "not eligible due to preemptionPolicy=Never."
NO_CLAIMS_TO_DEALLOCATE = "no new claims to deallocate"
# schedule_one.go ErrNoNodesAvailable
NO_NODES_AVAILABLE = "no nodes available to schedule pods"
# schedule_one.go bindingCycle: Eventf(..., "Scheduled", "Binding", "Successfully assigned %v/%v to %v")
SCHEDULED = "Successfully assigned {namespace}/{name} to {node}"


def insufficient(resource: str) -> str:
    """``Insufficient cpu`` / ``Insufficient memory`` / ``Insufficient nvidia.com/gpu`` (fit.go)."""
    return f"Insufficient {resource}"


def untolerated_taint(taint: dict, version: Version = (1, 33)) -> str:
    """TaintToleration's reason for the first untolerated NoSchedule/NoExecute taint (V3)."""
    if version >= (1, 35):
        return "node(s) had untolerated taint(s)"
    return f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '') or ''}}}"


def volume_node_conflict(version: Version = (1, 33)) -> str:
    """VolumeBinding's reason for a bound PV whose nodeAffinity excludes the node (V2)."""
    return VOLUME_NODE_CONFLICT if version >= (1, 33) else VOLUME_NODE_CONFLICT_OLD


def pvc_not_found(name: str) -> str:
    return f'persistentvolumeclaim "{name}" not found'


def pvc_being_deleted(name: str) -> str:
    return f'persistentvolumeclaim "{name}" is being deleted'


def pvc_lost(name: str, volume: str) -> str:
    return f'persistentvolumeclaim "{name}" bound to non-existent persistentvolume "{volume}"'


def ephemeral_pvc_missing(name: str) -> str:
    return f'waiting for ephemeral volume controller to create the persistentvolumeclaim "{name}"'


def pv_not_found(name: str) -> str:
    """VolumeZone PreFilter when a claim's bound PV is gone (the lister's NotFound text)."""
    return f'persistentvolume "{name}" not found'


@dataclass(frozen=True)
class Status:
    """A plugin's verdict for one node (``framework.Status``): a code, its reasons, the plugin."""

    code: str
    reasons: tuple[str, ...]
    plugin: str = ""

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)


def reject(plugin: str, *reasons: str, code: str = UNRESOLVABLE) -> Status:
    return Status(code, tuple(reasons), plugin)


@dataclass
class Diagnosis:
    """Why a pod fits nowhere: per-node statuses, or the one PreFilter status that applied to all."""

    num_nodes: int
    node_status: dict[str, Status] = field(default_factory=dict)
    prefilter: Status | None = None

    @property
    def unschedulable_plugins(self) -> set[str]:
        if self.prefilter is not None:
            return {self.prefilter.plugin}
        return {s.plugin for s in self.node_status.values()}


def histogram(statuses: list[Status] | tuple[Status, ...]) -> list[str]:
    """``"<count> <reason>"`` for every reason, ordered as Go's ``sort.Strings`` (byte order)."""
    counts: dict[str, int] = {}
    for st in statuses:
        for r in st.reasons:
            counts[r] = counts.get(r, 0) + 1
    return sorted((f"{n} {r}" for r, n in counts.items()), key=lambda s: s.encode())


def _fit_error(num_nodes: int, prefilter_msg: str, statuses: list[Status], postfilter_msg: str = "") -> str:
    msg = f"0/{num_nodes} nodes are available:"
    if prefilter_msg:
        msg += f" {prefilter_msg}."
    else:
        hist = histogram(statuses)
        if hist:
            msg += " " + ", ".join(hist) + "."
    if postfilter_msg:
        msg += " " + postfilter_msg
    return msg


def preemption_message(diag: Diagnosis, *, preemption_policy: str | None = None) -> str:
    """DefaultPreemption's PostFilter message when it finds no candidate.

    kubesim never evicts victims: a node where lower-priority pods could make room is
    reported like a node without victims.
    """
    if preemption_policy == "Never":
        return "preemption: " + PREEMPTION_NEVER
    statuses: list[Status] = []
    if diag.prefilter is not None:
        statuses = [reject("DefaultPreemption", PREEMPTION_NOT_HELPFUL)] * diag.num_nodes
    else:
        for name in sorted(diag.node_status):
            st = diag.node_status[name]
            if st.code == UNRESOLVABLE:
                statuses.append(reject("DefaultPreemption", PREEMPTION_NOT_HELPFUL))
            else:
                statuses.append(reject("DefaultPreemption", NO_PREEMPTION_VICTIMS))
        # Nodes absent from the map (none, when every node was filtered) count as not helpful.
        missing = diag.num_nodes - len(diag.node_status)
        statuses.extend([reject("DefaultPreemption", PREEMPTION_NOT_HELPFUL)] * max(0, missing))
    return "preemption: " + _fit_error(diag.num_nodes, "", statuses)


def failure_message(diag: Diagnosis, version: Version = (1, 33), *, preemption_policy: str | None = None) -> str:
    """The FailedScheduling event text and the PodScheduled=False condition message (SC-02)."""
    if diag.num_nodes == 0:
        return NO_NODES_AVAILABLE
    post = preemption_message(diag, preemption_policy=preemption_policy)
    if version >= (1, 34):
        post = f"{NO_CLAIMS_TO_DEALLOCATE}, {post}"
    prefilter_msg = diag.prefilter.message if diag.prefilter is not None else ""
    return _fit_error(diag.num_nodes, prefilter_msg, list(diag.node_status.values()), post)


def scheduled_message(namespace: str, name: str, node: str) -> str:
    return SCHEDULED.format(namespace=namespace, name=name, node=node)
