"""Faults the outside world can inject: what a machine or network does, not what the API does.

Only three kinds exist, because everything else is done through the Kubernetes
API as on a real cluster:

- a node's kubelet stopped (the machine lost power: heartbeats and pod status
  stop, its containers and processes are gone),
- a node partitioned from the API server (the kubelet and its containers keep
  running but nothing it sends arrives, and the API server cannot reach its pods),
- images marked unavailable (pulls fail with ErrImagePull / ImagePullBackOff).

They are set through the control endpoint ``/kubesim/v1/...`` (see
``kubesim.server.control``) or directly on ``Cluster.faults``; components
consult them and subscribe to changes.
"""

from __future__ import annotations

import fnmatch
import threading
from typing import Any, Callable


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.kubelet_stopped: set[str] = set()
        self.partitioned: set[str] = set()
        self.unavailable_images: set[str] = set()
        self._listeners: list[Callable[[str, str], None]] = []

    def on_change(self, fn: Callable[[str, str], None]) -> None:
        """``fn(kind, subject)`` after every change (kind: kubelet | network | images)."""
        self._listeners.append(fn)

    def _notify(self, kind: str, subject: str) -> None:
        for fn in list(self._listeners):
            try:
                fn(kind, subject)
            except Exception:
                pass

    def set_kubelet(self, node: str, running: bool) -> None:
        with self._lock:
            (self.kubelet_stopped.discard if running else self.kubelet_stopped.add)(node)
        self._notify("kubelet", node)

    def set_partitioned(self, node: str, partitioned: bool) -> None:
        with self._lock:
            (self.partitioned.add if partitioned else self.partitioned.discard)(node)
        self._notify("network", node)

    def set_unavailable_images(self, patterns: list[str]) -> None:
        with self._lock:
            self.unavailable_images = set(patterns)
        self._notify("images", "")

    def kubelet_running(self, node: str) -> bool:
        return node not in self.kubelet_stopped

    def reachable(self, node: str) -> bool:
        """Can the API server and the node talk (kubelet running and not partitioned)?"""
        return node not in self.kubelet_stopped and node not in self.partitioned

    def image_available(self, image: str) -> bool:
        """Images match exactly, or by shell-style pattern (``registry.example/bad:*``)."""
        with self._lock:
            pats = list(self.unavailable_images)
        return not any(image == p or fnmatch.fnmatchcase(image, p) for p in pats)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"kubeletStopped": sorted(self.kubelet_stopped), "partitioned": sorted(self.partitioned),
                    "unavailableImages": sorted(self.unavailable_images)}
