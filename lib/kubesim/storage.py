"""Where a volume's data lives on disk: every PV is a real directory under the cluster's state.

The provisioner creates the directory, the container runtime mounts it (a
path mapping), and reclaim ``Delete`` removes it, so pet data really survives a
pod and really goes with its volume. ``hostPath``/``local`` volumes are mapped
into the cluster's own ``hostpath/`` tree, never onto the real host.
"""

from __future__ import annotations

import os
import re
from typing import Any

_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def _safe(part: str) -> str:
    return _SAFE.sub("_", part) or "_"


def volume_dir(root: str, pv: dict[str, Any]) -> str:
    """The host directory holding a PersistentVolume's data."""
    spec = pv.get("spec") or {}
    csi = spec.get("csi") or {}
    if csi.get("volumeHandle"):
        return os.path.join(root, "volumes", _safe(csi["volumeHandle"]))
    for source in ("hostPath", "local"):
        path = (spec.get(source) or {}).get("path")
        if path:
            return host_path(root, path)
    return os.path.join(root, "volumes", _safe((pv.get("metadata") or {}).get("name", "unnamed")))


def host_path(root: str, path: str) -> str:
    """A hostPath inside the cluster's sandbox tree (``..`` cannot escape it)."""
    parts = [_safe(p) for p in os.path.normpath("/" + path).split("/") if p and p not in (".", "..")]
    return os.path.join(root, "hostpath", *parts)


def pod_dir(root: str, node: str, pod_uid: str) -> str:
    """A pod's private directory on its node (ephemeral: removed with the pod)."""
    return os.path.join(root, "nodes", _safe(node), "pods", _safe(pod_uid))
