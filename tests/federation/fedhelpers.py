"""Helpers for the federation tests (fixtures in conftest.py)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from kubesim.testing import Kubectl

from kubekit.federation import Federation, HealthCheck
from kubekit.federation.members import host_rest
from kubekit.federation.rest import Rest

ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]
FAST = HealthCheck(period_s=1, timeout_s=1, failure_threshold=2, success_threshold=1)


@dataclass
class World:
    kubeconfig: str
    workdir: str
    clusters: dict[str, Any] = field(default_factory=dict)  # name -> kubesim Cluster (tests only)

    @property
    def members(self) -> list[str]:
        return [n for n in self.clusters if n != "host"]

    def rest(self, name: str) -> Rest:
        return host_rest(name, self.kubeconfig)

    def kubectl(self, context: str, *args: str) -> str:
        return Kubectl(self.kubeconfig, os.path.join(self.workdir, "kubectl-cache"))("--context", context, *args)

    def set_reachable(self, name: str, reachable: bool) -> None:
        self.clusters[name].server.available = reachable

    def controller(self, **kw: Any) -> Federation:
        kw.setdefault("resync_s", 0.2)
        return Federation("host", kubeconfig=self.kubeconfig, **kw)


def wait_until(fn: Any, timeout: float = 20.0, interval: float = 0.1, what: str = "") -> Any:
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < timeout:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or fn}: last {last!r}")
