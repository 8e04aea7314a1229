"""Named timing profiles: upstream defaults, and faster ones that scale them all together.

Every controller period, grace period and toleration in kubesim comes from
here, as an upstream value (seconds) times the profile's scale, so ratios and
orderings always hold: ``upstream`` is 1:1, ``fast`` runs 10x faster and
``instant`` 100x. Reports quote both the effective and the upstream value. The
profile is published in the ConfigMap ``kube-system/kubesim-timing`` so any
client (a drill on a real cluster reads nothing there and assumes upstream)
can convert.

Sources of the upstream values are named per field (sim-fidelity.md §0, §4, §6).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

PROFILES = {"upstream": 1.0, "fast": 0.1, "instant": 0.01}
CONFIGMAP = "kubesim-timing"


@dataclass(frozen=True)
class Timings:
    """Upstream values in seconds; use :meth:`s` to get the effective duration."""

    profile: str = "upstream"
    scale: float = 1.0
    # kubelet (k8s.io/kubelet config/v1beta1 types.go)
    lease_duration: float = 40.0          # NodeLeaseDurationSeconds
    lease_renew: float = 10.0             # renewed every 10 s (a quarter of the duration)
    node_status_update: float = 10.0      # nodeStatusUpdateFrequency
    node_status_report: float = 300.0     # nodeStatusReportFrequency (5m)
    container_start: float = 1.0          # ContainerCreating -> Running for a simulated container
    restart_backoff_initial: float = 10.0  # kubelet crash-loop back-off start
    restart_backoff_max: float = 300.0    # ... doubling up to 5 min
    image_pull_backoff_max: float = 300.0
    default_termination_grace: float = 30.0  # pod terminationGracePeriodSeconds default
    # kube-controller-manager node lifecycle (nodelifecycle options, PR #126287 for V1)
    node_monitor_period: float = 5.0
    node_monitor_grace: float = 50.0      # 40 s up to 1.31, 50 s from 1.32
    node_startup_grace: float = 60.0
    node_eviction_period: float = 10.0    # 1 / --node-eviction-rate (0.1 nodes/s)
    secondary_eviction_period: float = 100.0  # 1 / --secondary-node-eviction-rate (0.01)
    # kube-apiserver DefaultTolerationSeconds admission
    default_toleration_seconds: float = 300.0
    # pod GC (gc_controller.go)
    podgc_period: float = 20.0
    podgc_quarantine: float = 40.0
    # attach/detach: maxWaitForUnmountDuration before force detach (issue #129805)
    force_detach_after: float = 360.0
    # scheduler queue (kube-scheduler config v1)
    scheduler_backoff_initial: float = 1.0
    scheduler_backoff_max: float = 10.0
    scheduler_unschedulable_flush: float = 300.0
    # cloud node lifecycle (cloud-provider config defaults)
    cloud_node_monitor_period: float = 5.0
    # statefulset/deployment controllers' own resync and requeue
    controller_resync: float = 30.0
    # watch bookmarks (apiserver sends about one a minute)
    bookmark_interval: float = 60.0

    def s(self, upstream_seconds: float) -> float:
        """The effective duration of an upstream duration under this profile."""
        return upstream_seconds * self.scale

    def get(self, name: str) -> float:
        return self.s(float(getattr(self, name)))

    def toleration_seconds(self) -> int:
        """What DefaultTolerationSeconds admission injects (whole seconds, at least 1)."""
        return max(1, int(round(self.s(self.default_toleration_seconds))))

    def as_configmap_data(self) -> dict[str, str]:
        data = {"profile": self.profile, "scale": repr(self.scale)}
        for f in fields(self):
            if f.name in ("profile", "scale"):
                continue
            up = float(getattr(self, f.name))
            data[f.name] = f"{self.s(up):g}s (upstream {up:g}s)"
        return data

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def for_profile(profile: str = "upstream", k8s_version: tuple[int, int] = (1, 33), scale: float | None = None
                ) -> Timings:
    """The timings of a named profile for an emulated version (node grace is version-dependent)."""
    if profile not in PROFILES and scale is None:
        raise ValueError(f"unknown timing profile {profile!r}: choose one of {', '.join(PROFILES)}")
    t = Timings(profile=profile, scale=PROFILES.get(profile, 1.0) if scale is None else scale)
    if k8s_version <= (1, 31):
        t = replace(t, node_monitor_grace=40.0)
    return t
